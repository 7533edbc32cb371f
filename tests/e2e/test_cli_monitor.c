/* `zeus monitor energy|power` run as real processes, checked against simulated ground truth. */
#include "test_support.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static cJSON *parse_last_line(const char *out)
{
    const char *last = out, *p;
    for (p = out; *p; p++)
        if (*p == '\n' && p[1])
            last = p + 1;
    cJSON *j = cJSON_Parse(last);
    if (!j)
        fprintf(stderr, "not JSON: %s\n", last);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

/* Idle GPUs drawing a known power: energy = P x t within the counter's granularity. */
static void check_energy_of_sleep(double watts, double period_s)
{
    char *out, *err;
    /* The baseline: how long `sleep 1` takes as a child now. */
    char *sleep_argv[] = {"/bin/sleep", "1", NULL};
    double b0 = zt_now_s();
    assert_int_equal(zt_run(sleep_argv, NULL, NULL, 30), 0);
    double baseline = zt_now_s() - b0;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--json", "--", "sleep", "1", NULL),
                     0);
    cJSON *j = parse_last_line(out);
    double t = num(j, "time_s");
    if (!(t >= 1.0 && t < 1.5 * baseline))
        fprintf(stderr, "time_s %.3f, sleep 1 took %.3f s\n", t, baseline);
    assert_true(t >= 1.0 && t < 1.5 * baseline);
    assert_int_equal((int)num(j, "exit_code"), 0);
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(j, "gpus"))
    {
        double e = num(g, "energy_j");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(g, "method")->valuestring, "counter");
        /* The counter lags by up to one update at each end; allow 5 ms more for the time
         * between reading the clock and reading the counter on a loaded machine. */
        double bound = watts * (period_s + 0.005);
        if (fabs(e - watts * t) > bound)
            fprintf(stderr, "energy %f, truth %f\n", e, watts * t);
        assert_true(fabs(e - watts * t) <= bound);
        /* Measured, not assumed: not a quarter below the configured period, and above it by at
         * most a quarter more than 1 ms sleeps (its polling) are late now. */
        double measured_period = num(g, "update_period_s");
        double scale = zt_sleep_scale(0.001, 20);
        if (!(measured_period > 0.75 * period_s && measured_period < 1.25 * period_s * scale))
            fprintf(stderr, "period %.4f s for %.3f, 1 ms sleeps %.2f times late\n",
                    measured_period, period_s, scale);
        assert_true(measured_period > 0.75 * period_s && measured_period < 1.25 * period_s * scale);
    }
    cJSON_Delete(j);
    free(out);
    free(err);
}

static void test_energy_fake_nvml(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA V100\", \"architecture\": \"volta\", "
                             "\"min_power_limit_w\": 100, \"max_power_limit_w\": 250, "
                             "\"idle_power_w\": 40, \"energy_update_ms\": 100, \"count\": 2}]}");
    check_energy_of_sleep(40.0, 0.1);
}

static void test_energy_sim(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    check_energy_of_sleep(30.0, 0.02); /* default sim: A40 idle 30 W, 20 ms counter */
}

static void check_power_integration(double watts)
{
    char *out, *err;
    char *csv = zt_path(zt_dir, "power.csv");
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--duration", "1", "--update-period",
                             "0.01", "--json", "--csv", csv, NULL),
                     0);
    cJSON *j = parse_last_line(out);
    double t = num(j, "total_time_s");
    assert_true(t >= 0.99 && t < 1.3);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "total_energy_j");
    assert_non_null(e);
    const cJSON *g;
    cJSON_ArrayForEach(g, e)
    {
        double truth = watts * t;
        assert_true(fabs(g->valuedouble - truth) / truth < 0.01);
    }
    cJSON_Delete(j);
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_true(lines >= 20); /* a JSON line per sample printed (fewer if the machine is busy) */
    char *text = zt_read(csv);
    assert_non_null(text);
    assert_true(strncmp(text, "time,gpu0_power_w", 17) == 0);
    free(text);
    free(csv);
    free(out);
    free(err);
}

