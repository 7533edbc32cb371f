/* The carbon-aware power-limit selector and intensity traces (zeus/carbon.h, docs/carbon.md). */
#include "zeus/carbon.h"

#include "core/csv.h"
#include "core/internal.h"
#include "zeus/cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool positive(double v)
{
    return v > 0 && isfinite(v);
}

double zeus_carbon_cost(double energy_j, double time_s, double eta_knob, double max_power_w,
                        double g_per_kwh, double reference_g_per_kwh)
{
    if (!positive(g_per_kwh) || !positive(reference_g_per_kwh))
        return NAN;
    return zeus_cost(energy_j * (g_per_kwh / reference_g_per_kwh), time_s, eta_knob, max_power_w);
}

/* Scales every energy by I / I_ref and lets the ZeusCost selector choose: the same ties and
 * repeated-limit rule as ZeusCost, and exactly ZeusCost's choice at I == I_ref. */
static int select_carbon(const zeus_power_limit_measurement *m, size_t n, void *user,
                         unsigned *optimal_w)
{
    zeus_carbon_cost_selector *s = user;
    double intensity = NAN;
    int rc = s->intensity(s->user, &intensity);
    if (rc != ZEUS_OK)
        return *zeus_last_error() ? rc : zeus__error(rc, "%s: no carbon intensity", s->name);
    char num[ZEUS_DOUBLE_BUF];
    if (!positive(intensity))
        return zeus__error(ZEUS_ERANGE, "%s: carbon intensity %s gCO2eq/kWh is not positive",
                           s->name, zeus_format_double(intensity, num, sizeof num));
    zeus_power_limit_measurement *scaled = malloc(n * sizeof *scaled);
    if (!scaled)
        return zeus__error(ZEUS_ENOMEM, "%s: out of memory", s->name);
    for (size_t i = 0; i < n; i++) {
        scaled[i] = m[i];
        scaled[i].energy_j *= intensity / s->reference_g_per_kwh;
    }
    zeus_optimum_selector cost;
    rc = zeus_selector_zeus_cost(s->eta_knob, s->world_size, &cost);
    if (rc == ZEUS_OK)
        rc = zeus_selector_select(&cost, scaled, n, optimal_w);
    free(scaled);
    if (rc == ZEUS_OK) {
        s->last_g_per_kwh = intensity;
        s->last_limit_w = *optimal_w;
    }
    return rc;
}

int zeus_selector_carbon_cost(zeus_carbon_cost_selector *state, double eta_knob, int world_size,
                              double reference_g_per_kwh, zeus_carbon_intensity_fn intensity,
                              void *user, zeus_optimum_selector *out)
{
    char num[ZEUS_DOUBLE_BUF], ref[ZEUS_DOUBLE_BUF];
    if (!state || !out)
        return zeus__error(ZEUS_EINVAL, "CarbonCost: no selector state or output given");
    zeus_optimum_selector check;
    int rc = zeus_selector_zeus_cost(eta_knob, world_size, &check);
    if (rc != ZEUS_OK)
        return rc;
    if (world_size < 1)
        return zeus__error(ZEUS_EINVAL, "CarbonCost: world_size must be >= 1 (got %d)", world_size);
    if (!positive(reference_g_per_kwh))
        return zeus__error(ZEUS_EINVAL,
                           "CarbonCost: the reference intensity must be positive (got %s)",
                           zeus_format_double(reference_g_per_kwh, num, sizeof num));
    if (!intensity)
        return zeus__error(ZEUS_EINVAL, "CarbonCost: no carbon intensity callback");
    *state = (zeus_carbon_cost_selector){.eta_knob = eta_knob,
                                         .world_size = world_size,
                                         .reference_g_per_kwh = reference_g_per_kwh,
                                         .intensity = intensity,
                                         .user = user,
                                         .last_g_per_kwh = NAN};
    snprintf(state->name, sizeof state->name, "CarbonCost(eta_knob=%s, reference=%s)",
             zeus_format_double(eta_knob, num, sizeof num),
             zeus_format_double(reference_g_per_kwh, ref, sizeof ref));
    *out = zeus_selector_custom(select_carbon, state, state->name);
    return ZEUS_OK;
}

