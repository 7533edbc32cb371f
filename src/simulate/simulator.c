/* The trace-driven simulator: the original's Simulator.simulate_one_job and
 * simulate_one_alibaba_group (zeus/simulate.py, spec 7.2), decision for decision. Each call
 * starts from fresh optimizers and a fresh generator seeded with params->seed, as the
 * original deep-copies its optimizers and creates default_rng(seed) per call. */
#include "simulate/sim_internal.h"

#include "core/internal.h"
#include "core/array.h"
#include "core/npstats.h"
#include "zeus/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TRIES = 20 };

void zeus_sim_params_default(zeus_sim_params *params)
{
    memset(params, 0, sizeof *params);
    params->eta_knob = 0.5;
    params->beta_knob = 2.0;
    params->seed = 123456;
    zeus_bso_config_default(&params->bso);
}

void zeus_sim_history_free(zeus_sim_history *history)
{
    if (!history)
        return;
    free(history->runs);
    memset(history, 0, sizeof *history);
}

static int history_append(zeus_sim_history *h, const zeus_sim_run *run)
{
    int rc = zeus__array_reserve((void **)&h->runs, &h->cap, h->n, sizeof *h->runs, 256);
    if (rc != ZEUS_OK)
        return rc;
    h->runs[h->n++] = *run;
    return ZEUS_OK;
}

typedef struct {
    const zeus_job *job;
    const zeus_job_table *table;
    double eta, beta;
    double max_power;
    zeus_rng rng; /* picks the recorded training runs */
    zeus_bso *bso;
    zeus_jit_plo *plo;
    bool verbose;
    char name[4 * ZEUS_JOB_NAME_MAX];
} sim_ctx;

static void ctx_free(sim_ctx *ctx)
{
    zeus_bso_destroy(ctx->bso);
    zeus_jit_plo_destroy(ctx->plo);
}

static int ctx_init(sim_ctx *ctx, const zeus_trace *trace, const zeus_job *job,
                    const zeus_sim_params *p)
{
    memset(ctx, 0, sizeof *ctx);
    if (!(p->eta_knob >= 0 && p->eta_knob <= 1))
        return zeus__error(ZEUS_EINVAL, "eta knob %g is not in [0, 1]", p->eta_knob);
    if (!(p->beta_knob > 0))
        return zeus__error(ZEUS_EINVAL, "beta knob %g is not positive", p->beta_knob);
    int rc = zeus__trace_find_job(trace, job, &ctx->table);
    if (rc != ZEUS_OK)
        return rc;
    ctx->job = job;
    ctx->eta = p->eta_knob;
    ctx->beta = p->beta_knob;
    ctx->max_power = trace->max_power;
    ctx->verbose = zeus_get_log_level() >= ZEUS_LOG_DEBUG;
    zeus_job_format(job, ctx->name, sizeof ctx->name);
    zeus_rng_seed(&ctx->rng, p->seed);

    /* A new job: profile its feasible batch sizes (every target metric) and register it. */
    const zeus_workload *wl = &trace->workloads[ctx->table->workload];
    size_t i;
    for (i = 0; i < wl->n_bs && wl->batch_sizes[i] != job->default_bs; i++) {
    }
    if (i == wl->n_bs) {
        char list[512];
        size_t o = 0;
        for (size_t k = 0; k < wl->n_bs && o < sizeof list; k++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%d", k ? ", " : "",
                                  wl->batch_sizes[k]);
        return zeus__error(ZEUS_EINVAL,
                           "default batch size %d of %s is not one of the traced "
                           "batch sizes [%s]",
                           job->default_bs, ctx->name, list);
    }
    if ((rc = zeus_bso_create(&p->bso, job, wl->batch_sizes, wl->n_bs, &ctx->bso)) != ZEUS_OK ||
        (rc = zeus_jit_plo_create(&ctx->plo)) != ZEUS_OK) {
        ctx_free(ctx);
        return rc;
    }
    if (ctx->verbose) {
        ZEUS_DEBUG("[Simulator] Max power = %dW", trace->max_power);
        ZEUS_DEBUG("[BS profile] %s => %zu batch sizes", ctx->name, wl->n_bs);
    }
    return ZEUS_OK;
}

