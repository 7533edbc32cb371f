/* `zeus history [JOB] [--db PATH|URL] [--json] [--plot F.svg|F.png]`: the jobs in the store, or
 * one job's trials and what its bandit now believes (mean and spread of the cost per batch size,
 * the current best), and a chart of them (history_plot.c). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bso.h"
#include "bso_util.h"
#include "check.h"
#include "db.h"
#include "history.h"
#include "zeus/recurring.h"
#include "zeus/util.h"

static cJSON *num_or_null(const char *cell, bool integer)
{
    if (!cell)
        return cJSON_CreateNull();
    double v = integer ? (double)bso_atoll(cell) : bso_atof(cell);
    if (!isfinite(v))
        return cJSON_CreateString(cell);
    /* cJSON prints 15 digits when they are within an epsilon: write the exact shortest form */
    char buf[ZEUS_DOUBLE_BUF];
    return integer ? cJSON_CreateNumber(v)
                   : cJSON_CreateRaw(zeus_format_double(v, buf, sizeof buf));
}

/* Text from the store as a JSON string: a store written before the input checks may hold bytes
 * that are not UTF-8, which would make the whole output invalid JSON. */
static cJSON *text_or_null(const char *cell)
{
    char *fixed = cell ? bso_utf8_repair(cell) : NULL;
    cJSON *j = fixed ? cJSON_CreateString(fixed) : cJSON_CreateNull();
    free(fixed);
    return j;
}

/* Arms as {batch_size, mean_cost, cost_sd, observations}; beliefs about reward = -cost. */
static void add_arm(cJSON *arms, int bs, double mean_reward, double precision, double obs)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "batch_size", bs);
    cJSON_AddNumberToObject(a, "mean_cost", -mean_reward);
    double sd = isinf(precision) ? 0 : precision > 0 ? 1 / sqrt(precision) : INFINITY;
    if (isfinite(sd))
        cJSON_AddNumberToObject(a, "cost_sd", sd);
    else
        cJSON_AddStringToObject(a, "cost_sd", "inf");
    cJSON_AddNumberToObject(a, "observations", obs);
    cJSON_AddItemToArray(arms, a);
}

/* walk-ts (zeus run with a policy, or a service job's driver_state): its cost model per size. */
static void walk_beliefs(cJSON *b, cJSON *arms, const zeus_bso *bso)
{
    cJSON_AddStringToObject(b, "policy", zeus_bso_policy_name(zeus_bso_policy(bso)));
    cJSON_AddStringToObject(b, "stage", zeus_bso_in_pruning(bso) ? "Walk" : "Sampling");
    const int *sizes; /* walk-ts leaves the pruning explorer at every registered size */
    size_t n;
    zeus_pruning_batch_sizes(zeus_bso_pruning(bso), &sizes, &n);
    for (size_t i = 0; i < n; i++) {
        double cost, sd;
        const double *rewards;
        size_t runs = 0;
        zeus_bso_rewards(bso, sizes[i], &rewards, &runs);
        if (zeus_bso_estimate(bso, sizes[i], &cost, &sd) == ZEUS_OK)
            add_arm(arms, sizes[i], -cost, 1 / (sd * sd), (double)runs);
    }
}

