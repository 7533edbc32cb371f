/* The pipeline frequency optimizer's operation options: time quantisation, the candidate
 * (Pareto) filter, the exponential cost model and its fit, the profile CSV (spec 5.2 of
 * pipeline-frequency-api.md: lowtime 0.3.0 and zeus's run_optimization.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/csv.h"
#include "core/internal.h"
#include "pf_internal.h"
#include "zeus/pipeline_frequency.h"

const char *zeus_pf_instruction_name(zeus_pf_instruction instruction)
{
    return instruction == ZEUS_PF_BACKWARD ? "backward" : "forward";
}

/* CPython's float floor division (float_floor_div), which is not floor(a / b). */
static double py_floordiv(double vx, double wx)
{
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod != 0.0) {
        if ((wx < 0) != (mod < 0))
            div -= 1.0;
    }
    if (div != 0.0) {
        double floordiv = floor(div);
        if (div - floordiv > 0.5)
            floordiv += 1.0;
        return floordiv;
    }
    return copysign(0.0, vx / wx);
}

long zeus_pf_quantize(double real_time_s, double unit_time_s)
{
    return (long)py_floordiv(real_time_s, unit_time_s);
}

double zeus__pf_floordiv(double a, double b)
{
    return py_floordiv(a, b);
}

/* Python's sort is stable: order by key (descending), ties by original position. */
typedef struct {
    zeus_pf_option option;
    size_t index;
    double key;
} keyed_option;

static int by_key_desc(const void *pa, const void *pb)
{
    const keyed_option *a = pa, *b = pb;
    if (a->key > b->key)
        return -1;
    if (a->key < b->key)
        return 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void sort_desc(keyed_option *items, size_t n, int which)
{
    for (size_t i = 0; i < n; i++) {
        items[i].index = i;
        items[i].key = which == 0   ? items[i].option.real_time_s
                       : which == 1 ? items[i].option.cost_j
                                    : (double)items[i].option.quant_time;
    }
    qsort(items, n, sizeof *items, by_key_desc);
}

size_t zeus_pf_candidates(const zeus_pf_option *options, size_t n, double noise_factor,
                          zeus_pf_option *out)
{
    if (n == 0)
        return 0;
    keyed_option *items = calloc(n, sizeof *items);
    keyed_option *kept = calloc(n, sizeof *kept);
    size_t n_kept = 0;
    if (!items || !kept) {
        free(items);
        free(kept);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        items[i].option = options[i];
    sort_desc(items, n, 0);
    for (size_t i = 0; i < n; i++) {
        double real_time = items[i].option.real_time_s * noise_factor;
        double cost = items[i].option.cost_j * noise_factor;
        bool dominated = false;
        for (size_t j = 0; j < n && !dominated; j++)
            dominated = items[j].option.real_time_s < real_time && items[j].option.cost_j < cost;
        if (!dominated)
            kept[n_kept++].option = items[i].option;
    }
    sort_desc(kept, n_kept, 1);
    size_t n_out = 0;
    for (size_t i = 0; i < n_kept; i++) {
        bool seen = false;
        for (size_t j = 0; j < n_out && !seen; j++)
            seen = items[j].option.quant_time == kept[i].option.quant_time;
        if (!seen)
            items[n_out++].option = kept[i].option;
    }
    sort_desc(items, n_out, 2);
    for (size_t i = 0; i < n_out; i++)
        out[i] = items[i].option;
    free(items);
    free(kept);
    return n_out;
}

double zeus_pf_cost(const zeus_pf_cost_model *model, long quant_time)
{
    return model->a * exp(model->b * (double)quant_time) + model->c;
}

/* For a fixed b the model is linear in (a, c): the least-squares a and c in closed form
 * (x measured from the largest q so exp stays finite), and the squared error. */
typedef struct {
    const zeus_pf_option *points;
    size_t n;
    long q_ref;
} fit_data;

static double fit_for_b(const fit_data *d, double b, double *a_out, double *c_out)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < d->n; i++) {
        mx += exp(b * (double)(d->points[i].quant_time - d->q_ref));
        my += d->points[i].cost_j;
    }
    mx /= (double)d->n;
    my /= (double)d->n;
    double sxx = 0, sxy = 0;
    for (size_t i = 0; i < d->n; i++) {
        double x = exp(b * (double)(d->points[i].quant_time - d->q_ref)) - mx;
        sxx += x * x;
        sxy += x * (d->points[i].cost_j - my);
    }
    if (!(sxx > 0))
        return INFINITY;
    double a = sxy / sxx;
    if (a < 0) /* not convex: lowtime rejects these fits */
        return INFINITY;
    double c = my - a * mx;
    double sse = 0;
    for (size_t i = 0; i < d->n; i++) {
        double r =
            d->points[i].cost_j - (a * exp(b * (double)(d->points[i].quant_time - d->q_ref)) + c);
        sse += r * r;
    }
    *a_out = a;
    *c_out = c;
    return sse;
}

