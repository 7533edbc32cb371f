/* `zeus show-env` and the command's conventions, run as a real process. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

static void test_sim(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "GPUs (4, sim: SIMULATED)");
    assert_contains(out, "sim        gpu  available   4 simulated GPUs (built-in default config; "
                         "settings kept in this process: set ZEUS_SIM_STATE=FILE to share them)");
    assert_contains(out, "framework index -> device index: 0->0 1->1 2->2 3->3");
    free(out);
    free(err);
}

/* With ZEUS_SIM_STATE, a limit set by one process is what the next one sees. */
static void test_sim_settings_shared(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *shared = zt_path(zt_dir, "sim.state");
    setenv("ZEUS_SIM_STATE", shared, 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "175", "--gpu-indices", "2", NULL),
                     0);
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "settings shared through ");
    assert_contains(out, shared);
    assert_contains(
        out,
        "2   2      0000:03:00.0  NVIDIA A40               ampere    counter 100-300       175");
    assert_contains(
        out,
        "3   3      0000:04:00.0  NVIDIA A40               ampere    counter 100-300       300");
    free(out);
    free(err);
    free(shared);
}

static void test_fake_nvml_configs(void **state)
{
    (void)state;
    char *out, *err;
    zt_use_fake_nvml(zt_dir, NULL);
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "GPUs (4, nvml)");
    assert_contains(out, "idx NVML   PCI           name");
    assert_contains(
        out,
        "3   3      0000:04:00.0  NVIDIA A40               ampere    counter 100-300       300");
    free(out);
    free(err);
    /* Under CUDA_VISIBLE_DEVICES, NVML's index and the PCI address say which GPU row 0 is
     * (issue 24 item 6). */
    setenv("CUDA_VISIBLE_DEVICES", "2", 1);
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    unsetenv("CUDA_VISIBLE_DEVICES");
    assert_contains(out, "GPUs (1, nvml)");
    assert_contains(out, "0   2      0000:03:00.0  NVIDIA A40");
    free(out);
    free(err);

    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA V100\", \"architecture\": \"volta\", "
                             "\"min_power_limit_w\": 100, \"max_power_limit_w\": 250, "
                             "\"idle_power_w\": 40, \"energy_update_ms\": 100}]}");
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "GPUs (1, nvml)");
    assert_contains(out, "NVIDIA V100              volta     counter 100-250       250");
    free(out);
    free(err);

    zt_use_fake_nvml(zt_dir,
                     "{\"gpus\": [{\"name\": \"Tesla P100\", \"architecture\": \"pascal\", "
                     "\"min_power_limit_w\": 125, \"max_power_limit_w\": 250, \"count\": 2}]}");
    setenv("CUDA_VISIBLE_DEVICES", "1", 1);
    assert_int_equal(zt_zeus(&out, &err, "show-env", "--json", NULL), 0);
    assert_contains(out, "\"cuda_visible_devices\":\t\"1\"");
    assert_contains(out, "\"visible_devices_variable\":\t\"CUDA_VISIBLE_DEVICES\"");
    assert_contains(out, "\"knob_backend\":\t\"nvml\"");
    assert_contains(out, "\"device_index\":\t1");
    assert_contains(out, "\"architecture\":\t\"pascal\"");
    assert_contains(out, "\"energy_counter\":\tfalse");
    free(out);
    free(err);
    unsetenv("CUDA_VISIBLE_DEVICES");
}

static void test_no_gpu_at_all(void **state)
{
    (void)state;
    setenv("ZEUS_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "GPUs (0):\n  none");
    assert_contains(out, "nvml       gpu  unavailable NVML library /nonexistent/libnvidia-ml.so.1 "
                         "could not be loaded");
    assert_contains(out, "sim        gpu  unavailable not requested (set ZEUS_DEVICE=sim)");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "show-env", "--json", NULL), 0);
    assert_contains(out, "\"gpu_backend\":\tnull");
    assert_contains(out, "\"gpus\":\t[]");
    free(out);
    free(err);
}

static void test_bad_input(void **state)
{
    (void)state;
    char *out, *err;
    zt_use_fake_nvml(zt_dir, NULL);
    setenv("CUDA_VISIBLE_DEVICES", "0,zero", 1);
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 1);
    assert_contains(err, "zeus: error: cannot open devices: CUDA_VISIBLE_DEVICES entry 2 'zero'");
    free(out);
    free(err);
    unsetenv("CUDA_VISIBLE_DEVICES");
    assert_int_equal(zt_zeus(&out, &err, "show-env", "--jsn", NULL), 2);
    assert_contains(err, "unknown option '--jsn'");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "frobnicate", NULL), 2);
    assert_contains(err, "unknown command 'frobnicate'");
    free(out);
    free(err);
    /* A file beside zeus (the PNG module, executable as built) is not a command. */
    assert_int_equal(zt_zeus(&out, &err, "svg2png.so", NULL), 2);
    assert_contains(err, "unknown command 'svg2png.so'");
    free(out);
    free(err);
    setenv("ZEUS_FAKE_NVML_CONFIG", "/nonexistent/fake.json", 1);
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "fake NVML: ZEUS_FAKE_NVML_CONFIG: cannot open /nonexistent/fake.json");
    free(out);
    free(err);
}

static void test_help_and_version(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "--help", NULL), 0);
    assert_contains(out, "usage: zeus");
    assert_contains(out, "show-env");
    assert_contains(out, "Exit codes");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "show-env", "--help", NULL), 0);
    assert_contains(out, "usage: zeus show-env [--json]");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "--version", NULL), 0);
    assert_contains(out, "zeus 0.");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, NULL), 2);
    assert_contains(err, "usage: zeus");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sim, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_sim_settings_shared, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_fake_nvml_configs, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_no_gpu_at_all, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_help_and_version, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
