/* Device options as an API: several device sets with different options in one process, the
 * environment untouched; the knob backend; allowed backends; the options' growth rule; and the
 * environment fallback that zeus_devices_open() uses. */
#include "test_support.h"

#include "zeus/zeus.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const device_variables[] = {"ZEUS_DEVICE",     "ZEUS_NVML_LIBRARY",
                                               "ZEUS_SIM_CONFIG", "ZEUS_SIM_STATE",
                                               "ZEUS_SYSFS_ROOT", "CUDA_VISIBLE_DEVICES"};

static void assert_environment_clean(void)
{
    for (size_t i = 0; i < sizeof device_variables / sizeof device_variables[0]; i++)
        if (getenv(device_variables[i])) {
            fprintf(stderr, "%s is set\n", device_variables[i]);
            fail();
        }
}

/* A powercap tree with `packages` package zones under dir/name. */
static char *rapl_tree(const char *name, unsigned packages)
{
    char *root = zt_path(zt_dir, name);
    mkdir(root, 0777);
    for (unsigned p = 0; p < packages; p++) {
        char rel[128], text[32];
        snprintf(rel, sizeof rel, "sys/class/powercap/intel-rapl:%u/name", p);
        snprintf(text, sizeof text, "package-%u\n", p);
        free(zt_write(root, rel, text));
        snprintf(rel, sizeof rel, "sys/class/powercap/intel-rapl:%u/max_energy_range_uj", p);
        free(zt_write(root, rel, "1000000\n"));
        snprintf(rel, sizeof rel, "sys/class/powercap/intel-rapl:%u/energy_uj", p);
        free(zt_write(root, rel, "100\n"));
    }
    return root;
}

static const char *status_reason(zeus_devices *d, const char *name)
{
    static zeus_backend_status s;
    for (size_t i = 0; i < zeus_devices_backend_count(d); i++) {
        zeus_devices_backend(d, i, &s);
        if (strcmp(s.name, name) == 0)
            return s.reason;
    }
    return "";
}

static void test_two_sets_in_one_process(void **state)
{
    (void)state;
    assert_environment_clean();
    char *one_cpu = rapl_tree("sysfs1", 1), *two_cpus = rapl_tree("sysfs2", 2);
    zeus_device_options a, b;
    zeus_device_options_init(&a);
    a.backend = "sim";
    a.sim_config = "{\"gpus\": [{\"name\": \"Sim Two\", \"count\": 2}]}";
    a.sysfs_root = one_cpu;
    zeus_device_options_init(&b);
    b.backend = "sim";
    b.sim_config = "{\"gpus\": [{\"name\": \"Sim Four\", \"architecture\": \"volta\", "
                   "\"count\": 4}]}";
    b.visible_devices = "3,1";
    b.sysfs_root = two_cpus;
    zeus_devices *da, *db;
    assert_int_equal(zeus_devices_open_with(&a, &da), ZEUS_OK);
    assert_int_equal(zeus_devices_open_with(&b, &db), ZEUS_OK);

    /* Both open at once, each as its options say. */
    assert_int_equal(zeus_gpu_count(da), 2);
    assert_int_equal(zeus_gpu_count(db), 2);
    assert_int_equal(zeus_cpu_count(da), 1);
    assert_int_equal(zeus_cpu_count(db), 2);
    zeus_gpu_info ga, gb;
    assert_int_equal(zeus_gpu_get_info(da, 1, &ga), ZEUS_OK);
    assert_int_equal(zeus_gpu_get_info(db, 0, &gb), ZEUS_OK);
    assert_string_equal(ga.name, "Sim Two");
    assert_int_equal(ga.device_index, 1);
    assert_int_equal(ga.arch, ZEUS_ARCH_AMPERE);
    assert_string_equal(gb.name, "Sim Four");
    assert_int_equal(gb.device_index, 3);
    assert_int_equal(gb.arch, ZEUS_ARCH_VOLTA);
    assert_null(zeus_devices_visible_devices(da));
    assert_string_equal(zeus_devices_visible_devices(db), "3,1");
    /* Their simulators are separate: a limit set in one is not seen in the other. */
    assert_int_equal(zeus_gpu_set_power_limit_mw(da, 0, 150000), ZEUS_OK);
    unsigned la, lb;
    assert_int_equal(zeus_gpu_power_limit_mw(da, 0, &la), ZEUS_OK);
    assert_int_equal(zeus_gpu_power_limit_mw(db, 0, &lb), ZEUS_OK);
    assert_int_equal(la, 150000);
    assert_int_equal(lb, 300000);
    /* The options' strings were copied: changing them now changes nothing. */
    b.visible_devices = "0";
    assert_string_equal(zeus_devices_visible_devices(db), "3,1");
    zeus_devices_close(da);
    zeus_devices_close(db);
    assert_environment_clean();
    zt_rmtree(one_cpu);
    zt_rmtree(two_cpus);
    free(one_cpu);
    free(two_cpus);
}

