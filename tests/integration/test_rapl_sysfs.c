/* The real rapl backend against a fake powercap tree (the sysfs_root option). */
#include "test_support.h"

#include "zeus/util.h"
#include "zeus/zeus.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PKG "sys/class/powercap/intel-rapl:0"
#define DRAM "sys/class/powercap/intel-rapl:0/intel-rapl:0:0"

static char *root;

static void write_zone(const char *zone, const char *name, const char *energy, const char *range)
{
    char path[512];
    snprintf(path, sizeof path, "%s/name", zone);
    free(zt_write(root, path, name));
    snprintf(path, sizeof path, "%s/energy_uj", zone);
    free(zt_write(root, path, energy));
    snprintf(path, sizeof path, "%s/max_energy_range_uj", zone);
    free(zt_write(root, path, range));
}

/* Updates a counter in place (the backend keeps the file open and preads it). */
static void set_energy(const char *zone, unsigned long long uj)
{
    char rel[512], text[32];
    snprintf(rel, sizeof rel, "%s/energy_uj", zone);
    char *path = zt_path(root, rel);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    snprintf(text, sizeof text, "%llu\n", uj);
    fputs(text, f);
    fclose(f);
    assert_int_equal(truncate(path, (off_t)strlen(text)), 0);
    free(path);
}

static int setup(void **state)
{
    (void)state;
    zt_clean_env();
    /* Under /tmp rather than the build tree: the permission test reads it as an unprivileged
     * user, who must be able to reach it wherever the project is checked out. */
    root = strdup("/tmp/zeus-rapl-XXXXXX");
    if (!mkdtemp(root) || chmod(root, 0755) != 0)
        return -1;
    zeus_device_options_init(&zt_options);
    zt_options.sysfs_root = root;
    zt_options.backend = "none";
    /* Package 0 with DRAM, package 1 with only a core subzone, and a psys zone to skip. */
    write_zone(PKG, "package-0\n", "1000\n", "1000000\n");
    write_zone(DRAM, "dram\n", "500\n", "65535\n");
    write_zone("sys/class/powercap/intel-rapl:1", "package-1\n", "0\n", "1000000\n");
    write_zone("sys/class/powercap/intel-rapl:1/intel-rapl:1:0", "core\n", "0\n", "1000000\n");
    write_zone("sys/class/powercap/intel-rapl:2", "psys\n", "0\n", "1000000\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zt_rmtree(root);
    free(root);
    return 0;
}

static void test_packages_and_zones(void **state)
{
    (void)state;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_cpu_count(d), 2);
    zeus_cpu_info c;
    assert_int_equal(zeus_cpu_get_info(d, 0, &c), ZEUS_OK);
    assert_string_equal(c.name, "package-0");
    assert_true(c.has_dram);
    assert_int_equal(c.package_range_uj, 1000000);
    assert_int_equal(zeus_cpu_get_info(d, 1, &c), ZEUS_OK);
    assert_string_equal(c.name, "package-1");
    assert_false(c.has_dram);
    assert_int_equal(zeus_cpu_get_info(d, 2, &c), ZEUS_ENODEV);
    unsigned id;
    assert_int_equal(zeus_cpu_package_id(d, 1, &id), ZEUS_OK);
    assert_int_equal(id, 1);
    assert_int_equal(zeus_cpu_package_id(d, 2, &id), ZEUS_ENODEV);
    zeus_devices_close(d);
    /* Package numbers with a gap (intel-rapl:0 and intel-rapl:3): ids 0 and 3, in order. */
    write_zone("sys/class/powercap/intel-rapl:3", "package-3\n", "0\n", "1000000\n");
    char *gone = zt_path(root, "sys/class/powercap/intel-rapl:1");
    zt_rmtree(gone);
    free(gone);
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_cpu_count(d), 2);
    assert_int_equal(zeus_cpu_package_id(d, 0, &id), ZEUS_OK);
    assert_int_equal(id, 0);
    assert_int_equal(zeus_cpu_package_id(d, 1, &id), ZEUS_OK);
    assert_int_equal(id, 3);
    assert_int_equal(zeus_cpu_get_info(d, 1, &c), ZEUS_OK);
    assert_string_equal(c.name, "package-3");
    char *json = NULL;
    assert_int_equal(zeus_devices_to_json(d, &json), ZEUS_OK);
    assert_contains(json, "\"package_id\":\t3");
    zeus_free(json);
    zeus_devices_close(d);
}

static void test_three_wraps(void **state)
{
    (void)state;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    zeus_cpu_energy e;
    /* Package: range 0..1000000, starting at 1000. Walk forward 400000 uJ at a time. */
    unsigned long long raw = 1000, expected = 0, dram_raw = 500, dram_expected = 0;
    for (int i = 0; i < 10; i++) { /* 4 MJ in steps: wraps at steps 3, 5, 8, 10 */
        raw = (raw + 400000) % 1000001;
        expected += 400000;
        dram_raw = (dram_raw + 30000) % 65536;
        dram_expected += 30000;
        set_energy(PKG, raw);
        set_energy(DRAM, dram_raw);
        assert_int_equal(zeus_cpu_read_energy(d, 0, &e), ZEUS_OK);
        assert_int_equal(e.package_uj, expected);
        assert_true(e.dram_valid);
        assert_int_equal(e.dram_uj, dram_expected);
    }
    assert_true(expected / 1000000 >= 3); /* at least three package wraps */
    assert_true(dram_expected / 65536 >= 3);
    zeus_devices_close(d);
}

