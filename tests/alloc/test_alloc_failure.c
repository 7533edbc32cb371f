/* The allocation-failure loop (as SQLite's malloc tests): each case below runs once to count its
 * allocations, then once for every n with the n-th allocation failing (and once with it and every
 * later one failing). It must then return an error (ZEUS_ENOMEM, saying so) instead of crashing
 * or going on with half its data, and leak nothing (LeakSanitizer after each run, ASan build).
 * The failing allocator is tests/support/alloc_fail.c, linked with -Wl,--wrap (no change to the
 * library's allocation calls). */
#include "alloc_fail.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/internal.h"
#include "zeus/lease.h"
#include "zeus/monitor.h"
#include "zeus/power_limit.h"
#include "zeus/util.h"
#include "zeusd.h"

#define SIM_CONFIG "{\"gpus\": [{\"count\": 3, \"energy_update_ms\": 1}]}"

/* ---- parsers ---------------------------------------------------------------------------- */

static int csv_case(void *arg)
{
    zeus_csv csv;
    int rc = zeus__csv_open(&csv, arg);
    if (rc < 0)
        return rc;
    bool eof = false;
    while ((rc = zeus__csv_next(&csv, &eof)) == ZEUS_OK && !eof) {
        double v;
        bool missing;
        const char *text;
        if ((rc = zeus__csv_double(&csv, 1, &v, &missing)) < 0 ||
            (rc = zeus__csv_text(&csv, 0, &text)) < 0)
            break;
    }
    zeus__csv_close(&csv);
    return rc;
}

static void test_csv(void **state)
{
    (void)state;
    char *path = zt_write(zt_dir, "t.csv",
                          "name,value,other\n"
                          "a,1.5,x\n"
                          "\"quoted, b\",2e3,\"y\"\"z\"\n"
                          "\n"
                          "c,NaN,\n");
    zt_alloc_loop("CSV reader", csv_case, path, 0);
    free(path);
}

/* The monitor's CSV log read back (the replay monitor: header, rows, names). */
static int replay_case(void *arg)
{
    zeus_monitor *m;
    int rc = zeus_monitor_open_replay(NULL, arg, true, &m);
    if (rc < 0)
        return rc;
    zeus_measurement *r = zeus_measurement_new();
    if (!r) {
        zeus_monitor_close(m);
        return ZEUS_ENOMEM;
    }
    for (int i = 0; i < 2 && rc == ZEUS_OK; i++) {
        rc = zeus_monitor_begin_window(m, "w", false);
        if (rc == ZEUS_OK)
            rc = zeus_monitor_end_window(m, "w", false, false, r);
    }
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    return rc;
}

static void test_monitor_log_replay(void **state)
{
    (void)state;
    char *path = zt_write(zt_dir, "log.csv",
                          "start_time,window_name,elapsed_time,gpu0_energy,gpu2_energy\n"
                          "1.0,w,2.0,3.5,4.5\n"
                          "4.0,w,1.0,1.5,2.5\n");
    zt_alloc_loop("replay monitor (CSV log)", replay_case, path, 0);
    free(path);
}

static int profile_case(void *arg)
{
    zeus_power_limit_profile p;
    int rc = zeus_power_limit_profile_parse(arg, "profile.json", &p);
    if (rc < 0)
        return rc;
    char *again = NULL;
    rc = zeus_power_limit_profile_format(p.measurements, p.count,
                                         p.gpu_model[0] ? p.gpu_model : NULL, &again);
    zeus_power_limit_profile_free(&p);
    free(again);
    return rc;
}

static int profile_read_case(void *arg)
{
    zeus_power_limit_profile p;
    int rc = zeus_power_limit_profile_read(arg, &p);
    if (rc == ZEUS_OK)
        zeus_power_limit_profile_free(&p);
    return rc;
}

static void test_profile(void **state)
{
    (void)state;
    char *path = zt_path(zt_dir, "profile.json");
    zeus_power_limit_measurement ms[] = {{300, 10.5, 1.25}, {250, 9.5, 1.5}, {200, 9.0, 2.0}};
    assert_int_equal(zeus_power_limit_profile_write(path, ms, 3, "NVIDIA A40"), ZEUS_OK);
    char *text = zt_read(path);
    zt_alloc_loop("profile parse + format", profile_case, text, 0);
    zt_alloc_loop("profile read", profile_read_case, path, 0);
    free(text);
    free(path);
}

static int index_list_case(void *arg)
{
    unsigned out[8];
    size_t n = 0;
    return zeus_parse_index_list(arg, out, 8, &n);
}

