/* The power-limit optimizer's state machine (see power_limit_fsm.h and spec 4.3). */
#include "power_limit/power_limit_fsm.h"

#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A window never grows past this many steps when retrying a limit that read 0 J. */
#define ZEUS_PL_MAX_PROFILE_STEPS (1L << 20)

int zeus__pl_fsm_validate(const zeus_pl_fsm_config *cfg)
{
    if (cfg->wait_steps < 0)
        return zeus__error(ZEUS_EINVAL, "wait_steps must be non-negative. Got %d.",
                           cfg->wait_steps);
    /* warmup_steps = 0 is accepted by the original and then crashes at the first transition
     * (spec 10.4); here it means "profile right after the limit changes". */
    if (cfg->warmup_steps < 0)
        return zeus__error(ZEUS_EINVAL, "warmup_steps must be non-negative. Got %d.",
                           cfg->warmup_steps);
    if (cfg->profile_steps <= 0)
        return zeus__error(ZEUS_EINVAL, "profile_steps must be positive. Got %d.",
                           cfg->profile_steps);
    if (cfg->pl_step_w <= 0 || cfg->pl_step_w > 1000000)
        return zeus__error(ZEUS_EINVAL, "pl_step must be positive. Got %d.", cfg->pl_step_w);
    if (cfg->max_limit_mw == 0 || cfg->min_limit_mw > cfg->max_limit_mw)
        return zeus__error(ZEUS_EINVAL, "invalid power-limit range %u-%u mW", cfg->min_limit_mw,
                           cfg->max_limit_mw);
    return zeus_selector_validate(&cfg->selector);
}

/* The original's range(max, min - step, -step) can end one step below the minimum when the
 * range is not a multiple of the step (spec 10.3), which NVML rejects. As at HEAD, we stop at
 * the minimum: range(max, min - 1, -step). */
size_t zeus__pl_fsm_limit_count(unsigned min_mw, unsigned max_mw, unsigned step_mw)
{
    if (step_mw == 0 || min_mw > max_mw)
        return 0;
    return (size_t)((max_mw - min_mw) / step_mw) + 1;
}

int zeus__pl_fsm_init(zeus_pl_fsm *fsm, const zeus_pl_fsm_config *cfg, const zeus_pl_fsm_ops *ops,
                      void *ctx)
{
    memset(fsm, 0, sizeof *fsm);
    int rc = zeus__pl_fsm_validate(cfg);
    if (rc != ZEUS_OK)
        return rc;
    unsigned step = (unsigned)cfg->pl_step_w * 1000u;
    size_t n = zeus__pl_fsm_limit_count(cfg->min_limit_mw, cfg->max_limit_mw, step);
    fsm->limits_mw = calloc(n, sizeof *fsm->limits_mw);
    fsm->measurements = calloc(n, sizeof *fsm->measurements);
    if (!fsm->limits_mw || !fsm->measurements) {
        zeus__pl_fsm_free(fsm);
        return zeus__error(ZEUS_ENOMEM, "out of memory for %zu power limits", n);
    }
    for (size_t i = 0; i < n; i++)
        fsm->limits_mw[i] = cfg->max_limit_mw - (unsigned)i * step;
    fsm->limit_count = n;
    fsm->cfg = *cfg;
    fsm->ops = ops;
    fsm->ctx = ctx;
    fsm->phase = ZEUS_PL_READY;
    fsm->limit_mw = fsm->limits_mw[0];
    fsm->steps = (long)cfg->wait_steps + 1;
    fsm->profile_steps_now = cfg->profile_steps;
    if (cfg->adaptive) {
        /* The ZeusCost selector's max power: the maximum limit (whole watts, as the profile
         * holds it) times the world size. */
        double world = cfg->selector.world_size > 0 ? (double)cfg->selector.world_size : 1.0;
        rc = zeus__pl_adaptive_init(&fsm->adaptive, &cfg->adaptive_cfg, &cfg->selector,
                                    (double)(cfg->max_limit_mw / 1000u) * world, n,
                                    cfg->warmup_steps);
        if (rc != ZEUS_OK) {
            zeus__pl_fsm_free(fsm);
            return rc;
        }
        fsm->chunk_steps_now = cfg->adaptive_cfg.chunk_steps;
    }
    return ZEUS_OK;
}

