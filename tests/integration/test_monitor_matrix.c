/* Spec 11.4: the original's ZeusMonitor case matrix, through the fake NVML and an injected
 * clock. 4 NVML GPUs; CUDA_VISIBLE_DEVICES unset or any non-empty subset; gpu_indices all or
 * any non-empty subset of the visible GPUs; every assignment of {Pascal, Volta, Ampere}.
 * The clock returns 4, 5, 6, ... (one per call); every Volta+ counter returns 1000, 1003, ...
 * mJ (one per read). A tick consumes one clock value and one read of every counter. */
#include "test_support.h"

#include "core/internal.h"
#include "monitor/monitor_internal.h" /* the measurement's fields, read directly */
#include "zeus/zeus.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const arch_names[] = {"pascal", "volta", "ampere"};

typedef struct {
    double next;
    pthread_t main_thread;
} test_clock;

/* The sampler thread (for pre-Volta GPUs) reads the clock too; it must not consume ticks. It
 * sees time 0, so no sample ever falls inside a window and sampled energy is 0 (flagged). */
static double clock_fn(void *user)
{
    test_clock *c = user;
    if (!pthread_equal(pthread_self(), c->main_thread))
        return 0.0;
    return c->next++;
}

typedef struct {
    zeus_devices *d;
    zeus_monitor *m;
    test_clock clock;
    unsigned arch[4];    /* per NVML GPU */
    unsigned visible[4]; /* framework index -> NVML index */
    unsigned nvisible;
    unsigned monitored[4]; /* framework indices */
    unsigned nmonitored;
} case_state;

static bool is_volta_plus(const case_state *c, unsigned framework_index)
{
    return c->arch[c->visible[framework_index]] != 0;
}

static void tick(case_state *c)
{
    clock_fn(&c->clock);
    for (unsigned i = 0; i < c->nvisible; i++) {
        /* Only the monitored GPUs' counters are read by windows; reading every Volta+ GPU's
         * counter per tick keeps them all in lock step, as the original's mocks do. */
        if (is_volta_plus(c, i)) {
            uint64_t mj;
            assert_int_equal(zeus_gpu_energy_mj(c->d, i, &mj), ZEUS_OK);
        }
    }
}

static void ticks(case_state *c, int n)
{
    while (n-- > 0)
        tick(c);
}

static void check(case_state *c, const zeus_measurement *r, double elapsed)
{
    assert_true(fabs(r->time_s - elapsed) < 1e-12);
    assert_int_equal(r->gpu_count, c->nmonitored);
    for (unsigned i = 0; i < c->nmonitored; i++) {
        const zeus_gpu_measurement *g = &r->gpus[i];
        assert_int_equal(g->index, c->monitored[i]);
        assert_int_equal(g->error, 0);
        if (is_volta_plus(c, g->index)) {
            assert_int_equal(g->method, ZEUS_METHOD_COUNTER);
            assert_true(fabs(g->energy_j - elapsed * 3 / 1000.0) < 1e-12);
        } else {
            assert_int_equal(g->method, ZEUS_METHOD_SAMPLED);
            assert_true(g->energy_j == 0.0 && g->below_resolution);
        }
    }
}

static void end(case_state *c, const char *name, double elapsed, double start, char *log,
                size_t log_size)
{
    zeus_measurement r;
    assert_int_equal(zeus_monitor_end_window(c->m, name, false, false, &r), ZEUS_OK);
    check(c, &r, elapsed);
    assert_true(r.start_time_s == start);
    /* Expected log row: start,name,elapsed,energies; the injected clock's whole ticks print as
     * integers, as the original's test expects of its patched time(). */
    char a[ZEUS_DOUBLE_BUF];
    size_t n = strlen(log);
    n += (size_t)snprintf(log + n, log_size - n, "%.0f,%s,%.0f", start, name, elapsed);
    for (unsigned i = 0; i < r.gpu_count; i++)
        n += (size_t)snprintf(log + n, log_size - n, ",%s",
                              zeus_format_double(r.gpus[i].energy_j, a, sizeof a));
    snprintf(log + n, log_size - n, "\n");
}

