/* The monitor and sampler on real time: sim backend, fake NVML, fake RAPL, faults, threads. */
#include "test_support.h"

#include "core/internal.h"
#include "monitor/monitor_internal.h" /* the measurement's fields, read directly */
#include "zeus/zeus.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static zeus_devices *open_devices(void)
{
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    return d;
}

static void use_sim(const char *config)
{
    zt_options.backend = "sim";
    char *cfg = zt_write(zt_dir, "sim.json", config);
    zt_options.sim_config = zt_keep(cfg);
    free(cfg);
}

static void sim_sync(unsigned gpu, void *user)
{
    zeus_sim_synchronize(user, gpu);
}

/* Counter method on simulated steps: within the counter's granularity of the ground truth, and
 * the update period is measured, not assumed. */
static void test_counter_matches_ground_truth(void **state)
{
    (void)state;
    use_sim("{\"gpus\": [{\"step_time_ms\": 5, \"energy_update_ms\": 10, \"count\": 2}]}");
    zeus_devices *d = open_devices();
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.sync = sim_sync;
    o.sync_user = d;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_monitor_wait_update_period(m);
    double period = zeus_monitor_update_period_s(m, 0);
    /* Configured 10 ms, polled every 1 ms: never shorter; longer only as much as 1 ms sleeps
     * are late now (the baseline). */
    double scale = zt_sleep_scale(0.001, 20);
    if (!(period > 0.008 && period < 0.015 * scale))
        fprintf(stderr, "period %.4f s, 1 ms sleeps %.2f times late\n", period, scale);
    assert_true(period > 0.008 && period < 0.015 * scale);
    assert_true(zeus_monitor_update_period_s(m, 1) == period); /* same model */

    double exact0[2], exact1[2];
    assert_int_equal(zeus_monitor_begin_window(m, "steps", true), ZEUS_OK);
    for (unsigned g = 0; g < 2; g++)
        zeus_sim_exact_energy_uj(d, g, &exact0[g]);
    for (int i = 0; i < 60; i++)
        for (unsigned g = 0; g < 2; g++)
            zeus_sim_launch_step(d, g, NULL);
    zeus_measurement r;
    assert_int_equal(zeus_monitor_end_window(m, "steps", true, false, &r), ZEUS_OK);
    for (unsigned g = 0; g < 2; g++)
        zeus_sim_exact_energy_uj(d, g, &exact1[g]);
    /* 60 queued steps of 5 ms: 0.3 s, and a late wake-up at most as late as sleeping is now. */
    double late = zt_sleep_scale(0.3, 1);
    if (!(r.time_s > 0.29 && r.time_s < 0.5 * late))
        fprintf(stderr, "window %.3f s, a 0.3 s sleep %.2f times late\n", r.time_s, late);
    assert_true(r.time_s > 0.29 && r.time_s < 0.5 * late);
    for (unsigned g = 0; g < 2; g++) {
        double truth = (exact1[g] - exact0[g]) / 1e6;
        assert_int_equal(r.gpus[g].method, ZEUS_METHOD_COUNTER);
        /* The counter lags by less than one update at each end: error < period x 279 W; the
         * ground truth is read just after begin and end, while idle (30 W): allow 20 ms. */
        double bound = period * 279.0 + 30.0 * 0.02;
        if (fabs(r.gpus[g].energy_j - truth) > bound)
            fprintf(stderr, "gpu %u measured %f truth %f\n", g, r.gpus[g].energy_j, truth);
        assert_true(fabs(r.gpus[g].energy_j - truth) <= bound);
        assert_true(r.gpus[g].updates > 25);
        assert_false(r.gpus[g].below_resolution);
        assert_true(r.gpus[g].error_bound_j >= period * 279.0); /* covers the busy draw */
    }
    assert_true(fabs(r.total_energy_j - r.gpus[0].energy_j - r.gpus[1].energy_j) < 1e-9);
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

static int warnings;
static char last_warning[1024];
static void capture(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    if (level == ZEUS_LOG_WARN) {
        warnings++;
        zeus__strlcpy(last_warning, message, sizeof last_warning);
    }
}

/* A window shorter than the update period reads 0 J: flagged and warned, or approximated. */
static void test_short_window_flagged_or_approximated(void **state)
{
    (void)state;
    use_sim("{\"gpus\": [{\"energy_update_ms\": 60000, \"idle_power_w\": 50}]}");
    zeus_devices *d = open_devices();
    zeus_set_log_callback(capture, NULL);
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_measurement r;
    warnings = 0;
    zeus_monitor_begin_window(m, "short", false);
    usleep(20000);
    assert_int_equal(zeus_monitor_end_window(m, "short", false, false, &r), ZEUS_OK);
    assert_true(r.gpus[0].energy_j == 0.0);
    assert_true(r.gpus[0].below_resolution);
    assert_int_equal(warnings, 1);
    assert_contains(last_warning, "window 'short': GPU 0 read 0 J");
    assert_contains(last_warning, "update period (not measured yet)");
    /* Once per window name: a per-step window does not print a line per step. */
    for (int i = 0; i < 5; i++) {
        zeus_monitor_begin_window(m, "short", false);
        assert_int_equal(zeus_monitor_end_window(m, "short", false, false, &r), ZEUS_OK);
    }
    assert_int_equal(warnings, 1);
    zeus_monitor_begin_window(m, "other", false);
    assert_int_equal(zeus_monitor_end_window(m, "other", false, false, &r), ZEUS_OK);
    assert_int_equal(warnings, 2);
    assert_contains(last_warning, "window 'other'");
    zeus_monitor_close(m);

    o.approx_instant_energy = true;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_monitor_begin_window(m, "short", false);
    usleep(20000);
    assert_int_equal(zeus_monitor_end_window(m, "short", false, false, &r), ZEUS_OK);
    assert_int_equal(r.gpus[0].method, ZEUS_METHOD_INSTANT);
    assert_true(fabs(r.gpus[0].energy_j - 50.0 * r.time_s) < 0.05);
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

/* Pre-Volta GPUs: integrated power at 100 Hz within 1% over 1 s (the sampler starts by
 * itself), and the monitor's sampler covers exactly those GPUs. */
static void test_sampled_power_integration(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir,
                     "{\"gpus\": [{\"name\": \"Tesla P100\", \"architecture\": \"pascal\", "
                     "\"min_power_limit_w\": 125, \"max_power_limit_w\": 250, \"load\": 0.5}, "
                     "{\"name\": \"NVIDIA A40\"}]}");
    zeus_devices *d = open_devices();
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.sampler_period_s = 0.01;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_sampler *s = zeus_monitor_sampler(m);
    assert_non_null(s);
    assert_int_equal(zeus_sampler_gpu_count(s), 1);
    assert_int_equal(zeus_sampler_gpu_index(s, 0), 0);
    usleep(30000);
    zeus_measurement r;
    zeus_monitor_begin_window(m, "second", false);
    usleep(1000000);
    assert_int_equal(zeus_monitor_end_window(m, "second", false, false, &r), ZEUS_OK);
    /* P100 at load 0.5: 25 W idle + 0.5 x (232.5 - 25) = 128.75 W. */
    double truth = 128.75 * r.time_s;
    assert_int_equal(r.gpus[0].method, ZEUS_METHOD_SAMPLED);
    assert_true(fabs(r.gpus[0].energy_j - truth) / truth < 0.01);
    assert_true(r.gpus[0].updates >= 50); /* 100 Hz, fewer if the machine is busy */
    assert_int_equal(r.gpus[1].method, ZEUS_METHOD_COUNTER);
    double p[1], t;
    assert_int_equal(zeus_sampler_get_power(s, NAN, p, &t), ZEUS_OK);
    assert_true(fabs(p[0] - 128.75) < 0.01 + zt_vendor_power_resolution_w());
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

static void note_sample(const zeus_sampler *s, double t, const double *power_w, void *user)
{
    (void)s, (void)t;
    *(double *)user = power_w[0];
}

/* The sampler hands back a reading as the W it was: 79800 mW is 79.8 W, as in the original's
 * PowerMonitor, not the float 79.80000305 (get_power, the timeline, on_sample). */
static void test_sampled_power_is_the_reading(void **state)
{
    (void)state;
    use_sim("{\"gpus\": [{\"count\": 1, \"load\": 0.2}]}");
    zeus_devices *d = open_devices();
    unsigned mw;
    assert_int_equal(zeus_gpu_power_mw(d, 0, &mw), ZEUS_OK);
    assert_int_equal(mw, 79800);
    double noted = 0;
    zeus_sampler_options o;
    zeus_sampler_options_init(&o);
    o.period_s = 0.005;
    o.on_sample = note_sample;
    o.on_sample_user = &noted;
    zeus_sampler *s;
    assert_int_equal(zeus_sampler_start(d, &o, &s), ZEUS_OK);
    usleep(50000);
    double p[1], times[4], line[4], t;
    size_t n = 0;
    assert_int_equal(zeus_sampler_get_power(s, NAN, p, &t), ZEUS_OK);
    assert_int_equal(zeus_sampler_timeline(s, -INFINITY, 4, times, line, &n), ZEUS_OK);
    zeus_sampler_stop(s);
    assert_true(p[0] == 79.8);
    assert_true(n >= 1 && line[0] == 79.8);
    assert_true(noted == 79.8);
    zeus_devices_close(d);
}

/* A GPU lost mid-window: that window reports the error for that GPU; the rest goes on. */
static void test_gpu_lost_mid_window(void **state)
{
    (void)state;
    char config[200];
    snprintf(config, sizeof config,
             "{\"gpus\": [{\"errors\": {\"nvmlDeviceGetTotalEnergyConsumption\": "
             "{\"code\": \"GPU_IS_LOST\", \"after\": %d}}}, {}]}",
             1 + zt_vendor_counter_reads_at_open());
    zt_use_fake_nvml(zt_dir, config);
    zeus_devices *d = open_devices();
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    o.log_file = zt_path(zt_dir, "lost.csv");
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_measurement r;
    assert_int_equal(zeus_monitor_begin_window(m, "a", false), ZEUS_OK); /* read 1: fine */
    usleep(50000);
    assert_int_equal(zeus_monitor_end_window(m, "a", false, false, &r), ZEUS_OK);
    assert_int_equal(r.gpus[0].error, zt_vendor_lost_error());
    assert_int_equal(r.gpus[0].method, ZEUS_METHOD_NONE);
    assert_int_equal(r.gpus[1].error, 0);
    assert_true(r.gpus[1].energy_j > 0);
    /* The next window begins fine and reports the same. */
    assert_int_equal(zeus_monitor_begin_window(m, "b", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "b", false, false, &r), ZEUS_OK);
    assert_int_equal(r.gpus[0].error, zt_vendor_lost_error());
    zeus_monitor_close(m);
    free((char *)o.log_file);
    zeus_devices_close(d);
}

/* Every GPU's counter fails from the start: each result is unavailable (NAN, null in JSON, an
 * empty log cell, never a real-looking 0 J), and each warning names its own GPU (the thread's
 * last error used to name the last GPU read for all of them). */
static char all_warnings[8192];
static void collect(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    if (level == ZEUS_LOG_WARN) {
        size_t n = strlen(all_warnings);
        snprintf(all_warnings + n, sizeof all_warnings - n, "%s\n", message);
    }
}

static void test_unavailable_energy(void **state)
{
    (void)state;
    char config[200];
    snprintf(config, sizeof config,
             "{\"gpus\": [{\"errors\": {\"nvmlDeviceGetTotalEnergyConsumption\": "
             "{\"code\": \"GPU_IS_LOST\", \"after\": %d}}, \"count\": 4}]}",
             zt_vendor_counter_reads_at_open());
    zt_use_fake_nvml(zt_dir, config);
    zeus_devices *d = open_devices();
    all_warnings[0] = '\0';
    zeus_set_log_callback(collect, NULL);
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    char *log = zt_path(zt_dir, "lost.csv");
    o.log_file = log;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_measurement *r = zeus_measurement_new();
    assert_int_equal(zeus_monitor_begin_window(m, "w", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, r), ZEUS_OK);
    assert_int_equal(zeus_measurement_gpu_count(r), 4);
    for (unsigned i = 0; i < 4; i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(r, i);
        assert_int_equal(g->error, zt_vendor_lost_error());
        assert_true(isnan(g->energy_j));
        char expected[64];
        snprintf(expected, sizeof expected, "GPU %u: energy unavailable", i);
        char *line = strstr(all_warnings, expected);
        assert_non_null(line);
        snprintf(expected, sizeof expected, "(%s %u)", zt_vendor_gpu_label(), i);
        char *eol = strchr(line, '\n');
        *eol = '\0';
        assert_contains(line, expected);
        *eol = '\n';
    }
    assert_null(zeus_measurement_gpu(r, 4));
    assert_true(isnan(zeus_measurement_total_energy_j(r)));
    assert_true(isnan(zeus_measurement_gpu_energy(r, 2)));
    char *json;
    assert_int_equal(zeus_measurement_to_json(r, &json), ZEUS_OK);
    assert_contains(json, "\"total_energy_j\":null");
    assert_contains(json, "{\"index\":3,\"energy_j\":null,\"method\":\"none\"");
    char lost[64];
    snprintf(lost, sizeof lost, "\"error\":\"%s\"", zeus_strerror(zt_vendor_lost_error()));
    assert_contains(json, lost);
    zeus_free(json);
    zeus_monitor_close(m);
    /* The log's energy cells are empty, and the replay reads them back as unavailable. */
    char *text = zt_read(log);
    assert_non_null(strstr(text, ",w,"));
    assert_true(strlen(text) > 4 && strcmp(text + strlen(text) - 5, ",,,,\n") == 0);
    free(text);
    assert_int_equal(zeus_monitor_open_replay(NULL, log, true, &m), ZEUS_OK);
    assert_int_equal(zeus_monitor_begin_window(m, "w", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, r), ZEUS_OK);
    assert_true(isnan(zeus_measurement_gpu(r, 1)->energy_j));
    assert_int_equal(zeus_measurement_gpu(r, 1)->error, ZEUS_EDEVICE);
    zeus_monitor_close(m);
    zeus_measurement_free(r);
    free(log);
    zeus_devices_close(d);
}

/* The JSON form of a good measurement: numbers, the method, no "error". */
static void test_measurement_json(void **state)
{
    (void)state;
    use_sim("{\"gpus\": [{\"count\": 2}]}");
    zeus_devices *d = open_devices();
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_measurement *r = zeus_measurement_new();
    assert_int_equal(zeus_monitor_begin_window(m, "w", false), ZEUS_OK);
    usleep(100000);
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, r), ZEUS_OK);
    char *json;
    assert_int_equal(zeus_measurement_to_json(r, &json), ZEUS_OK);
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    assert_true(cJSON_GetObjectItem(j, "time_s")->valuedouble == zeus_measurement_time_s(r));
    assert_true(cJSON_GetObjectItem(j, "total_energy_j")->valuedouble ==
                zeus_measurement_total_energy_j(r));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "cancelled")));
    const cJSON *g1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "gpus"), 1);
    assert_int_equal(cJSON_GetObjectItem(g1, "index")->valueint, 1);
    assert_true(cJSON_GetObjectItem(g1, "energy_j")->valuedouble ==
                zeus_measurement_gpu(r, 1)->energy_j);
    assert_string_equal(cJSON_GetObjectItem(g1, "method")->valuestring, "counter");
    assert_null(cJSON_GetObjectItem(g1, "error"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "cpus")), 0);
    cJSON_Delete(j);
    zeus_free(json);
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

