/* zeus power-limit get | set WATTS | reset | recover: operator commands for GPU power limits. */
#include "cli/cli.h"
#include "zeus/util.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: zeus power-limit get [--gpu-indices I [I ...]] [--json]\n"
            "       zeus power-limit set WATTS [--gpu-indices I [I ...]] [--force] [--json]\n"
            "       zeus power-limit reset [--gpu-indices I [I ...]] [--force] [--json]\n"
            "       zeus power-limit recover [--gpu-indices I [I ...]] [--json]\n\n"
            "Show, set or reset (to the default) the power limit of GPUs. 'set' and 'reset'\n"
            "change every chosen GPU or none: WATTS is checked against every GPU's range\n"
            "first, a GPU whose current limit cannot be read is refused, a failure (or Ctrl-C,\n"
            "SIGTERM, SIGHUP) half-way puts back the GPUs already changed, and two commands on\n"
            "the same GPUs take turns (a lock per GPU, see docs/power-limit.md). Changing\n"
            "limits needs root or CAP_SYS_ADMIN.\n\n"
            "A process killed with -9 (or a crashed zeusd) leaves a lease journal behind; 'set',\n"
            "'reset' and every later lease of the GPU put back what it changed (limit,\n"
            "persistence mode, locked clocks) first, and 'recover' does only that.\n\n"
            "actions:\n"
            "  get       show each GPU's power limit, its range and default\n"
            "  set       set the power limit of the chosen GPUs to WATTS\n"
            "  reset     set the chosen GPUs back to their default power limit\n"
            "  recover   only put back what a killed process or zeusd left changed\n\n"
            "options:\n"
            "  --gpu-indices I...  GPUs (framework indices, after CUDA_VISIBLE_DEVICES; default "
            "all)\n"
            "  --force             (root; through zeusd also its gpu-admin group) take GPUs\n"
            "                      another process holds at once, breaking its lease: it is\n"
            "                      told who took them and puts nothing back\n"
            "                      (default: wait until the holder is done)\n"
            "  --json              print one JSON object (default: a table)\n"
            "  -h, --help          show this help\n\n"
            "example:\n"
            "  zeus power-limit set 250 --gpu-indices 0 1\n"
            "  zeus power-limit reset\n");
}

typedef enum { ACTION_GET, ACTION_SET, ACTION_RESET, ACTION_RECOVER } action;

typedef struct {
    unsigned index;
    zeus_gpu_info info;
    unsigned before_mw, after_mw;
    bool before_valid, changed;
} gpu_row;

static double watts(unsigned mw)
{
    return mw / 1000.0;
}

