/* zeus demo: the power-limit optimizer on a simulated training job. A training loop runs on the
 * sim backend's GPUs, the monitor measures it, the optimizer profiles every power limit and
 * settles on one; then the remaining steps are compared with the same steps at the maximum.
 * Never touches a real GPU: it always runs on the sim backend. */
#include "cli/cli.h"
#include "zeus/batch_size.h"
#include "zeus/sim.h"
#include "zeus/power_limit.h"
#include "zeus/util.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEMO_ETA 0.5 /* the library default: ZeusCost(eta_knob=0.5) */
#define DEMO_STEPS 600
#define REMAINING_WINDOW "zeus.demo.remaining"

/* The demo's simulated GPU: an A40-like range with a workload whose static power is a fifth of
 * the maximum, short steps and a fine energy counter, so that the default 1 + 9 x (10 + 40)
 * profiling steps take a few seconds and measure cleanly. */
static const char demo_sim_config[] =
    "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"architecture\": \"ampere\", "
    "\"min_power_limit_w\": 100, \"max_power_limit_w\": 300, \"static_power_w\": 60, "
    "\"step_time_ms\": 5, \"energy_update_ms\": 1, \"count\": %u}]}";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: zeus demo [--steps N] [--epochs N] [--gpus N] [--selector NAME] [--eta X]\n"
            "                 [--factor F] [--profiling MODE] [--profiling-budget X]\n"
            "                 [--profile FILE] [--json] [--quiet]\n\n"
            "Optimize the GPU power limit of a simulated training job. A training loop runs on\n"
            "simulated GPUs (the sim backend: no real GPU is touched), the energy monitor\n"
            "measures it, and the power-limit optimizer profiles every limit from the maximum\n"
            "down (10 warmup + 40 profiled steps each) and settles on the best one. Prints the\n"
            "profile, the chosen limit, and the time and energy of the remaining steps against\n"
            "the same steps at the maximum limit.\n\n"
            "options:\n"
            "  --steps N         training steps in all (default %d; profiling takes 451)\n"
            "  --epochs N        split the steps into N epochs (default 1); an epoch end\n"
            "                    interrupts the limit being profiled, which is retried\n"
            "  --gpus N          simulated GPUs (default 1)\n"
            "  --selector NAME   zeus-cost (default), energy, time or max-slowdown\n"
            "  --eta X           zeus-cost's weight of energy against time, 0..1 (default %g,\n"
            "                    as the library)\n"
            "  --factor F        max-slowdown's allowed slowdown, >= 1 (default 1.1)\n"
            "  --profiling MODE  full (default: every limit, as the original) or adaptive (each\n"
            "                    limit until its rank is clear, close ones again: at most 45 %%\n"
            "                    of the steps; docs/power-limit.md)\n"
            "  --profiling-budget X  adaptive: at most this fraction of full profiling's steps\n"
            "                    (0 < X <= 1, default 0.45)\n"
            "  --profile FILE    save the profile there, or load it if it exists (no profiling)\n"
            "  --json            print one JSON object\n"
            "  --quiet           no progress on stderr\n"
            "  -h, --help        show this help\n\n"
            "ZEUS_SIM_CONFIG, if set, replaces the demo's simulated GPUs (docs/devices.md).\n\n"
            "example:\n"
            "  zeus demo --gpus 4 --selector max-slowdown --factor 1.05\n",
            DEMO_STEPS, DEMO_ETA);
}

typedef struct {
    long steps;
    long epochs;
    unsigned gpus;
    const char *selector;
    double eta;
    double factor;
    zeus_power_limit_profiling profiling;
    double budget; /* --profiling-budget; NAN: the library's default */
    const char *profile;
    bool json;
    bool quiet;
} demo_args;

typedef struct {
    double time_s, energy_j;
} totals;

typedef struct {
    zeus_devices *devices;
    zeus_monitor *monitor;
    zeus_power_limit_optimizer *plo;
    unsigned gpu_count;
    zeus_gpu_info info;
    unsigned real_gpus;
    char real_backend[32]; /* the backend that sees them ("nvml", "amdsmi", ...) */
    bool loaded;           /* the optimizer started from a saved profile */
    long done_at;          /* step (1-based) at which the optimizer settled; 0: never */
    long remaining;        /* steps run at the chosen limit */
    totals chosen, maximum;
} demo;

static void sync_gpu(unsigned gpu, void *user)
{
    zeus_sim_synchronize(user, gpu);
}