static void test_counter_goes_backwards(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir,
                     "{\"gpus\": [{\"initial_energy_j\": 10, \"energy_per_read_mj\": -5}]}");
    zeus_devices *d = open_devices();
    if (zt_vendor_amd()) {
        /* AMD: the counter is checked against power at open; one that runs backwards is
         * never used (power is sampled instead), so no window can see it go back. */
        zeus_gpu_info info;
        assert_int_equal(zeus_gpu_get_info(d, 0, &info), ZEUS_OK);
        assert_false(info.has_energy_counter);
        zeus_devices_close(d);
        return;
    }
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_measurement r;
    zeus_monitor_begin_window(m, "w", false);
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, &r), ZEUS_OK);
    assert_int_equal(r.gpus[0].error, ZEUS_EDEVICE);
    assert_true(isnan(r.gpus[0].energy_j)); /* unavailable, not a real-looking 0 J */
    assert_true(isnan(r.total_energy_j));
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

static void test_cancel_and_log(void **state)
{
    (void)state;
    use_sim("{\"gpus\": [{}]}");
    zeus_devices *d = open_devices();
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    char *log = zt_path(zt_dir, "deep/er/log.csv");
    o.log_file = log;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    zeus_measurement r;
    zeus_monitor_begin_window(m, "cancelled", false);
    assert_int_equal(zeus_monitor_end_window(m, "cancelled", false, true, &r), ZEUS_OK);
    assert_true(r.cancelled);
    assert_int_equal(r.gpu_count, 1);
    assert_true(r.time_s == 0.0 && r.gpus[0].energy_j == 0.0);
    assert_int_equal(zeus_monitor_begin_window(m, "a,b", false), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "would corrupt the CSV log");
    zeus_monitor_close(m);
    char *text = zt_read(log);
    assert_string_equal(text, "start_time,window_name,elapsed_time,gpu0_energy\n");
    free(text);
    /* A log that cannot be created is a clear error naming the path. */
    char *blocker = zt_write(zt_dir, "file", "x");
    char *bad = zt_path(zt_dir, "file/log.csv");
    o.log_file = bad;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "file/log.csv");
    assert_contains(zeus_last_error(), "is not a directory");
    free(blocker);
    free(bad);
    free(log);
    zeus_devices_close(d);
}