static int lookup(const sim_ctx *ctx, int bs, int pl, const zeus_cell **cell,
                  const zeus_pl_group **group)
{
    *cell = zeus__table_cell(ctx->table, bs);
    *group = *cell ? zeus__cell_group(*cell, pl) : NULL;
    if (!*group || (*cell)->n_runs == 0)
        return zeus__error(ZEUS_ENOENT, "%s: no recorded runs at batch size %d, %d W", ctx->name,
                           bs, pl);
    return ZEUS_OK;
}

/* The batch-size optimizer's pick and its power limit; a size seen for the first time is
 * profiled (every limit's epoch cost observed, highest limit first). */
static int predict_knobs(sim_ctx *ctx, int *bs, int *pl, bool *profiled)
{
    int rc = zeus_bso_predict(ctx->bso, bs);
    if (rc != ZEUS_OK)
        return rc;
    zeus_jit_plo_predict(ctx->plo, *bs, pl);
    *profiled = false;
    if (*pl != 0)
        return ZEUS_OK;
    *profiled = true;
    const zeus_cell *cell = zeus__table_cell(ctx->table, *bs);
    if (!cell)
        return zeus__error(ZEUS_ENOENT, "%s: batch size %d has no rows for this target metric",
                           ctx->name, *bs);
    for (size_t k = cell->n_groups; k-- > 0;) {
        const zeus_pl_group *g = &cell->groups[k];
        if ((rc = zeus_jit_plo_observe(ctx->plo, *bs, g->pl,
                                       zeus__epoch_cost(cell, g, ctx->eta))) != ZEUS_OK)
            return rc;
    }
    zeus_jit_plo_predict(ctx->plo, *bs, pl);
    if (ctx->verbose)
        ZEUS_DEBUG("[PL profile] %s @ %d => PL = %dW", ctx->name, *bs, *pl);
    return ZEUS_OK;
}

typedef struct {
    double energy, time;
    bool reached;
} run_result;

/* The original's _run_job: follow one recorded run at (bs, pl), stopping before the epoch that
 * would cross cost_ub; the profiling run's first epoch is spread over every power limit. */
static int run_job(sim_ctx *ctx, int bs, int pl, double cost_ub, bool profile_power,
                   run_result *out)
{
    const zeus_cell *cell;
    const zeus_pl_group *g;
    int rc = lookup(ctx, bs, pl, &cell, &g);
    if (rc != ZEUS_OK)
        return rc;
    /* pandas sample(n=1, random_state=rng) = rng.choice(len, 1, replace=False): one draw. */
    uint64_t k = zeus_rng_bounded(&ctx->rng, cell->n_runs * g->count - 1);
    double target_epoch = cell->target_epochs[k / g->count];
    const zeus_power_row *path = &cell->power[g->rows[k % g->count]];

    double max_epochs;
    if (cost_ub == INFINITY) {
        max_epochs = ctx->job->max_epochs;
    } else {
        double cost_per_epoch = ctx->eta * path->epe + (1 - ctx->eta) * cell->max_pl * path->tpe;
        /* min(cost_ub // cost_per_epoch, max_epochs): Python float floor division, and min()
         * keeps the first argument unless the second is smaller. */
        max_epochs = zeus__py_floordiv(cost_ub, cost_per_epoch);
        if ((double)ctx->job->max_epochs < max_epochs)
            max_epochs = ctx->job->max_epochs;
    }
    if (max_epochs == 0) {
        ZEUS_INFO("[run job] %s cannot run even one epoch without exceeding the cost UB. BS %d, "
                  "PL %d, eta_knob=%g",
                  ctx->name, bs, pl, ctx->eta);
        *out = (run_result){0.0, 0.0, false};
        return ZEUS_OK;
    }
    out->reached = !isnan(target_epoch) && target_epoch <= max_epochs;
    double epochs = out->reached ? target_epoch : max_epochs;
    if (profile_power) {
        out->energy = cell->mean_epe + path->epe * (epochs - 1);
        out->time = cell->mean_tpe + path->tpe * (epochs - 1);
    } else {
        out->energy = path->epe * epochs;
        out->time = path->tpe * epochs;
    }
    if (ctx->verbose)
        ZEUS_DEBUG("[run job] %s @ %d,%dW%s => %s %d epochs, TTA %.2f seconds, ETA %.2f", ctx->name,
                   bs, pl, profile_power ? " prof" : "",
                   out->reached ? "Reached in" : "Failed (stopped after", (int)epochs, out->time,
                   out->energy);
    return ZEUS_OK;
}

