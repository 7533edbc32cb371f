/* The real nvml backend loaded against the project's fake libnvidia-ml.so.1. */
#include "test_support.h"

#include "zeus/zeus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static zeus_devices *open_ok(void)
{
    zeus_devices *d = NULL;
    int rc = zt_open(&d);
    if (rc != ZEUS_OK)
        fprintf(stderr, "open failed: %s\n", zeus_last_error());
    assert_int_equal(rc, ZEUS_OK);
    return d;
}

static const char *gpu_backend_reason(zeus_devices *d, const char *name)
{
    static zeus_backend_status s;
    for (size_t i = 0; i < zeus_devices_backend_count(d); i++) {
        zeus_devices_backend(d, i, &s);
        if (strcmp(s.name, name) == 0)
            return s.reason;
    }
    return "";
}

static void test_default_four_a40(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    zeus_devices *d = open_ok();
    assert_string_equal(zeus_devices_gpu_backend(d), "nvml");
    assert_int_equal(zeus_gpu_count(d), 4);
    zeus_gpu_info g;
    assert_int_equal(zeus_gpu_get_info(d, 3, &g), ZEUS_OK);
    assert_string_equal(g.name, "NVIDIA A40");
    assert_int_equal(g.arch, ZEUS_ARCH_AMPERE);
    assert_true(g.has_energy_counter);
    assert_int_equal(g.min_power_limit_mw, 100000);
    assert_int_equal(g.max_power_limit_mw, 300000);
    assert_int_equal(zeus_gpu_check_homogeneous(d, NULL, 0), ZEUS_OK);
    uint64_t e0, e1;
    assert_int_equal(zeus_gpu_energy_mj(d, 0, &e0), ZEUS_OK);
    usleep(120000);
    assert_int_equal(zeus_gpu_energy_mj(d, 0, &e1), ZEUS_OK);
    /* Idle at 30 W for >= 100 ms (counter period 20 ms): at least 2.4 J more. */
    assert_true(e1 - e0 >= 2400 && e1 - e0 <= 30 * 1000); /* sleeps may overrun when busy */
    zeus_gpu_power p;
    assert_int_equal(zeus_gpu_read_power(d, 0, &p), ZEUS_OK);
    assert_true(p.instant_valid && p.average_valid);
    assert_int_equal(p.instant_mw, 30000);
    assert_int_equal(zeus_gpu_get_info(d, 4, &g), ZEUS_ENODEV);
    assert_contains(zeus_last_error(), "GPU 4 does not exist (4 GPUs visible: 0..3)");
    zeus_devices_close(d);
}

static const char *v100 =
    "{\"gpus\": [{\"name\": \"NVIDIA V100\", \"architecture\": \"volta\", \"min_power_limit_w\": "
    "100, \"max_power_limit_w\": 250, \"idle_power_w\": 40, \"energy_update_ms\": 100}]}";

static void test_one_v100(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, v100);
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 1);
    zeus_gpu_info g;
    zeus_gpu_get_info(d, 0, &g);
    assert_string_equal(g.name, "NVIDIA V100");
    assert_int_equal(g.arch, ZEUS_ARCH_VOLTA);
    assert_int_equal(g.max_power_limit_mw, 250000);
    unsigned mw;
    assert_int_equal(zeus_gpu_power_mw(d, 0, &mw), ZEUS_OK);
    assert_int_equal(mw, 40000);
    /* Out of range limits are refused before NVML is asked. */
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 0, 260000), ZEUS_ERANGE);
    assert_contains(zeus_last_error(), "260 W is outside GPU 0's range 100-250 W");
    zeus_devices_close(d);
}

static void test_pre_volta_has_no_counter(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"Tesla P100\", \"architecture\": \"pascal\", "
                             "\"min_power_limit_w\": 125, \"max_power_limit_w\": 250}]}");
    zeus_devices *d = open_ok();
    zeus_gpu_info g;
    zeus_gpu_get_info(d, 0, &g);
    assert_false(g.has_energy_counter);
    uint64_t mj;
    assert_int_equal(zeus_gpu_energy_mj(d, 0, &mj), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "Not Supported [NVML_ERROR_NOT_SUPPORTED]");
    zeus_gpu_power p;
    assert_int_equal(zeus_gpu_read_power(d, 0, &p), ZEUS_OK);
    assert_false(p.instant_valid); /* the field API is Volta+ in the fake */
    assert_int_equal(p.usage_mw, 25000);
    zeus_devices_close(d);
}

