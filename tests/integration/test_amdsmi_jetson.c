/* The amdsmi backend through the fake libamd_smi (its own behaviour: HIP order, ABI layouts,
 * the energy-counter check, faults, serialisation) and the jetson backends on a fake sysfs tree.
 * What every GPU backend shares runs in the vendor matrix (tests/CMakeLists.txt). */
#include "test_support.h"
#include "zeusd_rig.h"

#include "zeus/monitor.h"
#include "zeus/sampler.h"
#include "zeus/soc.h"
#include "zeus/util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static zeus_devices *open_amd(const char *library, const char *config)
{
    zt_use_fake_nvml(zt_dir, config);
    zt_options.backend = "amdsmi";
    zt_options.amdsmi_library = library;
    zt_options.amdsmi_check_ms = 100;
    zeus_devices *d = NULL;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    return d;
}

static const char *amd_status(zeus_devices *d, zeus_backend_status *st)
{
    for (size_t i = 0; i < zeus_devices_backend_count(d); i++) {
        assert_int_equal(zeus_devices_backend(d, i, st), ZEUS_OK);
        if (strcmp(st->name, "amdsmi") == 0)
            return st->reason;
    }
    fail();
    return NULL;
}

static const char *const four = "{\"gpus\": [{\"name\": \"AMD Instinct MI300X\", \"count\": 4, "
                                "\"min_power_limit_w\": 200, \"max_power_limit_w\": 750}]}";

/* Names, HIP order (the fake lists handles in reverse), PCI address, caps, no persistence. */
static void check_basics(const char *library)
{
    zeus_devices *d = open_amd(library, four);
    assert_string_equal(zeus_devices_gpu_backend(d), "amdsmi");
    assert_int_equal(zeus_gpu_count(d), 4);
    for (unsigned g = 0; g < 4; g++) {
        zeus_gpu_info info;
        assert_int_equal(zeus_gpu_get_info(d, g, &info), ZEUS_OK);
        assert_string_equal(info.name, "AMD Instinct MI300X");
        assert_true(info.has_energy_counter);
        assert_int_equal(info.min_power_limit_mw, 200000);
        assert_int_equal(info.max_power_limit_mw, 750000);
        char pci[ZEUS_GPU_PCI_ADDRESS_LEN], want[32];
        assert_int_equal(zeus_gpu_pci_address(d, g, pci, sizeof pci), ZEUS_OK);
        snprintf(want, sizeof want, "0000:%02x:00.0", g + 1); /* HIP index g is bus g + 1 */
        assert_string_equal(pci, want);
    }
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 2, 500000), ZEUS_OK);
    unsigned limit = 0;
    assert_int_equal(zeus_gpu_power_limit_mw(d, 2, &limit), ZEUS_OK);
    assert_int_equal(limit, 500000);
    bool pm;
    assert_int_equal(zeus_gpu_persistence_mode(d, 0, &pm), ZEUS_ENOTSUP);
    assert_int_equal(zeus_gpu_set_persistence_mode(d, 0, true), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "persistence mode is not supported on AMD GPUs");
    zeus_gpu_power p;
    assert_int_equal(zeus_gpu_read_power(d, 1, &p), ZEUS_OK);
    assert_true(p.instant_valid && p.average_valid);
    assert_int_equal(p.instant_mw % 1000, 0); /* whole watts on the wire */
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 0, ZEUS_CLOCK_GPU, 600, 1800), ZEUS_OK);
    assert_int_equal(zeus_gpu_reset_locked_clocks(d, 0, ZEUS_CLOCK_GPU), ZEUS_OK);
    /* Supported clocks: amdsmi_get_clock_info's [max, min], as the original's AMDGPU (the fake's
     * ranges: graphics 100-2100 MHz, memory 100-1600 MHz); the memory clock is ignored. */
    unsigned mhz[4], n = 4;
    assert_int_equal(zeus_gpu_supported_clocks(d, 1, ZEUS_CLOCK_GPU, 1600, mhz, &n), ZEUS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mhz[0], 2100);
    assert_int_equal(mhz[1], 100);
    n = 4;
    assert_int_equal(zeus_gpu_supported_clocks(d, 1, ZEUS_CLOCK_MEMORY, 0, mhz, &n), ZEUS_OK);
    assert_true(n == 2 && mhz[0] == 1600 && mhz[1] == 100);
    n = 1;
    assert_int_equal(zeus_gpu_supported_clocks(d, 1, ZEUS_CLOCK_GPU, 0, mhz, &n), ZEUS_ERANGE);
    assert_int_equal(n, 2);
    zeus_devices_close(d);
}

