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

/* The trace stands in for the training runs; the recurring driver (zeus/recurring.h) decides. */
typedef struct {
    const zeus_job *job;
    const zeus_job_table *table;
    double eta;
    double max_power;
    zeus_rng rng; /* picks the recorded training runs */
    zeus_recurring *rec;
    zeus_pl_cost *profile; /* room for the largest power-limit profile of the job */
    bool verbose;
    char name[4 * ZEUS_JOB_NAME_MAX];
} sim_ctx;

static void ctx_free(sim_ctx *ctx)
{
    zeus_recurring_destroy(ctx->rec);
    free(ctx->profile);
}

/* ZEUS_EINVAL naming the traced sizes when the default batch size is not one of them. */
static int check_default_bs(const sim_ctx *ctx, const zeus_workload *wl)
{
    for (size_t i = 0; i < wl->n_bs; i++)
        if (wl->batch_sizes[i] == ctx->job->default_bs)
            return ZEUS_OK;
    char list[512];
    size_t o = 0;
    for (size_t k = 0; k < wl->n_bs && o < sizeof list; k++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%d", k ? ", " : "", wl->batch_sizes[k]);
    return zeus__error(ZEUS_EINVAL,
                       "default batch size %d of %s is not one of the traced "
                       "batch sizes [%s]",
                       ctx->job->default_bs, ctx->name, list);
}

static int ctx_init(sim_ctx *ctx, const zeus_trace *trace, const zeus_job *job,
                    const zeus_sim_params *p)
{
    memset(ctx, 0, sizeof *ctx);
    int rc = zeus__trace_find_job(trace, job, &ctx->table);
    if (rc != ZEUS_OK)
        return rc;
    ctx->job = job;
    ctx->eta = p->eta_knob;
    ctx->max_power = trace->max_power;
    ctx->verbose = zeus_get_log_level() >= ZEUS_LOG_DEBUG;
    zeus_job_format(job, ctx->name, sizeof ctx->name);
    zeus_rng_seed(&ctx->rng, p->seed);

    /* A new job: profile its feasible batch sizes (every target metric) and register it. */
    const zeus_workload *wl = &trace->workloads[ctx->table->workload];
    if ((rc = check_default_bs(ctx, wl)) != ZEUS_OK)
        return rc;
    size_t max_groups = 1;
    for (size_t c = 0; c < ctx->table->n_cells; c++)
        if (ctx->table->cells[c].n_groups > max_groups)
            max_groups = ctx->table->cells[c].n_groups;
    ctx->profile = malloc(max_groups * sizeof *ctx->profile);
    if (!ctx->profile)
        return zeus__error(ZEUS_ENOMEM, "simulator: out of memory");
    zeus_recurring_config cfg; /* checks the knobs */
    zeus_recurring_config_default(&cfg);
    cfg.eta_knob = p->eta_knob;
    cfg.beta_knob = p->beta_knob;
    cfg.max_power_w = trace->max_power;
    cfg.bso = p->bso;
    if ((rc = zeus_recurring_create(&cfg, job, wl->batch_sizes, wl->n_bs, &ctx->rec)) != ZEUS_OK) {
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

/* A batch size seen for the first time: its power-limit profile from the trace. */
static int profile_knobs(sim_ctx *ctx, zeus_recurring_attempt *a)
{
    if (!a->profile)
        return ZEUS_OK;
    const zeus_cell *cell = zeus__table_cell(ctx->table, a->batch_size);
    if (!cell)
        return zeus__error(ZEUS_ENOENT, "%s: batch size %d has no rows for this target metric",
                           ctx->name, a->batch_size);
    zeus__cell_profile(cell, ctx->eta, ctx->profile, cell->n_groups);
    return zeus_recurring_profile(ctx->rec, a, ctx->profile, cell->n_groups);
}

/* The original's _run_job: follow one recorded run at (bs, pl), stopping before the epoch that
 * would cross cost_ub; the profiling run's first epoch is spread over every power limit. A run
 * that cannot do one epoch is all zeros. */
static int run_job(sim_ctx *ctx, const zeus_recurring_attempt *a, zeus_recurring_result *out)
{
    const zeus_cell *cell;
    const zeus_pl_group *g;
    int bs = a->batch_size, pl = a->power_limit;
    int rc = lookup(ctx, bs, pl, &cell, &g);
    if (rc != ZEUS_OK)
        return rc;
    /* pandas sample(n=1, random_state=rng) = rng.choice(len, 1, replace=False): one draw. */
    uint64_t k = zeus_rng_bounded(&ctx->rng, cell->n_runs * g->count - 1);
    double target_epoch = cell->target_epochs[k / g->count];
    const zeus_power_row *path = &cell->power[g->rows[k % g->count]];

    double max_epochs;
    if (a->cost_ub == INFINITY) {
        max_epochs = ctx->job->max_epochs;
    } else {
        double cost_per_epoch = ctx->eta * path->epe + (1 - ctx->eta) * cell->max_pl * path->tpe;
        /* min(cost_ub // cost_per_epoch, max_epochs): Python float floor division, and min()
         * keeps the first argument unless the second is smaller. */
        max_epochs = zeus__py_floordiv(a->cost_ub, cost_per_epoch);
        if ((double)ctx->job->max_epochs < max_epochs)
            max_epochs = ctx->job->max_epochs;
    }
    if (max_epochs == 0) {
        ZEUS_INFO("[run job] %s cannot run even one epoch without exceeding the cost UB. BS %d, "
                  "PL %d, eta_knob=%g",
                  ctx->name, bs, pl, ctx->eta);
        *out = (zeus_recurring_result){0.0, 0.0, false};
        return ZEUS_OK;
    }
    out->reached = !isnan(target_epoch) && target_epoch <= max_epochs;
    double epochs = out->reached ? target_epoch : max_epochs;
    if (a->profile) {
        out->energy_j = cell->mean_epe + path->epe * (epochs - 1);
        out->time_s = cell->mean_tpe + path->tpe * (epochs - 1);
    } else {
        out->energy_j = path->epe * epochs;
        out->time_s = path->tpe * epochs;
    }
    if (ctx->verbose)
        ZEUS_DEBUG("[run job] %s @ %d,%dW%s => %s %d epochs, TTA %.2f seconds, ETA %.2f", ctx->name,
                   bs, pl, a->profile ? " prof" : "",
                   out->reached ? "Reached in" : "Failed (stopped after", (int)epochs, out->time_s,
                   out->energy_j);
    return ZEUS_OK;
}

int zeus_simulate_one_job(const zeus_trace *trace, const zeus_job *job, size_t num_recurrence,
                          const zeus_sim_params *params, zeus_sim_history *history)
{
    if (!trace || !job || !params || !history)
        return zeus__error(ZEUS_EINVAL, "simulator: NULL argument");
    if (num_recurrence > ZEUS_SIM_MAX_RECURRENCES)
        return zeus__error(ZEUS_EINVAL,
                           "simulator: %zu recurrences is more than the %d a simulation may "
                           "have (its history is kept in memory)",
                           num_recurrence, ZEUS_SIM_MAX_RECURRENCES);
    sim_ctx ctx;
    int rc = ctx_init(&ctx, trace, job, params);
    if (rc != ZEUS_OK)
        return rc;
    if (ctx.verbose)
        ZEUS_DEBUG("[Simulator] %s recurring %zu times.", ctx.name, num_recurrence);
    while (zeus_recurring_recurrences(ctx.rec) < num_recurrence) {
        zeus_recurring_attempt a;
        zeus_recurring_result res;
        zeus_recurring_verdict v;
        if ((rc = zeus_recurring_next(ctx.rec, &a)) != ZEUS_OK ||
            (rc = profile_knobs(&ctx, &a)) != ZEUS_OK || (rc = run_job(&ctx, &a, &res)) != ZEUS_OK)
            break;
        rc = zeus_recurring_report(ctx.rec, &res, &v);
        if (v.ran) { /* recorded even when the job gives up on it */
            zeus_sim_run run = {(int)a.recurrence, a.try_index, a.batch_size, a.power_limit,
                                res.energy_j,      res.time_s,  v.cost,       res.reached};
            int arc = history_append(history, &run);
            if (rc == ZEUS_OK)
                rc = arc;
        }
        if (rc != ZEUS_OK)
            break;
    }
    ctx_free(&ctx);
    return rc;
}

/* ---- Alibaba-style groups: concurrent submissions ------------------------------------------ */

typedef struct {
    double start, end, ratio;
    int bs, pl;
    zeus_recurring_result res; /* unscaled: what the optimizer observes */
    int row, try_index;
    unsigned long id;
} running_job;

typedef struct {
    sim_ctx ctx;
    running_job *running, *snapshot;
    size_t n_running, cap, snapshot_cap;
    unsigned long next_id;
    zeus_sim_history *history;
} group_sim;

/* Precomputes a launch's outcome and adds it to the running jobs. */
static int launch(group_sim *s, double start, double end, double ratio, int row, int try_index)
{
    zeus_recurring_attempt a;
    zeus_recurring_result res;
    int rc;
    if ((rc = zeus_recurring_next_concurrent(s->ctx.rec, s->n_running > 0, &a)) != ZEUS_OK ||
        (rc = profile_knobs(&s->ctx, &a)) != ZEUS_OK ||
        (rc = run_job(&s->ctx, &a, &res)) != ZEUS_OK)
        return rc;
    /* The reaper copies the running jobs into the snapshot: keep it as large. */
    if ((rc = zeus__array_reserve((void **)&s->running, &s->cap, s->n_running, sizeof *s->running,
                                  16)) != ZEUS_OK ||
        (rc = zeus__array_reserve((void **)&s->snapshot, &s->snapshot_cap, s->n_running,
                                  sizeof *s->snapshot, 16)) != ZEUS_OK)
        return rc;
    s->running[s->n_running++] = (running_job){start, end, ratio,     a.batch_size, a.power_limit,
                                               res,   row, try_index, s->next_id++};
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
            zeus_recurring_verdict v;
            int rc =
                zeus_recurring_report_concurrent(s->ctx.rec, job.bs, job.try_index, &job.res, &v);
            if (v.ran) { /* recorded even when the job gives up on it */
                double e = job.res.energy_j * job.ratio, t = job.res.time_s * job.ratio;
                zeus_sim_run run = {job.row,
                                    job.try_index,
                                    job.bs,
                                    job.pl,
                                    e,
                                    t,
                                    zeus_cost(e, t, s->ctx.eta, s->ctx.max_power),
                                    job.res.reached};
                int arc = history_append(s->history, &run);
                if (rc == ZEUS_OK)
                    rc = arc;
            }
            if (rc != ZEUS_OK)
                return rc;
            if (v.done)
                continue;
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
