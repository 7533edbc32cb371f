/* `zeus power-limit get|set|reset` against the fake NVML, run as a real process: output, the
 * exact NVML calls, range checks before any change, rollback, permission advice, exit codes. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *log_path;

static void use_fake(const char *config)
{
    zt_use_fake_nvml(zt_dir, config);
    free(log_path);
    log_path = zt_path(zt_dir, "nvml.log");
    unlink(log_path);
    setenv("ZEUS_FAKE_NVML_LOG", log_path, 1);
}

/* "GPU <g> (NVIDIA A40, <backend> <g>, <rest>" is in out (the backend: NVML, or AMDSMI in the
 * vendor matrix). */
static void assert_gpu_line(const char *out, unsigned gpu, const char *rest)
{
    char want[200];
    snprintf(want, sizeof want, "GPU %u (NVIDIA A40, %s %u, %s", gpu, zt_vendor_cli_label(), gpu,
             rest);
    assert_contains(out, want);
}

static char *calls(void)
{
    char *text = zt_read_calls(log_path);
    return text ? text : calloc(1, 1);
}

static void test_get(void **state)
{
    (void)state;
    use_fake("{\"gpus\": [{\"name\": \"NVIDIA A40\", \"default_power_limit_w\": 280, "
             "\"count\": 2}]}");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", NULL), 0);
    assert_contains(out, zt_vendor_amd() ? "GPU  AMDSMI PCI           name"
                                         : "GPU  NVML   PCI           name");
    assert_contains(out, "0    0      0000:01:00.0  NVIDIA A40");
    assert_contains(out, "1    1      0000:02:00.0  NVIDIA A40");
    assert_contains(out, "280");
    free(out);
    free(err);
    assert_int_equal(
        zt_zeus(&out, &err, "power-limit", "get", "--gpu-indices", "1", "--json", NULL), 0);
    assert_contains(out, "\"index\":\t1");
    assert_contains(out, "\"power_limit_w\":\t280");
    assert_contains(out, "\"max_power_limit_w\":\t300");
    assert_contains(out, "\"device_index\":\t1");
    assert_contains(out, "\"pci_address\":\t\"0000:02:00.0\"");
    assert_true(strstr(out, "\"index\":\t0") == NULL);
    free(out);
    free(err);
    /* Under CUDA_VISIBLE_DEVICES the framework index and NVML's differ: both are shown
     * (issue 24 item 6), in the table, the messages and the JSON. */
    setenv("CUDA_VISIBLE_DEVICES", "1", 1);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", NULL), 0);
    assert_contains(out, "0    1      0000:02:00.0  NVIDIA A40");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", "--json", NULL), 0);
    assert_contains(out, "\"index\":\t0");
    assert_contains(out, "\"device_index\":\t1");
    free(out);
    free(err);
    unsetenv("CUDA_VISIBLE_DEVICES");
    char *log = calls();
    assert_string_equal(log, ""); /* get never changes anything */
    free(log);
}

static void test_set_and_reset(void **state)
{
    (void)state;
    use_fake("{\"gpus\": [{\"name\": \"NVIDIA A40\", \"default_power_limit_w\": 280, "
             "\"count\": 4}]}");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "250", NULL), 0);
    assert_gpu_line(out, 0, "0000:01:00.0): 280 W -> 250 W");
    assert_gpu_line(out, 3, "0000:04:00.0): 280 W -> 250 W");
    free(out);
    free(err);
    assert_int_equal(
        zt_zeus(&out, &err, "power-limit", "set", "175.5", "--gpu-indices", "1", "3", NULL), 0);
    free(out);
    free(err);
    char *log = calls();
    assert_string_equal(log, "nvmlDeviceSetPowerManagementLimit 0 250000\n"
                             "nvmlDeviceSetPowerManagementLimit 1 250000\n"
                             "nvmlDeviceSetPowerManagementLimit 2 250000\n"
                             "nvmlDeviceSetPowerManagementLimit 3 250000\n"
                             "nvmlDeviceSetPowerManagementLimit 1 175500\n"
                             "nvmlDeviceSetPowerManagementLimit 3 175500\n");
    free(log);
    /* The shared state is what the next process sees. */
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", "--json", NULL), 0);
    assert_contains(out, "\"power_limit_w\":\t175.5");
    free(out);
    free(err);
    assert_int_equal(
        zt_zeus(&out, &err, "power-limit", "reset", "--gpu-indices", "3", "--json", NULL), 0);
    assert_contains(out, "\"previous_power_limit_w\":\t175.5");
    assert_contains(out, "\"power_limit_w\":\t280");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "reset", NULL), 0);
    assert_gpu_line(out, 1, "0000:02:00.0): 175.5 W -> 280 W (default)");
    free(out);
    free(err);
}