static void test_rocm7_and_rocm63(void **state)
{
    (void)state;
    check_basics(ZEUS_FAKE_AMDSMI_PATH);        /* ABI 26, hip_id from enumeration info */
    check_basics(ZEUS_FAKE_AMDSMI_ROCM63_PATH); /* ABI 24 layouts, KFD node order */
}

/* HIP_VISIBLE_DEVICES counts HIP indices. */
static void test_visible_devices(void **state)
{
    (void)state;
    zt_options.visible_devices = "3,1";
    zeus_devices *d = open_amd(ZEUS_FAKE_AMDSMI_PATH, four);
    assert_int_equal(zeus_gpu_count(d), 2);
    char pci[32];
    assert_int_equal(zeus_gpu_pci_address(d, 0, pci, sizeof pci), ZEUS_OK);
    assert_string_equal(pci, "0000:04:00.0");
    zeus_devices_close(d);
    /* The environment: HIP_VISIBLE_DEVICES wins over CUDA_VISIBLE_DEVICES. */
    setenv("HIP_VISIBLE_DEVICES", "2", 1);
    setenv("CUDA_VISIBLE_DEVICES", "0,1", 1);
    setenv("ZEUS_DEVICE", "amdsmi", 1);
    zeus_device_options o;
    zeus_device_options_init(&o);
    assert_int_equal(zeus_device_options_from_env(&o), ZEUS_OK);
    assert_string_equal(o.visible_devices, "2");
    unsetenv("HIP_VISIBLE_DEVICES");
    assert_int_equal(zeus_device_options_from_env(&o), ZEUS_OK);
    assert_string_equal(o.visible_devices, "0,1");
}

/* A frozen or wrong-rate counter is not used: the monitor samples power for that GPU. */
static void test_counter_check_falls_back(void **state)
{
    (void)state;
    setenv("ZEUS_FAKE_AMDSMI_FAULTS", "frozen_counter@1,counter_x100@2", 1);
    zeus_devices *d = open_amd(ZEUS_FAKE_AMDSMI_PATH, four);
    bool want[4] = {true, false, false, true};
    for (unsigned g = 0; g < 4; g++) {
        zeus_gpu_info info;
        assert_int_equal(zeus_gpu_get_info(d, g, &info), ZEUS_OK);
        assert_int_equal(info.has_energy_counter, want[g]);
    }
    zeus_backend_status st;
    assert_contains(amd_status(d, &st), "2 with a trusted energy counter");
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.sampler_period_s = 0.02;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_measurement *r = zeus_measurement_new();
    assert_int_equal(zeus_monitor_begin_window(m, "w", false), ZEUS_OK);
    zeus_sleep_ns(300 * 1000000LL);
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, r), ZEUS_OK);
    for (unsigned g = 0; g < 4; g++) {
        const zeus_gpu_measurement *gm = zeus_measurement_gpu(r, g);
        assert_int_equal(gm->method, want[g] ? ZEUS_METHOD_COUNTER : ZEUS_METHOD_SAMPLED);
        /* idle 75 W (10% of 750 W) over 0.3 s, whichever way it was measured */
        assert_true(fabs(gm->energy_j / zeus_measurement_time_s(r) - 75) < 10);
    }
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

/* Libraries that cannot be used say why; the backend is then just unavailable. */
static void check_unavailable(const char *library, const char *why)
{
    zt_use_fake_nvml(zt_dir, four);
    zt_options.backend = "amdsmi";
    zt_options.amdsmi_library = library;
    zt_options.amdsmi_check_ms = 100;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_null(zeus_devices_gpu_backend(d));
    zeus_backend_status st;
    assert_contains(amd_status(d, &st), why);
    zeus_devices_close(d);
}

