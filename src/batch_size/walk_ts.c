/* The walk-ts batch-size policy (zeus_bso_config.policy = ZEUS_BSO_POLICY_WALK_TS): cheaper
 * exploration than pruning + Gaussian TS, measured on the paper's traces (bench/bench_policy.c,
 * docs/simulate.md).
 *
 * Where the original's regret comes from: after exploration its bandit plays the cheapest size
 * almost always, so nearly all of the regret is the two pruning rounds, which run every size
 * that reaches the target twice, however expensive its first run was. walk-ts explores once and
 * stops early, using that a run's cost is smooth in the batch size:
 *
 * 1. The walk: from the default size down, then up, one run per size, as the first pruning
 *    round, but a direction also stops after a size whose run cost more than WALK_STOP x the
 *    cheapest reached run so far (further sizes in that direction are costlier still), and the
 *    upward walk is skipped when a smaller size already beat the default (the cost falls
 *    towards smaller sizes, so it rises above the default). A size's first run is stopped
 *    early at WALK_STOP (not beta) x the cheapest recurrence. A size that misses the target
 *    during the walk is never played again (as pruning drops it).
 * 2. Thompson sampling on the expected cost per reached run of each size that reached the
 *    target: every run's cost (reached or not: a miss is paid and retried) over the reached
 *    runs. Its posterior is normal with standard error cv x mean / sqrt(reached runs), where the
 *    relative spread cv is pooled over every size (with a prior of CV_PRIOR worth
 *    CV_PRIOR_WEIGHT runs), so a size seen once already has a calibrated posterior and needs no
 *    second exploration run (the original needs two runs per size to estimate a variance, and
 *    a size whose two runs happened to agree gets an infinitely sure posterior). The lowest
 *    sample wins (ties: the smaller size).
 *
 * Pure logic; randomness from zeus_rng, so the decisions are a function of the seed and the
 * observations. */
#include "batch_size/policy_internal.h"

#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Stop a direction of the walk after a run costing more than WALK_STOP x the cheapest reached
 * run so far; a walk's first run of a size is also stopped early at WALK_STOP x the cheapest
 * recurrence (instead of beta x): a run that costs more would end the walk anyway, and one that
 * never reaches the target (a size too small to converge) is cut sooner. */
#define WALK_STOP 1.5
/* The prior of the pooled relative spread of a run's cost, and its weight in runs. */
#define CV_PRIOR 0.1
#define CV_PRIOR_WEIGHT 1.0

/* Chosen by a sweep on the 24 paper configurations, seeds 1-5 (WALK_STOP 1.2-2, CV_PRIOR
 * 0.1-0.3, weight 1-4), and checked on seeds 1-20: a WALK_STOP of 1.2 or 1.3 stops a walk
 * before the optimum on one configuration (21 % worse there); 2 explores as much as pruning. */

int zeus__walkts_create(size_t n, size_t start, uint64_t seed, zeus_walkts **out)
{
    zeus_walkts *w = calloc(1, sizeof *w);
    if (w)
        w->arms = calloc(n ? n : 1, sizeof *w->arms);
    if (!w || !w->arms) {
        zeus__walkts_destroy(w);
        return zeus__error(ZEUS_ENOMEM, "walk-ts: out of memory");
    }
    w->n = n;
    w->start = start;
    w->phase = ZEUS_WALK_DOWN;
    w->pos = start;
    w->best = INFINITY;
    zeus_rng_seed(&w->rng, seed);
    *out = w;
    return ZEUS_OK;
}

void zeus__walkts_destroy(zeus_walkts *w)
{
    if (!w)
        return;
    free(w->arms);
    free(w);
}

/* The cheapest reached run among the sizes below the default. */
static double best_below_start(const zeus_walkts *w)
{
    double best = INFINITY;
    for (size_t i = 0; i < w->start; i++)
        if (w->arms[i].reached && w->arms[i].ok_mean < best)
            best = w->arms[i].ok_mean;
    return best;
}