static cJSON *beliefs(bso_db *db, const char *job_id, const char *kind, const char *state)
{
    cJSON *b = cJSON_CreateObject(), *arms = cJSON_AddArrayToObject(b, "arms");
    if (strcmp(kind, "run") == 0) {
        zeus_recurring *r = NULL;
        if (!state || zeus_recurring_load(state, &r) < 0) {
            cJSON_AddStringToObject(b, "stage", "unknown");
            return b;
        }
        const zeus_bso *bso = zeus_recurring_bso(r);
        const zeus_gts *mab = zeus_bso_mab(bso);
        if (zeus_bso_policy(bso) != ZEUS_BSO_POLICY_PRUNING_GTS) {
            walk_beliefs(b, arms, bso);
            cJSON_AddNumberToObject(b, "recurrences", (double)zeus_recurring_recurrences(r));
            zeus_recurring_destroy(r);
            goto best;
        }
        cJSON_AddStringToObject(b, "stage", mab ? "MAB" : "Pruning");
        cJSON_AddNumberToObject(b, "recurrences", (double)zeus_recurring_recurrences(r));
        for (size_t i = 0; mab && i < zeus_gts_arm_count(mab); i++) {
            zeus_gts_arm a;
            if (zeus_gts_get_arm(mab, i, &a) == 0)
                add_arm(arms, a.arm, a.mean, a.precision, (double)a.observations);
        }
        if (!mab) {
            const int *sizes;
            size_t n;
            zeus_pruning_batch_sizes(zeus_bso_pruning(bso), &sizes, &n);
            cJSON_AddItemToObject(b, "candidates", cJSON_CreateIntArray(sizes, (int)n));
        }
        zeus_recurring_destroy(r);
    } else if (state) { /* a service job with a policy of libzeus */
        zeus_bso *bso = NULL;
        if (zeus_bso_load(state, &bso) < 0) {
            cJSON_AddStringToObject(b, "stage", "unknown");
            return b;
        }
        walk_beliefs(b, arms, bso);
        zeus_bso_destroy(bso);
    } else {
        bso_rows r;
        bso_val p = BV_S(job_id);
        if (bso_db_exec(db,
                        "SELECT batch_size, param_mean, param_precision, num_observations FROM"
                        " arm WHERE job_id = $1 ORDER BY batch_size",
                        &p, 1, &r) == 0) {
            cJSON_AddStringToObject(b, "stage", r.nrows ? "MAB" : "Pruning");
            for (int i = 0; i < r.nrows; i++)
                add_arm(arms, (int)bso_atoll(bso_cell(&r, i, 0)), bso_atof(bso_cell(&r, i, 1)),
                        bso_atof(bso_cell(&r, i, 2)), (double)bso_atoll(bso_cell(&r, i, 3)));
            bso_rows_free(&r);
        }
    }
best: /* the current best: the lowest believed mean cost */
    cJSON *a, *best = NULL;
    cJSON_ArrayForEach(a, arms)
    {
        if (!best || cJSON_GetObjectItem(a, "mean_cost")->valuedouble <
                         cJSON_GetObjectItem(best, "mean_cost")->valuedouble)
            best = a;
    }
    if (best)
        cJSON_AddNumberToObject(b, "best_batch_size",
                                cJSON_GetObjectItem(best, "batch_size")->valuedouble);
    return b;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zeus history [JOB] [--db PATH|URL] [--json] [--plot F.svg|F.png]\n\n"
               "Without JOB: the jobs in the store. With JOB: its trials (time in s and h,\n"
               "energy in J and kWh, cost in J) and the bandit's current beliefs (mean and\n"
               "spread of the cost per batch size, the best).\n\n"
               "options:\n"
               "  --db PATH|URL  the store: a SQLite file or postgresql://... (default $ZEUS_DB,\n"
               "                 else <data dir>/zeus/history.db)\n"
               "  --json         print one JSON object instead of tables (default: tables)\n"
               "  --plot FILE    with JOB: draw the cost per trial with the early-stop threshold\n"
               "                 and the batch size over time, as .svg or .png (default: none)\n"
               "  -h, --help     show this help\n\n"
               "example:\n"
               "  zeus history mnist-nightly --db postgresql://zeus@db/zeus --plot mnist.svg\n");
}

static void cell_text(const char *s, char *buf, size_t size, int decimals)
{
    if (!s)
        snprintf(buf, size, "-");
    else if (decimals >= 0 && isfinite(bso_atof(s)))
        snprintf(buf, size, "%.*f", decimals, bso_atof(s));
    else
        snprintf(buf, size, "%s", s);
}

/* Every job: a table, or (json) an array in *out. 0 or -1 (a database error). */
static int list_jobs(bso_db *db, bool json, cJSON **out)
{
    bso_rows r = {0};
    if (bso_db_exec(db,
                    "SELECT j.job_id, j.kind, j.min_cost, (SELECT COUNT(*) FROM trial t WHERE"
                    " t.job_id = j.job_id) FROM job j ORDER BY j.created, j.job_id",
                    NULL, 0, &r) < 0)
        return -1;
    *out = cJSON_CreateArray();
    if (!json)
        printf("%-50s %-8s %8s %14s\n", "JOB", "KIND", "TRIALS", "MIN COST (J)");
    for (int i = 0; i < r.nrows; i++) {
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "job_id", text_or_null(bso_cell(&r, i, 0)));
            cJSON_AddItemToObject(o, "kind", text_or_null(bso_cell(&r, i, 1)));
            cJSON_AddItemToObject(o, "trials", num_or_null(bso_cell(&r, i, 3), true));
            cJSON_AddItemToObject(o, "min_cost", num_or_null(bso_cell(&r, i, 2), false));
            cJSON_AddItemToArray(*out, o);
        } else {
            char c[64];
            cell_text(bso_cell(&r, i, 2), c, sizeof c, 2);
            printf("%-50s %-8s %8s %14s\n", bso_cell(&r, i, 0), bso_cell(&r, i, 1),
                   bso_cell(&r, i, 3), c);
        }
    }
    bso_rows_free(&r);
    return 0;
}

