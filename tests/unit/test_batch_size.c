/* Batch-size policies: cost, job, GaussianTS, pruning exploration (spec 11.5), the pruning +
 * Thompson-sampling optimizer and the JIT power-limit policy, including state save/restore.
 * Reference sequences were produced by the original classes (zeus 0.8 policy code) under
 * numpy 1.24.2. */
#include "test_support.h"

#include "zeus/batch_size.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_cost_and_job(void **state)
{
    (void)state;
    assert_true(zeus_cost(100, 10, 0.5, 300) == 1550.0);
    zeus_job job;
    char buf[256];
    assert_int_equal(zeus_job_init(&job, "librispeech", "deepspeech2", "adamw", 40.0, 16, 192, NAN),
                     ZEUS_OK);
    assert_string_equal(zeus_job_format(&job, buf, sizeof buf),
                        "Job(librispeech,deepspeech2,adamw,40.0,bs192~16)");
    zeus_job other = job;
    assert_true(zeus_job_equal(&job, &other));
    other.target_metric = 40.5;
    assert_false(zeus_job_equal(&job, &other));
    assert_int_equal(zeus_job_init(&job, "cifar100", "shufflenetv2", "adadelta", 0.6, 100, 0, 0.1),
                     ZEUS_OK);
    assert_string_equal(zeus_job_format(&job, buf, sizeof buf),
                        "Job(cifar100,shufflenetv2,adadelta,0.6~100)");
    assert_int_equal(zeus_job_init(&job, "", "n", "o", 1, 1, 1, NAN), ZEUS_EINVAL);
    assert_int_equal(zeus_job_init(&job, "d", "n", "o", 1, 0, 1, NAN), ZEUS_EINVAL);
    char longname[100];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(zeus_job_init(&job, longname, "n", "o", 1, 1, 1, NAN), ZEUS_EINVAL);
}

/* ---- pruning (spec 11.5) ------------------------------------------------------------------ */

typedef struct {
    int bs;
    double cost;
    bool reached;
} step;

static void run_pruning(int default_bs, const step *steps, size_t n_steps, const int *expect,
                        size_t n_expect)
{
    static const int sizes[] = {8, 16, 32, 64, 128, 256};
    zeus_pruning *p;
    assert_int_equal(zeus_pruning_create(sizes, 6, default_bs, 2, &p), ZEUS_OK);
    assert_int_equal(zeus_pruning_expecting(p), default_bs);
    int bs;
    bool done;
    for (size_t i = 0; i < n_steps; i++) {
        assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
        assert_false(done);
        assert_int_equal(bs, steps[i].bs);
        assert_int_equal(zeus_pruning_expecting(p), bs);
        assert_int_equal(zeus_pruning_report(p, bs, steps[i].cost, steps[i].reached), ZEUS_OK);
        assert_int_equal(zeus_pruning_expecting(p), 0);
    }
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
    assert_true(done);
    assert_true(zeus_pruning_done(p));
    const int *final;
    size_t n;
    zeus_pruning_batch_sizes(p, &final, &n);
    assert_int_equal(n, n_expect);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(final[i], expect[i]);
    /* Asking again still says done. */
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
    assert_true(done);
    zeus_pruning_destroy(p);
}

#define RUN_PRUNING(def, steps, expect)                                                            \
    run_pruning(def, steps, sizeof steps / sizeof steps[0], expect,                                \
                sizeof expect / sizeof expect[0])

static void test_pruning_default_128(void **state)
{
    (void)state;
    static const step steps[] = {{128, 10, 1}, {64, 9, 1},   {32, 8, 1},  {16, 12, 1},
                                 {8, 21, 0},   {256, 15, 1}, {32, 8, 1},  {16, 12, 0},
                                 {64, 9, 1},   {128, 10, 1}, {256, 17, 0}};
    static const int expect[] = {32, 64, 128};
    RUN_PRUNING(128, steps, expect);
}

