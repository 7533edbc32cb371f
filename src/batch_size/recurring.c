/* The recurring-job driver (include/zeus/recurring.h): the original Simulator's loop around the
 * optimizers (simulate_one_job and simulate_one_alibaba_group, spec 7.2), without the trace. */
#include "batch_size/policy_internal.h"

#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void zeus_recurring_config_default(zeus_recurring_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->eta_knob = 0.5;
    cfg->beta_knob = 2.0;
    cfg->max_tries = ZEUS_RECURRING_MAX_TRIES;
    cfg->max_concurrent_tries = ZEUS_RECURRING_MAX_CONCURRENT_TRIES;
    zeus_bso_config_default(&cfg->bso);
}

int zeus_recurring_create(const zeus_recurring_config *cfg, const zeus_job *job,
                          const int *batch_sizes, size_t n, zeus_recurring **out)
{
    if (!cfg || !job || !out)
        return zeus__error(ZEUS_EINVAL, "recurring: NULL argument");
    *out = NULL;
    if (!(cfg->eta_knob >= 0 && cfg->eta_knob <= 1))
        return zeus__error(ZEUS_EINVAL, "eta knob %g is not in [0, 1]", cfg->eta_knob);
    if (!(cfg->beta_knob > 0))
        return zeus__error(ZEUS_EINVAL, "beta knob %g is not positive", cfg->beta_knob);
    if (cfg->max_power_w <= 0 || cfg->max_tries < 1 || cfg->max_concurrent_tries < 1)
        return zeus__error(ZEUS_EINVAL,
                           "recurring: max power %d W, max tries %d and max concurrent tries %d "
                           "must be positive",
                           cfg->max_power_w, cfg->max_tries, cfg->max_concurrent_tries);
    zeus_recurring *r = calloc(1, sizeof *r);
    if (!r)
        return zeus__error(ZEUS_ENOMEM, "recurring: out of memory");
    int rc;
    if ((rc = zeus_bso_create(&cfg->bso, job, batch_sizes, n, &r->bso)) != ZEUS_OK ||
        (rc = zeus_jit_plo_create(&r->plo)) != ZEUS_OK) {
        zeus_recurring_destroy(r);
        return rc;
    }
    r->job = *job;
    r->eta = cfg->eta_knob;
    r->beta = cfg->beta_knob;
    r->max_power = cfg->max_power_w;
    r->max_tries = cfg->max_tries;
    r->max_concurrent_tries = cfg->max_concurrent_tries;
    r->min_cost = INFINITY;
    r->best_bs = job->default_bs;
    r->verbose = zeus_get_log_level() >= ZEUS_LOG_DEBUG;
    zeus_job_format(job, r->name, sizeof r->name);
    *out = r;
    return ZEUS_OK;
}

void zeus_recurring_destroy(zeus_recurring *r)
{
    if (!r)
        return;
    zeus_bso_destroy(r->bso);
    zeus_jit_plo_destroy(r->plo);
    free(r);
}

/* The optimizer's pick and its known power limit (0: profile it first). */
static int pick(zeus_recurring *r, zeus_recurring_attempt *a)
{
    int rc = zeus_bso_predict(r->bso, &a->batch_size);
    if (rc != ZEUS_OK)
        return rc;
    zeus_jit_plo_predict(r->plo, a->batch_size, &a->power_limit);
    a->profile = a->power_limit == 0;
    return ZEUS_OK;
}

int zeus_recurring_next(zeus_recurring *r, zeus_recurring_attempt *a)
{
    if (!r || !a)
        return zeus__error(ZEUS_EINVAL, "recurring: NULL argument");
    if (r->pending)
        return zeus__error(ZEUS_ESTATE,
                           "recurring: the last try of batch size %d was not "
                           "reported",
                           r->pending_bs);
    if (r->over)
        return zeus__error(ZEUS_ESTATE, "recurring: %s gave up", r->name);
    memset(a, 0, sizeof *a);
    int rc = pick(r, a);
    if (rc != ZEUS_OK)
        return rc;
    a->recurrence = r->recurrence;
    a->try_index = ++r->tries;
    a->cost_ub = zeus_bso_bound_factor(r->bso, a->batch_size, r->beta) * r->min_cost;
    r->pending = true;
    r->pending_bs = a->batch_size;
    return ZEUS_OK;
}

int zeus_recurring_profile(zeus_recurring *r, zeus_recurring_attempt *a, const zeus_pl_cost *costs,
                           size_t n)
{
    if (!r || !a || (!costs && n))
        return zeus__error(ZEUS_EINVAL, "recurring: NULL argument");
    if (n == 0)
        return zeus__error(ZEUS_EINVAL, "recurring: empty power-limit profile of batch size %d",
                           a->batch_size);
    for (size_t k = 0; k < n; k++) {
        int rc = zeus_jit_plo_observe(r->plo, a->batch_size, costs[k].power_limit, costs[k].cost);
        if (rc != ZEUS_OK)
            return rc;
    }
    zeus_jit_plo_predict(r->plo, a->batch_size, &a->power_limit);
    if (r->verbose)
        ZEUS_DEBUG("[PL profile] %s @ %d => PL = %dW", r->name, a->batch_size, a->power_limit);
    return ZEUS_OK;
}