/* Reads through the fake NVML, changes through the simulator: the mechanism the daemon client
 * (NVML reads, socket writes) uses. */
static void test_knob_backend(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"count\": 2}]}");
    char *log = zt_path(zt_dir, "nvml-calls.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1); /* the fake's own setting: what NVML was asked */
    char *sim_state = zt_path(zt_dir, "sim.state");
    zt_options.knob_backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"count\": 2}]}";
    zt_options.sim_state = sim_state;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_string_equal(zeus_devices_gpu_backend(d), "nvml");
    assert_string_equal(zeus_devices_knob_backend(d), "sim");
    assert_contains(status_reason(d, "sim"), "carries out changes for the nvml backend");
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 1, 150000), ZEUS_OK);
    assert_int_equal(zeus_gpu_set_persistence_mode(d, 1, true), ZEUS_OK);
    /* The change went to the knob backend (its shared state file), not to NVML. */
    char *saved = zt_read(sim_state);
    assert_contains(saved, "gpu 1 limit_mw 150000 persistence 1");
    assert_null(zt_read(log));
    unsigned limit;
    assert_int_equal(zeus_gpu_power_limit_mw(d, 1, &limit), ZEUS_OK);
    assert_int_equal(limit, 300000); /* reads still come from NVML */
    /* Range checks still use the reading backend's limits. */
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 1, 50000), ZEUS_ERANGE);
    char *json = NULL;
    assert_int_equal(zeus_devices_to_json(d, &json), ZEUS_OK);
    assert_contains(json, "\"gpu_backend\":\t\"nvml\"");
    assert_contains(json, "\"knob_backend\":\t\"sim\"");
    assert_contains(json, "\"visible_devices_variable\":\t\"CUDA_VISIBLE_DEVICES\"");
    zeus_free(json);
    /* Simulator-only controls belong to the GPU backend, which is NVML here. */
    assert_int_equal(zeus_sim_launch_step(d, 0, NULL), ZEUS_ENOTSUP);
    zeus_devices_close(d);
    free(saved);

    /* A knob backend must address every GPU the reading backend has. */
    zt_options.sim_config = "{\"gpus\": [{\"count\": 1}]}";
    assert_int_equal(zt_open(&d), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "knob backend sim has 1 GPU but the nvml backend reads 2");
    zt_options.knob_backend = "rapl";
    assert_int_equal(zt_open(&d), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "knob backend 'rapl' is not a GPU backend");
    unsetenv("ZEUS_FAKE_NVML_LOG");
    free(log);
    free(sim_state);
}

static void test_allowed_backends(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    zt_options.backend = NULL; /* auto: would pick nvml */
    zt_options.allowed_backends = "sim";
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_gpu_count(d), 0);
    assert_contains(status_reason(d, "nvml"), "not allowed (allowed_backends 'sim')");
    assert_contains(status_reason(d, "rapl"), "not allowed");
    zeus_devices_close(d);
    zt_options.allowed_backends = "nvml,rapl";
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_gpu_count(d), 4);
    zeus_devices_close(d);
    zt_options.allowed_backends = "nvml,cuda";
    assert_int_equal(zt_open(&d), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "allowed_backends: 'cuda' is not a backend");
}

