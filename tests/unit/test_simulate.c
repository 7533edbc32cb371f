/* The trace-driven simulator against the original (zeus 0.8 Simulator under numpy 1.24.2 and
 * pandas 1.5.3): the golden run of spec 11.7, the deterministic profile numbers, every one of
 * the 24 GPU x workload configurations, and the Alibaba entry point on the synthetic groups.
 * Reference numbers were produced by running the original code on the shared traces. */
#include "test_support.h"

#include "core/internal.h"
#include "simulate/sim_internal.h"
#include "zeus/simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_DIR ZEUS_DATA_DIR "/nsdi23-traces"
#define GROUPS_CSV ZEUS_DATA_DIR "/alibaba_groups_synth.csv"

static const char *const gpus[] = {"v100", "a40", "p100", "rtx6000"};
static zeus_trace *traces[4];

static int load_traces(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++)
        if (zeus_trace_load_dir(TRACE_DIR, gpus[i], &traces[i]) != ZEUS_OK)
            return -1;
    return 0;
}

static int free_traces(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++)
        zeus_trace_destroy(traces[i]);
    return 0;
}

static zeus_job librispeech_job(void)
{
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "librispeech", "deepspeech2", "adamw", 40.0, 16, 192, NAN),
                     ZEUS_OK);
    return job;
}

static void seeded(zeus_sim_params *p, uint64_t seed)
{
    zeus_sim_params_default(p);
    p->seed = seed;
    p->bso.seed = seed;
}

static void assert_same_runs(const zeus_sim_history *a, const zeus_sim_history *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const zeus_sim_run *x = &a->runs[i], *y = &b->runs[i];
        assert_int_equal(x->recurrence, y->recurrence);
        assert_int_equal(x->try_index, y->try_index);
        assert_int_equal(x->batch_size, y->batch_size);
        assert_int_equal(x->power_limit, y->power_limit);
        assert_true(x->energy_j == y->energy_j && x->time_s == y->time_s && x->cost == y->cost);
        assert_int_equal(x->reached, y->reached);
    }
}

static double sum_energy(const zeus_sim_history *h)
{
    double s = 0;
    for (size_t i = 0; i < h->n; i++)
        s += h->runs[i].energy_j;
    return s;
}

static double sum_time(const zeus_sim_history *h)
{
    double s = 0;
    for (size_t i = 0; i < h->n; i++)
        s += h->runs[i].time_s;
    return s;
}

/* ---- deterministic parts (spec 11.7) -------------------------------------------------------- */

static void test_trace_facts(void **state)
{
    (void)state;
    static const size_t rows[] = {23562, 26093, 15384, 24506};
    static const int max_power[] = {250, 300, 250, 260};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(zeus_trace_rows(traces[i]), rows[i]);
        assert_int_equal(zeus_trace_max_power(traces[i]), max_power[i]);
    }
    zeus_job job = librispeech_job();
    const int *sizes;
    size_t n;
    assert_int_equal(zeus_trace_batch_sizes(traces[0], &job, &sizes, &n), ZEUS_OK);
    static const int expect[] = {2, 4, 8, 12, 16, 24, 32, 48, 56, 64, 72, 96, 128, 156, 192};
    assert_int_equal(n, 15);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sizes[i], expect[i]);
    size_t nb, np;
    assert_int_equal(zeus_trace_job_space(traces[0], &job, &nb, &np), ZEUS_OK);
    assert_int_equal(2 * nb * np, 210);
    int bmax;
    assert_int_equal(zeus_trace_max_batch_size(traces[0], "cifar100", &bmax), ZEUS_OK);
    assert_int_equal(bmax, 4096);
    assert_int_equal(zeus_trace_max_batch_size(traces[0], "mnist", &bmax), ZEUS_ENOENT);
}

