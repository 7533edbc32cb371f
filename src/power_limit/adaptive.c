/* Adaptive power-limit profiling (see adaptive.h and docs/power-limit.md). */
#include "power_limit/adaptive.h"

#include "core/internal.h"
#include "zeus/cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

zeus_pl_adaptive_config zeus__pl_adaptive_defaults(int profile_steps)
{
    int chunk = profile_steps / 10;
    return (zeus_pl_adaptive_config){.chunk_steps = chunk > 0 ? chunk : 1,
                                     .min_chunks = 1,
                                     .rel_tol = 0.008,
                                     .z = 2.5,
                                     .stride = 1,
                                     .pool_df = 3,
                                     .revisit_factor = 2.0,
                                     .budget = ZEUS__PL_ADAPTIVE_BUDGET,
                                     .stop_margin = 0.2,
                                     .screen = 0.5,
                                     .epsilon = 0.01};
}

int zeus__pl_adaptive_init(zeus_pl_adaptive *a, const zeus_pl_adaptive_config *cfg,
                           const zeus_optimum_selector *selector, double max_power_w, size_t count,
                           long visit_overhead)
{
    memset(a, 0, sizeof *a);
    a->stats = calloc(count ? count : 1, sizeof *a->stats);
    if (!a->stats)
        return zeus__error(ZEUS_ENOMEM, "out of memory for %zu power limits", count);
    a->cfg = *cfg;
    a->selector = *selector;
    a->max_power_w = max_power_w;
    a->count = count;
    a->visit_overhead = visit_overhead;
    return ZEUS_OK;
}

void zeus__pl_adaptive_free(zeus_pl_adaptive *a)
{
    free(a->stats);
    a->stats = NULL;
    a->count = 0;
}

void zeus__pl_adaptive_reset(zeus_pl_adaptive *a)
{
    if (a->stats)
        memset(a->stats, 0, a->count * sizeof *a->stats);
    a->cur = 0;
    a->revisiting = false;
    a->spent = 0;
}

void zeus__pl_adaptive_begin_limit(zeus_pl_adaptive *a, size_t index)
{
    a->cur = index < a->count ? index : 0;
    a->stats[a->cur].visits++;
    a->spent += a->visit_overhead;
}

/* The quantity the selector ranks, per step. MaxSlowdownConstraint and Time rank by time. */
static double cost_of(const zeus_pl_adaptive *a, double time_s, double energy_j)
{
    switch (a->selector.kind) {
    case ZEUS_SELECTOR_ZEUS_COST:
        return zeus_cost(energy_j, time_s, a->selector.eta_knob, a->max_power_w);
    case ZEUS_SELECTOR_ENERGY:
        return energy_j;
    case ZEUS_SELECTOR_TIME:
    case ZEUS_SELECTOR_MAX_SLOWDOWN:
    case ZEUS_SELECTOR_CUSTOM:
        break;
    }
    return time_s;
}

/* The selectors whose choice is the least of cost_of (MaxSlowdown and custom are not). */
static bool ranks_by_cost(const zeus_pl_adaptive *a)
{
    return a->selector.kind == ZEUS_SELECTOR_ZEUS_COST ||
           a->selector.kind == ZEUS_SELECTOR_ENERGY || a->selector.kind == ZEUS_SELECTOR_TIME;
}

void zeus__pl_adaptive_add(zeus_pl_adaptive *a, long steps, double time_s, double energy_j)
{
    zeus_pl_adaptive_stats *st = &a->stats[a->cur];
    double c = cost_of(a, time_s, energy_j) / (double)steps;
    st->chunks++;
    st->steps += steps;
    st->sum_t += time_s;
    st->sum_e += energy_j;
    st->sum_c += c;
    st->sum_c2 += c * c;
    a->spent += steps;
}

static double mean_cost(const zeus_pl_adaptive_stats *st)
{
    return st->chunks > 0 ? st->sum_c / (double)st->chunks : 0;
}

/* The chunk-to-chunk variance relative to the cost squared, pooled over every limit (sum of
 * squared relative deviations over the degrees of freedom); -1 while it has fewer than
 * cfg.pool_df degrees of freedom. */
static double pooled_rel_var(const zeus_pl_adaptive *a)
{
    double ss = 0;
    long df = 0;
    for (size_t i = 0; i < a->count; i++) {
        const zeus_pl_adaptive_stats *st = &a->stats[i];
        double m = mean_cost(st);
        if (st->chunks < 2 || !(m != 0))
            continue;
        double dev = st->sum_c2 - st->sum_c * st->sum_c / (double)st->chunks;
        ss += (dev > 0 ? dev : 0) / (m * m);
        df += st->chunks - 1;
    }
    if (df < a->cfg.pool_df || df == 0)
        return -1;
    /* Few degrees of freedom: inflated so that z standard errors are Student's t quantile
     * (t ~ z + (z^3 + z) / (4 df), Cornish-Fisher), not the normal one. */
    double z = a->cfg.z, t_over_z = 1 + (z * z + 1) / (4.0 * (double)df);
    return ss / (double)df * t_over_z * t_over_z;
}

