/* GlobalPowerLimitOptimizer (spec 4.2-4.3): the state machine of power_limit_fsm.c bound to a
 * monitor (windows) and its devices (limits), with the profile file and a lease that puts the
 * GPUs back. */
#include "zeus/power_limit.h"
#include "zeus/output.h"

#include "core/internal.h"
#include "power_limit/power_limit_dist.h"
#include "power_limit/power_limit_fsm.h"
#include "zeus/lease.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct zeus_power_limit_optimizer {
    zeus_monitor *monitor;
    zeus_devices *devices;
    unsigned gpu_count;
    unsigned gpus[ZEUS_MAX_GPUS];
    unsigned limits[ZEUS_MAX_GPUS]; /* scratch: one limit per GPU for the lease */
    char gpu_model[96];
    char *profile_path;
    bool profile_gpu_model;
    bool needs_reapply; /* zeus_power_limit_optimizer_restore() was called */
    zeus_lease *lease;  /* records the limits (and persistence) at creation, puts them back */
    zeus_pl_fsm fsm;
    zeus_measurement *scratch; /* reused for every window */
    zeus_pl_dist dist;         /* distributed training: the caller's all-reduce, or NULL */
};

/* The original's message for missing permissions (spec 1.5), with the device layer's detail. */
static int permission_error(const char *what)
{
    return zeus__error(ZEUS_EPERM, ZEUS_POWER_LIMIT_PERMISSION_ADVICE " (%s: %s)", what,
                       zeus_last_error());
}

/* ---- operations for the state machine ---- */

static int op_set_limit(void *ctx, unsigned limit_mw)
{
    zeus_power_limit_optimizer *o = ctx;
    for (unsigned i = 0; i < o->gpu_count; i++)
        o->limits[i] = limit_mw;
    /* All GPUs or none: a failure half-way puts back those already changed. */
    int rc = zeus_lease_set_power_limits_mw(o->lease, o->limits);
    if (rc == ZEUS_EPERM)
        return permission_error("setting the power limit");
    return rc;
}

static int op_begin_window(void *ctx, const char *name)
{
    zeus_power_limit_optimizer *o = ctx;
    int rc = zeus_monitor_begin_window(o->monitor, name, true);
    if (rc != ZEUS_OK)
        return zeus__error(rc, "power-limit optimizer: cannot begin window %s: %s", name,
                           zeus_last_error());
    return ZEUS_OK;
}

/* This rank's window: time and energy summed over its GPUs. */
static int end_local_window(zeus_power_limit_optimizer *o, const char *name, bool cancel,
                            double *time_s, double *energy_j)
{
    zeus_measurement *m = o->scratch;
    int rc = zeus_monitor_end_window(o->monitor, name, true, cancel, m);
    if (rc != ZEUS_OK)
        return zeus__error(rc, "power-limit optimizer: cannot end window %s: %s", name,
                           zeus_last_error());
    if (cancel)
        return ZEUS_OK;
    for (unsigned i = 0; i < zeus_measurement_gpu_count(m); i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(m, i);
        if (g->error != ZEUS_OK)
            return zeus__error(g->error,
                               "power-limit optimizer: GPU %u could not be measured in window %s "
                               "(%s)",
                               g->index, name, zeus_strerror(g->error));
        if (g->below_resolution)
            ZEUS_WARN("power-limit optimizer: window %s on GPU %u is below the energy counter's "
                      "resolution; raise profile_steps for a trustworthy profile",
                      name, g->index);
    }
    *time_s = zeus_measurement_time_s(m);
    *energy_j = zeus_measurement_total_energy_j(m);
    return ZEUS_OK;
}

static int op_end_window(void *ctx, const char *name, bool cancel, double *time_s, double *energy_j)
{
    zeus_power_limit_optimizer *o = ctx;
    int rc = end_local_window(o, name, cancel, time_s, energy_j);
    /* A cancelled window (an epoch ended) is not reduced, as in the newest Zeus. */
    if (cancel || !o->dist.fn)
        return rc;
    return zeus__pl_dist_window(&o->dist, rc, time_s, energy_j);
}