static void print_json(const zeus_devices *d, const gpu_row *rows, unsigned n, action a)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *gpus = cJSON_AddArrayToObject(root, "gpus");
    for (unsigned i = 0; i < n; i++) {
        const gpu_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", r->index);
        /* the backend's own index (NVML's) and the PCI address, as zeusd and nvidia-smi */
        cJSON_AddNumberToObject(o, "device_index", r->info.device_index);
        char pci[ZEUS_GPU_PCI_ADDRESS_LEN];
        if (zeus_gpu_pci_address(d, r->index, pci, sizeof pci) == ZEUS_OK)
            cJSON_AddStringToObject(o, "pci_address", pci);
        cJSON_AddStringToObject(o, "name", r->info.name);
        cJSON_AddNumberToObject(o, "min_power_limit_w", watts(r->info.min_power_limit_mw));
        cJSON_AddNumberToObject(o, "max_power_limit_w", watts(r->info.max_power_limit_mw));
        cJSON_AddNumberToObject(o, "default_power_limit_w", watts(r->info.default_power_limit_mw));
        if (a == ACTION_GET) {
            cJSON_AddNumberToObject(o, "power_limit_w", watts(r->before_mw));
        } else {
            if (r->before_valid)
                cJSON_AddNumberToObject(o, "previous_power_limit_w", watts(r->before_mw));
            cJSON_AddNumberToObject(o, "power_limit_w", watts(r->after_mw));
        }
        cJSON_AddItemToArray(gpus, o);
    }
    char *text = cJSON_Print(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

static void print_text(const zeus_devices *d, const gpu_row *rows, unsigned n, action a)
{
    if (a == ACTION_GET) {
        /* The backend's own index (NVML's, as nvidia-smi, the exporter and zeusd number
         * GPUs) differs from "GPU" under CUDA_VISIBLE_DEVICES. */
        printf("%-4s %-6s %-13s %-28s %10s %8s %8s %12s\n", "GPU", cli_gpu_backend_label(d), "PCI",
               "name", "limit (W)", "min (W)", "max (W)", "default (W)");
        for (unsigned i = 0; i < n; i++) {
            const zeus_gpu_info *g = &rows[i].info;
            char pci[ZEUS_GPU_PCI_ADDRESS_LEN] = "-";
            if (zeus_gpu_pci_address(d, rows[i].index, pci, sizeof pci) != ZEUS_OK)
                snprintf(pci, sizeof pci, "-");
            printf("%-4u %-6u %-13s %-28s %10g %8g %8g %12g\n", rows[i].index, g->device_index, pci,
                   g->name, watts(rows[i].before_mw), watts(g->min_power_limit_mw),
                   watts(g->max_power_limit_mw), watts(g->default_power_limit_mw));
        }
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        char before[32] = "?", label[256];
        if (rows[i].before_valid)
            snprintf(before, sizeof before, "%g W", watts(rows[i].before_mw));
        printf("%s: %s -> %g W%s\n", cli_gpu_label(d, &rows[i].info, label, sizeof label), before,
               watts(rows[i].after_mw), a == ACTION_RESET ? " (default)" : "");
    }
}

static int parse_watts(const char *text, unsigned *mw)
{
    double w;
    if (zeus_parse_double(text, &w) != ZEUS_OK || !(w > 0) || w > 100000)
        return cli_error(CLI_USAGE, "power-limit set: WATTS must be a positive number, not '%s'",
                         text);
    *mw = (unsigned)lround(w * 1000);
    return CLI_OK;
}

/* set/reset through the library: all or nothing, under the GPUs' locks, and (with our signal
 * handlers) restored if interrupted. */
static int change(zeus_devices *d, gpu_row *rows, unsigned n, action a, unsigned target_mw,
                  bool force)
{
    unsigned *gpus = malloc(n * sizeof *gpus);
    zeus_power_limit_change *changes = calloc(n, sizeof *changes);
    int result = CLI_OK;
    if (!gpus || !changes) {
        result = cli_error(CLI_FAIL, "out of memory");
        goto done;
    }
    for (unsigned i = 0; i < n; i++)
        gpus[i] = rows[i].index;
    int rc = zeus_install_signal_handlers();
    if (rc != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "cannot install signal handlers");
        goto done;
    }
    rc = zeus_power_limit_set_many_with(d, gpus, n,
                                        a == ACTION_SET ? target_mw : ZEUS_POWER_LIMIT_DEFAULT,
                                        force ? ZEUS_LEASE_FORCE : 0, changes);
    if (rc == ZEUS_EPERM) {
        result =
            cli_error(CLI_FAIL, "%s (%s)", ZEUS_POWER_LIMIT_PERMISSION_ADVICE, zeus_last_error());
        goto done;
    }
    if (rc != ZEUS_OK) {
        result = cli_error(rc == ZEUS_ERANGE ? CLI_USAGE : CLI_FAIL, "%s", zeus_last_error());
        goto done;
    }
    for (unsigned i = 0; i < n; i++) {
        rows[i].before_mw = changes[i].before_mw;
        rows[i].after_mw = changes[i].after_mw;
        rows[i].before_valid = true;
    }
done:
    free(gpus);
    free(changes);
    return result;
}