/* Ends the recurring job (every later call fails); the caller records the run, if v->ran. */
static int give_up(zeus_recurring *r, int rc)
{
    r->over = true;
    return rc;
}

int zeus_recurring_report(zeus_recurring *r, const zeus_recurring_result *res,
                          zeus_recurring_verdict *v)
{
    if (!r || !res || !v)
        return zeus__error(ZEUS_EINVAL, "recurring: NULL argument");
    memset(v, 0, sizeof *v);
    if (!r->pending)
        return zeus__error(ZEUS_ESTATE, "recurring: no try awaits a report");
    r->pending = false;
    int bs = r->pending_bs, rc;
    if (res->energy_j == 0 && res->time_s == 0 && !res->reached) {
        /* Never ran: tell the optimizer this size is bad, record nothing, retry. */
        if ((rc = zeus_bso_observe(r->bso, bs, 100 * r->beta * r->min_cost, 0)) != ZEUS_OK)
            return rc;
        if (r->tries >= r->max_tries)
            return give_up(r, zeus__error(ZEUS_ESTATE,
                                          "Job did not reach the target metric in %d tries.",
                                          r->max_tries));
        return ZEUS_OK;
    }
    double cost = zeus_cost(res->energy_j, res->time_s, r->eta, r->max_power);
    if ((rc = zeus_bso_observe(r->bso, bs, cost, res->reached)) != ZEUS_OK)
        return rc;
    v->cost = cost;
    v->ran = true;
    r->cost_acc += cost;
    if (res->reached) {
        if (r->min_cost > r->cost_acc) {
            if (r->verbose)
                ZEUS_DEBUG("[Simulator] Minimum cost updated from %.2f to %.2f.", r->min_cost,
                           r->cost_acc);
            r->min_cost = r->cost_acc;
        }
        v->done = true;
        r->recurrence++;
        r->tries = 0;
        r->cost_acc = 0.0;
        return ZEUS_OK;
    }
    if (r->recurrence == 0) {
        /* The default batch size is assumed to reach the target. */
        return give_up(r, zeus__error(ZEUS_ESTATE, "The default batch size %d did not converge.",
                                      r->job.default_bs));
    }
    if (r->tries >= r->max_tries)
        return give_up(r,
                       zeus__error(ZEUS_ESTATE, "Job did not reach the target metric in %d tries.",
                                   r->max_tries));
    return ZEUS_OK;
}

size_t zeus_recurring_recurrences(const zeus_recurring *r)
{
    return r->recurrence;
}

double zeus_recurring_min_cost(const zeus_recurring *r)
{
    return r->min_cost;
}

const zeus_bso *zeus_recurring_bso(const zeus_recurring *r)
{
    return r->bso;
}

const zeus_jit_plo *zeus_recurring_plo(const zeus_recurring *r)
{
    return r->plo;
}

int zeus_recurring_next_concurrent(zeus_recurring *r, bool others_running,
                                   zeus_recurring_attempt *a)
{
    if (!r || !a)
        return zeus__error(ZEUS_EINVAL, "recurring: NULL argument");
    memset(a, 0, sizeof *a);
    a->cost_ub = r->beta * r->min_cost;
    if (!others_running) {
        int rc = pick(r, a);
        a->cost_ub = zeus_bso_bound_factor(r->bso, a->batch_size, r->beta) * r->min_cost;
        return rc;
    }
    a->batch_size = r->best_bs;
    zeus_jit_plo_predict(r->plo, a->batch_size, &a->power_limit);
    if (a->power_limit == 0)
        return zeus__error(ZEUS_ESTATE, "Power not profiled for best known BS %d", a->batch_size);
    return ZEUS_OK;
}

int zeus_recurring_report_concurrent(zeus_recurring *r, int batch_size, int try_index,
                                     const zeus_recurring_result *res, zeus_recurring_verdict *v)
{
    if (!r || !res || !v)
        return zeus__error(ZEUS_EINVAL, "recurring: NULL argument");
    memset(v, 0, sizeof *v);
    /* [quirk kept] A run that never ran is observed with its cost, 0 (the single-job protocol
     * uses 100 * beta * min_cost instead). */
    double cost = zeus_cost(res->energy_j, res->time_s, r->eta, r->max_power);
    int rc = zeus_bso_observe(r->bso, batch_size, cost, res->reached);
    if (rc != ZEUS_OK)
        return rc;
    v->cost = cost;
    v->ran = res->energy_j != 0 || res->time_s != 0 || res->reached;
    v->done = res->reached;
    /* Per run, not accumulated over retries as in the single-job protocol. */
    if (res->reached && r->min_cost > cost) {
        r->min_cost = cost;
        r->best_bs = batch_size;
    }
    if (!res->reached && try_index >= r->max_concurrent_tries)
        return give_up(r,
                       zeus__error(ZEUS_ESTATE, "Job did not reach the target metric in %d tries.",
                                   r->max_concurrent_tries));
    return ZEUS_OK;
}