static void test_profile_power_limit(void **state)
{
    (void)state;
    zeus_job job = librispeech_job();
    zeus_pl_cost c[16];
    size_t n;
    assert_int_equal(zeus_trace_profile_power_limit(traces[0], &job, 192, 0.5, c, 16, &n), ZEUS_OK);
    static const int pl[] = {250, 225, 200, 175, 150, 125, 100};
    static const double cost[] = {1268960.0883284593, 1249799.7540767633, 1251375.4953674776,
                                  1256991.136507684,  1286077.092947846,  1343522.9309749168,
                                  1475644.8529974553};
    assert_int_equal(n, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(c[i].power_limit, pl[i]);
        assert_true(c[i].cost == cost[i]);
    }
    /* The cheapest limits: 225 W for 192, 150 W for 48, 125 W for 8. */
    static const int bs[] = {48, 8};
    static const int best[] = {150, 125};
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(zeus_trace_profile_power_limit(traces[0], &job, bs[k], 0.5, c, 16, &n),
                         ZEUS_OK);
        size_t arg = 0;
        for (size_t i = 1; i < n; i++)
            if (c[i].cost < c[arg].cost)
                arg = i;
        assert_int_equal(c[arg].power_limit, best[k]);
    }
    /* The profiling epoch of 192 and the runs at 192 @ 225 W. */
    const zeus_job_table *table;
    assert_int_equal(zeus__trace_find_job(traces[0], &job, &table), ZEUS_OK);
    const zeus_cell *cell = zeus__table_cell(table, 192);
    assert_non_null(cell);
    assert_true(cell->mean_epe == 896637.5289144579);
    assert_true(cell->mean_tpe == 6850.4457142857145);
    const zeus_pl_group *g = zeus__cell_group(cell, 225);
    assert_non_null(g);
    assert_true(cell->power[g->rows[0]].epe == 949817.0081535265);
    assert_true(cell->power[g->rows[0]].tpe == 6199.13);
    static const double epochs[] = {10, 9, 9, 10, 10};
    assert_int_equal(cell->n_runs, 5);
    for (size_t r = 0; r < 5; r++)
        assert_true(cell->target_epochs[r] == epochs[r]);
}

/* ---- the golden run (spec 11.7) ------------------------------------------------------------- */