void zeus__pl_fsm_free(zeus_pl_fsm *fsm)
{
    free(fsm->limits_mw);
    free(fsm->measurements);
    zeus__pl_adaptive_free(&fsm->adaptive);
    fsm->limits_mw = NULL;
    fsm->measurements = NULL;
    fsm->limit_count = fsm->measurement_count = 0;
}

/* The original's _set_power_limit: skips the device entirely when the limit is already set
 * (the call sequences in spec 11.3 depend on it). A failure leaves the GPUs in an unknown
 * state, so the next set is never skipped. */
static int set_limit(zeus_pl_fsm *fsm, unsigned limit_mw)
{
    if (limit_mw == fsm->current_mw)
        return ZEUS_OK;
    ZEUS_DEBUG("power-limit optimizer: setting the power limit to %u W", limit_mw / 1000);
    int rc = fsm->ops->set_limit(fsm->ctx, limit_mw);
    fsm->current_mw = rc == ZEUS_OK ? limit_mw : 0;
    return rc;
}

static void window_name(zeus_pl_fsm *fsm, unsigned limit_mw)
{
    snprintf(fsm->window, sizeof fsm->window, "__GlobalPowerLimitOptimizer_%u", limit_mw / 1000);
}

static void go_ready(zeus_pl_fsm *fsm, size_t index, long steps)
{
    fsm->phase = ZEUS_PL_READY;
    fsm->index = index;
    fsm->limit_mw = fsm->limits_mw[index];
    fsm->steps = steps;
}

/* Opens the profiling window of the current limit; on failure retry the limit next step. */
static int start_profiling(zeus_pl_fsm *fsm)
{
    window_name(fsm, fsm->limit_mw);
    int rc = fsm->ops->begin_window(fsm->ctx, fsm->window);
    if (rc != ZEUS_OK) {
        go_ready(fsm, fsm->index, 1);
        return rc;
    }
    fsm->phase = ZEUS_PL_PROFILING;
    fsm->steps = fsm->cfg.adaptive ? fsm->chunk_steps_now : fsm->profile_steps_now;
    ZEUS_INFO("power-limit optimizer: profiling %u W", fsm->limit_mw / 1000);
    return ZEUS_OK;
}

/* Warmup(limit) or, with warmup_steps = 0, straight into Profiling. The limit is already set. */
static int begin_limit(zeus_pl_fsm *fsm, size_t index)
{
    fsm->index = index;
    fsm->limit_mw = fsm->limits_mw[index];
    if (fsm->cfg.adaptive)
        zeus__pl_adaptive_begin_limit(&fsm->adaptive, index);
    if (fsm->cfg.warmup_steps == 0)
        return start_profiling(fsm);
    fsm->phase = ZEUS_PL_WARMUP;
    fsm->steps = fsm->cfg.warmup_steps;
    ZEUS_INFO("power-limit optimizer: warming up at %u W", fsm->limit_mw / 1000);
    return ZEUS_OK;
}

/* Sets the limit at index and begins its warmup; on failure retry it at the next step. */
static int enter_limit(zeus_pl_fsm *fsm, size_t index)
{
    int rc = set_limit(fsm, fsm->limits_mw[index]);
    if (rc != ZEUS_OK) {
        go_ready(fsm, index, 1);
        return rc;
    }
    return begin_limit(fsm, index);
}

/* Watts (profile, selectors) to the milliwatts we set: the profiled limit that truncates to w
 * (ranges need not be whole watts), else w x 1000; 0 if that is outside the range. */
static unsigned to_mw(const zeus_pl_fsm *fsm, unsigned w)
{
    for (size_t i = 0; i < fsm->limit_count; i++)
        if (fsm->limits_mw[i] / 1000u == w)
            return fsm->limits_mw[i];
    if (w > fsm->cfg.max_limit_mw / 1000u || w * 1000u < fsm->cfg.min_limit_mw)
        return 0;
    return w * 1000u;
}

static bool in_range(const zeus_pl_fsm *fsm, unsigned w)
{
    return to_mw(fsm, w) != 0;
}

static int out_of_range(const zeus_pl_fsm *fsm, unsigned w)
{
    return zeus__error(ZEUS_ERANGE, "the selector chose %u W, outside the GPUs' range %u-%u W", w,
                       fsm->cfg.min_limit_mw / 1000, fsm->cfg.max_limit_mw / 1000);
}

