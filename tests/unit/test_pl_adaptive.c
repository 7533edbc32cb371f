/* Adaptive power-limit profiling (src/power_limit/adaptive.c): its rules on hand-made chunks,
 * then through the real state machine over simulated workloads (tests/integration/
 * pl_workload.h). The full evaluation (every recorded log x every selector under noise, 1,000
 * synthetic workloads, cost regret beside full profiling's) is bench/bench_pl_adaptive. */
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

static size_t all_selectors(unsigned gpus, zeus_optimum_selector *out)
{
    size_t n = 0;
    for (int i = 0; i < PL_ETA_COUNT; i++)
        assert_int_equal(zeus_selector_zeus_cost(pl_etas[i], (int)gpus, &out[n++]), ZEUS_OK);
    out[n++] = zeus_selector_energy();
    out[n++] = zeus_selector_time();
    for (int i = 0; i < PL_FACTOR_COUNT; i++)
        assert_int_equal(zeus_selector_max_slowdown(pl_factors[i], &out[n++]), ZEUS_OK);
    return n;
}

/* Noise-free replays of every recorded log with every selector: the same limit as full
 * profiling (every limit is seen, so the logs' limit-to-limit jitter cannot hide an optimum)
 * in under 40 % of its steps. */
static void test_recorded_same_choice_fewer_steps(void **state)
{
    (void)state;
    static pl_workload w;
    zeus_optimum_selector sel[PL_ETA_COUNT + 2 + PL_FACTOR_COUNT];
    for (size_t k = 0; k < PL_CASE_COUNT; k++) {
        const pl_case *c = &pl_cases[k];
        w.count = pl_case_read(c, w.truth, PL_WL_MAX_LIMITS);
        assert_true(w.count >= 7);
        w.noise = 0;
        size_t ns = all_selectors(c->gpus, sel);
        for (size_t s = 0; s < ns; s++) {
            long full_steps = 0, ad_steps = 0;
            zeus_pl_fsm_config cfg = config(c, sel[s], false);
            unsigned full = pl_wl_run(&w, &cfg, 1, 100000, &full_steps);
            cfg = config(c, sel[s], true);
            unsigned ad = pl_wl_run(&w, &cfg, 1, 100000, &ad_steps);
            if (s < PL_ETA_COUNT)
                assert_int_equal(full, c->zeus[s]); /* the recorded answer (spec 11.2) */
            assert_int_equal(ad, full);
            assert_int_equal(full_steps, (long)w.count * 50 + 1); /* + the step that finishes */
            assert_true(ad_steps * 10 < full_steps * 4);
        }
    }
}

/* Under step-time noise limits are measured longer, each chunk its own window (where the
 * distributed all-reduce runs); limits measured again stay one entry of the profile; the
 * choice stays close to the truth's in cost. */
static void test_noise_more_chunks_and_close_cost(void **state)
{
    (void)state;
    static pl_workload w;
    const pl_case *c = &pl_cases[10];
    w.count = pl_case_read(c, w.truth, PL_WL_MAX_LIMITS);
    zeus_pl_fsm_config cfg = config(c, zeus_selector_energy(), true);
    long quiet = 0, noisy = 0;
    w.noise = 0;
    assert_int_equal(pl_wl_run(&w, &cfg, 7, 100000, &quiet), 150);
    /* Without noise: 4 chunks at the maximum (the pooled variance's 3 degrees of freedom),
     * then one chunk for every other limit. */
    assert_int_equal(w.windows, w.got_count + 3);
    unsigned quiet_windows = w.windows;
    w.noise = 0.05;
    assert_int_not_equal(pl_wl_run(&w, &cfg, 7, 100000, &noisy), 0);
    assert_true(noisy > quiet && w.windows > quiet_windows);
    /* 2 % noise, 20 seeds: never more than 1 % above the true optimum's energy. */
    w.noise = 0.02;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        unsigned chosen = pl_wl_run(&w, &cfg, seed, 100000, &noisy);
        assert_true(w.got_count >= 1 && w.got_count <= w.count);
        for (size_t i = 0; i < w.got_count; i++)
            for (size_t j = i + 1; j < w.got_count; j++)
                assert_int_not_equal(w.got[i].power_limit_w, w.got[j].power_limit_w);
        double e = 0, best = INFINITY;
        for (size_t i = 0; i < w.count; i++) {
            if (w.truth[i].power_limit_w == chosen)
                e = w.truth[i].energy_j;
            best = fmin(best, w.truth[i].energy_j);
        }
        assert_true(e > 0 && e <= best * 1.01);
    }
}

