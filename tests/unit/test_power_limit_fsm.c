/* The power-limit state machine as pure logic (spec 4.2-4.3, 10.3, 10.4): driven through a
 * recorder of its actions, no device and no monitor. */
#include "test_support.h"

#include "power_limit/power_limit_fsm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char log[8192];
    int set_fail;   /* fail the next N set_limit calls */
    int begin_fail; /* fail the next N begin_window calls */
    int end_fail;   /* fail the next N (non-cancel) end_window calls */
    double zero_energy_once;
    int profiled_calls;
    unsigned last_set;
    long ticks;      /* step begins driven by tick_steps() */
    long begin_tick; /* ticks when the open window began */
    long zero_below; /* a window of fewer ticks reads 0 J (the counter has not moved) */
} recorder;

static void logf_(recorder *r, const char *fmt, unsigned v)
{
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, fmt, v);
}

static int rec_set(void *ctx, unsigned mw)
{
    recorder *r = ctx;
    if (r->set_fail > 0) {
        r->set_fail--;
        logf_(r, "setfail %u;", mw / 1000);
        return ZEUS_EDEVICE;
    }
    r->last_set = mw;
    logf_(r, "set %u;", mw / 1000);
    return ZEUS_OK;
}

static unsigned limit_of(const char *name)
{
    const char *us = strrchr(name, '_');
    return (unsigned)strtoul(us + 1, NULL, 10);
}

static int rec_begin(void *ctx, const char *name)
{
    recorder *r = ctx;
    assert_int_equal(strncmp(name, "__GlobalPowerLimitOptimizer_", 28), 0);
    if (r->begin_fail > 0) {
        r->begin_fail--;
        return ZEUS_EEXIST;
    }
    logf_(r, "begin %u;", limit_of(name));
    r->begin_tick = r->ticks;
    return ZEUS_OK;
}

/* A workload where energy is lowest at 175 W and time grows as the limit drops. */
static int rec_end(void *ctx, const char *name, bool cancel, double *t, double *e)
{
    recorder *r = ctx;
    unsigned w = limit_of(name);
    if (cancel) {
        logf_(r, "cancel %u;", w);
        return ZEUS_OK;
    }
    if (r->end_fail > 0) {
        r->end_fail--;
        return ZEUS_ENOENT;
    }
    logf_(r, "end %u;", w);
    *t = 3000.0 / w;
    *e = 1000.0 + (w - 175.0) * (w - 175.0) / 10.0;
    if (r->zero_energy_once) {
        *e = 0;
        r->zero_energy_once = 0;
    }
    if (r->zero_below) { /* per-step cost, times the window's steps */
        long n = r->ticks - r->begin_tick;
        *t *= (double)n;
        *e = n < r->zero_below ? 0 : *e * (double)n;
    }
    return ZEUS_OK;
}

static int rec_profiled(void *ctx, const zeus_power_limit_measurement *m, size_t n)
{
    recorder *r = ctx;
    (void)m;
    r->profiled_calls++;
    logf_(r, "profiled %u;", (unsigned)n);
    return ZEUS_OK;
}

static const zeus_pl_fsm_ops ops = {rec_set, rec_begin, rec_end, rec_profiled};

static zeus_pl_fsm_config config(int wait, int warmup, int profile)
{
    return (zeus_pl_fsm_config){.wait_steps = wait,
                                .warmup_steps = warmup,
                                .profile_steps = profile,
                                .pl_step_w = 25,
                                .min_limit_mw = 100000,
                                .max_limit_mw = 300000,
                                .selector = zeus_selector_energy()};
}

static void start(zeus_pl_fsm *f, recorder *r, zeus_pl_fsm_config c)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(zeus__pl_fsm_init(f, &c, &ops, r), ZEUS_OK);
    assert_int_equal(zeus__pl_fsm_start(f), ZEUS_OK);
}

static void steps(zeus_pl_fsm *f, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(zeus__pl_fsm_on_step_begin(f), ZEUS_OK);
}

static int warnings;
static void count_warnings(zeus_log_level level, const char *msg, void *user)
{
    (void)msg;
    (void)user;
    if (level == ZEUS_LOG_WARN)
        warnings++;
}