static int op_profiled(void *ctx, const zeus_power_limit_measurement *measurements, size_t count)
{
    zeus_power_limit_optimizer *o = ctx;
    if (!o->profile_path)
        return ZEUS_OK;
    int rc = zeus_power_limit_profile_write(o->profile_path, measurements, count,
                                            o->profile_gpu_model ? o->gpu_model : NULL);
    if (rc == ZEUS_OK)
        ZEUS_INFO("power-limit optimizer: profile saved to %s", o->profile_path);
    return rc;
}

static const zeus_pl_fsm_ops optimizer_ops = {
    .set_limit = op_set_limit,
    .begin_window = op_begin_window,
    .end_window = op_end_window,
    .profiled = op_profiled,
};

/* ---- creation ---- */

void zeus_power_limit_options_init_sized(zeus_power_limit_options *options, size_t struct_size)
{
    zeus_power_limit_options d = {
        .struct_size = struct_size,
        .selector = {.kind = ZEUS_SELECTOR_ZEUS_COST,
                     .eta_knob = 0.5,
                     .world_size = ZEUS_WORLD_SIZE_AUTO},
        .wait_steps = 1,
        .warmup_steps = 10,
        .profile_steps = 40,
        .pl_step_w = 25,
        .restore_on_signal = true,
        .restore_on_exit = true,
        .profiling_budget = ZEUS__PL_ADAPTIVE_BUDGET,
    };
    memcpy(options, &d, struct_size < sizeof d ? struct_size : sizeof d);
}

const char *zeus_power_limit_profiling_name(zeus_power_limit_profiling profiling)
{
    switch (profiling) {
    case ZEUS_PL_PROFILING_FULL:
        return "full";
    case ZEUS_PL_PROFILING_ADAPTIVE:
        return "adaptive";
    }
    return NULL;
}

int zeus_power_limit_profiling_parse(const char *name, zeus_power_limit_profiling *out)
{
    for (int p = ZEUS_PL_PROFILING_FULL; p <= ZEUS_PL_PROFILING_ADAPTIVE; p++) {
        if (name && strcmp(name, zeus_power_limit_profiling_name(p)) == 0) {
            *out = (zeus_power_limit_profiling)p;
            return ZEUS_OK;
        }
    }
    return zeus__error(ZEUS_EINVAL, "unknown profiling mode '%s' (expected full or adaptive)",
                       name ? name : "(null)");
}

/* The monitored GPUs must share one power-limit range (and, as the original intended, one
 * model). */
static int read_range(zeus_power_limit_optimizer *o, zeus_pl_fsm_config *cfg)
{
    for (unsigned i = 0; i < o->gpu_count; i++) {
        zeus_gpu_info g;
        int rc = zeus_gpu_get_info(o->devices, o->gpus[i], &g);
        if (rc != ZEUS_OK)
            return rc;
        if (!g.power_limit_valid)
            return zeus__error(ZEUS_ENOTSUP, "GPU %u (%s) does not report a power-limit range",
                               g.index, g.name);
        if (i == 0) {
            cfg->min_limit_mw = g.min_power_limit_mw;
            cfg->max_limit_mw = g.max_power_limit_mw;
            zeus__strlcpy(o->gpu_model, g.name, sizeof o->gpu_model);
        } else if (g.min_power_limit_mw != cfg->min_limit_mw ||
                   g.max_power_limit_mw != cfg->max_limit_mw) {
            return zeus__error(ZEUS_EINVAL,
                               "Power limits ranges are not uniform across GPUs. (GPU %u: %u-%u "
                               "mW, GPU %u: %u-%u mW)",
                               o->gpus[0], cfg->min_limit_mw, cfg->max_limit_mw, g.index,
                               g.min_power_limit_mw, g.max_power_limit_mw);
        }
    }
    return zeus_gpu_check_homogeneous(o->devices, o->gpus, o->gpu_count);
}

/* Catch an unwritable profile location now, not after the whole profiling run. */
static int check_profile_writable(const char *path)
{
    int rc = zeus_output_check(path);
    return rc == ZEUS_OK ? rc : zeus__error(rc, "power-limit profile: %s", zeus_last_error());
}

