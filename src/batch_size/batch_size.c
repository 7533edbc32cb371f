/* The cost metric, the job description, Zeus's batch-size optimizer (pruning, then Gaussian
 * Thompson sampling: the original's PruningGTSBatchSizeOptimizer) and the JIT power-limit
 * policy (spec 5.1, 5.3, 6.5, 6.6). */
#include "batch_size/policy_internal.h"

#include "core/internal.h"
#include "core/array.h"
#include "core/npstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- job --------------------------------------------------------------------------------- */

static int copy_name(char *dst, const char *src, const char *what)
{
    if (!src || !*src)
        return zeus__error(ZEUS_EINVAL, "job: %s is empty", what);
    if (zeus__strlcpy(dst, src, ZEUS_JOB_NAME_MAX) >= ZEUS_JOB_NAME_MAX)
        return zeus__error(ZEUS_EINVAL, "job: %s '%s' is longer than %d characters", what, src,
                           ZEUS_JOB_NAME_MAX - 1);
    return ZEUS_OK;
}

int zeus_job_init(zeus_job *job, const char *dataset, const char *network, const char *optimizer,
                  double target_metric, int max_epochs, int default_bs, double default_lr)
{
    memset(job, 0, sizeof *job);
    int rc;
    if ((rc = copy_name(job->dataset, dataset, "dataset")) != ZEUS_OK ||
        (rc = copy_name(job->network, network, "network")) != ZEUS_OK ||
        (rc = copy_name(job->optimizer, optimizer, "optimizer")) != ZEUS_OK)
        return rc;
    if (max_epochs < 1)
        return zeus__error(ZEUS_EINVAL, "job: max_epochs %d is not positive", max_epochs);
    if (default_bs < 0)
        return zeus__error(ZEUS_EINVAL, "job: default batch size %d is negative", default_bs);
    job->target_metric = target_metric;
    job->max_epochs = max_epochs;
    job->default_bs = default_bs;
    job->default_lr = default_lr;
    return ZEUS_OK;
}

char *zeus_job_format(const zeus_job *job, char *buf, size_t size)
{
    char target[ZEUS_DOUBLE_BUF], bs[24] = "";
    zeus_format_double(job->target_metric, target, sizeof target);
    if (job->default_bs > 0)
        snprintf(bs, sizeof bs, ",bs%d", job->default_bs);
    snprintf(buf, size, "Job(%s,%s,%s,%s%s~%d)", job->dataset, job->network, job->optimizer, target,
             bs, job->max_epochs);
    return buf;
}

bool zeus_job_equal(const zeus_job *a, const zeus_job *b)
{
    bool lr_equal =
        (isnan(a->default_lr) && isnan(b->default_lr)) || a->default_lr == b->default_lr;
    return strcmp(a->dataset, b->dataset) == 0 && strcmp(a->network, b->network) == 0 &&
           strcmp(a->optimizer, b->optimizer) == 0 && a->target_metric == b->target_metric &&
           a->max_epochs == b->max_epochs && a->default_bs == b->default_bs && lr_equal;
}

/* ---- PruningGTSBatchSizeOptimizer ---------------------------------------------------------- */

void zeus_bso_config_default(zeus_bso_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 123456;
}

