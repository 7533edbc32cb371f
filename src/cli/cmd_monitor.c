/* zeus monitor energy | power: the original's `python -m zeus.monitor`, plus running a command. */
#include "cli/carbon.h"
#include "cli/cli.h"
#include "zeus/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ENERGY_WINDOW "zeus.monitor.energy"
#define LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Longest single wait for a signal; a longer period is waited in several (a time_t of 1e300
 * seconds does not exist). */
#define MAX_WAIT_S 86400.0
/* CSV rows are flushed at least this often (every row when samples come less often). */
#define CSV_FLUSH_S 0.5
/* --plot's picture size. */
#define PLOT_WIDTH_PX 960
#define PLOT_HEIGHT_PX 540

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void usage_energy(FILE *out)
{
    fprintf(
        out,
        "usage: zeus monitor energy [--gpu-indices I [I ...]] [--cpu-indices I [I ...]]\n"
        "                           [--log-file FILE] [--json] [--pushgateway URL [--job NAME]]\n"
        "                           [--carbon [--location LAT,LON|ZONE] [--carbon-api URL]\n"
        "                           [--price PER_KWH]]\n"
        "                           [--cross-check flag|fallback]\n"
        "                           [-- COMMAND [ARG ...]]\n\n"
        "Measure the time and energy of GPUs (and CPU packages) while COMMAND runs, or until\n"
        "Ctrl-C (SIGINT/SIGTERM) without one. COMMAND's signals are forwarded and zeus exits\n"
        "with COMMAND's status (128+N if it was killed by signal N; 127 if it cannot run).\n\n"
        "options:\n"
        "  --gpu-indices I...  GPUs to measure (framework indices; default all)\n"
        "  --cpu-indices I...  CPU packages to measure through RAPL (default none)\n"
        "  --log-file FILE     append the window to a CSV log (the original's format; the\n"
        "                      header is written to a new or empty file)\n"
        "  --json              print one JSON object\n"
        "  --pushgateway URL   push the window's time and energy to a Prometheus Pushgateway\n"
        "                      (http://HOST:PORT; docs/exporter.md), group job=NAME,\n"
        "                      window=" ENERGY_WINDOW "\n"
        "  --job NAME          the job label of the push (default zeus)\n"
        "  --carbon            also the grams of CO2eq: each UTC hour's share of the energy\n"
        "                      times that hour's grid carbon intensity (ElectricityMaps, cached\n"
        "                      on disk; docs/carbon.md); the energy is reported even when the\n"
        "                      intensity cannot be had\n"
        "  --location L        LAT,LON or an ElectricityMaps zone (default ZEUS_CARBON_LOCATION)\n"
        "  --carbon-api URL    the API's http:// or https:// base URL (https: libcurl4;\n"
        "                      default ZEUS_CARBON_API; none: the cache only)\n"
        "  --price PER_KWH     the cost at this flat price per kWh (default ZEUS_PRICE_PER_KWH)\n"
        "  --cross-check MODE  also sample power (every 0.05 s) and compare the counter's energy\n"
        "                      with its integral: flag (report a disagreement beyond both\n"
        "                      methods' bounds) or fallback (also use the sampled energy when\n"
        "                      the counter is shown wrong); docs/measurement.md\n"
        "  -h, --help          show this help\n\n"
        "example:\n"
        "  zeus monitor energy --cpu-indices 0 --log-file energy.csv -- python train.py\n");
}

