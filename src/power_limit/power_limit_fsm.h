/* The power-limit optimizer's state machine (spec 4.2-4.3) as pure logic: every side effect
 * (setting a limit, beginning or ending a monitor window, saving the profile) goes through
 * injected operations, so unit tests drive it with a recorder and no device.
 *
 * Failure rule: when an operation fails, the hook returns its error and leaves the machine in a
 * state from which the next on_step_begin retries (Ready with one step to go for the limit in
 * question), never half-way.
 */
#ifndef ZEUS_POWER_LIMIT_POWER_LIMIT_FSM_H
#define ZEUS_POWER_LIMIT_POWER_LIMIT_FSM_H

#include "power_limit/adaptive.h"
#include "zeus/power_limit.h"

typedef struct {
    /* Set every GPU to limit_mw. Only called when the limit differs from the last one set. */
    int (*set_limit)(void *ctx, unsigned limit_mw);
    int (*begin_window)(void *ctx, const char *name);
    /* cancel: discard the window (time and energy are not read). */
    int (*end_window)(void *ctx, const char *name, bool cancel, double *time_s, double *energy_j);
    /* Called once on entering Done through profiling (not when loaded), after the optimum
     * limit was set; may be NULL. */
    int (*profiled)(void *ctx, const zeus_power_limit_measurement *measurements, size_t count);
} zeus_pl_fsm_ops;

typedef struct {
    int wait_steps;
    int warmup_steps;
    int profile_steps;
    int pl_step_w;
    unsigned min_limit_mw;
    unsigned max_limit_mw;
    zeus_optimum_selector selector; /* world_size already resolved */
    /* Adaptive profiling (adaptive.h): limits measured in chunks of adaptive_cfg.chunk_steps
     * windows, each stopped once known well enough, the search stopped when lower limits
     * cannot win. false: the original's full sweep (every limit, profile_steps each). */
    bool adaptive;
    zeus_pl_adaptive_config adaptive_cfg;
} zeus_pl_fsm_config;

typedef struct {
    const zeus_pl_fsm_ops *ops;
    void *ctx;
    zeus_pl_fsm_config cfg;
    unsigned *limits_mw; /* profiling order: max, max - step, ..., never below min */
    size_t limit_count;
    zeus_power_limit_measurement *measurements; /* capacity: limit_count (or a loaded profile) */
    size_t measurement_count;
    zeus_power_limit_phase phase;
    size_t index;      /* position in limits_mw of the limit in Ready/Warmup/Profiling */
    unsigned limit_mw; /* Ready: next; Warmup/Profiling: current; Done: optimal */
    long steps;
    unsigned current_mw;   /* last limit set on the GPUs; 0 = unknown */
    bool profiled_pending; /* Done through profiling, ops->profiled not yet called */
    /* Profiling window length now: cfg.profile_steps, doubled each time a window reads 0 J
     * (shorter than the energy counter's update period). Measurements are scaled back to
     * cfg.profile_steps so that every limit is compared over the same number of steps. */
    long profile_steps_now;
    long epoch_steps;          /* step begins since the last epoch end */
    bool warned_zero;          /* the "window too short" warning was given */
    bool warned_epoch;         /* the "epoch too short to profile" warning was given */
    zeus_pl_adaptive adaptive; /* cfg.adaptive: the measurement and search state */
    long chunk_steps_now;      /* cfg.adaptive: steps per window (doubled after a 0 J read) */
    long profiling_steps;      /* steps begun from the first limit set to Done */
    char window[64];
} zeus_pl_fsm;

/* Validates the configuration (the original's messages) without side effects. */
int zeus__pl_fsm_validate(const zeus_pl_fsm_config *cfg);
/* Number of limits range(max, min - 1, -step) yields, and the limits themselves. */
size_t zeus__pl_fsm_limit_count(unsigned min_mw, unsigned max_mw, unsigned step_mw);

/* Allocates; no operation is called. The machine is not started. */
int zeus__pl_fsm_init(zeus_pl_fsm *fsm, const zeus_pl_fsm_config *cfg, const zeus_pl_fsm_ops *ops,
                      void *ctx);
void zeus__pl_fsm_free(zeus_pl_fsm *fsm);

/* Starts profiling from scratch: Ready(max, wait_steps + 1) and sets the maximum. */
int zeus__pl_fsm_start(zeus_pl_fsm *fsm);
/* Takes loaded measurements: validates them against the limit range and selects the optimum,
 * entering Done(optimal) without calling any operation (so a bad profile is refused before
 * anything is touched); zeus__pl_fsm_apply() then sets it. origin names the profile in errors. */
int zeus__pl_fsm_load(zeus_pl_fsm *fsm, const zeus_power_limit_measurement *measurements,
                      size_t count, const char *origin);
/* Sets the limit the current state wants (skipped if already set). */
int zeus__pl_fsm_apply(zeus_pl_fsm *fsm);

int zeus__pl_fsm_on_step_begin(zeus_pl_fsm *fsm);
int zeus__pl_fsm_on_epoch_end(zeus_pl_fsm *fsm);

/* The limit the current state wants on the GPUs (max in Ready, the limit in Warmup/Profiling,
 * the optimum in Done). */
unsigned zeus__pl_fsm_wanted_mw(const zeus_pl_fsm *fsm);
/* Forgets what the GPUs are at (someone else changed them) and sets the wanted limit again. */
int zeus__pl_fsm_reapply(zeus_pl_fsm *fsm);

#endif