static void test_golden_run(void **state)
{
    (void)state;
    zeus_job job = librispeech_job();
    zeus_sim_params p;
    seeded(&p, 1);
    zeus_sim_history h = {0};
    assert_int_equal(zeus_simulate_one_job(traces[0], &job, 210, &p, &h), ZEUS_OK);
    assert_int_equal(h.n, 211);
    static const struct {
        int bs, pl;
        bool reached;
        double energy, time;
    } golden[] = {
        {192, 225, 1, 8495173.59414267, 56443.485714285714},
        {156, 225, 1, 8303376.13265017, 54796.6},
        {128, 200, 1, 8576127.393854814, 59897.57571428571},
        {96, 175, 1, 6387370.465958768, 48207.34714285715},
        {72, 200, 1, 7155658.998615995, 46993.64571428572},
        {64, 175, 1, 6869361.894485014, 49202.37857142857},
        {56, 175, 1, 6666473.9269459415, 48050.712857142855},
        {48, 150, 1, 5620366.467313435, 43366.91714285714},
        {32, 150, 1, 6161271.4450336825, 46694.82714285714},
        {24, 175, 1, 7638531.8393929945, 50748.76},
        {16, 150, 1, 8136631.726725645, 61839.3642857143},
        {12, 125, 1, 9055634.983821094, 77825.70285714285},
        {8, 125, 0, 10371196.797308967, 88542.52857142857},
        {48, 150, 1, 5530821.134556254, 43302.77},
        {32, 150, 1, 6060154.8554716185, 46762.52},
        {24, 175, 1, 7619756.495552242, 50402.380000000005},
        {16, 150, 1, 6892626.976020161, 53006.76000000001},
        {12, 125, 1, 8836269.677721241, 78373.47},
        {56, 175, 1, 6638311.735763627, 47804.64},
        {64, 175, 1, 6834969.933775762, 48899.92},
        {72, 200, 1, 7179592.503761561, 46436.8},
        {96, 175, 1, 7149237.188961528, 53924.04},
        {128, 200, 1, 7729113.433828525, 53463.42},
        {156, 225, 1, 8351480.167450724, 54118.71},
        {192, 225, 1, 9498170.081535265, 61991.3},
        {48, 150, 1, 6320938.439492862, 49488.88},
        {32, 150, 1, 6060154.8554716185, 46762.52},
    };
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        const zeus_sim_run *r = &h.runs[i];
        assert_int_equal(r->batch_size, golden[i].bs);
        assert_int_equal(r->power_limit, golden[i].pl);
        assert_int_equal(r->reached, golden[i].reached);
        assert_true(r->energy_j == golden[i].energy);
        assert_true(r->time_s == golden[i].time);
        assert_true(r->cost == zeus_cost(r->energy_j, r->time_s, 0.5, 250));
    }
    /* bs 8 failed at recurrence 12 and was retried within it. */
    assert_int_equal(h.runs[12].recurrence, 12);
    assert_int_equal(h.runs[12].try_index, 1);
    assert_int_equal(h.runs[13].recurrence, 12);
    assert_int_equal(h.runs[13].try_index, 2);
    assert_int_equal(h.runs[210].recurrence, 209);
    size_t n48 = 0, n32 = 0, n96 = 0;
    for (size_t i = 0; i < h.n; i++) {
        n48 += h.runs[i].batch_size == 48 && h.runs[i].power_limit == 150;
        n32 += h.runs[i].batch_size == 32 && h.runs[i].power_limit == 150;
        n96 += h.runs[i].batch_size == 96 && h.runs[i].power_limit == 175;
    }
    assert_int_equal(n48, 182);
    assert_int_equal(n32, 6);
    assert_int_equal(n96, 4);
    assert_true(sum_energy(&h) == 1276354187.14576);
    assert_true(sum_time(&h) == 9887724.025714256);

    /* Every call starts afresh: the same seed gives the same history. */
    zeus_sim_history again = {0};
    assert_int_equal(zeus_simulate_one_job(traces[0], &job, 210, &p, &again), ZEUS_OK);
    assert_same_runs(&again, &h);
    zeus_sim_history_free(&again);

    zeus_sim_summary s;
    assert_int_equal(zeus_sim_summarize(traces[0], &job, 0.5, &h, 210, NULL, &s), ZEUS_OK);
    assert_int_equal(s.runs, 211);
    assert_int_equal(s.unreached_runs, 1);
    assert_int_equal(s.oracle.batch_size, 48);
    assert_int_equal(s.oracle.power_limit, 150);
    assert_int_equal(s.default_choice.batch_size, 192);
    assert_int_equal(s.default_choice.power_limit, 250);
    assert_true(s.energy_j == 1276354187.14576);
    assert_true(s.energy_saved_j > 0 && s.time_saved_s > 0);
    assert_true(s.regret > 0 && s.regret < s.cost);
    assert_true(fabs(s.default_energy_j - 210 * s.default_choice.energy_j) < 1e-3);
    zeus_sim_history_free(&h);
}

/* ---- all 24 configurations with run_alibaba.py's default jobs, seed 1 ----------------------- */