/* Reads and checks the profile and enters Done; no device is touched yet. */
static int load_profile(zeus_power_limit_optimizer *o)
{
    zeus_power_limit_profile p;
    int rc = zeus_power_limit_profile_read(o->profile_path, &p);
    if (rc != ZEUS_OK)
        return rc;
    if (p.gpu_model[0] && strcmp(p.gpu_model, o->gpu_model) != 0) {
        rc = zeus__error(ZEUS_EINVAL,
                         "%s: the profile was made on %s, but these GPUs are %s (delete it to "
                         "profile again)",
                         o->profile_path, p.gpu_model, o->gpu_model);
    } else {
        rc = zeus__pl_fsm_load(&o->fsm, p.measurements, p.count, o->profile_path);
    }
    zeus_power_limit_profile_free(&p);
    return rc;
}

static int enable_persistence(zeus_power_limit_optimizer *o)
{
    for (unsigned i = 0; i < o->gpu_count; i++) {
        int rc = zeus_lease_set_persistence_mode(o->lease, o->gpus[i], true);
        if (rc == ZEUS_EPERM)
            return permission_error("enabling persistence mode");
        if (rc == ZEUS_ENOTSUP) {
            ZEUS_DEBUG("persistence mode is not supported on GPU %u", o->gpus[i]);
            continue;
        }
        if (rc != ZEUS_OK)
            return rc;
    }
    return ZEUS_OK;
}

/* What creation checks before touching any GPU: the knobs, the monitor, the GPUs' range;
 * *has_profile says whether the profile file exists. */
static int prepare(zeus_power_limit_optimizer *o, const zeus_power_limit_options *options,
                   zeus_pl_fsm_config *cfg, bool *has_profile)
{
    int rc;
    if (!(o->scratch = zeus_measurement_new()))
        return zeus__error(ZEUS_ENOMEM, "out of memory for the power-limit optimizer");
    o->devices = zeus_monitor_devices(o->monitor);
    o->gpu_count = zeus_monitor_gpu_count(o->monitor);
    if (!o->devices)
        return zeus__error(ZEUS_EINVAL, "power-limit optimizer: the monitor has no devices to set "
                                        "power limits on");
    if (o->gpu_count == 0 || o->gpu_count > ZEUS_MAX_GPUS)
        return zeus__error(ZEUS_EINVAL, "power-limit optimizer: the monitor watches no GPUs");
    for (unsigned i = 0; i < o->gpu_count; i++)
        o->gpus[i] = zeus_monitor_gpu_index(o->monitor, i);
    if ((rc = read_range(o, cfg)) != ZEUS_OK)
        return rc;
    o->profile_gpu_model = options->profile_gpu_model;
    if (options->profile_path) {
        o->profile_path = strdup(options->profile_path);
        if (!o->profile_path)
            return zeus__error(ZEUS_ENOMEM, "out of memory");
        struct stat st;
        *has_profile = stat(o->profile_path, &st) == 0;
    }
    return ZEUS_OK;
}

/* The profile (loaded or to be written), the lease, persistence mode and the first limit. */
static int take_gpus(zeus_power_limit_optimizer *o, const zeus_power_limit_options *options,
                     const zeus_pl_fsm_config *cfg, bool load)
{
    int rc;
    if ((rc = zeus__pl_fsm_init(&o->fsm, cfg, &optimizer_ops, o)) != ZEUS_OK)
        return rc;
    if (o->profile_path) {
        rc = load ? load_profile(o) : check_profile_writable(o->profile_path);
        if (rc != ZEUS_OK)
            return rc;
    }
    /* The lease before the first change: it takes the GPUs' locks, records their limits and
     * persistence mode (refusing a GPU whose limit cannot be read back), and puts them back. */
    unsigned flags = ZEUS_LEASE_PERSISTENCE;
    if (options->restore_on_signal)
        flags |= ZEUS_LEASE_RESTORE_ON_SIGNAL;
    if (options->restore_on_exit)
        flags |= ZEUS_LEASE_RESTORE_AT_EXIT;
    if ((rc = zeus_lease_create(o->devices, o->gpus, o->gpu_count, flags, &o->lease)) != ZEUS_OK)
        return rc;
    if ((rc = enable_persistence(o)) != ZEUS_OK)
        return rc;
    return load ? zeus__pl_fsm_apply(&o->fsm) : zeus__pl_fsm_start(&o->fsm);
}