int zeus_pf_fit_exponential(const zeus_pf_option *candidates, size_t n, zeus_pf_cost_model *out)
{
    if (n < 4)
        return zeus__error(ZEUS_EINVAL,
                           "the exponential fit needs at least 4 Pareto-optimal options, got %zu "
                           "(lowtime's grid search fails the same way)",
                           n);
    fit_data d = {candidates, n, candidates[0].quant_time};
    long q_min = candidates[0].quant_time, q_max = candidates[0].quant_time;
    for (size_t i = 0; i < n; i++) {
        q_min = candidates[i].quant_time < q_min ? candidates[i].quant_time : q_min;
        q_max = candidates[i].quant_time > q_max ? candidates[i].quant_time : q_max;
    }
    d.q_ref = q_max;
    double range = (double)(q_max - q_min);
    if (!(range > 0))
        return zeus__error(ZEUS_EINVAL, "the exponential fit needs distinct quantised times");
    /* Scan |b| * range over 1e-4 .. 1e2 on a log grid, both signs, then refine the best point
     * by golden-section search in log |b|. */
    enum { GRID = 241 };
    double best = INFINITY, best_t = 0, a = 0, c = 0;
    int best_sign = -1;
    for (int sign = -1; sign <= 1; sign += 2)
        for (int i = 0; i < GRID; i++) {
            double t = -4.0 + 6.0 * i / (GRID - 1);
            double sse = fit_for_b(&d, sign * pow(10.0, t) / range, &a, &c);
            if (sse < best) {
                best = sse;
                best_t = t;
                best_sign = sign;
            }
        }
    if (!isfinite(best))
        return zeus__error(ZEUS_EINVAL, "no convex exponential curve fits the options");
    double step = 6.0 / (GRID - 1);
    double lo = best_t - step, hi = best_t + step;
    const double phi = (sqrt(5.0) - 1) / 2;
    double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
    double f1 = fit_for_b(&d, best_sign * pow(10.0, x1) / range, &a, &c);
    double f2 = fit_for_b(&d, best_sign * pow(10.0, x2) / range, &a, &c);
    for (int it = 0; it < 200 && hi - lo > 1e-13; it++) {
        if (f1 <= f2) {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - phi * (hi - lo);
            f1 = fit_for_b(&d, best_sign * pow(10.0, x1) / range, &a, &c);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + phi * (hi - lo);
            f2 = fit_for_b(&d, best_sign * pow(10.0, x2) / range, &a, &c);
        }
    }
    double t = f1 <= f2 ? x1 : x2;
    double b = best_sign * pow(10.0, t) / range;
    double sse = fit_for_b(&d, b, &a, &c);
    if (!isfinite(sse) || sse > best) {
        b = best_sign * pow(10.0, best_t) / range;
        sse = fit_for_b(&d, b, &a, &c);
    }
    /* a * exp(b * (q - q_ref)) = (a * exp(-b * q_ref)) * exp(b * q) */
    out->a = a * exp(-b * (double)d.q_ref);
    out->b = b;
    out->c = c;
    if (!isfinite(out->a) || !isfinite(out->c))
        return zeus__error(ZEUS_ERANGE, "the exponential fit overflowed (b = %g)", b);
    return 0;
}

void zeus_pf_profile_options_init(zeus_pf_profile_options *options)
{
    memset(options, 0, sizeof *options);
    options->size = sizeof *options;
    options->unit_time_s = 0.001;
    options->p2p_power_w = 70.0;
    options->noise_factor = 0.95;
}

void zeus_pf_specs_free(zeus_pf_spec *specs, int num_stages)
{
    if (!specs)
        return;
    for (int i = 0; i < 2 * num_stages; i++)
        free(specs[i].options);
    free(specs);
}

typedef struct {
    long stage;
    zeus_pf_instruction instruction;
    zeus_pf_option option;
} profile_row;

typedef struct {
    size_t stage, inst, freq, time, energy;
} profile_cols;

