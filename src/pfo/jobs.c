/* The job manager of the pipeline frequency server (spec 3.4 of pipeline-frequency-api.md): jobs
 * in memory, the long-poll barrier on GET /schedule, results, dumps, idle eviction. The
 * original's per-job asyncio task becomes advance(), run under the lock whenever a rank
 * registers, asks or reports. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pfo.h"
#include "zeus/output.h"

typedef struct {
    long rank, dp, pp, tp;
    cJSON *json; /* as dumped */
} rank_info;

typedef struct job {
    char id[1024];
    long pp, dp, tp, world;
    rank_info *ranks;
    size_t nranks;
    bool built, failed;
    int err_status;
    char *err_detail;
    pfo_plan *plans; /* per global rank */
    size_t nplans;
    long *requests; /* queued schedule requests (ranks), FIFO */
    size_t nrequests;
    cJSON **results; /* waiting ProfilingResults */
    size_t nresults;
    char **responses; /* per rank: the schedule JSON waiting to be taken */
    bool awaiting_results;
    long round;
    double last_active;
    bool evicted;
    int inside; /* handlers waiting on this job */
    /* Online: profiling (a clock per round), the clocks, and the profile's CSV so far */
    bool profiling;
    int freqs[PFO_ONLINE_MAX_FREQS];
    size_t nfreqs;
    char *csv;
    struct job *next;
} job;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static job *g_jobs;
static pfo_settings g_settings;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pfo_jobs_init(const pfo_settings *settings)
{
    g_settings = *settings;
}

static void reply(pfo_reply *out, int status, char *body)
{
    out->status = status;
    out->body = body;
    out->plain = false;
}

static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* FastAPI's 422 body (pydantic v1 error list) for one field. */
static void invalid(pfo_reply *out, const char *where, const char *field, const char *msg,
                    const char *type)
{
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "detail");
    cJSON *e = cJSON_CreateObject(), *loc = cJSON_AddArrayToObject(e, "loc");
    cJSON_AddItemToArray(loc, cJSON_CreateString(where));
    if (field)
        cJSON_AddItemToArray(loc, cJSON_CreateString(field));
    cJSON_AddStringToObject(e, "msg", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddItemToArray(list, e);
    reply(out, 422, cJSON_PrintUnformatted(root));
    cJSON_Delete(root);
}

/* Unknown job: the original's dict lookup raises KeyError, which FastAPI answers with a plain
 * 500 "Internal Server Error". */
static void unknown_job(pfo_reply *out)
{
    out->status = 500;
    out->body = dupf("Internal Server Error");
    out->plain = true;
}

/* An int field as pydantic v1 coerces it (numbers truncate, numeric strings parse). Returns
 * false after writing a 422. */
static bool get_int(const cJSON *obj, const char *name, bool required, long dflt, long min,
                    long *out, pfo_reply *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v)) {
        if (required && !v) {
            invalid(err, "body", name, "field required", "value_error.missing");
            return false;
        }
        if (!v) {
            *out = dflt;
            return true;
        }
    }
    char *end = NULL;
    if (cJSON_IsNumber(v))
        *out = (long)v->valuedouble;
    else if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (cJSON_IsString(v) &&
             (*out = strtol(v->valuestring, &end, 10), end && !*end && end != v->valuestring))
        ;
    else {
        invalid(err, "body", name, "value is not a valid integer", "type_error.integer");
        return false;
    }
    if (*out < min) {
        char msg[80];
        snprintf(msg, sizeof msg, "ensure this value is greater than or equal to %ld", min);
        invalid(err, "body", name, msg, "value_error.number.not_ge");
        return false;
    }
    return true;
}

static cJSON *parse_object(const char *body, pfo_reply *out)
{
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        invalid(out, "body", NULL, "value is not a valid dict", "type_error.dict");
        return NULL;
    }
    return j;
}