int zeus_power_limit_optimizer_create(zeus_monitor *monitor,
                                      const zeus_power_limit_options *options,
                                      zeus_power_limit_optimizer **out)
{
    zeus_power_limit_options opts;
    zeus_power_limit_optimizer *o = NULL;
    char reason[1024];
    int rc;
    if (!out)
        return zeus__error(ZEUS_EINVAL, "no place for the optimizer");
    *out = NULL;
    zeus_power_limit_options_init(&opts);
    if (options && (rc = zeus__options_copy(options, &opts, sizeof opts, "zeus_power_limit_options",
                                            "zeus_power_limit_options_init")) != ZEUS_OK)
        return rc;
    zeus_pl_fsm_config cfg = {.wait_steps = opts.wait_steps,
                              .warmup_steps = opts.warmup_steps,
                              .profile_steps = opts.profile_steps,
                              .pl_step_w = opts.pl_step_w,
                              .min_limit_mw = 1000,
                              .max_limit_mw = 1000,
                              .selector = opts.selector,
                              .adaptive = opts.profiling == ZEUS_PL_PROFILING_ADAPTIVE,
                              .adaptive_cfg = zeus__pl_adaptive_defaults(opts.profile_steps)};
    if (!zeus_power_limit_profiling_name(opts.profiling))
        return zeus__error(ZEUS_EINVAL, "power-limit optimizer: unknown profiling mode %d",
                           (int)opts.profiling);
    if (!(opts.profiling_budget > 0 && opts.profiling_budget <= 1))
        return zeus__error(ZEUS_EINVAL,
                           "power-limit optimizer: profiling_budget must be above 0 and at most 1 "
                           "(a fraction of full profiling's steps), not %g",
                           opts.profiling_budget);
    cfg.adaptive_cfg.budget = opts.profiling_budget;
    /* The knobs first, before touching any device. */
    if ((rc = zeus__pl_fsm_validate(&cfg)) != ZEUS_OK)
        return rc;
    if (!monitor)
        return zeus__error(ZEUS_EINVAL, "power-limit optimizer: no monitor given");
    o = calloc(1, sizeof *o);
    if (!o)
        return zeus__error(ZEUS_ENOMEM, "out of memory for the power-limit optimizer");
    o->monitor = monitor;
    o->dist = (zeus_pl_dist){.fn = opts.all_reduce, .user = opts.all_reduce_user};
    bool load = false;
    rc = prepare(o, &opts, &cfg, &load);
    /* ZeusCost's MaxPower is the maximum limit times the GPUs whose energy is summed: every
     * rank's under distributed training (the newest Zeus counts only this rank's, while summing
     * the energy of all: spec 4.2; we do what the cost means). */
    unsigned gpus = o->gpu_count;
    if (o->dist.fn) {
        zeus_pl_dist_job job = {0};
        rc = zeus__pl_dist_agree_start(&o->dist, rc, o->gpu_count, load, &job);
        gpus = job.total_gpus;
    }
    if (rc != ZEUS_OK)
        goto fail;
    if (cfg.selector.kind == ZEUS_SELECTOR_ZEUS_COST &&
        cfg.selector.world_size == ZEUS_WORLD_SIZE_AUTO)
        cfg.selector.world_size = (int)gpus;
    rc = take_gpus(o, &opts, &cfg, load);
    if (o->dist.fn)
        rc = zeus__pl_dist_agree_end(&o->dist, rc);
    if (rc != ZEUS_OK)
        goto fail;
    *out = o;
    return ZEUS_OK;
fail:
    /* Keep the reason: restoring on the way out may record errors of its own. */
    zeus__strlcpy(reason, zeus_last_error(), sizeof reason);
    zeus_power_limit_optimizer_destroy(o);
    return zeus__error(rc, "%s", reason);
}

