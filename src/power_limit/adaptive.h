/* Adaptive power-limit profiling (docs/power-limit.md, "Adaptive profiling") as pure logic: the
 * state machine (power_limit_fsm.c) measures a limit in short windows ("chunks") and asks this
 * file whether the limit is known well enough, and which limit to measure next.
 *
 * - Confidence comes from the chunk-to-chunk variance of the per-step cost (the selector's:
 *   ZeusCost, energy or time), pooled over every limit measured so far as a relative variance
 *   (noise is assumed to scale with the cost), and trusted once it has pool_df degrees of
 *   freedom; until then a limit is measured on.
 * - A limit stops being measured once its rank is statistically clear (its cost differs from
 *   the best other limit's by more than z combined standard errors; for MaxSlowdown, its time
 *   from factor x the maximum limit's time), or once its standard error is below rel_tol of
 *   the cost, and at profile_steps at the latest (full profiling's precision).
 * - The limits are visited every `stride`-th from the maximum down (and the minimum); with a
 *   stride above 1 the selector then runs on what was measured and the unmeasured neighbours of
 *   its choice are measured until both are. The default stride is 1 (every limit, each only as
 *   long as needed): the recorded profiles are not smooth, so a coarse pass misses optima.
 * - Then, for the selectors that rank by a cost, while the best and the runner-up overlap
 *   (within z combined standard errors), the less precisely known of the two is measured again
 *   (a revisit: warmup and more chunks, pooled with its earlier ones) until the two separate or
 *   it has revisit_factor x profile_steps steps, as long as the steps spent stay within
 *   `budget` x full profiling's.
 * The measurements it produces are scaled to profile_steps, like full profiling's, and go to
 * the same selector. */
#ifndef ZEUS_POWER_LIMIT_ADAPTIVE_H
#define ZEUS_POWER_LIMIT_ADAPTIVE_H

#include "zeus/power_limit.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int chunk_steps;       /* steps per window; a limit is measured in whole chunks */
    int min_chunks;        /* chunks per visit before any decision */
    double rel_tol;        /* stop when the standard error of the mean cost is below this */
    double z;              /* "rank clear": |cost - other| > z x the combined standard error */
    int stride;            /* the first pass measures every stride-th limit */
    int pool_df;           /* degrees of freedom before the pooled variance is trusted */
    double revisit_factor; /* a revisited limit stops at this x profile_steps steps */
    double budget;         /* revisits only while the steps stay within this x full's */
    double stop_margin;    /* the sweep stops below two rising limits this far above the best */
    double screen;         /* a first visit takes at most this x profile_steps steps */
    double epsilon;        /* revisits end once the best is surely within this of the rest */
} zeus_pl_adaptive_config;

/* The default budget (zeus_power_limit_options.profiling_budget). */
#define ZEUS__PL_ADAPTIVE_BUDGET 0.45

/* The defaults for a given profile_steps (chunk = profile_steps / 10, at least 1). */
zeus_pl_adaptive_config zeus__pl_adaptive_defaults(int profile_steps);

/* What one limit's chunks add up to (every visit). */
typedef struct {
    long chunks, steps, visits;
    double sum_t, sum_e, sum_c, sum_c2; /* c: the chunk's per-step cost */
} zeus_pl_adaptive_stats;

typedef struct {
    zeus_pl_adaptive_config cfg;
    zeus_optimum_selector selector;
    double max_power_w;            /* the maximum limit x world size, for ZeusCost */
    zeus_pl_adaptive_stats *stats; /* per limit, in profiling order (max first) */
    size_t count;
    size_t cur;          /* the limit being measured */
    bool revisiting;     /* cur is measured again because the top two overlap */
    long visit_overhead; /* steps a visit costs before its first chunk (warmup) */
    long spent;          /* steps spent: visits x visit_overhead + chunks' steps */
} zeus_pl_adaptive;

/* Allocates the per-limit state for `count` limits; visit_overhead: warmup_steps. */
int zeus__pl_adaptive_init(zeus_pl_adaptive *a, const zeus_pl_adaptive_config *cfg,
                           const zeus_optimum_selector *selector, double max_power_w, size_t count,
                           long visit_overhead);
void zeus__pl_adaptive_free(zeus_pl_adaptive *a);
/* Forgets every measurement (profiling starts again). */
void zeus__pl_adaptive_reset(zeus_pl_adaptive *a);
/* Measuring the limit at `index` (again, also after an interrupted visit: chunks that closed
 * are kept, an interrupted one was never added). */
void zeus__pl_adaptive_begin_limit(zeus_pl_adaptive *a, size_t index);
/* One chunk of `steps` steps took time_s and energy_j (both > 0). */
void zeus__pl_adaptive_add(zeus_pl_adaptive *a, long steps, double time_s, double energy_j);
/* Whether this visit of the limit may end (profile_steps: full profiling's steps per limit). */
bool zeus__pl_adaptive_limit_done(const zeus_pl_adaptive *a, long profile_steps);
/* Ends the visit: the limit's measurement (every visit's chunks) scaled to profile_steps. */
void zeus__pl_adaptive_end_limit(zeus_pl_adaptive *a, unsigned limit_w, long profile_steps,
                                 zeus_power_limit_measurement *out);
/* The index in limits_mw (profiling order, max first) of the next limit to measure, or -1 when
 * the search is over. measured: the measurements so far. Fails only when the selector does. */
int zeus__pl_adaptive_next(zeus_pl_adaptive *a, const unsigned *limits_mw, size_t count,
                           const zeus_power_limit_measurement *measured, size_t measured_count,
                           long profile_steps, long *next);

#endif