static job *find(const char *id)
{
    for (job *j = g_jobs; j; j = j->next)
        if (!j->evicted && strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

static void free_job(job *j)
{
    for (size_t i = 0; i < j->nranks; i++)
        cJSON_Delete(j->ranks[i].json);
    for (size_t i = 0; i < j->nresults; i++)
        cJSON_Delete(j->results[i]);
    if (j->responses)
        for (long i = 0; i < j->world; i++)
            free(j->responses[i]);
    free(j->responses);
    free(j->results);
    free(j->csv);
    free(j->requests);
    free(j->ranks);
    free(j->err_detail);
    pfo_plans_free(j->plans, j->nplans);
    free(j);
}

void pfo_jobs_shutdown(void)
{
    pthread_mutex_lock(&g_lock);
    for (job *j = g_jobs; j; j = j->next)
        j->evicted = true;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

void pfo_register_job(const char *body, pfo_reply *out)
{
    cJSON *o = parse_object(body, out);
    if (!o)
        return;
    long pp, dp, tp, world;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "job_id");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "job_metadata");
    if (id && !cJSON_IsNull(id) && !cJSON_IsString(id)) {
        invalid(out, "body", "job_id", "str type expected", "type_error.str");
        goto done;
    }
    if (id && cJSON_IsString(id) && id->valuestring[0]) {
        invalid(out, "body", "job_id", "job_id should be empty for job registration",
                "value_error");
        goto done;
    }
    if (!get_int(o, "pp_degree", true, 0, 1, &pp, out) ||
        !get_int(o, "dp_degree", true, 0, 1, &dp, out) ||
        !get_int(o, "tp_degree", true, 0, 1, &tp, out) ||
        !get_int(o, "world_size", true, 0, 1, &world, out))
        goto done;
    if (meta && !cJSON_IsNull(meta) && !cJSON_IsString(meta)) {
        invalid(out, "body", "job_metadata", "str type expected", "type_error.str");
        goto done;
    }
    if (dp * tp * pp != world) {
        invalid(out, "body", "__root__", "world_size != dp_degree * tp_degree * pp_degree",
                "value_error");
        goto done;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        reply(out, 500, dupf("{\"detail\":\"out of memory\"}"));
        goto done;
    }
    char stamp[64];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d-%H-%M-%S", &tm);
    const char *m = meta && cJSON_IsString(meta) ? meta->valuestring : "";
    snprintf(j->id, sizeof j->id, "%s+dp%ld+pp%ld+tp%ld+%s%s%s", stamp, dp, pp, tp,
             g_settings.scheduler, *m ? "+" : "", m);
    j->pp = pp, j->dp = dp, j->tp = tp, j->world = world;
    j->responses = calloc((size_t)world, sizeof *j->responses);
    j->last_active = now_s();
    pthread_mutex_lock(&g_lock);
    /* The original keeps jobs in a dict: a second job registered in the same second with the
     * same shape replaces the first. */
    job *old = find(j->id);
    if (old) {
        old->evicted = true;
        pthread_cond_broadcast(&g_cond);
    }
    j->next = g_jobs;
    g_jobs = j;
    pthread_mutex_unlock(&g_lock);
    cJSON *s = cJSON_CreateString(j->id);
    reply(out, 200, cJSON_PrintUnformatted(s));
    cJSON_Delete(s);
done:
    cJSON_Delete(o);
}

static void dump(const job *j, const char *name, cJSON *doc)
{
    if (!g_settings.dump_data)
        return;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", g_settings.dump_dir, j->id);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0777);
            *p = '/';
        }
    mkdir(path, 0777);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", name);
    char *text = cJSON_PrintUnformatted(doc);
    if (text && zeus_write_file(path, text, strlen(text)) < 0)
        fprintf(stderr, "zeus-pfo: cannot write %s: %s\n", path, zeus_last_error());
    free(text);
}

static void set_error(job *j, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->failed = true;
    j->err_status = status;
    free(j->err_detail);
    j->err_detail = dupf("%s", msg);
    fprintf(stderr, "zeus-pfo: job %s: %s\n", j->id, msg);
}

static int by_rank(const void *a, const void *b)
{
    long x = ((const rank_info *)a)->rank, y = ((const rank_info *)b)->rank;
    return (x > y) - (x < y);
}

/* Online: every rank's plan for the profiling round at clock mhz. */
static bool online_plans(job *j, int mhz)
{
    char err[1024];
    pfo_plans_free(j->plans, j->nplans);
    j->plans = calloc((size_t)j->world, sizeof *j->plans);
    j->nplans = j->plans ? (size_t)j->world : 0;
    for (size_t i = 0; i < j->nranks && j->plans; i++)
        if (pfo_online_profiling_plan(j->pp, g_settings.online_mbs, j->ranks[i].pp, mhz,
                                      &j->plans[j->ranks[i].rank], err, sizeof err) < 0) {
            set_error(j, 400, "ValueError: %s", err);
            return false;
        }
    return j->plans != NULL;
}

