/* zeus monitor energy | power: the original's `python -m zeus.monitor`, plus running a command. */
#include "cli/cli.h"
#include "core/internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ENERGY_WINDOW "zeus.monitor.energy"

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void usage_energy(FILE *out)
{
    fprintf(out,
            "usage: zeus monitor energy [--gpu-indices I [I ...]] [--cpu-indices I [I ...]]\n"
            "                           [--log-file FILE] [--json] [-- COMMAND [ARG ...]]\n\n"
            "Measure the time and energy of GPUs (and CPU packages) while COMMAND runs, or until\n"
            "Ctrl-C (SIGINT/SIGTERM) without one. COMMAND's signals are forwarded and zeus exits\n"
            "with COMMAND's status (128+N if it was killed by signal N; 127 if it cannot run).\n\n"
            "options:\n"
            "  --gpu-indices I...  GPUs to measure (framework indices; default all)\n"
            "  --cpu-indices I...  CPU packages to measure through RAPL (default none)\n"
            "  --log-file FILE     also append the window to a CSV log (the original's format)\n"
            "  --json              print one JSON object\n"
            "  -h, --help          show this help\n");
}

static void usage_power(FILE *out)
{
    fprintf(out,
            "usage: zeus monitor power [--gpu-indices I [I ...]] [--cpu-indices I [I ...]]\n"
            "                          [--update-period S] [--duration S] [--csv FILE] [--json]\n\n"
            "Stream GPU (and CPU) power every S seconds until Ctrl-C or --duration, then print\n"
            "the total time and energy (integrated from the samples).\n\n"
            "options:\n"
            "  --gpu-indices I...  GPUs to sample (default all)\n"
            "  --cpu-indices I...  CPU packages to sample through RAPL: package and DRAM power\n"
            "                      over each period (default none)\n"
            "  --update-period S   sampling and printing period in seconds (default 1.0)\n"
            "  --duration S        stop after S seconds (default: run until interrupted)\n"
            "  --csv FILE          write every sample to FILE (time,gpu<i>_power_w,...,\n"
            "                      cpu<i>_power_w,dram<i>_power_w) on exit\n"
            "  --json              print JSON lines instead of text\n"
            "  -h, --help          show this help\n");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: zeus monitor {energy,power} [options]\n\n"
                 "  energy  time and energy of a command, or until Ctrl-C\n"
                 "  power   stream power samples\n\n"
                 "Run 'zeus monitor energy --help' or 'zeus monitor power --help' for options.\n");
}

/* ---- signals ---- */

static volatile sig_atomic_t child_pid;

/* Forwards a signal someone sent to zeus; a terminal's Ctrl-C (SI_KERNEL) already reached the
 * whole foreground process group, so forwarding it again would deliver it twice. */
static void forward_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (child_pid > 0 && (!info || info->si_code != SI_KERNEL))
        kill((pid_t)child_pid, sig);
}

static void block_signals(sigset_t *set, sigset_t *old)
{
    sigemptyset(set);
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(forwarded_signals); i++)
        sigaddset(set, forwarded_signals[i]);
    sigprocmask(SIG_BLOCK, set, old);
}

/* Runs argv as a child; returns its exit status the shell way, or -1 if it could not be
 * started at all (message printed). */