static char warnings[4096];

static void collect(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    if (level <= ZEUS_LOG_WARN && strlen(warnings) + strlen(message) + 2 < sizeof warnings) {
        strcat(warnings, message);
        strcat(warnings, "\n");
    }
}

static void test_corrupt_counter(void **state)
{
    (void)state;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    free(zt_write(root, PKG "/energy_uj", "garbage\n"));
    zeus_cpu_energy e;
    /* The file was replaced, the backend still reads its old descriptor: rewrite in place. */
    zeus_devices_close(d);
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_cpu_read_energy(d, 0, &e), ZEUS_EIO);
    assert_contains(zeus_last_error(),
                    "intel-rapl:0/energy_uj: 'garbage' is not an energy count in uJ");
    /* The monitor passes the detail on (it used to keep only the error code). */
    warnings[0] = '\0';
    zeus_set_log_callback(collect, NULL);
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    unsigned cpu = 0;
    o.cpu_indices = &cpu;
    o.cpu_count = 1;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    assert_int_equal(zeus_monitor_begin_window(m, "w", false), ZEUS_OK);
    zeus_measurement *r = zeus_measurement_new();
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, r), ZEUS_OK);
    assert_int_equal(zeus_measurement_cpu(r, 0)->error, ZEUS_EIO);
    assert_true(isnan(zeus_measurement_cpu(r, 0)->package_j)); /* unavailable, not 0 J */
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    zeus_set_log_callback(NULL, NULL);
    assert_contains(warnings, "CPU 0: energy unavailable in this window: ");
    assert_contains(warnings, "energy_uj: 'garbage' is not an energy count in uJ");
    /* The power sampler says it once, with the detail, however many samples fail. */
    warnings[0] = '\0';
    zeus_set_log_callback(collect, NULL);
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.gpu_count = 0;
    so.cpu_indices = &cpu;
    so.cpu_count = 1;
    so.period_s = 0.01;
    zeus_sampler *sampler;
    assert_int_equal(zeus_sampler_start(d, &so, &sampler), ZEUS_OK);
    zeus_sleep_ns(200000000);
    zeus_sampler_stop(sampler);
    zeus_set_log_callback(NULL, NULL);
    const char *first = strstr(warnings, "power sampler: CPU 0: ");
    assert_non_null(first);
    assert_contains(first, "energy_uj: 'garbage' is not an energy count in uJ");
    assert_null(strstr(first + 1, "power sampler: CPU 0: "));
    zeus_devices_close(d);
    free(zt_write(root, PKG "/energy_uj", ""));
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_cpu_read_energy(d, 0, &e), ZEUS_EIO);
    assert_contains(zeus_last_error(), "intel-rapl:0/energy_uj: the file is empty");
    zeus_devices_close(d);
    free(zt_write(root, PKG "/energy_uj", "-5\n"));
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_cpu_read_energy(d, 0, &e), ZEUS_EIO);
    assert_contains(zeus_last_error(), "'-5' is not an energy count");
    zeus_devices_close(d);
    set_energy(PKG, 2000000); /* above max_energy_range_uj */
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_cpu_read_energy(d, 0, &e), ZEUS_EIO);
    assert_contains(zeus_last_error(), "exceeds max_energy_range_uj");
    zeus_devices_close(d);
}

/* Permission denied: energy_uj readable by root only, as on Linux >= 5.10. As root we check it
 * from a child that drops to nobody, so the kernel really refuses the open. */
static int check_unreadable(void)
{
    zeus_devices *d;
    if (zt_open(&d) != ZEUS_OK)
        return 10;
    if (zeus_cpu_count(d) != 2)
        return 11;
    zeus_cpu_energy e;
    int rc = zeus_cpu_read_energy(d, 0, &e);
    int ok = rc == ZEUS_EPERM && strstr(zeus_last_error(), "needs root") &&
             strstr(zeus_last_error(), "intel-rapl:0/energy_uj: permission denied");
    if (!ok)
        fprintf(stderr, "rc=%d detail=%s\n", rc, zeus_last_error());
    zeus_devices_close(d);
    return ok ? 0 : 12;
}

static void test_permission_denied(void **state)
{
    (void)state;
    char *path = zt_path(root, PKG "/energy_uj");
    assert_int_equal(chmod(path, 0400), 0);
    free(path);
    if (geteuid() != 0) {
        assert_int_equal(check_unreadable(), 0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(20);
        _exit(check_unreadable());
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_no_powercap(void **state)
{
    (void)state;
    char *empty = zt_mkdtemp();
    zt_options.sysfs_root = empty;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_cpu_count(d), 0);
    zeus_backend_status s;
    zeus_devices_backend(d, zeus_devices_backend_count(d) - 1, &s);
    assert_string_equal(s.name, "rapl");
    assert_false(s.available);
    assert_contains(s.reason, "/sys/class/powercap: No such file or directory");
    zeus_cpu_energy e;
    assert_int_equal(zeus_cpu_read_energy(d, 0, &e), ZEUS_ENODEV);
    assert_contains(zeus_last_error(), "RAPL is not available");
    zeus_devices_close(d);
    zt_rmtree(empty);
    free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_packages_and_zones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_powercap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