static void test_pruning_default_256(void **state)
{
    (void)state;
    static const step steps[] = {{256, 7, 1}, {128, 8, 1},   {64, 9, 1}, {32, 13, 1}, {16, 22, 0},
                                 {256, 8, 1}, {128, 8.5, 1}, {64, 9, 1}, {32, 12, 1}};
    static const int expect[] = {32, 64, 128, 256};
    RUN_PRUNING(256, steps, expect);
}

static void test_pruning_default_8(void **state)
{
    (void)state;
    static const step steps[] = {{8, 10, 1},  {16, 17, 1}, {32, 20, 1},
                                 {64, 25, 0}, {8, 10, 1},  {16, 21, 0}};
    static const int expect[] = {8};
    RUN_PRUNING(8, steps, expect);
}

static void test_pruning_all_converge(void **state)
{
    (void)state;
    static const step steps[] = {{64, 10, 1},  {32, 8, 1},   {16, 12, 1},  {8, 15, 1},
                                 {128, 12, 1}, {256, 13, 1}, {32, 8, 1},   {16, 12, 1},
                                 {8, 15, 1},   {64, 10, 1},  {128, 12, 1}, {256, 13, 1}};
    static const int expect[] = {8, 16, 32, 64, 128, 256};
    RUN_PRUNING(64, steps, expect);
}

static void test_pruning_others_fail(void **state)
{
    (void)state;
    static const step steps[] = {{64, 10, 1}, {32, 22, 0}, {128, 25, 0}, {64, 9, 1}};
    static const int expect[] = {64};
    RUN_PRUNING(64, steps, expect);
}

static void test_pruning_protocol_errors(void **state)
{
    (void)state;
    static const int sizes[] = {8, 16, 32};
    zeus_pruning *p;
    int bs;
    bool done;
    assert_int_equal(zeus_pruning_create(sizes, 3, 12, 2, &p), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "Default batch size 12");

    assert_int_equal(zeus_pruning_create(sizes, 3, 16, 2, &p), ZEUS_OK);
    /* A report before anything was handed out. */
    assert_int_equal(zeus_pruning_report(p, 16, 1.0, true), ZEUS_ESTATE);
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
    assert_int_equal(bs, 16);
    /* Asking again before reporting. */
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "not been reported");
    /* Reporting a different size ends exploration with an error, as in the original. */
    assert_int_equal(zeus_pruning_report(p, 8, 1.0, true), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "self.expecting=16, batch_size=8");
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_ESTATE);
    zeus_pruning_destroy(p);

    /* [quirk] If round 1 keeps nothing, round 2 has no centre. */
    assert_int_equal(zeus_pruning_create(sizes, 3, 16, 2, &p), ZEUS_OK);
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
    assert_int_equal(zeus_pruning_report(p, 16, 1.0, false), ZEUS_OK);
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
    assert_int_equal(bs, 32);
    assert_int_equal(zeus_pruning_report(p, 32, 1.0, false), ZEUS_OK);
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_EINVAL);
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_ESTATE);
    /* Two reports in a row. */
    zeus_pruning_destroy(p);
    assert_int_equal(zeus_pruning_create(sizes, 3, 16, 2, &p), ZEUS_OK);
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
    assert_int_equal(zeus_pruning_report(p, 16, 1.0, true), ZEUS_OK);
    assert_int_equal(zeus_pruning_report(p, 16, 1.0, true), ZEUS_ESTATE);
    zeus_pruning_destroy(p);

    /* Zero rounds: nothing to explore, the sizes come back sorted. */
    static const int unsorted[] = {32, 8, 16};
    const int *final;
    size_t n;
    assert_int_equal(zeus_pruning_create(unsorted, 3, 8, 0, &p), ZEUS_OK);
    assert_int_equal(zeus_pruning_next(p, &bs, &done), ZEUS_OK);
    assert_true(done);
    zeus_pruning_batch_sizes(p, &final, &n);
    assert_int_equal(n, 3);
    assert_int_equal(final[0], 8);
    assert_int_equal(final[2], 32);
    zeus_pruning_destroy(p);
}

/* ---- GaussianTS ------------------------------------------------------------------------------ */