static void test_unusable_libraries(void **state)
{
    (void)state;
    check_unavailable(ZEUS_FAKE_AMDSMI_BROKEN_PATH, "lacks amdsmi_get_power_info");
    setenv("ZEUS_FAKE_AMDSMI_VERSION", "24.6.0", 1);
    check_unavailable(ZEUS_FAKE_AMDSMI_ROCM63_PATH, "ROCm 6.2 or older");
    unsetenv("ZEUS_FAKE_AMDSMI_VERSION");
    setenv("ZEUS_FAKE_AMDSMI_FAULTS", "init_no_permission", 1);
    check_unavailable(ZEUS_FAKE_AMDSMI_PATH, "AMDSMI_STATUS_NO_PERM");
    unsetenv("ZEUS_FAKE_AMDSMI_FAULTS");
    check_unavailable("/nonexistent/libamd_smi.so", "could not be loaded");
}

/* amdsmi before 26.2 is not thread-safe: the fake fails overlapping calls; ours never overlap. */
static void *reader(void *arg)
{
    zeus_devices *d = arg;
    for (int i = 0; i < 300; i++) {
        zeus_gpu_power p;
        uint64_t e;
        if (zeus_gpu_read_power(d, (unsigned)i % 4, &p) != ZEUS_OK ||
            zeus_gpu_energy_mj(d, (unsigned)i % 4, &e) != ZEUS_OK)
            return (void *)1;
    }
    return NULL;
}

static void test_serialised_before_26_2(void **state)
{
    (void)state;
    setenv("ZEUS_FAKE_AMDSMI_VERSION", "26.0.0", 1);
    char *log = zt_path(zt_dir, "calls.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1);
    zeus_devices *d = open_amd(ZEUS_FAKE_AMDSMI_PATH, four);
    zeus_backend_status st;
    assert_contains(amd_status(d, &st), "calls serialised");
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, d), 0);
    for (int i = 0; i < 3; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    assert_false(zt_file_contains(log, "concurrent_call"));
    zeus_devices_close(d);
    free(log);
}

/* zeus show-env on the fake AMD library lists its GPUs under the amdsmi backend. */
static void test_show_env_amd(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, four);
    zt_options.backend = "amdsmi";
    zt_options.amdsmi_library = ZEUS_FAKE_AMDSMI_PATH;
    zt_options.amdsmi_check_ms = 100;
    char *out = NULL, *err = NULL;
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "GPUs (4, amdsmi)");
    assert_contains(out, "AMD Instinct MI300X");
    assert_contains(out, "HIP_VISIBLE_DEVICES");
    free(out);
    free(err);
}

/* A node with NVIDIA and AMD GPUs (both fake libraries). libzeus under auto uses the NVIDIA
 * GPUs and says amdsmi is not used (docs/devices.md, "Mixed machines"); zeusd under auto
 * refuses, as the newer daemon; --gpu-backend picks either vendor, and the daemon starts. */
static void mixed_node(void)
{
    zt_use_fake_nvml(zt_dir, NULL);
    zt_options.backend = NULL; /* auto, in the daemon's environment too */
    zt_options.nvml_library = ZEUS_FAKE_NVML_PATH;
    zt_options.amdsmi_library = ZEUS_FAKE_AMDSMI_PATH;
    zt_options.amdsmi_check_ms = 60;
}

static void test_mixed_vendors_auto(void **state)
{
    (void)state;
    mixed_node();
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_string_equal(zeus_devices_gpu_backend(d), "nvml");
    assert_int_equal(zeus_gpu_count(d), 4);
    zeus_backend_status st;
    assert_contains(amd_status(d, &st), "not used: the nvml backend is in use");
    zeus_devices_close(d);
}