static void chunks(zeus_pl_adaptive *a, int n, double time_s, double energy_j)
{
    for (int i = 0; i < n; i++)
        zeus__pl_adaptive_add(a, 4, time_s, energy_j);
}

/* Measures limit `index` (300 W down in 25 W steps) with n chunks (time NULL: 1 s each;
 * energy NULL: 100 J each), checking that it is done after the last and not before. */
static void measure_chunks(zeus_pl_adaptive *a, size_t index, const double *time,
                           const double *energy, int n, zeus_power_limit_measurement *out)
{
    zeus__pl_adaptive_begin_limit(a, index);
    for (int i = 0; i < n; i++) {
        chunks(a, 1, time ? time[i] : 1.0, energy ? energy[i] : 100.0);
        assert_true(zeus__pl_adaptive_limit_done(a, 40) == (i == n - 1));
    }
    zeus__pl_adaptive_end_limit(a, 300 - 25 * (unsigned)index, 40, out);
}

static void measure(zeus_pl_adaptive *a, size_t index, const double *energy, int n,
                    zeus_power_limit_measurement *out)
{
    measure_chunks(a, index, NULL, energy, n, out);
}

/* The rules on hand-made chunks (Energy; 7 limits; 4-step chunks; a first visit takes at most
 * 20 steps, a revisit 80 in all). */
static void test_rules(void **state)
{
    (void)state;
    zeus_pl_adaptive a;
    zeus_pl_adaptive_config cfg = zeus__pl_adaptive_defaults(40);
    assert_int_equal(cfg.chunk_steps, 4);
    cfg.budget = 1; /* the rules first; the budget at the end */
    zeus_optimum_selector s = zeus_selector_energy();
    assert_int_equal(zeus__pl_adaptive_init(&a, &cfg, &s, 300, 7, 10), ZEUS_OK);
    zeus_power_limit_measurement m[7];
    /* The maximum: no decision before the pooled variance has 3 degrees of freedom (4
     * chunks); these vary by +-5 %, so it is measured to the first visit's 20 steps. */
    const double noisy[] = {95, 105, 95, 105, 95};
    measure(&a, 0, noisy, 5, &m[0]);
    assert_int_equal(m[0].power_limit_w, 300);
    assert_true(fabs(m[0].energy_j - 495 * 40 / 20.0) < 1e-9 && fabs(m[0].time_s - 10) < 1e-9);
    /* Clearly worse than the best (50 % more than 24.75 J a step): one chunk. */
    const double worse[] = {150};
    measure(&a, 1, worse, 1, &m[1]);
    /* Level with the best: not clear, and its error stays above 0.8 %: 20 steps. */
    const double level[] = {100, 100, 100, 100, 100};
    measure(&a, 2, level, 5, &m[2]);
    long next = 0;
    unsigned limits[7] = {300000, 275000, 250000, 225000, 200000, 175000, 150000};
    assert_int_equal(zeus__pl_adaptive_next(&a, limits, 7, m, 3, 40, &next), ZEUS_OK);
    assert_int_equal(next, 3); /* every limit in turn */
    const double worse2[] = {200}, worse3[] = {240};
    measure(&a, 3, worse2, 1, &m[3]);
    measure(&a, 4, worse3, 1, &m[4]);
    /* 225 and 200 W rose well above the best: the limits below cannot win (convex cost). The
     * best (300 W) and its challenger (250 W) overlap: the less precise of the two again. */
    assert_int_equal(zeus__pl_adaptive_next(&a, limits, 7, m, 5, 40, &next), ZEUS_OK);
    assert_int_equal(next, 2);
    assert_true(a.revisiting);
    zeus__pl_adaptive_begin_limit(&a, 2);
    for (int i = 1; i <= 15; i++) { /* no early stop: until clear or 80 steps */
        chunks(&a, 1, 1.0, 100);
        assert_true(zeus__pl_adaptive_limit_done(&a, 40) == (i == 15));
    }
    zeus__pl_adaptive_end_limit(&a, 250, 40, &m[2]);
    assert_true(fabs(m[2].energy_j - 1000) < 1e-9); /* every visit's 20 chunks, over 40 steps */
    /* 50 + 52 + 70 steps spent. The two still overlap: 250 W has its 80 steps, so 300 W is
     * next, as long as the steps (with a chunk for each unseen limit) stay within the budget
     * of full profiling's 350: not within the default 45 %. */
    assert_int_equal(a.spent, 172);
    assert_int_equal(zeus__pl_adaptive_next(&a, limits, 7, m, 5, 40, &next), ZEUS_OK);
    assert_int_equal(next, 0);
    a.cfg.budget = zeus__pl_adaptive_defaults(40).budget;
    assert_int_equal(zeus__pl_adaptive_next(&a, limits, 7, m, 5, 40, &next), ZEUS_OK);
    assert_int_equal(next, -1);
    assert_false(a.revisiting);
    /* A first visit also ends when the budget is spent. */
    zeus__pl_adaptive_begin_limit(&a, 5);
    chunks(&a, 1, 1.0, 100);
    assert_true(zeus__pl_adaptive_limit_done(&a, 40));
    zeus__pl_adaptive_free(&a);
}