int zeus_simulate_one_job(const zeus_trace *trace, const zeus_job *job, size_t num_recurrence,
                          const zeus_sim_params *params, zeus_sim_history *history)
{
    if (!trace || !job || !params || !history)
        return zeus__error(ZEUS_EINVAL, "simulator: NULL argument");
    sim_ctx ctx;
    int rc = ctx_init(&ctx, trace, job, params);
    if (rc != ZEUS_OK)
        return rc;
    if (ctx.verbose)
        ZEUS_DEBUG("[Simulator] %s recurring %zu times.", ctx.name, num_recurrence);
    double min_cost = INFINITY;
    for (size_t i = 0; i < num_recurrence; i++) {
        double cost_acc = 0.0;
        int tries;
        for (tries = 1; tries <= MAX_TRIES; tries++) {
            int bs, pl;
            bool profiled;
            run_result res;
            if ((rc = predict_knobs(&ctx, &bs, &pl, &profiled)) != ZEUS_OK ||
                (rc = run_job(&ctx, bs, pl, ctx.beta * min_cost, profiled, &res)) != ZEUS_OK)
                goto done;
            if (res.energy == 0 && res.time == 0 && !res.reached) {
                /* Never ran: tell the optimizer this size is bad, record nothing, retry. */
                if ((rc = zeus_bso_observe(ctx.bso, bs, 100 * ctx.beta * min_cost, 0)) != ZEUS_OK)
                    goto done;
                continue;
            }
            double cost = zeus_cost(res.energy, res.time, ctx.eta, ctx.max_power);
            cost_acc += cost;
            zeus_sim_run run = {(int)i, tries, bs, pl, res.energy, res.time, cost, res.reached};
            if ((rc = zeus_bso_observe(ctx.bso, bs, cost, res.reached)) != ZEUS_OK ||
                (rc = history_append(history, &run)) != ZEUS_OK)
                goto done;
            if (res.reached) {
                if (min_cost > cost_acc) {
                    if (ctx.verbose)
                        ZEUS_DEBUG("[Simulator] Minimum cost updated from %.2f to %.2f.", min_cost,
                                   cost_acc);
                    min_cost = cost_acc;
                }
                break;
            }
            if (i == 0) {
                /* The default batch size is assumed to reach the target. */
                rc = zeus__error(ZEUS_ESTATE, "The default batch size %d did not converge.",
                                 job->default_bs);
                goto done;
            }
        }
        if (tries > MAX_TRIES) {
            rc = zeus__error(ZEUS_ESTATE, "Job did not reach the target metric in 20 tries.");
            goto done;
        }
    }
done:
    ctx_free(&ctx);
    return rc;
}

/* ---- Alibaba-style groups: concurrent submissions ------------------------------------------ */

typedef struct {
    double start, end, ratio;
    int bs, pl;
    bool reached;
    double time, energy, cost; /* unscaled: what the optimizer observes */
    int row, try_index;
    unsigned long id;
} running_job;

typedef struct {
    sim_ctx ctx;
    double min_cost;
    int best_bs;
    running_job *running, *snapshot;
    size_t n_running, cap, snapshot_cap;
    unsigned long next_id;
    zeus_sim_history *history;
} group_sim;

/* Knobs for a launch: the best-known size while others run, else the optimizer's pick. */
static int group_knobs(group_sim *s, int *bs, int *pl, bool *profiled)
{
    if (s->n_running > 0) {
        *bs = s->best_bs;
        *profiled = false;
        zeus_jit_plo_predict(s->ctx.plo, *bs, pl);
        if (*pl == 0)
            return zeus__error(ZEUS_ESTATE, "Power not profiled for best known BS %d", *bs);
        return ZEUS_OK;
    }
    return predict_knobs(&s->ctx, bs, pl, profiled);
}

/* Precomputes a launch's outcome and adds it to the running jobs. */
static int launch(group_sim *s, double start, double end, double ratio, int row, int try_index)
{
    int bs, pl;
    bool profiled;
    run_result res;
    int rc;
    if ((rc = group_knobs(s, &bs, &pl, &profiled)) != ZEUS_OK ||
        (rc = run_job(&s->ctx, bs, pl, s->ctx.beta * s->min_cost, profiled, &res)) != ZEUS_OK)
        return rc;
    /* The reaper copies the running jobs into the snapshot: keep it as large. */
    if ((rc = zeus__array_reserve((void **)&s->running, &s->cap, s->n_running, sizeof *s->running,
                                  16)) != ZEUS_OK ||
        (rc = zeus__array_reserve((void **)&s->snapshot, &s->snapshot_cap, s->n_running,
                                  sizeof *s->snapshot, 16)) != ZEUS_OK)
        return rc;
    s->running[s->n_running++] = (running_job){
        start,    end,        ratio,
        bs,       pl,         res.reached,
        res.time, res.energy, zeus_cost(res.energy, res.time, s->ctx.eta, s->ctx.max_power),
        row,      try_index,  s->next_id++};
    return ZEUS_OK;
}