static void test_mixed_vendors(void **state)
{
    (void)state;
    mixed_node();
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/mixed.sock", zt_dir);
    char *out = NULL, *err = NULL;
    char *argv[] = {ZEUS_ZEUSD_PATH, "serve", "--socket-path", sock, "--enable", "gpu-read", NULL};
    assert_int_equal(zt_run(argv, &out, &err, 10), 1);
    assert_contains(out, "this node has 4 NVIDIA and 4 AMD GPUs: pick one with --gpu-backend");
    free(out);
    free(err);
    /* zr_start hands the daemon this process's environment: the two fake libraries. */
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    setenv("ZEUS_AMDSMI_LIBRARY", ZEUS_FAKE_AMDSMI_PATH, 1);
    setenv("ZEUS_AMDSMI_CHECK_MS", "60", 1);
    const char *const backends[] = {"nvml", "amdsmi"};
    for (size_t i = 0; i < 2; i++) {
        zr_daemon daemon;
        zr_start(&daemon, "--gpu-backend", backends[i], "--enable", "gpu-read", NULL);
        zr_reply r;
        assert_int_equal(zr_request(daemon.sock, "GET", "/discover", NULL, &r), 200);
        assert_contains(r.body, "\"id\":3");
        zr_free(&r);
        char *log = zr_log(&daemon), want[64];
        snprintf(want, sizeof want, "4 GPU(s) (%s)", backends[i]);
        assert_contains(log, want);
        free(log);
        assert_int_equal(zr_stop(&daemon), 0);
    }
}

/* ---- Jetson ---- */

static void jetson_tree(void)
{
    free(zt_write(zt_dir, "soc/etc/nv_tegra_release", "# R36 (release)\n"));
    free(zt_write(zt_dir, "soc/proc/device-tree/model", "NVIDIA Jetson AGX Orin\n"));
    const char *hw = "soc/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3";
    char path[256];
    /* style A: labels; GPU and CPU as voltage x current, the total as a power file */
    const char *files[][2] = {
        {"in1_label", "VDD_GPU_SOC\n"}, {"in1_input", "5000\n"},     {"curr1_input", "3000\n"},
        {"in2_label", "VDD_CPU_CV\n"},  {"in2_input", "5000\n"},     {"curr2_input", "1000\n"},
        {"in3_label", "VDD_IN\n"},      {"power3_input", "30000\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", hw, files[i][0]);
        free(zt_write(zt_dir, path, files[i][1]));
    }
    char *root = zt_path(zt_dir, "soc");
    zt_options.sysfs_root = zt_keep(root);
    free(root);
}

static void test_jetson_windows(void **state)
{
    (void)state;
    jetson_tree();
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK); /* auto: no NVIDIA or AMD library here */
    assert_string_equal(zeus_devices_gpu_backend(d), "jetson");
    assert_int_equal(zeus_gpu_count(d), 1);
    assert_int_equal(zeus_cpu_count(d), 1);
    zeus_gpu_info info;
    assert_int_equal(zeus_gpu_get_info(d, 0, &info), ZEUS_OK);
    assert_string_equal(info.name, "NVIDIA Jetson AGX Orin");
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 0, 10000), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "power-limit control is not supported");
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.cpu_count = -1;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_soc_energy s0, s1;
    assert_int_equal(zeus_soc_read_energy(d, &s0), ZEUS_OK);
    zeus_measurement *r = zeus_measurement_new();
    assert_int_equal(zeus_monitor_begin_window(m, "w", false), ZEUS_OK);
    zeus_sleep_ns(500 * 1000000LL);
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, r), ZEUS_OK);
    assert_int_equal(zeus_soc_read_energy(d, &s1), ZEUS_OK);
    double t = zeus_measurement_time_s(r);
    /* GPU 5 V x 3 A = 15 W, CPU 5 W, total 30 W (the rectangle rule's error is one period) */
    assert_true(fabs(zeus_measurement_gpu(r, 0)->energy_j / t - 15) < 1.5);
    assert_true(fabs(zeus_measurement_cpu(r, 0)->package_j / t - 5) < 0.5);
    assert_true(s1.total_valid && s1.cpu_valid && s1.gpu_valid);
    assert_true(fabs((s1.total_mj - s0.total_mj) / 1000 / t - 30) < 4);
    /* The counter's update model is the rail thread's 100 ms step, not the 1 ms at which a
     * probe sees it change (every read integrates up to now); the bound's power is the highest
     * the rail read, a Jetson having no power-limit range. */
    const zeus_gpu_measurement *g = zeus_measurement_gpu(r, 0);
    assert_true(g->update_period_s == 0.1);
    assert_true(fabs(g->updates - t / 0.1) < 1e-9);
    assert_true(fabs(g->error_bound_j - 0.1 * 15) < 1e-9);
    assert_false(g->below_resolution);
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    /* A forked child closes its copy without the rail thread (which it does not have). */
    pid_t pid = fork();
    if (pid == 0) {
        zeus_devices_close(d);
        _exit(0);
    }
    assert_int_equal(zt_wait(pid, 10), 0);
    zeus_devices_close(d);
}