/* Online: the clocks to profile (given, or every clock all ranks support above the minimum,
 * highest first), then the first round. Pure pipelines only. */
static void online_start(job *j)
{
    if (j->world != j->pp) {
        set_error(j, 400, "ValueError: Online profiles pure pipelines (dp_degree and tp_degree 1)");
        return;
    }
    for (size_t i = 0; i < j->nranks; i++)
        if (j->ranks[i].rank != j->ranks[i].pp || j->ranks[i].rank >= j->world) {
            set_error(j, 400, "ValueError: Online: rank %ld has pp_rank %ld", j->ranks[i].rank,
                      j->ranks[i].pp);
            return;
        }
    j->nfreqs = g_settings.online_nfreqs;
    memcpy(j->freqs, g_settings.online_freqs, sizeof j->freqs);
    if (!j->nfreqs) {
        const cJSON *f, *mine = cJSON_GetObjectItem(j->ranks[0].json, "available_frequencies");
        cJSON_ArrayForEach(f, mine)
        {
            bool all = f->valuedouble >= (double)g_settings.online_min_mhz;
            for (size_t i = 1; all && i < j->nranks; i++) {
                const cJSON *g,
                    *theirs = cJSON_GetObjectItem(j->ranks[i].json, "available_frequencies");
                bool has = false;
                cJSON_ArrayForEach(g, theirs) has |= g->valuedouble == f->valuedouble;
                all = has;
            }
            if (all && j->nfreqs < PFO_ONLINE_MAX_FREQS)
                j->freqs[j->nfreqs++] = (int)f->valuedouble;
        }
    }
    if (!j->nfreqs) {
        set_error(j, 400, "ValueError: Online: no clock that every rank supports to profile");
        return;
    }
    for (size_t a = 1; a < j->nfreqs; a++) /* highest first */
        for (size_t b = a; b > 0 && j->freqs[b] > j->freqs[b - 1]; b--) {
            int t = j->freqs[b];
            j->freqs[b] = j->freqs[b - 1];
            j->freqs[b - 1] = t;
        }
    j->csv = dupf("stage,instruction,frequency,time,energy\n");
    j->profiling = j->csv && online_plans(j, j->freqs[0]);
}

/* The mean of a ProfilingResult breakdown's numbers (a list of lists), or -1 if it has none. */
static double breakdown_mean(const cJSON *result, const char *map, const char *inst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(result, map),
                                                      inst),
                *it, *x;
    double sum = 0;
    long n = 0;
    cJSON_ArrayForEach(it, v) cJSON_ArrayForEach(x, it) sum += x->valuedouble, n++;
    return n ? sum / (double)n : -1;
}

/* Online: a round's results (sorted by rank) become profile rows; then the next clock, or the
 * solve and the plan the ranks keep. */
static void online_observe(job *j, const cJSON *results)
{
    int mhz = j->freqs[j->round];
    const cJSON *r;
    cJSON_ArrayForEach(r, results)
    {
        long rank = (long)cJSON_GetObjectItemCaseSensitive(r, "rank")->valuedouble;
        for (int i = 0; i < 2; i++) {
            const char *inst = i ? "backward" : "forward";
            double t = breakdown_mean(r, "time_breakdown", inst);
            double e = breakdown_mean(r, "energy_breakdown", inst);
            if (t < 0 || e < 0) {
                set_error(j, 400, "ValueError: Online: rank %ld reported no %s %s", rank, inst,
                          t < 0 ? "times" : "energies");
                return;
            }
            char *row = dupf("%s%ld,%s,%d,%.17g,%.17g\n", j->csv, rank, inst, mhz, t, e);
            free(j->csv);
            j->csv = row;
        }
    }
    if ((size_t)j->round + 1 < j->nfreqs) {
        online_plans(j, j->freqs[j->round + 1]);
        return;
    }
    cJSON *csv = cJSON_CreateString(j->csv);
    dump(j, "profile.json", csv); /* the CSV the solve read, as a JSON string */
    cJSON_Delete(csv);
    char err[4096];
    pfo_plan *plans = calloc((size_t)j->world, sizeof *plans);
    if (!plans || pfo_online_solve(j->csv, j->pp, g_settings.online_mbs, &g_settings, plans, err,
                                   sizeof err) < 0) {
        set_error(j, 500, "RuntimeError: %s", plans ? err : "out of memory");
        pfo_plans_free(plans, plans ? (size_t)j->world : 0);
        return;
    }
    pfo_plans_free(j->plans, j->nplans);
    j->plans = plans;
    j->nplans = (size_t)j->world;
    j->profiling = false;
}