int zeus__bso_alloc(size_t n_batch_sizes, zeus_bso **out)
{
    zeus_bso *bso = calloc(1, sizeof *bso);
    if (!bso)
        goto fail;
    bso->batch_sizes = calloc(n_batch_sizes, sizeof *bso->batch_sizes);
    bso->history = calloc(n_batch_sizes, sizeof *bso->history);
    if (!bso->batch_sizes || !bso->history)
        goto fail;
    bso->n_batch_sizes = n_batch_sizes;
    *out = bso;
    return ZEUS_OK;
fail:
    zeus_bso_destroy(bso);
    return zeus__error(ZEUS_ENOMEM, "batch size optimizer: out of memory");
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int zeus_bso_create(const zeus_bso_config *cfg, const zeus_job *job, const int *batch_sizes,
                    size_t n, zeus_bso **out)
{
    if (!cfg || !job || !out || (n && !batch_sizes))
        return zeus__error(ZEUS_EINVAL, "batch size optimizer: NULL argument");
    char name[4 * ZEUS_JOB_NAME_MAX];
    zeus_job_format(job, name, sizeof name);
    if (job->default_bs <= 0)
        return zeus__error(ZEUS_EINVAL, "Default BS not specified for %s.", name);
    if (n == 0)
        return zeus__error(ZEUS_EINVAL, "Batch size list for %s is empty.", name);
    if (cfg->window_size == 1)
        return zeus__error(ZEUS_EINVAL, "window_size 1 is too small: a bandit arm is fitted on "
                                        "at least two observations (use 0 or >= 2)");
    if (cfg->moments != ZEUS_BSO_MOMENTS_EXACT && cfg->moments != ZEUS_BSO_MOMENTS_RUNNING)
        return zeus__error(ZEUS_EINVAL, "moments %d: ZEUS_BSO_MOMENTS_EXACT or _RUNNING",
                           cfg->moments);
    if (cfg->moments == ZEUS_BSO_MOMENTS_RUNNING && cfg->window_size != 0)
        return zeus__error(ZEUS_EINVAL, "running moments keep the whole history: window_size "
                                        "must be 0 with ZEUS_BSO_MOMENTS_RUNNING");
    if (!zeus_bso_policy_name(cfg->policy))
        return zeus__error(ZEUS_EINVAL,
                           "batch-size policy %d: ZEUS_BSO_POLICY_PRUNING_GTS or _WALK_TS",
                           cfg->policy);
    zeus_bso *bso;
    int rc = zeus__bso_alloc(n, &bso);
    if (rc != ZEUS_OK)
        return rc;
    bso->cfg = *cfg;
    bso->job = *job;
    memcpy(bso->batch_sizes, batch_sizes, n * sizeof *batch_sizes);
    qsort(bso->batch_sizes, n, sizeof *bso->batch_sizes, cmp_int);
    for (size_t i = 0; i < n; i++) {
        if (bso->batch_sizes[i] <= 0 || (i > 0 && bso->batch_sizes[i] == bso->batch_sizes[i - 1])) {
            rc = zeus__error(ZEUS_EINVAL, "batch size %d is %s", bso->batch_sizes[i],
                             bso->batch_sizes[i] <= 0 ? "not positive" : "listed twice");
            goto fail;
        }
    }
    rc = zeus_pruning_create(bso->batch_sizes, n, job->default_bs, 2, &bso->explorer);
    if (rc == ZEUS_OK && cfg->policy == ZEUS_BSO_POLICY_WALK_TS)
        rc = zeus__walkts_create(n, zeus__bso_index(bso, job->default_bs), cfg->seed, &bso->walk);
    if (rc != ZEUS_OK)
        goto fail;
    ZEUS_DEBUG("[Pruning GaussianTS BSO] Registered %s", name);
    *out = bso;
    return ZEUS_OK;
fail:
    zeus_bso_destroy(bso);
    return rc;
}

void zeus_bso_destroy(zeus_bso *bso)
{
    if (!bso)
        return;
    for (size_t i = 0; bso->history && i < bso->n_batch_sizes; i++)
        free(bso->history[i].rewards);
    free(bso->history);
    free(bso->batch_sizes);
    zeus_pruning_destroy(bso->explorer);
    zeus_gts_destroy(bso->mab);
    zeus__walkts_destroy(bso->walk);
    free(bso->scratch);
    free(bso);
}

size_t zeus__bso_index(const zeus_bso *bso, int batch_size)
{
    size_t i = 0;
    while (i < bso->n_batch_sizes && bso->batch_sizes[i] != batch_size)
        i++;
    return i;
}

static zeus_reward_list *history_of(const zeus_bso *bso, int batch_size)
{
    size_t i = zeus__bso_index(bso, batch_size);
    return i < bso->n_batch_sizes ? &bso->history[i] : NULL;
}

int zeus__bso_append_reward(zeus_reward_list *list, double reward)
{
    int rc = zeus__array_reserve((void **)&list->rewards, &list->cap, list->n,
                                 sizeof *list->rewards, 16);
    if (rc != ZEUS_OK)
        return rc;
    list->rewards[list->n++] = reward;
    double delta = reward - list->mean; /* Welford */
    list->sum += reward;
    list->mean += delta / (double)list->n;
    list->m2 += delta * (reward - list->mean);
    return ZEUS_OK;
}

/* The most recent window_size rewards (all when 0), in time order. */
static void windowed(const zeus_bso *bso, const zeus_reward_list *list, const double **rewards,
                     size_t *n)
{
    size_t w = bso->cfg.window_size;
    size_t k = (w == 0 || list->n < w) ? list->n : w;
    *rewards = list->rewards + (list->n - k);
    *n = k;
}

/* reward precision = 1 / var(rewards) (population variance; +inf when it is 0). */
static int reward_precision(zeus_bso *bso, const double *rewards, size_t n, double *precision)
{
    int rc = zeus__array_reserve((void **)&bso->scratch, &bso->scratch_cap, n ? n - 1 : 0,
                                 sizeof *bso->scratch, n);
    if (rc != ZEUS_OK)
        return rc;
    *precision = 1.0 / zeus__np_var(rewards, n, bso->scratch);
    return ZEUS_OK;
}

static bool running_moments(const zeus_bso *bso)
{
    return bso->cfg.moments == ZEUS_BSO_MOMENTS_RUNNING; /* window_size 0: checked at create */
}

/* Re-estimates an arm from its rewards: its reward precision (1 / population variance, +inf
 * when it is 0) and its posterior, from the whole (windowed) history or the running moments. */
static int refit_arm(zeus_bso *bso, zeus_gts *mab, zeus_gts_arm *arm, const zeus_reward_list *list)
{
    if (running_moments(bso)) {
        arm->reward_precision = 1.0 / (list->m2 / (double)list->n);
        zeus__gts_fit_moments(mab, arm, list->n, list->sum, list->mean, true);
        return ZEUS_OK;
    }
    const double *rewards;
    size_t n;
    windowed(bso, list, &rewards, &n);
    int rc = reward_precision(bso, rewards, n, &arm->reward_precision);
    if (rc == ZEUS_OK)
        zeus__gts_fit_one(mab, arm, rewards, n, true);
    return rc;
}

static int construct_mab(zeus_bso *bso)
{
    const int *arms;
    size_t n_arms;
    zeus_pruning_batch_sizes(bso->explorer, &arms, &n_arms);
    if (n_arms == 0)
        return zeus__error(ZEUS_EINVAL, "Empty batch size set when constructing MAB. Probably "
                                        "all batch sizes have been pruned.");
    zeus_gts_config gc;
    zeus_gts_config_default(&gc);
    gc.reward_precision = 0.0;
    gc.prior_mean = bso->cfg.prior_mean;
    gc.prior_precision = bso->cfg.prior_precision;
    gc.num_exploration = 2;
    gc.seed = bso->cfg.seed;
    zeus_gts *mab;
    int rc = zeus_gts_create(&gc, arms, n_arms, &mab);
    if (rc != ZEUS_OK)
        return rc;
    for (size_t i = 0; i < n_arms; i++) {
        const double *rewards;
        size_t n;
        windowed(bso, history_of(bso, arms[i]), &rewards, &n);
        if (n < 2) {
            zeus_gts_destroy(mab);
            return zeus__error(ZEUS_ESTATE, "Number of observations for %d is %zu.", arms[i], n);
        }
        if ((rc = refit_arm(bso, mab, &mab->arms[i], history_of(bso, arms[i]))) != ZEUS_OK) {
            zeus_gts_destroy(mab);
            return rc;
        }
    }
    if (zeus_get_log_level() >= ZEUS_LOG_DEBUG) {
        char list[512];
        size_t o = 0;
        for (size_t i = 0; i < n_arms && o < sizeof list; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%d", i ? ", " : "", arms[i]);
        ZEUS_DEBUG("[Pruning GaussianTS BSO] Construct MAB with arms [%s]", list);
    }
    bso->mab = mab;
    return ZEUS_OK;
}

int zeus_bso_predict(zeus_bso *bso, int *batch_size)
{
    if (bso->walk) {
        size_t i;
        int rc = zeus__walkts_predict(bso->walk, &i);
        if (rc == ZEUS_OK) {
            *batch_size = bso->batch_sizes[i];
            ZEUS_DEBUG("[walk-ts BSO] %s -> BS = %d",
                       bso->walk->phase == ZEUS_WALK_SAMPLE ? "sampling" : "walk", *batch_size);
        }
        return rc;
    }
    if (!bso->mab) {
        bool done;
        int rc = zeus_pruning_next(bso->explorer, batch_size, &done);
        if (rc != ZEUS_OK)
            return rc;
        if (!done) {
            ZEUS_DEBUG("[Pruning GaussianTS BSO] pruning stage -> BS = %d", *batch_size);
            return ZEUS_OK;
        }
        if ((rc = construct_mab(bso)) != ZEUS_OK)
            return rc;
    }
    int rc = zeus_gts_predict(bso->mab, batch_size);
    if (rc == ZEUS_OK)
        ZEUS_DEBUG("[Pruning GaussianTS BSO] Thompson Sampling stage -> BS = %d", *batch_size);
    return rc;
}

int zeus_bso_observe(zeus_bso *bso, int batch_size, double cost, int converged)
{
    zeus_reward_list *list = history_of(bso, batch_size);
    if (!list)
        return zeus__error(ZEUS_EINVAL, "Unknown batch size '%d'.", batch_size);
    if (!bso->mab && !bso->walk && converged != 0 && converged != 1)
        return zeus__error(ZEUS_EINVAL,
                           "batch size optimizer: whether batch size %d converged "
                           "must be known during pruning",
                           batch_size);
    int rc = zeus__bso_append_reward(list, -cost);
    if (rc != ZEUS_OK)
        return rc;
    if (bso->walk) {
        zeus__walkts_observe(bso->walk, (size_t)(list - bso->history), cost, converged);
        return ZEUS_OK;
    }

    if (bso->mab) {
        zeus_gts_arm *arm = zeus__gts_find(bso->mab, batch_size);
        if (!arm) {
            /* A size pruned away (a concurrent submission with the best-known size): the
             * original writes it into dictionaries no prediction reads. Recording it in the
             * history has the same effect. */
            return ZEUS_OK;
        }
        if ((rc = refit_arm(bso, bso->mab, arm, list)) != ZEUS_OK)
            return rc;
        ZEUS_DEBUG("[Pruning GaussianTS BSO] BS %d: %zu rewards, reward_prec = %g", batch_size,
                   list->n, arm->reward_precision);
        return ZEUS_OK;
    }

    /* [quirk, log only] The original prints "did not converge" for a run that converged. */
    ZEUS_DEBUG("[Pruning GaussianTS BSO] pruning stage, expecting BS %d. Current BS %d that "
               "did %sconverge.",
               zeus_pruning_expecting(bso->explorer), batch_size, converged ? "" : "not ");
    if (bso->cfg.concurrency && zeus_pruning_expecting(bso->explorer) != batch_size)
        return ZEUS_OK; /* only recorded: the explorer awaits another size */
    return zeus_pruning_report(bso->explorer, batch_size, cost, converged == 1);
}

bool zeus_bso_in_pruning(const zeus_bso *bso)
{
    if (bso->walk)
        return bso->walk->phase != ZEUS_WALK_SAMPLE;
    return bso->mab == NULL;
}

int zeus_bso_policy(const zeus_bso *bso)
{
    return bso->cfg.policy;
}

double zeus_bso_bound_factor(const zeus_bso *bso, int batch_size, double beta)
{
    size_t i = zeus__bso_index(bso, batch_size);
    return bso->walk && i < bso->n_batch_sizes ? zeus__walkts_bound(bso->walk, i, beta) : beta;
}

int zeus_bso_estimate(const zeus_bso *bso, int batch_size, double *cost, double *sd)
{
    if (!bso || !cost || !sd)
        return zeus__error(ZEUS_EINVAL, "batch size optimizer: NULL argument");
    if (!bso->walk)
        return zeus__error(ZEUS_EINVAL, "zeus_bso_estimate: the %s policy has no cost model",
                           zeus_bso_policy_name(bso->cfg.policy));
    size_t i = zeus__bso_index(bso, batch_size);
    if (i == bso->n_batch_sizes)
        return zeus__error(ZEUS_EINVAL, "Unknown batch size '%d'.", batch_size);
    if (!zeus__walkts_estimate(bso->walk, i, cost, sd))
        return zeus__error(ZEUS_ENOENT, "batch size %d has not reached the target", batch_size);
    return ZEUS_OK;
}

/* ---- policy names ------------------------------------------------------------------------- */

static const char *const policy_names[] = {"pruning-gts", "walk-ts", NULL};

const char *const *zeus_bso_policy_names(void)
{
    return policy_names;
}

const char *zeus_bso_policy_name(int policy)
{
    return policy >= 0 && policy < 2 ? policy_names[policy] : NULL;
}

int zeus_bso_policy_parse(const char *name, int *policy)
{
    for (int i = 0; name && policy_names[i]; i++) {
        if (strcmp(name, policy_names[i]) == 0) {
            *policy = i;
            return ZEUS_OK;
        }
    }
    return zeus__error(ZEUS_EINVAL, "unknown batch-size policy '%s' (known: pruning-gts, walk-ts)",
                       name ? name : "(null)");
}

const zeus_job *zeus_bso_job(const zeus_bso *bso)
{
    return &bso->job;
}

const zeus_pruning *zeus_bso_pruning(const zeus_bso *bso)
{
    return bso->explorer;
}

const zeus_gts *zeus_bso_mab(const zeus_bso *bso)
{
    return bso->mab;
}

int zeus_bso_rewards(const zeus_bso *bso, int batch_size, const double **rewards, size_t *n)
{
    const zeus_reward_list *list = history_of(bso, batch_size);
    if (!list)
        return zeus__error(ZEUS_EINVAL, "Unknown batch size '%d'.", batch_size);
    windowed(bso, list, rewards, n);
    return ZEUS_OK;
}

/* ---- JITPowerLimitOptimizer ---------------------------------------------------------------- */

int zeus_jit_plo_create(zeus_jit_plo **out)
{
    zeus_jit_plo *plo = calloc(1, sizeof *plo);
    if (!plo)
        return zeus__error(ZEUS_ENOMEM, "JIT power limit optimizer: out of memory");
    *out = plo;
    return ZEUS_OK;
}

void zeus_jit_plo_destroy(zeus_jit_plo *plo)
{
    if (!plo)
        return;
    free(plo->entries);
    free(plo);
}

static zeus_jit_entry *plo_find(const zeus_jit_plo *plo, int batch_size)
{
    for (size_t i = 0; i < plo->n; i++)
        if (plo->entries[i].batch_size == batch_size)
            return &plo->entries[i];
    return NULL;
}

int zeus_jit_plo_predict(const zeus_jit_plo *plo, int batch_size, int *power_limit_w)
{
    const zeus_jit_entry *e = plo_find(plo, batch_size);
    *power_limit_w = e ? e->power_limit : 0;
    return ZEUS_OK;
}

int zeus_jit_plo_observe(zeus_jit_plo *plo, int batch_size, int power_limit_w, double cost)
{
    if (power_limit_w <= 0)
        return zeus__error(ZEUS_EINVAL, "power limit %d W is not positive", power_limit_w);
    zeus_jit_entry *e = plo_find(plo, batch_size);
    if (!e) {
        int rc = zeus__array_reserve((void **)&plo->entries, &plo->cap, plo->n,
                                     sizeof *plo->entries, 16);
        if (rc != ZEUS_OK)
            return rc;
        e = &plo->entries[plo->n++];
        *e = (zeus_jit_entry){.batch_size = batch_size,
                              .power_limit = power_limit_w,
                              .cost = cost,
                              .observations = 1};
        return ZEUS_OK;
    }
    e->observations++;
    if (e->cost > cost) {
        e->power_limit = power_limit_w;
        e->cost = cost;
    }
    return ZEUS_OK;
}