static const struct {
    const char *gpu, *dataset;
    size_t recurrences, runs;
    double energy, time;
} configs[] = {
    {"v100", "cifar100", 140, 142, 4598022.277868071, 49689.336666666655},
    {"v100", "imagenet", 70, 71, 979710611.9732045, 5927796.022380948},
    {"v100", "squad", 98, 98, 128352926.14381868, 733927.6971428572},
    {"v100", "librispeech", 210, 211, 1276354187.14576, 9887724.025714256},
    {"v100", "movielens-1m", 182, 184, 221008.69293875026, 6080.775238095254},
    {"v100", "sentiment140", 70, 70, 156048400.0094267, 960841.6410527452},
    {"a40", "cifar100", 180, 183, 9114389.013570081, 59021.31055555548},
    {"a40", "imagenet", 108, 109, 1820294312.9188673, 9300733.303333338},
    {"a40", "squad", 126, 126, 103533384.13744682, 521725.2977777776},
    {"a40", "librispeech", 108, 109, 621090912.9750062, 4381185.69277779},
    {"a40", "movielens-1m", 216, 218, 669986.6196542908, 8315.522777777802},
    {"a40", "sentiment140", 50, 51, 70938129.49526708, 364194.952311456},
    {"p100", "cifar100", 108, 112, 6172249.313821708, 66558.35222222222},
    {"p100", "imagenet", 24, 25, 711808945.8727189, 5576138.573333333},
    {"p100", "squad", 60, 60, 103479687.46484125, 691231.9108333326},
    {"p100", "librispeech", 108, 110, 2092475395.6287386, 17169645.822499987},
    {"p100", "movielens-1m", 156, 158, 304563.99635975173, 9026.59633333335},
    {"p100", "sentiment140", 48, 48, 152293179.86387858, 1122401.7183918913},
    {"rtx6000", "cifar100", 160, 163, 9344823.888017429, 77543.8804166668},
    {"rtx6000", "imagenet", 64, 65, 1414870413.1125636, 7783930.749375002},
    {"rtx6000", "squad", 96, 96, 134414315.70109475, 733273.7174999993},
    {"rtx6000", "librispeech", 176, 177, 1141502717.0753489, 8101663.1525000315},
    {"rtx6000", "movielens-1m", 208, 210, 645210.558577829, 11514.07695833336},
    {"rtx6000", "sentiment140", 80, 80, 242158216.85338226, 1112524.9827964643},
};

static void test_all_configurations(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        size_t g = 0;
        while (strcmp(gpus[g], configs[c].gpu) != 0)
            g++;
        zeus_job job;
        assert_int_equal(zeus_alibaba_job(traces[g], configs[c].dataset, &job), ZEUS_OK);
        size_t nb, np;
        assert_int_equal(zeus_trace_job_space(traces[g], &job, &nb, &np), ZEUS_OK);
        assert_int_equal(2 * nb * np, configs[c].recurrences);
        zeus_sim_params p;
        seeded(&p, 1);
        zeus_sim_history h = {0};
        assert_int_equal(zeus_simulate_one_job(traces[g], &job, 2 * nb * np, &p, &h), ZEUS_OK);
        if (h.n != configs[c].runs || sum_energy(&h) != configs[c].energy ||
            sum_time(&h) != configs[c].time)
            fail_msg("%s %s: %zu runs, energy %.17g, time %.17g", configs[c].gpu,
                     configs[c].dataset, h.n, sum_energy(&h), sum_time(&h));
        zeus_sim_history_free(&h);
    }
}

/* Running moments (zeus simulate --fast) make the same decisions as the exact mode on the 24
 * configurations, three seeds each, over 2,000 recurrences, and on one over 10,000: the same
 * batch size, power limit and outcome for every run (the costs differ in their last bits at
 * most, as the estimates do). */
static bool same_decisions(const zeus_sim_history *a, const zeus_sim_history *b, size_t *at)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (*at = 0; *at < n; (*at)++) {
        const zeus_sim_run *x = &a->runs[*at], *y = &b->runs[*at];
        if (x->recurrence != y->recurrence || x->batch_size != y->batch_size ||
            x->power_limit != y->power_limit || x->reached != y->reached)
            return false;
    }
    return a->n == b->n;
}

static void fast_against_exact(size_t g, const zeus_job *job, uint64_t seed, size_t recurrences)
{
    zeus_sim_params exact, fast;
    seeded(&exact, seed);
    seeded(&fast, seed);
    fast.bso.moments = ZEUS_BSO_MOMENTS_RUNNING;
    zeus_sim_history a = {0}, b = {0};
    assert_int_equal(zeus_simulate_one_job(traces[g], job, recurrences, &exact, &a), ZEUS_OK);
    assert_int_equal(zeus_simulate_one_job(traces[g], job, recurrences, &fast, &b), ZEUS_OK);
    size_t at;
    if (!same_decisions(&a, &b, &at))
        fail_msg("%s %s seed %llu: fast differs from exact at run %zu of %zu/%zu", gpus[g],
                 job->dataset, (unsigned long long)seed, at, a.n, b.n);
    zeus_sim_history_free(&a);
    zeus_sim_history_free(&b);
}