/* CUDA_VISIBLE_DEVICES (indices and UUIDs) applied when devices are opened, and an index list. */
static int visible_devices_case(void *arg)
{
    zeus_device_options o;
    zeus_device_options_init(&o);
    o.backend = "sim";
    o.sim_config = SIM_CONFIG;
    o.visible_devices = arg;
    o.sysfs_root = zt_options.sysfs_root;
    zeus_devices *d;
    int rc = zeus_devices_open_with(&o, &d);
    if (rc < 0)
        return rc;
    if (zeus_gpu_count(d) != 2)
        rc = ZEUS_EINVAL;
    zeus_devices_close(d);
    return rc;
}

static void test_index_lists_and_visible_devices(void **state)
{
    (void)state;
    zt_alloc_loop("index list", index_list_case, "3,1,2", 0);
    zt_alloc_loop("CUDA_VISIBLE_DEVICES 2,0", visible_devices_case, "2,0", 0);
    /* the sim backend's UUIDs are GPU-<index>... : ask the backend for GPU 1's */
    zeus_devices *d;
    zt_options.backend = "sim";
    zt_options.sim_config = SIM_CONFIG;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    zeus_gpu_info info;
    assert_int_equal(zeus_gpu_get_info(d, 1, &info), ZEUS_OK);
    zeus_devices_close(d);
    char list[256];
    snprintf(list, sizeof list, "%s,0", info.uuid);
    zt_alloc_loop("CUDA_VISIBLE_DEVICES by UUID", visible_devices_case, list, 0);
}

/* ---- zeusd's request handling (src/zeusd/api.c, as fuzz/fuzz_zeusd_request.c drives it) ---- */

typedef struct {
    zeus_devices *devices;
} zeusd_arg;

static int zeusd_case(void *p)
{
    zeusd_arg *a = p;
    zd_config c;
    zd_config_defaults(&c);
    c.enabled[0] = ZD_GROUP_GPU_CONTROL;
    c.enabled[1] = ZD_GROUP_GPU_READ;
    c.enabled_count = 2;
    c.group_on[0] = c.group_on[1] = true;
    zd_server *s;
    int rc = zd_server_create(&c, a->devices, &s);
    if (rc == ZEUS_ENOMEM) /* its only error, which zeusd reports as "out of memory" */
        return zeus__error(rc, "zd_server_create: out of memory");
    if (rc < 0)
        return rc;
    static const struct {
        const char *method, *path, *name, *value;
        int status;
    } requests[] = {
        {"GET", "/gpu/get_power_limit", "gpu_ids", "0,2", 200},
        {"GET", "/gpu/get_power", "gpu_ids", "1", 200},
        {"GET", "/gpu/get_power_limit", "gpu_ids", "7", 400},
        {"POST", "/gpu/set_power_limit", "gpu_ids", "1", 400}, /* no power_limit_mw */
        {"GET", "/nowhere", "x", "y", 404},
    };
    gid_t groups[1] = {0};
    for (size_t i = 0; i < sizeof requests / sizeof requests[0] && rc == 0; i++) {
        zd_arg args[1] = {{requests[i].name, requests[i].value}};
        zd_request req = {.method = requests[i].method,
                          .path = requests[i].path,
                          .args = args,
                          .arg_count = 1,
                          .has_peer = true,
                          .pid = getpid(),
                          .uid = 0,
                          .gid = 0,
                          .groups = groups,
                          .group_count = 1};
        zd_response r;
        zd_handle(s, &req, &r);
        /* Out of memory is a 500 (or 503) that says so (an empty 500 when not even that could
         * be allocated); anything else is what the request is answered with when memory
         * suffices. */
        if (r.status >= 500 && (r.body ? strstr(r.body, "memory") != NULL : r.status == 500))
            rc = zeus__error(ZEUS_ENOMEM, "%d %s", r.status, r.body ? r.body : "(out of memory)");
        else if (r.status != requests[i].status)
            rc = zeus__error(ZEUS_EINVAL, "%s %s: %d, not %d: %s", requests[i].method,
                             requests[i].path, r.status, requests[i].status, r.body ? r.body : "");
        zd_response_free(&r);
    }
    zd_server_destroy(s);
    return rc;
}

/* A token issued and verified: every claim comes back, or the call fails. */
static int token_case(void *arg)
{
    (void)arg;
    static const unsigned char key[] = "alloc-test-key";
    zd_group scopes[] = {ZD_GROUP_GPU_CONTROL, ZD_GROUP_GPU_READ};
    char *token = zd_token_issue(key, sizeof key - 1, "alice", scopes, 2, true, 4102444800LL);
    if (!token)
        return zeus__error(ZEUS_ENOMEM, "zd_token_issue: out of memory");
    zd_claims c;
    char err[256] = "";
    int rc = zd_token_verify(key, sizeof key - 1, token, 1700000000LL, &c, err, sizeof err);
    free(token);
    if (rc != 0)
        return strstr(err, "memory") ? zeus__error(ZEUS_ENOMEM, "%s", err)
                                     : zeus__error(ZEUS_EINVAL, "verify: %d %s", rc, err);
    if (strcmp(c.sub, "alice") != 0 || !c.has_exp || c.exp != 4102444800LL ||
        !strstr(c.scopes_json, "gpu-control") || !strstr(c.scopes_json, "gpu-read"))
        return zeus__error(ZEUS_EINVAL, "claims lost: sub %s exp %d/%lld scopes %s", c.sub,
                           c.has_exp, (long long)c.exp, c.scopes_json);
    return 0;
}