static void test_power_fake_nvml(void **state)
{
    (void)state;
    /* Pre-Volta with a steady load: 25 + 0.5 x (232.5 - 25) = 128.75 W. */
    zt_use_fake_nvml(zt_dir,
                     "{\"gpus\": [{\"name\": \"Tesla P100\", \"architecture\": \"pascal\", "
                     "\"min_power_limit_w\": 125, \"max_power_limit_w\": 250, \"load\": 0.5}]}");
    check_power_integration(128.75);
}

static void test_power_sim(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    check_power_integration(30.0);
}

static void test_exit_codes(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--", "sh", "-c", "exit 7", NULL), 7);
    assert_contains(out, "Measurement(time=");
    free(out);
    free(err);
    assert_int_equal(
        zt_zeus(&out, &err, "monitor", "energy", "--", "sh", "-c", "kill -TERM $$", NULL), 143);
    assert_contains(out, "Total energy (J):");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--", "no-such-command-zeus", NULL),
                     127);
    assert_contains(err, "cannot run 'no-such-command-zeus': No such file or directory");
    free(out);
    free(err);
}

static void test_bad_usage(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "monitor", NULL), 2);
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--gpu-indices", "x", NULL), 2);
    assert_contains(err, "--gpu-indices: 'x' is not a list of indices");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--update-period", "-1", NULL), 2);
    assert_contains(err, "--update-period: '-1' is not a positive number of seconds");
    free(out);
    free(err);
    assert_int_equal(
        zt_zeus(&out, &err, "monitor", "energy", "--gpu-indices", "0", "9", "--", "true", NULL), 3);
    assert_contains(err, "GPU 9 does not exist");
    free(out);
    free(err);
    setenv("ZEUS_DEVICE", "none", 1);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--duration", "0.1", NULL), 3);
    assert_contains(err, "no GPU to sample");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--help", NULL), 0);
    assert_contains(out, "usage: zeus monitor energy");
    free(out);
    free(err);
}

