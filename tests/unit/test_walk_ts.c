/* The walk-ts batch-size policy (ZEUS_BSO_POLICY_WALK_TS, src/batch_size/walk_ts.c): its walk on
 * costs made up by the test, its early-stopping factor, Thompson sampling that is a function of
 * the seed, its saved state, the policy names, and the simulator driving it on the traces (the
 * original's pruning-gts stays the default and bit-exact: test_simulate.c). */
#include "test_support.h"

#include "zeus/simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_DIR ZEUS_DATA_DIR "/nsdi23-traces"

static const int sizes[] = {8, 16, 32, 64, 128};

static zeus_bso *make(int default_bs, uint64_t seed)
{
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "toy", "net", "sgd", 0.5, 5, default_bs, NAN), ZEUS_OK);
    zeus_bso_config cfg;
    zeus_bso_config_default(&cfg);
    cfg.policy = ZEUS_BSO_POLICY_WALK_TS;
    cfg.seed = seed;
    zeus_bso *bso;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 5, &bso), ZEUS_OK);
    return bso;
}

/* Predicts, checks the size, reports cost and whether it reached the target. */
static void step(zeus_bso *bso, int want, double cost, int reached)
{
    int bs;
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
    assert_int_equal(bs, want);
    assert_int_equal(zeus_bso_observe(bso, bs, cost, reached), ZEUS_OK);
}

/* Down from the default while the cost falls; a size over 1.5 x the best ends the direction; a
 * smaller size beat the default, so the upward walk is skipped. */
static void test_walk_down_stops_on_rising_cost(void **state)
{
    (void)state;
    zeus_bso *bso = make(64, 1);
    assert_true(zeus_bso_in_pruning(bso));
    step(bso, 64, 100, 1);
    step(bso, 32, 80, 1);
    step(bso, 16, 130, 1); /* > 1.5 x 80: stop walking down, 8 is never tried */
    assert_false(zeus_bso_in_pruning(bso));
    assert_null(zeus_bso_mab(bso));
    double mean, sd;
    assert_int_equal(zeus_bso_estimate(bso, 32, &mean, &sd), ZEUS_OK);
    assert_true(mean == 80 && sd > 0);
    assert_int_equal(zeus_bso_estimate(bso, 8, &mean, &sd), ZEUS_ENOENT);
    assert_int_equal(zeus_bso_estimate(bso, 128, &mean, &sd), ZEUS_ENOENT);
    assert_int_equal(zeus_bso_estimate(bso, 7, &mean, &sd), ZEUS_EINVAL);
    /* Sampling picks only among sizes that reached the target, mostly the cheapest. */
    int counts[5] = {0};
    for (int i = 0; i < 200; i++) {
        int bs;
        assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
        assert_true(bs == 16 || bs == 32 || bs == 64);
        counts[bs == 16 ? 0 : bs == 32 ? 1 : 2]++;
        assert_int_equal(zeus_bso_observe(bso, bs,
                                          bs == 32   ? 80
                                          : bs == 64 ? 100
                                                     : 130,
                                          1),
                         ZEUS_OK);
    }
    assert_true(counts[1] > 180);
    zeus_bso_destroy(bso);
}

/* A size that misses the target ends its direction and is never played again; the upward walk
 * runs when no smaller size beat the default, and stops at the top. */
static void test_walk_up_and_misses(void **state)
{
    (void)state;
    zeus_bso *bso = make(32, 2);
    step(bso, 32, 100, 1);
    step(bso, 16, 400, 0); /* missed: excluded */
    step(bso, 64, 90, 1);
    step(bso, 128, 95, 1);
    assert_false(zeus_bso_in_pruning(bso));
    for (int i = 0; i < 100; i++) {
        int bs;
        assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
        assert_true(bs != 16 && bs != 8);
        assert_int_equal(zeus_bso_observe(bso, bs, bs == 64 ? 90 : 100, 1), ZEUS_OK);
    }
    /* A miss while sampling counts in the size's cost per reached run. */
    double before, after, sd;
    assert_int_equal(zeus_bso_estimate(bso, 128, &before, &sd), ZEUS_OK);
    assert_int_equal(zeus_bso_observe(bso, 128, 200, 0), ZEUS_OK);
    assert_int_equal(zeus_bso_estimate(bso, 128, &after, &sd), ZEUS_OK);
    assert_true(after > before);
    zeus_bso_destroy(bso);
}

/* The walk's first run of a size stops at 1.5 x (never above beta); other runs at beta. */
static void test_bound_factor(void **state)
{
    (void)state;
    zeus_bso *bso = make(64, 3);
    int bs;
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
    assert_true(zeus_bso_bound_factor(bso, 64, 2.0) == 1.5);
    assert_true(zeus_bso_bound_factor(bso, 64, 1.2) == 1.2);
    assert_true(zeus_bso_bound_factor(bso, 32, 2.0) == 2.0); /* not the walk's size */
    assert_int_equal(zeus_bso_observe(bso, 64, 100, 1), ZEUS_OK);
    assert_true(zeus_bso_bound_factor(bso, 64, 2.0) == 2.0); /* seen */
    zeus_bso_destroy(bso);
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "toy", "net", "sgd", 0.5, 5, 64, NAN), ZEUS_OK);
    zeus_bso_config cfg;
    zeus_bso_config_default(&cfg);
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 5, &bso), ZEUS_OK);
    assert_int_equal(zeus_bso_predict(bso, &bs), ZEUS_OK);
    assert_true(zeus_bso_bound_factor(bso, 64, 2.0) == 2.0); /* pruning-gts: always beta */
    double m, sd;
    assert_int_equal(zeus_bso_estimate(bso, 64, &m, &sd), ZEUS_EINVAL);
    zeus_bso_destroy(bso);
}