static int parse_args(int argc, char **argv, demo_args *a)
{
    static const struct option options[] = {{"steps", required_argument, NULL, 's'},
                                            {"epochs", required_argument, NULL, 'e'},
                                            {"gpus", required_argument, NULL, 'g'},
                                            {"selector", required_argument, NULL, 'S'},
                                            {"eta", required_argument, NULL, 'E'},
                                            {"factor", required_argument, NULL, 'f'},
                                            {"profile", required_argument, NULL, 'p'},
                                            {"profiling", required_argument, NULL, 'P'},
                                            {"profiling-budget", required_argument, NULL, 'B'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"quiet", no_argument, NULL, 'q'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    *a = (demo_args){.steps = DEMO_STEPS,
                     .epochs = 1,
                     .gpus = 1,
                     .selector = "zeus-cost",
                     .eta = DEMO_ETA,
                     .factor = 1.1,
                     .budget = NAN};
    long gpus = 1;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (c) {
        case 's':
            if (zeus_parse_long(optarg, &a->steps) != ZEUS_OK || a->steps < 1 ||
                a->steps > 10000000)
                return cli_error(CLI_USAGE, "demo: --steps must be a positive count, not '%s'",
                                 optarg);
            break;
        case 'e':
            if (zeus_parse_long(optarg, &a->epochs) != ZEUS_OK || a->epochs < 1)
                return cli_error(CLI_USAGE, "demo: --epochs must be a positive count, not '%s'",
                                 optarg);
            break;
        case 'g':
            if (zeus_parse_long(optarg, &gpus) != ZEUS_OK || gpus < 1 || gpus > 16)
                return cli_error(CLI_USAGE, "demo: --gpus must be between 1 and 16, not '%s'",
                                 optarg);
            a->gpus = (unsigned)gpus;
            break;
        case 'S':
            a->selector = optarg;
            break;
        case 'E':
            if (zeus_parse_double(optarg, &a->eta) != ZEUS_OK)
                return cli_error(CLI_USAGE, "demo: --eta must be a number, not '%s'", optarg);
            break;
        case 'f':
            if (zeus_parse_double(optarg, &a->factor) != ZEUS_OK)
                return cli_error(CLI_USAGE, "demo: --factor must be a number, not '%s'", optarg);
            break;
        case 'p':
            a->profile = optarg;
            break;
        case 'P':
            if (zeus_power_limit_profiling_parse(optarg, &a->profiling) != ZEUS_OK)
                return cli_error(CLI_USAGE, "demo: --profiling must be full or adaptive, not '%s'",
                                 optarg);
            break;
        case 'B':
            if (zeus_parse_double(optarg, &a->budget) != ZEUS_OK || !(a->budget > 0) ||
                a->budget > 1)
                return cli_error(CLI_USAGE,
                                 "demo: --profiling-budget must be above 0 and at most 1, not '%s'",
                                 optarg);
            break;
        case 'j':
            a->json = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return cli_error(CLI_USAGE, "demo: unknown or incomplete option '%s'",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_error(CLI_USAGE, "demo: unexpected argument '%s'", argv[optind]);
    if (a->epochs > a->steps)
        return cli_error(CLI_USAGE, "demo: --epochs (%ld) is more than --steps (%ld)", a->epochs,
                         a->steps);
    return CLI_OK;
}

/* How many real (not simulated) GPUs the default backend sees, and which backend: they are
 * named, not used (no setter is called on them). */
static unsigned count_real_gpus(char *backend, size_t size)
{
    zeus_devices *d;
    if (zeus_devices_open(&d) != ZEUS_OK)
        return 0;
    const char *name = zeus_devices_gpu_backend(d);
    snprintf(backend, size, "%s", name ? name : "");
    unsigned real = 0;
    for (unsigned i = 0; i < zeus_gpu_count(d); i++) {
        zeus_gpu_info g;
        if (zeus_gpu_get_info(d, i, &g) == ZEUS_OK && !g.simulated)
            real++;
    }
    zeus_devices_close(d);
    return real;
}

/* Opens the sim backend (with the demo's GPUs unless ZEUS_SIM_CONFIG is set): the environment
 * still configures everything else, but the choice of backend is the demo's own. */
static int open_sim(demo *dm, const demo_args *a)
{
    const char *device = getenv("ZEUS_DEVICE");
    if (device && *device && strcasecmp(device, "sim") != 0 && strcasecmp(device, "auto") != 0)
        return cli_error(CLI_USAGE,
                         "demo: it runs on simulated GPUs only (ZEUS_DEVICE=%s was asked for); "
                         "unset ZEUS_DEVICE or set it to sim",
                         device);
    if (!device || strcasecmp(device, "sim") != 0)
        dm->real_gpus = count_real_gpus(dm->real_backend, sizeof dm->real_backend);
    zeus_device_options o;
    zeus_device_options_init(&o);
    int rc = zeus_device_options_from_env(&o);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_USAGE, rc, "demo");
    o.backend = "sim";
    char config[sizeof demo_sim_config + 16];
    if (!o.sim_config) {
        snprintf(config, sizeof config, demo_sim_config, a->gpus);
        o.sim_config = config; /* the JSON itself, no file needed */
    }
    rc = zeus_devices_open_with(&o, &dm->devices);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "demo: cannot open the simulated GPUs");
    const char *backend = zeus_devices_gpu_backend(dm->devices);
    dm->gpu_count = zeus_gpu_count(dm->devices);
    if (!backend || strcmp(backend, "sim") != 0 || dm->gpu_count == 0)
        return cli_error(CLI_NODEV, "demo: no simulated GPU (see 'zeus show-env')");
    zeus_gpu_get_info(dm->devices, 0, &dm->info);
    return CLI_OK;
}

static int open_monitor_and_optimizer(demo *dm, const demo_args *a)
{
    zeus_monitor_options mo;
    zeus_monitor_options_init(&mo);
    mo.sync = sync_gpu;
    mo.sync_user = dm->devices;
    mo.measure_update_period = false;
    int rc = zeus_monitor_open(dm->devices, &mo, &dm->monitor);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "demo: cannot start the monitor");
    zeus_power_limit_options po;
    zeus_power_limit_options_init(&po);
    po.profile_path = a->profile;
    po.profiling = a->profiling;
    if (!isnan(a->budget))
        po.profiling_budget = a->budget;
    if ((rc = zeus_selector_parse(a->selector, a->eta, a->factor, &po.selector)) != ZEUS_OK)
        return cli_lib_error(CLI_USAGE, rc, "demo");
    rc = zeus_power_limit_optimizer_create(dm->monitor, &po, &dm->plo);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "demo: cannot start the power-limit optimizer");
    return CLI_OK;
}