static void test_fast_moments_same_decisions(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        size_t g = 0;
        while (strcmp(gpus[g], configs[c].gpu) != 0)
            g++;
        zeus_job job;
        assert_int_equal(zeus_alibaba_job(traces[g], configs[c].dataset, &job), ZEUS_OK);
        for (uint64_t seed = 1; seed <= 3; seed++)
            fast_against_exact(g, &job, seed, 2000);
        if (c == 3) /* v100 librispeech */
            fast_against_exact(g, &job, 1, 10000);
    }
    /* Running moments need the whole history. */
    zeus_bso_config cfg;
    zeus_bso_config_default(&cfg);
    cfg.moments = ZEUS_BSO_MOMENTS_RUNNING;
    cfg.window_size = 10;
    zeus_job job;
    assert_int_equal(zeus_alibaba_job(traces[0], "cifar100", &job), ZEUS_OK);
    int sizes[] = {32, 64, 128};
    job.default_bs = 64;
    zeus_bso *bso = NULL;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 3, &bso), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "window_size must be 0");
}

/* ---- Alibaba groups ---------------------------------------------------------------------------
 */

static const struct {
    const char *id;
    uint64_t seed;
    size_t runs;
    double energy, time;
} groups_v100[] = {
    {"00e3aba8800784f36620d04b94f50f1e", 2283341909, 56, 321441662.16397554, 2382333.2402069387},
    {"04535c7ee40442206f9ae5d679148613", 2195261399, 27, 30318887.588148184, 166780.1363480058},
    {"13da4e7f0ed67bd73655391167530bea", 2429094033, 28, 41649.70691667694, 1132.8114091461878},
    {"1ab1b43e42b46e96f647f25dc60b2d25", 2440956090, 44, 90930406.44021755, 556809.205752771},
    {"2a37164471b5f64a9ca12ab598d11761", 2250508330, 24, 791718.0320855157, 7600.419960392792},
    {"2d59edf53130babd03a3399f77925a90", 2463565971, 43, 529160816.34632266, 3184605.706724358},
    {"3476e2f73ed7ca328c88837c724bd6b1", 2369521825, 37, 96732121.34381752, 567465.7529066222},
    {"360ebe8964fab73553a60189969cc478", 2353137739, 34, 472823714.93685746, 2856840.939544565},
    {"382c19cd47b1223bcfb9f56fe051e14c", 2420967660, 33, 1352531.6249746273, 13943.733535510895},
    {"3cfc3920c93eb483eaa06c9c86c5b0cb", 2533099852, 27, 188678167.42921537, 1412010.9292954847},
    {"43fcbffe451fbd4e6687972b130a97ba", 2630289706, 60, 154294551.70366213, 919901.7925943459},
    {"5642863023cb2669684615589b7ee621", 2003502980, 45, 72233.99151740332, 1961.8289819650727},
    {"59f78a4a8438289df25bf0b0f4449cc5", 2348288165, 45, 44451174.5927031, 241302.32581177616},
    {"5eb25b56d9399679c419a6d7913d2c43", 2330658889, 48, 319081661.6605277, 2400504.7532205107},
    {"71905bdab5079c14db902f7b639a5832", 2354776162, 41, 114513.18867068148, 3076.2738548628804},
    {"8bcb9a4fb5621d5b7d4d288688cf5165", 2571241684, 24, 40715261.95617376, 251426.28352655913},
    {"a2fa23f39ee4d45e1563f859499a3c90", 2497775779, 24, 50783034.964415684, 278730.393496914},
    {"ad8e4c4eee34ed04ac1df6791a924626", 2724399397, 44, 662516639.2885367, 4005552.4939790815},
    {"b27ceea422d0ea653fccc8438318e268", 2608924913, 44, 341633661.82605815, 2556516.9728558804},
    {"b657bbb9a09112b6e6530d229a9b95b4", 2410154126, 49, 2860319.4841410774, 25297.62720331224},
    {"b801a111e653294f2ea10d348dccc917", 2285897858, 58, 910219986.1800102, 5480387.566632997},
    {"dded1be8fada6b283f249e47808275ab", 2791115097, 59, 1644996.766229718, 16615.78348809808},
    {"eafc190974d1b340494e3fc17964a03b", 2441873551, 42, 50861.974137509686, 1383.124543565569},
    {"f39799d08118e7d4f8f4b228408386a9", 2285701155, 43, 64813835.915008046, 354861.83099587203},
};