static int run_command(char **argv)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return cli_error(-1, "pipe: %s", strerror(errno));
    sigset_t set, old;
    block_signals(&set, &old);
    pid_t pid = fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return cli_error(-1, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(pipefd[0]);
        for (size_t i = 0; i < ZEUS_ARRAY_LEN(forwarded_signals); i++)
            signal(forwarded_signals[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[0], argv);
        int err = errno;
        if (write(pipefd[1], &err, sizeof err) != (ssize_t)sizeof err) {
            /* nothing more we can do */
        }
        _exit(127);
    }
    close(pipefd[1]);
    child_pid = pid;
    struct sigaction sa = {0};
    sa.sa_sigaction = forward_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(forwarded_signals); i++)
        sigaction(forwarded_signals[i], &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);

    int exec_errno = 0;
    ssize_t n;
    while ((n = read(pipefd[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_pid = 0;
    if (n == (ssize_t)sizeof exec_errno)
        return cli_error(-1, "cannot run '%s': %s", argv[0], strerror(exec_errno));
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* Waits for SIGINT or SIGTERM (or the timeout, when > 0). Returns the signal, or 0. */
static int wait_signal(double timeout_s)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    int sig;
    if (timeout_s > 0) {
        struct timespec ts = {(time_t)timeout_s, (long)((timeout_s - floor(timeout_s)) * 1e9)};
        while ((sig = sigtimedwait(&set, NULL, &ts)) < 0 && errno == EINTR) {
        }
        if (sig < 0)
            sig = 0;
    } else {
        while (sigwait(&set, &sig) != 0) {
        }
    }
    return sig;
}

/* ---- shared set-up ---- */

static int open_devices(zeus_devices **d)
{
    int rc = zeus_devices_open(d);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "cannot open devices");
    return CLI_OK;
}

static char *fmt(double v, char *buf)
{
    return zeus_format_double(v, buf, ZEUS_DOUBLE_BUF);
}

/* ---- energy ---- */

static void print_energy_text(zeus_devices *d, const zeus_measurement *r)
{
    char a[ZEUS_DOUBLE_BUF], b[ZEUS_DOUBLE_BUF];
    printf("Total energy (J):\nMeasurement(time=%s, energy={", fmt(r->time_s, a));
    for (unsigned i = 0; i < r->gpu_count; i++)
        printf("%s%u: %s", i ? ", " : "", r->gpus[i].index, fmt(r->gpus[i].energy_j, b));
    printf("})\n");
    for (unsigned i = 0; i < r->gpu_count; i++) {
        const zeus_gpu_measurement *g = &r->gpus[i];
        zeus_gpu_info info;
        zeus_gpu_get_info(d, g->index, &info);
        if (g->error) {
            printf("  GPU %u (%s): not measured: %s\n", g->index, info.name,
                   zeus_strerror(g->error));
            continue;
        }
        printf("  GPU %u (%s): %.3f J by %s", g->index, info.name, g->energy_j,
               zeus_energy_method_name(g->method));
        if (g->update_period_s > 0)
            printf(", updates every %.1f ms, worst-case error %.3f J", g->update_period_s * 1e3,
                   g->error_bound_j);
        printf("%s\n", g->below_resolution ? "  [below resolution: do not trust]" : "");
    }
    for (unsigned i = 0; i < r->cpu_count; i++) {
        const zeus_cpu_measurement *c = &r->cpus[i];
        if (c->error)
            printf("  CPU %u: not measured: %s\n", c->index, zeus_strerror(c->error));
        else if (c->dram_valid)
            printf("  CPU %u: package %.3f J, DRAM %.3f J\n", c->index, c->package_j, c->dram_j);
        else
            printf("  CPU %u: package %.3f J\n", c->index, c->package_j);
    }
}

static void print_energy_json(const zeus_measurement *r, int exit_code, bool ran_command)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "time_s", r->time_s);
    cJSON_AddNumberToObject(o, "total_energy_j", r->total_energy_j);
    cJSON *gpus = cJSON_AddArrayToObject(o, "gpus");
    for (unsigned i = 0; i < r->gpu_count; i++) {
        const zeus_gpu_measurement *g = &r->gpus[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "index", g->index);
        cJSON_AddNumberToObject(j, "energy_j", g->energy_j);
        cJSON_AddStringToObject(j, "method", zeus_energy_method_name(g->method));
        cJSON_AddNumberToObject(j, "update_period_s", g->update_period_s);
        cJSON_AddNumberToObject(j, "updates", g->updates);
        cJSON_AddBoolToObject(j, "below_resolution", g->below_resolution);
        cJSON_AddNumberToObject(j, "error_bound_j", g->error_bound_j);
        if (g->error)
            cJSON_AddStringToObject(j, "error", zeus_strerror(g->error));
        cJSON_AddItemToArray(gpus, j);
    }
    cJSON *cpus = cJSON_AddArrayToObject(o, "cpus");
    for (unsigned i = 0; i < r->cpu_count; i++) {
        const zeus_cpu_measurement *c = &r->cpus[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "index", c->index);
        cJSON_AddNumberToObject(j, "package_j", c->package_j);
        if (c->dram_valid)
            cJSON_AddNumberToObject(j, "dram_j", c->dram_j);
        if (c->error)
            cJSON_AddStringToObject(j, "error", zeus_strerror(c->error));
        cJSON_AddItemToArray(cpus, j);
    }
    if (ran_command)
        cJSON_AddNumberToObject(o, "exit_code", exit_code);
    char *text = cJSON_PrintUnformatted(o);
    puts(text);
    free(text);
    cJSON_Delete(o);
}