/* Done: the optimum on the GPUs, then the profile handed over (once). A failure is retried
 * at the next step. */
static int settle(zeus_pl_fsm *fsm)
{
    int rc = set_limit(fsm, fsm->limit_mw);
    if (rc != ZEUS_OK || !fsm->profiled_pending)
        return rc;
    fsm->profiled_pending = false;
    return fsm->ops->profiled
               ? fsm->ops->profiled(fsm->ctx, fsm->measurements, fsm->measurement_count)
               : ZEUS_OK;
}

static int finish(zeus_pl_fsm *fsm)
{
    unsigned optimal_w = 0;
    int rc = zeus_selector_select(&fsm->cfg.selector, fsm->measurements, fsm->measurement_count,
                                  &optimal_w);
    if (rc == ZEUS_OK && !in_range(fsm, optimal_w))
        rc = out_of_range(fsm, optimal_w);
    if (rc != ZEUS_OK) {
        /* Done at the maximum: the safe limit; the caller learns why. */
        fsm->phase = ZEUS_PL_DONE;
        fsm->limit_mw = fsm->cfg.max_limit_mw;
        set_limit(fsm, fsm->cfg.max_limit_mw);
        return rc;
    }
    fsm->phase = ZEUS_PL_DONE;
    fsm->limit_mw = to_mw(fsm, optimal_w);
    fsm->profiled_pending = true;
    ZEUS_INFO("power-limit optimizer: optimal power limit is %u W", optimal_w);
    return settle(fsm);
}

int zeus__pl_fsm_start(zeus_pl_fsm *fsm)
{
    go_ready(fsm, 0, (long)fsm->cfg.wait_steps + 1);
    fsm->measurement_count = 0;
    fsm->profiling_steps = 0;
    if (fsm->cfg.adaptive)
        zeus__pl_adaptive_reset(&fsm->adaptive);
    return set_limit(fsm, fsm->cfg.max_limit_mw);
}

int zeus__pl_fsm_load(zeus_pl_fsm *fsm, const zeus_power_limit_measurement *measurements,
                      size_t count, const char *origin)
{
    if (count == 0)
        return zeus__error(ZEUS_EPARSE, "%s: the profile has no measurements", origin);
    for (size_t i = 0; i < count; i++) {
        if (!in_range(fsm, measurements[i].power_limit_w))
            return zeus__error(ZEUS_ERANGE,
                               "%s: measurements[%zu].power_limit %u W is outside this GPU's range "
                               "%u-%u W (was the profile made on another GPU model? delete it to "
                               "profile again)",
                               origin, i, measurements[i].power_limit_w,
                               fsm->cfg.min_limit_mw / 1000, fsm->cfg.max_limit_mw / 1000);
    }
    if (count > fsm->limit_count) {
        zeus_power_limit_measurement *grown =
            realloc(fsm->measurements, count * sizeof *fsm->measurements);
        if (!grown)
            return zeus__error(ZEUS_ENOMEM, "out of memory loading %s", origin);
        fsm->measurements = grown;
    }
    memcpy(fsm->measurements, measurements, count * sizeof *measurements);
    fsm->measurement_count = count;
    unsigned optimal_w = 0;
    int rc = zeus_selector_select(&fsm->cfg.selector, measurements, count, &optimal_w);
    if (rc != ZEUS_OK)
        return rc;
    if (!in_range(fsm, optimal_w))
        return out_of_range(fsm, optimal_w);
    fsm->phase = ZEUS_PL_DONE;
    fsm->limit_mw = to_mw(fsm, optimal_w);
    fsm->steps = 0;
    ZEUS_INFO("power-limit optimizer: loaded %s; optimal power limit is %u W", origin, optimal_w);
    return ZEUS_OK;
}

int zeus__pl_fsm_apply(zeus_pl_fsm *fsm)
{
    return set_limit(fsm, zeus__pl_fsm_wanted_mw(fsm));
}

static bool bad_reading(double time_s, double energy_j)
{
    return !(time_s > 0) || !(energy_j > 0) || !isfinite(time_s) || !isfinite(energy_j);
}

/* A window twice as long, up to the bound. */
static long doubled(long steps)
{
    return steps < ZEUS_PL_MAX_PROFILE_STEPS / 2 ? steps * 2 : ZEUS_PL_MAX_PROFILE_STEPS;
}