/* The trial rows (the SELECT in bso_cmd_history) as objects in trials. */
static void add_trials(cJSON *trials, const bso_rows *t)
{
    const char *names[] = {"trial_number", "batch_size", "power_limit", "type",       "status",
                           "time",         "energy",     "cost",        "reached",    "exit_status",
                           "start",        "end",        "message",     "recurrence", "try_index"};
    for (int i = 0; i < t->nrows; i++) {
        cJSON *o = cJSON_CreateObject();
        for (int c = 0; c < 15; c++) {
            const char *v = bso_cell(t, i, c);
            if (c == 3 || c == 4 || c == 12)
                cJSON_AddItemToObject(o, names[c], text_or_null(v));
            else if (c == 8)
                cJSON_AddItemToObject(o, names[c],
                                      v ? cJSON_CreateBool(bso_atoll(v) != 0) : cJSON_CreateNull());
            else
                cJSON_AddItemToObject(o, names[c], num_or_null(v, c <= 2 || c == 9 || c >= 13));
        }
        cJSON_AddItemToArray(trials, o);
    }
}

/* A job's trials and its bandit's beliefs as text. */
static void print_job(const bso_rows *t, cJSON *b)
{
    printf("%5s %4s %6s %5s %-11s %-12s %10s %12s %12s %7s %4s\n", "TRIAL", "REC", "BS", "PL",
           "TYPE", "STATUS", "TIME (s)", "ENERGY (J)", "COST (J)", "REACHED", "EXIT");
    double time_s = 0, energy_j = 0;
    for (int i = 0; i < t->nrows; i++) {
        char c[6][64];
        cell_text(bso_cell(t, i, 2), c[0], 64, -1);
        cell_text(bso_cell(t, i, 5), c[1], 64, 2);
        cell_text(bso_cell(t, i, 6), c[2], 64, 2);
        cell_text(bso_cell(t, i, 7), c[3], 64, 2);
        cell_text(bso_cell(t, i, 9), c[4], 64, -1);
        cell_text(bso_cell(t, i, 13), c[5], 64, -1);
        const char *reached = bso_cell(t, i, 8);
        printf("%5s %4s %6s %5s %-11s %-12s %10s %12s %12s %7s %4s\n", bso_cell(t, i, 0), c[5],
               bso_cell(t, i, 1), c[0], bso_cell(t, i, 3), bso_cell(t, i, 4), c[1], c[2], c[3],
               reached ? (bso_atoll(reached) ? "yes" : "no") : "-", c[4]);
        if (bso_cell(t, i, 5) && isfinite(bso_atof(bso_cell(t, i, 5))))
            time_s += bso_atof(bso_cell(t, i, 5));
        if (bso_cell(t, i, 6) && isfinite(bso_atof(bso_cell(t, i, 6))))
            energy_j += bso_atof(bso_cell(t, i, 6));
    }
    printf("\ntotal: %d trials, %.2f s (%.4f h), %.2f J (%.6f kWh)\n", t->nrows, time_s,
           time_s / 3600.0, energy_j, energy_j / 3.6e6);
    cJSON *st = cJSON_GetObjectItem(b, "stage"), *a;
    printf("\nbandit: %s stage\n", st ? st->valuestring : "?");
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(b, "arms"))
    {
        cJSON *sd = cJSON_GetObjectItem(a, "cost_sd");
        char sdb[64];
        if (cJSON_IsNumber(sd))
            snprintf(sdb, sizeof sdb, "%.2f", sd->valuedouble);
        else
            snprintf(sdb, sizeof sdb, "inf");
        printf("  batch size %6d: cost %.2f J +- %s (%d observations)\n",
               (int)cJSON_GetObjectItem(a, "batch_size")->valuedouble,
               cJSON_GetObjectItem(a, "mean_cost")->valuedouble, sdb,
               (int)cJSON_GetObjectItem(a, "observations")->valuedouble);
    }
    cJSON *best = cJSON_GetObjectItem(b, "best_batch_size");
    if (best)
        printf("  best batch size: %d\n", (int)best->valuedouble);
}

