/* Questions answered from a loaded trace: the job's rows, batch-size range, power-limit
 * profile, expected outcomes and the oracle. */
#include "simulate/sim_internal.h"

#include "core/internal.h"

#include <math.h>
#include <string.h>

size_t zeus_trace_rows(const zeus_trace *trace)
{
    return trace->rows;
}

int zeus_trace_max_power(const zeus_trace *trace)
{
    return trace->max_power;
}

static const zeus_workload *find_workload(const zeus_trace *trace, const zeus_job *job,
                                          size_t *index)
{
    for (size_t w = 0; w < trace->n_workloads; w++) {
        const zeus_workload *wl = &trace->workloads[w];
        if (strcmp(wl->dataset, job->dataset) == 0 && strcmp(wl->network, job->network) == 0 &&
            strcmp(wl->optimizer, job->optimizer) == 0) {
            if (index)
                *index = w;
            return wl;
        }
    }
    return NULL;
}

static int unknown_workload(const zeus_trace *trace, const zeus_job *job)
{
    char known[1024];
    size_t o = 0;
    for (size_t w = 0; w < trace->n_workloads && o < sizeof known; w++)
        o += (size_t)snprintf(known + o, sizeof known - o, "%s%s/%s/%s", w ? ", " : "",
                              trace->workloads[w].dataset, trace->workloads[w].network,
                              trace->workloads[w].optimizer);
    return zeus__error(ZEUS_ENOENT,
                       "no rows for workload %s/%s/%s (dataset/network/optimizer) in "
                       "the join of %s and %s; known workloads: %s",
                       job->dataset, job->network, job->optimizer, trace->train_path,
                       trace->power_path, known);
}

int zeus__trace_find_job(const zeus_trace *trace, const zeus_job *job, const zeus_job_table **out)
{
    size_t w;
    if (!find_workload(trace, job, &w))
        return unknown_workload(trace, job);
    char known[512];
    size_t o = 0;
    for (size_t t = 0; t < trace->n_tables; t++) {
        if (trace->tables[t].workload != w)
            continue;
        /* Exact float equality, as the original's filter. */
        if (trace->tables[t].target == job->target_metric) {
            *out = &trace->tables[t];
            return ZEUS_OK;
        }
        char buf[ZEUS_DOUBLE_BUF];
        if (o < sizeof known)
            o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", o ? ", " : "",
                                  zeus_format_double(trace->tables[t].target, buf, sizeof buf));
    }
    char buf[ZEUS_DOUBLE_BUF];
    return zeus__error(ZEUS_ENOENT,
                       "target metric %s of workload %s/%s/%s is not in %s; its "
                       "targets are: %s",
                       zeus_format_double(job->target_metric, buf, sizeof buf), job->dataset,
                       job->network, job->optimizer, trace->train_path, known);
}

const zeus_cell *zeus__table_cell(const zeus_job_table *table, int bs)
{
    for (size_t c = 0; c < table->n_cells; c++)
        if (table->cells[c].bs == bs)
            return &table->cells[c];
    return NULL;
}

const zeus_pl_group *zeus__cell_group(const zeus_cell *cell, int pl)
{
    for (size_t g = 0; g < cell->n_groups; g++)
        if (cell->groups[g].pl == pl)
            return &cell->groups[g];
    return NULL;
}

int zeus_trace_batch_sizes(const zeus_trace *trace, const zeus_job *job, const int **sizes,
                           size_t *n)
{
    const zeus_workload *wl = find_workload(trace, job, NULL);
    if (!wl)
        return unknown_workload(trace, job);
    *sizes = wl->batch_sizes;
    *n = wl->n_bs;
    return ZEUS_OK;
}

int zeus_trace_job_space(const zeus_trace *trace, const zeus_job *job, size_t *n_batch_sizes,
                         size_t *n_power_limits)
{
    const zeus_job_table *table;
    int rc = zeus__trace_find_job(trace, job, &table);
    if (rc != ZEUS_OK)
        return rc;
    *n_batch_sizes = table->n_cells;
    *n_power_limits = table->n_pls;
    return ZEUS_OK;
}

int zeus_trace_max_batch_size(const zeus_trace *trace, const char *dataset, int *bs)
{
    for (size_t i = 0; i < trace->n_power_datasets; i++) {
        if (strcmp(trace->power_datasets[i].dataset, dataset) == 0) {
            *bs = trace->power_datasets[i].max_bs;
            return ZEUS_OK;
        }
    }
    return zeus__error(ZEUS_ENOENT, "dataset '%s' has no rows in %s", dataset, trace->power_path);
}

static int job_cell(const zeus_trace *trace, const zeus_job *job, int bs, const zeus_cell **out)
{
    const zeus_job_table *table;
    int rc = zeus__trace_find_job(trace, job, &table);
    if (rc != ZEUS_OK)
        return rc;
    *out = zeus__table_cell(table, bs);
    if (!*out)
        return zeus__error(ZEUS_ENOENT,
                           "batch size %d of %s/%s/%s has no rows for this target "
                           "metric in the join of %s and %s",
                           bs, job->dataset, job->network, job->optimizer, trace->train_path,
                           trace->power_path);
    return ZEUS_OK;
}

