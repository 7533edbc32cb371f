/* The summary of a simulated history (what `zeus simulate` prints, for any face): totals, the
 * most used knobs, and the comparison with the default and the oracle. */
#include "simulate/sim_internal.h"

#include "core/internal.h"
#include "core/array.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

static double percent(double part, double whole)
{
    return whole != 0 ? 100.0 * part / whole : 0.0;
}

typedef struct {
    zeus_sim_knob_use use;
    size_t first; /* order of first use: breaks the remaining ties */
} knob_count;

/* Most runs first, then the smaller batch size, then the first used. */
static int cmp_count(const void *a, const void *b)
{
    const knob_count *x = a, *y = b;
    if (x->use.runs != y->use.runs)
        return x->use.runs < y->use.runs ? 1 : -1;
    if (x->use.batch_size != y->use.batch_size)
        return x->use.batch_size < y->use.batch_size ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

/* Counts the knobs of a history into *counts (grown as needed). */
static int count_knobs(const zeus_sim_history *h, knob_count **counts, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < h->n; i++) {
        const zeus_sim_run *r = &h->runs[i];
        size_t j;
        for (j = 0; j < *n; j++)
            if ((*counts)[j].use.batch_size == r->batch_size &&
                (*counts)[j].use.power_limit == r->power_limit)
                break;
        if (j == *n) {
            int rc = zeus__array_reserve((void **)counts, cap, *n, sizeof **counts, 16);
            if (rc != ZEUS_OK)
                return rc;
            (*counts)[*n] = (knob_count){{r->batch_size, r->power_limit, 0}, *n};
            (*n)++;
        }
        (*counts)[j].use.runs++;
    }
    return ZEUS_OK;
}

/* The most used knobs of the histories. */
static int set_most_used(const zeus_sim_history *const *h, size_t n_h, zeus_sim_summary *out)
{
    knob_count *counts = NULL;
    size_t n = 0, cap = 0;
    int rc = ZEUS_OK;
    for (size_t i = 0; i < n_h && rc == ZEUS_OK; i++)
        rc = count_knobs(h[i], &counts, &n, &cap);
    if (rc == ZEUS_OK) {
        if (n > 0)
            qsort(counts, n, sizeof *counts, cmp_count);
        out->n_most_used = n < ZEUS_SIM_MOST_USED ? n : ZEUS_SIM_MOST_USED;
        for (size_t i = 0; i < out->n_most_used; i++)
            out->most_used[i] = counts[i].use;
    }
    free(counts);
    return rc;
}

static void set_percentages(zeus_sim_summary *s)
{
    s->energy_saved_pct = percent(s->energy_saved_j, s->default_energy_j);
    s->time_saved_pct = percent(s->time_saved_s, s->default_time_s);
    s->regret_pct = percent(s->regret, s->oracle_cost);
}

int zeus_sim_summarize(const zeus_trace *trace, const zeus_job *job, double eta_knob,
                       const zeus_sim_history *history, size_t n_recurrences, const double *weights,
                       zeus_sim_summary *out)
{
    if (!trace || !job || !history || !out)
        return zeus__error(ZEUS_EINVAL, "summary: NULL argument");
    memset(out, 0, sizeof *out);
    int rc = zeus__trace_oracle(trace, job, eta_knob, &out->oracle, &out->has_oracle,
                                &out->default_choice);
    if (rc != ZEUS_OK)
        return rc;
    out->runs = history->n;
    out->recurrences = n_recurrences;
    for (size_t i = 0; i < history->n; i++) {
        const zeus_sim_run *r = &history->runs[i];
        out->energy_j += r->energy_j;
        out->time_s += r->time_s;
        out->cost += r->cost;
        out->unreached_runs += !r->reached;
    }
    double w_total = 0;
    for (size_t i = 0; i < n_recurrences; i++)
        w_total += weights ? weights[i] : 1.0;
    out->default_energy_j = w_total * out->default_choice.energy_j;
    out->default_time_s = w_total * out->default_choice.time_s;
    out->default_cost = w_total * out->default_choice.cost;
    out->energy_saved_j = out->default_energy_j - out->energy_j;
    out->time_saved_s = out->default_time_s - out->time_s;
    if (out->has_oracle) {
        out->oracle_cost = w_total * out->oracle.cost;
        out->regret = out->cost - out->oracle_cost;
    }
    set_percentages(out);
    return set_most_used(&history, 1, out);
}

