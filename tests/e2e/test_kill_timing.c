/* Kill timing (issue 9): SIGINT/SIGTERM/SIGHUP at random moments to `zeus power-limit set` on 64
 * fake-NVML GPUs, to the optimizer example on simulated GPUs and to `zeus demo`, and kill -9 of
 * zeusd while a client changes GPUs (then the client dies too and zeusd is restarted); in every
 * trial every GPU must be restored or untouched (for `set`: all GPUs changed or none),
 * persistence mode back, and no process may hang. Bounded to a few seconds; bench/kill_timing.sh
 * runs many more trials. The seed is printed so that a failing trial can be replayed (ZT_SEED). */
#include "test_support.h"
#include "zeusd_rig.h"

#include "zeus/util.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLI_GPUS 64

static const int signals_sent[] = {SIGINT, SIGTERM, SIGHUP};

static char *write_state(const char *name, unsigned gpus, unsigned limit_mw)
{
    char text[CLI_GPUS * 64];
    size_t n = 0;
    for (unsigned i = 0; i < gpus; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "gpu %u limit_mw %u persistence 0\n", i,
                              limit_mw);
    return zt_write(zt_dir, name, text);
}

/* Counts GPUs at limit_mw and GPUs with persistence on in a state file. */
static void count_state(const char *path, unsigned limit_mw, unsigned *at, unsigned *persistent)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned idx, mw;
    int pers;
    *at = *persistent = 0;
    while (fscanf(f, "gpu %u limit_mw %u persistence %d\n", &idx, &mw, &pers) == 3) {
        *at += mw == limit_mw;
        *persistent += pers != 0;
    }
    fclose(f);
}

static unsigned seed(void)
{
    const char *env = getenv("ZT_SEED");
    unsigned s = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    fprintf(stderr, "kill timing: ZT_SEED=%u\n", s);
    return s;
}

static void test_power_limit_set(void **state)
{
    (void)state;
    char config[128];
    snprintf(config, sizeof config, "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": %d}]}",
             CLI_GPUS);
    zt_use_fake_nvml(zt_dir, config);
    char *path = zt_path(zt_dir, "fake_nvml.state");
    unsigned s = seed();
    /* Signals land within 1.2 x the time one uninterrupted set takes here (fsync-bound: tens to
     * hundreds of ms), counted from its start. */
    char *argv[] = {ZEUS_CLI_PATH, "power-limit", "set", "150", NULL};
    free(write_state("fake_nvml.state", CLI_GPUS, 280000));
    int64_t t0 = zeus_now_ns();
    assert_int_equal(zt_wait(zt_spawn(argv), 30), 0);
    unsigned window_us = (unsigned)((zeus_now_ns() - t0) / 1000 * 12 / 10) + 1;
    int outcomes[4] = {0, 0, 0, 0}; /* untouched, all changed, finished, rolled back */
    char *log = zt_path(zt_dir, "nvml.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1);
    for (int trial = 0; trial < 8; trial++) {
        free(write_state("fake_nvml.state", CLI_GPUS, 280000));
        unlink(log);
        int sig = signals_sent[rand_r(&s) % 3];
        useconds_t delay = (useconds_t)(rand_r(&s) % window_us);
        int pid = zt_spawn(argv);
        usleep(delay);
        kill(pid, sig);
        int status = zt_wait(pid, 10);
        assert_int_not_equal(status, -1); /* never hangs */
        unsigned before, after, persistent;
        count_state(path, 280000, &before, &persistent);
        count_state(path, 150000, &after, &persistent);
        if (!(before == CLI_GPUS || after == CLI_GPUS))
            fprintf(stderr, "trial %d: signal %d after %u us: %u GPUs untouched, %u changed\n",
                    trial, sig, (unsigned)delay, before, after);
        assert_true(before == CLI_GPUS || after == CLI_GPUS);
        /* Untouched at the end although some GPUs were set: rolled back mid-set. */
        char *calls = zt_read(log);
        bool changed_some = calls && strstr(calls, " 150000\n");
        free(calls);
        outcomes[status == 0 ? 2 : after == CLI_GPUS ? 1 : changed_some ? 3 : 0]++;
    }
    fprintf(stderr,
            "kill timing, power-limit set: %d untouched, %d rolled back mid-set, %d done then "
            "killed, %d finished\n",
            outcomes[0], outcomes[3], outcomes[1], outcomes[2]);
    free(log);
    free(path);
}