void zeus_power_limit_optimizer_destroy(zeus_power_limit_optimizer *o)
{
    if (!o)
        return;
    if (o->fsm.limits_mw && o->fsm.phase == ZEUS_PL_PROFILING)
        zeus_monitor_end_window(o->monitor, o->fsm.window, false, true, o->scratch);
    zeus_lease_release(o->lease); /* every GPU back to its limit and persistence mode */
    zeus__pl_fsm_free(&o->fsm);
    zeus_measurement_free(o->scratch);
    free(o->profile_path);
    free(o);
}

int zeus_power_limit_optimizer_restore(zeus_power_limit_optimizer *o)
{
    int first = zeus_lease_restore(o->lease);
    o->fsm.current_mw = 0;
    o->needs_reapply = true;
    return first;
}

/* ---- hooks ---- */

/* Someone (a signal handler that did not end the process, or _restore()) put the GPUs back:
 * set the state's limit again before going on. */
static int reapply_if_needed(zeus_power_limit_optimizer *o)
{
    if (!o->needs_reapply && !zeus_lease_take_signalled(o->lease))
        return ZEUS_OK;
    o->needs_reapply = false;
    /* The restore put persistence mode back too. */
    int rc = enable_persistence(o);
    return rc != ZEUS_OK ? rc : zeus__pl_fsm_reapply(&o->fsm);
}

int zeus_power_limit_on_step_begin(zeus_power_limit_optimizer *o)
{
    int rc = reapply_if_needed(o);
    if (rc != ZEUS_OK)
        return rc;
    return zeus__pl_fsm_on_step_begin(&o->fsm);
}

int zeus_power_limit_on_epoch_end(zeus_power_limit_optimizer *o)
{
    int rc = reapply_if_needed(o);
    if (rc != ZEUS_OK)
        return rc;
    return zeus__pl_fsm_on_epoch_end(&o->fsm);
}

int zeus_power_limit_on_train_begin(zeus_power_limit_optimizer *o)
{
    (void)o;
    return ZEUS_OK;
}

int zeus_power_limit_on_train_end(zeus_power_limit_optimizer *o)
{
    (void)o;
    return ZEUS_OK;
}

int zeus_power_limit_on_epoch_begin(zeus_power_limit_optimizer *o)
{
    (void)o;
    return ZEUS_OK;
}

int zeus_power_limit_on_step_end(zeus_power_limit_optimizer *o)
{
    (void)o;
    return ZEUS_OK;
}

/* ---- queries ---- */

const char *zeus_power_limit_phase_name(zeus_power_limit_phase phase)
{
    static const char *const names[] = {"Ready", "Warmup", "Profiling", "Done"};
    return (unsigned)phase < ZEUS_ARRAY_LEN(names) ? names[phase] : "?";
}

void zeus_power_limit_get_state(const zeus_power_limit_optimizer *o, zeus_power_limit_state *out)
{
    out->phase = o->fsm.phase;
    out->power_limit_mw = o->fsm.limit_mw;
    out->steps = o->fsm.phase == ZEUS_PL_DONE ? 0 : o->fsm.steps;
    out->profiled = o->fsm.measurement_count;
    out->limit_count = o->fsm.limit_count;
}

size_t zeus_power_limit_limits(const zeus_power_limit_optimizer *o, unsigned *limits_mw,
                               size_t capacity)
{
    for (size_t i = 0; i < o->fsm.limit_count && i < capacity; i++)
        limits_mw[i] = o->fsm.limits_mw[i];
    return o->fsm.limit_count;
}

size_t zeus_power_limit_measurements(const zeus_power_limit_optimizer *o,
                                     zeus_power_limit_measurement *out, size_t capacity)
{
    for (size_t i = 0; i < o->fsm.measurement_count && i < capacity; i++)
        out[i] = o->fsm.measurements[i];
    return o->fsm.measurement_count;
}

unsigned zeus_power_limit_optimal_mw(const zeus_power_limit_optimizer *o)
{
    return o->fsm.phase == ZEUS_PL_DONE ? o->fsm.limit_mw : 0;
}

zeus_optimum_selector zeus_power_limit_selector(const zeus_power_limit_optimizer *o)
{
    return o->fsm.cfg.selector;
}