/* The current CSV row as a profile row (its cost mapped to effective computation energy). */
static int read_profile_row(zeus_csv *csv, const profile_cols *col, const char *path,
                            const zeus_pf_profile_options *opts, profile_row *row)
{
    const char *inst;
    double freq, time_s, energy;
    bool missing;
    int rc;
    if ((rc = zeus__csv_int(csv, col->stage, 0, 1L << 30, &row->stage)) < 0 ||
        (rc = zeus__csv_text(csv, col->inst, &inst)) < 0)
        return rc;
    if (strcmp(inst, "forward") == 0)
        row->instruction = ZEUS_PF_FORWARD;
    else if (strcmp(inst, "backward") == 0)
        row->instruction = ZEUS_PF_BACKWARD;
    else
        return zeus__error(ZEUS_EPARSE,
                           "%s:%d: instruction '%s' is neither 'forward' nor 'backward'", path,
                           csv->line, inst);
    if ((rc = zeus__csv_number(csv, col->freq, true, &freq, &missing)) < 0 ||
        (rc = zeus__csv_number(csv, col->time, true, &time_s, &missing)) < 0 ||
        (rc = zeus__csv_double(csv, col->energy, &energy, &missing)) < 0)
        return rc;
    if (missing || !isfinite(energy) || !(time_s > 0) || !(freq >= 1))
        return zeus__error(ZEUS_EPARSE,
                           "%s:%d: a row needs a positive time and frequency and a finite "
                           "energy",
                           path, csv->line);
    row->option.real_time_s = time_s;
    row->option.cost_j = energy;
    row->option.knob_mhz = (long)freq;
    row->option.quant_time = zeus_pf_quantize(time_s, opts->unit_time_s);
    /* Map the cost to effective computation energy (run_optimization.py). */
    row->option.cost_j -= opts->p2p_power_w * (double)row->option.quant_time * opts->unit_time_s;
    return ZEUS_OK;
}

/* One stage's instruction k: its candidate options among the rows (work: scratch for n_rows) and
 * their fitted cost model. */
static int build_spec(const profile_row *rows, size_t n_rows, zeus_pf_option *work, int stage,
                      int k, const zeus_pf_profile_options *opts, const char *path,
                      zeus_pf_spec *spec)
{
    size_t n = 0;
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i].stage == stage && (int)rows[i].instruction == k)
            work[n++] = rows[i].option;
    const char *name = zeus_pf_instruction_name((zeus_pf_instruction)k);
    if (n == 0)
        return zeus__error(ZEUS_EINVAL, "%s: no %s rows for stage %d", path, name, stage);
    spec->options = calloc(n, sizeof *spec->options);
    if (!spec->options)
        return zeus__error(ZEUS_ENOMEM, "out of memory reading %s", path);
    spec->n_options = zeus_pf_candidates(work, n, 1.0, spec->options);
    if (spec->n_options <= 3)
        spec->n_options = zeus_pf_candidates(work, n, opts->noise_factor, spec->options);
    int rc;
    if (!opts->no_fit &&
        (rc = zeus_pf_fit_exponential(spec->options, spec->n_options, &spec->model)) < 0) {
        char detail[ZEUS_ERROR_DETAIL_LEN];
        snprintf(detail, sizeof detail, "%s", zeus_last_error());
        return zeus__error(rc, "%s: stage %d %s (%zu rows): %s", path, stage, name, n, detail);
    }
    return ZEUS_OK;
}