static void test_no_devices_time_only(void **state)
{
    (void)state;
    zt_options.backend = "none";
    zeus_devices *d = open_devices();
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, NULL, &m), ZEUS_OK);
    assert_int_equal(zeus_monitor_gpu_count(m), 0);
    zeus_measurement r;
    zeus_monitor_begin_window(m, "t", false);
    usleep(10000);
    assert_int_equal(zeus_monitor_end_window(m, "t", false, false, &r), ZEUS_OK);
    assert_true(r.time_s >= 0.01 && r.gpu_count == 0 && r.total_energy_j == 0.0);
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

static void write_rapl(const char *root, unsigned long long pkg, unsigned long long dram)
{
    char text[64];
    snprintf(text, sizeof text, "%llu\n", pkg);
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", text));
    snprintf(text, sizeof text, "%llu\n", dram);
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/energy_uj", text));
}

static void test_cpu_and_dram(void **state)
{
    (void)state;
    char *root = zt_path(zt_dir, "sysfs");
    mkdir(root, 0777);
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/name", "package-0\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/name", "dram\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/max_energy_range_uj",
                  "1000000\n"));
    write_rapl(root, 900000, 100);
    zt_options.sysfs_root = root;
    zt_options.backend = "none";
    zeus_devices *d = open_devices();
    /* The backend keeps the files open: later values are written in place. */
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.cpu_count = -1;
    char *log = zt_path(zt_dir, "cpu.csv");
    o.log_file = log;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    assert_int_equal(zeus_monitor_cpu_count(m), 1);
    zeus_monitor_begin_window(m, "cpu", false);
    char *pkg = zt_path(root, "sys/class/powercap/intel-rapl:0/energy_uj");
    char *drm = zt_path(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/energy_uj");
    FILE *f = fopen(pkg, "w");
    fputs("100000\n", f); /* wrapped: +200001 uJ */
    fclose(f);
    f = fopen(drm, "w");
    fputs("50100\n", f);
    fclose(f);
    zeus_measurement r;
    assert_int_equal(zeus_monitor_end_window(m, "cpu", false, false, &r), ZEUS_OK);
    assert_int_equal(r.cpu_count, 1);
    assert_int_equal(r.cpus[0].error, 0);
    assert_true(fabs(r.cpus[0].package_j - 0.200001) < 1e-9);
    assert_true(r.cpus[0].dram_valid);
    assert_true(fabs(r.cpus[0].dram_j - 0.05) < 1e-9);
    zeus_monitor_close(m);
    char *text = zt_read(log);
    assert_contains(text, "start_time,window_name,elapsed_time,cpu0_energy,dram0_energy\n");
    assert_contains(text, ",cpu,");
    assert_contains(text, ",0.200001,0.05\n");
    free(text);
    free(log);
    free(pkg);
    free(drm);
    free(root);
    zeus_devices_close(d);
}