/* recover: what a gone lease holder left changed is put back (zeus_lease_recover). */
static int recover(zeus_devices *d, const gpu_row *rows, unsigned n, bool json)
{
    unsigned *gpus = malloc(n * sizeof *gpus);
    zeus_lease_journal_entry *found = calloc(n, sizeof *found);
    if (!gpus || !found) {
        free(gpus);
        free(found);
        return cli_error(CLI_FAIL, "out of memory");
    }
    for (unsigned i = 0; i < n; i++)
        gpus[i] = rows[i].index;
    size_t count = 0;
    int rc = zeus_lease_recover(d, gpus, n, found, &count);
    free(gpus);
    if (rc != ZEUS_OK) {
        free(found);
        return cli_error(CLI_FAIL, "power-limit recover: %s", zeus_last_error());
    }
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *list = json ? cJSON_AddArrayToObject(root, "gpus") : NULL;
    for (size_t i = 0; i < count; i++) {
        const zeus_lease_journal_entry *e = &found[i];
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "index", e->gpu);
            cJSON_AddNumberToObject(o, "holder_pid", e->holder_pid);
            cJSON_AddNumberToObject(o, "holder_uid", e->holder_uid);
            cJSON_AddBoolToObject(o, "holder_alive", e->holder_alive);
            cJSON_AddBoolToObject(o, "recovered", !e->holder_alive);
            cJSON_AddNumberToObject(o, "power_limit_w", watts(e->original_mw));
            if (e->original_persistence >= 0)
                cJSON_AddBoolToObject(o, "persistence_mode", e->original_persistence);
            cJSON_AddItemToArray(list, o);
        } else {
            cli_print_recovered(stdout, d, e);
        }
    }
    if (json) {
        char *text = cJSON_Print(root);
        puts(text);
        free(text);
        cJSON_Delete(root);
    } else if (count == 0) {
        printf("nothing to recover: no GPU was left changed\n");
    }
    free(found);
    return CLI_OK;
}

static int run(action a, unsigned target_mw, const unsigned *gpus, int gpu_count, bool json,
               bool force)
{
    zeus_devices *d = NULL;
    gpu_row *rows = NULL;
    int result = CLI_FAIL;
    int rc = zeus_devices_open(&d);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "cannot open devices");
    unsigned total = zeus_gpu_count(d);
    if (total == 0) {
        result = cli_error(CLI_NODEV, "no GPU to %s the power limit of (%s)",
                           a == ACTION_GET       ? "show"
                           : a == ACTION_SET     ? "set"
                           : a == ACTION_RECOVER ? "recover"
                                                 : "reset",
                           *cli_reads_hint(d) ? cli_reads_hint(d) : "see 'zeus show-env'");
        goto done;
    }
    if (a == ACTION_GET) /* set, reset and recover put back what they find as they go */
        cli_put_back_gone(d);
    /* Through zeusd the daemon decides who may force (root, or its gpu-admin group). */
    if (force && geteuid() != 0 && strcmp(zeus_devices_knob_backend(d), "zeusd") != 0) {
        result = cli_error(CLI_USAGE,
                           "power-limit %s: --force (breaking another process's lease) is for "
                           "root, or for zeusd's gpu-admin group through the daemon",
                           a == ACTION_SET ? "set" : "reset");
        goto done;
    }
    const char *backend = zeus_devices_gpu_backend(d);
    const char *shared = getenv("ZEUS_SIM_STATE");
    if (a != ACTION_GET && strcmp(backend, "sim") == 0 && !(shared && *shared))
        fprintf(stderr, "zeus: note: simulated GPUs keep this setting only until this command "
                        "exits; set ZEUS_SIM_STATE=FILE to share settings between processes\n");
    unsigned n = gpu_count > 0 ? (unsigned)gpu_count : total;
    rows = calloc(n, sizeof *rows);
    if (!rows) {
        result = cli_error(CLI_FAIL, "out of memory");
        goto done;
    }
    for (unsigned i = 0; i < n; i++) {
        gpu_row *r = &rows[i];
        r->index = gpu_count > 0 ? gpus[i] : i;
        if (r->index >= total) {
            result = cli_error(CLI_NODEV, "power-limit: GPU %u does not exist (%u GPUs visible)",
                               r->index, total);
            goto done;
        }
        if ((rc = zeus_gpu_get_info(d, r->index, &r->info)) != ZEUS_OK) {
            result = cli_lib_error(CLI_FAIL, rc, "cannot read the GPU");
            goto done;
        }
        if (!r->info.power_limit_valid) {
            char label[256];
            unsigned mw;
            /* A backend without power-limit control (a Jetson) says why: that reason. */
            if (zeus_gpu_power_limit_mw(d, r->index, &mw) == ZEUS_ENOTSUP) {
                result = cli_lib_error(CLI_FAIL, ZEUS_ENOTSUP, "power-limit");
                goto done;
            }
            result = cli_error(CLI_FAIL, "%s does not report a power-limit range%s%s",
                               cli_gpu_label(d, &r->info, label, sizeof label),
                               *cli_reads_hint(d) ? ": " : "", cli_reads_hint(d));
            goto done;
        }
        /* Every GPU's range before any change, each named as the other messages name it
         * (under CUDA_VISIBLE_DEVICES the framework index is not NVML's: issue 24 item 6). */
        if (a == ACTION_SET &&
            (target_mw < r->info.min_power_limit_mw || target_mw > r->info.max_power_limit_mw)) {
            char label[256];
            result =
                cli_error(CLI_USAGE, "%g W is outside the range %g-%g W of %s", watts(target_mw),
                          watts(r->info.min_power_limit_mw), watts(r->info.max_power_limit_mw),
                          cli_gpu_label(d, &r->info, label, sizeof label));
            goto done;
        }
        if (a == ACTION_GET && (rc = zeus_gpu_power_limit_mw(d, r->index, &r->before_mw)) != 0) {
            result = cli_lib_error(CLI_FAIL, rc, "cannot read the power limit");
            goto done;
        }
    }
    if (a == ACTION_RECOVER) {
        result = recover(d, rows, n, json);
        goto done;
    }
    if (a != ACTION_GET && (result = change(d, rows, n, a, target_mw, force)) != CLI_OK)
        goto done;
    if (json)
        print_json(d, rows, n, a);
    else
        print_text(d, rows, n, a);
    result = CLI_OK;