/* Starts zeus with output to files, sends sig after delay_s, returns the exit status. */
static int run_and_signal(char *const args[], int sig, double delay_s, char **out)
{
    char *out_path = zt_path(zt_dir, "out.txt");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(ZEUS_CLI_PATH, args);
        _exit(126);
    }
    struct timespec ts = {(time_t)delay_s, (long)((delay_s - (time_t)delay_s) * 1e9)};
    nanosleep(&ts, NULL);
    kill(pid, sig);
    int status = 0;
    for (int i = 0; i < 500; i++) { /* at most 5 s */
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(10000);
        if (i == 499) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    *out = zt_read(out_path);
    free(out_path);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void test_signals(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *out;
    /* Without a command: measure until SIGINT. */
    char *until_ctrl_c[] = {(char *)ZEUS_CLI_PATH, "monitor", "energy", NULL};
    assert_int_equal(run_and_signal(until_ctrl_c, SIGINT, 0.5, &out), 0);
    assert_contains(out, "Total energy (J):");
    free(out);
    /* With a command: SIGTERM to zeus reaches the command, zeus reports and exits like it. */
    char *wrapped[] = {(char *)ZEUS_CLI_PATH, "monitor", "energy", "--", "sleep", "30", NULL};
    assert_int_equal(run_and_signal(wrapped, SIGTERM, 0.5, &out), 128 + SIGTERM);
    assert_contains(out, "Measurement(time=0.");
    free(out);
    /* monitor power stops on SIGINT and prints totals. */
    char *power[] = {(char *)ZEUS_CLI_PATH, "monitor", "power", "--update-period", "0.1", NULL};
    assert_int_equal(run_and_signal(power, SIGINT, 0.5, &out), 0);
    assert_contains(out, "Total time (s): 0.");
    assert_contains(out, "Total energy (J): {'GPU0': ");
    free(out);
}

/* CPU power from RAPL: a test writes the package counter at 10 W (and DRAM at 2 W) while
 * `zeus monitor power --cpu-indices 0` samples it; wraparound included. */
static void test_power_cpu_rapl(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "none", 1);
    char *root = zt_path(zt_dir, "sysfs");
    mkdir(root, 0777);
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/name", "package-0\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "4000000\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "0\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/name", "dram\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/max_energy_range_uj",
                  "4000000\n"));
    free(zt_write(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/energy_uj", "0\n"));
    setenv("ZEUS_SYSFS_ROOT", root, 1);
    char *pkg = zt_path(root, "sys/class/powercap/intel-rapl:0/energy_uj");
    char *dram = zt_path(root, "sys/class/powercap/intel-rapl:0/intel-rapl:0:0/energy_uj");
    char *out_path = zt_path(zt_dir, "out.txt");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(ZEUS_CLI_PATH, ZEUS_CLI_PATH, "monitor", "power", "--cpu-indices", "0",
              "--update-period", "0.05", "--duration", "1.5", "--json", (char *)NULL);
        _exit(126);
    }
    /* Feed the counters in place (the backend keeps them open) until zeus exits. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double t = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) * 1e-9;
        char text[32];
        FILE *f = fopen(pkg, "r+");
        snprintf(text, sizeof text, "%llu\n", (unsigned long long)(10e6 * t) % 4000001ULL);
        fputs(text, f);
        fclose(f);
        f = fopen(dram, "r+");
        snprintf(text, sizeof text, "%llu\n", (unsigned long long)(2e6 * t) % 4000001ULL);
        fputs(text, f);
        fclose(f);
        usleep(2000);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *out = zt_read(out_path);
    assert_contains(out, "\"power_w\": {\"cpu0\": ");
    cJSON *j = parse_last_line(out);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "total_energy_j");
    double t = num(j, "total_time_s");
    /* 10 W over 1.5 s with three wraps of the 4 J package counter, 2 W on the DRAM counter
     * (no wrap). Both counters are written together from one clock, so their ratio is 5 however
     * this feeder is scheduled: a wrap missed or counted twice (4 J) breaks it. The totals
     * themselves depend on the feeder keeping up (the power at the edges is held flat over a
     * period, and a feeder stalled by a loaded machine makes the edge samples spiky: 12 % over
     * was seen in an ASan run, 28 % in a CI run with the AMD matrix beside it), so they are only
     * checked to be the right rate within 40 % (a wrong unit is far beyond; the ratio above
     * catches a wrap lost or counted twice). */
    double cpu = num(e, "cpu0"), dram_j = num(e, "dram0");
    if (fabs(cpu / dram_j - 5.0) > 0.05 || fabs(cpu - 10.0 * t) > 0.4 * 10.0 * t)
        fprintf(stderr, "cpu %f dram %f over %f s\n", cpu, dram_j, t);
    assert_true(fabs(cpu / dram_j - 5.0) <= 0.05);
    assert_true(fabs(cpu - 10.0 * t) <= 0.4 * 10.0 * t);
    cJSON_Delete(j);
    free(out);
    free(out_path);
    free(pkg);
    free(dram);
    free(root);
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    return n;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Starts zeus with stdout and stderr to dir/out.txt; returns its pid. */
static pid_t start_zeus(char *const args[])
{
    char *out_path = zt_path(zt_dir, "out.txt");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(ZEUS_CLI_PATH, args);
        _exit(126);
    }
    free(out_path);
    return pid;
}

/* --csv streams rows while sampling: they are in the file during the run, and a kill -9 keeps
 * them (the rows used to be kept in memory and written at exit). */
static void test_power_csv_streams(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *csv = zt_path(zt_dir, "power.csv");
    char *args[] = {
        (char *)ZEUS_CLI_PATH, "monitor", "power", "--update-period", "0.05", "--csv", csv, NULL};
    pid_t pid = start_zeus(args);
    sleep_s(1.5);
    char *during = zt_read(csv);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char *after = zt_read(csv);
    assert_non_null(during);
    assert_true(strncmp(during, "time,gpu0_power_w,gpu1_power_w,", 31) == 0);
    /* 30 samples so far, flushed at least every 0.5 s. */
    assert_true(count_lines(during) >= 10);
    assert_true(count_lines(after) >= count_lines(during));
    assert_true(strncmp(after, during, strlen(during)) == 0);
    free(during);
    free(after);
    free(csv);
}

/* --csv - writes the CSV to stdout and the report to stderr. */
static void test_power_csv_stdout(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--update-period", "0.1", "--duration",
                             "0.5", "--csv", "-", NULL),
                     0);
    assert_true(strncmp(out, "time,gpu0_power_w,gpu1_power_w,", 31) == 0);
    assert_true(count_lines(out) >= 4);
    assert_null(strstr(out, "Total"));
    assert_contains(err, "Total energy (J): {'GPU0': ");
    free(out);
    free(err);
}