static void test_gts_sequence(void **state)
{
    (void)state;
    /* GaussianTS([8,16,32,64], reward_precision=0.5, prior_precision=0.1, seed=42); each
     * prediction is fitted with reward -(arm-30)^2/100. */
    static const int arms[] = {8, 16, 32, 64};
    static const int expect[] = {8,  64, 32, 16, 16, 32, 16, 32, 32, 32,
                                 32, 32, 32, 32, 32, 32, 32, 32, 32, 32};
    zeus_gts_config cfg;
    zeus_gts_config_default(&cfg);
    cfg.reward_precision = 0.5;
    cfg.prior_precision = 0.1;
    cfg.seed = 42;
    zeus_gts *g;
    assert_int_equal(zeus_gts_create(&cfg, arms, 4, &g), ZEUS_OK);
    for (size_t i = 0; i < 20; i++) {
        int arm;
        assert_int_equal(zeus_gts_predict(g, &arm), ZEUS_OK);
        assert_int_equal(arm, expect[i]);
        double reward = -(double)((arm - 30) * (arm - 30)) / 100.0;
        assert_int_equal(zeus_gts_fit_arm(g, arm, &reward, 1, false), ZEUS_OK);
    }
    zeus_gts_arm a;
    assert_int_equal(zeus_gts_get_arm(g, 1, &a), ZEUS_OK);
    assert_int_equal(a.arm, 16);
    assert_true(a.mean == -1.8375000000000001);
    assert_true(a.precision == 1.6);
    assert_int_equal(a.observations, 3);
    assert_int_equal(zeus_gts_get_arm(g, 2, &a), ZEUS_OK);
    assert_true(a.mean == -0.039473684210526314);
    assert_true(a.precision == 7.6);
    assert_int_equal(a.observations, 15);
    assert_int_equal(zeus_gts_get_arm(g, 4, &a), ZEUS_ERANGE);
    assert_int_equal(zeus_gts_fit_arm(g, 12, NULL, 0, false), ZEUS_ENOENT);
    zeus_gts_destroy(g);
}

static void test_gts_fit(void **state)
{
    (void)state;
    static const int arms[] = {1, 2};
    zeus_gts_config cfg;
    zeus_gts_config_default(&cfg);
    cfg.reward_precision = 2.0;
    zeus_gts *g;
    assert_int_equal(zeus_gts_create(&cfg, arms, 2, &g), ZEUS_OK);
    static const int decisions[] = {1, 2, 1, 3};
    static const double rewards[] = {1.0, 5.0, 3.0, 100.0};
    assert_int_equal(zeus_gts_fit(g, decisions, rewards, 4, false), ZEUS_OK);
    zeus_gts_arm a;
    zeus_gts_get_arm(g, 0, &a);
    /* prior precision 0: the posterior mean is the sample mean, the precision k * tau. */
    assert_true(a.mean == 2.0);
    assert_true(a.precision == 4.0);
    assert_int_equal(a.observations, 2);
    /* Infinite reward precision: the posterior is exactly the observed mean. */
    assert_int_equal(zeus_gts_set_reward_precision(g, 2, INFINITY), ZEUS_OK);
    static const double r2[] = {4.0, 6.0};
    assert_int_equal(zeus_gts_fit_arm(g, 2, r2, 2, true), ZEUS_OK);
    zeus_gts_get_arm(g, 1, &a);
    assert_true(a.mean == 5.0);
    assert_true(isinf(a.precision));
    assert_int_equal(a.observations, 2);
    /* After exploration, both arms sampled; arm 2 is sure (5.0) and arm 1 ~ N(2, 1/4). */
    int arm;
    assert_int_equal(zeus_gts_predict(g, &arm), ZEUS_OK);
    assert_true(arm == 1 || arm == 2);
    zeus_gts_destroy(g);

    static const int dup[] = {1, 1};
    assert_int_equal(zeus_gts_create(&cfg, dup, 2, &g), ZEUS_EINVAL);
    assert_int_equal(zeus_gts_create(&cfg, arms, 0, &g), ZEUS_EINVAL);
}

/* ---- PruningGTSBatchSizeOptimizer ------------------------------------------------------------ */

