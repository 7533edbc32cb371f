/* Helpers shared by the subcommands. */
#include "cli/cli.h"
#include "zeus/util.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_reads_hint(const zeus_devices *d)
{
    const char *gpu = zeus_devices_gpu_backend(d), *knob = zeus_devices_knob_backend(d);
    if (gpu && strcmp(gpu, "zeusd") == 0)
        return "the zeusd backend only changes GPU settings; reading GPUs (their count, limits, "
               "power and energy) needs NVIDIA's libnvidia-ml.so.1 in this process: install the "
               "NVIDIA driver (in a container: the NVIDIA Container Toolkit), leave ZEUS_DEVICE "
               "unset and set ZEUSD_SOCK_PATH, so zeusd carries out the changes";
    if (!gpu && knob && strcmp(knob, "zeusd") == 0) {
        /* Why NVML could not be loaded, here: power-limit prints no backend table above. */
        const char *why = "not loaded";
        zeus_backend_status s;
        for (size_t i = 0; i < zeus_devices_backend_count(d); i++)
            if (zeus_devices_backend(d, i, &s) == ZEUS_OK && s.kind == ZEUS_BACKEND_GPU &&
                strcmp(s.name, "nvml") == 0) {
                why = s.reason;
                break;
            }
        static char hint[1024]; /* the command is one thread */
        snprintf(hint, sizeof hint,
                 "zeusd is configured to carry out changes, but reading GPUs (their count, "
                 "limits, power and energy) needs NVIDIA's libnvidia-ml.so.1 in this process, "
                 "and it could not be loaded (nvml: %s): install the NVIDIA driver (in a "
                 "container: the NVIDIA Container Toolkit) or set ZEUS_NVML_LIBRARY to its path",
                 why);
        return hint;
    }
    return "";
}

const char *cli_gpu_backend_label(const zeus_devices *d)
{
    const char *backend = zeus_devices_gpu_backend(d);
    return !backend                         ? "device"
           : strcmp(backend, "nvml") == 0   ? "NVML"
           : strcmp(backend, "amdsmi") == 0 ? "AMDSMI"
                                            : backend;
}