/* Steps much shorter than the energy counter's update period: every window of fewer than 7
 * steps reads 0 J. The optimizer never fails a step; it doubles the window (1, 2, 4, 8 steps),
 * warns once, and ends Done with every limit compared over profile_steps steps. */
static void test_zero_energy_grows_the_window(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    start(&f, &r, config(0, 1, 1));
    r.zero_below = 7;
    warnings = 0;
    zeus_set_log_callback(count_warnings, NULL);
    for (int i = 0; i < 500 && f.phase != ZEUS_PL_DONE; i++) {
        r.ticks++;
        assert_int_equal(zeus__pl_fsm_on_step_begin(&f), ZEUS_OK);
    }
    zeus_set_log_callback(NULL, NULL);
    assert_int_equal(f.phase, ZEUS_PL_DONE);
    assert_int_equal(f.profile_steps_now, 8);
    assert_int_equal(warnings, 1);
    assert_int_equal(f.measurement_count, 9);
    for (size_t i = 0; i < f.measurement_count; i++) {
        double w = f.measurements[i].power_limit_w;
        /* scaled back to one step: the per-step figures of rec_end */
        assert_true(fabs(f.measurements[i].time_s - 3000.0 / w) < 1e-9);
        assert_true(fabs(f.measurements[i].energy_j - (1000.0 + (w - 175) * (w - 175) / 10)) <
                    1e-9);
    }
    assert_int_equal(f.limit_mw, 175000);
    zeus__pl_fsm_free(&f);
}

/* Epochs shorter than warmup + profile steps + 1: profiling restarts at each epoch end and can
 * never finish; the optimizer keeps the original's behaviour but warns once. */
static void test_short_epochs_warn_once(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    start(&f, &r, config(0, 10, 40));
    warnings = 0;
    zeus_set_log_callback(count_warnings, NULL);
    for (int epoch = 0; epoch < 5; epoch++) {
        steps(&f, 10);
        assert_int_equal(zeus__pl_fsm_on_epoch_end(&f), ZEUS_OK);
    }
    zeus_set_log_callback(NULL, NULL);
    assert_int_equal(warnings, 1);
    assert_int_equal(f.measurement_count, 0);
    /* Long enough epochs: no warning. */
    zeus__pl_fsm_free(&f);
    start(&f, &r, config(0, 10, 40));
    warnings = 0;
    zeus_set_log_callback(count_warnings, NULL);
    steps(&f, 55);
    assert_int_equal(zeus__pl_fsm_on_epoch_end(&f), ZEUS_OK);
    zeus_set_log_callback(NULL, NULL);
    assert_int_equal(warnings, 0);
    assert_int_equal(f.measurement_count, 1);
    zeus__pl_fsm_free(&f);
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(zeus__pl_fsm_limit_count(100000, 300000, 25000), 9);
    assert_int_equal(zeus__pl_fsm_limit_count(100000, 250000, 25000), 7);
    assert_int_equal(zeus__pl_fsm_limit_count(150000, 150000, 25000), 1);
    /* 260/100/25: the original's range ends at 85 W, below the minimum (spec 10.3); we stop at
     * 110 W. */
    zeus_pl_fsm f;
    recorder r;
    zeus_pl_fsm_config c = config(1, 10, 40);
    c.max_limit_mw = 260000;
    start(&f, &r, c);
    assert_int_equal(f.limit_count, 7);
    assert_int_equal(f.limits_mw[0], 260000);
    assert_int_equal(f.limits_mw[6], 110000);
    zeus__pl_fsm_free(&f);
}