/* --plot: the trials as the chart's rows. */
static int plot_trials(const char *path, bool png, const char *job, const bso_rows *t,
                       const char *beta)
{
    bso_history_trial *rows = calloc(t->nrows ? (size_t)t->nrows : 1, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "zeus history: error: out of memory\n");
        return -1;
    }
    for (int i = 0; i < t->nrows; i++) {
        const char *cost = bso_cell(t, i, 7), *start = bso_cell(t, i, 10);
        const char *reached = bso_cell(t, i, 8);
        rows[i] = (bso_history_trial){bso_atoll(bso_cell(t, i, 0)), bso_atoll(bso_cell(t, i, 1)),
                                      cost ? bso_atof(cost) : NAN, start ? bso_atof(start) : NAN,
                                      reached && bso_atoll(reached) != 0};
    }
    int rc = bso_history_plot(path, png, job, rows, (size_t)t->nrows, beta ? bso_atof(beta) : NAN);
    free(rows);
    return rc;
}

int bso_cmd_history(int argc, char **argv)
{
    const char *job = NULL, *dbarg = NULL, *plot = NULL;
    bool json = false, png = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            dbarg = argv[++i];
        else if (!strcmp(argv[i], "--plot") && i + 1 < argc)
            plot = argv[++i];
        else if (argv[i][0] != '-' && !job)
            job = argv[i];
        else {
            fprintf(stderr, "zeus history: error: bad argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (plot && !job) {
        fprintf(stderr, "zeus history: error: --plot %s: name the JOB to draw\n", plot);
        return 2;
    }
    if (plot && bso_history_plot_format(plot, &png) < 0)
        return 2;
    char url[4096], err[512];
    bso_db *db;
    if (bso_resolve_db(dbarg, url, sizeof url) < 0)
        return 1;
    if (bso_db_open(url, &db, err, sizeof err) < 0) {
        fprintf(stderr, "zeus history: error: database %s: %s\n", url, err);
        return 1;
    }
    int rc = 1;
    bso_rows r = {0}, t = {0};
    cJSON *out = NULL;
    if (!job) {
        if (list_jobs(db, json, &out) < 0)
            goto dbfail;
    } else {
        bso_val p = BV_S(job);
        if (bso_db_exec(db,
                        "SELECT kind, driver_state, min_cost, beta_knob FROM job WHERE job_id = $1",
                        &p, 1, &r) < 0)
            goto dbfail;
        if (r.nrows == 0) {
            fprintf(stderr, "zeus history: error: no job '%s' in %s\n", job, url);
            goto out;
        }
        if (bso_db_exec(db,
                        "SELECT trial_number, batch_size, power_limit, type, status, time, energy,"
                        " cost, converged, exit_status, start_timestamp, end_timestamp, message,"
                        " recurrence, try_index"
                        " FROM trial WHERE job_id = $1 ORDER BY trial_number",
                        &p, 1, &t) < 0)
            goto dbfail;
        if (plot && plot_trials(plot, png, job, &t, bso_cell(&r, 0, 3)) < 0)
            goto out;
        cJSON *b = beliefs(db, job, bso_cell(&r, 0, 0), bso_cell(&r, 0, 1));
        out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "job_id", text_or_null(job));
        cJSON_AddItemToObject(out, "kind", text_or_null(bso_cell(&r, 0, 0)));
        cJSON *trials = cJSON_AddArrayToObject(out, "trials");
        add_trials(trials, &t);
        cJSON_AddItemToObject(out, "bandit", b);
        if (!json)
            print_job(&t, b);
    }
    if (json) {
        char *s = cJSON_Print(out);
        printf("%s\n", s);
        free(s);
    }
    rc = 0;
    goto out;
dbfail:
    fprintf(stderr, "zeus history: error: database: %s\n", bso_db_error(db));
out:
    cJSON_Delete(out);
    bso_rows_free(&r);
    bso_rows_free(&t);
    bso_db_close(db);
    return rc;
}