static bool any_finished(const group_sim *s, double now)
{
    for (size_t i = 0; i < s->n_running; i++)
        if (s->running[i].end <= now)
            return true;
    return false;
}

/* Reaps every job finished by `now` in end-time order; a job that missed the target is
 * retried at once for the same trace duration, and the scan restarts since the retry may
 * already be over. */
static int reap(group_sim *s, double now)
{
    while (any_finished(s, now)) {
        /* A stable sort of a copy by end time (list order breaks ties, as Python's sort). */
        size_t n = s->n_running;
        memcpy(s->snapshot, s->running, n * sizeof *s->running);
        for (size_t i = 1; i < n; i++) {
            running_job x = s->snapshot[i];
            size_t j = i;
            for (; j > 0 && s->snapshot[j - 1].end > x.end; j--)
                s->snapshot[j] = s->snapshot[j - 1];
            s->snapshot[j] = x;
        }
        for (size_t i = 0; i < n; i++) {
            const running_job job = s->snapshot[i];
            if (job.end > now)
                continue;
            for (size_t k = 0; k < s->n_running; k++) {
                if (s->running[k].id == job.id) {
                    memmove(&s->running[k], &s->running[k + 1],
                            (s->n_running - k - 1) * sizeof *s->running);
                    s->n_running--;
                    break;
                }
            }
            /* [quirk kept] A job that never ran is observed with cost 0 here (the single-job
             * simulation uses 100 * beta * min_cost instead). */
            int rc = zeus_bso_observe(s->ctx.bso, job.bs, job.cost, job.reached);
            if (rc != ZEUS_OK)
                return rc;
            if (job.energy != 0 || job.time != 0 || job.reached) {
                double e = job.energy * job.ratio, t = job.time * job.ratio;
                zeus_sim_run run = {job.row,
                                    job.try_index,
                                    job.bs,
                                    job.pl,
                                    e,
                                    t,
                                    zeus_cost(e, t, s->ctx.eta, s->ctx.max_power),
                                    job.reached};
                if ((rc = history_append(s->history, &run)) != ZEUS_OK)
                    return rc;
            }
            if (job.reached) {
                /* Per job, not accumulated over retries as in the single-job simulation. */
                if (s->min_cost > job.cost) {
                    s->min_cost = job.cost;
                    s->best_bs = job.bs;
                }
                continue;
            }
            rc = launch(s, job.end, job.end + (job.end - job.start), job.ratio, job.row,
                        job.try_index + 1);
            if (rc != ZEUS_OK)
                return rc;
            break;
        }
    }
    return ZEUS_OK;
}

int zeus_simulate_one_alibaba_group(const zeus_trace *trace, const zeus_job *job,
                                    const zeus_group_job *rows, size_t n_rows,
                                    const zeus_sim_params *params, zeus_sim_history *history)
{
    if (!trace || !job || (!rows && n_rows) || !params || !history)
        return zeus__error(ZEUS_EINVAL, "simulator: NULL argument");
    if (job->default_bs <= 0)
        return zeus__error(ZEUS_EINVAL, "You must give the job a default batch size.");
    group_sim s = {0};
    int rc = ctx_init(&s.ctx, trace, job, params);
    if (rc != ZEUS_OK)
        return rc;
    s.min_cost = INFINITY;
    s.best_bs = job->default_bs;
    s.history = history;
    for (size_t i = 0; i < n_rows; i++) {
        if ((rc = reap(&s, rows[i].start_time)) != ZEUS_OK ||
            (rc = launch(&s, rows[i].start_time, rows[i].end_time, rows[i].runtime_ratio, (int)i,
                         1)) != ZEUS_OK)
            goto done;
    }
    rc = reap(&s, INFINITY);
done:
    free(s.running);
    free(s.snapshot);
    ctx_free(&s.ctx);
    return rc;
}