typedef struct {
    zeus_monitor *m;
    int id;
    int failures;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "w%d-%d", w->id, i);
        zeus_measurement r;
        if (zeus_monitor_begin_window(w->m, name, false) != ZEUS_OK ||
            zeus_monitor_end_window(w->m, name, false, false, &r) != ZEUS_OK || r.gpu_count != 4)
            w->failures++;
    }
    return NULL;
}

static void *end_other(void *arg)
{
    zeus_measurement r;
    return (void *)(intptr_t)zeus_monitor_end_window(arg, "cross", false, false, &r);
}

static void test_threads(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    zeus_devices *d = open_devices();
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    char *log = zt_path(zt_dir, "threads.csv");
    o.log_file = log;
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, &o, &m), ZEUS_OK);
    /* Begun on this thread, ended on another. */
    assert_int_equal(zeus_monitor_begin_window(m, "cross", false), ZEUS_OK);
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, end_other, m);
    pthread_join(t, &ret);
    assert_int_equal((intptr_t)ret, ZEUS_OK);
    /* Eight threads opening and closing windows at once. */
    worker w[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){m, i, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    zeus_monitor_close(m);
    char *text = zt_read(log);
    int rows = 0;
    for (char *p = text; *p; p++)
        rows += *p == '\n';
    assert_int_equal(rows, 1 + 1 + 8 * 300);
    free(text);
    free(log);
    zeus_devices_close(d);
}