/* The scheduler (PointSolution or its 3D wrapper) from the ranks and the solution file. */
static void build(job *j)
{
    j->built = true;
    qsort(j->ranks, j->nranks, sizeof *j->ranks, by_rank);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < j->nranks; i++)
        cJSON_AddItemToArray(arr, cJSON_Duplicate(j->ranks[i].json, true));
    dump(j, "ranks.json", arr);
    cJSON_Delete(arr);
    if (strcmp(g_settings.scheduler, "Online") == 0) {
        online_start(j);
        return;
    }
    char err[4096];
    pfo_plan *plans = NULL;
    size_t n = 0;
    if (pfo_solution_load(g_settings.solution_path, &plans, &n, err, sizeof err) < 0) {
        set_error(j, 500, "RuntimeError: %s", err);
        return;
    }
    bool three_d = strcmp(g_settings.scheduler, "PointSolution3D") == 0;
    /* 3D: the wrapped policy sees a pure pipeline (world size = pp degree) and the ranks of dp
     * and tp rank 0 renumbered by stage (the original passes the full list: a defect). */
    long want = three_d ? j->pp : j->world;
    if ((long)n != want) {
        set_error(j, 500,
                  "RuntimeError: solution_path %s has %zu schedules for a world size of %ld",
                  g_settings.solution_path, n, want);
        pfo_plans_free(plans, n);
        return;
    }
    j->plans = calloc((size_t)j->world, sizeof *j->plans);
    j->nplans = (size_t)j->world;
    for (long r = 0; r < j->world && j->plans; r++) {
        long src = r;
        if (three_d) {
            src = -1;
            for (size_t i = 0; i < j->nranks; i++)
                if (j->ranks[i].rank == r)
                    src = j->ranks[i].pp;
            if (src < 0 || src >= (long)n) {
                set_error(j, 500, "IndexError: no registered rank %ld with a stage in 0..%zu", r,
                          n - 1);
                break;
            }
        }
        pfo_plan *p = &j->plans[r];
        p->n = plans[src].n;
        p->names = malloc(p->n * sizeof p->names[0] + 1);
        p->freqs = malloc(p->n * sizeof *p->freqs + 1);
        if (p->names && p->freqs) {
            memcpy(p->names, plans[src].names, p->n * sizeof p->names[0]);
            memcpy(p->freqs, plans[src].freqs, p->n * sizeof *p->freqs);
        }
    }
    pfo_plans_free(plans, n);
}

static cJSON *schedule_json(const job *j, long rank)
{
    cJSON *o = cJSON_CreateObject(), *f;
    cJSON_AddNumberToObject(o, "rank", (double)rank);
    if (j->profiling) /* ours (Online): measure this iteration and POST /result */
        cJSON_AddTrueToObject(o, "profiling");
    f = cJSON_AddArrayToObject(o, "frequencies");
    const pfo_plan *p = &j->plans[rank];
    for (size_t i = 0; i < p->n; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(p->names[i]));
        cJSON_AddItemToArray(pair, cJSON_CreateNumber(p->freqs[i]));
        cJSON_AddItemToArray(f, pair);
    }
    return o;
}

static int by_result_rank(const void *a, const void *b)
{
    const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
    double rx = cJSON_GetObjectItemCaseSensitive(x, "rank")->valuedouble;
    double ry = cJSON_GetObjectItemCaseSensitive(y, "rank")->valuedouble;
    return (rx > ry) - (rx < ry);
}

static void advance(job *j);

/* A registration or result accepted: the job is active, its task may move on, the lock is
 * dropped and the answer is null. */
static void accepted(job *j, pfo_reply *out)
{
    j->last_active = now_s();
    advance(j);
    pthread_mutex_unlock(&g_lock);
    reply(out, 200, dupf("null"));
}