static void usage_power(FILE *out)
{
    fprintf(out,
            "usage: zeus monitor power [--gpu-indices I [I ...]] [--cpu-indices I [I ...]]\n"
            "                          [--update-period S] [--duration S] [--csv FILE] [--json]\n"
            "                          [--plot FILE.svg|FILE.png [--windows LOG]]\n\n"
            "Stream GPU (and CPU) power every S seconds until Ctrl-C or --duration, then print\n"
            "the total time and energy (integrated from the samples).\n\n"
            "options:\n"
            "  --gpu-indices I...  GPUs to sample (default all)\n"
            "  --cpu-indices I...  CPU packages to sample through RAPL: package and DRAM power\n"
            "                      over each period (default none)\n"
            "  --update-period S   sampling and printing period in seconds (default 1.0)\n"
            "  --duration S        stop after S seconds (default: run until interrupted)\n"
            "  --csv FILE          write every sample to FILE as it is taken (time,\n"
            "                      gpu<i>_power_w,...,cpu<i>_power_w,dram<i>_power_w; flushed\n"
            "                      at least every 0.5 s); '-': standard output, and the report\n"
            "                      goes to standard error\n"
            "  --json              print JSON lines instead of text\n"
            "  --plot FILE         at the end, draw power per device over time (the latest\n"
            "                      65536 samples) as an SVG or PNG picture (by FILE's\n"
            "                      extension: .svg or .png; 960x540)\n"
            "  --windows LOG       mark the windows of a 'zeus monitor energy --log-file' LOG\n"
            "                      on the plot\n"
            "  -h, --help          show this help\n\n"
            "example:\n"
            "  zeus monitor power --update-period 0.1 --duration 60 --csv power.csv\n");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: zeus monitor {energy,power} [options]\n\n"
                 "commands:\n"
                 "  energy      time and energy of a command, or until Ctrl-C\n"
                 "  power       stream power samples\n\n"
                 "options:\n"
                 "  -h, --help  show this help ('zeus monitor energy --help' and 'zeus monitor\n"
                 "              power --help' list each command's options)\n\n"
                 "example:\n"
                 "  zeus monitor energy -- python train.py\n");
}

/* ---- options: one parser for both subcommands ---- */

enum {
    OPT_GPUS = 'g',
    OPT_CPUS = 'u',
    OPT_LOG = 'l',
    OPT_PERIOD = 'p',
    OPT_DURATION = 'd',
    OPT_CSV = 'c',
    OPT_JSON = 'j',
    OPT_PLOT = 'P',
    OPT_PUSH = 'G',
    OPT_JOB = 'J',
    OPT_WINDOWS = 'W',
    OPT_CHECK = 'X',
    OPT_CARBON = 'C',
    OPT_LOCATION = 'L',
    OPT_CARBON_API = 'A',
    OPT_PRICE = 'R',
    OPT_HELP = 'h'
};

typedef struct {
    const char *name;
    void (*usage)(FILE *out);
    const struct option *options;
    bool takes_command; /* arguments after the options (or "--") are a command */
} subcommand;

typedef struct {
    unsigned gpus[ZEUS_MAX_GPUS], cpus[ZEUS_MAX_CPUS];
    int gpu_count, cpu_count;
    bool json;
    const char *log_file, *csv, *plot, *windows, *push_url, *push_job;
    cli_plot_format plot_format;
    double period_s, duration_s;
    zeus_cross_check_mode cross_check;
    char **command;
    cli_carbon_args carbon;
} monitor_args;

static const struct option energy_options[] = {
    {"gpu-indices", required_argument, NULL, OPT_GPUS},
    {"cpu-indices", required_argument, NULL, OPT_CPUS},
    {"log-file", required_argument, NULL, OPT_LOG},
    {"json", no_argument, NULL, OPT_JSON},
    {"carbon", no_argument, NULL, OPT_CARBON},
    {"location", required_argument, NULL, OPT_LOCATION},
    {"carbon-api", required_argument, NULL, OPT_CARBON_API},
    {"price", required_argument, NULL, OPT_PRICE},
    {"pushgateway", required_argument, NULL, OPT_PUSH},
    {"job", required_argument, NULL, OPT_JOB},
    {"cross-check", required_argument, NULL, OPT_CHECK},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};
static const struct option power_options[] = {
    {"gpu-indices", required_argument, NULL, OPT_GPUS},
    {"cpu-indices", required_argument, NULL, OPT_CPUS},
    {"update-period", required_argument, NULL, OPT_PERIOD},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"csv", required_argument, NULL, OPT_CSV},
    {"json", no_argument, NULL, OPT_JSON},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"windows", required_argument, NULL, OPT_WINDOWS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};
static const subcommand energy_command = {"energy", usage_energy, energy_options, true};
static const subcommand power_command = {"power", usage_power, power_options, false};

static int parse_seconds(const char *option, const char *text, double *out)
{
    if (zeus_parse_double(text, out) != ZEUS_OK || !isfinite(*out) || *out <= 0)
        return cli_error(CLI_USAGE, "%s: '%s' is not a positive number of seconds", option, text);
    return CLI_OK;
}