/* Adds a group's summary to the total (the oracle and default choices are per group). */
static void add_summary(zeus_sim_summary *total, const zeus_sim_summary *s)
{
    total->runs += s->runs;
    total->recurrences += s->recurrences;
    total->unreached_runs += s->unreached_runs;
    total->energy_j += s->energy_j;
    total->time_s += s->time_s;
    total->cost += s->cost;
    total->default_energy_j += s->default_energy_j;
    total->default_time_s += s->default_time_s;
    total->default_cost += s->default_cost;
    total->energy_saved_j += s->energy_saved_j;
    total->time_saved_s += s->time_saved_s;
    if (s->has_oracle) {
        total->has_oracle = true;
        total->oracle_cost += s->oracle_cost;
        total->regret += s->regret;
    }
}

static int summarize_group(const zeus_trace *trace, const zeus_group *g,
                           const zeus_group_result *result, double eta_knob, zeus_sim_summary *out)
{
    double *w = malloc((g->n_rows ? g->n_rows : 1) * sizeof *w);
    if (!w)
        return zeus__error(ZEUS_ENOMEM, "summary: out of memory");
    for (size_t k = 0; k < g->n_rows; k++)
        w[k] = g->rows[k].runtime_ratio;
    int rc = zeus_sim_summarize(trace, &result->job, eta_knob, &result->history, g->n_rows, w, out);
    free(w);
    return rc;
}

int zeus_sim_summarize_alibaba(const zeus_trace *trace, const zeus_groups *groups,
                               const zeus_group_result *results, double eta_knob,
                               zeus_sim_summary *per_group, zeus_sim_summary *total)
{
    if (!trace || !groups || !results || !per_group || !total)
        return zeus__error(ZEUS_EINVAL, "summary: NULL argument");
    size_t n = zeus_groups_count(groups);
    memset(total, 0, sizeof *total);
    const zeus_sim_history **histories = calloc(n ? n : 1, sizeof *histories);
    if (!histories)
        return zeus__error(ZEUS_ENOMEM, "summary: out of memory");
    size_t n_h = 0;
    int rc = ZEUS_OK;
    for (size_t i = 0; i < n; i++) {
        memset(&per_group[i], 0, sizeof per_group[i]);
        if (results[i].status != ZEUS_OK)
            continue;
        zeus_group g;
        zeus_groups_get(groups, i, &g);
        if ((rc = summarize_group(trace, &g, &results[i], eta_knob, &per_group[i])) != ZEUS_OK)
            goto done;
        add_summary(total, &per_group[i]);
        histories[n_h++] = &results[i].history;
    }
    set_percentages(total);
    rc = set_most_used(histories, n_h, total);
done:
    free(histories);
    return rc;
}

int zeus_sim_curves(const zeus_sim_history *h, size_t n, double oracle_cost, double *cost,
                    double *cumulative, double *regret, double *batch_size)
{
    if (!h)
        return zeus__error(ZEUS_EINVAL, "no history");
    double *per = calloc(n ? n : 1, sizeof *per);
    if (!per)
        return zeus__error(ZEUS_ENOMEM, "out of memory for %zu recurrences", n);
    for (size_t r = 0; r < n; r++)
        if (batch_size)
            batch_size[r] = NAN;
    for (size_t i = 0; i < h->n; i++) {
        const zeus_sim_run *run = &h->runs[i];
        if (run->recurrence < 0 || (size_t)run->recurrence >= n)
            continue;
        per[run->recurrence] += run->cost;
        if (batch_size)
            batch_size[run->recurrence] = run->batch_size;
    }
    double total = 0;
    for (size_t r = 0; r < n; r++) {
        total += per[r];
        if (cost)
            cost[r] = per[r];
        if (cumulative)
            cumulative[r] = total;
        if (regret)
            regret[r] = total - (double)(r + 1) * oracle_cost;
    }
    free(per);
    return ZEUS_OK;
}