/* The original's job task, one step at a time (under the lock). */
static void advance(job *j)
{
    for (;;) {
        if (j->failed || j->evicted)
            return;
        if (!j->built) {
            if ((long)j->nranks != j->world)
                return;
            build(j);
            continue;
        }
        if (!j->awaiting_results) {
            if ((long)j->nrequests < j->world)
                return;
            /* world_size requests, whoever asked: each schedule goes to its rank's slot */
            memmove(j->requests, j->requests + j->world,
                    (j->nrequests - (size_t)j->world) * sizeof *j->requests);
            j->nrequests -= (size_t)j->world;
            for (long r = 0; r < j->world; r++) {
                cJSON *s = schedule_json(j, r);
                free(j->responses[r]);
                j->responses[r] = cJSON_PrintUnformatted(s);
                cJSON_Delete(s);
            }
            j->awaiting_results = true;
            pthread_cond_broadcast(&g_cond);
            continue;
        }
        if ((long)j->nresults < j->world)
            return;
        qsort(j->results, (size_t)j->world, sizeof *j->results, by_result_rank);
        cJSON *prof = cJSON_CreateArray(), *sched = cJSON_CreateArray();
        for (long r = 0; r < j->world; r++) {
            cJSON_AddItemToArray(prof, j->results[r]);
            cJSON_AddItemToArray(sched, schedule_json(j, r));
        }
        memmove(j->results, j->results + j->world,
                (j->nresults - (size_t)j->world) * sizeof *j->results);
        j->nresults -= (size_t)j->world;
        char name[64];
        snprintf(name, sizeof name, "%ld.prof.json", j->round);
        dump(j, name, prof);
        snprintf(name, sizeof name, "%ld.sched.json", j->round);
        dump(j, name, sched);
        if (j->profiling)
            online_observe(j, prof);
        cJSON_Delete(prof);
        cJSON_Delete(sched);
        /* PointSolution's generator has ended: observe keeps serving the same plan. */
        j->round++;
        j->awaiting_results = false;
    }
}

void pfo_register_rank(const char *job_id, const char *body, pfo_reply *out)
{
    cJSON *o = parse_object(body, out);
    if (!o)
        return;
    rank_info ri;
    if (!get_int(o, "rank", true, 0, 0, &ri.rank, out) ||
        !get_int(o, "dp_rank", true, 0, 0, &ri.dp, out) ||
        !get_int(o, "pp_rank", true, 0, 0, &ri.pp, out) ||
        !get_int(o, "tp_rank", true, 0, 0, &ri.tp, out))
        goto done;
    const cJSON *freqs = cJSON_GetObjectItemCaseSensitive(o, "available_frequencies"), *f;
    if (!freqs) {
        invalid(out, "body", "available_frequencies", "field required", "value_error.missing");
        goto done;
    }
    if (!cJSON_IsArray(freqs)) {
        invalid(out, "body", "available_frequencies", "value is not a valid list",
                "type_error.list");
        goto done;
    }
    ri.json = cJSON_CreateObject();
    cJSON_AddNumberToObject(ri.json, "rank", (double)ri.rank);
    cJSON_AddNumberToObject(ri.json, "dp_rank", (double)ri.dp);
    cJSON_AddNumberToObject(ri.json, "pp_rank", (double)ri.pp);
    cJSON_AddNumberToObject(ri.json, "tp_rank", (double)ri.tp);
    cJSON *list = cJSON_AddArrayToObject(ri.json, "available_frequencies");
    cJSON_ArrayForEach(f, freqs)
    {
        if (!cJSON_IsNumber(f)) {
            cJSON_Delete(ri.json);
            invalid(out, "body", "available_frequencies", "value is not a valid integer",
                    "type_error.integer");
            goto done;
        }
        cJSON_AddItemToArray(list, cJSON_CreateNumber((double)(long)f->valuedouble));
    }
    pthread_mutex_lock(&g_lock);
    job *j = find(job_id);
    rank_info *grown = j ? realloc(j->ranks, (j->nranks + 1) * sizeof *j->ranks) : NULL;
    if (!j || !grown) {
        pthread_mutex_unlock(&g_lock);
        cJSON_Delete(ri.json);
        unknown_job(out);
        goto done;
    }
    j->ranks = grown;
    j->ranks[j->nranks++] = ri; /* no deduplication or range check, as the original */
    accepted(j, out);
done:
    cJSON_Delete(o);
}

