/* zeus: command-line face of libzeus. Dispatches to one function per subcommand. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BSO_NEEDS                                                                                  \
    "zeus-bso, built with the zeus sources where libsqlite3, libpq and libmicrohttpd are found "   \
    "(Debian: libsqlite3-dev libpq-dev libmicrohttpd-dev)"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"show-env", cli_show_env, "show the library, backends, GPUs and CPUs Zeus sees"},
    {"monitor", cli_monitor, "measure energy of a command, or stream power"},
    {"demo", cli_demo, "optimize the power limit of a simulated training job"},
    {"power-limit", cli_power_limit, "show, set or reset GPU power limits"},
    {"simulate", cli_simulate, "replay the NSDI'23 traces with the batch-size optimizers"},
    {"pipeline-frequency", cli_pipeline_frequency,
     "per-instruction GPU frequencies of a pipeline (Perseus)"},
};

/* Commands that bring a server library are separate executables (zeus-NAME, run_external);
 * to the user they are commands like the others. */
static const struct {
    const char *name, *summary, *needs;
} external_commands[] = {
    {"run", "drive a recurring job's recurrences (batch-size optimizer)", BSO_NEEDS},
    {"history", "a recurring job's trials and the bandit's beliefs", BSO_NEEDS},
    {"bso", "bso serve: the batch-size optimizer service", BSO_NEEDS},
    {"exporter", "Prometheus metrics of every GPU and CPU",
     "zeus-exporter, built with the zeus sources where libmicrohttpd is found (Debian: "
     "libmicrohttpd-dev)"},
};

/* An external command's executable is installed beside this zeus (a wheel ships none). */
static bool external_installed(const char *name)
{
    char file[NAME_MAX + 1], path[PATH_MAX];
    return snprintf(file, sizeof file, "zeus-%s", name) < (int)sizeof file &&
           cli_find_helper(file, X_OK, path, sizeof path);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: zeus [--version] [--help] <command> [<args>]\n\n"
                 "Measure and cut the energy GPUs spend on deep learning.\n\ncommands:\n");
    /* One column for every command name, the longest included. */
    int width = 0;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        width = (int)strlen(commands[i].name) > width ? (int)strlen(commands[i].name) : width;
    for (size_t i = 0; i < sizeof external_commands / sizeof external_commands[0]; i++)
        width = (int)strlen(external_commands[i].name) > width
                    ? (int)strlen(external_commands[i].name)
                    : width;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-*s  %s\n", width, commands[i].name, commands[i].summary);
    for (size_t i = 0; i < sizeof external_commands / sizeof external_commands[0]; i++)
        fprintf(out, "  %-*s  %s%s\n", width, external_commands[i].name,
                external_commands[i].summary,
                external_installed(external_commands[i].name) ? "" : " (not in this installation)");
    fprintf(out, "\noptions:\n"
                 "  --version    print the version\n"
                 "  -h, --help   show this help\n\n"
                 "Run 'zeus <command> --help' for a command's options; the privileged daemon is\n"
                 "zeusd (docs/zeusd.md). Exit codes: 0 success, 1 failure, 2 usage error, 3 no\n"
                 "usable device. Environment: ZEUS_DEVICE (auto|nvml|amdsmi|jetson|sim|none),\n"
                 "ZEUS_NVML_LIBRARY, ZEUS_AMDSMI_LIBRARY, ROCM_PATH, ZEUS_SIM_CONFIG,\n"
                 "ZEUS_SYSFS_ROOT, CUDA_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES,\n"
                 "ZEUS_LOG_LEVEL (error|warn|info|debug).\n\n"
                 "example:\n"
                 "  zeus monitor energy -- python train.py\n");
}

/* Every command's report goes to stdout: a write that failed (a full disk, /dev/full, a closed
 * pipe's EPIPE) must not end in exit status 0 with the report lost. stdio keeps the error, so
 * checking once here, after the command and its final flush, covers every write. */
static int finish_stdout(int code)
{
    errno = 0;
    int err = fflush(stdout) != 0 ? errno : 0; /* else errno would be stale */
    int failed = err != 0 || ferror(stdout);
    if (fclose(stdout) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (!failed)
        return code;
    fprintf(stderr, "zeus: error: cannot write to standard output: %s\n",
            err ? strerror(err) : "an earlier write failed");
    return code == CLI_OK ? CLI_FAIL : code;
}

/* Faces that bring a server library (the exporter, the batch-size service) are separate
 * executables, as git's subcommands are: `zeus NAME ARGS` runs `zeus-NAME ARGS`, found by
 * cli_find_helper. Keeps the zeus command itself free of libmicrohttpd and libpq. */
static void run_external(char **argv)
{
    /* A command is a plain name: never a path, an option, or a file such as zeus-svg2png.so. */
    if (strpbrk(argv[0], "/.") || argv[0][0] == '-')
        return;
    char file[NAME_MAX + 1], path[PATH_MAX];
    if (snprintf(file, sizeof file, "zeus-%s", argv[0]) >= (int)sizeof file ||
        !cli_find_helper(file, X_OK, path, sizeof path))
        return;
    fflush(stdout);
    execv(path, argv);
    fprintf(stderr, "zeus: error: cannot run %s: %s\n", path, strerror(errno));
    _exit(CLI_FAIL);
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("zeus %s\n", zeus_version());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    run_external(argv + 1); /* returns only if there is no such command */
    for (size_t i = 0; i < sizeof external_commands / sizeof external_commands[0]; i++)
        if (strcmp(argv[1], external_commands[i].name) == 0)
            return cli_error(CLI_FAIL,
                             "'zeus %s' is not in this installation: it needs %s, installed "
                             "beside this zeus (cmake --install; README.md) -- a wheel (pip "
                             "install zeus) ships only the zeus command",
                             argv[1], external_commands[i].needs);
    fprintf(stderr, "zeus: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    cli_install_logger();
    return finish_stdout(run(argc, argv));
}