/* An output named on the command line, checked before any work. */
static int check_output(const char *option, const char *path)
{
    if (zeus_output_check(path) != ZEUS_OK)
        return cli_error(CLI_FAIL, "%s: %s", option, zeus_last_error()); /* unwritable: 1 */
    return CLI_OK;
}

#define HELP_SHOWN (-1)

#define UNKNOWN_OPTION (-2)

/* One option (c, with optarg) into a; UNKNOWN_OPTION for one the subcommand does not take. */
static int take_option(const subcommand *sc, int c, int argc, char **argv, monitor_args *a)
{
    int rc = CLI_OK;
    switch (c) {
    case OPT_GPUS:
        rc = cli_take_indices("--gpu-indices", optarg, argc, argv, &optind, a->gpus, ZEUS_MAX_GPUS,
                              &a->gpu_count);
        break;
    case OPT_CPUS:
        rc = cli_take_indices("--cpu-indices", optarg, argc, argv, &optind, a->cpus, ZEUS_MAX_CPUS,
                              &a->cpu_count);
        break;
    case OPT_LOG:
        a->log_file = optarg;
        rc = check_output("--log-file", optarg);
        break;
    case OPT_CSV:
        a->csv = optarg;
        rc = check_output("--csv", optarg);
        break;
    case OPT_PLOT:
        a->plot = optarg;
        rc = cli_plot_format_of(optarg, &a->plot_format);
        if (rc == CLI_OK)
            rc = check_output("--plot", optarg);
        break;
    case OPT_WINDOWS:
        a->windows = optarg;
        break;
    case OPT_PUSH:
        a->push_url = optarg;
        break;
    case OPT_JOB:
        a->push_job = optarg;
        break;
    case OPT_CHECK:
        if (strcmp(optarg, "flag") == 0)
            a->cross_check = ZEUS_CROSS_CHECK_FLAG;
        else if (strcmp(optarg, "fallback") == 0)
            a->cross_check = ZEUS_CROSS_CHECK_FALLBACK;
        else
            rc =
                cli_error(CLI_USAGE, "monitor %s: --cross-check must be flag or fallback, not '%s'",
                          sc->name, optarg);
        break;
    case OPT_PERIOD:
        rc = parse_seconds("--update-period", optarg, &a->period_s);
        break;
    case OPT_DURATION:
        rc = parse_seconds("--duration", optarg, &a->duration_s);
        break;
    case OPT_JSON:
        a->json = true;
        break;
    case OPT_CARBON:
        a->carbon.enabled = true;
        break;
    case OPT_LOCATION:
        a->carbon.location = optarg;
        break;
    case OPT_CARBON_API:
        a->carbon.api_url = optarg;
        break;
    case OPT_PRICE:
        if (zeus_parse_double(optarg, &a->carbon.price_per_kwh) != ZEUS_OK ||
            !(a->carbon.price_per_kwh > 0) || !isfinite(a->carbon.price_per_kwh))
            rc = cli_error(CLI_USAGE, "--price: '%s' is not a positive price per kWh", optarg);
        break;
    default:
        return UNKNOWN_OPTION;
    }
    return rc;
}

/* What the options say together: the combinations that go together, the push target and the
 * price from the environment. */
static int check_args(const subcommand *sc, int argc, char **argv, monitor_args *a)
{
    if (a->push_job && !a->push_url)
        return cli_error(CLI_USAGE, "monitor %s: --job names the job of a --pushgateway push",
                         sc->name);
    if (a->push_url) { /* a typo found now, not after hours of measuring */
        zeus_push_target t;
        zeus_push_target_init(&t);
        t.url = a->push_url;
        t.job = a->push_job ? a->push_job : "zeus";
        if (zeus_push_target_check(&t) != ZEUS_OK)
            return cli_error(CLI_USAGE, "--pushgateway: %s", zeus_last_error());
    }
    if ((a->carbon.location || a->carbon.api_url || a->carbon.price_per_kwh > 0) &&
        !a->carbon.enabled)
        return cli_error(CLI_USAGE,
                         "monitor %s: --location, --carbon-api and --price go with "
                         "--carbon",
                         sc->name);
    if (a->carbon.enabled && a->carbon.price_per_kwh == 0 && getenv("ZEUS_PRICE_PER_KWH") &&
        (zeus_parse_double(getenv("ZEUS_PRICE_PER_KWH"), &a->carbon.price_per_kwh) != ZEUS_OK ||
         !(a->carbon.price_per_kwh > 0)))
        return cli_error(CLI_USAGE, "ZEUS_PRICE_PER_KWH='%s': not a positive price per kWh",
                         getenv("ZEUS_PRICE_PER_KWH"));
    if (a->windows && !a->plot)
        return cli_error(CLI_USAGE, "monitor %s: --windows marks windows on a --plot", sc->name);
    if (optind < argc && !sc->takes_command)
        return cli_error(CLI_USAGE, "monitor %s: unexpected argument '%s'", sc->name, argv[optind]);
    return CLI_OK;
}