/* Standard error of a limit's mean per-step cost (INFINITY while not known). */
static double std_error(const zeus_pl_adaptive_stats *st, double rel_var)
{
    if (rel_var < 0 || st->chunks < 1)
        return INFINITY;
    return sqrt(rel_var / (double)st->chunks) * fabs(mean_cost(st));
}

/* The least-cost measured limit other than `skip` (a->count when there is none). */
static size_t best_other(const zeus_pl_adaptive *a, size_t skip)
{
    size_t best = a->count;
    for (size_t i = 0; i < a->count; i++)
        if (i != skip && a->stats[i].chunks > 0 &&
            (best == a->count || mean_cost(&a->stats[i]) < mean_cost(&a->stats[best])))
            best = i;
    return best;
}

/* Whether the current limit's place in the selector's decision is statistically clear. */
static bool rank_clear(const zeus_pl_adaptive *a, double m, double se, double rel_var)
{
    if (ranks_by_cost(a)) {
        size_t b = best_other(a, a->cur);
        if (b == a->count)
            return false;
        double mb = mean_cost(&a->stats[b]), seb = std_error(&a->stats[b], rel_var);
        return fabs(m - mb) > a->cfg.z * sqrt(se * se + seb * seb);
    }
    if (a->selector.kind != ZEUS_SELECTOR_MAX_SLOWDOWN || a->cur == 0 || a->stats[0].chunks == 0)
        return false;
    /* Whether its time is within factor x the maximum limit's (the first measured). */
    double f = a->selector.factor, ref = f * mean_cost(&a->stats[0]);
    double se_ref = f * std_error(&a->stats[0], rel_var);
    return fabs(m - ref) > a->cfg.z * sqrt(se * se + se_ref * se_ref);
}

/* Whether `more` steps now would leave too few for one chunk at every limit not yet seen
 * within cfg.budget x full profiling's steps (count x (warmup + profile_steps)). */
static bool over_budget(const zeus_pl_adaptive *a, long profile_steps, long more)
{
    long unseen = 0;
    for (size_t i = 0; i < a->count; i++)
        unseen += a->stats[i].visits == 0;
    double full = (double)a->count * (double)(a->visit_overhead + profile_steps);
    long reserve = unseen * (a->visit_overhead + a->cfg.chunk_steps);
    return (double)(a->spent + more + reserve) > a->cfg.budget * full;
}

bool zeus__pl_adaptive_limit_done(const zeus_pl_adaptive *a, long profile_steps)
{
    const zeus_pl_adaptive_stats *st = &a->stats[a->cur];
    /* The first visit of a limit is a screen for the selectors that revisit (the close ones
     * get the steps left after every limit was seen); MaxSlowdown's is the whole measurement. */
    double first = ranks_by_cost(a) ? a->cfg.screen : 1.0;
    double cap = (a->revisiting ? a->cfg.revisit_factor : first) * (double)profile_steps;
    if ((double)st->steps >= cap)
        return true;
    if (st->chunks < a->cfg.min_chunks)
        return false;
    if (over_budget(a, profile_steps, a->cfg.chunk_steps))
        return true;
    double rel_var = pooled_rel_var(a), m = mean_cost(st), se = std_error(st, rel_var);
    if (!isfinite(se))
        return false;
    /* A revisit is for a close race: it ends when the race is decided (or at its cap). For
     * MaxSlowdown a limit near the bound is measured until it is clearly on one side (a choice
     * over the bound breaks the user's constraint, however little). */
    bool near_bound = a->selector.kind == ZEUS_SELECTOR_MAX_SLOWDOWN;
    if (!a->revisiting && !near_bound && se <= a->cfg.rel_tol * fabs(m))
        return true;
    return rank_clear(a, m, se, rel_var);
}

void zeus__pl_adaptive_end_limit(zeus_pl_adaptive *a, unsigned limit_w, long profile_steps,
                                 zeus_power_limit_measurement *out)
{
    const zeus_pl_adaptive_stats *st = &a->stats[a->cur];
    double per_step = (double)profile_steps / (double)st->steps;
    *out = (zeus_power_limit_measurement){
        .power_limit_w = limit_w, .time_s = st->sum_t * per_step, .energy_j = st->sum_e * per_step};
    a->revisiting = false;
}

static bool is_measured(unsigned limit_mw, const zeus_power_limit_measurement *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].power_limit_w == limit_mw / 1000u)
            return true;
    return false;
}

/* Whether limit i is measured and above `bar` by more than the stop margin and z standard
 * errors. */
static bool clearly_above(const zeus_pl_adaptive *a, size_t i, double bar, double rel_var)
{
    const zeus_pl_adaptive_stats *st = &a->stats[i];
    double m = mean_cost(st);
    return st->chunks > 0 && m > bar * (1 + a->cfg.stop_margin) &&
           m - bar > a->cfg.z * std_error(st, rel_var);
}

