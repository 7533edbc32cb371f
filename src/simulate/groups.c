/* Alibaba-style job-group traces and run_alibaba.py's driver: per-dataset job defaults, the
 * per-group seed, and the groups simulated in parallel. */
#include "simulate/sim_internal.h"

#include "core/internal.h"
#include "core/array.h"
#include "core/csv.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* run_alibaba.py's get_job_with_defaults. */
static const struct {
    const char *dataset, *network, *optimizer;
    double target;
    int max_epochs, default_bs;
    double default_lr; /* NaN: None */
} alibaba_jobs[] = {
    {"cifar100", "shufflenetv2", "adadelta", 0.6, 100, 1024, 0.1},
    {"imagenet", "resnet50", "adadelta", 0.65, 100, 256, NAN},
    {"squad", "bert_base_uncased", "adamw", 84.0, 6, 32, NAN},
    {"librispeech", "deepspeech2", "adamw", 40.0, 16, 256, NAN},
    {"movielens-1m", "ncf", "adam", 0.41, 100, 1024, NAN},
    {"sentiment140", "bert_base_uncased", "adamw", 0.84, 10, 128, 4.00e-7},
};

static int alibaba_dataset(const char *dataset)
{
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(alibaba_jobs); i++)
        if (strcmp(alibaba_jobs[i].dataset, dataset) == 0)
            return (int)i;
    return -1;
}

int zeus_alibaba_job(const zeus_trace *trace, const char *dataset, zeus_job *job)
{
    int i = alibaba_dataset(dataset);
    if (i < 0)
        return zeus__error(ZEUS_ENOENT, "Unknown dataset %s.", dataset);
    /* GPUs differ in memory, so the largest batch size differs: cap the default with it. */
    int bmax;
    int rc = zeus_trace_max_batch_size(trace, dataset, &bmax);
    if (rc != ZEUS_OK)
        return rc;
    int b0 = alibaba_jobs[i].default_bs < bmax ? alibaba_jobs[i].default_bs : bmax;
    return zeus_job_init(job, alibaba_jobs[i].dataset, alibaba_jobs[i].network,
                         alibaba_jobs[i].optimizer, alibaba_jobs[i].target,
                         alibaba_jobs[i].max_epochs, b0, alibaba_jobs[i].default_lr);
}

uint64_t zeus_alibaba_seed(const char *group_id)
{
    /* zlib.adler32 */
    uint32_t a = 1, b = 0;
    for (const unsigned char *p = (const unsigned char *)group_id; *p; p++) {
        a = (a + *p) % 65521u;
        b = (b + a) % 65521u;
    }
    return ((uint64_t)b << 16) | a;
}

/* ---- group traces ------------------------------------------------------------------------- */

typedef struct {
    char *id, *dataset;
    zeus_group_job *rows;
    size_t n_rows, cap;
    int first_line;
} group_entry;

struct zeus_groups {
    group_entry *groups;
    size_t n;
};

void zeus_groups_destroy(zeus_groups *groups)
{
    if (!groups)
        return;
    for (size_t i = 0; i < groups->n; i++) {
        free(groups->groups[i].id);
        free(groups->groups[i].dataset);
        free(groups->groups[i].rows);
    }
    free(groups->groups);
    free(groups);
}

size_t zeus_groups_count(const zeus_groups *groups)
{
    return groups->n;
}

void zeus_groups_get(const zeus_groups *groups, size_t index, zeus_group *out)
{
    const group_entry *g = &groups->groups[index];
    *out = (zeus_group){g->id, g->dataset, g->rows, g->n_rows};
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(((const group_entry *)a)->id, ((const group_entry *)b)->id);
}

static group_entry *find_or_add_group(zeus_groups *gs, size_t *cap, const char *id,
                                      const char *dataset, int line)
{
    /* Rows of a group are usually contiguous: look at the last group first. */
    for (size_t i = gs->n; i-- > 0;)
        if (strcmp(gs->groups[i].id, id) == 0)
            return &gs->groups[i];
    if (zeus__array_reserve((void **)&gs->groups, cap, gs->n, sizeof *gs->groups, 64) != ZEUS_OK)
        return NULL;
    group_entry *g = &gs->groups[gs->n];
    memset(g, 0, sizeof *g);
    g->id = strdup(id);
    g->dataset = strdup(dataset);
    g->first_line = line;
    if (!g->id || !g->dataset) {
        free(g->id);
        free(g->dataset);
        return NULL;
    }
    gs->n++;
    return g;
}