/* docs/abi.md: older callers pass a shorter struct, newer ones a longer one. */
static void test_options_growth(void **state)
{
    (void)state;
    struct {
        zeus_device_options o;
        char future[16];
    } newer;
    memset(&newer, 0, sizeof newer);
    zeus_device_options_init_sized(&newer.o, sizeof newer);
    assert_int_equal(newer.o.struct_size, sizeof newer);
    newer.o.backend = "sim";
    zeus_devices *d;
    assert_int_equal(zeus_devices_open_with(&newer.o, &d), ZEUS_OK); /* unknown tail all zero */
    assert_int_equal(zeus_gpu_count(d), 4);
    zeus_devices_close(d);
    newer.future[3] = 1;
    assert_int_equal(zeus_devices_open_with(&newer.o, &d), ZEUS_ENOTSUP);
    assert_contains(zeus_last_error(), "set fields this library does not have");

    /* An older caller's struct ends before allowed_backends: the field is not read. */
    zeus_device_options older;
    memset(&older, 0xff, sizeof older);
    zeus_device_options_init_sized(&older, offsetof(zeus_device_options, allowed_backends));
    assert_true(older.allowed_backends == (const char *)(~(uintptr_t)0)); /* not written */
    older.backend = "sim";
    assert_int_equal(zeus_devices_open_with(&older, &d), ZEUS_OK);
    assert_int_equal(zeus_gpu_count(d), 4);
    zeus_devices_close(d);

    zeus_device_options never_initialized = {0};
    assert_int_equal(zeus_devices_open_with(&never_initialized, &d), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "zeus_device_options_init");
    assert_int_equal(zeus_devices_open_with(NULL, &d), ZEUS_OK); /* defaults */
    zeus_devices_close(d);
}

/* The environment fallback itself (the one test that sets device variables on purpose). */
static void test_options_from_env(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    setenv("ZEUS_SIM_CONFIG", "{\"gpus\": [{\"count\": 3}]}", 1);
    setenv("ZEUS_SIM_STATE", "/tmp/x.state", 1);
    setenv("ZEUS_NVML_LIBRARY", "/opt/libnvidia-ml.so.1", 1);
    setenv("ZEUS_SYSFS_ROOT", zt_dir, 1);
    setenv("CUDA_VISIBLE_DEVICES", "2,0", 1);
    zeus_device_options o;
    zeus_device_options_init(&o);
    o.allowed_backends = "sim"; /* fields without a variable are left as they are */
    assert_int_equal(zeus_device_options_from_env(&o), ZEUS_OK);
    assert_string_equal(o.backend, "sim");
    assert_string_equal(o.sim_config, "{\"gpus\": [{\"count\": 3}]}");
    assert_string_equal(o.sim_state, "/tmp/x.state");
    assert_string_equal(o.nvml_library, "/opt/libnvidia-ml.so.1");
    assert_string_equal(o.sysfs_root, zt_dir);
    assert_string_equal(o.visible_devices, "2,0"); /* sim's variable is CUDA_VISIBLE_DEVICES */
    assert_string_equal(o.allowed_backends, "sim");
    unsetenv("ZEUS_SIM_STATE");
    zeus_devices *d;
    assert_int_equal(zeus_devices_open(&d), ZEUS_OK);
    assert_int_equal(zeus_gpu_count(d), 2);
    zeus_gpu_info g;
    zeus_gpu_get_info(d, 0, &g);
    assert_int_equal(g.device_index, 2);
    zeus_devices_close(d);
    setenv("ZEUS_DEVICE", "cuda", 1);
    assert_int_equal(zeus_devices_open(&d), ZEUS_EINVAL);
    assert_contains(
        zeus_last_error(),
        "ZEUS_DEVICE='cuda' is not one of auto, nvml, amdsmi, jetson, sim, zeusd, none");
    zt_clean_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_sets_in_one_process, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_knob_backend, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_allowed_backends, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_options_growth, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_options_from_env, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