/* "Cannot win" under a convex cost (a monotone time for MaxSlowdown): the sweep ends before
 * limit `i` when the two limits above it are both well above the best (beyond the stop
 * margin, which the recorded profiles' limit-to-limit jitter stays within) and rising. */
static bool cannot_win_below(const zeus_pl_adaptive *a, size_t i)
{
    if (i < 2 || a->cfg.stop_margin <= 0)
        return false;
    double rel_var = pooled_rel_var(a), bar;
    if (rel_var < 0)
        return false;
    if (ranks_by_cost(a)) {
        size_t b = best_other(a, a->count);
        if (b == a->count)
            return false;
        bar = mean_cost(&a->stats[b]);
    } else if (a->selector.kind == ZEUS_SELECTOR_MAX_SLOWDOWN && a->stats[0].chunks > 0) {
        bar = a->selector.factor * mean_cost(&a->stats[0]);
    } else {
        return false;
    }
    return clearly_above(a, i - 2, bar, rel_var) &&
           clearly_above(a, i - 1, mean_cost(&a->stats[i - 2]) / (1 + a->cfg.stop_margin), rel_var);
}

/* The first pass (every stride-th limit, the minimum last), then with a stride above 1 the
 * unmeasured neighbours of the selector's choice. *next = -1 when both are done. */
static int search_next(const zeus_pl_adaptive *a, const unsigned *limits_mw, size_t count,
                       const zeus_power_limit_measurement *measured, size_t measured_count,
                       long *next)
{
    size_t stride = a->cfg.stride > 0 ? (size_t)a->cfg.stride : 1;
    *next = -1;
    for (size_t i = 0; i < count; i += stride)
        if (!is_measured(limits_mw[i], measured, measured_count)) {
            if (stride == 1 && cannot_win_below(a, i))
                return ZEUS_OK;
            *next = (long)i;
            return ZEUS_OK;
        }
    if (count > 0 && !is_measured(limits_mw[count - 1], measured, measured_count)) {
        *next = (long)count - 1;
        return ZEUS_OK;
    }
    if (stride == 1)
        return ZEUS_OK;
    unsigned chosen_w = 0;
    int rc = zeus_selector_select(&a->selector, measured, measured_count, &chosen_w);
    if (rc != ZEUS_OK)
        return rc;
    for (size_t i = 0; i < count; i++) {
        if (limits_mw[i] / 1000u != chosen_w)
            continue;
        if (i > 0 && !is_measured(limits_mw[i - 1], measured, measured_count))
            *next = (long)i - 1;
        else if (i + 1 < count && !is_measured(limits_mw[i + 1], measured, measured_count))
            *next = (long)i + 1;
        break;
    }
    return ZEUS_OK;
}

/* The limit to measure again, or -1 (LUCB, best-arm identification): the best and the
 * challenger with the lowest lower bound; while their intervals overlap, the less precisely
 * known of the two that may take more steps, as long as the steps stay within the budget. */
static long revisit_next(const zeus_pl_adaptive *a, long profile_steps)
{
    double rel_var = pooled_rel_var(a);
    size_t b = best_other(a, a->count), c = a->count;
    if (!ranks_by_cost(a) || rel_var < 0 || b == a->count)
        return -1;
    if (over_budget(a, profile_steps, a->visit_overhead + a->cfg.chunk_steps))
        return -1;
    double z = a->cfg.z, seb = std_error(&a->stats[b], rel_var), low_c = INFINITY;
    for (size_t i = 0; i < a->count; i++) {
        const zeus_pl_adaptive_stats *st = &a->stats[i];
        double low = mean_cost(st) - z * std_error(st, rel_var);
        if (i != b && st->chunks > 0 && low < low_c) {
            c = i;
            low_c = low;
        }
    }
    /* Done when the intervals part, or when even at their ends the best is within epsilon of
     * the challenger (choosing either costs at most that: not worth more steps). */
    double high_b = mean_cost(&a->stats[b]) + z * seb;
    if (c == a->count || low_c > high_b || high_b - low_c <= a->cfg.epsilon * high_b)
        return -1;
    double cap = a->cfg.revisit_factor * (double)profile_steps;
    double sec = std_error(&a->stats[c], rel_var);
    size_t first = seb >= sec ? b : c, second = first == b ? c : b;
    if ((double)(a->stats[first].steps + a->cfg.chunk_steps) <= cap)
        return (long)first;
    if ((double)(a->stats[second].steps + a->cfg.chunk_steps) <= cap)
        return (long)second;
    return -1;
}

int zeus__pl_adaptive_next(zeus_pl_adaptive *a, const unsigned *limits_mw, size_t count,
                           const zeus_power_limit_measurement *measured, size_t measured_count,
                           long profile_steps, long *next)
{
    int rc = search_next(a, limits_mw, count, measured, measured_count, next);
    if (rc != ZEUS_OK || *next >= 0)
        return rc;
    *next = revisit_next(a, profile_steps);
    a->revisiting = *next >= 0;
    return ZEUS_OK;
}