/* A tiny period with a huge duration preallocates nothing (it used to size the ring for the
 * whole duration: an ASan abort, or "out of memory"). */
static void test_power_tiny_period(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *out;
    char *args[] = {(char *)ZEUS_CLI_PATH,
                    "monitor",
                    "power",
                    "--update-period",
                    "1e-9",
                    "--duration",
                    "1e9",
                    "--json",
                    NULL};
    assert_int_equal(run_and_signal(args, SIGINT, 1.0, &out), 0);
    assert_contains(out, "\"total_time_s\": ");
    free(out);
}

static double cpu_s(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1e-6;
}

/* A huge period sleeps instead of spinning: the time_t it converts to used to overflow, the
 * wait failed at once and counted as a timeout. */
static void test_power_huge_period(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *args[] = {(char *)ZEUS_CLI_PATH, "monitor", "power", "--update-period", "1e300", NULL};
    /* The baseline: a process that does spin, beside it for the same second, gets the CPU a
     * spinning zeus would get on this machine now (loaded or not, ASan or not). */
    pid_t spinner = fork();
    if (spinner == 0) {
        for (;;) {
        }
    }
    pid_t pid = start_zeus(args);
    sleep_s(1.0);
    kill(pid, SIGINT);
    kill(spinner, SIGKILL);
    int status;
    struct rusage ru, spun;
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(wait4(spinner, &status, 0, &spun), spinner);
    double cpu = cpu_s(&ru), spin = cpu_s(&spun);
    if (cpu >= 0.5 * spin)
        fprintf(stderr, "zeus used %.3f s of CPU in 1 s, a spinning process %.3f s\n", cpu, spin);
    assert_true(cpu < 0.5 * spin);
}

/* --log-file appends: earlier rows survive, the header is written once; a log with other
 * columns is refused. */
static void test_log_file_appends(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *log = zt_path(zt_dir, "energy.csv");
    char *out, *err;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            zt_zeus(&out, &err, "monitor", "energy", "--log-file", log, "--", "true", NULL), 0);
        free(out);
        free(err);
    }
    char *text = zt_read(log);
    assert_true(strncmp(text, "start_time,window_name,elapsed_time,gpu0_energy,", 48) == 0);
    assert_int_equal(count_lines(text), 3);
    assert_null(strstr(text + 1, "start_time"));
    free(text);
    free(zt_write(zt_dir, "other.csv", "start_time,window_name,elapsed_time,gpu7_energy\n"));
    char *other = zt_path(zt_dir, "other.csv");
    assert_int_equal(
        zt_zeus(&out, &err, "monitor", "energy", "--log-file", other, "--", "true", NULL), 1);
    assert_contains(err, "gpu7_energy");
    free(out);
    free(err);
    free(other);
    free(log);
}

/* Bad output paths fail before the work, naming the path. */
static void test_outputs_checked_first(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    char *out, *err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--duration", "5", "--csv", "", NULL),
                     1);
    assert_contains(err, "--csv: the output path is empty");
    free(out);
    free(err);
    assert_int_equal(
        zt_zeus(&out, &err, "monitor", "energy", "--log-file", zt_dir, "--", "sleep", "5", NULL),
        1);
    assert_contains(err, zt_dir);
    assert_contains(err, "is a directory");
    free(out);
    free(err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 3); /* neither ran its 5 s */
}

/* No usable GPU: monitor energy exits 3 like monitor power (it printed energy={} and 0). */
static void test_energy_no_gpu(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "none", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--", "true", NULL), 3);
    assert_contains(err, "no GPU to measure");
    free(out);
    free(err);
}

/* GPUs without an energy counter: the sampler infers its period while sampling, so the command
 * starts at once and zeus ends right after it (it used to spend 2 s inferring first). */