const char *cli_gpu_label(const zeus_devices *d, const zeus_gpu_info *info, char *buf, size_t size)
{
    const char *shown = cli_gpu_backend_label(d);
    char pci[ZEUS_GPU_PCI_ADDRESS_LEN];
    bool has_pci = zeus_gpu_pci_address(d, info->index, pci, sizeof pci) == ZEUS_OK;
    snprintf(buf, size, "GPU %u (%s, %s %u%s%s)", info->index, info->name, shown,
             info->device_index, has_pci ? ", " : "", has_pci ? pci : "");
    return buf;
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("zeus: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_lib_error(int code, int rc, const char *what)
{
    const char *detail = zeus_last_error();
    return cli_error(code, "%s: %s", what, *detail ? detail : zeus_strerror(rc));
}

static void log_to_stderr(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    static const char *const prefix[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "zeus: %s: %s\n", prefix[level], message);
}

void cli_install_logger(void)
{
    zeus_set_log_callback(log_to_stderr, NULL);
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static int add_indices(const char *option, const char *text, unsigned *out, int max, int *count)
{
    size_t n = (size_t)*count;
    if (zeus_parse_index_list(text, out, (size_t)max, &n) != ZEUS_OK)
        return cli_error(CLI_USAGE, "%s: %s", option, zeus_last_error());
    *count = (int)n;
    return CLI_OK;
}

static int is_index_list(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != ',')
            return 0;
    return 1;
}

int cli_take_indices(const char *option, const char *first, int argc, char **argv, int *optind_io,
                     unsigned *out, int max, int *count)
{
    /* A list is never empty, so a positive count means the option came before. */
    if (*count > 0)
        return cli_error(CLI_USAGE, "%s given twice (list every index in one option)", option);
    *count = 0;
    int rc = add_indices(option, first, out, max, count);
    while (rc == CLI_OK && *optind_io < argc && is_index_list(argv[*optind_io]))
        rc = add_indices(option, argv[(*optind_io)++], out, max, count);
    return rc;
}

/* The folder this executable is in, or NULL. */
static const char *exe_dir(char *self, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", self, size - 1);
    char *slash = n > 0 ? (self[n] = '\0', strrchr(self, '/')) : NULL;
    return slash ? (*slash = '\0', self) : NULL;
}

bool cli_find_data(const char *name, char *path, size_t size)
{
    char self[PATH_MAX];
    const char *dir = exe_dir(self, sizeof self);
    /* An install, wherever its prefix was moved: PREFIX/bin/zeus reads PREFIX/share/zeus. */
    if (dir && snprintf(path, size, "%s/../%s/%s", dir, ZEUS_DATA_REL, name) < (int)size &&
        access(path, R_OK) == 0)
        return true;
    /* Run from the build tree: the source tree's data/. Never from an installed command, so an
     * install does not silently depend on the clone it was built from. */
    if (dir && strcmp(dir, ZEUS_BUILD_DIR) == 0 &&
        snprintf(path, size, "%s/%s", ZEUS_SOURCE_DATA_DIR, name) < (int)size &&
        access(path, R_OK) == 0)
        return true;
    return false;
}

bool cli_find_helper(const char *file, int mode, char *path, size_t size)
{
    char self[PATH_MAX];
    char beside[PATH_MAX + 32];
    const char *dir = exe_dir(self, sizeof self);
    /* An install moved to another prefix (cmake --install --prefix X): X/bin/zeus finds
     * X/libexec/zeus/FILE through its own location. */
    if (dir)
        snprintf(beside, sizeof beside, "%s/../%s", dir, ZEUS_LIBEXEC_REL);
    const char *dirs[] = {dir, dir ? beside : NULL, ZEUS_LIBEXEC_DIR};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (dirs[i] && snprintf(path, size, "%s/%s", dirs[i], file) < (int)size &&
            access(path, mode) == 0)
            return true;
    return false;
}

void cli_print_recovered(FILE *f, const zeus_devices *d, const zeus_lease_journal_entry *e)
{
    /* the GPU named as every other message names it (framework and NVML index, PCI address) */
    char label[256];
    zeus_gpu_info info;
    if (zeus_gpu_get_info(d, e->gpu, &info) == ZEUS_OK)
        cli_gpu_label(d, &info, label, sizeof label);
    else
        snprintf(label, sizeof label, "GPU %u", e->gpu);
    if (e->holder_alive) {
        fprintf(f, "%s: leased by process %ld, which still runs; left alone\n", label,
                (long)e->holder_pid);
        return;
    }
    fprintf(f, "%s: put back to %g W%s (left changed by process %ld, gone)\n", label,
            e->original_mw / 1000.0,
            e->original_persistence < 0 ? ""
            : e->original_persistence   ? ", persistence mode on"
                                        : ", persistence mode off",
            (long)e->holder_pid);
}

void cli_put_back_gone(zeus_devices *d)
{
    unsigned n = zeus_gpu_count(d);
    zeus_lease_journal_entry *found = n ? calloc(n, sizeof *found) : NULL;
    size_t count = 0;
    if (!found)
        return; /* no GPU (or no memory: the next command tries again) */
    if (zeus_lease_recover(d, NULL, 0, found, &count) != ZEUS_OK)
        fprintf(stderr,
                "zeus: warning: cannot put back what a killed process left changed: %s (run "
                "'zeus power-limit recover' as root)\n",
                zeus_last_error());
    for (size_t i = 0; i < count; i++) {
        if (!found[i].holder_alive) {
            fputs("zeus: ", stderr);
            cli_print_recovered(stderr, d, &found[i]);
        }
    }
    free(found);
}
