/* Adaptive power-limit profiling (see adaptive.h and docs/power-limit.md). */
#include "power_limit/adaptive.h"

#include "zeus/cost.h"

#include <math.h>
#include <string.h>

zeus_pl_adaptive_config zeus__pl_adaptive_defaults(int profile_steps)
{
    int chunk = profile_steps / 8;
    return (zeus_pl_adaptive_config){.chunk_steps = chunk > 0 ? chunk : 1,
                                     .min_chunks = 2,
                                     .rel_tol = 0.008,
                                     .z = 3.0,
                                     .stride = 2};
}

void zeus__pl_adaptive_init(zeus_pl_adaptive *a, const zeus_pl_adaptive_config *cfg,
                            const zeus_optimum_selector *selector, double max_power_w)
{
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    a->selector = *selector;
    a->max_power_w = max_power_w;
}

void zeus__pl_adaptive_begin_limit(zeus_pl_adaptive *a)
{
    a->chunks = a->steps = 0;
    a->sum_t = a->sum_e = a->sum_c = a->sum_c2 = 0;
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

void zeus__pl_adaptive_add(zeus_pl_adaptive *a, long steps, double time_s, double energy_j)
{
    double c = cost_of(a, time_s, energy_j) / (double)steps;
    a->chunks++;
    a->steps += steps;
    a->sum_t += time_s;
    a->sum_e += energy_j;
    a->sum_c += c;
    a->sum_c2 += c * c;
}

static double mean_cost(const zeus_pl_adaptive *a)
{
    return a->chunks > 0 ? a->sum_c / (double)a->chunks : 0;
}

/* Standard error of the mean per-step cost over the chunks (sample variance). */
static double std_error(const zeus_pl_adaptive *a)
{
    if (a->chunks < 2)
        return INFINITY;
    double n = (double)a->chunks, m = a->sum_c / n;
    double var = (a->sum_c2 - n * m * m) / (n - 1);
    return var > 0 ? sqrt(var / n) : 0;
}

bool zeus__pl_adaptive_limit_done(const zeus_pl_adaptive *a, long profile_steps)
{
    if (a->steps >= profile_steps)
        return true;
    if (a->chunks < a->cfg.min_chunks)
        return false;
    double m = mean_cost(a), se = std_error(a);
    if (se <= a->cfg.rel_tol * fabs(m))
        return true;
    /* Clearly worse than the best so far: no more steps can make it the choice. Only where
     * the selector ranks by this cost (MaxSlowdown and custom need the values themselves). */
    bool ranks = a->selector.kind == ZEUS_SELECTOR_ZEUS_COST ||
                 a->selector.kind == ZEUS_SELECTOR_ENERGY || a->selector.kind == ZEUS_SELECTOR_TIME;
    return ranks && a->have_best &&
           m - a->best_cost > a->cfg.z * sqrt(se * se + a->best_se * a->best_se);
}

void zeus__pl_adaptive_end_limit(zeus_pl_adaptive *a, unsigned limit_w, long profile_steps,
                                 zeus_power_limit_measurement *out)
{
    double per_step = (double)profile_steps / (double)a->steps;
    *out = (zeus_power_limit_measurement){
        .power_limit_w = limit_w, .time_s = a->sum_t * per_step, .energy_j = a->sum_e * per_step};
    double m = mean_cost(a), se = std_error(a);
    if (!a->have_best || m < a->best_cost) {
        a->have_best = true;
        a->best_cost = m;
        a->best_se = isfinite(se) ? se : 0;
    }
}

static bool is_measured(unsigned limit_mw, const zeus_power_limit_measurement *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].power_limit_w == limit_mw / 1000u)
            return true;
    return false;
}

int zeus__pl_adaptive_next(const zeus_pl_adaptive *a, const unsigned *limits_mw, size_t count,
                           const zeus_power_limit_measurement *measured, size_t measured_count,
                           long *next)
{
    size_t stride = a->cfg.stride > 0 ? (size_t)a->cfg.stride : 1;
    /* The coarse pass, the minimum last. */
    for (size_t i = 0; i < count; i += stride)
        if (!is_measured(limits_mw[i], measured, measured_count)) {
            *next = (long)i;
            return ZEUS_OK;
        }
    if (count > 0 && !is_measured(limits_mw[count - 1], measured, measured_count)) {
        *next = (long)count - 1;
        return ZEUS_OK;
    }
    /* Refinement: the unmeasured neighbours of the current choice. */
    unsigned chosen_w = 0;
    int rc = zeus_selector_select(&a->selector, measured, measured_count, &chosen_w);
    if (rc != ZEUS_OK)
        return rc;
    *next = -1;
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