int zeus_pf_profile_load(const char *path, int num_stages, const zeus_pf_profile_options *options,
                         zeus_pf_spec **specs_out)
{
    zeus_pf_profile_options opts;
    zeus_pf_profile_options_init(&opts);
    if (options)
        memcpy(&opts, options, options->size < sizeof opts ? options->size : sizeof opts);
    opts.size = sizeof opts;
    if (!path || !specs_out || num_stages < 1)
        return zeus__error(ZEUS_EINVAL, "zeus_pf_profile_load: a path, stages >= 1 and an output");
    if (!(opts.unit_time_s > 0) || !isfinite(opts.unit_time_s))
        return zeus__error(ZEUS_EINVAL, "unit time must be a positive number of seconds");
    *specs_out = NULL;
    zeus_csv csv;
    int rc = zeus__csv_open(&csv, path);
    if (rc < 0)
        return rc;
    profile_row *rows = NULL;
    size_t n_rows = 0, cap = 0;
    zeus_pf_spec *specs = NULL;
    zeus_pf_option *work = NULL;
    profile_cols col;
    if ((rc = zeus__csv_column(&csv, "stage", &col.stage)) < 0 ||
        (rc = zeus__csv_column(&csv, "instruction", &col.inst)) < 0 ||
        (rc = zeus__csv_column(&csv, "frequency", &col.freq)) < 0 ||
        (rc = zeus__csv_column(&csv, "time", &col.time)) < 0 ||
        (rc = zeus__csv_column(&csv, "energy", &col.energy)) < 0)
        goto fail;
    for (;;) {
        bool eof = false;
        if ((rc = zeus__csv_next(&csv, &eof)) < 0)
            goto fail;
        if (eof)
            break;
        profile_row row;
        if ((rc = read_profile_row(&csv, &col, path, &opts, &row)) < 0)
            goto fail;
        if ((rc = zeus__array_reserve((void **)&rows, &cap, n_rows, sizeof *rows, 64)) < 0)
            goto fail;
        rows[n_rows++] = row;
    }
    specs = calloc((size_t)num_stages * 2, sizeof *specs);
    work = calloc(n_rows ? n_rows : 1, sizeof *work);
    if (!specs || !work) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory reading %s", path);
        goto fail;
    }
    for (int stage = 0; stage < num_stages; stage++)
        for (int k = 0; k < 2; k++)
            if ((rc = build_spec(rows, n_rows, work, stage, k, &opts, path,
                                 &specs[stage * 2 + k])) < 0)
                goto fail;
    free(rows);
    free(work);
    zeus__csv_close(&csv);
    *specs_out = specs;
    return 0;
fail:
    free(rows);
    free(work);
    zeus_pf_specs_free(specs, num_stages);
    zeus__csv_close(&csv);
    return rc;
}

int zeus_pf_cost_models_load(const char *path, int num_stages, zeus_pf_spec *specs)
{
    if (!path || !specs || num_stages < 1)
        return zeus__error(ZEUS_EINVAL, "zeus_pf_cost_models_load: a path, stages and specs");
    zeus_csv csv;
    int rc = zeus__csv_open(&csv, path);
    if (rc < 0)
        return rc;
    char *seen = calloc((size_t)num_stages * 2, 1);
    size_t col_stage, col_inst, col_a, col_b, col_c;
    if (!seen) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory reading %s", path);
        goto done;
    }
    if ((rc = zeus__csv_column(&csv, "stage", &col_stage)) < 0 ||
        (rc = zeus__csv_column(&csv, "instruction", &col_inst)) < 0 ||
        (rc = zeus__csv_column(&csv, "a", &col_a)) < 0 ||
        (rc = zeus__csv_column(&csv, "b", &col_b)) < 0 ||
        (rc = zeus__csv_column(&csv, "c", &col_c)) < 0)
        goto done;
    for (;;) {
        bool eof = false, missing = false;
        if ((rc = zeus__csv_next(&csv, &eof)) < 0 || eof)
            break;
        long stage;
        const char *inst;
        zeus_pf_cost_model m;
        if ((rc = zeus__csv_int(&csv, col_stage, 0, num_stages - 1, &stage)) < 0 ||
            (rc = zeus__csv_text(&csv, col_inst, &inst)) < 0)
            break;
        int k = strcmp(inst, "forward") == 0 ? 0 : strcmp(inst, "backward") == 0 ? 1 : -1;
        if (k < 0) {
            rc = zeus__error(ZEUS_EPARSE,
                             "%s:%d: instruction '%s' is neither 'forward' nor 'backward'", path,
                             csv.line, inst);
            break;
        }
        if ((rc = zeus__csv_double(&csv, col_a, &m.a, &missing)) < 0 || missing ||
            (rc = zeus__csv_double(&csv, col_b, &m.b, &missing)) < 0 || missing ||
            (rc = zeus__csv_double(&csv, col_c, &m.c, &missing)) < 0 || missing || !isfinite(m.a) ||
            !isfinite(m.b) || !isfinite(m.c)) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: a, b and c must be finite numbers", path,
                             csv.line);
            break;
        }
        if (seen[stage * 2 + k]) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: stage %ld %s appears twice", path, csv.line,
                             stage, inst);
            break;
        }
        seen[stage * 2 + k] = 1;
        specs[stage * 2 + k].model = m;
    }
    for (int i = 0; rc == 0 && i < 2 * num_stages; i++)
        if (!seen[i])
            rc = zeus__error(ZEUS_EINVAL, "%s: no model for stage %d %s", path, i / 2,
                             zeus_pf_instruction_name((zeus_pf_instruction)(i % 2)));
done:
    free(seen);
    zeus__csv_close(&csv);
    return rc;
}
