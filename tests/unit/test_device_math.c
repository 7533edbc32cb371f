/* Pure device-layer logic: RAPL wrap maths, versioned-symbol fallback, the simulated GPU model,
 * architecture names and the core number formatting. */
#include "test_support.h"

#include "core/internal.h"
#include "device/counter.h"
#include "device/sim_model.h"
#include "device/symbols.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_wrap_delta(void **state)
{
    (void)state;
    assert_int_equal(zeus_wrap_delta(100, 250, 1000), 150);
    assert_int_equal(zeus_wrap_delta(900, 100, 999), 200); /* 900..999 (100) + 0..100 (100) */
    assert_int_equal(zeus_wrap_delta(5, 5, 1000), 0);
    /* A real RAPL range: 262143328850 µJ (~262 kJ). */
    uint64_t range = 262143328850ULL;
    assert_int_equal(zeus_wrap_delta(range - 10, 20, range), 31);
}

static int lookups;
static void *table_lookup(void *ctx, const char *name)
{
    lookups++;
    for (const char **t = ctx; *t; t++)
        if (strcmp(*t, name) == 0)
            return (void *)t;
    return NULL;
}

static void test_symbol_fallback(void **state)
{
    (void)state;
    const char *modern[] = {"nvmlInit_v2", "nvmlInit", "nvmlDeviceGetCount_v2", NULL};
    const char *legacy[] = {"nvmlInit", "nvmlDeviceGetCount", NULL};
    char used[64];
    assert_ptr_equal(
        zeus__resolve_versioned(table_lookup, modern, "nvmlInit", 2, used, sizeof used),
        &modern[0]);
    assert_string_equal(used, "nvmlInit_v2");
    assert_ptr_equal(
        zeus__resolve_versioned(table_lookup, legacy, "nvmlInit", 2, used, sizeof used),
        &legacy[0]);
    assert_string_equal(used, "nvmlInit");
    lookups = 0;
    assert_null(
        zeus__resolve_versioned(table_lookup, legacy, "nvmlDeviceGetUUID", 3, used, sizeof used));
    assert_int_equal(lookups, 3); /* _v3, _v2, plain */
}

static zeus_sim_gpu_params params(void)
{
    zeus_sim_config c;
    assert_int_equal(zeus__sim_config_parse(NULL, "default", &c), ZEUS_OK);
    return c.gpus[0];
}

static void test_sim_idle_energy_is_quantized(void **state)
{
    (void)state;
    zeus_sim_gpu_params p = params();
    p.idle_w = 30.0;
    p.energy_update_ms = 100.0;
    zeus_sim_gpu g;
    const int64_t t0 = 1000000000LL * 50; /* on a counter boundary */
    zeus__sim_gpu_init(&g, &p, t0);
    /* 50 ms later: exact energy advanced, the counter not yet. */
    assert_int_equal(zeus__sim_gpu_energy_mj(&g, t0 + 50000000), 0);
    assert_true(fabs(zeus__sim_gpu_exact_uj(&g, t0 + 50000000) - 1.5e6) < 1.0);
    /* 250 ms: the counter shows the value at 200 ms = 6 J. */
    assert_int_equal(zeus__sim_gpu_energy_mj(&g, t0 + 250000000), 6000);
    assert_true(fabs(zeus__sim_gpu_exact_uj(&g, t0 + 250000000) - 7.5e6) < 1.0);
    assert_int_equal(zeus__sim_gpu_instant_mw(&g, t0 + 250000000), 30000);
}

/* Energy per step at a limit (W), and ZeusCost at eta 0.5 with MaxPower 300 W. */
static double step_energy(zeus_sim_gpu *g, unsigned limit_w, double *cost)
{
    zeus__sim_gpu_set_limit(g, limit_w * 1000, 0);
    double t = zeus__sim_gpu_step_time_s(g), e = t * zeus__sim_gpu_busy_power_w(g);
    *cost = 0.5 * e + 0.5 * 300.0 * t;
    return e;
}