/* Saved mid-walk and mid-sampling, a loaded optimizer makes the same decisions as the one that
 * goes on; a broken document is refused. */
static void test_save_load_continues(void **state)
{
    (void)state;
    zeus_bso *a = make(64, 4);
    step(a, 64, 100, 1);
    char *json;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(zeus_bso_save(a, &json), ZEUS_OK);
        assert_non_null(strstr(json, "\"policy\":\t\"walk-ts\""));
        zeus_bso *b;
        assert_int_equal(zeus_bso_load(json, &b), ZEUS_OK);
        zeus_free(json);
        for (int i = 0; i < 60; i++) {
            int x, y;
            assert_int_equal(zeus_bso_predict(a, &x), ZEUS_OK);
            assert_int_equal(zeus_bso_predict(b, &y), ZEUS_OK);
            assert_int_equal(x, y);
            double cost = 50 + fabs(x - 32.0) + (i % 7);
            assert_int_equal(zeus_bso_observe(a, x, cost, x != 8), ZEUS_OK);
            assert_int_equal(zeus_bso_observe(b, y, cost, y != 8), ZEUS_OK);
        }
        zeus_bso_destroy(b);
    }
    assert_int_equal(zeus_bso_save(a, &json), ZEUS_OK);
    char *broken = strstr(json, "\"sample\"");
    assert_non_null(broken);
    memcpy(broken, "\"sampl!\"", 8);
    zeus_bso *c;
    assert_int_equal(zeus_bso_load(json, &c), ZEUS_EPARSE);
    assert_non_null(strstr(zeus_last_error(), "phase"));
    zeus_free(json);
    zeus_bso_destroy(a);
}

static void test_policy_names(void **state)
{
    (void)state;
    int p = -1;
    assert_int_equal(zeus_bso_policy_parse("pruning-gts", &p), ZEUS_OK);
    assert_int_equal(p, ZEUS_BSO_POLICY_PRUNING_GTS);
    assert_int_equal(zeus_bso_policy_parse("walk-ts", &p), ZEUS_OK);
    assert_int_equal(p, ZEUS_BSO_POLICY_WALK_TS);
    assert_int_equal(zeus_bso_policy_parse("thompson", &p), ZEUS_EINVAL);
    assert_string_equal(zeus_last_error(),
                        "unknown batch-size policy 'thompson' (known: pruning-gts, walk-ts)");
    assert_string_equal(zeus_bso_policy_name(ZEUS_BSO_POLICY_WALK_TS), "walk-ts");
    assert_null(zeus_bso_policy_name(2));
    const char *const *names = zeus_bso_policy_names();
    assert_string_equal(names[0], "pruning-gts");
    assert_null(names[2]);
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "toy", "net", "sgd", 0.5, 5, 64, NAN), ZEUS_OK);
    zeus_bso_config cfg;
    zeus_bso_config_default(&cfg);
    assert_int_equal(cfg.policy, ZEUS_BSO_POLICY_PRUNING_GTS); /* the default stays */
    cfg.policy = 7;
    zeus_bso *bso;
    assert_int_equal(zeus_bso_create(&cfg, &job, sizes, 5, &bso), ZEUS_EINVAL);
}

static bool same_history(const zeus_sim_history *a, const zeus_sim_history *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(&a->runs[i], &b->runs[i], sizeof a->runs[i]) != 0)
            return false;
    return true;
}

/* On the traces (the six a40 configurations): the same seed gives the same runs, and another
 * seed other runs. */
static void test_simulated_deterministic_per_seed(void **state)
{
    (void)state;
    zeus_trace *trace;
    assert_int_equal(zeus_trace_load_dir(TRACE_DIR, "a40", &trace), ZEUS_OK);
    static const char *const datasets[] = {"cifar100",    "imagenet",     "squad",
                                           "librispeech", "movielens-1m", "sentiment140"};
    bool any_seed_differs = false;
    for (size_t d = 0; d < 6; d++) {
        zeus_job job;
        assert_int_equal(zeus_alibaba_job(trace, datasets[d], &job), ZEUS_OK);
        zeus_sim_history h[3] = {{0}};
        for (int k = 0; k < 3; k++) {
            zeus_sim_params p;
            zeus_sim_params_default(&p);
            p.seed = p.bso.seed = k == 2 ? 2 : 1;
            p.bso.policy = ZEUS_BSO_POLICY_WALK_TS;
            assert_int_equal(zeus_simulate_one_job(trace, &job, 100, &p, &h[k]), ZEUS_OK);
        }
        assert_true(same_history(&h[0], &h[1]));
        any_seed_differs |= !same_history(&h[0], &h[2]);
        for (int k = 0; k < 3; k++)
            zeus_sim_history_free(&h[k]);
    }
    assert_true(any_seed_differs);
    zeus_trace_destroy(trace);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_down_stops_on_rising_cost),
        cmocka_unit_test(test_walk_up_and_misses),
        cmocka_unit_test(test_bound_factor),
        cmocka_unit_test(test_save_load_continues),
        cmocka_unit_test(test_policy_names),
        cmocka_unit_test(test_simulated_deterministic_per_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
