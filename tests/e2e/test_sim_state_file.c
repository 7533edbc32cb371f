/* The simulated-state file (ZEUS_SIM_STATE, ZEUS_FAKE_NVML_STATE) shared by processes that
 * simulate different numbers of GPUs, and malformed content (issue 9, item 10). */
#include "test_support.h"

#include "zeus/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *state_path;

static void use_sim(unsigned gpus)
{
    char config[128];
    snprintf(config, sizeof config, "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": %u}]}",
             gpus);
    setenv("ZEUS_DEVICE", "sim", 1);
    setenv("ZEUS_SIM_CONFIG", config, 1);
    free(state_path);
    state_path = zt_path(zt_dir, "sim.state");
    setenv("ZEUS_SIM_STATE", state_path, 1);
}

static void zeus_ok(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    char *out, *err;
    int rc = zt_zeus(&out, &err, a, b, c, d, e, NULL);
    if (rc != 0)
        fail_msg("zeus %s %s %s %s exited %d: %s", a, b, c ? c : "", d ? d : "", rc, err);
    free(out);
    free(err);
}

static void test_fewer_gpus_keep_the_others(void **state)
{
    (void)state;
    use_sim(4);
    unlink(state_path);
    zeus_ok("power-limit", "set", "200", "--gpu-indices", "3");
    /* A process that simulates two GPUs changes GPU 0 ... */
    use_sim(2);
    zeus_ok("power-limit", "set", "150", "--gpu-indices", "0");
    /* ... and GPU 3's limit (and 2's default) survive it. */
    char *text = zt_read(state_path);
    assert_contains(text, "gpu 0 limit_mw 150000 persistence 0\n");
    assert_contains(text, "gpu 3 limit_mw 200000 persistence 0\n");
    free(text);
    use_sim(4);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", "--json", NULL), 0);
    char *gpu3 = strstr(out, "\"index\":\t3");
    assert_non_null(gpu3);
    assert_contains(gpu3, "\"power_limit_w\":\t200");
    assert_contains(out, "\"power_limit_w\":\t150");
    free(out);
    free(err);
}

static void expect_bad_state(const char *content, const char *needle)
{
    use_sim(2);
    char *path = zt_write(zt_dir, "sim.state", content);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "200", NULL), 1);
    assert_contains(err, path);
    assert_contains(err, needle);
    free(out);
    free(err);
    /* The file is reported, never overwritten. */
    char *after = zt_read(path);
    assert_string_equal(after, content);
    free(after);
    free(path);
}

static void test_garbage_refused_with_line(void **state)
{
    (void)state;
    expect_bad_state("gpu 0 limit_mw 5 persistence 0\n",
                     "sim.state:1: gpu 0: limit_mw 5 is outside");
    expect_bad_state(
        "gpu 0 limit_mw 300000 persistence 0\ngpu 1 limit_mw 999999999 persistence 0\n",
        "sim.state:2: gpu 1: limit_mw 999999999 is outside its range 100000-300000");
    expect_bad_state("gpu 0 limit_mw 300000 persistence 2\n", "sim.state:1: expected");
    expect_bad_state("gpu 0 limit_mw 99999999999999999999 persistence 0\n", "sim.state:1:");
    expect_bad_state("gpu 0 limit_mw -5 persistence 0\n", "sim.state:1:");
    expect_bad_state("gpu 0 limit_mw 300000 persistence 0 x\n", "sim.state:1:");
    expect_bad_state("gpu 1 limit_mw 300000 persistence 0\ngpu 1 limit_mw 200000 persistence 0\n",
                     "sim.state:2: gpu 1 is listed twice");
    expect_bad_state("gpu 64 limit_mw 300000 persistence 0\n", "sim.state:1:");
    expect_bad_state("garbage\n", "sim.state:1:");
}

/* The fake NVML reads the same format: a bad file fails nvmlInit with the file and line. */
static void test_fake_nvml_refuses_garbage(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 2}]}");
    char *path = zt_write(zt_dir, "fake_nvml.state", "gpu 1 limit_mw 5 persistence 0\n");
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_gpu_count(d), 0);
    zeus_backend_status s;
    zeus_devices_backend(d, 0, &s);
    assert_string_equal(s.name, "nvml");
    assert_false(s.available);
    assert_contains(s.reason, "fake_nvml.state:1: gpu 1: limit_mw 5 is outside");
    zeus_devices_close(d);
    free(path);
}

static int teardown(void **state)
{
    free(state_path);
    state_path = NULL;
    return zt_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fewer_gpus_keep_the_others, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_refused_with_line, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_nvml_refuses_garbage, zt_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