static void test_cuda_visible_devices(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    zt_options.visible_devices = "2,3";
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 2);
    zeus_gpu_info g;
    zeus_gpu_get_info(d, 1, &g);
    assert_int_equal(g.index, 1);
    assert_int_equal(g.device_index, 3);
    assert_string_equal(zeus_devices_visible_devices(d), "2,3");
    assert_string_equal(zeus_devices_visible_devices_variable(d), "CUDA_VISIBLE_DEVICES");
    zeus_devices_close(d);

    /* physical_indices: the selection is ignored, framework index = NVML index. */
    zt_options.physical_indices = true;
    d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 4);
    zeus_gpu_get_info(d, 3, &g);
    assert_int_equal(g.device_index, 3);
    assert_null(zeus_devices_visible_devices(d));
    zeus_devices_close(d);
    zt_options.physical_indices = false;

    zt_options.visible_devices = "GPU-5eed0000-0000-4000-8000-000000000001";
    d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 1);
    zeus_gpu_get_info(d, 0, &g);
    assert_int_equal(g.device_index, 1);
    zeus_devices_close(d);

    zt_options.visible_devices = "";
    d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 0);
    zeus_devices_close(d);

    zt_options.visible_devices = "0,gpu1";
    assert_int_equal(zt_open(&d), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "'gpu1'");
    assert_null(d);
}

static void test_mig_uuid(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A100\"}, {\"name\": \"NVIDIA A100\", "
                             "\"mig\": [\"MIG-1111aaaa-2222-3333-4444-555566667777\"]}]}");
    zt_options.visible_devices = "MIG-1111aaaa-2222-3333-4444-555566667777";
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 1);
    zeus_gpu_info g;
    zeus_gpu_get_info(d, 0, &g);
    assert_int_equal(g.device_index, 1);
    zeus_devices_close(d);
}

static void test_injected_errors(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"errors\": {"
                             "\"nvmlDeviceSetPowerManagementLimit\": {\"code\": \"NO_PERMISSION\"},"
                             "\"nvmlDeviceGetTotalEnergyConsumption\": {\"code\": \"GPU_IS_LOST\", "
                             "\"after\": 2}}}, {}]}");
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 0, 200000), ZEUS_EPERM);
    assert_contains(zeus_last_error(), "Insufficient Permissions [NVML_ERROR_NO_PERMISSION]");
    assert_contains(zeus_last_error(), "SYS_ADMIN");
    uint64_t mj;
    assert_int_equal(zeus_gpu_energy_mj(d, 0, &mj), ZEUS_OK);
    assert_int_equal(zeus_gpu_energy_mj(d, 0, &mj), ZEUS_OK);
    assert_int_equal(zeus_gpu_energy_mj(d, 0, &mj), ZEUS_ELOST);
    assert_contains(zeus_last_error(), "GPU is lost [NVML_ERROR_GPU_IS_LOST]");
    /* The other GPU goes on. */
    assert_int_equal(zeus_gpu_energy_mj(d, 1, &mj), ZEUS_OK);
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 1, 200000), ZEUS_OK);
    zeus_devices_close(d);
}

/* Temperature follows the 1 s average power in the shared model: 25 C + 0.2 C per watt. */
static void test_temperature(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"idle_power_w\": 42.5}, {\"idle_power_w\": 60, "
                             "\"errors\": {\"nvmlDeviceGetTemperature\": {\"code\": "
                             "\"GPU_IS_LOST\", \"after\": 1}}}]}");
    zeus_devices *d = open_ok();
    unsigned c = 0;
    assert_int_equal(zeus_gpu_temperature_c(d, 0, &c), ZEUS_OK);
    assert_int_equal(c, 34); /* 25 + 8.5, rounded */
    assert_int_equal(zeus_gpu_temperature_c(d, 1, &c), ZEUS_OK);
    assert_int_equal(c, 37);
    assert_int_equal(zeus_gpu_temperature_c(d, 1, &c), ZEUS_ELOST);
    assert_contains(zeus_last_error(), "nvmlDeviceGetTemperature");
    assert_int_equal(zeus_gpu_temperature_c(d, 2, &c), ZEUS_ENODEV);
    zeus_devices_close(d);

    zt_options.backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"idle_power_w\": 100}]}";
    d = open_ok();
    assert_int_equal(zeus_gpu_temperature_c(d, 0, &c), ZEUS_OK);
    assert_int_equal(c, 45);
    zeus_devices_close(d);
}