static void test_optimizer(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *path = write_state("sim.state", 4, 280000);
    setenv("ZEUS_SIM_STATE", path, 1);
    unsigned s = seed();
    for (int trial = 0; trial < 3; trial++) {
        free(write_state("sim.state", 4, 280000));
        int sig = signals_sent[rand_r(&s) % 3];
        /* Profiling starts after the period inference and the warmup: kill in that region. */
        useconds_t delay = 200000 + (useconds_t)(rand_r(&s) % 1300000);
        char *argv[] = {ZEUS_EXAMPLE_PL_LOOP_PATH, NULL};
        int pid = zt_spawn(argv);
        usleep(delay);
        kill(pid, sig);
        int status = zt_wait(pid, 10);
        assert_int_not_equal(status, -1);
        assert_int_equal(status, 128 + sig); /* the default action, re-raised after restoring */
        unsigned restored, persistent;
        count_state(path, 280000, &restored, &persistent);
        if (restored != 4 || persistent != 0)
            fprintf(stderr, "trial %d: signal %d after %u us: %u GPUs restored, %u persistent\n",
                    trial, sig, (unsigned)delay, restored, persistent);
        assert_int_equal(restored, 4);
        assert_int_equal(persistent, 0); /* persistence mode put back too (issue 9 item 14) */
    }
    free(path);
}

/* zeus demo (issue 17 item 2): a signal at any moment, profiling or the baseline at the
 * maximum, leaves every simulated GPU at the limit it started at with persistence mode off; a
 * run that is not interrupted ends there too (not at the maximum). */
static void test_demo(void **state)
{
    (void)state;
    /* The demo's GPUs with 1 ms steps: a whole run takes about a second. */
    char *config = zt_write(zt_dir, "demo.json",
                            "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"architecture\": "
                            "\"ampere\", \"min_power_limit_w\": 100, \"max_power_limit_w\": "
                            "300, \"static_power_w\": 60, \"step_time_ms\": 1, "
                            "\"energy_update_ms\": 1, \"count\": 2}]}");
    setenv("ZEUS_SIM_CONFIG", config, 1);
    char *path = write_state("sim.state", 2, 225000);
    setenv("ZEUS_SIM_STATE", path, 1);
    char *argv[] = {ZEUS_CLI_PATH, "demo", "--steps", "480", "--quiet", NULL};
    unsigned at, persistent, s = seed();
    int64_t t0 = zeus_now_ns();
    assert_int_equal(zt_wait(zt_spawn(argv), 60), 0);
    unsigned window_us = (unsigned)((zeus_now_ns() - t0) / 1000 * 11 / 10) + 1;
    count_state(path, 225000, &at, &persistent);
    assert_int_equal(at, 2); /* the comparison at the maximum was put back too */
    assert_int_equal(persistent, 0);
    for (int trial = 0; trial < 4; trial++) {
        free(write_state("sim.state", 2, 225000));
        int sig = signals_sent[rand_r(&s) % 3];
        useconds_t delay = (useconds_t)(rand_r(&s) % window_us);
        int pid = zt_spawn(argv);
        usleep(delay);
        kill(pid, sig);
        int status = zt_wait(pid, 20);
        assert_int_not_equal(status, -1);
        assert_true(status == 0 || status == 128 + sig);
        count_state(path, 225000, &at, &persistent);
        if (at != 2 || persistent != 0)
            fprintf(stderr, "demo trial %d: signal %d after %u us: %u GPUs back, %u persistent\n",
                    trial, sig, (unsigned)delay, at, persistent);
        assert_int_equal(at, 2);
        assert_int_equal(persistent, 0);
    }
    free(config);
    free(path);
}

/* A zeusd client: leases GPUs 0-3 one request each (150 W, persistence on), then waits. */
static pid_t zeusd_client(const char *sock)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid != 0)
        return pid;
    for (unsigned g = 0; g < 4; g++) {
        char t[160];
        zr_reply r;
        snprintf(t, sizeof t, "/gpu/set_power_limit?gpu_ids=%u&power_limit_mw=150000&block=true",
                 g);
        zr_request(sock, "POST", t, NULL, &r);
        zr_free(&r);
        snprintf(t, sizeof t, "/gpu/set_persistence_mode?gpu_ids=%u&enabled=true&block=true", g);
        zr_request(sock, "POST", t, NULL, &r);
        zr_free(&r);
    }
    for (;;)
        pause();
}

