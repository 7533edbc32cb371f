/* GaussianTS: Thompson sampling for Gaussian bandits with known reward precision and a
 * conjugate Normal prior (the original's zeus/policy/mab.py, spec 6.2). */
#include "batch_size/policy_internal.h"

#include "core/internal.h"
#include "core/npstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void zeus_gts_config_default(zeus_gts_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->num_exploration = 1;
    cfg->seed = 123456;
}

int zeus__gts_alloc(size_t n_arms, zeus_gts **out)
{
    zeus_gts *gts = calloc(1, sizeof *gts);
    if (!gts)
        goto fail;
    gts->arms = calloc(n_arms, sizeof *gts->arms);
    gts->order = calloc(n_arms, sizeof *gts->order);
    if (!gts->arms || !gts->order)
        goto fail;
    gts->n_arms = n_arms;
    *out = gts;
    return ZEUS_OK;
fail:
    zeus_gts_destroy(gts);
    return zeus__error(ZEUS_ENOMEM, "GaussianTS: out of memory");
}

int zeus_gts_create(const zeus_gts_config *cfg, const int *arms, size_t n_arms, zeus_gts **out)
{
    if (!cfg || !arms || !out)
        return zeus__error(ZEUS_EINVAL, "GaussianTS: NULL argument");
    if (n_arms == 0)
        return zeus__error(ZEUS_EINVAL, "GaussianTS: no arms");
    if (cfg->num_exploration < 0)
        return zeus__error(ZEUS_EINVAL, "GaussianTS: num_exploration %d is negative",
                           cfg->num_exploration);
    for (size_t i = 0; i < n_arms; i++)
        for (size_t j = 0; j < i; j++)
            if (arms[i] == arms[j])
                return zeus__error(ZEUS_EINVAL, "GaussianTS: arm %d appears twice", arms[i]);
    zeus_gts *gts;
    int rc = zeus__gts_alloc(n_arms, &gts);
    if (rc != ZEUS_OK)
        return rc;
    gts->prior_mean = cfg->prior_mean;
    gts->prior_precision = cfg->prior_precision;
    gts->num_exploration = cfg->num_exploration;
    zeus_rng_seed(&gts->rng, cfg->seed);
    for (size_t i = 0; i < n_arms; i++) {
        gts->arms[i].arm = arms[i];
        gts->arms[i].mean = cfg->prior_mean;
        gts->arms[i].precision = cfg->prior_precision;
        gts->arms[i].reward_precision =
            cfg->reward_precisions ? cfg->reward_precisions[i] : cfg->reward_precision;
        gts->arms[i].observations = 0;
    }
    *out = gts;
    return ZEUS_OK;
}

void zeus_gts_destroy(zeus_gts *gts)
{
    if (!gts)
        return;
    free(gts->arms);
    free(gts->order);
    free(gts);
}

zeus_gts_arm *zeus__gts_find(const zeus_gts *gts, int arm)
{
    for (size_t i = 0; i < gts->n_arms; i++)
        if (gts->arms[i].arm == arm)
            return &gts->arms[i];
    return NULL;
}

static int unknown_arm(int arm)
{
    return zeus__error(ZEUS_ENOENT, "GaussianTS: unknown arm %d", arm);
}

void zeus__gts_fit_moments(const zeus_gts *gts, zeus_gts_arm *a, size_t n, double sum, double mean,
                           bool reset)
{
    if (reset) {
        a->mean = gts->prior_mean;
        a->precision = gts->prior_precision;
        a->observations = 0;
    }
    if (n == 0)
        return;
    double reward_prec = a->reward_precision;
    double prec = a->precision;
    double new_prec, new_mean;
    if (reward_prec == INFINITY) {
        /* Infinite reward precision: sampling yields the observed mean exactly. */
        new_prec = INFINITY;
        new_mean = mean;
    } else {
        new_prec = prec + (double)n * reward_prec;
        new_mean = (prec * a->mean + reward_prec * sum) / new_prec;
    }
    a->mean = new_mean;
    a->precision = new_prec;
    a->observations += n;
}