static void test_usage_errors(void **state)
{
    (void)state;
    use_fake(NULL);
    char *out, *err;
    struct {
        const char *args[6];
        const char *message;
    } cases[] = {
        {{"power-limit", NULL}, "choose get, set, reset or recover"},
        {{"power-limit", "show", NULL}, "unknown action 'show'"},
        {{"power-limit", "set", NULL}, "give the limit in watts"},
        {{"power-limit", "set", "abc", NULL}, "WATTS must be a positive number, not 'abc'"},
        {{"power-limit", "set", "-5", NULL}, "WATTS must be a positive number"},
        {{"power-limit", "set", "400", NULL}, "400 W is outside the range 100-300 W of GPU 0 ("},
        {{"power-limit", "set", "50", "--gpu-indices", "2", NULL},
         "outside the range 100-300 W "
         "of GPU 2 (NVIDIA A40, "},
        {{"power-limit", "get", "--bogus", NULL}, "unknown or incomplete option '--bogus'"},
        {{"power-limit", "reset", "extra", NULL}, "unexpected argument 'extra'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const *a = cases[i].args;
        int rc = zt_zeus(&out, &err, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
        assert_int_equal(rc, 2);
        assert_contains(err, "zeus: error: ");
        assert_contains(err, cases[i].message);
        free(out);
        free(err);
    }
    /* A limit out of range names the GPU as every other message does: framework index, NVML
     * index and PCI address (it used to say only "GPU 0" while meaning NVML's GPU 2). */
    setenv("CUDA_VISIBLE_DEVICES", "2", 1);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "500", NULL), 2);
    char want[160];
    snprintf(want, sizeof want,
             "500 W is outside the range 100-300 W of GPU 0 (NVIDIA A40, %s 2, 0000:03:00.0)",
             zt_vendor_cli_label());
    assert_contains(err, want);
    free(out);
    free(err);
    unsetenv("CUDA_VISIBLE_DEVICES");
    char *log = calls();
    assert_string_equal(log, ""); /* nothing was changed by any of them */
    free(log);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "--help", NULL), 0);
    assert_contains(out, "usage: zeus power-limit get");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "--help", NULL), 0);
    free(out);
    free(err);
}

static void test_permission_and_rollback(void **state)
{
    (void)state;
    char *out, *err;
    use_fake("{\"gpus\": [{\"name\": \"NVIDIA A40\", \"errors\": "
             "{\"nvmlDeviceSetPowerManagementLimit\": {\"code\": \"NO_PERMISSION\"}}}]}");
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "200", NULL), 1);
    assert_contains(err, "SYS_ADMIN capability is required to modify GPU power limits. Using "
                         "--cap-add SYS_ADMIN when running the Docker container is the easiest "
                         "way to do this.");
    /* ... and the two ways the original does not name (issue 24 item 4). */
    assert_contains(err, "The other ways: run as root, or run Zeus's daemon as root (zeusd serve) "
                         "and set ZEUSD_SOCK_PATH to its socket");
    free(out);
    free(err);

    /* GPU 2 is lost: GPUs 0 and 1, already changed, are put back. */
    use_fake("{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 2}, {\"name\": \"NVIDIA A40\", "
             "\"errors\": {\"nvmlDeviceSetPowerManagementLimit\": {\"code\": \"GPU_IS_LOST\"}}}, "
             "{\"name\": \"NVIDIA A40\"}]}");
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "200", NULL), 1);
    assert_contains(err, "GPU 2: cannot set the power limit to 200 W");
    assert_null(strstr(err, "could not be put back")); /* GPU 2 never changed */
    free(out);
    free(err);
    char *log = calls();
    assert_string_equal(log, "nvmlDeviceSetPowerManagementLimit 0 200000\n"
                             "nvmlDeviceSetPowerManagementLimit 1 200000\n"
                             "nvmlDeviceSetPowerManagementLimit 0 300000\n"
                             "nvmlDeviceSetPowerManagementLimit 1 300000\n");
    free(log);
}