static zeus_bso *make_bso(size_t window, bool concurrency, uint64_t seed)
{
    static const int sizes[] = {256, 8, 32, 16, 128, 64};
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "d", "n", "o", 1.0, 10, 64, NAN), ZEUS_OK);
    zeus_bso_config cfg;
    zeus_bso_config_default(&cfg);
    cfg.window_size = window;
    cfg.concurrency = concurrency;
    cfg.seed = seed;
    zeus_bso *bso;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 6, &bso), ZEUS_OK);
    return bso;
}

static double synthetic_cost(int bs, int i)
{
    return fabs((double)bs - 40) * 0.3 + 100 + (double)((i * 37) % 23) * 2;
}

/* Drives steps [from, to) of the synthetic job; checks the picks against expect. */
static void drive(zeus_bso *bso, int from, int to, const int *expect)
{
    for (int i = from; i < to; i++) {
        int bs;
        assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
        assert_int_equal(bs, expect[i]);
        assert_int_equal(zeus_bso_observe(bso, bs, synthetic_cost(bs, i), bs <= 128), ZEUS_OK);
    }
}

static const int expect_w0_s7[40] = {64, 32, 16, 8,  128, 256, 64, 32, 16, 8,  128, 64, 32, 32,
                                     64, 64, 16, 32, 64,  64,  64, 64, 8,  32, 32,  32, 32, 32,
                                     32, 64, 64, 32, 32,  32,  32, 32, 32, 32, 8,   64};
static const int expect_w3_s11[40] = {64, 32, 16, 8,  128, 256, 64, 32, 16, 8,  128, 32, 64, 64,
                                      32, 32, 16, 32, 32,  32,  8,  16, 8,  8,  8,   8,  8,  32,
                                      32, 32, 32, 32, 32,  8,   8,  8,  8,  32, 32,  32};

static void check_arm(const zeus_gts *g, size_t i, int arm, double mean, double prec,
                      double reward_prec)
{
    zeus_gts_arm a;
    assert_int_equal(zeus_gts_get_arm(g, i, &a), ZEUS_OK);
    assert_int_equal(a.arm, arm);
    assert_true(a.mean == mean);
    assert_true(a.precision == prec);
    assert_true(a.reward_precision == reward_prec);
}

static void test_bso_matches_original(void **state)
{
    (void)state;
    zeus_bso *bso = make_bso(0, false, 7);
    assert_true(zeus_bso_in_pruning(bso));
    drive(bso, 0, 40, expect_w0_s7);
    assert_false(zeus_bso_in_pruning(bso));
    const zeus_gts *g = zeus_bso_mab(bso);
    assert_int_equal(zeus_gts_arm_count(g), 5); /* 256 was pruned */
    check_arm(g, 0, 8, -130.6, 0.030534351145038167, 0.007633587786259542);
    check_arm(g, 2, 32, -123.95555555555556, 0.10212944802465679, 0.005673858223592044);
    check_arm(g, 3, 64, -130.7, 0.06919750120134557, 0.005766458433445464);
    zeus_bso_destroy(bso);

    bso = make_bso(3, false, 11);
    drive(bso, 0, 40, expect_w3_s11);
    g = zeus_bso_mab(bso);
    check_arm(g, 1, 16, -143.86666666666665, 0.4821428571428571, 0.1607142857142857);
    check_arm(g, 3, 64, -135.86666666666665, 0.02280405405405408, 0.0076013513513513604);
    const double *rewards;
    size_t n;
    assert_int_equal(zeus_bso_rewards(bso, 32, &rewards, &n), ZEUS_OK);
    assert_int_equal(n, 3);
    zeus_bso_destroy(bso);
}