static void test_counterless_no_wait(void **state)
{
    (void)state;
    char *out, *err;
    /* The baseline: the same command on the default fake GPU, which has a counter (nothing to
     * infer), now. */
    zt_use_fake_nvml(zt_dir, NULL);
    double b0 = zt_now_s();
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--json", "--", "sleep", "0.3", NULL),
                     0);
    double baseline = zt_now_s() - b0;
    free(out);
    free(err);
    zt_use_fake_nvml(zt_dir,
                     "{\"gpus\": [{\"name\": \"Tesla P100\", \"architecture\": \"pascal\", "
                     "\"min_power_limit_w\": 125, \"max_power_limit_w\": 250, \"load\": 0.5}]}");
    double t0 = zt_now_s();
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--json", "--", "sleep", "0.3", NULL),
                     0);
    double wall = zt_now_s() - t0;
    /* 2.3 s before (2 s of inference, then the command): about 6 times the baseline. */
    if (wall >= 2 * baseline)
        fprintf(stderr, "took %.3f s, with a counter %.3f s\n", wall, baseline);
    assert_true(wall < 2 * baseline);
    cJSON *j = parse_last_line(out);
    const cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "gpus"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(g, "method")->valuestring, "sampled");
    double truth = 128.75 * num(j, "time_s");
    assert_true(fabs(num(g, "energy_j") - truth) / truth < 0.05);
    cJSON_Delete(j);
    free(out);
    free(err);
}

/* A GPU whose energy cannot be read prints as nan, not 0.0. */
static void test_unavailable_prints_nan(void **state)
{
    (void)state;
    /* On AMD the counter is read twice at open (its check against power) before it fails. */
    char config[200];
    snprintf(config, sizeof config,
             "{\"gpus\": [{\"errors\": {\"nvmlDeviceGetTotalEnergyConsumption\": "
             "{\"code\": \"GPU_IS_LOST\", \"after\": %d}}}, {}]}",
             zt_vendor_amd() ? 2 : 0);
    zt_use_fake_nvml(zt_dir, config);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--", "true", NULL), 0);
    assert_contains(out, "energy={0: nan, 1: ");
    /* AMD SMI has no "GPU lost" status: the fake AMD library reports an I/O error. */
    char lost[160];
    snprintf(lost, sizeof lost, "GPU 0 (NVIDIA A40, %s 0, 0000:01:00.0): not measured: %s",
             zt_vendor_amd() ? "AMDSMI" : "NVML", zeus_strerror(zt_vendor_lost_error()));
    assert_contains(out, lost);
    assert_contains(err, "GPU 0: energy unavailable in this window (at its start): ");
    assert_contains(err, zt_vendor_amd() ? "(AMD GPU 0)" : "(NVML GPU 0)");
    free(out);
    free(err);
}

/* --cross-check: a frozen counter (the fake's energy_counter_rate 0) is flagged, and with
 * fallback the sampled energy is reported instead of 0 J. */
static void test_energy_cross_check(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA V100\", \"architecture\": \"volta\", "
                             "\"min_power_limit_w\": 100, \"max_power_limit_w\": 250, "
                             "\"idle_power_w\": 40, \"energy_counter_rate\": 0}]}");
    setenv("ZEUS_FAKE_NVML_NOISE_W", "1", 1); /* a real sensor never reads one value */
    char *out, *err;
    if (zt_vendor_amd()) {
        /* The AMD backend checks its counter at open and samples power instead of a frozen
         * one, so there is no counter left to cross-check: the window says how it measured. */
        assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--", "sleep", "0.6", NULL), 0);
        assert_contains(out, "J by sampled");
        free(out);
        free(err);
        return;
    }
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--cross-check", "fallback", "--",
                             "sleep", "0.6", NULL),
                     0);
    assert_contains(out, "J by sampled");
    assert_contains(out, "cross-check: fell_back (counter 0.000 J, sampled power ");
    assert_contains(err, "disagree by more than their bounds");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--json", "--cross-check", "flag",
                             "--", "sleep", "0.6", NULL),
                     0);
    assert_contains(out, "\"cross_check\":{\"status\":\"disagree\"");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--cross-check", "on", NULL), 2);
    assert_contains(err, "--cross-check must be flag or fallback, not 'on'");
    free(out);
    free(err);
    unsetenv("ZEUS_FAKE_NVML_NOISE_W");
}

