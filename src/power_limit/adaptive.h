/* Adaptive power-limit profiling (docs/power-limit.md, "Adaptive profiling") as pure logic: the
 * state machine (power_limit_fsm.c) measures a limit in short windows ("chunks") and asks this
 * file whether the limit is known well enough, and whether any limit still to come can win.
 *
 * - A limit stops being measured once the standard error of its per-step cost (from the
 *   chunk-to-chunk variance) is below rel_tol of the cost, or once its cost is above the best
 *   so far by more than z standard errors (it cannot be chosen), or at profile_steps.
 * - The limits are searched, not swept: first every `stride`-th limit from the maximum down
 *   (and the minimum), then the selector runs on what was measured and the unmeasured
 *   neighbours of its choice are measured, until its choice has both neighbours measured. This
 *   assumes the selector's objective changes smoothly between neighbouring limits (it need not
 *   be unimodal: the recorded profiles are not).
 * The measurements it produces are scaled to profile_steps, like full profiling's, and go to
 * the same selector. */
#ifndef ZEUS_POWER_LIMIT_ADAPTIVE_H
#define ZEUS_POWER_LIMIT_ADAPTIVE_H

#include "zeus/power_limit.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int chunk_steps; /* steps per window; a limit is measured in whole chunks */
    int min_chunks;  /* chunks before any decision (the variance needs two) */
    double rel_tol;  /* stop when the standard error of the mean cost is below this fraction */
    double z;        /* "cannot win": cost - best > z x the combined standard error */
    int stride;      /* the coarse pass measures every stride-th limit */
} zeus_pl_adaptive_config;

/* The defaults for a given profile_steps (chunk = profile_steps / 8, at least 1). */
zeus_pl_adaptive_config zeus__pl_adaptive_defaults(int profile_steps);

typedef struct {
    zeus_pl_adaptive_config cfg;
    zeus_optimum_selector selector;
    double max_power_w; /* the maximum limit x world size, for ZeusCost */
    /* The limit being measured: per-chunk per-step cost, time and energy. */
    long chunks, steps;
    double sum_t, sum_e, sum_c, sum_c2;
    /* The best limit so far by the selector's cost (for the "cannot win" stop). */
    bool have_best;
    double best_cost, best_se;
} zeus_pl_adaptive;

void zeus__pl_adaptive_init(zeus_pl_adaptive *a, const zeus_pl_adaptive_config *cfg,
                            const zeus_optimum_selector *selector, double max_power_w);
/* A new limit: forget its chunks (also when its measurement was interrupted). */
void zeus__pl_adaptive_begin_limit(zeus_pl_adaptive *a);
/* One chunk of `steps` steps took time_s and energy_j (both > 0). */
void zeus__pl_adaptive_add(zeus_pl_adaptive *a, long steps, double time_s, double energy_j);
/* Whether the limit is measured well enough (profile_steps: the most steps it may take). */
bool zeus__pl_adaptive_limit_done(const zeus_pl_adaptive *a, long profile_steps);
/* Ends the limit: its measurement scaled to profile_steps. */
void zeus__pl_adaptive_end_limit(zeus_pl_adaptive *a, unsigned limit_w, long profile_steps,
                                 zeus_power_limit_measurement *out);
/* The index in limits_mw (profiling order, max first) of the next limit to measure, or -1 when
 * the search is over. measured: the measurements so far. Fails only when the selector does. */
int zeus__pl_adaptive_next(const zeus_pl_adaptive *a, const unsigned *limits_mw, size_t count,
                           const zeus_power_limit_measurement *measured, size_t measured_count,
                           long *next);

#endif