static void test_limits_shared_between_processes(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    char *log = zt_path(zt_dir, "calls.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1);
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 1, 175000), ZEUS_OK);
    zeus_devices_close(d);
    /* Another process sees it. */
    char *out = NULL, *err = NULL;
    assert_int_equal(zt_zeus(&out, &err, "show-env", "--json", NULL), 0);
    assert_contains(out, "\"power_limit_w\":\t175");
    assert_contains(out, "\"pci_address\":\t\"0000:02:00.0\"");
    free(out);
    free(err);
    char *calls = zt_read(log);
    assert_string_equal(calls, "nvmlDeviceSetPowerManagementLimit 1 175000\n");
    free(calls);
    free(log);
    unsetenv("ZEUS_FAKE_NVML_LOG");
}

static void test_missing_library(void **state)
{
    (void)state;
    zt_options.backend = "nvml";
    zt_options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 0);
    assert_null(zeus_devices_gpu_backend(d));
    assert_contains(gpu_backend_reason(d, "nvml"),
                    "NVML library /nonexistent/libnvidia-ml.so.1 could not be loaded");
    zeus_gpu_info g;
    assert_int_equal(zeus_gpu_get_info(d, 0, &g), ZEUS_ENODEV);
    assert_contains(zeus_last_error(), "no GPU is available");
    zeus_devices_close(d);
}

static void test_library_missing_symbol(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    zt_options.nvml_library = ZEUS_FAKE_NVML_BROKEN_PATH;
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 0);
    assert_contains(gpu_backend_reason(d, "nvml"), "lacks nvmlDeviceGetPowerUsage");
    zeus_devices_close(d);
}

static void test_legacy_symbols_fall_back(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, v100);
    zt_options.nvml_library = ZEUS_FAKE_NVML_LEGACY_PATH;
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 1); /* nvmlInit, nvmlDeviceGetCount without _v2 */
    zeus_devices_close(d);
}

/* Locked clocks and the PCI address through the real loader: the fake keeps locked ranges in its
 * state file (what a test can read back; NVML itself cannot). */
static void test_locked_clocks_and_pci(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    char *path = zt_path(zt_dir, "fake_nvml.state");
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 1, ZEUS_CLOCK_GPU, 900, 1500), ZEUS_OK);
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 1, ZEUS_CLOCK_MEMORY, 810, 810), ZEUS_OK);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0 gpu_clocks_mhz 900 1500 "
                               "mem_clocks_mhz 810 810\n");
    /* min above max is refused before the driver is asked; an unknown domain too. */
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 1, ZEUS_CLOCK_GPU, 1500, 900), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "the minimum 1500 MHz is above the maximum 900 MHz");
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 1, (zeus_clock_domain)7, 1, 2), ZEUS_EINVAL);
    assert_int_equal(zeus_gpu_reset_locked_clocks(d, 1, ZEUS_CLOCK_GPU), ZEUS_OK);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0 mem_clocks_mhz 810 810\n");
    assert_int_equal(zeus_gpu_reset_locked_clocks(d, 1, ZEUS_CLOCK_MEMORY), ZEUS_OK);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0\n");
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 4, ZEUS_CLOCK_GPU, 1, 2), ZEUS_ENODEV);
    char pci[ZEUS_GPU_PCI_ADDRESS_LEN];
    assert_int_equal(zeus_gpu_pci_address(d, 2, pci, sizeof pci), ZEUS_OK);
    assert_string_equal(pci, "0000:03:00.0");
    zeus_devices_close(d);

    /* Memory clocks need Ampere: a V100 refuses them as NVML does. */
    zt_use_fake_nvml(zt_dir, v100);
    d = open_ok();
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 0, ZEUS_CLOCK_GPU, 600, 1200), ZEUS_OK);
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 0, ZEUS_CLOCK_MEMORY, 810, 810), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "nvmlDeviceSetMemoryLockedClocks(NVML GPU 0)");
    assert_contains(zeus_last_error(), "NVML_ERROR_NOT_SUPPORTED");
    zeus_devices_close(d);

    /* An old driver without the calls: ZEUS_ENOTSUP saying so, and no PCI address. */
    zt_use_fake_nvml(zt_dir, v100);
    zt_options.nvml_library = ZEUS_FAKE_NVML_LEGACY_PATH;
    d = open_ok();
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 0, ZEUS_CLOCK_GPU, 600, 1200), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "lacks nvmlDeviceSetGpuLockedClocks");
    assert_contains(zeus_last_error(), "driver 440 or newer");
    assert_int_equal(zeus_gpu_reset_locked_clocks(d, 0, ZEUS_CLOCK_MEMORY), ZEUS_ENOTSUP);
    assert_int_equal(zeus_gpu_pci_address(d, 0, pci, sizeof pci), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "lacks nvmlDeviceGetPciInfo");
    zeus_devices_close(d);
    free(path);
}