/* Parses a subcommand's options; CLI_OK, HELP_SHOWN, or a printed usage error. */
static int parse_args(const subcommand *sc, int argc, char **argv, monitor_args *a)
{
    memset(a, 0, sizeof *a);
    a->gpu_count = -1;
    a->period_s = 1.0;
    int c, rc = CLI_OK;
    opterr = 0;
    optind = 1;
    /* "+": stop at the first non-option, which starts the command. */
    while (rc == CLI_OK &&
           (c = getopt_long(argc, argv, sc->takes_command ? "+h" : "h", sc->options, NULL)) != -1) {
        if (c == OPT_HELP) {
            sc->usage(stdout);
            return HELP_SHOWN;
        }
        rc = take_option(sc, c, argc, argv, a);
        if (rc == UNKNOWN_OPTION) {
            sc->usage(stderr);
            return cli_error(CLI_USAGE, "monitor %s: unknown option or missing value '%s'",
                             sc->name, argv[optind - 1]);
        }
    }
    if (rc != CLI_OK)
        return rc;
    if ((rc = check_args(sc, argc, argv, a)) != CLI_OK)
        return rc;
    a->command = optind < argc ? argv + optind : NULL;
    return CLI_OK;
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
    for (size_t i = 0; i < LEN(forwarded_signals); i++)
        sigaddset(set, forwarded_signals[i]);
    sigprocmask(SIG_BLOCK, set, old);
}

/* SIGINT and SIGTERM end a measurement: blocked before any thread starts (threads inherit the
 * mask), so that they are taken only by wait_signal() and never kill a sampler thread. */
static void block_stop_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
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
        for (size_t i = 0; i < LEN(forwarded_signals); i++)
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
    for (size_t i = 0; i < LEN(forwarded_signals); i++)
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

/* Waits for SIGINT or SIGTERM (blocked by block_stop_signals) or the timeout, when > 0.
 * Returns the signal, or 0 when the time is up (or after MAX_WAIT_S: the caller waits again). */