/* Issue 9 item 2: a GPU whose current limit cannot be read is refused before anything changes
 * (it used to be changed, and not put back when a later GPU failed). */
static void test_unreadable_limit_refused(void **state)
{
    (void)state;
    char *out, *err;
    /* AMD reads the range and the limit with one call: its first (the range, at open) works. */
    char config[400];
    snprintf(config, sizeof config,
             "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 2}, {\"name\": \"NVIDIA A40\", "
             "\"errors\": {\"nvmlDeviceGetPowerManagementLimit\": {\"code\": \"UNKNOWN\", "
             "\"after\": %d}}}, {\"name\": \"NVIDIA A40\", \"errors\": "
             "{\"nvmlDeviceSetPowerManagementLimit\": {\"code\": \"GPU_IS_LOST\"}}}]}",
             zt_vendor_amd() ? 1 : 0);
    use_fake(config);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "200", NULL), 1);
    assert_contains(err, "GPU 2");
    assert_contains(err, "cannot be read");
    free(out);
    free(err);
    char *log = calls();
    assert_string_equal(log, "");
    free(log);
}

/* Issue 9 item 2: two concurrent sets on the same 64 GPUs take turns (the GPU locks): both
 * succeed and every GPU ends at one of the two values, never a mix. */
static void test_concurrent_sets_serialize(void **state)
{
    (void)state;
    use_fake("{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 64}]}");
    unsetenv("ZEUS_FAKE_NVML_LOG");
    char *path = zt_path(zt_dir, "fake_nvml.state");
    for (int trial = 0; trial < 3; trial++) {
        char *a[] = {ZEUS_CLI_PATH, "power-limit", "set", "150", NULL};
        char *b[] = {ZEUS_CLI_PATH, "power-limit", "set", "250", NULL};
        int pa = zt_spawn(a), pb = zt_spawn(b);
        assert_int_equal(zt_wait(pa, 30), 0);
        assert_int_equal(zt_wait(pb, 30), 0);
        char *text = zt_read(path);
        unsigned at150 = 0, at250 = 0;
        for (const char *p = text; (p = strstr(p, "limit_mw ")); p++) {
            at150 += strncmp(p, "limit_mw 150000 ", 16) == 0;
            at250 += strncmp(p, "limit_mw 250000 ", 16) == 0;
        }
        free(text);
        assert_true(at150 == 64 || at250 == 64);
    }
    free(path);
}

static void test_no_gpu(void **state)
{
    (void)state;
    char *out, *err;
    use_fake(NULL);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", "--gpu-indices", "7", NULL), 3);
    assert_contains(err, "GPU 7 does not exist (4 GPUs visible)");
    free(out);
    free(err);
    setenv("ZEUS_DEVICE", "none", 1);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", NULL), 3);
    assert_contains(err, "no GPU to show the power limit of");
    free(out);
    free(err);
}

static int teardown(void **state)
{
    free(log_path);
    log_path = NULL;
    return zt_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_and_reset, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_permission_and_rollback, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_limit_refused, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_sets_serialize, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_gpu, zt_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