/* One training step on every GPU, then wait for them, as a synchronous training loop does. */
static int train_step(demo *dm)
{
    for (unsigned g = 0; g < dm->gpu_count; g++) {
        int rc = zeus_sim_launch_step(dm->devices, g, NULL);
        if (rc != ZEUS_OK)
            return rc;
    }
    for (unsigned g = 0; g < dm->gpu_count; g++)
        zeus_sim_synchronize(dm->devices, g);
    return ZEUS_OK;
}

static void progress(const demo *dm, const demo_args *a, zeus_power_limit_state *last)
{
    zeus_power_limit_state st;
    zeus_power_limit_get_state(dm->plo, &st);
    if (!a->quiet && st.profiled > last->profiled) {
        zeus_power_limit_measurement m[64];
        size_t n = zeus_power_limit_measurements(dm->plo, m, 64);
        if (n > 0 && n <= 64)
            fprintf(stderr, "zeus demo: profiled %4u W (%zu/%zu): %.3f s, %.2f J\n",
                    m[n - 1].power_limit_w, n, st.limit_count, m[n - 1].time_s, m[n - 1].energy_j);
    }
    if (!a->quiet && st.phase == ZEUS_PL_READY && last->phase != ZEUS_PL_READY &&
        last->phase != ZEUS_PL_DONE)
        fprintf(stderr, "zeus demo: the epoch ended during %s of %u W; it is retried\n",
                last->phase == ZEUS_PL_WARMUP ? "the warmup" : "the profiling",
                last->power_limit_mw / 1000);
    *last = st;
}

/* Ends the window of the steps after profiling and keeps its time and energy. */
static int end_remaining(demo *dm, totals *out)
{
    zeus_measurement *m = zeus_measurement_new();
    int rc =
        m ? zeus_monitor_end_window(dm->monitor, REMAINING_WINDOW, true, false, m) : ZEUS_ENOMEM;
    if (rc == ZEUS_OK)
        *out = (totals){zeus_measurement_time_s(m), zeus_measurement_total_energy_j(m)};
    zeus_measurement_free(m);
    return rc;
}