static int wait_signal(double timeout_s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    if (timeout_s > 0) {
        double t = timeout_s < MAX_WAIT_S ? timeout_s : MAX_WAIT_S;
        struct timespec ts = {(time_t)t, (long)((t - floor(t)) * 1e9)};
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

/* Opens the devices and refuses a request that has nothing to measure (exit code 3). */
static int open_devices(const monitor_args *a, const char *what, zeus_devices **d)
{
    int rc = zeus_devices_open(d);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "cannot open devices");
    if (zeus_gpu_count(*d) == 0 && a->cpu_count == 0) {
        zeus_devices_close(*d);
        *d = NULL;
        return cli_error(CLI_NODEV, "no GPU to %s (see 'zeus show-env')", what);
    }
    cli_put_back_gone(*d);
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
    unsigned gpus = zeus_measurement_gpu_count(r), cpus = zeus_measurement_cpu_count(r);
    /* The original's repr; an unavailable GPU prints as nan, never as a real-looking 0.0. */
    printf("Total energy (J):\nMeasurement(time=%s, energy={", fmt(zeus_measurement_time_s(r), a));
    for (unsigned i = 0; i < gpus; i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(r, i);
        printf("%s%u: %s", i ? ", " : "", g->index, fmt(g->energy_j, b));
    }
    printf("})\n");
    for (unsigned i = 0; i < gpus; i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(r, i);
        zeus_gpu_info info;
        char label[256];
        zeus_gpu_get_info(d, g->index, &info);
        cli_gpu_label(d, &info, label, sizeof label);
        if (g->error) {
            printf("  %s: not measured: %s\n", label, zeus_strerror(g->error));
            continue;
        }
        printf("  %s: %.3f J by %s", label, g->energy_j, zeus_energy_method_name(g->method));
        if (g->update_period_s > 0)
            printf(", updates every %.1f ms, worst-case error %.3f J", g->update_period_s * 1e3,
                   g->error_bound_j);
        printf("%s\n", g->below_resolution ? "  [below resolution: do not trust]" : "");
        double counter, sampled, allowed;
        zeus_cross_check_status st =
            zeus_measurement_gpu_cross_check(r, i, &counter, &sampled, &allowed);
        if (st != ZEUS_CHECK_NONE)
            printf("    cross-check: %s (counter %.3f J, sampled power %.3f J, allowed "
                   "difference %.3f J)\n",
                   zeus_cross_check_status_name(st), counter, sampled, allowed);
    }
    for (unsigned i = 0; i < cpus; i++) {
        const zeus_cpu_measurement *c = zeus_measurement_cpu(r, i);
        if (c->error)
            printf("  CPU %u: not measured: %s\n", c->index, zeus_strerror(c->error));
        else if (c->dram_valid)
            printf("  CPU %u: package %.3f J, DRAM %.3f J\n", c->index, c->package_j, c->dram_j);
        else
            printf("  CPU %u: package %.3f J\n", c->index, c->package_j);
    }
}

/* The library's JSON form of the measurement, plus the command's exit code. */
static int print_energy_json(const zeus_measurement *r, int exit_code, bool ran_command,
                             const char *member)
{
    char *text;
    int rc = zeus_measurement_to_json(r, &text);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "cannot format the measurement");
    size_t len = strlen(text); /* one object: "{...}" */
    printf("%.*s", (int)(len - 1), text);
    if (ran_command)
        printf(",\"exit_code\":%d", exit_code);
    printf("%s%s}\n", member ? "," : "", member ? member : "");
    zeus_free(text);
    return CLI_OK;
}

/* Waits for the command (or Ctrl-C); returns the command's status, or -1 (message printed). */
static int wait_for_work(const monitor_args *a)
{
    if (a->command)
        return run_command(a->command);
    if (!a->json)
        fprintf(stderr, "zeus: measuring until Ctrl-C...\n");
    wait_signal(0);
    return 0;
}