void zeus__gts_fit_one(const zeus_gts *gts, zeus_gts_arm *a, const double *rewards, size_t n,
                       bool reset)
{
    /* numpy's pairwise sum and mean (bit-exact with the original) */
    double sum = n ? zeus__np_sum(rewards, n) : 0, mean = n ? zeus__np_mean(rewards, n) : 0;
    zeus__gts_fit_moments(gts, a, n, sum, mean, reset);
}

int zeus_gts_fit_arm(zeus_gts *gts, int arm, const double *rewards, size_t n, bool reset)
{
    zeus_gts_arm *a = zeus__gts_find(gts, arm);
    if (!a)
        return unknown_arm(arm);
    if (n > 0 && !rewards)
        return zeus__error(ZEUS_EINVAL, "GaussianTS: NULL rewards");
    zeus__gts_fit_one(gts, a, rewards, n, reset);
    return ZEUS_OK;
}

int zeus_gts_fit(zeus_gts *gts, const int *decisions, const double *rewards, size_t n, bool reset)
{
    if (n > 0 && (!decisions || !rewards))
        return zeus__error(ZEUS_EINVAL, "GaussianTS: NULL observations");
    double *selected = malloc((n ? n : 1) * sizeof *selected);
    if (!selected)
        return zeus__error(ZEUS_ENOMEM, "GaussianTS: out of memory");
    for (size_t i = 0; i < gts->n_arms; i++) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (decisions[j] == gts->arms[i].arm)
                selected[k++] = rewards[j];
        zeus__gts_fit_one(gts, &gts->arms[i], selected, k, reset);
    }
    free(selected);
    return ZEUS_OK;
}

int zeus_gts_set_reward_precision(zeus_gts *gts, int arm, double precision)
{
    zeus_gts_arm *a = zeus__gts_find(gts, arm);
    if (!a)
        return unknown_arm(arm);
    a->reward_precision = precision;
    return ZEUS_OK;
}

int zeus_gts_predict(zeus_gts *gts, int *arm)
{
    /* Exploration: a random order is drawn on every call, even when no arm needs exploring. */
    int rc = zeus_rng_choice(&gts->rng, gts->n_arms, gts->n_arms, gts->order);
    if (rc != ZEUS_OK)
        return rc;
    for (size_t i = 0; i < gts->n_arms; i++) {
        const zeus_gts_arm *a = &gts->arms[gts->order[i]];
        if (a->observations < (size_t)gts->num_exploration) {
            ZEUS_DEBUG("[GaussianTS] Explore arm %d.", a->arm);
            *arm = a->arm;
            return ZEUS_OK;
        }
    }
    /* Thompson sampling: one draw per arm in arm order; the first largest sample wins. */
    double best = 0.0;
    size_t best_i = 0;
    for (size_t i = 0; i < gts->n_arms; i++) {
        const zeus_gts_arm *a = &gts->arms[i];
        if (a->precision == gts->prior_precision)
            ZEUS_WARN("GaussianTS: predict_expectations called when arm '%d' is cold.", a->arm);
        double sd = sqrt(1.0 / a->precision);
        if (!(sd >= 0.0)) /* numpy refuses a NaN or negative scale */
            return zeus__error(ZEUS_ERANGE, "GaussianTS: arm %d has precision %g", a->arm,
                               a->precision);
        double sample = zeus_rng_normal(&gts->rng, a->mean, sd);
        if (i == 0 || sample > best) {
            best = sample;
            best_i = i;
        }
    }
    *arm = gts->arms[best_i].arm;
    return ZEUS_OK;
}

size_t zeus_gts_arm_count(const zeus_gts *gts)
{
    return gts->n_arms;
}

int zeus_gts_get_arm(const zeus_gts *gts, size_t index, zeus_gts_arm *out)
{
    if (index >= gts->n_arms)
        return zeus__error(ZEUS_ERANGE, "GaussianTS: arm index %zu out of range", index);
    *out = gts->arms[index];
    return ZEUS_OK;
}