/* A change refused with ZEUS_ESTATE comes (but for a lease broken with --force) from a signal
 * being handled: the restore thread is putting the GPUs back and then ends the process with that
 * signal, as a shell expects; give it the time rather than exit 1 first. Generous: on a loaded
 * machine 2 s was not always enough (the kill-timing test saw exit 1), and the wait ends when
 * the thread ends the process. */
static int change_error(int rc, const char *what)
{
    if (rc == ZEUS_ESTATE)
        zeus_sleep_ns(20000000000LL);
    return cli_lib_error(CLI_FAIL, rc, what);
}

static int run_training(demo *dm, const demo_args *a)
{
    zeus_power_limit_state last;
    zeus_power_limit_get_state(dm->plo, &last);
    dm->loaded = last.phase == ZEUS_PL_DONE;
    bool measuring = false;
    long step = 0;
    int rc = ZEUS_OK;
    for (long e = 0; e < a->epochs && rc == ZEUS_OK; e++) {
        long in_epoch = a->steps / a->epochs + (e < a->steps % a->epochs ? 1 : 0);
        zeus_power_limit_on_epoch_begin(dm->plo);
        for (long s = 0; s < in_epoch; s++) {
            step++;
            if ((rc = zeus_power_limit_on_step_begin(dm->plo)) != ZEUS_OK)
                return change_error(rc, "demo: power-limit optimizer");
            progress(dm, a, &last);
            if (last.phase == ZEUS_PL_DONE && !measuring) {
                /* From this step on the GPUs run at the chosen limit. */
                dm->done_at = step;
                if ((rc = zeus_monitor_begin_window(dm->monitor, REMAINING_WINDOW, true)))
                    return cli_lib_error(CLI_FAIL, rc, "demo: monitor");
                measuring = true;
            }
            if ((rc = train_step(dm)) != ZEUS_OK)
                return cli_lib_error(CLI_FAIL, rc, "demo: training step");
            dm->remaining += measuring;
            zeus_power_limit_on_step_end(dm->plo);
        }
        zeus_power_limit_on_epoch_end(dm->plo);
        progress(dm, a, &last);
    }
    if (measuring && (rc = end_remaining(dm, &dm->chosen)) != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "demo: monitor");
    return CLI_OK;
}

/* The same number of steps at the maximum limit, for comparison. The optimizer put the GPUs
 * back by now; the maximum is set inside a lease of its own, so that the run (or a signal, or
 * an exit meanwhile) ends with the GPUs at the limit they started at. */
static int run_baseline(demo *dm)
{
    if (dm->remaining == 0)
        return CLI_OK;
    zeus_lease *lease = NULL;
    int rc = zeus_lease_create(
        dm->devices, NULL, 0,
        ZEUS_LEASE_PERSISTENCE | ZEUS_LEASE_RESTORE_ON_SIGNAL | ZEUS_LEASE_RESTORE_AT_EXIT, &lease);
    for (unsigned g = 0; g < dm->gpu_count && rc == ZEUS_OK; g++)
        rc = zeus_lease_set_power_limit_mw(lease, g, dm->info.max_power_limit_mw);
    if (rc != ZEUS_OK) {
        int result = change_error(rc, "demo: setting the maximum limit");
        zeus_lease_release(lease);
        return result;
    }
    rc = zeus_monitor_begin_window(dm->monitor, REMAINING_WINDOW, true);
    for (long s = 0; s < dm->remaining && rc == ZEUS_OK; s++)
        rc = train_step(dm);
    if (rc == ZEUS_OK)
        rc = end_remaining(dm, &dm->maximum);
    int result =
        rc == ZEUS_OK ? CLI_OK : cli_lib_error(CLI_FAIL, rc, "demo: baseline at the maximum limit");
    zeus_lease_release(lease); /* back to the limit the GPUs started at */
    return result;
}

static double percent(double value, double base)
{
    return base > 0 ? 100.0 * (value - base) / base : 0.0;
}

static double cost_of(const demo *dm, const demo_args *a, const zeus_power_limit_measurement *m,
                      unsigned max_w)
{
    double eta = a->eta >= 0 && a->eta <= 1 ? a->eta : 0.5;
    return zeus_cost(m->energy_j, m->time_s, eta, (double)max_w * dm->gpu_count);
}