static int monitor_energy(int argc, char **argv)
{
    static const struct option options[] = {{"gpu-indices", required_argument, NULL, 'g'},
                                            {"cpu-indices", required_argument, NULL, 'c'},
                                            {"log-file", required_argument, NULL, 'l'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    unsigned gpus[ZEUS_MAX_GPUS], cpus[ZEUS_MAX_CPUS];
    int gpu_count = -1, cpu_count = 0, json = 0, c, rc;
    const char *log_file = NULL;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (c) {
        case 'g':
            if ((rc = cli_take_indices("--gpu-indices", optarg, argc, argv, &optind, gpus,
                                       ZEUS_MAX_GPUS, &gpu_count)) != CLI_OK)
                return rc;
            break;
        case 'c':
            if ((rc = cli_take_indices("--cpu-indices", optarg, argc, argv, &optind, cpus,
                                       ZEUS_MAX_CPUS, &cpu_count)) != CLI_OK)
                return rc;
            break;
        case 'l':
            log_file = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            usage_energy(stdout);
            return CLI_OK;
        default:
            usage_energy(stderr);
            return cli_error(CLI_USAGE, "monitor energy: unknown option or missing value '%s'",
                             argv[optind - 1]);
        }
    }
    char **command = optind < argc ? argv + optind : NULL;

    zeus_devices *d;
    if ((rc = open_devices(&d)) != CLI_OK)
        return rc;
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.gpu_indices = gpus;
    o.gpu_count = gpu_count;
    o.cpu_indices = cpus;
    o.cpu_count = cpu_count;
    o.log_file = log_file;
    zeus_monitor *m = NULL;
    int result = CLI_FAIL;
    if ((rc = zeus_monitor_open(d, &o, &m)) != ZEUS_OK) {
        result =
            cli_lib_error(rc == ZEUS_ENODEV ? CLI_NODEV : CLI_FAIL, rc, "cannot start the monitor");
        goto done;
    }
    if ((rc = zeus_monitor_begin_window(m, ENERGY_WINDOW, false)) != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "cannot begin measuring");
        goto done;
    }
    int exit_code = 0;
    if (command) {
        exit_code = run_command(command);
        if (exit_code < 0) {
            result = 127; /* as shells do for a command that cannot run */
            goto done;
        }
    } else {
        if (!json)
            fprintf(stderr, "zeus: measuring until Ctrl-C...\n");
        wait_signal(0);
    }
    zeus_measurement r;
    zeus_monitor_wait_update_period(m); /* so the report can say how fine the counter is */
    if ((rc = zeus_monitor_end_window(m, ENERGY_WINDOW, false, false, &r)) != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "cannot end the measurement");
        goto done;
    }
    if (json)
        print_energy_json(&r, exit_code, command != NULL);
    else
        print_energy_text(d, &r);
    fflush(stdout);
    result = command ? exit_code : CLI_OK;
done:
    zeus_monitor_close(m);
    zeus_devices_close(d);
    return result;
}