/* MaxSlowdown: every limit is judged against factor x the maximum limit's time, which is
 * measured to profile_steps; a limit at the bound is measured until it is clear of it. */
static void test_max_slowdown_rules(void **state)
{
    (void)state;
    zeus_pl_adaptive a;
    zeus_pl_adaptive_config cfg = zeus__pl_adaptive_defaults(40);
    cfg.budget = 1;
    zeus_optimum_selector s;
    assert_int_equal(zeus_selector_max_slowdown(1.1, &s), ZEUS_OK);
    assert_int_equal(zeus__pl_adaptive_init(&a, &cfg, &s, 300, 3, 10), ZEUS_OK);
    zeus_power_limit_measurement m[3];
    /* The maximum: 1 s +- 5 %, to profile_steps (10 chunks); at the bound (1.1 s): as long;
     * clearly over it: one chunk. */
    double ref[10], at_bound[10], over[1] = {2.0};
    for (int i = 0; i < 10; i++) {
        ref[i] = i % 2 ? 1.05 : 0.95;
        at_bound[i] = 1.1;
    }
    measure_chunks(&a, 0, ref, NULL, 10, &m[0]);
    measure_chunks(&a, 1, at_bound, NULL, 10, &m[1]);
    measure_chunks(&a, 2, over, NULL, 1, &m[2]);
    long next = 0;
    unsigned limits[3] = {300000, 275000, 250000};
    assert_int_equal(zeus__pl_adaptive_next(&a, limits, 3, m, 3, 40, &next), ZEUS_OK);
    assert_int_equal(next, -1); /* no revisits for MaxSlowdown */
    zeus__pl_adaptive_free(&a);
}

/* With a stride above 1 the first pass skips limits, then the choice's neighbours are measured. */
static void test_stride_search(void **state)
{
    (void)state;
    zeus_pl_adaptive a;
    zeus_pl_adaptive_config cfg = zeus__pl_adaptive_defaults(40);
    cfg.stride = 2;
    zeus_optimum_selector s = zeus_selector_energy();
    assert_int_equal(zeus__pl_adaptive_init(&a, &cfg, &s, 250, 7, 10), ZEUS_OK);
    unsigned limits[7] = {250000, 225000, 200000, 175000, 150000, 125000, 100000};
    zeus_power_limit_measurement got[7];
    size_t n = 0;
    long next = 0;
    const double energy[7] = {60, 58, 54, 51, 48, 50, 53}; /* falls to 150 W, rises again */
    int order[7], visits = 0;
    for (;;) {
        assert_int_equal(zeus__pl_adaptive_next(&a, limits, 7, got, n, 40, &next), ZEUS_OK);
        if (next < 0)
            break;
        order[visits++] = (int)next;
        got[n++] = (zeus_power_limit_measurement){
            .power_limit_w = limits[next] / 1000, .time_s = 1, .energy_j = energy[next]};
    }
    int want[] = {0, 2, 4, 6, 3, 5}; /* coarse 0, 2, 4, 6; then 150 W's neighbours */
    assert_int_equal(visits, 6);
    for (int i = 0; i < visits; i++)
        assert_int_equal(order[i], want[i]);
    zeus__pl_adaptive_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_same_choice_fewer_steps),
        cmocka_unit_test(test_noise_more_chunks_and_close_cost),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_max_slowdown_rules),
        cmocka_unit_test(test_stride_search),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