static void test_validation(void **state)
{
    (void)state;
    zeus_pl_fsm_config c = config(-1, 10, 40);
    assert_int_equal(zeus__pl_fsm_validate(&c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "wait_steps must be non-negative.");
    c = config(1, -1, 40);
    assert_int_equal(zeus__pl_fsm_validate(&c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "warmup_steps must be non-negative.");
    c = config(1, 10, 0);
    assert_int_equal(zeus__pl_fsm_validate(&c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "profile_steps must be positive.");
    c = config(1, 10, 40);
    c.pl_step_w = 0;
    assert_int_equal(zeus__pl_fsm_validate(&c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "pl_step must be positive.");
    c = config(0, 0, 1);
    assert_int_equal(zeus__pl_fsm_validate(&c), ZEUS_OK);
    c.selector.kind = ZEUS_SELECTOR_MAX_SLOWDOWN;
    c.selector.factor = 0.5;
    assert_int_equal(zeus__pl_fsm_validate(&c), ZEUS_EINVAL);
}

/* Spec 4.3 timing with the defaults: step 1 at max; step 2 sets PL[0] (skipped: already set)
 * and warms up 2-11; the window covers 12-51 and closes at 52, which also sets PL[1]. */
static void test_default_timing(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    start(&f, &r, config(1, 10, 40));
    assert_string_equal(r.log, "set 300;");
    assert_int_equal(f.phase, ZEUS_PL_READY);
    steps(&f, 1); /* step 1 */
    assert_int_equal(f.phase, ZEUS_PL_READY);
    steps(&f, 1); /* step 2 */
    assert_int_equal(f.phase, ZEUS_PL_WARMUP);
    assert_int_equal(f.limit_mw, 300000);
    assert_string_equal(r.log, "set 300;");
    steps(&f, 9); /* steps 3-11 */
    assert_int_equal(f.phase, ZEUS_PL_WARMUP);
    steps(&f, 1); /* step 12 */
    assert_int_equal(f.phase, ZEUS_PL_PROFILING);
    assert_string_equal(r.log, "set 300;begin 300;");
    steps(&f, 39); /* 13-51 */
    assert_int_equal(f.phase, ZEUS_PL_PROFILING);
    steps(&f, 1); /* 52 */
    assert_string_equal(r.log, "set 300;begin 300;end 300;set 275;");
    assert_int_equal(f.phase, ZEUS_PL_WARMUP);
    assert_int_equal(f.limit_mw, 275000);
    /* Every later limit costs warmup + profile steps; after the last, the optimum (175 W for
     * the recorder's workload) is set and the profile handed over. */
    steps(&f, 50 * 8 - 1);
    assert_int_equal(f.phase, ZEUS_PL_PROFILING);
    assert_int_equal(f.limit_mw, 100000);
    steps(&f, 1);
    assert_int_equal(f.phase, ZEUS_PL_DONE);
    assert_int_equal(f.limit_mw, 175000);
    assert_int_equal(f.measurement_count, 9);
    assert_contains(r.log, "end 100;set 175;profiled 9;");
    assert_int_equal(r.profiled_calls, 1);
    size_t len = strlen(r.log);
    steps(&f, 100);
    assert_int_equal(zeus__pl_fsm_on_epoch_end(&f), ZEUS_OK);
    assert_int_equal(strlen(r.log), len); /* Done does nothing */
    zeus__pl_fsm_free(&f);
}

/* warmup_steps = 0 (the original crashes, spec 10.4): profiling starts at the step that sets
 * the limit; wait_steps = 0: the first step already does. */
static void test_zero_warmup_and_wait(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    start(&f, &r, config(0, 0, 2));
    steps(&f, 1);
    assert_int_equal(f.phase, ZEUS_PL_PROFILING);
    assert_string_equal(r.log, "set 300;begin 300;");
    steps(&f, 2);
    assert_string_equal(r.log, "set 300;begin 300;end 300;set 275;begin 275;");
    assert_int_equal(f.phase, ZEUS_PL_PROFILING);
    steps(&f, 2 * 7 + 2);
    assert_int_equal(f.phase, ZEUS_PL_DONE);
    assert_int_equal(f.measurement_count, 9);
    zeus__pl_fsm_free(&f);
}

static void test_interruptions(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    start(&f, &r, config(1, 10, 40));
    steps(&f, 1);
    assert_int_equal(zeus__pl_fsm_on_epoch_end(&f), ZEUS_OK); /* Ready: nothing */
    steps(&f, 5);                                             /* warmup of 300 */
    assert_int_equal(zeus__pl_fsm_on_epoch_end(&f), ZEUS_OK);
    assert_int_equal(f.phase, ZEUS_PL_READY);
    assert_int_equal(f.steps, 1);
    assert_string_equal(r.log, "set 300;"); /* back to max: skipped, already there */
    steps(&f, 1);                           /* retried from the start of its warmup */
    assert_int_equal(f.phase, ZEUS_PL_WARMUP);
    assert_int_equal(f.steps, 10);
    steps(&f, 10 + 40); /* 300 done, 275 set */
    steps(&f, 10 + 39); /* 275 profiled exactly 40 steps; the window closes only at the next
                           step begin, so an epoch end now still interrupts it */
    assert_int_equal(f.phase, ZEUS_PL_PROFILING);
    assert_int_equal(f.limit_mw, 275000);
    assert_int_equal(f.steps, 1);
    assert_int_equal(zeus__pl_fsm_on_epoch_end(&f), ZEUS_OK);
    assert_string_equal(r.log, "set 300;begin 300;end 300;set 275;begin 275;cancel 275;set 300;");
    assert_int_equal(f.measurement_count, 1);
    steps(&f, 1);
    assert_contains(r.log, "cancel 275;set 300;set 275;");
    assert_int_equal(f.phase, ZEUS_PL_WARMUP);
    zeus__pl_fsm_free(&f);
}

/* A failed operation returns its error and the next step retries the limit. */
static void test_failures_retry(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    start(&f, &r, config(0, 1, 1));
    r.set_fail = 1;
    /* The limit is already 300 (skipped), so the first failure shows at 275. */
    steps(&f, 1);                                                   /* warmup 300 */
    steps(&f, 1);                                                   /* begin 300 */
    assert_int_equal(zeus__pl_fsm_on_step_begin(&f), ZEUS_EDEVICE); /* end 300, set 275 fails */
    assert_int_equal(f.phase, ZEUS_PL_READY);
    assert_int_equal(f.limit_mw, 275000);
    assert_int_equal(f.current_mw, 0); /* unknown now: never skipped */
    steps(&f, 1);                      /* retried */
    assert_int_equal(f.phase, ZEUS_PL_WARMUP);
    assert_contains(r.log, "end 300;setfail 275;set 275;");
    r.begin_fail = 1;
    assert_int_equal(zeus__pl_fsm_on_step_begin(&f), ZEUS_EEXIST);
    assert_int_equal(f.phase, ZEUS_PL_READY);
    steps(&f, 1); /* set skipped (still 275), warmup again */
    steps(&f, 1); /* begin */
    assert_int_equal(f.phase, ZEUS_PL_PROFILING);
    r.end_fail = 1;
    assert_int_equal(zeus__pl_fsm_on_step_begin(&f), ZEUS_ENOENT);
    assert_int_equal(f.phase, ZEUS_PL_READY);
    assert_int_equal(f.measurement_count, 1);
    steps(&f, 2);
    r.zero_energy_once = 1;
    /* 0 J is a measurement problem, not an error: the limit is retried over twice the steps. */
    assert_int_equal(zeus__pl_fsm_on_step_begin(&f), ZEUS_OK);
    assert_int_equal(f.phase, ZEUS_PL_READY);
    assert_int_equal(f.measurement_count, 1);
    assert_int_equal(f.profile_steps_now, 2);
    steps(&f, 4);
    assert_int_equal(f.measurement_count, 2);
    assert_int_equal(f.limit_mw, 250000);
    zeus__pl_fsm_free(&f);
}

/* The final set is skipped when the optimum is the last limit profiled; a failed final set is
 * retried in Done. */
static void test_done_edges(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    zeus_pl_fsm_config c = config(0, 0, 1);
    c.selector = zeus_selector_time(); /* the recorder's time is shortest at 300 */
    c.min_limit_mw = 250000;
    start(&f, &r, c);
    steps(&f, 1 + 3);
    assert_int_equal(f.phase, ZEUS_PL_DONE);
    assert_string_equal(r.log, "set 300;begin 300;end 300;set 275;begin 275;end 275;set 250;begin "
                               "250;end 250;set 300;profiled 3;");
    zeus__pl_fsm_free(&f);

    c.selector = zeus_selector_energy(); /* lowest energy among 300..250 is at 250: no set */
    start(&f, &r, c);
    steps(&f, 4);
    assert_contains(r.log, "end 250;profiled 3;");
    zeus__pl_fsm_free(&f);

    c.selector = zeus_selector_time();
    start(&f, &r, c);
    steps(&f, 3);
    r.set_fail = 1;
    assert_int_equal(zeus__pl_fsm_on_step_begin(&f), ZEUS_EDEVICE);
    assert_int_equal(f.phase, ZEUS_PL_DONE);
    assert_int_equal(r.profiled_calls, 0);
    steps(&f, 1);
    assert_int_equal(r.last_set, 300000);
    assert_int_equal(r.profiled_calls, 1); /* the profile is handed over once the set worked */
    size_t len = strlen(r.log);
    steps(&f, 5);
    assert_int_equal(strlen(r.log), len);
    zeus__pl_fsm_free(&f);
}

static int bad_selector(const zeus_power_limit_measurement *m, size_t n, void *user, unsigned *out)
{
    (void)m;
    (void)n;
    *out = *(unsigned *)user;
    return ZEUS_OK;
}

/* A selector that fails, or picks a limit outside the range, ends at the maximum. */
static void test_selector_failure(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    unsigned pick = 50;
    zeus_pl_fsm_config c = config(0, 0, 1);
    c.min_limit_mw = 250000;
    c.selector = zeus_selector_custom(bad_selector, &pick, "Bad()");
    start(&f, &r, c);
    steps(&f, 3);
    assert_int_equal(zeus__pl_fsm_on_step_begin(&f), ZEUS_ERANGE);
    assert_contains(zeus_last_error(), "the selector chose 50 W");
    assert_int_equal(f.phase, ZEUS_PL_DONE);
    assert_int_equal(f.limit_mw, 300000);
    assert_int_equal(r.last_set, 300000);
    zeus__pl_fsm_free(&f);
}

static void test_loaded(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    zeus_pl_fsm_config c = config(1, 10, 40);
    memset(&r, 0, sizeof r);
    assert_int_equal(zeus__pl_fsm_init(&f, &c, &ops, &r), ZEUS_OK);
    zeus_power_limit_measurement m[] = {{300, 100, 1}, {200, 80, 1.2}, {100, 90, 2}};
    assert_int_equal(zeus__pl_fsm_load(&f, m, 3, "p.json"), ZEUS_OK);
    assert_int_equal(f.phase, ZEUS_PL_DONE);
    assert_int_equal(f.limit_mw, 200000);
    assert_string_equal(r.log, ""); /* loading has no side effect */
    assert_int_equal(zeus__pl_fsm_apply(&f), ZEUS_OK);
    assert_string_equal(r.log, "set 200;");
    steps(&f, 10);
    assert_int_equal(zeus__pl_fsm_on_epoch_end(&f), ZEUS_OK);
    assert_string_equal(r.log, "set 200;");
    assert_int_equal(r.profiled_calls, 0);
    zeus__pl_fsm_free(&f);

    memset(&r, 0, sizeof r);
    assert_int_equal(zeus__pl_fsm_init(&f, &c, &ops, &r), ZEUS_OK);
    zeus_power_limit_measurement v[] = {{350, 100, 1}, {200, 80, 1.2}};
    assert_int_equal(zeus__pl_fsm_load(&f, v, 2, "p.json"), ZEUS_ERANGE);
    assert_contains(zeus_last_error(), "p.json: measurements[0].power_limit 350 W is outside");
    assert_string_equal(r.log, "");
    zeus__pl_fsm_free(&f);
}

static void test_reapply(void **state)
{
    (void)state;
    zeus_pl_fsm f;
    recorder r;
    start(&f, &r, config(1, 10, 40));
    steps(&f, 2 + 50); /* warming up 275 */
    assert_int_equal(zeus__pl_fsm_wanted_mw(&f), 275000);
    assert_int_equal(zeus__pl_fsm_reapply(&f), ZEUS_OK);
    assert_contains(r.log, "set 275;set 275;");
    zeus__pl_fsm_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_zero_energy_grows_the_window),
        cmocka_unit_test(test_short_epochs_warn_once),
        cmocka_unit_test(test_default_timing),
        cmocka_unit_test(test_zero_warmup_and_wait),
        cmocka_unit_test(test_interruptions),
        cmocka_unit_test(test_failures_retry),
        cmocka_unit_test(test_done_edges),
        cmocka_unit_test(test_selector_failure),
        cmocka_unit_test(test_loaded),
        cmocka_unit_test(test_reapply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