static void report_text(const demo *dm, const demo_args *a, const zeus_power_limit_measurement *m,
                        size_t n, const char *selector)
{
    unsigned optimal_w = zeus_power_limit_optimal_mw(dm->plo) / 1000;
    unsigned max_w = dm->info.max_power_limit_mw / 1000;
    printf("Zeus demo: power-limit optimization of a SIMULATED training job\n");
    printf("  GPUs: %u x %s (simulated, %u-%u W)", dm->gpu_count, dm->info.name,
           dm->info.min_power_limit_mw / 1000, max_w);
    if (dm->real_gpus)
        printf("; this machine's %u real GPU%s (%s) %s not touched", dm->real_gpus,
               dm->real_gpus == 1 ? "" : "s", dm->real_backend,
               dm->real_gpus == 1 ? "was" : "were");
    printf("\n");
    printf("  Selector: %s;%s %ld steps in %ld epoch%s\n\n", selector,
           a->profiling == ZEUS_PL_PROFILING_ADAPTIVE ? " adaptive profiling;" : "", a->steps,
           a->epochs, a->epochs == 1 ? "" : "s");
    printf("Profile (%zu limits; cost = ZeusCost with eta %g, MaxPower %u W):\n", n, a->eta,
           max_w * dm->gpu_count);
    printf("    %9s %10s %12s %12s\n", "limit (W)", "time (s)", "energy (J)", "cost");
    for (size_t i = 0; i < n; i++)
        printf("  %c %9u %10.3f %12.2f %12.2f\n", m[i].power_limit_w == optimal_w ? '*' : ' ',
               m[i].power_limit_w, m[i].time_s, m[i].energy_j, cost_of(dm, a, &m[i], max_w));
    if (optimal_w == 0) {
        zeus_power_limit_state st;
        zeus_power_limit_get_state(dm->plo, &st);
        /* A limit needs 10 warmup + 40 profiled steps + the step that sets it, all in one
         * epoch (an epoch end restarts it); more steps only help if the epochs are long. */
        long per_epoch = a->steps / a->epochs;
        if (per_epoch < 51)
            printf("\nProfiling can never finish: an epoch has %ld steps but a limit takes 51 "
                   "(10 warmup + 40 profiled + 1), and an epoch end restarts it; use fewer "
                   "--epochs (at most %ld for %ld --steps) or more --steps.\n",
                   per_epoch, a->steps / 51 > 0 ? a->steps / 51 : 1, a->steps);
        else
            printf("\nProfiling did not finish in %ld steps (%zu of %zu limits done); run "
                   "more --steps.\n",
                   a->steps, st.profiled, st.limit_count);
        return;
    }
    printf("\nChosen power limit: %u W%s\n", optimal_w,
           dm->loaded ? " (from the saved profile)" : "");
    if (dm->remaining == 0) {
        printf("No steps were left after profiling to compare with the maximum limit.\n");
        return;
    }
    printf("\nThe %ld steps after profiling:\n", dm->remaining);
    printf("  %-22s %10s %12s\n", "", "time (s)", "energy (J)");
    printf("  at %3u W (chosen)      %10.3f %12.2f\n", optimal_w, dm->chosen.time_s,
           dm->chosen.energy_j);
    printf("  at %3u W (maximum)     %10.3f %12.2f\n", max_w, dm->maximum.time_s,
           dm->maximum.energy_j);
    printf("  difference             %+9.1f%% %+11.1f%%\n",
           percent(dm->chosen.time_s, dm->maximum.time_s),
           percent(dm->chosen.energy_j, dm->maximum.energy_j));
}