/* A full stdout is an error for every command (mknod copy of /dev/full as the child's stdout). */
static void test_full_stdout(void **state)
{
    (void)state;
    char *full = zt_mknod_copy(zt_dir, "full", "/dev/full");
    if (!full)
        zt_skip("cannot mknod a copy of /dev/full (not root, or no CAP_MKNOD)");
    setenv("ZEUS_DEVICE", "sim", 1);
    char *state_file = zt_path(zt_dir, "sim.state");
    setenv("ZEUS_SIM_STATE", state_file, 1);
    char *const commands[][10] = {
        {"--version", NULL},
        {"--help", NULL},
        {"show-env", NULL},
        {"power-limit", "get", NULL},
        {"power-limit", "set", "200", NULL},
        {"power-limit", "reset", NULL},
        {"monitor", "energy", "--", "true", NULL},
        {"monitor", "power", "--duration", "0.2", "--update-period", "0.05", NULL},
        {"monitor", "power", "--duration", "0.2", "--csv", "-", NULL},
        {"simulate", "single", "--trace-dir", ZEUS_DATA_DIR "/nsdi23-traces", NULL},
        {"demo", "--steps", "20", NULL},
    };
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        char *argv[12] = {(char *)ZEUS_CLI_PATH};
        for (int i = 0; commands[c][i]; i++)
            argv[i + 1] = commands[c][i];
        char *err;
        int rc = zt_run_to(argv, full, &err, 60.0);
        if (rc == 0 || !strstr(err, "standard output"))
            fprintf(stderr, "zeus %s %s: exit %d, stderr:\n%s\n", commands[c][0],
                    commands[c][1] ? commands[c][1] : "", rc, err);
        assert_int_not_equal(rc, 0);
        /* The reason, or (when a flush in the middle failed and stdio forgot why) that a
         * write failed; the CSV on stdout reports its own. */
        assert_contains(err, "standard output");
        assert_true(strstr(err, "No space left on device") ||
                    strstr(err, "cannot write to standard output: an earlier write failed"));
        free(err);
    }
    free(state_file);
    free(full);
}

/* A printer that falls behind (here: stdout is a full pipe nobody reads for 0.8 s) catches up
 * with every sample the sampler took instead of printing only the latest (issue 24 item 14):
 * consecutive rows stay about one period apart, never the 0.8 s the pipe was blocked. */
static void test_power_slow_reader_loses_no_rows(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "sim", 1);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int size = fcntl(fds[1], F_SETPIPE_SZ, 4096);
    assert_true(size >= 4096);
    /* Fill the pipe so the command's first write blocks until we read. */
    char pad[256];
    memset(pad, '#', sizeof pad - 1);
    pad[sizeof pad - 1] = '\n';
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    while (write(fds[1], pad, sizeof pad) == (ssize_t)sizeof pad)
        ;
    fcntl(fds[1], F_SETFL, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(ZEUS_CLI_PATH, "zeus", "monitor", "power", "--update-period", "0.05", "--duration",
              "1.5", "--json", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    usleep(800000);
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    ssize_t got;
    while ((got = read(fds[0], text + len, cap - 1 - len)) > 0) {
        len += (size_t)got;
        if (len + 1 == cap)
            text = realloc(text, cap *= 2);
    }
    text[len] = 0;
    close(fds[0]);
    assert_int_equal(zt_wait(pid, 30), 0);
    double prev = -1, max_gap = 0;
    int rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "{\"time\": ", 9) != 0)
            continue;
        double t = strtod(line + 9, NULL);
        if (prev >= 0 && t - prev > max_gap)
            max_gap = t - prev;
        prev = t;
        rows++;
    }
    free(text);
    assert_true(rows >= 10);
    /* The sampler runs on; only the printer was blocked. */
    if (max_gap >= 0.5)
        fail_msg("a gap of %.3f s between printed samples: rows were dropped", max_gap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_energy_fake_nvml, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_energy_cross_check, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_energy_sim, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_fake_nvml, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_sim, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_cpu_rapl, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_exit_codes, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_usage, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_signals, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_csv_streams, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_csv_stdout, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_tiny_period, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_slow_reader_loses_no_rows, zt_setup,
                                        zt_teardown),
        cmocka_unit_test_setup_teardown(test_power_huge_period, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_log_file_appends, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_outputs_checked_first, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_energy_no_gpu, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_counterless_no_wait, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_prints_nan, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_full_stdout, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