void pfo_get_schedule(const char *job_id, const char *rank_text, pfo_reply *out)
{
    if (!rank_text) {
        invalid(out, "query", "rank", "field required", "value_error.missing");
        return;
    }
    char *end;
    errno = 0;
    long rank = strtol(rank_text, &end, 10);
    if (end == rank_text || *end || errno) {
        invalid(out, "query", "rank", "value is not a valid integer", "type_error.integer");
        return;
    }
    pthread_mutex_lock(&g_lock);
    job *j = find(job_id);
    if (!j) {
        pthread_mutex_unlock(&g_lock);
        unknown_job(out);
        return;
    }
    if (rank < 0 ||
        rank >= j->world) { /* the original waits for ever on a queue that is never filled */
        pthread_mutex_unlock(&g_lock);
        reply(out, 400,
              dupf("{\"detail\":\"ValueError: rank %ld is not in 0..%ld\"}", rank, j->world - 1));
        return;
    }
    long *grown = realloc(j->requests, (j->nrequests + 1) * sizeof *grown);
    if (grown) {
        j->requests = grown;
        j->requests[j->nrequests++] = rank;
    }
    advance(j);
    j->inside++;
    while (!j->failed && !j->evicted && !j->responses[rank])
        pthread_cond_wait(&g_cond, &g_lock);
    j->inside--;
    if (j->responses[rank]) {
        reply(out, 200, j->responses[rank]);
        j->responses[rank] = NULL;
        j->last_active = now_s();
    } else if (j->failed) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "detail", j->err_detail);
        reply(out, j->err_status, cJSON_PrintUnformatted(d));
        cJSON_Delete(d);
    } else {
        unknown_job(out); /* evicted while waiting */
    }
    pthread_mutex_unlock(&g_lock);
}

static bool float_list(const cJSON *v, int depth)
{
    if (!cJSON_IsArray(v))
        return false;
    const cJSON *x;
    cJSON_ArrayForEach(x, v)
    {
        if (depth > 1 ? !float_list(x, depth - 1) : !cJSON_IsNumber(x))
            return false;
    }
    return true;
}

void pfo_post_result(const char *job_id, const char *body, pfo_reply *out)
{
    cJSON *o = parse_object(body, out);
    if (!o)
        return;
    long rank;
    if (!get_int(o, "rank", true, 0, 0, &rank, out))
        goto done;
    static const char *const lists[] = {"iter_time", "iter_energy"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, lists[i]);
        if (!v || !float_list(v, 1)) {
            invalid(out, "body", lists[i], v ? "value is not a valid list" : "field required",
                    v ? "type_error.list" : "value_error.missing");
            goto done;
        }
    }
    static const char *const maps[] = {"time_breakdown", "energy_breakdown"};
    cJSON *clean = cJSON_CreateObject();
    cJSON_AddNumberToObject(clean, "rank", (double)rank);
    for (int i = 0; i < 2; i++)
        cJSON_AddItemToObject(clean, lists[i],
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, lists[i]), 1));
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, maps[i]), *k;
        if (v && !cJSON_IsObject(v)) {
            cJSON_Delete(clean);
            invalid(out, "body", maps[i], "value is not a valid dict", "type_error.dict");
            goto done;
        }
        cJSON_ArrayForEach(k, v)
        {
            if (!float_list(k, 2)) {
                cJSON_Delete(clean);
                invalid(out, "body", maps[i], "value is not a valid list", "type_error.list");
                goto done;
            }
        }
        cJSON_AddItemToObject(clean, maps[i], v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
    }
    pthread_mutex_lock(&g_lock);
    job *j = find(job_id);
    if (!j || (long)j->nresults >= j->world) { /* unknown job, or asyncio.QueueFull */
        pthread_mutex_unlock(&g_lock);
        cJSON_Delete(clean);
        unknown_job(out);
        goto done;
    }
    cJSON **grown = realloc(j->results, (j->nresults + 1) * sizeof *grown);
    if (!grown) {
        pthread_mutex_unlock(&g_lock);
        cJSON_Delete(clean);
        unknown_job(out);
        goto done;
    }
    j->results = grown;
    j->results[j->nresults++] = clean;
    accepted(j, out);
done:
    cJSON_Delete(o);
}

void pfo_evict_idle(void)
{
    pthread_mutex_lock(&g_lock);
    double t = now_s();
    for (job **p = &g_jobs; *p;) {
        job *j = *p;
        if (!j->evicted && t - j->last_active > (double)g_settings.max_job_idle_time_s) {
            fprintf(stderr, "zeus-pfo: evicting job %s (idle %.0f s)\n", j->id, t - j->last_active);
            j->evicted = true;
            pthread_cond_broadcast(&g_cond);
        }
        if (j->evicted && j->inside == 0) {
            *p = j->next;
            free_job(j);
        } else {
            p = &j->next;
        }
    }
    pthread_mutex_unlock(&g_lock);
}