static void test_zeusd_requests(void **state)
{
    (void)state;
    setenv("ZEUSD_LOG", "off", 1);
    zt_options.backend = "sim";
    zt_options.sim_config = SIM_CONFIG;
    zeusd_arg a;
    assert_int_equal(zt_open(&a.devices), ZEUS_OK);
    zd_json_hooks(); /* zeusd's own, as its main installs them (their malloc fails here too) */
    zt_alloc_loop("zeusd request handling", zeusd_case, &a, 0);
    zt_alloc_loop("zeusd token issue + verify", token_case, NULL, 0);
    zt_alloc_fail_cjson();
    zeus_devices_close(a.devices);
}

/* ---- the monitor's window path, with its CSV log ------------------------------------------ */

typedef struct {
    zeus_devices *devices;
    const char *log;
} monitor_arg;

static int monitor_case(void *p)
{
    monitor_arg *a = p;
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    o.log_file = a->log;
    zeus_monitor *m;
    int rc = zeus_monitor_open(a->devices, &o, &m);
    if (rc < 0)
        return rc;
    zeus_measurement *r = zeus_measurement_new();
    if (!r)
        rc = ZEUS_ENOMEM;
    for (int i = 0; i < 2 && rc == ZEUS_OK; i++) {
        if ((rc = zeus_monitor_begin_window(m, "outer", false)) < 0 ||
            (rc = zeus_monitor_begin_window(m, "a rather long window name: longer than most",
                                            false)) < 0 ||
            (rc = zeus_monitor_end_window(m, "a rather long window name: longer than most", false,
                                          false, r)) < 0 ||
            (rc = zeus_monitor_end_window(m, "outer", false, i == 1, r)) < 0)
            break;
        char *json = NULL;
        if ((rc = zeus_measurement_to_json(r, &json)) < 0)
            break;
        zeus_free(json);
    }
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    return rc;
}

static void test_monitor_windows(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zt_options.sim_config = SIM_CONFIG;
    char *log = zt_path(zt_dir, "windows.csv");
    monitor_arg a = {NULL, log};
    assert_int_equal(zt_open(&a.devices), ZEUS_OK);
    /* Windows here read 0 J, and the warn-once bookkeeping of such a window deliberately
     * tolerates running out of memory (it warns again next time; the window is complete):
     * warnings off, so that every allocation the loop fails is one the window needs. */
    zeus_log_level level = zeus_get_log_level();
    zeus_set_log_level(ZEUS_LOG_ERROR);
    zt_alloc_loop("monitor windows (CSV log)", monitor_case, &a, 0);
    a.log = NULL;
    zt_alloc_loop("monitor windows", monitor_case, &a, 0);
    zeus_set_log_level(level);
    zeus_devices_close(a.devices);
    free(log);
}

/* ---- limit leases ------------------------------------------------------------------------ */

static int lease_case(void *p)
{
    zeus_devices *d = p;
    unsigned gpus[] = {0, 2};
    zeus_lease *l;
    int rc = zeus_lease_create(d, gpus, 2, ZEUS_LEASE_NO_WAIT, &l);
    if (rc < 0)
        return rc;
    unsigned limits[] = {200000, 250000};
    if ((rc = zeus_lease_set_power_limits_mw(l, limits)) == ZEUS_OK &&
        (rc = zeus_lease_set_persistence_mode(l, 2, true)) == ZEUS_OK)
        rc = zeus_lease_set_power_limit_mw(l, 0, 150000);
    zeus_lease_release(l);
    /* Whatever happened, the GPUs are back as they were. */
    unsigned mw;
    for (unsigned g = 0; g < 3; g += 2)
        if (zeus_gpu_power_limit_mw(d, g, &mw) != ZEUS_OK || mw != 300000) {
            fprintf(stderr, "GPU %u left at %u mW\n", g, mw);
            return ZEUS_EIO;
        }
    return rc;
}

static void test_lease(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zt_options.sim_config = SIM_CONFIG;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    zt_alloc_loop("lease", lease_case, d, 0);
    zeus_devices_close(d);
}

int main(void)
{
    zt_alloc_fail_cjson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_monitor_log_replay, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_profile, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_index_lists_and_visible_devices, zt_setup,
                                        zt_teardown),
        cmocka_unit_test_setup_teardown(test_zeusd_requests, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_monitor_windows, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_lease, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