static void test_init_failure_and_bad_config(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [], \"init_error\": \"DRIVER_NOT_LOADED\"}");
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 0);
    assert_contains(gpu_backend_reason(d, "nvml"),
                    "nvmlInit: Driver Not Loaded [NVML_ERROR_DRIVER_NOT_LOADED]");
    zeus_devices_close(d);

    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"nme\": \"x\"}]}");
    d = open_ok();
    assert_contains(gpu_backend_reason(d, "nvml"), "unknown key 'nme' in gpus[0]");
    zeus_devices_close(d);
}

static void test_heterogeneous(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A40\"}, {\"name\": \"NVIDIA V100\", "
                             "\"architecture\": \"volta\"}, {\"name\": \"NVIDIA A40\"}]}");
    zeus_devices *d = open_ok();
    assert_int_equal(zeus_gpu_check_homogeneous(d, NULL, 0), ZEUS_EHETERO);
    assert_contains(zeus_last_error(),
                    "Heterogeneous GPUs found: ['NVIDIA A40', 'NVIDIA V100', 'NVIDIA A40']");
    unsigned same[] = {0, 2};
    assert_int_equal(zeus_gpu_check_homogeneous(d, same, 2), ZEUS_OK);
    zeus_devices_close(d);
}

static void test_device_choice(void **state)
{
    (void)state;
    zeus_devices *d;
    zt_options.backend = "cuda";
    assert_int_equal(zt_open(&d), ZEUS_EINVAL);
    assert_contains(
        zeus_last_error(),
        "device backend 'cuda' is not one of auto, nvml, amdsmi, jetson, sim, zeusd, none");
    zt_options.backend = "sim";
    char *cfg = zt_write(zt_dir, "sim.json", "{\"gpus\": [{\"max_power_limit_w\": \"high\"}]}");
    zt_options.sim_config = cfg;
    assert_int_equal(zt_open(&d), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "gpus[0].max_power_limit_w must be a number");
    zt_options.sim_config = "/nonexistent.json";
    assert_int_equal(zt_open(&d), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "sim config: cannot open /nonexistent.json");
    /* The JSON itself instead of a file's name. */
    zt_options.sim_config = " {\"gpus\": [{\"name\": \"Inline GPU\", \"count\": 2}]}";
    d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 2);
    zeus_gpu_info inline_gpu;
    zeus_gpu_get_info(d, 1, &inline_gpu);
    assert_string_equal(inline_gpu.name, "Inline GPU");
    zeus_devices_close(d);
    zt_options.sim_config = "{\"gpus\": [";
    assert_int_equal(zt_open(&d), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "sim config:1: not valid JSON");
    zt_options.sim_config = NULL;
    d = open_ok();
    assert_string_equal(zeus_devices_gpu_backend(d), "sim");
    zeus_gpu_info g;
    zeus_gpu_get_info(d, 0, &g);
    assert_true(g.simulated);
    zeus_devices_close(d);
    zt_options.backend = "none";
    d = open_ok();
    assert_int_equal(zeus_gpu_count(d), 0);
    zeus_devices_close(d);
    free(cfg);
}

static void test_sim_steps_through_public_api(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    char *cfg = zt_write(zt_dir, "sim.json",
                         "{\"gpus\": [{\"step_time_ms\": 10, \"energy_update_ms\": 5}]}");
    zt_options.sim_config = cfg;
    zeus_devices *d = open_ok();
    double before, after;
    assert_int_equal(zeus_sim_exact_energy_uj(d, 0, &before), ZEUS_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(zeus_sim_launch_step(d, 0, NULL), ZEUS_OK);
    assert_int_equal(zeus_sim_synchronize(d, 0), ZEUS_OK);
    assert_int_equal(zeus_sim_exact_energy_uj(d, 0, &after), ZEUS_OK);
    /* 5 steps x 10 ms at 279 W (0.93 x 300) = 13.95 J, plus a little idle. */
    double j = (after - before) / 1e6;
    assert_true(j > 13.9 && j < 15.0);
    zeus_devices_close(d);
    /* Simulated steps on a real backend are refused. */
    zt_use_fake_nvml(zt_dir, NULL);
    d = open_ok();
    assert_int_equal(zeus_sim_launch_step(d, 0, NULL), ZEUS_ENOTSUP);
    zeus_devices_close(d);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_four_a40, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_one_v100, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_pre_volta_has_no_counter, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_cuda_visible_devices, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_mig_uuid, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_injected_errors, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_temperature, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_limits_shared_between_processes, zt_setup,
                                        zt_teardown),
        cmocka_unit_test_setup_teardown(test_missing_library, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_library_missing_symbol, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_symbols_fall_back, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_locked_clocks_and_pci, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_init_failure_and_bad_config, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_heterogeneous, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_device_choice, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_sim_steps_through_public_api, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