/* The downward walk is over: walk up from the default, unless smaller sizes already won. */
static void turn_up(zeus_walkts *w)
{
    const zeus_walk_arm *def = &w->arms[w->start];
    bool skip = def->reached && best_below_start(w) < def->ok_mean;
    w->pos = w->start + 1;
    w->phase = (skip || w->pos >= w->n) ? ZEUS_WALK_SAMPLE : ZEUS_WALK_UP;
}

/* The walk's result for the size it handed out. */
static void walk_step(zeus_walkts *w, double cost, bool reached)
{
    w->awaiting = false;
    bool stop = !reached || cost > WALK_STOP * w->best;
    if (w->phase == ZEUS_WALK_DOWN) {
        if (stop || w->pos == 0)
            turn_up(w);
        else
            w->pos--;
    } else if (stop || ++w->pos >= w->n) {
        w->phase = ZEUS_WALK_SAMPLE;
    }
}

void zeus__walkts_observe(zeus_walkts *w, size_t index, double cost, int reached)
{
    zeus_walk_arm *a = &w->arms[index];
    bool ok = reached != 0; /* unknown (-1) counts as reached: the run is paid either way */
    a->runs++;
    a->cost_sum += cost;
    if (ok) {
        a->reached++;
        double delta = cost - a->ok_mean;
        a->ok_mean += delta / a->reached;
        a->ok_m2 += delta * (cost - a->ok_mean);
        if (cost < w->best)
            w->best = cost;
    }
    bool walked = w->phase != ZEUS_WALK_SAMPLE && w->awaiting && index == w->pos;
    if (walked && !ok)
        a->excluded = true;
    if (walked)
        walk_step(w, cost, ok);
}

/* Pooled squared relative spread of the reached runs' costs, shrunk to the prior. */
static double pooled_cv2(const zeus_walkts *w)
{
    double num = CV_PRIOR_WEIGHT * CV_PRIOR * CV_PRIOR;
    double den = CV_PRIOR_WEIGHT;
    for (size_t i = 0; i < w->n; i++) {
        const zeus_walk_arm *a = &w->arms[i];
        if (a->reached >= 2 && a->ok_mean > 0) {
            num += a->ok_m2 / (a->ok_mean * a->ok_mean);
            den += a->reached - 1;
        }
    }
    return num / den;
}

static bool estimate(const zeus_walkts *w, size_t i, double cv2, double *mean, double *sd)
{
    const zeus_walk_arm *a = &w->arms[i];
    if (a->excluded || a->reached == 0)
        return false;
    *mean = a->cost_sum / a->reached;
    *sd = sqrt(cv2) * *mean / sqrt((double)a->reached);
    return true;
}

bool zeus__walkts_estimate(const zeus_walkts *w, size_t index, double *mean, double *sd)
{
    return index < w->n && estimate(w, index, pooled_cv2(w), mean, sd);
}

double zeus__walkts_bound(const zeus_walkts *w, size_t index, double beta)
{
    bool first_run = w->phase != ZEUS_WALK_SAMPLE && index == w->pos && w->arms[index].runs == 0;
    return first_run && WALK_STOP < beta ? WALK_STOP : beta;
}

int zeus__walkts_predict(zeus_walkts *w, size_t *index)
{
    if (w->phase != ZEUS_WALK_SAMPLE) {
        w->awaiting = true;
        *index = w->pos;
        return ZEUS_OK;
    }
    double cv2 = pooled_cv2(w), best = INFINITY;
    size_t best_i = w->n;
    for (size_t i = 0; i < w->n; i++) {
        double mean, sd;
        if (!estimate(w, i, cv2, &mean, &sd))
            continue;
        double x = zeus_rng_normal(&w->rng, mean, sd);
        if (x < best) {
            best = x;
            best_i = i;
        }
    }
    if (best_i == w->n)
        return zeus__error(ZEUS_EINVAL, "walk-ts: no batch size reached the target");
    *index = best_i;
    return ZEUS_OK;
}