static int monitor_energy(int argc, char **argv)
{
    monitor_args a;
    int rc = parse_args(&energy_command, argc, argv, &a);
    if (rc != CLI_OK)
        return rc == HELP_SHOWN ? CLI_OK : rc;
    if (!a.command)
        block_stop_signals();
    zeus_devices *d;
    if ((rc = open_devices(&a, "measure", &d)) != CLI_OK)
        return rc;
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.gpu_indices = a.gpus;
    o.gpu_count = a.gpu_count;
    o.cpu_indices = a.cpus;
    o.cpu_count = a.cpu_count;
    o.log_file = a.log_file;
    o.log_append = true; /* the help has always said "append" */
    zeus_monitor *m = NULL;
    zeus_sampler *sampler = NULL; /* --cross-check */
    zeus_measurement *r = zeus_measurement_new();
    cli_carbon *carbon = NULL;
    char *carbon_text = NULL;
    int carbon_rc = CLI_OK, result = CLI_FAIL;
    if (!r) {
        result = cli_error(CLI_FAIL, "out of memory");
        goto done;
    }
    if ((rc = zeus_monitor_open(d, &o, &m)) != ZEUS_OK) {
        result =
            cli_lib_error(rc == ZEUS_ENODEV ? CLI_NODEV : CLI_FAIL, rc, "cannot start the monitor");
        goto done;
    }
    if (a.cross_check != ZEUS_CROSS_CHECK_OFF) {
        zeus_sampler_options so;
        zeus_sampler_options_init(&so);
        so.gpu_indices = a.gpus;
        so.gpu_count = a.gpu_count;
        so.period_s = 0.05; /* the sampled bound: two periods at the maximum power */
        if ((rc = zeus_sampler_start(d, &so, &sampler)) != ZEUS_OK ||
            (rc = zeus_monitor_cross_check(m, sampler, a.cross_check)) != ZEUS_OK) {
            result = cli_lib_error(CLI_FAIL, rc, "--cross-check");
            goto done;
        }
    }
    if ((rc = zeus_monitor_begin_window(m, ENERGY_WINDOW, false)) != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "cannot begin measuring");
        goto done;
    }
    if (a.carbon.enabled && (result = cli_carbon_start(m, &a.carbon, &carbon)) != CLI_OK)
        goto done;
    result = CLI_FAIL;
    int exit_code = wait_for_work(&a);
    if (exit_code < 0) {
        result = 127; /* as shells do for a command that cannot run */
        goto done;
    }
    zeus_monitor_wait_update_period(m); /* so the report can say how fine the counter is */
    cli_carbon_stop(carbon);            /* its last hour ends with the window */
    if ((rc = zeus_monitor_end_window(m, ENERGY_WINDOW, false, false, r)) != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "cannot end the measurement");
        goto done;
    }
    if (carbon)
        carbon_rc = cli_carbon_report(carbon, &a.carbon, r, a.json, &carbon_text);
    if (a.json && print_energy_json(r, exit_code, a.command != NULL, carbon_text) != CLI_OK)
        goto done;
    if (!a.json)
        print_energy_text(d, r);
    if (!a.json && carbon_text)
        fputs(carbon_text, stdout);
    result = a.command ? exit_code : CLI_OK;
    if (zeus_measurement_log_failed(r) && result == CLI_OK)
        result = CLI_FAIL; /* the warning said why */
    if (carbon_rc != CLI_OK && result == CLI_OK)
        result = carbon_rc; /* the measurement is printed; the reason too */
    if (a.push_url) {
        zeus_push_target t;
        zeus_push_target_init(&t);
        t.url = a.push_url;
        t.job = a.push_job ? a.push_job : "zeus";
        if ((rc = zeus_push_measurement(&t, ENERGY_WINDOW, r)) != ZEUS_OK) {
            int failed = cli_lib_error(CLI_FAIL, rc, "--pushgateway");
            result = result == CLI_OK ? failed : result;
        }
    }
done:
    cli_carbon_free(carbon);
    free(carbon_text);
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    zeus_sampler_stop(sampler);
    zeus_devices_close(d);
    return result;
}

/* ---- power ---- */

/* One value per sampler column, as the original prints them ({'GPU0': 30.0, 'CPU0': 12.5})
 * or as a JSON object ({"gpu0": 30.0, "cpu0": 12.5}). */
static void print_columns(FILE *out, const zeus_sampler *s, const double *values, bool json)
{
    char a[ZEUS_DOUBLE_BUF];
    fputc('{', out);
    for (unsigned i = 0; i < zeus_sampler_column_count(s); i++) {
        const char *name = zeus_sampler_column_name(s, i);
        bool known = !isnan(values[i]);
        if (json) {
            fprintf(out, "%s\"%s\": %s", i ? ", " : "", name, known ? fmt(values[i], a) : "null");
        } else {
            fprintf(out, "%s'", i ? ", " : "");
            for (const char *c = name; *c; c++)
                fputc(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c, out);
            fprintf(out, "': %s", fmt(values[i], a));
        }
    }
    fputc('}', out);
}

