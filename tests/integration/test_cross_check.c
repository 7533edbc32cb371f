/* The cross-check of counter energy against sampled power (zeus_monitor_cross_check) on the
 * fake NVML's injected measurement faults: a frozen counter, a counter at three times the true
 * rate, a power sensor stuck at 50 W, beside a healthy GPU. */
#include "test_support.h"

#include "monitor/monitor_internal.h"
#include "zeus/monitor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char warnings[8192];

static void collect(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    if (level <= ZEUS_LOG_WARN && strlen(warnings) + strlen(message) + 2 < sizeof warnings) {
        strcat(warnings, message);
        strcat(warnings, "\n");
    }
}

static size_t count_of(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

#define GPU(extra)                                                                                 \
    "{\"name\": \"Tesla V100\", \"architecture\": \"volta\", \"min_power_limit_w\": 100, "         \
    "\"max_power_limit_w\": 250, \"idle_power_w\": 40, \"busy_power_w\": 200, \"load\": 1, "       \
    "\"energy_update_ms\": 2" extra "}"

typedef struct {
    zeus_devices *d;
    zeus_monitor *m;
    zeus_sampler *s;
    zeus_measurement *r;
} rig;

static void open_rig(rig *x)
{
    /* Real sensors never read the same value twice under load (the stuck one is not noisy). */
    setenv("ZEUS_FAKE_NVML_NOISE_W", "2", 1);
    zt_use_fake_nvml(zt_dir,
                     "{\"gpus\": [" GPU("") ", " GPU(", \"energy_counter_rate\": 0") ", " GPU(
                         ", \"energy_counter_rate\": 3") ", " GPU(", \"stuck_power_w\": 50") "]}");
    assert_int_equal(zt_open(&x->d), ZEUS_OK);
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    assert_int_equal(zeus_monitor_open(x->d, &o, &x->m), ZEUS_OK);
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.period_s = 0.01;
    assert_int_equal(zeus_sampler_start(x->d, &so, &x->s), ZEUS_OK);
    x->r = zeus_measurement_new();
    assert_non_null(x->r);
}

static void close_rig(rig *x)
{
    zeus_measurement_free(x->r);
    zeus_monitor_close(x->m);
    zeus_sampler_stop(x->s);
    zeus_devices_close(x->d);
}

static void window(rig *x)
{
    assert_int_equal(zeus_monitor_begin_window(x->m, "w", false), ZEUS_OK);
    usleep(250000);
    assert_int_equal(zeus_monitor_end_window(x->m, "w", false, false, x->r), ZEUS_OK);
}

static void test_fallback(void **state)
{
    (void)state;
    rig x;
    open_rig(&x);
    assert_int_equal(zeus_monitor_cross_check(x.m, x.s, 7), ZEUS_EINVAL);
    assert_int_equal(zeus_monitor_cross_check(x.m, x.s, ZEUS_CROSS_CHECK_FALLBACK), ZEUS_OK);
    warnings[0] = '\0';
    zeus_set_log_callback(collect, NULL);
    window(&x);
    window(&x); /* the warnings are given once per GPU */
    zeus_set_log_callback(NULL, NULL);
    double counter, sampled, allowed;
    const zeus_gpu_measurement *g;
    /* Healthy: the two agree (about 200 W x 0.25 s). */
    assert_int_equal(zeus_measurement_gpu_cross_check(x.r, 0, &counter, &sampled, &allowed),
                     ZEUS_CHECK_AGREE);
    assert_true(fabs(counter - sampled) <= allowed && counter > 30 && counter < 80);
    assert_int_equal(zeus_measurement_gpu(x.r, 0)->method, ZEUS_METHOD_COUNTER);
    /* Frozen counter: 0 J against ~50 J sampled; the sampled energy is used. */
    assert_int_equal(zeus_measurement_gpu_cross_check(x.r, 1, &counter, &sampled, &allowed),
                     ZEUS_CHECK_FELL_BACK);
    g = zeus_measurement_gpu(x.r, 1);
    assert_true(counter == 0 && sampled > 30);
    assert_int_equal(g->method, ZEUS_METHOD_SAMPLED);
    assert_true(g->energy_j == sampled && !g->below_resolution);
    /* Three times the rate: 600 W on a 250 W GPU cannot be; the sampled energy is used. */
    assert_int_equal(zeus_measurement_gpu_cross_check(x.r, 2, &counter, &sampled, &allowed),
                     ZEUS_CHECK_FELL_BACK);
    assert_true(counter > 2.5 * sampled);
    assert_true(zeus_measurement_gpu(x.r, 2)->energy_j == sampled);
    /* A sensor stuck at 50 W: disagreement, but the counter is right and stays. */
    assert_int_equal(zeus_measurement_gpu_cross_check(x.r, 3, &counter, &sampled, &allowed),
                     ZEUS_CHECK_DISAGREE);
    g = zeus_measurement_gpu(x.r, 3);
    assert_int_equal(g->method, ZEUS_METHOD_COUNTER);
    assert_true(g->energy_j == counter && sampled < 0.5 * counter);
    assert_int_equal(count_of(warnings, "disagree by more than their bounds"), 3);
    assert_int_equal(count_of(warnings, "GPU 1: the energy counter"), 1);
    assert_contains(warnings, "the power readings are stuck, the counter is used");
    /* The JSON carries the flag. */
    char *json;
    assert_int_equal(zeus_measurement_to_json(x.r, &json), ZEUS_OK);
    assert_contains(json, "\"cross_check\":{\"status\":\"fell_back\"");
    zeus_free(json);
    close_rig(&x);
}

static void test_flag_only_and_off(void **state)
{
    (void)state;
    rig x;
    open_rig(&x);
    assert_int_equal(zeus_monitor_cross_check(x.m, x.s, ZEUS_CROSS_CHECK_FLAG), ZEUS_OK);
    zeus_set_log_level(ZEUS_LOG_ERROR);
    window(&x);
    zeus_set_log_level(ZEUS_LOG_WARN);
    /* Flagged, but every GPU keeps its counter's energy. */
    assert_int_equal(zeus_measurement_gpu_cross_check(x.r, 1, NULL, NULL, NULL),
                     ZEUS_CHECK_DISAGREE);
    assert_int_equal(zeus_measurement_gpu_cross_check(x.r, 2, NULL, NULL, NULL),
                     ZEUS_CHECK_DISAGREE);
    assert_true(zeus_measurement_gpu(x.r, 1)->energy_j == 0);
    assert_int_equal(zeus_measurement_gpu(x.r, 2)->method, ZEUS_METHOD_COUNTER);
    /* Detached: nothing is compared. */
    assert_int_equal(zeus_monitor_cross_check(x.m, NULL, ZEUS_CROSS_CHECK_FLAG), ZEUS_OK);
    zeus_set_log_level(ZEUS_LOG_ERROR);
    window(&x);
    zeus_set_log_level(ZEUS_LOG_WARN);
    double c = 0;
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(zeus_measurement_gpu_cross_check(x.r, i, &c, NULL, NULL), ZEUS_CHECK_NONE);
    assert_true(isnan(c));
    close_rig(&x);
}

/* The pure decision's edges. */
static void test_decide(void **state)
{
    (void)state;
    zeus__gpu_check c;
    zeus__check_input in = {.counter_j = 100,
                            .counter_bound_j = 1,
                            .sampled_j = 105,
                            .sampled_bound_j = 2,
                            .samples = 10,
                            .elapsed_s = 1,
                            .max_power_w = 250};
    assert_false(zeus__cross_check_decide(&in, true, &c));
    assert_int_equal(c.status, ZEUS_CHECK_AGREE);
    assert_true(fabs(c.allowed_j - (3 + 0.1 * 105)) < 1e-9);
    in.samples = 1; /* one sample integrates nothing */
    assert_false(zeus__cross_check_decide(&in, true, &c));
    assert_int_equal(c.status, ZEUS_CHECK_NONE);
    in.samples = 10;
    in.counter_j = 150; /* plausible: flagged, kept */
    assert_false(zeus__cross_check_decide(&in, true, &c));
    assert_int_equal(c.status, ZEUS_CHECK_DISAGREE);
    in.counter_j = 0.5; /* frozen */
    assert_true(zeus__cross_check_decide(&in, true, &c));
    assert_int_equal(c.status, ZEUS_CHECK_FELL_BACK);
    in.power_stuck = true; /* but the sensor is the broken one */
    assert_false(zeus__cross_check_decide(&in, true, &c));
    assert_int_equal(c.status, ZEUS_CHECK_DISAGREE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fallback, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_flag_only_and_off, zt_setup, zt_teardown),
        cmocka_unit_test(test_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