done:
    free(rows);
    zeus_devices_close(d);
    return result;
}

int cli_power_limit(int argc, char **argv)
{
    static const struct option options[] = {{"gpu-indices", required_argument, NULL, 'g'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"force", no_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    if (argc < 2) {
        usage(stderr);
        return cli_error(CLI_USAGE, "power-limit: choose get, set, reset or recover");
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_OK;
    }
    action a;
    if (strcmp(argv[1], "get") == 0)
        a = ACTION_GET;
    else if (strcmp(argv[1], "set") == 0)
        a = ACTION_SET;
    else if (strcmp(argv[1], "reset") == 0)
        a = ACTION_RESET;
    else if (strcmp(argv[1], "recover") == 0)
        a = ACTION_RECOVER;
    else
        return cli_error(CLI_USAGE,
                         "power-limit: unknown action '%s' (choose get, set, reset or recover)",
                         argv[1]);
    /* Options are parsed after the action (and after set's WATTS), which getopt sees as its
     * argv[0]. */
    int shift = 1;
    unsigned target_mw = 0;
    if (a == ACTION_SET) {
        if (argc < 3 || cli_is_help(argv[2])) {
            if (argc >= 3) {
                usage(stdout);
                return CLI_OK;
            }
            return cli_error(CLI_USAGE, "power-limit set: give the limit in watts, e.g. "
                                        "'zeus power-limit set 250'");
        }
        int rc = parse_watts(argv[2], &target_mw);
        if (rc != CLI_OK)
            return rc;
        shift = 2;
    }
    int sub_argc = argc - shift;
    char **sub_argv = argv + shift;
    unsigned gpus[ZEUS_MAX_GPUS];
    int gpu_count = 0, c, rc;
    bool json = false, force = false;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(sub_argc, sub_argv, "+h", options, NULL)) != -1) {
        switch (c) {
        case 'g':
            if ((rc = cli_take_indices("--gpu-indices", optarg, sub_argc, sub_argv, &optind, gpus,
                                       ZEUS_MAX_GPUS, &gpu_count)) != CLI_OK)
                return rc;
            break;
        case 'j':
            json = true;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return cli_error(CLI_USAGE, "power-limit: unknown or incomplete option '%s'",
                             sub_argv[optind - 1]);
        }
    }
    if (optind < sub_argc)
        return cli_error(CLI_USAGE, "power-limit %s: unexpected argument '%s'", argv[1],
                         sub_argv[optind]);
    if (force && a != ACTION_SET && a != ACTION_RESET)
        return cli_error(CLI_USAGE, "power-limit %s: --force is for set and reset", argv[1]);
    return run(a, target_mw, gpus, gpu_count, json, force);
}