static void print_power_sample(FILE *out, const zeus_sampler *s, const double *w, double t,
                               bool json)
{
    char a[ZEUS_DOUBLE_BUF];
    if (json) {
        fprintf(out, "{\"time\": %s, \"power_w\": ", fmt(t, a));
        print_columns(out, s, w, json);
        fprintf(out, "}\n");
    } else {
        time_t secs = (time_t)t;
        struct tm tm;
        localtime_r(&secs, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(out, "%s.%06ld ", stamp, (long)((t - floor(t)) * 1e6));
        print_columns(out, s, w, json);
        fputc('\n', out);
    }
    fflush(out);
}

static void print_power_totals(FILE *out, const zeus_sampler *s, double time_s,
                               const double *energy, bool json)
{
    char a[ZEUS_DOUBLE_BUF];
    if (json) {
        fprintf(out, "{\"total_time_s\": %s", fmt(time_s, a));
        if (energy) {
            fprintf(out, ", \"total_energy_j\": ");
            print_columns(out, s, energy, json);
        }
        fprintf(out, "}\n");
    } else {
        fprintf(out, "\nTotal time (s): %s\n", fmt(time_s, a));
        if (energy) {
            fprintf(out, "Total energy (J): ");
            print_columns(out, s, energy, json);
            fputc('\n', out);
        }
    }
    fflush(out);
}

/* The --csv stream, written by the sampling thread as each sample is taken. */
typedef struct {
    zeus_output *out;
    bool header_done;
    atomic_bool failed; /* read by the main thread, which then stops */
} csv_stream;

static void write_csv_row(const zeus_sampler *s, double t, const double *power_w, void *user)
{
    csv_stream *c = user;
    if (atomic_load(&c->failed))
        return;
    char a[ZEUS_DOUBLE_BUF];
    unsigned n = zeus_sampler_column_count(s);
    int rc = ZEUS_OK;
    if (!c->header_done) {
        c->header_done = true;
        if (zeus_output_started_empty(c->out)) {
            rc = zeus_output_printf(c->out, "time");
            for (unsigned i = 0; i < n && rc == ZEUS_OK; i++)
                rc = zeus_output_printf(c->out, ",%s_power_w", zeus_sampler_column_name(s, i));
            if (rc == ZEUS_OK)
                rc = zeus_output_printf(c->out, "\n");
        }
    }
    if (rc == ZEUS_OK)
        rc = zeus_output_printf(c->out, "%s", fmt(t, a));
    for (unsigned i = 0; i < n && rc == ZEUS_OK; i++) /* a failed reading: an empty cell */
        rc = zeus_output_printf(c->out, ",%s", isnan(power_w[i]) ? "" : fmt(power_w[i], a));
    if (rc == ZEUS_OK)
        rc = zeus_output_printf(c->out, "\n");
    if (rc != ZEUS_OK)
        atomic_store(&c->failed, true);
}

/* Prints every sample taken after *last, oldest first, so that a printer that fell behind (a
 * slow terminal or pipe, a loaded machine) catches up instead of skipping rows. The sampler's
 * ring (ZEUS_SAMPLER_DEFAULT_CAPACITY rows) holds minutes of samples at the finest period. */
static void print_new_samples(zeus_sampler *s, FILE *out, bool json, double *last)
{
    enum { BATCH = 64 };
    unsigned columns = zeus_sampler_column_count(s);
    double times[BATCH], *power = malloc(BATCH * (columns ? columns : 1) * sizeof *power);
    if (!power)
        return;
    for (;;) {
        size_t count = 0, k = 0;
        if (zeus_sampler_timeline(s, *last, BATCH, times, power, &count) != ZEUS_OK)
            break;
        while (k < count && times[k] <= *last) /* "at or after": the last one printed */
            k++;
        for (; k < count; k++) {
            print_power_sample(out, s, power + k * columns, times[k], json);
            *last = times[k];
        }
        if (count < BATCH)
            break;
    }
    free(power);
}

/* Prints the samples as they come, every period, until a signal, the duration, or a failed
 * CSV. */
static void power_loop(zeus_sampler *s, const monitor_args *a, FILE *report, csv_stream *csv)
{
    double start = zeus_steady_time_s(NULL), last_printed = -INFINITY;
    for (;;) {
        double left =
            a->duration_s > 0 ? start + a->duration_s - zeus_steady_time_s(NULL) : a->period_s;
        if (a->duration_s > 0 && left <= 0)
            break;
        if (wait_signal(left < a->period_s ? left : a->period_s) != 0)
            break;
        if (csv && atomic_load(&csv->failed))
            break;
        print_new_samples(s, report, a->json, &last_printed);
    }
    print_new_samples(s, report, a->json, &last_printed);
}

/* --plot: the sampler's timeline (and --windows' windows) as an SVG picture, or that picture
 * rasterized to a PNG. */
static int write_plot(zeus_sampler *s, const monitor_args *a)
{
    unsigned columns = zeus_sampler_column_count(s);
    size_t max = zeus_sampler_sample_count(s), count = 0, nwin = 0;
    double *times = calloc(max ? max : 1, sizeof *times);
    double *power = calloc((max ? max : 1) * columns, sizeof *power);
    const char *names[ZEUS_SAMPLER_MAX_COLUMNS];
    zeus_plot_window *windows = NULL;
    char *svg = NULL;
    unsigned char *png = NULL;
    size_t png_len = 0;
    int rc = times && power ? ZEUS_OK : ZEUS_ENOMEM, result = CLI_FAIL;
    if (rc == ZEUS_OK)
        rc = zeus_sampler_timeline(s, -INFINITY, max, times, power, &count);
    if (rc == ZEUS_OK && a->windows)
        rc = zeus_plot_read_windows(a->windows, &windows, &nwin);
    for (unsigned i = 0; i < columns; i++)
        names[i] = zeus_sampler_column_name(s, i);
    zeus_power_plot plot = {.times_s = times,
                            .power_w = power,
                            .count = count,
                            .column_count = columns,
                            .column_names = names,
                            .windows = windows,
                            .window_count = nwin,
                            .width_px = PLOT_WIDTH_PX,
                            .height_px = PLOT_HEIGHT_PX};
    if (rc == ZEUS_OK)
        rc = zeus_plot_power_svg(&plot, &svg);
    if (rc != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "--plot");
        goto done;
    }
    if (a->plot_format == CLI_PLOT_PNG &&
        cli_svg_to_png(svg, PLOT_WIDTH_PX, PLOT_HEIGHT_PX, &png, &png_len) != CLI_OK)
        goto done; /* it said why */
    rc = png ? zeus_write_file(a->plot, png, png_len) : zeus_write_file(a->plot, svg, strlen(svg));
    result = rc == ZEUS_OK ? CLI_OK : cli_lib_error(CLI_FAIL, rc, "--plot");
done:
    zeus_free(png);
    zeus_free(svg);
    zeus_free(windows);
    free(power);
    free(times);
    return result;
}