static void test_sim_lower_limit_is_slower_and_cheaper_then_dearer(void **state)
{
    (void)state;
    zeus_sim_gpu_params p = params(); /* A40: 100-300 W */
    zeus_sim_gpu g;
    zeus__sim_gpu_init(&g, &p, 0);
    double e[9], cost[9], t_prev = 0;
    for (unsigned w = 100, i = 0; w <= 300; w += 25, i++) {
        e[i] = step_energy(&g, w, &cost[i]);
        double t = zeus__sim_gpu_step_time_s(&g);
        assert_true(i == 0 || t <= t_prev); /* higher limits are never slower */
        t_prev = t;
    }
    /* Index i is 100 + 25 i W. An interior energy optimum (125 W), like real profiles... */
    assert_true(e[1] < e[0] && e[1] < e[2] && e[1] < e[8]);
    /* ...and at eta 0.5 a cost optimum below the maximum (200 W), as the spec's A40 data. */
    assert_true(cost[4] < cost[8] && cost[4] < cost[3] && cost[4] < cost[5]);
    /* Near the top, lowering the limit costs little time: 250 W is < 5% slower than 300 W. */
    zeus__sim_gpu_set_limit(&g, 250000, 0);
    double t250 = zeus__sim_gpu_step_time_s(&g);
    zeus__sim_gpu_set_limit(&g, 300000, 0);
    assert_true(t250 / zeus__sim_gpu_step_time_s(&g) < 1.05);
}

static void test_sim_steps_draw_busy_power(void **state)
{
    (void)state;
    zeus_sim_gpu_params p = params();
    p.energy_update_ms = 10.0;
    zeus_sim_gpu g;
    zeus__sim_gpu_init(&g, &p, 0);
    zeus__sim_gpu_set_limit(&g, 200000, 0);
    double step = zeus__sim_gpu_step_time_s(&g);
    int64_t end = zeus__sim_gpu_launch_step(&g, 0);
    end = zeus__sim_gpu_launch_step(&g, 0); /* queued behind the first */
    assert_true(llabs(end - (int64_t)(2 * step * 1e9)) <= 2);
    assert_int_equal(zeus__sim_gpu_instant_mw(&g, end / 2), 200000);
    double busy_uj = zeus__sim_gpu_exact_uj(&g, end);
    assert_true(fabs(busy_uj - 200.0 * 2 * step * 1e6) < 10.0);
    /* After the steps: idle again. */
    assert_int_equal(zeus__sim_gpu_instant_mw(&g, end + 1000000),
                     (unsigned)lround(p.idle_w * 1000));
}

static void test_sim_average_power(void **state)
{
    (void)state;
    zeus_sim_gpu_params p = params();
    p.load = 1.0; /* always busy at min(limit, busy_w) */
    zeus_sim_gpu g;
    zeus__sim_gpu_init(&g, &p, 0);
    zeus__sim_gpu_set_limit(&g, 150000, 0);
    unsigned avg = zeus__sim_gpu_average_mw(&g, 3000000000LL);
    assert_true(avg > 149000 && avg < 151000);
}

static void test_config_errors(void **state)
{
    (void)state;
    zeus_sim_config c;
    assert_int_equal(zeus__sim_config_parse("{\"gpus\": [", "cfg.json", &c), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "cfg.json:1: not valid JSON");
    assert_int_equal(zeus__sim_config_parse("{\"gpu\": []}", "cfg.json", &c), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "unknown key 'gpu'");
    assert_int_equal(
        zeus__sim_config_parse("{\"gpus\": [{\"architecture\": \"fermi2\"}]}", "cfg.json", &c),
        ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "gpus[0].architecture");
    assert_int_equal(zeus__sim_config_parse("{\"gpus\": [{\"min_power_limit_w\": 300, "
                                            "\"max_power_limit_w\": 100}]}",
                                            "cfg.json", &c),
                     ZEUS_ERANGE);
    assert_int_equal(zeus__sim_config_parse("{\"gpus\": [{\"load\": 2}]}", "cfg.json", &c),
                     ZEUS_ERANGE);
    assert_contains(zeus_last_error(), "gpus[0].load = 2 is outside [0, 1]");
    assert_int_equal(zeus__sim_config_parse("{\"gpus\": [{\"name\": 7}]}", "cfg.json", &c),
                     ZEUS_EPARSE);
}