static void test_bso_save_restore(void **state)
{
    (void)state;
    /* Save in the middle of pruning (with a result pending) and of Thompson sampling; the
     * restored optimizer must make the same decisions. */
    static const int cut[] = {0, 3, 9, 17, 33};
    for (size_t c = 0; c < sizeof cut / sizeof cut[0]; c++) {
        zeus_bso *bso = make_bso(3, false, 11);
        drive(bso, 0, cut[c], expect_w3_s11);
        char *json;
        assert_int_equal(zeus_bso_save(bso, &json), ZEUS_OK);
        zeus_bso_destroy(bso);
        zeus_bso *restored;
        assert_int_equal(zeus_bso_load(json, &restored), ZEUS_OK);
        char *again;
        assert_int_equal(zeus_bso_save(restored, &again), ZEUS_OK);
        assert_string_equal(json, again);
        free(json);
        free(again);
        drive(restored, cut[c], 40, expect_w3_s11);
        assert_string_equal(zeus_bso_job(restored)->dataset, "d");
        zeus_bso_destroy(restored);
    }
    /* Saved with a reported-but-unprocessed result. */
    zeus_bso *bso = make_bso(0, false, 7);
    int bs;
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
    assert_int_equal(zeus_bso_observe(bso, bs, synthetic_cost(bs, 0), 1), ZEUS_OK);
    char *json;
    assert_int_equal(zeus_bso_save(bso, &json), ZEUS_OK);
    assert_contains(json, "\"reported\"");
    zeus_bso_destroy(bso);
    assert_int_equal(zeus_bso_load(json, &bso), ZEUS_OK);
    free(json);
    drive(bso, 1, 40, expect_w0_s7);
    zeus_bso_destroy(bso);

    /* Damaged documents are refused. */
    zeus_bso *x;
    assert_int_equal(zeus_bso_load("{", &x), ZEUS_EPARSE);
    assert_int_equal(zeus_bso_load("{\"type\":\"other\",\"version\":1}", &x), ZEUS_EPARSE);
    bso = make_bso(0, false, 7);
    drive(bso, 0, 2, expect_w0_s7);
    assert_int_equal(zeus_bso_save(bso, &json), ZEUS_OK);
    zeus_bso_destroy(bso);
    char *p = strstr(json, "\"pos\":");
    assert_non_null(p);
    p += strlen("\"pos\":");
    while (*p == ' ' || *p == '\t')
        p++;
    *p = '9'; /* position beyond the walk */
    assert_int_equal(zeus_bso_load(json, &x), ZEUS_EPARSE);
    free(json);
}

static void test_bso_validation(void **state)
{
    (void)state;
    static const int sizes[] = {8, 16, 32};
    zeus_job job;
    zeus_bso_config cfg;
    zeus_bso_config_default(&cfg);
    zeus_bso *bso;
    assert_int_equal(zeus_job_init(&job, "d", "n", "o", 1.0, 10, 0, NAN), ZEUS_OK);
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 3, &bso), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "Default BS not specified for Job(d,n,o,1.0~10).");
    job.default_bs = 16;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 0, &bso), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "is empty");
    job.default_bs = 12;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 3, &bso), ZEUS_EINVAL);
    job.default_bs = 16;
    static const int dup[] = {8, 16, 8};
    assert_int_equal(zeus_bso_create(&cfg, &job, dup, 3, &bso), ZEUS_EINVAL);
    cfg.window_size = 1;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 3, &bso), ZEUS_EINVAL);
    cfg.window_size = 0;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 3, &bso), ZEUS_OK);
    int bs;
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
    assert_int_equal(zeus_bso_observe(bso, 12, 1.0, 1), ZEUS_EINVAL);
    assert_int_equal(zeus_bso_observe(bso, 16, 1.0, ZEUS_CONVERGED_UNKNOWN), ZEUS_EINVAL);
    /* Without concurrency, a result for another size is a protocol error. */
    assert_int_equal(zeus_bso_observe(bso, 8, 1.0, 1), ZEUS_ESTATE);
    zeus_bso_destroy(bso);

    /* All sizes pruned: round 1 keeps only 16 (8 and 32 fail), round 2 rejects 16 too, and
     * the bandit cannot be built. */
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 3, &bso), ZEUS_OK);
    static const int walk[] = {16, 8, 32, 16};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
        assert_int_equal(bs, walk[i]);
        assert_int_equal(zeus_bso_observe(bso, bs, 1.0, i == 0), ZEUS_OK);
    }
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "Empty batch size set when constructing MAB");
    zeus_bso_destroy(bso);
}