int zeus_carbon_trace_read(const char *path, zeus_carbon_trace *out)
{
    zeus_csv csv;
    double *values = NULL;
    size_t count = 0, cap = 0, t_col, v_col;
    double first = 0, previous = 0, period = 0;
    memset(out, 0, sizeof *out);
    int rc = zeus__csv_open(&csv, path);
    if (rc != ZEUS_OK)
        return rc;
    if ((rc = zeus__csv_column(&csv, "unix_s", &t_col)) != ZEUS_OK ||
        (rc = zeus__csv_column(&csv, "carbon_intensity", &v_col)) != ZEUS_OK)
        goto fail;
    for (;;) {
        bool eof = false, missing = false;
        if ((rc = zeus__csv_next(&csv, &eof)) != ZEUS_OK)
            goto fail;
        if (eof)
            break;
        double t, v;
        if ((rc = zeus__csv_number(&csv, t_col, true, &t, &missing)) != ZEUS_OK ||
            (rc = zeus__csv_number(&csv, v_col, true, &v, &missing)) != ZEUS_OK)
            goto fail;
        if (!positive(v)) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: carbon_intensity must be positive", path,
                             csv.line);
            goto fail;
        }
        if (count == 1)
            period = t - first;
        if ((count == 1 && !(period > 0)) ||
            (count > 1 && fabs((t - previous) - period) > 1e-6 * period)) {
            rc = zeus__error(ZEUS_EPARSE,
                             "%s:%d: unix_s must increase by one constant period (%g s after "
                             "the first row), got %g s",
                             path, csv.line, period, t - previous);
            goto fail;
        }
        if (count == 0)
            first = t;
        previous = t;
        if (count == cap) {
            cap = cap ? 2 * cap : 32;
            double *grown = realloc(values, cap * sizeof *values);
            if (!grown) {
                rc = zeus__error(ZEUS_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            values = grown;
        }
        values[count++] = v;
    }
    if (count < 2) {
        rc = zeus__error(ZEUS_EPARSE, "%s: a trace needs at least two rows", path);
        goto fail;
    }
    zeus__csv_close(&csv);
    *out = (zeus_carbon_trace){
        .count = count, .start_s = first, .period_s = period, .g_per_kwh = values};
    return ZEUS_OK;
fail:
    free(values);
    zeus__csv_close(&csv);
    return rc;
}

void zeus_carbon_trace_free(zeus_carbon_trace *trace)
{
    if (!trace)
        return;
    free(trace->g_per_kwh);
    memset(trace, 0, sizeof *trace);
}

/* Index and position within the cycle of time t. */
static double cycle_offset(const zeus_carbon_trace *t, double unix_s)
{
    double span = t->period_s * (double)t->count;
    double off = fmod(unix_s - t->start_s, span);
    return off < 0 ? off + span : off;
}

double zeus_carbon_trace_at(const zeus_carbon_trace *trace, double unix_s)
{
    if (!trace || trace->count == 0)
        return NAN;
    size_t i = (size_t)(cycle_offset(trace, unix_s) / trace->period_s);
    return trace->g_per_kwh[i < trace->count ? i : trace->count - 1];
}

double zeus_carbon_trace_mean(const zeus_carbon_trace *trace, double from_s, double duration_s)
{
    if (!trace || trace->count == 0 || !(duration_s >= 0))
        return NAN;
    if (duration_s == 0)
        return zeus_carbon_trace_at(trace, from_s);
    double sum = 0, t = from_s, end = from_s + duration_s;
    while (t < end) {
        double off = cycle_offset(trace, t);
        double next = t + (trace->period_s - fmod(off, trace->period_s));
        if (next > end)
            next = end;
        if (next <= t) /* rounding at a boundary: step over it */
            next = t + trace->period_s * 1e-9;
        sum += zeus_carbon_trace_at(trace, t) * (next - t);
        t = next;
    }
    return sum / duration_s;
}