/* Every key of the documented example (docs/devices.md) is accepted, compute_fraction too. */
static void test_config_documented_keys(void **state)
{
    (void)state;
    zeus_sim_config c;
    assert_int_equal(
        zeus__sim_config_parse(
            "{\"gpus\": [{\"name\": \"NVIDIA V100\", \"architecture\": \"volta\", "
            "\"min_power_limit_w\": 100, \"max_power_limit_w\": 250, \"default_power_limit_w\": "
            "250, \"idle_power_w\": 40, \"busy_power_w\": 232, \"static_power_w\": 75, "
            "\"step_time_ms\": 25, \"compute_fraction\": 0.45, \"energy_update_ms\": 100, "
            "\"load\": 0.0, \"initial_energy_j\": 0, \"count\": 2}]}",
            "cfg.json", &c),
        ZEUS_OK);
    assert_true(fabs(c.gpus[0].compute_fraction - 0.45) < 1e-12);
    assert_true(fabs(c.gpus[1].compute_fraction - 0.45) < 1e-12);
    assert_int_equal(
        zeus__sim_config_parse("{\"gpus\": [{\"compute_fraction\": 1.5}]}", "cfg.json", &c),
        ZEUS_ERANGE);
}

static void test_config_issue_example(void **state)
{
    (void)state;
    zeus_sim_config c;
    assert_int_equal(zeus__sim_config_parse(
                         "{\"gpus\": [{\"name\": \"NVIDIA V100\", \"architecture\": \"volta\", "
                         "\"min_power_limit_w\": 100, \"max_power_limit_w\": 250, "
                         "\"idle_power_w\": 40, \"energy_update_ms\": 100, \"count\": 2}]}",
                         "cfg", &c),
                     ZEUS_OK);
    assert_int_equal(c.gpu_count, 2);
    assert_string_equal(c.gpus[1].name, "NVIDIA V100");
    assert_int_equal(c.gpus[0].arch, ZEUS_ARCH_VOLTA);
    assert_int_equal(c.gpus[0].max_limit_mw, 250000);
    assert_int_equal(c.gpus[0].default_limit_mw, 250000);
    assert_true(strcmp(c.gpus[0].uuid, c.gpus[1].uuid) != 0);
}

static void test_arch_names(void **state)
{
    (void)state;
    zeus_gpu_arch a;
    assert_int_equal(zeus_gpu_arch_parse("Hopper", &a), ZEUS_OK);
    assert_int_equal(a, ZEUS_ARCH_HOPPER);
    assert_string_equal(zeus_gpu_arch_name(ZEUS_ARCH_PASCAL), "pascal");
    assert_string_equal(zeus_gpu_arch_name((zeus_gpu_arch)42), "unknown");
}

static void test_format_double_like_python(void **state)
{
    (void)state;
    char b[ZEUS_DOUBLE_BUF];
    assert_string_equal(zeus_format_double(10.5, b, sizeof b), "10.5");
    assert_string_equal(zeus_format_double(10.0, b, sizeof b), "10.0");
    assert_string_equal(zeus_format_double(2924.4619999974966, b, sizeof b), "2924.4619999974966");
    assert_string_equal(zeus_format_double(1e-07, b, sizeof b), "1e-07");
    assert_string_equal(zeus_format_double(0.0001, b, sizeof b), "0.0001");
    assert_string_equal(zeus_format_double(1e16, b, sizeof b), "1e+16");
    assert_string_equal(zeus_format_double(123456789012345.0, b, sizeof b), "123456789012345.0");
    assert_string_equal(zeus_format_double(-0.5, b, sizeof b), "-0.5");
    assert_string_equal(zeus_format_double(0.1 + 0.2, b, sizeof b), "0.30000000000000004");
    assert_string_equal(zeus_format_double(1.5e-10, b, sizeof b), "1.5e-10");
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(zeus_error_name(ZEUS_EPARSE), "ZEUS_EPARSE");
    assert_string_equal(zeus_strerror(ZEUS_ELOST), "device lost");
    assert_string_equal(zeus_strerror(12345), "unknown error");
    zeus_log_level l;
    assert_int_equal(zeus_parse_log_level("DEBUG", &l), ZEUS_OK);
    assert_int_equal(l, ZEUS_LOG_DEBUG);
    assert_int_equal(zeus_parse_log_level("loud", &l), ZEUS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_delta),
        cmocka_unit_test(test_symbol_fallback),
        cmocka_unit_test(test_sim_idle_energy_is_quantized),
        cmocka_unit_test(test_sim_lower_limit_is_slower_and_cheaper_then_dearer),
        cmocka_unit_test(test_sim_steps_draw_busy_power),
        cmocka_unit_test(test_sim_average_power),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_documented_keys),
        cmocka_unit_test(test_config_issue_example),
        cmocka_unit_test(test_arch_names),
        cmocka_unit_test(test_format_double_like_python),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