static void test_bso_concurrency(void **state)
{
    (void)state;
    zeus_bso *bso = make_bso(0, true, 7);
    int bs;
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
    assert_int_equal(bs, 64);
    /* A concurrent submission with another size finishes first: only recorded. */
    assert_int_equal(zeus_bso_observe(bso, 128, 50.0, 1), ZEUS_OK);
    assert_int_equal(zeus_pruning_expecting(zeus_bso_pruning(bso)), 64);
    assert_int_equal(zeus_bso_observe(bso, 64, 40.0, 1), ZEUS_OK);
    assert_int_equal(zeus_pruning_expecting(zeus_bso_pruning(bso)), 0);
    /* A second result for 64 after the explorer moved on is only recorded too. */
    assert_int_equal(zeus_bso_observe(bso, 64, 41.0, 1), ZEUS_OK);
    const double *rewards;
    size_t n;
    assert_int_equal(zeus_bso_rewards(bso, 64, &rewards, &n), ZEUS_OK);
    assert_int_equal(n, 2);
    assert_true(rewards[0] == -40.0 && rewards[1] == -41.0);
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
    assert_int_equal(bs, 32);
    zeus_bso_destroy(bso);
}

static void test_jit_plo(void **state)
{
    (void)state;
    zeus_jit_plo *plo;
    assert_int_equal(zeus_jit_plo_create(&plo), ZEUS_OK);
    int pl;
    assert_int_equal(zeus_jit_plo_predict(plo, 32, &pl), ZEUS_OK);
    assert_int_equal(pl, 0);
    assert_int_equal(zeus_jit_plo_observe(plo, 32, 250, 10.0), ZEUS_OK);
    assert_int_equal(zeus_jit_plo_observe(plo, 32, 225, 9.0), ZEUS_OK);
    assert_int_equal(zeus_jit_plo_observe(plo, 32, 200, 9.0), ZEUS_OK); /* tie: first wins */
    assert_int_equal(zeus_jit_plo_observe(plo, 64, 175, 3.0), ZEUS_OK);
    assert_int_equal(zeus_jit_plo_observe(plo, 64, 0, 3.0), ZEUS_EINVAL);
    assert_int_equal(zeus_jit_plo_predict(plo, 32, &pl), ZEUS_OK);
    assert_int_equal(pl, 225);
    char *json;
    assert_int_equal(zeus_jit_plo_save(plo, &json), ZEUS_OK);
    zeus_jit_plo_destroy(plo);
    assert_int_equal(zeus_jit_plo_load(json, &plo), ZEUS_OK);
    free(json);
    assert_int_equal(zeus_jit_plo_predict(plo, 32, &pl), ZEUS_OK);
    assert_int_equal(pl, 225);
    assert_int_equal(zeus_jit_plo_predict(plo, 64, &pl), ZEUS_OK);
    assert_int_equal(pl, 175);
    assert_int_equal(zeus_jit_plo_observe(plo, 32, 150, 8.999999), ZEUS_OK);
    assert_int_equal(zeus_jit_plo_predict(plo, 32, &pl), ZEUS_OK);
    assert_int_equal(pl, 150);
    zeus_jit_plo_destroy(plo);
    assert_int_equal(zeus_jit_plo_load("{\"type\":\"zeus.JITPowerLimitOptimizer\",\"version\":1,"
                                       "\"batch_sizes\":[{\"batch_size\":8}]}",
                                       &plo),
                     ZEUS_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_and_job),
        cmocka_unit_test(test_pruning_default_128),
        cmocka_unit_test(test_pruning_default_256),
        cmocka_unit_test(test_pruning_default_8),
        cmocka_unit_test(test_pruning_all_converge),
        cmocka_unit_test(test_pruning_others_fail),
        cmocka_unit_test(test_pruning_protocol_errors),
        cmocka_unit_test(test_gts_sequence),
        cmocka_unit_test(test_gts_fit),
        cmocka_unit_test(test_bso_matches_original),
        cmocka_unit_test(test_bso_save_restore),
        cmocka_unit_test(test_bso_validation),
        cmocka_unit_test(test_bso_concurrency),
        cmocka_unit_test(test_jit_plo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