static int monitor_power(int argc, char **argv)
{
    monitor_args a;
    int rc = parse_args(&power_command, argc, argv, &a);
    if (rc != CLI_OK)
        return rc == HELP_SHOWN ? CLI_OK : rc;
    block_stop_signals();
    zeus_devices *d;
    if ((rc = open_devices(&a, "sample", &d)) != CLI_OK)
        return rc;
    /* With the CSV on stdout, the report goes to stderr (as zeus simulate does). */
    FILE *report = a.csv && strcmp(a.csv, "-") == 0 ? stderr : stdout;
    int result = CLI_FAIL;
    zeus_sampler *s = NULL;
    csv_stream csv = {0};
    if (a.csv && (rc = zeus_output_open(a.csv, 0, &csv.out)) != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "--csv");
        goto done;
    }
    if (csv.out) /* a row reaches the file within CSV_FLUSH_S + the period, or at once */
        zeus_output_set_flush_interval(csv.out, a.period_s >= CSV_FLUSH_S ? 0 : CSV_FLUSH_S);
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.gpu_indices = a.gpus;
    so.gpu_count = zeus_gpu_count(d) == 0 ? 0 : a.gpu_count;
    so.cpu_indices = a.cpus;
    so.cpu_count = a.cpu_count;
    so.period_s = a.period_s;
    so.on_sample = csv.out ? write_csv_row : NULL;
    so.on_sample_user = &csv;
    if ((rc = zeus_sampler_start(d, &so, &s)) != ZEUS_OK) {
        result = cli_lib_error(rc == ZEUS_ENODEV ? CLI_NODEV : CLI_FAIL, rc,
                               "cannot start the power sampler");
        goto done;
    }
    power_loop(s, &a, report, csv.out ? &csv : NULL);
    double end = zeus_steady_time_s(NULL), start, energy[ZEUS_SAMPLER_MAX_COLUMNS];
    bool have_energy = zeus_sampler_total_energy(s, end, energy, &start) == ZEUS_OK;
    print_power_totals(report, s, end - start, have_energy ? energy : NULL, a.json);
    result = a.plot ? write_plot(s, &a) : CLI_OK;
done:
    zeus_sampler_stop(s); /* no more rows after this */
    if (csv.out && zeus_output_close(csv.out) != ZEUS_OK)
        result = cli_error(CLI_FAIL, "--csv: %s", zeus_last_error());
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