static void run_case(const char *dir, case_state *c)
{
    char config[1024] = "{\"gpus\": [";
    for (unsigned i = 0; i < 4; i++) {
        size_t n = strlen(config);
        snprintf(config + n, sizeof config - n,
                 "%s{\"architecture\": \"%s\", \"initial_energy_j\": 1.0, "
                 "\"energy_per_read_mj\": 3}",
                 i ? ", " : "", arch_names[c->arch[i]]);
    }
    strcat(config, "]}");
    zt_use_fake_nvml(dir, config);
    assert_int_equal(zt_open(&c->d), ZEUS_OK);
    assert_int_equal(zeus_gpu_count(c->d), c->nvisible);

    char *log_path = zt_path(dir, "monitor.csv");
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.gpu_indices = c->monitored;
    o.gpu_count = (int)c->nmonitored;
    o.log_file = log_path;
    o.clock = clock_fn;
    o.clock_user = &c->clock;
    o.measure_update_period = false;
    o.sampler_period_s = 0.05;
    c->clock.next = 4;
    c->clock.main_thread = pthread_self();
    assert_int_equal(zeus_monitor_open(c->d, &o, &c->m), ZEUS_OK);

    /* The sampler samples exactly the pre-Volta GPUs (the spec's PowerMonitor assertion). */
    zeus_sampler *s = zeus_monitor_sampler(c->m);
    unsigned old = 0;
    for (unsigned i = 0; i < c->nmonitored; i++)
        if (!is_volta_plus(c, c->monitored[i])) {
            assert_non_null(s);
            assert_int_equal(zeus_sampler_gpu_index(s, old++), c->monitored[i]);
        }
    if (old == 0)
        assert_null(s);
    else
        assert_int_equal(zeus_sampler_gpu_count(s), old);

    char expected[4096] = "start_time,window_name,elapsed_time";
    for (unsigned i = 0; i < c->nmonitored; i++) {
        size_t n = strlen(expected);
        snprintf(expected + n, sizeof expected - n, ",gpu%u_energy", c->monitored[i]);
    }
    strcat(expected, "\n");

    zeus_measurement r;
    assert_int_equal(zeus_monitor_begin_window(c->m, "window1", false), ZEUS_OK);
    tick(c);
    assert_int_equal(zeus_monitor_begin_window(c->m, "window1", false), ZEUS_EEXIST);
    assert_contains(zeus_last_error(), "already exists");
    end(c, "window1", 2, 4, expected, sizeof expected);

    ticks(c, 2);
    assert_int_equal(zeus_monitor_begin_window(c->m, "window2", false), ZEUS_OK);
    ticks(c, 3);
    end(c, "window2", 4, 9, expected, sizeof expected);
    assert_int_equal(zeus_monitor_end_window(c->m, "window2", false, false, &r), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "does not exist");
    assert_int_equal(zeus_monitor_end_window(c->m, "window3", false, false, &r), ZEUS_ENOENT);

    /* Overlapping windows. */
    assert_int_equal(zeus_monitor_begin_window(c->m, "window3", false), ZEUS_OK);
    tick(c);
    assert_int_equal(zeus_monitor_begin_window(c->m, "window4", false), ZEUS_OK);
    ticks(c, 2);
    end(c, "window3", 5, 14, expected, sizeof expected);
    ticks(c, 3);
    end(c, "window4", 7, 16, expected, sizeof expected);

    /* Nested windows. */
    assert_int_equal(zeus_monitor_begin_window(c->m, "window5", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_begin_window(c->m, "window6", false), ZEUS_OK);
    ticks(c, 2);
    end(c, "window6", 3, 25, expected, sizeof expected);
    ticks(c, 3);
    end(c, "window5", 8, 24, expected, sizeof expected);

    zeus_monitor_close(c->m);
    char *log = zt_read(log_path);
    assert_string_equal(log, expected);
    free(log);

    /* Replay: indices from the header, same windows give the same numbers. */
    zeus_monitor *replay;
    assert_int_equal(zeus_monitor_open_replay(NULL, log_path, true, &replay), ZEUS_OK);
    assert_int_equal(zeus_monitor_gpu_count(replay), c->nmonitored);
    for (unsigned i = 0; i < c->nmonitored; i++)
        assert_int_equal(zeus_monitor_gpu_index(replay, i), c->monitored[i]);
    static const char *const order[] = {"window1", "window2", "window3",
                                        "window4", "window6", "window5"};
    static const double times[] = {2, 4, 5, 7, 3, 8};
    for (unsigned w = 0; w < 6; w++) {
        assert_int_equal(zeus_monitor_begin_window(replay, order[w], false), ZEUS_OK);
        assert_int_equal(zeus_monitor_begin_window(replay, order[w], false), ZEUS_EEXIST);
        assert_contains(zeus_last_error(), "is already ongoing");
        assert_int_equal(zeus_monitor_end_window(replay, order[w], false, false, &r), ZEUS_OK);
        for (unsigned i = 0; i < c->nmonitored; i++)
            if (is_volta_plus(c, c->monitored[i]))
                assert_true(fabs(r.gpus[i].energy_j - times[w] * 3 / 1000.0) < 1e-12);
        assert_true(r.time_s == times[w]);
    }
    assert_int_equal(zeus_monitor_end_window(replay, "window1", false, false, &r), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "is not ongoing");
    zeus_monitor_close(replay);

    zeus_devices_close(c->d);
    free(log_path);
}

static unsigned cases_run;

static void test_matrix(void **state)
{
    (void)state;
    zt_clean_env();
    zeus_device_options_init(&zt_options);
    char *dir = zt_mkdtemp();
    /* Hold the fake library loaded so each case's open/close does not map it again. */
    void *keep = dlopen(ZEUS_FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(keep);
    /* Visible devices (CUDA_VISIBLE_DEVICES syntax): mask 0 = all, else the subset (ascending). */
    for (unsigned cvd = 0; cvd < 16; cvd++) {
        case_state c = {0};
        char env[32] = "";
        zt_options.visible_devices = cvd == 0 ? NULL : env;
        if (cvd == 0) {
            for (unsigned i = 0; i < 4; i++)
                c.visible[c.nvisible++] = i;
        } else {
            for (unsigned i = 0; i < 4; i++)
                if (cvd & (1u << i)) {
                    size_t n = strlen(env);
                    snprintf(env + n, sizeof env - n, "%s%u", c.nvisible ? "," : "", i);
                    c.visible[c.nvisible++] = i;
                }
        }
        /* gpu_indices: mask 0 = None (all), else a subset of visible positions. */
        for (unsigned sel = 0; sel < (1u << c.nvisible); sel++) {
            c.nmonitored = 0;
            for (unsigned i = 0; i < c.nvisible; i++)
                if (sel == 0 || (sel & (1u << i)))
                    c.monitored[c.nmonitored++] = i;
            for (unsigned archs = 0; archs < 81; archs++) {
                unsigned a = archs;
                for (unsigned i = 0; i < 4; i++, a /= 3)
                    c.arch[i] = a % 3;
                run_case(dir, &c);
                cases_run++;
            }
        }
    }
    dlclose(keep);
    zt_rmtree(dir);
    free(dir);
    assert_int_equal(cases_run, 96 * 81);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matrix)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