static void report_json(const demo *dm, const demo_args *a, const zeus_power_limit_measurement *m,
                        size_t n, const char *selector, double wall_s)
{
    unsigned max_w = dm->info.max_power_limit_mw / 1000;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "simulated", true);
    cJSON_AddNumberToObject(root, "gpus", dm->gpu_count);
    cJSON_AddStringToObject(root, "gpu_name", dm->info.name);
    cJSON_AddNumberToObject(root, "min_power_limit_w", dm->info.min_power_limit_mw / 1000.0);
    cJSON_AddNumberToObject(root, "max_power_limit_w", dm->info.max_power_limit_mw / 1000.0);
    cJSON_AddNumberToObject(root, "real_gpus_untouched", dm->real_gpus);
    if (dm->real_gpus)
        cJSON_AddStringToObject(root, "real_gpus_backend", dm->real_backend);
    cJSON_AddStringToObject(root, "selector", selector);
    cJSON_AddNumberToObject(root, "eta", a->eta);
    cJSON_AddStringToObject(root, "profiling", zeus_power_limit_profiling_name(a->profiling));
    cJSON_AddNumberToObject(root, "steps", (double)a->steps);
    cJSON_AddNumberToObject(root, "epochs", (double)a->epochs);
    cJSON *profile = cJSON_AddArrayToObject(root, "profile");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "power_limit_w", m[i].power_limit_w);
        cJSON_AddNumberToObject(o, "time_s", m[i].time_s);
        cJSON_AddNumberToObject(o, "energy_j", m[i].energy_j);
        cJSON_AddNumberToObject(o, "cost", cost_of(dm, a, &m[i], max_w));
        cJSON_AddItemToArray(profile, o);
    }
    unsigned optimal_mw = zeus_power_limit_optimal_mw(dm->plo);
    if (optimal_mw)
        cJSON_AddNumberToObject(root, "optimal_power_limit_w", optimal_mw / 1000.0);
    else
        cJSON_AddNullToObject(root, "optimal_power_limit_w");
    cJSON_AddBoolToObject(root, "profile_loaded", dm->loaded);
    cJSON_AddNumberToObject(root, "settled_at_step", (double)dm->done_at);
    cJSON_AddNumberToObject(root, "remaining_steps", (double)dm->remaining);
    if (dm->remaining > 0) {
        cJSON *c = cJSON_AddObjectToObject(root, "at_optimal");
        cJSON_AddNumberToObject(c, "time_s", dm->chosen.time_s);
        cJSON_AddNumberToObject(c, "energy_j", dm->chosen.energy_j);
        cJSON *x = cJSON_AddObjectToObject(root, "at_maximum");
        cJSON_AddNumberToObject(x, "time_s", dm->maximum.time_s);
        cJSON_AddNumberToObject(x, "energy_j", dm->maximum.energy_j);
        cJSON_AddNumberToObject(root, "energy_change_percent",
                                percent(dm->chosen.energy_j, dm->maximum.energy_j));
        cJSON_AddNumberToObject(root, "time_change_percent",
                                percent(dm->chosen.time_s, dm->maximum.time_s));
    }
    cJSON_AddNumberToObject(root, "wall_time_s", wall_s);
    char *text = cJSON_Print(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

int cli_demo(int argc, char **argv)
{
    demo_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    /* Validate the selector before anything runs. */
    zeus_optimum_selector sel;
    if ((rc = zeus_selector_parse(a.selector, a.eta, a.factor, &sel)) != ZEUS_OK)
        return cli_lib_error(CLI_USAGE, rc, "demo");
    /* SIGINT/SIGTERM/SIGHUP put the simulated GPUs back (limit and persistence mode), as every
     * zeus command that changes limits does. */
    if ((rc = zeus_install_signal_handlers()) != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "demo: cannot install signal handlers");
    double start = zeus_wall_s();
    demo dm;
    memset(&dm, 0, sizeof dm);
    int result = open_sim(&dm, &a);
    if (result == CLI_OK)
        result = open_monitor_and_optimizer(&dm, &a);
    if (result == CLI_OK && !a.quiet)
        fprintf(stderr, "zeus demo: training on %u simulated GPU%s; profiling power limits...\n",
                dm.gpu_count, dm.gpu_count == 1 ? "" : "s");
    if (result == CLI_OK)
        result = run_training(&dm, &a);
    zeus_power_limit_measurement m[64];
    size_t n = 0;
    char selector[128] = "";
    if (dm.plo) {
        n = zeus_power_limit_measurements(dm.plo, m, 64);
        n = n > 64 ? 64 : n;
        zeus_optimum_selector used = zeus_power_limit_selector(dm.plo);
        zeus_selector_describe(&used, selector, sizeof selector);
    }
    /* Keep the optimizer (for the report) but put the GPUs back before the baseline. */
    if (result == CLI_OK && dm.plo)
        zeus_power_limit_optimizer_restore(dm.plo);
    if (result == CLI_OK)
        result = run_baseline(&dm);
    if (result == CLI_OK) {
        if (a.json)
            report_json(&dm, &a, m, n, selector, zeus_wall_s() - start);
        else
            report_text(&dm, &a, m, n, selector);
    }
    zeus_power_limit_optimizer_destroy(dm.plo);
    zeus_monitor_close(dm.monitor);
    zeus_devices_close(dm.devices);
    return result;
}