int zeus_trace_profile_power_limit(const zeus_trace *trace, const zeus_job *job, int bs,
                                   double eta_knob, zeus_pl_cost *out, size_t cap, size_t *n)
{
    const zeus_cell *cell;
    int rc = job_cell(trace, job, bs, &cell);
    if (rc != ZEUS_OK)
        return rc;
    zeus__cell_profile(cell, eta_knob, out, cap);
    *n = cell->n_groups;
    return ZEUS_OK;
}

void zeus__cell_profile(const zeus_cell *cell, double eta, zeus_pl_cost *out, size_t cap)
{
    /* Highest limit first; (eta * mean power + (1 - eta) * max PL) * mean epoch time. */
    for (size_t k = 0; k < cell->n_groups && k < cap; k++) {
        const zeus_pl_group *g = &cell->groups[cell->n_groups - 1 - k];
        out[k] = (zeus_pl_cost){g->pl, zeus__epoch_cost(cell, g, eta)};
    }
}

static void expected_run(const zeus_trace *trace, const zeus_job *job, const zeus_cell *cell,
                         const zeus_pl_group *g, double eta_knob, zeus_sim_choice *out)
{
    double energy = 0, time = 0;
    size_t reached = 0, n = 0;
    for (size_t r = 0; r < cell->n_runs; r++) {
        double te = cell->target_epochs[r];
        bool ok = !isnan(te) && te <= job->max_epochs;
        double epochs = ok ? te : job->max_epochs;
        for (size_t k = 0; k < g->count; k++) {
            const zeus_power_row *p = &cell->power[g->rows[k]];
            energy += p->epe * epochs;
            time += p->tpe * epochs;
            reached += ok;
            n++;
        }
    }
    out->batch_size = cell->bs;
    out->power_limit = g->pl;
    out->energy_j = energy / (double)n;
    out->time_s = time / (double)n;
    out->cost = zeus_cost(out->energy_j, out->time_s, eta_knob, trace->max_power);
    out->reach_rate = (double)reached / (double)n;
}

int zeus_trace_expected_run(const zeus_trace *trace, const zeus_job *job, int bs, int pl,
                            double eta_knob, zeus_sim_choice *out)
{
    const zeus_cell *cell;
    int rc = job_cell(trace, job, bs, &cell);
    if (rc != ZEUS_OK)
        return rc;
    const zeus_pl_group *g = zeus__cell_group(cell, pl);
    if (!g)
        return zeus__error(ZEUS_ENOENT, "no rows for batch size %d at %d W", bs, pl);
    expected_run(trace, job, cell, g, eta_knob, out);
    return ZEUS_OK;
}

/* The cheapest expected (batch size, power limit) among those whose every recorded run reaches
 * the target; *found false when there is none. */
static void find_oracle(const zeus_trace *trace, const zeus_job *job, const zeus_job_table *table,
                        double eta_knob, zeus_sim_choice *oracle, bool *found)
{
    *found = false;
    for (size_t c = 0; c < table->n_cells; c++) {
        const zeus_cell *cell = &table->cells[c];
        for (size_t k = cell->n_groups; k-- > 0;) { /* higher limits first win ties */
            zeus_sim_choice e;
            expected_run(trace, job, cell, &cell->groups[k], eta_knob, &e);
            if (e.reach_rate == 1.0 && (!*found || e.cost < oracle->cost)) {
                *oracle = e;
                *found = true;
            }
        }
    }
}

int zeus__trace_oracle(const zeus_trace *trace, const zeus_job *job, double eta_knob,
                       zeus_sim_choice *oracle, bool *found, zeus_sim_choice *default_choice)
{
    const zeus_job_table *table;
    int rc = zeus__trace_find_job(trace, job, &table);
    if (rc != ZEUS_OK)
        return rc;
    find_oracle(trace, job, table, eta_knob, oracle, found);
    const zeus_cell *cell = zeus__table_cell(table, job->default_bs);
    if (!cell)
        return zeus__error(ZEUS_ENOENT, "default batch size %d has no rows in the trace",
                           job->default_bs);
    expected_run(trace, job, cell, &cell->groups[cell->n_groups - 1], eta_knob, default_choice);
    return ZEUS_OK;
}

int zeus_trace_oracle(const zeus_trace *trace, const zeus_job *job, double eta_knob,
                      zeus_sim_choice *oracle, zeus_sim_choice *default_choice)
{
    bool found;
    zeus_sim_choice deflt;
    int rc = zeus__trace_oracle(trace, job, eta_knob, oracle, &found, &deflt);
    if (rc == ZEUS_OK && !found)
        return zeus__error(ZEUS_ENOENT,
                           "no (batch size, power limit) of %s/%s/%s always reaches "
                           "the target within %d epochs",
                           job->dataset, job->network, job->optimizer, job->max_epochs);
    if (rc == ZEUS_OK)
        *default_choice = deflt;
    return rc;
}