/* Ends the current limit's window; on failure the limit is retried at the next step. */
static int close_window(zeus_pl_fsm *fsm, double *time_s, double *energy_j)
{
    int rc = fsm->ops->end_window(fsm->ctx, fsm->window, false, time_s, energy_j);
    if (rc != ZEUS_OK)
        go_ready(fsm, fsm->index, 1);
    return rc;
}

/* Adaptive profiling: one chunk of the current limit has closed. Record it, then measure
 * another chunk, the next limit, or finish. Every decision depends only on what end_window
 * returned (all-reduced in distributed training), so every rank decides the same. */
static int complete_chunk(zeus_pl_fsm *fsm)
{
    double time_s = 0, energy_j = 0;
    unsigned limit_mw = fsm->limit_mw;
    int rc = close_window(fsm, &time_s, &energy_j);
    if (rc != ZEUS_OK)
        return rc;
    if (bad_reading(time_s, energy_j)) {
        /* Shorter than the energy counter's update period: longer chunks from now on. */
        long grown = doubled(fsm->chunk_steps_now);
        if (!fsm->warned_zero)
            ZEUS_WARN("power-limit optimizer: a %ld-step window at %u W measured %g s and %g J "
                      "(shorter than the energy counter's update period); adaptive profiling "
                      "goes on with %ld-step windows",
                      fsm->chunk_steps_now, limit_mw / 1000, time_s, energy_j, grown);
        fsm->warned_zero = true;
        fsm->chunk_steps_now = grown;
        return start_profiling(fsm);
    }
    zeus__pl_adaptive_add(&fsm->adaptive, fsm->chunk_steps_now, time_s, energy_j);
    if (!zeus__pl_adaptive_limit_done(&fsm->adaptive, fsm->cfg.profile_steps))
        return start_profiling(fsm);
    /* A limit measured again (a revisit) keeps its place in the profile. */
    size_t slot = 0;
    while (slot < fsm->measurement_count &&
           fsm->measurements[slot].power_limit_w != limit_mw / 1000)
        slot++;
    zeus_power_limit_measurement *m = &fsm->measurements[slot];
    if (slot == fsm->measurement_count)
        fsm->measurement_count++;
    zeus__pl_adaptive_end_limit(&fsm->adaptive, limit_mw / 1000, fsm->cfg.profile_steps, m);
    ZEUS_INFO("power-limit optimizer: %u W took %g s and %g J (adaptive: %ld steps)",
              limit_mw / 1000, m->time_s, m->energy_j, fsm->adaptive.stats[fsm->index].steps);
    long next = -1;
    rc = zeus__pl_adaptive_next(&fsm->adaptive, fsm->limits_mw, fsm->limit_count, fsm->measurements,
                                fsm->measurement_count, fsm->cfg.profile_steps, &next);
    if (rc != ZEUS_OK || next < 0)
        return finish(fsm); /* a failing selector fails there, as in full profiling */
    return enter_limit(fsm, (size_t)next);
}

/* The profiling window of the current limit has closed: record it and move on. */
static int complete_limit(zeus_pl_fsm *fsm)
{
    double time_s = 0, energy_j = 0;
    size_t index = fsm->index;
    unsigned limit_mw = fsm->limit_mw;
    int rc = close_window(fsm, &time_s, &energy_j);
    if (rc != ZEUS_OK)
        return rc;
    /* The original rejects these through pydantic (PositiveFloat) with a crash, although the
     * intent is to retry. A zero reading means the window was shorter than the energy
     * counter's update period: a measurement problem, never an error out of the training
     * loop. Retry the limit with a window twice as long (warned once), up to a bound. */
    if (bad_reading(time_s, energy_j)) {
        long grown = doubled(fsm->profile_steps_now);
        if (!fsm->warned_zero)
            ZEUS_WARN("power-limit optimizer: the profile of %u W measured %g s and %g J over "
                      "%ld steps (shorter than the energy counter's update period); profiling "
                      "it again over %ld steps. Raise profile_steps to avoid the retry.",
                      limit_mw / 1000, time_s, energy_j, fsm->profile_steps_now, grown);
        fsm->warned_zero = true;
        fsm->profile_steps_now = grown;
        go_ready(fsm, index, 1);
        return ZEUS_OK;
    }
    /* Every limit is compared over cfg.profile_steps steps, however long its window was. */
    double scale = (double)fsm->cfg.profile_steps / (double)fsm->profile_steps_now;
    time_s *= scale;
    energy_j *= scale;
    fsm->measurements[fsm->measurement_count++] = (zeus_power_limit_measurement){
        .power_limit_w = limit_mw / 1000, .energy_j = energy_j, .time_s = time_s};
    ZEUS_INFO("power-limit optimizer: %u W took %g s and %g J", limit_mw / 1000, time_s, energy_j);
    if (index + 1 == fsm->limit_count)
        return finish(fsm);
    return enter_limit(fsm, index + 1);
}