/* Period inference happens on the sampler thread: starting returns at once, samples come every
 * millisecond meanwhile, and the period is known after the power changed often enough. */
static void test_sampler_infers_while_sampling(void **state)
{
    (void)state;
    use_sim("{\"gpus\": [{}]}"); /* idle: a flat reading, the slowest inference (2 s) */
    zeus_devices *d = open_devices();
    zeus_sampler *s;
    assert_int_equal(zeus_sampler_start(d, NULL, &s), ZEUS_OK);
    /* Not a wall-clock figure (which flips under load): starting returned before the inference
     * (2 s of flat readings at least) could have ended, since it is still going on now. It used
     * to return after it. */
    assert_true(zeus_sampler_period_s(s) == 0.001);
    usleep(200000);
    assert_true(zeus_sampler_period_s(s) == 0.001); /* still inferring, sampling meanwhile */
    assert_true(zeus_sampler_sample_count(s) >= 5);
    zeus_sampler_stop(s);
    zeus_devices_close(d);
}

static void test_sampler_ring_and_queries(void **state)
{
    (void)state;
    use_sim("{\"gpus\": [{\"idle_power_w\": 42, \"count\": 2}]}");
    zeus_devices *d = open_devices();
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.period_s = 0.002;
    so.capacity = 8;
    zeus_sampler *s;
    assert_int_equal(zeus_sampler_start(d, &so, &s), ZEUS_OK);
    usleep(60000);
    assert_int_equal(zeus_sampler_sample_count(s), 8); /* bounded */
    double times[16], power[32];
    size_t n;
    zeus_sampler_timeline(s, 0, 16, times, power, &n);
    assert_int_equal(n, 8);
    for (size_t i = 1; i < n; i++)
        assert_true(times[i] > times[i - 1]);
    assert_true(power[0] == 42.0 && power[1] == 42.0);
    double p[2], t;
    assert_int_equal(zeus_sampler_get_power(s, times[3] - 1e-6, p, &t), ZEUS_OK);
    assert_true(t == times[3]);
    assert_int_equal(zeus_sampler_get_power(s, times[7] + 100, p, &t), ZEUS_OK);
    assert_true(t >= times[7]); /* after the last: the last */
    double e[2];
    size_t used;
    assert_int_equal(zeus_sampler_get_energy(s, times[0], times[0], e, &used), ZEUS_ENOENT);
    assert_int_equal(zeus_sampler_get_energy(s, times[0], times[7], e, &used), ZEUS_OK);
    assert_true(fabs(e[0] - 42.0 * (times[7] - times[0])) < 1e-6);
    /* The running total covers every sample since the start, not only the 8 in the ring. */
    double end = zeus_steady_time_s(NULL), start;
    assert_int_equal(zeus_sampler_total_energy(s, end, e, &start), ZEUS_OK);
    assert_true(end - start > 0.05); /* far more than the ring's 8 rows span unloaded */
    assert_true(fabs(e[1] - 42.0 * (end - start)) < 1e-3);
    zeus_sampler_stop(s);
    /* An explicitly empty GPU list is refused, as the original. */
    so.gpu_count = 0;
    assert_int_equal(zeus_sampler_start(d, &so, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "at least one GPU");
    so.gpu_count = -1;
    so.period_s = -1;
    assert_int_equal(zeus_sampler_start(d, &so, &s), ZEUS_EINVAL);
    zeus_devices_close(d);
}

/* The replay monitor's errors, as the original's ReplayZeusMonitor raises them. */
static void test_replay_errors(void **state)
{
    (void)state;
    char *log = zt_write(zt_dir, "replay.csv",
                         "start_time,window_name,elapsed_time,gpu0_energy,gpu2_energy\n"
                         "10.5,a,2.0,100.0,101.5\n"
                         "12.5,b,1.0,50.0\n"
                         "13.5,c,x,1,2\n");
    zeus_monitor *m;
    zeus_measurement r;
    assert_int_equal(zeus_monitor_open_replay(NULL, log, true, &m), ZEUS_OK);
    assert_int_equal(zeus_monitor_gpu_count(m), 2);
    assert_int_equal(zeus_monitor_gpu_index(m, 1), 2);
    assert_int_equal(zeus_monitor_end_window(m, "a", false, false, &r), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "Window a is not ongoing.");
    assert_int_equal(zeus_monitor_begin_window(m, "z", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "z", false, true, &r), ZEUS_OK); /* cancel */
    assert_true(r.cancelled && r.gpu_count == 2);
    assert_int_equal(zeus_monitor_begin_window(m, "z", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "z", false, false, &r), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "Was expecting a, not z.");
    assert_int_equal(zeus_monitor_begin_window(m, "b", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "b", false, false, &r), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "replay.csv:3: expected 5 fields, found 4");
    assert_int_equal(zeus_monitor_begin_window(m, "c", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "c", false, false, &r), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "replay.csv:4: column 3: 'x' is not a number");
    assert_int_equal(zeus_monitor_begin_window(m, "d", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "d", false, false, &r), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "No more lines in the log file.");
    zeus_monitor_close(m);

    /* Without name matching, rows are consumed in end order whatever their names. */
    assert_int_equal(zeus_monitor_open_replay(NULL, log, false, &m), ZEUS_OK);
    assert_int_equal(zeus_monitor_begin_window(m, "other", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "other", false, false, &r), ZEUS_OK);
    assert_true(r.time_s == 2.0 && r.gpus[1].index == 2 && r.gpus[1].energy_j == 101.5);
    assert_true(r.total_energy_j == 201.5);
    zeus_monitor_close(m);
    free(log);

    log = zt_write(zt_dir, "bad.csv", "time,name\n");
    assert_int_equal(zeus_monitor_open_replay(NULL, log, true, &m), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "not a Zeus monitor log");
    free(log);
    log = zt_write(zt_dir, "bad.csv", "start_time,window_name,elapsed_time,power0\n");
    assert_int_equal(zeus_monitor_open_replay(NULL, log, true, &m), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "column 'power0' is not gpu<N>_energy");
    free(log);
    /* The original's log with no GPU ends its header with a comma. */
    log = zt_write(zt_dir, "none.csv", "start_time,window_name,elapsed_time,\n1.0,w,0.5,\n");
    assert_int_equal(zeus_monitor_open_replay(NULL, log, true, &m), ZEUS_OK);
    assert_int_equal(zeus_monitor_gpu_count(m), 0);
    assert_int_equal(zeus_monitor_begin_window(m, "w", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(m, "w", false, false, &r), ZEUS_OK);
    assert_true(r.time_s == 0.5);
    zeus_monitor_close(m);
    free(log);
    assert_int_equal(zeus_monitor_open_replay(NULL, "/nonexistent.csv", true, &m), ZEUS_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_matches_ground_truth, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_short_window_flagged_or_approximated, zt_setup,
                                        zt_teardown),
        cmocka_unit_test_setup_teardown(test_sampled_power_integration, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_sampled_power_is_the_reading, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_lost_mid_window, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_counter_goes_backwards, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_energy, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_measurement_json, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_log, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_no_devices_time_only, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_cpu_and_dram, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_threads, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_sampler_ring_and_queries, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_sampler_infers_while_sampling, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_replay_errors, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