static void check_group_results(const zeus_groups *groups, const zeus_group_result *r)
{
    assert_int_equal(zeus_groups_count(groups), 24);
    for (size_t i = 0; i < 24; i++) {
        zeus_group g;
        zeus_groups_get(groups, i, &g);
        assert_string_equal(g.id, groups_v100[i].id); /* sorted like pandas groupby */
        assert_int_equal(r[i].status, ZEUS_OK);
        assert_int_equal(r[i].seed, groups_v100[i].seed);
        if (r[i].history.n != groups_v100[i].runs ||
            sum_energy(&r[i].history) != groups_v100[i].energy ||
            sum_time(&r[i].history) != groups_v100[i].time)
            fail_msg("group %s: %zu runs, energy %.17g, time %.17g", g.id, r[i].history.n,
                     sum_energy(&r[i].history), sum_time(&r[i].history));
    }
}

static void test_alibaba_groups(void **state)
{
    (void)state;
    zeus_groups *groups;
    assert_int_equal(zeus_groups_load(GROUPS_CSV, &groups), ZEUS_OK);
    zeus_group_result *one, *two;
    assert_int_equal(zeus_simulate_alibaba(traces[0], groups, 0.5, 2.0, 1, &one), ZEUS_OK);
    check_group_results(groups, one);
    /* Deterministic whatever the threads. */
    assert_int_equal(zeus_simulate_alibaba(traces[0], groups, 0.5, 2.0, 2, &two), ZEUS_OK);
    for (size_t i = 0; i < 24; i++)
        assert_same_runs(&two[i].history, &one[i].history);
    zeus_group_results_free(one, 24);
    zeus_group_results_free(two, 24);
    zeus_groups_destroy(groups);
    assert_int_equal(zeus_alibaba_seed("00e3aba8800784f36620d04b94f50f1e"), 2283341909u);
    assert_int_equal(zeus_alibaba_seed(""), 1);
}

static void test_alibaba_concurrency_rule(void **state)
{
    (void)state;
    /* Row 1 arrives while row 0 runs: it must use the best-known size (the default, 192) at
     * its known limit without profiling, and its earlier finish is what the explorer sees.
     * Row 3 arrives while row 2 (the explorer's 156) runs: best known is 192 again. Row 5
     * arrives while row 4 runs: by then 156 is the cheapest. */
    static const zeus_group_job rows[] = {{0, 100, 1.0},   {10, 50, 0.5},   {200, 300, 2.0},
                                          {210, 220, 1.0}, {400, 500, 1.0}, {405, 406, 0.25}};
    static const struct {
        int row, bs, pl;
        double energy, time;
    } expect[] = {
        {1, 192, 225, 4749085.040767632, 30995.65},
        {0, 192, 225, 9444990.602296196, 62642.61571428571},
        {3, 192, 225, 9498170.081535265, 61991.3},
        {2, 156, 225, 16606752.26530034, 109593.2},
        {5, 156, 225, 2087870.041862681, 13529.6775},
        {4, 128, 200, 8576127.393854814, 59897.57571428571},
    };
    zeus_job job;
    assert_int_equal(zeus_alibaba_job(traces[0], "librispeech", &job), ZEUS_OK);
    assert_int_equal(job.default_bs, 192); /* min(256, largest v100 librispeech size) */
    zeus_sim_params p;
    seeded(&p, 5);
    p.bso.concurrency = true;
    zeus_sim_history h = {0};
    assert_int_equal(zeus_simulate_one_alibaba_group(traces[0], &job, rows, 6, &p, &h), ZEUS_OK);
    assert_int_equal(h.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(h.runs[i].recurrence, expect[i].row);
        assert_int_equal(h.runs[i].try_index, 1);
        assert_int_equal(h.runs[i].batch_size, expect[i].bs);
        assert_int_equal(h.runs[i].power_limit, expect[i].pl);
        assert_true(h.runs[i].energy_j == expect[i].energy);
        assert_true(h.runs[i].time_s == expect[i].time);
        assert_true(h.runs[i].reached);
    }
    zeus_sim_history_free(&h);
}