int zeus__pl_fsm_on_step_begin(zeus_pl_fsm *fsm)
{
    fsm->epoch_steps++;
    if (fsm->phase != ZEUS_PL_DONE &&
        !(fsm->phase == ZEUS_PL_READY && fsm->measurement_count == 0 && fsm->steps > 1))
        fsm->profiling_steps++;
    switch (fsm->phase) {
    case ZEUS_PL_READY:
        if (--fsm->steps > 0)
            return ZEUS_OK;
        return enter_limit(fsm, fsm->index);
    case ZEUS_PL_WARMUP:
        if (--fsm->steps > 0)
            return ZEUS_OK;
        return start_profiling(fsm);
    case ZEUS_PL_PROFILING:
        if (--fsm->steps > 0)
            return ZEUS_OK;
        return fsm->cfg.adaptive ? complete_chunk(fsm) : complete_limit(fsm);
    case ZEUS_PL_DONE:
        /* Only after a failed set (the GPUs' limit is unknown): try again. */
        return fsm->current_mw == fsm->limit_mw ? ZEUS_OK : settle(fsm);
    }
    return ZEUS_OK;
}

int zeus__pl_fsm_on_epoch_end(zeus_pl_fsm *fsm)
{
    long epoch_steps = fsm->epoch_steps;
    fsm->epoch_steps = 0;
    if (fsm->phase != ZEUS_PL_WARMUP && fsm->phase != ZEUS_PL_PROFILING)
        return ZEUS_OK;
    /* A limit needs warmup + profile steps after the step that sets it; the original restarts
     * it at every epoch end, so with shorter epochs profiling silently never ends. Keep the
     * behaviour but say so once. */
    long window = fsm->cfg.adaptive ? fsm->chunk_steps_now * (long)fsm->cfg.adaptive_cfg.min_chunks
                                    : fsm->profile_steps_now;
    long needed = (long)fsm->cfg.warmup_steps + window + 1;
    if (epoch_steps < needed && !fsm->warned_epoch) {
        fsm->warned_epoch = true;
        ZEUS_WARN("power-limit optimizer: this epoch had %ld steps, but profiling a limit takes "
                  "%ld (warmup_steps %d + %ld profiled steps + 1) and restarts at every epoch "
                  "end, so profiling can never finish: lower warmup_steps and profile_steps so "
                  "that their sum is below the steps in an epoch",
                  epoch_steps, needed, fsm->cfg.warmup_steps, window);
    }
    ZEUS_INFO("power-limit optimizer: %s of %u W interrupted by the end of an epoch; it is "
              "retried at the next step",
              fsm->phase == ZEUS_PL_WARMUP ? "warmup" : "profiling", fsm->limit_mw / 1000);
    int rc = ZEUS_OK;
    if (fsm->phase == ZEUS_PL_PROFILING) {
        double t, e;
        rc = fsm->ops->end_window(fsm->ctx, fsm->window, true, &t, &e);
    }
    go_ready(fsm, fsm->index, 1);
    int rc2 = set_limit(fsm, fsm->cfg.max_limit_mw);
    return rc != ZEUS_OK ? rc : rc2;
}

unsigned zeus__pl_fsm_wanted_mw(const zeus_pl_fsm *fsm)
{
    switch (fsm->phase) {
    case ZEUS_PL_READY:
        return fsm->cfg.max_limit_mw;
    case ZEUS_PL_WARMUP:
    case ZEUS_PL_PROFILING:
    case ZEUS_PL_DONE:
        return fsm->limit_mw;
    }
    return fsm->cfg.max_limit_mw;
}

int zeus__pl_fsm_reapply(zeus_pl_fsm *fsm)
{
    fsm->current_mw = 0;
    return zeus__pl_fsm_apply(fsm);
}