/* The daemon and client of the test below, stopped by its teardown also when an assertion
 * ends the test early (else they would outlive it). */
static zr_daemon zeusd;
static pid_t zeusd_client_pid;

static int teardown_zeusd(void **state)
{
    if (zeusd_client_pid > 0) {
        kill(zeusd_client_pid, SIGKILL);
        zt_wait(zeusd_client_pid, 10);
    }
    zeusd_client_pid = 0;
    if (zeusd.pid > 0 || zeusd.dir[0])
        zr_stop(&zeusd);
    memset(&zeusd, 0, sizeof zeusd);
    return zt_teardown(state);
}

/* zeusd killed with -9 at a random moment while a client changes four GPUs (the first trial
 * once all four are changed, so that at least one trial proves the put-back); the client dies
 * too; the restarted zeusd (same --state-dir) puts every GPU back before it answers. */
static void test_zeusd_kill9_restart(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    setenv("ZEUS_DEVICE", "nvml", 1);
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    char *path = zt_path(zt_dir, "fake_nvml.state");
    char *state_dir = zt_path(zt_dir, "zeusd-state");
    const char *args[] = {"--enable", "gpu-control,gpu-read", "--state-dir", state_dir, NULL};
    unsigned s = seed(), at, persistent;
    /* The window: one uninterrupted client run. */
    free(write_state("fake_nvml.state", 4, 280000));
    zr_start_argv(&zeusd, args);
    int64_t t0 = zeus_now_ns();
    zeusd_client_pid = zeusd_client(zeusd.sock);
    int64_t end = t0 + 10000000000LL;
    do {
        count_state(path, 150000, &at, &persistent);
        usleep(1000);
    } while (persistent < 4 && zeus_now_ns() < end);
    unsigned window_us = (unsigned)((zeus_now_ns() - t0) / 1000 * 12 / 10) + 1;
    kill(zeusd_client_pid, SIGKILL);
    zt_wait(zeusd_client_pid, 10);
    zeusd_client_pid = 0;
    assert_int_equal(zr_stop(&zeusd), 0);
    unsigned left_changed = 0; /* trials where the killed zeusd left GPUs changed */
    for (int trial = 0; trial < 4; trial++) {
        free(write_state("fake_nvml.state", 4, 280000));
        zr_start_argv(&zeusd, args);
        useconds_t delay = (useconds_t)(rand_r(&s) % window_us);
        zeusd_client_pid = zeusd_client(zeusd.sock);
        if (trial == 0) { /* once the client has changed all four GPUs */
            for (end = zeus_now_ns() + 10000000000LL; count_state(path, 150000, &at, &persistent),
                persistent < 4 && zeus_now_ns() < end;)
                usleep(1000);
        } else {
            usleep(delay);
        }
        kill(zeusd.pid, SIGKILL);
        assert_int_equal(zt_wait(zeusd.pid, 10), 128 + SIGKILL);
        zeusd.pid = 0;
        kill(zeusd_client_pid, SIGKILL);
        zt_wait(zeusd_client_pid, 10);
        zeusd_client_pid = 0;
        zr_stop(&zeusd);
        unsigned changed;
        count_state(path, 150000, &changed, &persistent);
        left_changed += changed > 0 || persistent > 0;
        zr_start_argv(&zeusd, args); /* returns once it answers */
        count_state(path, 280000, &at, &persistent);
        if (at != 4 || persistent != 0)
            fprintf(stderr,
                    "zeusd trial %d: killed after %u us (%u GPUs changed): %u back, %u "
                    "persistent\n",
                    trial, (unsigned)delay, changed, at, persistent);
        assert_int_equal(at, 4);
        assert_int_equal(persistent, 0);
        assert_int_equal(zr_stop(&zeusd), 0);
    }
    fprintf(stderr, "kill timing, zeusd kill -9 + restart: %u of 4 trials left GPUs changed\n",
            left_changed);
    assert_true(left_changed >= 1); /* the first trial: else nothing was proven */
    free(state_dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_power_limit_set, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_optimizer, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_demo, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_zeusd_kill9_restart, zt_setup, teardown_zeusd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