/* ---- errors ------------------------------------------------------------------------------------
 */

static void test_simulation_errors(void **state)
{
    (void)state;
    zeus_sim_params p;
    seeded(&p, 1);
    zeus_sim_history h = {0};
    zeus_job job = librispeech_job();

    /* One epoch cannot reach WER 40: the default batch size does not converge. */
    job.max_epochs = 1;
    assert_int_equal(zeus_simulate_one_job(traces[0], &job, 3, &p, &h), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "The default batch size 192 did not converge.");
    assert_int_equal(h.n, 1);
    assert_false(h.runs[0].reached);
    zeus_sim_history_free(&h);

    /* A bound so tight that no epoch fits: every other size is pruned and the bandit has no
     * arm (the original's ValueError). The 20-tries error is tested on a crafted trace in
     * test_simulate_trace. */
    job = librispeech_job();
    p.beta_knob = 0.01;
    assert_int_equal(zeus_simulate_one_job(traces[0], &job, 3, &p, &h), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "Empty batch size set when constructing MAB.");
    assert_int_equal(h.n, 1);
    zeus_sim_history_free(&h);
    p.beta_knob = 0;
    assert_int_equal(zeus_simulate_one_job(traces[0], &job, 3, &p, &h), ZEUS_EINVAL);
    p.beta_knob = 2.0;
    p.eta_knob = 1.5;
    assert_int_equal(zeus_simulate_one_job(traces[0], &job, 3, &p, &h), ZEUS_EINVAL);
    p.eta_knob = 0.5;

    /* Unknown workload, unknown target, untraced default batch size. */
    zeus_job bad = job;
    zeus__strlcpy(bad.network, "resnet18", sizeof bad.network);
    assert_int_equal(zeus_simulate_one_job(traces[0], &bad, 3, &p, &h), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "no rows for workload librispeech/resnet18/adamw");
    assert_contains(zeus_last_error(), "summary_power_v100.csv");
    bad = job;
    bad.target_metric = 41.0;
    assert_int_equal(zeus_simulate_one_job(traces[0], &bad, 3, &p, &h), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "target metric 41.0");
    assert_contains(zeus_last_error(), "35.0, 40.0, 45.0");
    bad = job;
    bad.default_bs = 100;
    assert_int_equal(zeus_simulate_one_job(traces[0], &bad, 3, &p, &h), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "default batch size 100");
    assert_int_equal(h.n, 0);
    zeus_job unknown;
    assert_int_equal(zeus_alibaba_job(traces[0], "mnist", &unknown), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "Unknown dataset mnist.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_facts),
        cmocka_unit_test(test_profile_power_limit),
        cmocka_unit_test(test_golden_run),
        cmocka_unit_test(test_all_configurations),
        cmocka_unit_test(test_fast_moments_same_decisions),
        cmocka_unit_test(test_alibaba_groups),
        cmocka_unit_test(test_alibaba_concurrency_rule),
        cmocka_unit_test(test_simulation_errors),
    };
    return cmocka_run_group_tests(tests, load_traces, free_traces);
}
