/* Adaptive power-limit profiling (src/power_limit/adaptive.c) through the real state machine
 * over simulated workloads (tests/integration/pl_workload.h). The full evaluation (every
 * recorded log x every selector, noise, 1,000 synthetic workloads) is bench/bench_pl_adaptive. */
#include "test_support.h"

#include "../integration/pl_workload.h"
#include "../integration/power_limit_cases.h"

#include <math.h>
#include <string.h>

static zeus_pl_fsm_config config(const pl_case *c, zeus_optimum_selector selector, bool adaptive)
{
    return (zeus_pl_fsm_config){.wait_steps = 1,
                                .warmup_steps = 10,
                                .profile_steps = 40,
                                .pl_step_w = 25,
                                .min_limit_mw = c->min_w * 1000,
                                .max_limit_mw = c->max_w * 1000,
                                .selector = selector,
                                .adaptive = adaptive,
                                .adaptive_cfg = zeus__pl_adaptive_defaults(40)};
}

/* Noise-free replays of recorded logs: the same limit as full profiling, in under 40 % of its
 * steps, for cases where the search has to find an optimum deep in the range. */
static void test_recorded_same_choice_fewer_steps(void **state)
{
    (void)state;
    static pl_workload w;
    size_t cases[] = {0, 4, 10}; /* A40 bert, A40 resnet50, V100 resnet50 */
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const pl_case *c = &pl_cases[cases[k]];
        w.count = pl_case_read(c, w.truth, PL_WL_MAX_LIMITS);
        assert_true(w.count >= 7);
        w.noise = 0;
        for (int e = 0; e < PL_ETA_COUNT; e++) {
            zeus_optimum_selector s;
            assert_int_equal(zeus_selector_zeus_cost(pl_etas[e], (int)c->gpus, &s), ZEUS_OK);
            long full_steps = 0, ad_steps = 0;
            zeus_pl_fsm_config cfg = config(c, s, false);
            unsigned full = pl_wl_run(&w, &cfg, 1, 100000, &full_steps);
            cfg = config(c, s, true);
            unsigned ad = pl_wl_run(&w, &cfg, 1, 100000, &ad_steps);
            assert_int_equal(full, c->zeus[e]); /* the recorded answer (spec 11.2) */
            assert_int_equal(ad, full);
            assert_int_equal(full_steps, (long)w.count * 50 + 1); /* + the step that finishes */
            assert_true(ad_steps * 10 < full_steps * 4);
        }
    }
}

/* Under step-time noise a limit is measured longer (up to profile_steps), and each chunk is its
 * own window, which is where the distributed all-reduce runs (power_limit.c's end_window). */
static void test_noise_takes_more_chunks(void **state)
{
    (void)state;
    static pl_workload w;
    const pl_case *c = &pl_cases[10];
    w.count = pl_case_read(c, w.truth, PL_WL_MAX_LIMITS);
    zeus_pl_fsm_config cfg = config(c, zeus_selector_energy(), true);
    long quiet = 0, noisy = 0;
    w.noise = 0;
    assert_int_equal(pl_wl_run(&w, &cfg, 7, 100000, &quiet), 150);
    unsigned quiet_windows = w.windows;
    w.noise = 0.05;
    assert_int_not_equal(pl_wl_run(&w, &cfg, 7, 100000, &noisy), 0);
    assert_true(noisy > quiet);
    assert_true(w.windows > quiet_windows);
    /* 2 chunks of 5 steps per measured limit without noise. */
    assert_int_equal(quiet_windows % 2, 0);
    assert_true(quiet_windows / 2 < w.count);
}

/* The pure rules: the variance decides when a limit is known; a limit clearly worse than the
 * best stops at once; the search visits every other limit, then the choice's neighbours. */
static void test_rules(void **state)
{
    (void)state;
    zeus_pl_adaptive a;
    zeus_pl_adaptive_config cfg = zeus__pl_adaptive_defaults(40);
    assert_int_equal(cfg.chunk_steps, 5);
    zeus_optimum_selector s = zeus_selector_energy();
    zeus__pl_adaptive_init(&a, &cfg, &s, 300);
    zeus__pl_adaptive_begin_limit(&a);
    zeus__pl_adaptive_add(&a, 5, 1.0, 100.0);
    assert_false(zeus__pl_adaptive_limit_done(&a, 40)); /* one chunk: no variance yet */
    zeus__pl_adaptive_add(&a, 5, 1.0, 100.0);
    assert_true(zeus__pl_adaptive_limit_done(&a, 40)); /* no variance: known */
    zeus_power_limit_measurement m;
    zeus__pl_adaptive_end_limit(&a, 300, 40, &m);
    assert_int_equal(m.power_limit_w, 300);
    assert_true(fabs(m.energy_j - 800.0) < 1e-9 && fabs(m.time_s - 8.0) < 1e-9);
    /* Noisy chunks: not known after two... */
    zeus__pl_adaptive_begin_limit(&a);
    zeus__pl_adaptive_add(&a, 5, 1.0, 95.0);
    zeus__pl_adaptive_add(&a, 5, 1.0, 105.0);
    assert_false(zeus__pl_adaptive_limit_done(&a, 40));
    /* ...but at profile_steps at the latest. */
    for (int i = 0; i < 6; i++)
        zeus__pl_adaptive_add(&a, 5, 1.0, i % 2 ? 95.0 : 105.0);
    assert_true(zeus__pl_adaptive_limit_done(&a, 40));
    /* Clearly worse than the best (100 J per 5 steps): stops after two chunks. */
    zeus__pl_adaptive_begin_limit(&a);
    zeus__pl_adaptive_add(&a, 5, 1.0, 150.0);
    zeus__pl_adaptive_add(&a, 5, 1.0, 160.0);
    assert_true(zeus__pl_adaptive_limit_done(&a, 40));

    unsigned limits[7] = {250000, 225000, 200000, 175000, 150000, 125000, 100000};
    zeus_power_limit_measurement got[7];
    size_t n = 0;
    long next = 0;
    /* energy falls to 150 W and rises again */
    const double energy[7] = {60, 58, 54, 51, 48, 50, 53};
    int order[7], visits = 0;
    for (;;) {
        assert_int_equal(zeus__pl_adaptive_next(&a, limits, 7, got, n, &next), ZEUS_OK);
        if (next < 0)
            break;
        order[visits++] = (int)next;
        got[n++] = (zeus_power_limit_measurement){
            .power_limit_w = limits[next] / 1000, .time_s = 1, .energy_j = energy[next]};
    }
    /* coarse 0, 2, 4, 6; the choice 150 W (index 4): its neighbours 3 and 5 */
    int want[] = {0, 2, 4, 6, 3, 5};
    assert_int_equal(visits, 6);
    for (int i = 0; i < visits; i++)
        assert_int_equal(order[i], want[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_same_choice_fewer_steps),
        cmocka_unit_test(test_noise_takes_more_chunks),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