int zeus_groups_load(const char *path, zeus_groups **out)
{
    if (!path || !out)
        return zeus__error(ZEUS_EINVAL, "groups: NULL argument");
    zeus_csv csv;
    int rc = zeus__csv_open(&csv, path);
    if (rc != ZEUS_OK)
        return rc;
    zeus_groups *gs = calloc(1, sizeof *gs);
    size_t cap = 0, col[5];
    static const char *const names[] = {"group", "start_time", "end_time", "dataset",
                                        "runtime_ratio"};
    if (!gs) {
        rc = zeus__error(ZEUS_ENOMEM, "groups: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < 5; i++)
        if ((rc = zeus__csv_column(&csv, names[i], &col[i])) != ZEUS_OK)
            goto fail;
    for (;;) {
        bool eof, missing;
        const char *id, *dataset;
        zeus_group_job row;
        if ((rc = zeus__csv_next(&csv, &eof)) != ZEUS_OK)
            goto fail;
        if (eof)
            break;
        if ((rc = zeus__csv_text(&csv, col[0], &id)) ||
            (rc = zeus__csv_number(&csv, col[1], true, &row.start_time, &missing)) ||
            (rc = zeus__csv_number(&csv, col[2], true, &row.end_time, &missing)) ||
            (rc = zeus__csv_text(&csv, col[3], &dataset)) ||
            (rc = zeus__csv_number(&csv, col[4], true, &row.runtime_ratio, &missing)))
            goto fail;
        if (alibaba_dataset(dataset) < 0) {
            rc = zeus__error(ZEUS_EPARSE,
                             "%s:%d: unknown dataset '%s' (expected cifar100, "
                             "imagenet, squad, librispeech, movielens-1m or "
                             "sentiment140)",
                             path, csv.line, dataset);
            goto fail;
        }
        if (row.end_time < row.start_time || row.runtime_ratio <= 0) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: %s", path, csv.line,
                             row.runtime_ratio <= 0 ? "runtime_ratio is not positive"
                                                    : "end_time is before start_time");
            goto fail;
        }
        group_entry *g = find_or_add_group(gs, &cap, id, dataset, csv.line);
        if (!g) {
            rc = zeus__error(ZEUS_ENOMEM, "groups: out of memory");
            goto fail;
        }
        if (strcmp(g->dataset, dataset) != 0) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: group %s mixes datasets %s (line %d) and %s",
                             path, csv.line, id, g->dataset, g->first_line, dataset);
            goto fail;
        }
        if ((rc = zeus__array_reserve((void **)&g->rows, &g->cap, g->n_rows, sizeof *g->rows,
                                      16)) != ZEUS_OK)
            goto fail;
        g->rows[g->n_rows++] = row;
    }
    if (gs->n == 0) {
        rc = zeus__error(ZEUS_EPARSE, "%s: no data rows", path);
        goto fail;
    }
    qsort(gs->groups, gs->n, sizeof *gs->groups, cmp_group); /* pandas groupby order */
    zeus__csv_close(&csv);
    *out = gs;
    return ZEUS_OK;
fail:
    zeus__csv_close(&csv);
    zeus_groups_destroy(gs);
    return rc;
}

/* ---- run_alibaba.py: every group, in parallel ----------------------------------------------- */

typedef struct {
    const zeus_trace *trace;
    const zeus_groups *groups;
    double eta, beta;
    int policy;
    zeus_group_result *results;
    atomic_size_t next;
} alibaba_run;

static void simulate_group(alibaba_run *run, size_t i)
{
    const group_entry *g = &run->groups->groups[i];
    zeus_group_result *res = &run->results[i];
    res->seed = zeus_alibaba_seed(g->id);
    int rc = zeus_alibaba_job(run->trace, g->dataset, &res->job);
    if (rc == ZEUS_OK) {
        zeus_sim_params p;
        zeus_sim_params_default(&p);
        p.eta_knob = run->eta;
        p.beta_knob = run->beta;
        p.seed = res->seed;
        p.bso.seed = res->seed;
        p.bso.concurrency = true;
        p.bso.policy = run->policy;
        rc = zeus_simulate_one_alibaba_group(run->trace, &res->job, g->rows, g->n_rows, &p,
                                             &res->history);
    }
    res->status = rc;
    if (rc != ZEUS_OK)
        zeus__strlcpy(res->error, zeus_last_error(), sizeof res->error);
}

static void *worker(void *arg)
{
    alibaba_run *run = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&run->next, 1);
        if (i >= run->groups->n)
            return NULL;
        simulate_group(run, i);
    }
}

int zeus_simulate_alibaba(const zeus_trace *trace, const zeus_groups *groups, double eta_knob,
                          double beta_knob, unsigned n_threads, zeus_group_result **results)
{
    return zeus_simulate_alibaba_policy(trace, groups, eta_knob, beta_knob,
                                        ZEUS_BSO_POLICY_PRUNING_GTS, n_threads, results);
}

int zeus_simulate_alibaba_policy(const zeus_trace *trace, const zeus_groups *groups,
                                 double eta_knob, double beta_knob, int policy, unsigned n_threads,
                                 zeus_group_result **results)
{
    if (!trace || !groups || !results)
        return zeus__error(ZEUS_EINVAL, "simulator: NULL argument");
    if (!zeus_bso_policy_name(policy))
        return zeus__error(ZEUS_EINVAL, "simulator: batch-size policy %d is not one of %s", policy,
                           "ZEUS_BSO_POLICY_PRUNING_GTS, _WALK_TS");
    alibaba_run run = {trace, groups, eta_knob, beta_knob, policy, NULL, 0};
    run.results = calloc(groups->n ? groups->n : 1, sizeof *run.results);
    if (!run.results)
        return zeus__error(ZEUS_ENOMEM, "simulator: out of memory");
    if (n_threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (n_threads > groups->n)
        n_threads = (unsigned)groups->n;
    pthread_t *threads = n_threads > 1 ? calloc(n_threads - 1, sizeof *threads) : NULL;
    size_t started = 0;
    for (; threads && started < n_threads - 1; started++)
        if (pthread_create(&threads[started], NULL, worker, &run) != 0)
            break; /* fewer threads; the caller's thread still runs every remaining group */
    worker(&run);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    *results = run.results;
    return ZEUS_OK;
}

void zeus_group_results_free(zeus_group_result *results, size_t n)
{
    if (!results)
        return;
    for (size_t i = 0; i < n; i++)
        zeus_sim_history_free(&results[i].history);
    free(results);
}