/* The power sampler on the rails (what `zeus monitor power` streams): every CPU sample is the
 * CPU rail's 5 W, the first one too (it was inflated: its interval ended at a reading taken
 * after the GPU's, but was timed before it), and the integrated total matches power x time. */
static void test_jetson_sampler(void **state)
{
    (void)state;
    jetson_tree();
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.cpu_count = -1;
    so.period_s = 0.1;
    zeus_sampler *s;
    assert_int_equal(zeus_sampler_start(d, &so, &s), ZEUS_OK);
    assert_int_equal(zeus_sampler_column_count(s), 2);
    assert_string_equal(zeus_sampler_column_name(s, 1), "cpu0");
    zeus_sleep_ns(1000 * 1000000LL);
    double end = zeus_steady_time_s(NULL), start, total[ZEUS_SAMPLER_MAX_COLUMNS];
    assert_int_equal(zeus_sampler_total_energy(s, end, total, &start), ZEUS_OK);
    double times[64], power[64 * 2];
    size_t n = 0;
    assert_int_equal(zeus_sampler_timeline(s, 0, 64, times, power, &n), ZEUS_OK);
    zeus_sampler_stop(s);
    zeus_devices_close(d);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        if (fabs(power[2 * i + 1] - 5) > 0.5)
            fail_msg("CPU sample %zu of %zu: %.4f W, not 5 W", i, n, power[2 * i + 1]);
        assert_true(fabs(power[2 * i] - 15) < 1e-9); /* the GPU rail: 5 V x 3 A */
    }
    double want = 5 * (end - start);
    if (fabs(total[1] - want) > 0.02 * want)
        fail_msg("CPU total %.4f J over %.4f s, not %.4f J", total[1], end - start, want);
}

/* The zeus command on a Jetson: monitor energy reports the rails' update model; power-limit
 * set/reset/get are refused with the backend's reason. */
static void test_jetson_cli(void **state)
{
    (void)state;
    jetson_tree();
    char *out = NULL, *err = NULL;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--", "sleep", "0.3", NULL), 0);
    assert_contains(out, "updates every 100.0 ms, worst-case error 1.500 J");
    free(out);
    free(err);
    /* monitor power --csv, as the auditor ran it: every row's CPU rail at 5 W, the first too */
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--cpu-indices", "0",
                             "--update-period", "0.1", "--duration", "0.5", "--csv", "-", NULL),
                     0);
    assert_contains(out, "time,gpu0_power_w,cpu0_power_w\n");
    int rows = 0;
    for (const char *line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        double t, gpu, cpu;
        assert_int_equal(sscanf(line + 1, "%lf,%lf,%lf", &t, &gpu, &cpu), 3);
        if (fabs(cpu - 5) > 0.5)
            fail_msg("zeus monitor power: CPU row %d: %.4f W, not 5 W", rows, cpu);
        rows++;
    }
    assert_true(rows >= 4);
    free(out);
    free(err);
    const char *const actions[][2] = {{"set", "10"}, {"reset", NULL}, {"get", NULL}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(zt_zeus(&out, &err, "power-limit", actions[i][0], actions[i][1], NULL), 1);
        assert_contains(err, "power-limit control is not supported");
        assert_contains(err, "(nvpmodel)");
        assert_null(strstr(err, "does not report a power-limit range"));
        free(out);
        free(err);
    }
}

static void test_not_a_jetson(void **state)
{
    (void)state;
    zeus_devices *d;
    zt_options.backend = "jetson";
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_null(zeus_devices_gpu_backend(d));
    zeus_soc_energy s;
    assert_int_equal(zeus_soc_read_energy(d, &s), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "Apple Silicon needs macOS");
    zeus_devices_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rocm7_and_rocm63, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_visible_devices, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_counter_check_falls_back, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_unusable_libraries, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_serialised_before_26_2, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_show_env_amd, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_mixed_vendors_auto, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_mixed_vendors, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_jetson_windows, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_jetson_sampler, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_jetson_cli, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_jetson, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