/* ---- power ---- */

/* One value per sampler column, as the original prints them ({'GPU0': 30.0, 'CPU0': 12.5})
 * or as a JSON object ({"gpu0": 30.0, "cpu0": 12.5}). */
static void print_columns(const zeus_sampler *s, const double *values, int json)
{
    char a[ZEUS_DOUBLE_BUF];
    putchar('{');
    for (unsigned i = 0; i < zeus_sampler_column_count(s); i++) {
        const char *name = zeus_sampler_column_name(s, i);
        if (json) {
            printf("%s\"%s\": %s", i ? ", " : "", name, fmt(values[i], a));
        } else {
            printf("%s'", i ? ", " : "");
            for (const char *c = name; *c; c++)
                putchar(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
            printf("': %s", fmt(values[i], a));
        }
    }
    putchar('}');
}

static void print_power_sample(const zeus_sampler *s, const double *w, double t, int json)
{
    char a[ZEUS_DOUBLE_BUF];
    if (json) {
        printf("{\"time\": %s, \"power_w\": ", fmt(t, a));
        print_columns(s, w, json);
        printf("}\n");
    } else {
        time_t secs = (time_t)t;
        struct tm tm;
        localtime_r(&secs, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s.%06ld ", stamp, (long)((t - floor(t)) * 1e6));
        print_columns(s, w, json);
        putchar('\n');
    }
    fflush(stdout);
}

static int write_power_csv(zeus_sampler *s, const char *path, double since)
{
    unsigned n = zeus_sampler_column_count(s);
    size_t rows = zeus_sampler_sample_count(s);
    double *times = malloc((rows + 1) * sizeof *times);
    double *power = malloc((rows + 1) * n * sizeof *power);
    size_t cap = 64 + (rows + 1) * (n + 1) * 28, len = 0;
    char *buf = malloc(cap);
    int rc = ZEUS_ENOMEM;
    if (!times || !power || !buf)
        goto done;
    size_t got;
    zeus_sampler_timeline(s, since, rows, times, power, &got);
    len += (size_t)snprintf(buf + len, cap - len, "time");
    for (unsigned i = 0; i < n; i++)
        len +=
            (size_t)snprintf(buf + len, cap - len, ",%s_power_w", zeus_sampler_column_name(s, i));
    buf[len++] = '\n';
    char a[ZEUS_DOUBLE_BUF];
    for (size_t k = 0; k < got; k++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s", fmt(times[k], a));
        for (unsigned i = 0; i < n; i++)
            len += (size_t)snprintf(buf + len, cap - len, ",%s", fmt(power[k * n + i], a));
        buf[len++] = '\n';
    }
    rc = zeus__write_file_atomic(path, buf, len);
done:
    free(times);
    free(power);
    free(buf);
    return rc;
}

static int parse_seconds(const char *option, const char *text, double *out)
{
    if (zeus_parse_double(text, out) != ZEUS_OK || !isfinite(*out) || *out <= 0)
        return cli_error(CLI_USAGE, "%s: '%s' is not a positive number of seconds", option, text);
    return CLI_OK;
}

static int monitor_power(int argc, char **argv)
{
    static const struct option options[] = {{"gpu-indices", required_argument, NULL, 'g'},
                                            {"cpu-indices", required_argument, NULL, 'u'},
                                            {"update-period", required_argument, NULL, 'p'},
                                            {"duration", required_argument, NULL, 'd'},
                                            {"csv", required_argument, NULL, 'c'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    unsigned gpus[ZEUS_MAX_GPUS], cpus[ZEUS_MAX_CPUS];
    int gpu_count = -1, cpu_count = 0, json = 0, c, rc;
    double period = 1.0, duration = 0;
    const char *csv = NULL;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'g':
            if ((rc = cli_take_indices("--gpu-indices", optarg, argc, argv, &optind, gpus,
                                       ZEUS_MAX_GPUS, &gpu_count)) != CLI_OK)
                return rc;
            break;
        case 'u':
            if ((rc = cli_take_indices("--cpu-indices", optarg, argc, argv, &optind, cpus,
                                       ZEUS_MAX_CPUS, &cpu_count)) != CLI_OK)
                return rc;
            break;
        case 'p':
            if ((rc = parse_seconds("--update-period", optarg, &period)) != CLI_OK)
                return rc;
            break;
        case 'd':
            if ((rc = parse_seconds("--duration", optarg, &duration)) != CLI_OK)
                return rc;
            break;
        case 'c':
            csv = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            usage_power(stdout);
            return CLI_OK;
        default:
            usage_power(stderr);
            return cli_error(CLI_USAGE, "monitor power: unknown option or missing value '%s'",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_error(CLI_USAGE, "monitor power: unexpected argument '%s'", argv[optind]);

    zeus_devices *d;
    if ((rc = open_devices(&d)) != CLI_OK)
        return rc;
    int result = CLI_FAIL;
    zeus_sampler *s = NULL;
    if (zeus_gpu_count(d) == 0 && cpu_count == 0) {
        result = cli_error(CLI_NODEV, "no GPU to sample (see 'zeus show-env')");
        goto done;
    }
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.gpu_indices = gpus;
    so.gpu_count = zeus_gpu_count(d) == 0 ? 0 : gpu_count;
    so.cpu_indices = cpus;
    so.cpu_count = cpu_count;
    so.period_s = period;
    if (duration > 0 && duration / period + 16 > ZEUS_SAMPLER_DEFAULT_CAPACITY)
        so.capacity = (size_t)(duration / period) + 16; /* keep every sample for --csv */
    if ((rc = zeus_sampler_start(d, &so, &s)) != ZEUS_OK) {
        result = cli_lib_error(rc == ZEUS_ENODEV ? CLI_NODEV : CLI_FAIL, rc,
                               "cannot start the power sampler");
        goto done;
    }
    double start = zeus_steady_time_s(NULL), last_printed = -1;
    for (;;) {
        double left = duration > 0 ? start + duration - zeus_steady_time_s(NULL) : period;
        if (duration > 0 && left <= 0)
            break;
        if (wait_signal(left < period ? left : period) != 0)
            break;
        double w[ZEUS_SAMPLER_MAX_COLUMNS], t;
        if (zeus_sampler_get_power(s, NAN, w, &t) == ZEUS_OK && t != last_printed) {
            print_power_sample(s, w, t, json);
            last_printed = t;
        }
    }
    double end = zeus_steady_time_s(NULL);
    double energy[ZEUS_SAMPLER_MAX_COLUMNS];
    bool have_energy = zeus_sampler_get_energy(s, start, end, energy, NULL) == ZEUS_OK;
    char a[ZEUS_DOUBLE_BUF];
    if (json) {
        printf("{\"total_time_s\": %s", fmt(end - start, a));
        if (have_energy) {
            printf(", \"total_energy_j\": ");
            print_columns(s, energy, json);
        }
        printf("}\n");
    } else {
        printf("\nTotal time (s): %s\n", fmt(end - start, a));
        if (have_energy) {
            printf("Total energy (J): ");
            print_columns(s, energy, json);
            putchar('\n');
        }
    }
    fflush(stdout);
    result = CLI_OK;
    if (csv && (rc = write_power_csv(s, csv, start)) != ZEUS_OK)
        result = cli_lib_error(CLI_FAIL, rc, "cannot write the CSV file");
done:
    zeus_sampler_stop(s);
    zeus_devices_close(d);
    return result;
}

int cli_monitor(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return cli_error(CLI_USAGE, "monitor: choose 'energy' or 'power'");
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "energy") == 0)
        return monitor_energy(argc - 1, argv + 1);
    if (strcmp(argv[1], "power") == 0)
        return monitor_power(argc - 1, argv + 1);
    usage(stderr);
    return cli_error(CLI_USAGE, "monitor: unknown subcommand '%s'", argv[1]);
}
