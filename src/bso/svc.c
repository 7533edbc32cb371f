/* The batch-size optimizer server's algorithm (docs/spec/bso-server-api.md sections 3 and 5),
 * with the original's defects fixed as docs/bso.md lists them. */
#include "svc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "zeus/cost.h"
#include "zeus/rng.h"
#include "zeus/util.h"

#define MAX_BS 256

double svc_stale_s = 86400;

/* A recorded trial: reported (converged or not). Failed (ended unreported) and Interrupted
 * trials take no part in the algorithm. */
#define RECORDED "('Succeeded','NotConverged')"

static void reply_json(svc_reply *out, int status, cJSON *j)
{
    out->status = status;
    out->body = j ? cJSON_PrintUnformatted(j) : strdup("null");
    cJSON_Delete(j);
}

static void reply_msg(svc_reply *out, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "message", msg);
    reply_json(out, status, j);
}

void svc_unavailable(const char *why, svc_reply *out)
{
    reply_msg(out, 503, "database unavailable: %s", why);
}

/* A database that is down, read-only or gone (the SQLite file deleted or replaced) is 503: the
 * client may retry later; any other database error is the server's fault, 500. */
static void reply_db(svc_reply *out, bso_db *db)
{
    if (bso_db_unavailable(db))
        svc_unavailable(bso_db_error(db), out);
    else
        reply_msg(out, 500, "%s", bso_db_error(db));
}

/* FastAPI / pydantic v1 validation errors: {"detail":[{"loc":[...],"msg":...,"type":...}]}. */
typedef struct verr {
    cJSON *detail;
} verr;

static void verr_add(verr *v, const char *where, const char *field, const char *msg,
                     const char *type)
{
    if (!v->detail)
        v->detail = cJSON_CreateArray();
    cJSON *e = cJSON_CreateObject(), *loc = cJSON_CreateArray();
    cJSON_AddItemToArray(loc, cJSON_CreateString(where));
    cJSON_AddItemToArray(loc, cJSON_CreateString(field));
    cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddItemToArray(v->detail, e);
}

static bool verr_reply(verr *v, svc_reply *out)
{
    if (!v->detail)
        return false;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "detail", v->detail);
    v->detail = NULL;
    reply_json(out, 422, j);
    return true;
}

void svc_422(const char *where, const char *field, const char *msg, const char *type,
             svc_reply *out)
{
    verr v = {0};
    verr_add(&v, where, field, msg, type);
    verr_reply(&v, out);
}

bool svc_check_query(const char *name, const char *value, size_t len, svc_reply *out)
{
    verr v = {0};
    const char *problem = value ? bso_text_problem(value, len) : NULL;
    char msg[128];
    if (!value)
        verr_add(&v, "query", name, "field required", "value_error.missing");
    else if (problem) {
        snprintf(msg, sizeof msg, "%s %s", name, problem);
        verr_add(&v, "query", name, msg, "value_error.str");
    }
    return !verr_reply(&v, out);
}

static cJSON *parse_body(const char *body, verr *v)
{
    if (body && bso_json_has_nul(body)) {
        verr_add(v, "body", "__root__", SVC_NUL_MSG, "value_error.str.nul");
        return NULL;
    }
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        verr_add(v, "body", "__root__", "request body is not a JSON object",
                 "value_error.jsondecode");
        return NULL;
    }
    return j;
}

/* Field readers in pydantic v1's spirit: a missing optional field takes its default, a wrong
 * type is a 422 naming the field. Integers must fit their column (check.h), on both stores. */
static bool get_int_upto(cJSON *o, const char *name, long long *out, bool required, long long dflt,
                         long long max, verr *v)
{
    cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!f || cJSON_IsNull(f)) {
        if (required)
            verr_add(v, "body", name, "field required", "value_error.missing");
        *out = dflt;
        return !required;
    }
    char msg[96];
    switch (bso_json_int(f, BSO_INT_MIN, max, out)) {
    case BSO_INT_OK:
        return true;
    case BSO_INT_TOO_SMALL:
        snprintf(msg, sizeof msg, "ensure this value is greater than or equal to %lld",
                 BSO_INT_MIN);
        verr_add(v, "body", name, msg, "value_error.number.not_ge");
        return false;
    case BSO_INT_TOO_LARGE:
        snprintf(msg, sizeof msg, "ensure this value is less than or equal to %lld", max);
        verr_add(v, "body", name, msg, "value_error.number.not_le");
        return false;
    default:
        verr_add(v, "body", name, "value is not a valid integer", "type_error.integer");
        return false;
    }
}

static bool get_int(cJSON *o, const char *name, long long *out, bool required, long long dflt,
                    verr *v)
{
    return get_int_upto(o, name, out, required, dflt, BSO_INT_MAX, v);
}

static bool get_num(cJSON *o, const char *name, double *out, bool required, double dflt, verr *v)
{
    cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!f || cJSON_IsNull(f)) {
        if (required)
            verr_add(v, "body", name, "field required", "value_error.missing");
        *out = dflt;
        return !required;
    }
    if (!cJSON_IsNumber(f)) {
        verr_add(v, "body", name, "value is not a valid float", "type_error.float");
        return false;
    }
    *out = f->valuedouble;
    return true;
}

static const char *get_str(cJSON *o, const char *name, bool required, verr *v)
{
    cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!f || cJSON_IsNull(f)) {
        if (required)
            verr_add(v, "body", name, "field required", "value_error.missing");
        return NULL;
    }
    if (!cJSON_IsString(f)) {
        verr_add(v, "body", name, "str type expected", "type_error.str");
        return NULL;
    }
    const char *problem = bso_text_problem(f->valuestring, strlen(f->valuestring));
    if (problem) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s %s", name, problem);
        verr_add(v, "body", name, msg, "value_error.str");
        return NULL;
    }
    return f->valuestring;
}

/* ---- the job ------------------------------------------------------------------------------- */
typedef struct job {
    char job_id[400], prefix[300], gpu_model[64];
    int bs[MAX_BS], n_bs, default_bs;
    double eta, beta; /* beta NaN: no early stop */
    double target;
    bool higher_better;
    long long max_epochs, rounds, window, explorations, seed;
    bool has_seed;
    double prior_mean, prior_precision, max_power;
    long long gpus;
    /* state */
    char stage[16];
    double min_cost; /* NaN: none yet */
    int min_cost_bs;
    char rng_state[256];
} job;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* JobSpecFromClient (spec 3.1). Returns false after adding the errors to v. */
/* pydantic's Field(gt=0) / Field(ge=0) error (with its ctx, as FastAPI sends it). */
static void verr_limit(verr *v, const char *field, bool ge)
{
    verr_add(v, "body", field,
             ge ? "ensure this value is greater than or equal to 0"
                : "ensure this value is greater than 0",
             ge ? "value_error.number.not_ge" : "value_error.number.not_gt");
    cJSON *ctx = cJSON_CreateObject();
    cJSON_AddNumberToObject(ctx, "limit_value", 0);
    cJSON_AddItemToObject(cJSON_GetArrayItem(v->detail, cJSON_GetArraySize(v->detail) - 1), "ctx",
                          ctx);
}

/* JobSpecFromClient (spec 3.1), checked as pydantic v1 checks the original's model: fields in
 * its order (GpuConfig's, then JobSpec's), the same messages, then the root validators only when
 * every field passed. Our own limits (sizes, lengths, repeated batch sizes) are extra errors.
 * Returns false after adding the errors to v. */
static bool parse_spec(cJSON *o, job *jb, verr *v)
{
    memset(jb, 0, sizeof *jb);
    char msg[400], num[ZEUS_DOUBLE_BUF];
    if (get_num(o, "max_power", &jb->max_power, true, 0, v) && !(jb->max_power > 0))
        verr_limit(v, "max_power", false);
    if (get_int(o, "number_of_gpus", &jb->gpus, true, 0, v) && jb->gpus <= 0)
        verr_limit(v, "number_of_gpus", false);
    const char *model = get_str(o, "gpu_model", true, v);
    if (model && !*model)
        verr_add(v, "body", "gpu_model", "Invalid gpu_model(). Shouldn't be empty.", "value_error");
    else if (model && strlen(model) >= sizeof jb->gpu_model)
        verr_add(v, "body", "gpu_model", "gpu_model is too long (< 64)", "value_error");
    else if (model)
        snprintf(jb->gpu_model, sizeof jb->gpu_model, "%s", model);
    const char *id = get_str(o, "job_id", false, v);
    if (id && strlen(id) >= sizeof jb->job_id)
        verr_add(v, "body", "job_id", "job_id is too long", "value_error");
    const char *prefix = get_str(o, "job_id_prefix", true, v);
    if (prefix && strlen(prefix) >= sizeof jb->prefix - 16)
        verr_add(v, "body", "job_id_prefix", "job_id_prefix is too long", "value_error");
    else if (prefix)
        snprintf(jb->prefix, sizeof jb->prefix, "%s", prefix);

    cJSON *bs = cJSON_GetObjectItemCaseSensitive(o, "batch_sizes");
    if (!bs || cJSON_IsNull(bs))
        verr_add(v, "body", "batch_sizes", "field required", "value_error.missing");
    else if (!cJSON_IsArray(bs))
        verr_add(v, "body", "batch_sizes", "value is not a valid list", "type_error.list");
    else {
        cJSON *e;
        bool ok = true;
        cJSON_ArrayForEach(e, bs)
        {
            if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
                e->valuedouble < 1 || e->valuedouble > 1e9 || jb->n_bs == MAX_BS) {
                ok = false;
                break;
            }
            jb->bs[jb->n_bs++] = (int)e->valuedouble;
        }
        qsort(jb->bs, (size_t)jb->n_bs, sizeof(int), cmp_int);
        if (!ok)
            verr_add(v, "body", "batch_sizes", "batch_sizes should be up to 256 positive integers",
                     "value_error");
        else if (jb->n_bs == 0)
            verr_add(v, "body", "batch_sizes", "Batch Sizes = [] is empty", "value_error");
        for (int i = 1; ok && i < jb->n_bs; i++)
            if (jb->bs[i] == jb->bs[i - 1]) { /* the original fails on its primary key: 500 */
                verr_add(v, "body", "batch_sizes", "batch_sizes should not repeat a value",
                         "value_error");
                break;
            }
    }
    long long dbs = 0;
    if (get_int(o, "default_batch_size", &dbs, true, 0, v) && dbs <= 0)
        verr_limit(v, "default_batch_size", false);
    jb->default_bs = (int)dbs;
    if (get_num(o, "eta_knob", &jb->eta, false, 0.5, v) && !(jb->eta >= 0 && jb->eta <= 1))
        verr_add(v, "body", "eta_knob", "eta_knob should be in range [0,1]", "value_error");
    cJSON *beta = cJSON_GetObjectItemCaseSensitive(o, "beta_knob");
    if (beta && cJSON_IsNull(beta))
        jb->beta = NAN;
    else if (get_num(o, "beta_knob", &jb->beta, false, 2.0, v) && !(jb->beta > 0)) {
        snprintf(msg, sizeof msg,
                 "Invalid beta_knob(%s). To disable early stop, set beta_knob = None to disable "
                 "or positive value.",
                 zeus_format_double(jb->beta, num, sizeof num));
        verr_add(v, "body", "beta_knob", msg, "value_error");
    }
    get_num(o, "target_metric", &jb->target, false, 0.5, v);
    cJSON *hib = cJSON_GetObjectItemCaseSensitive(o, "higher_is_better_metric");
    jb->higher_better = true;
    if (hib && !cJSON_IsNull(hib)) {
        if (cJSON_IsBool(hib))
            jb->higher_better = cJSON_IsTrue(hib);
        else if (cJSON_IsNumber(hib) && (hib->valuedouble == 0 || hib->valuedouble == 1))
            jb->higher_better = hib->valuedouble == 1;
        else
            verr_add(v, "body", "higher_is_better_metric", "value could not be parsed to a boolean",
                     "type_error.bool");
    }
    if (get_int(o, "max_epochs", &jb->max_epochs, false, 100, v) && jb->max_epochs <= 0)
        verr_limit(v, "max_epochs", false);
    if (get_int(o, "num_pruning_rounds", &jb->rounds, false, 2, v) && jb->rounds < 0)
        verr_limit(v, "num_pruning_rounds", true);
    else if (jb->rounds > 100)
        verr_add(v, "body", "num_pruning_rounds", "num_pruning_rounds should be at most 100",
                 "value_error");
    get_int(o, "window_size", &jb->window, false, 0, v);
    get_num(o, "mab_prior_mean", &jb->prior_mean, false, 0.0, v);
    if (get_num(o, "mab_prior_precision", &jb->prior_precision, false, 0.0, v) &&
        !(jb->prior_precision >= 0))
        verr_add(v, "body", "mab_prior_precision", "mab_prior_precision should be >= 0",
                 "value_error");
    if (get_int(o, "mab_num_explorations", &jb->explorations, false, 2, v) && jb->explorations < 0)
        verr_limit(v, "mab_num_explorations", true);
    cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "mab_seed");
    if (seed && !cJSON_IsNull(seed)) {
        jb->has_seed = get_int_upto(o, "mab_seed", &jb->seed, false, 0, BSO_BIGINT_MAX, v);
        if (jb->has_seed && jb->seed < 0) {
            verr_add(v, "body", "mab_seed", "mab_seed should be >= 0", "value_error");
            jb->has_seed = false;
        }
    }
    if (v->detail)
        return false;
    /* The root validators (skip_on_failure): the default batch size, then the job id's prefix. */
    bool in = false;
    for (int i = 0; i < jb->n_bs; i++)
        in = in || jb->bs[i] == dbs;
    if (!in) {
        int n = snprintf(msg, sizeof msg, "Default BS(%lld) not in batch_sizes([", dbs);
        for (int i = 0; i < jb->n_bs && n < (int)sizeof msg; i++)
            n += snprintf(msg + n, sizeof msg - (size_t)n, "%s%d", i ? ", " : "", jb->bs[i]);
        if (n < (int)sizeof msg)
            snprintf(msg + n, sizeof msg - (size_t)n, "]).");
        verr_add(v, "body", "__root__", msg, "value_error");
    } else if (id && strncmp(id, jb->prefix, strlen(jb->prefix)) != 0) {
        snprintf(msg, sizeof msg, "Job_id(%.150s) does not start with prefix(%.150s).", id,
                 jb->prefix);
        verr_add(v, "body", "__root__", msg, "value_error");
    } else if (id)
        snprintf(jb->job_id, sizeof jb->job_id, "%s", id);
    return v->detail == NULL;
}

/* The spec as the response carries it (every field, job_id filled in), also its stored form:
 * two registrations match when these documents are equal. */
static cJSON *spec_json(const job *jb)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "job_id", jb->job_id);
    cJSON_AddStringToObject(j, "job_id_prefix", jb->prefix);
    cJSON_AddItemToObject(j, "batch_sizes", cJSON_CreateIntArray(jb->bs, jb->n_bs));
    cJSON_AddNumberToObject(j, "default_batch_size", jb->default_bs);
    cJSON_AddNumberToObject(j, "eta_knob", jb->eta);
    if (isnan(jb->beta))
        cJSON_AddNullToObject(j, "beta_knob");
    else
        cJSON_AddNumberToObject(j, "beta_knob", jb->beta);
    cJSON_AddNumberToObject(j, "target_metric", jb->target);
    cJSON_AddBoolToObject(j, "higher_is_better_metric", jb->higher_better);
    cJSON_AddNumberToObject(j, "max_epochs", (double)jb->max_epochs);
    cJSON_AddNumberToObject(j, "num_pruning_rounds", (double)jb->rounds);
    cJSON_AddNumberToObject(j, "window_size", (double)jb->window);
    cJSON_AddNumberToObject(j, "mab_prior_mean", jb->prior_mean);
    cJSON_AddNumberToObject(j, "mab_prior_precision", jb->prior_precision);
    cJSON_AddNumberToObject(j, "mab_num_explorations", (double)jb->explorations);
    if (jb->has_seed)
        cJSON_AddNumberToObject(j, "mab_seed", (double)jb->seed);
    else
        cJSON_AddNullToObject(j, "mab_seed");
    cJSON_AddNumberToObject(j, "max_power", jb->max_power);
    cJSON_AddNumberToObject(j, "number_of_gpus", (double)jb->gpus);
    cJSON_AddStringToObject(j, "gpu_model", jb->gpu_model);
    return j;
}

static void rng_to_text(const zeus_rng *r, char *buf, size_t size)
{
    snprintf(buf, size, "%llu %llu %llu %llu %u %d", (unsigned long long)r->state_hi,
             (unsigned long long)r->state_lo, (unsigned long long)r->inc_hi,
             (unsigned long long)r->inc_lo, r->buffered, r->has_buffered);
}

static bool rng_from_text(const char *s, zeus_rng *r)
{
    unsigned long long a, b, c, d;
    unsigned e;
    int f;
    if (!s || sscanf(s, "%llu %llu %llu %llu %u %d", &a, &b, &c, &d, &e, &f) != 6)
        return false;
    *r = (zeus_rng){a, b, c, d, e, f};
    return true;
}

/* Loads a service job (spec, state, batch sizes). 0, 1 when unknown, -1 on a DB error. */
static int load_job(bso_db *db, const char *job_id, job *jb)
{
    bso_rows r;
    bso_val p = BV_S(job_id);
    if (bso_db_exec(db,
                    "SELECT spec, stage, min_cost, min_cost_batch_size, rng_state FROM job"
                    " WHERE job_id = $1 AND kind = 'service'",
                    &p, 1, &r) < 0)
        return -1;
    if (r.nrows == 0) {
        bso_rows_free(&r);
        return 1;
    }
    cJSON *spec = cJSON_Parse(bso_cell(&r, 0, 0));
    verr v = {0};
    bool ok = spec && parse_spec(spec, jb, &v);
    cJSON_Delete(spec);
    cJSON_Delete(v.detail);
    if (ok) {
        snprintf(jb->stage, sizeof jb->stage, "%s", bso_cell(&r, 0, 1));
        jb->min_cost = bso_atof(bso_cell(&r, 0, 2));
        jb->min_cost_bs = (int)bso_atoll(bso_cell(&r, 0, 3));
        snprintf(jb->rng_state, sizeof jb->rng_state, "%s",
                 bso_cell(&r, 0, 4) ? bso_cell(&r, 0, 4) : "");
    }
    bso_rows_free(&r);
    return ok ? 0 : -1;
}

/* Begins a transaction holding the job's lock and loads the job: 0, 1 when unknown (the
 * transaction is rolled back), -1 on a DB error (the caller rolls back). */
static int begin_job(bso_db *db, const char *job_id, job *jb)
{
    int rc;
    if (bso_db_begin(db) < 0 || (rc = bso_db_lock_job(db, job_id)) < 0 ||
        (rc == 0 && (rc = load_job(db, job_id, jb)) < 0))
        return -1;
    if (rc == 1)
        bso_db_rollback(db);
    return rc;
}

static cJSON *parse_or_422(const char *body, svc_reply *out, verr *v)
{
    cJSON *o = parse_body(body, v);
    if (!o)
        verr_reply(v, out);
    return o;
}

/* ---- POST /jobs ----------------------------------------------------------------------------- */
void svc_register(bso_db *db, const char *body, svc_reply *out)
{
    verr v = {0};
    job jb;
    cJSON *o = parse_or_422(body, out, &v), *spec = NULL;
    char *text = NULL;
    if (!o)
        return;
    bool ok = parse_spec(o, &jb, &v);
    cJSON_Delete(o);
    if (!ok) {
        verr_reply(&v, out);
        return;
    }
    if (bso_db_begin(db) < 0) {
        reply_db(out, db);
        return;
    }
    bool generated = !jb.job_id[0];
    for (int attempt = 0; generated; attempt++) {
        /* <prefix>-<8 hex digits>, retried until unused (the original hashes the time) */
        zeus_rng rng;
        zeus_rng_seed(&rng,
                      (uint64_t)zeus_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt);
        snprintf(jb.job_id, sizeof jb.job_id, "%s-%08x", jb.prefix, zeus_rng_next_u32(&rng));
        int lk = bso_db_lock_job(db, jb.job_id);
        if (lk < 0)
            goto dbfail;
        if (lk == 1)
            break;
    }
    spec = spec_json(&jb);
    text = cJSON_PrintUnformatted(spec);
    char rng[256] = "";
    if (jb.has_seed) {
        zeus_rng r;
        zeus_rng_seed(&r, (uint64_t)jb.seed);
        rng_to_text(&r, rng, sizeof rng);
    }
    bso_val ins[] = {
        BV_S(jb.job_id),     BV_S(jb.prefix),        BV_S(text),
        BV_I(jb.default_bs), BV_D(jb.eta),           isnan(jb.beta) ? BV_NULL : BV_D(jb.beta),
        BV_D(jb.target),     BV_I(jb.higher_better), BV_I(jb.max_epochs),
        BV_I(jb.rounds),     BV_I(jb.window),        BV_D(jb.max_power),
        BV_I(jb.gpus),       BV_S(jb.gpu_model),     BV_S(rng),
        BV_D(zeus_wall_s())};
    /* Racing registrations of one id: the first insert wins, the others compare against it. */
    bso_rows r;
    if (bso_db_exec(db,
                    "INSERT INTO job (job_id, job_id_prefix, kind, spec, default_batch_size,"
                    " eta_knob, beta_knob, target_metric, higher_is_better_metric, max_epochs,"
                    " num_pruning_rounds, window_size, max_power, number_of_gpus, gpu_model,"
                    " mab_prior_mean, mab_prior_precision, mab_num_explorations, mab_seed,"
                    " rng_state, stage, min_cost, min_cost_batch_size, created) VALUES ($1, $2,"
                    " 'service', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, 0, 0,"
                    " NULL, NULLIF($15, ''), 'Pruning', NULL, $4, $16)"
                    " ON CONFLICT (job_id) DO NOTHING RETURNING job_id",
                    ins, 16, &r) < 0)
        goto dbfail;
    bool created = r.nrows == 1;
    bso_rows_free(&r);
    if (created) {
        for (int i = 0; i < jb.n_bs; i++) {
            bso_val p[] = {BV_S(jb.job_id), BV_I(jb.bs[i])};
            if (bso_db_exec(db, "INSERT INTO batch_size (job_id, batch_size) VALUES ($1, $2)", p, 2,
                            NULL) < 0)
                goto dbfail;
        }
    } else {
        bso_val p = BV_S(jb.job_id);
        if (bso_db_lock_job(db, jb.job_id) < 0 ||
            bso_db_exec(db, "SELECT spec, kind FROM job WHERE job_id = $1", &p, 1, &r) < 0)
            goto dbfail;
        bool same = r.nrows == 1 && strcmp(bso_cell(&r, 0, 1), "service") == 0 &&
                    strcmp(bso_cell(&r, 0, 0), text) == 0;
        bso_rows_free(&r);
        if (!same) {
            bso_db_rollback(db);
            reply_msg(out, 409,
                      "JobSpec doesn't match with existing jobSpec. Use a new job_id for "
                      "different configuration");
            goto done;
        }
    }
    if (bso_db_commit(db) < 0)
        goto dbfail;
    /* The original's float fields are Python floats in its answer (2.0, not 2); the stored
     * form above stays as it was, so registrations compare as before. */
    static const char *const floats[] = {"eta_knob",       "beta_knob",           "target_metric",
                                         "mab_prior_mean", "mab_prior_precision", "max_power"};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        cJSON *f = cJSON_GetObjectItemCaseSensitive(spec, floats[i]);
        char num[ZEUS_DOUBLE_BUF];
        if (cJSON_IsNumber(f))
            cJSON_ReplaceItemInObjectCaseSensitive(
                spec, floats[i],
                cJSON_CreateRaw(zeus_format_double(f->valuedouble, num, sizeof num)));
    }
    reply_json(out, created ? 201 : 200, spec);
    spec = NULL;
    goto done;
dbfail:
    reply_db(out, db);
    bso_db_rollback(db);
done:
    cJSON_Delete(spec);
    free(text);
}

/* ---- the algorithm ----------------------------------------------------------------------------
 */
void svc_fit_arm(double prior_mean, double prior_precision, const double *rewards, int n,
                 svc_arm *arm)
{
    double sum = 0, var = 0;
    for (int i = 0; i < n; i++)
        sum += rewards[i];
    double mean = n ? sum / n : prior_mean;
    for (int i = 0; i < n; i++)
        var += (rewards[i] - mean) * (rewards[i] - mean);
    var = n ? var / n : NAN;
    arm->observations = n;
    if (n == 0) { /* no history (num_pruning_rounds 0): the prior, explored first */
        arm->reward_precision = 0;
        arm->precision = prior_precision;
        arm->mean = prior_mean;
    } else if (var == 0) {
        arm->reward_precision = INFINITY;
        arm->precision = INFINITY;
        arm->mean = mean;
    } else {
        arm->reward_precision = 1 / var;
        arm->precision = prior_precision + n * arm->reward_precision;
        arm->mean = (prior_precision * prior_mean + arm->reward_precision * sum) / arm->precision;
    }
}

static double trial_cost(const job *jb, double energy, double time)
{
    return zeus_cost(energy, time, jb->eta, jb->max_power);
}

static int new_trial(bso_db *db, const job *jb, int bs, const char *type, int *number)
{
    bso_rows r;
    bso_val p = BV_S(jb->job_id);
    if (bso_db_exec(db, "SELECT COALESCE(MAX(trial_number), 0) + 1 FROM trial WHERE job_id = $1",
                    &p, 1, &r) < 0)
        return -1;
    *number = (int)bso_atoll(bso_cell(&r, 0, 0));
    bso_rows_free(&r);
    bso_val ins[] = {BV_S(jb->job_id), BV_I(*number), BV_I(bs), BV_S(type), BV_D(zeus_wall_s())};
    return bso_db_exec(db,
                       "INSERT INTO trial (job_id, trial_number, batch_size, type, status,"
                       " start_timestamp) VALUES ($1, $2, $3, $4, 'Dispatched', $5)",
                       ins, 5, NULL);
}

/* Pruning (spec 5.2): 0 with *bs and *type set for a trial to make, 1 with the survivors in
 * arms/n_arms when exploration is over, 2 when a round kept nothing, -1 on a DB error. */
static int prune(bso_db *db, const job *jb, int *bs, const char **type, int *arms, int *n_arms)
{
    bso_rows r;
    bso_val p = BV_S(jb->job_id);
    if (bso_db_exec(db,
                    "SELECT batch_size, status, converged, time, energy FROM trial"
                    " WHERE job_id = $1 AND type = 'Exploration' AND status IN ('Dispatched',"
                    " 'Succeeded', 'NotConverged') ORDER BY trial_number",
                    &p, 1, &r) < 0)
        return -1;
    int cand[MAX_BS], nc = jb->n_bs, pivot = jb->default_bs, rc = 1;
    memcpy(cand, jb->bs, sizeof(int) * (size_t)nc);
    for (long long round = 0; round < jb->rounds; round++) {
        qsort(cand, (size_t)nc, sizeof(int), cmp_int);
        int order[MAX_BS], no = 0, n_down = 0;
        for (int i = nc - 1; i >= 0; i--)
            if (cand[i] <= pivot)
                order[no++] = cand[i], n_down++;
        for (int i = 0; i < nc; i++)
            if (cand[i] > pivot)
                order[no++] = cand[i];
        int surv[MAX_BS], ns = 0;
        double best = INFINITY;
        int best_bs = 0;
        for (int dir = 0; dir < 2; dir++) {
            int from = dir ? n_down : 0, to = dir ? no : n_down;
            for (int k = from; k < to; k++) {
                int b = order[k], seen = 0, row = -1;
                for (int i = 0; i < r.nrows && row < 0; i++)
                    if (bso_atoll(bso_cell(&r, i, 0)) == b && seen++ == round)
                        row = i;
                if (row < 0) {
                    *bs = b, *type = "Exploration", rc = 0;
                    goto out;
                }
                if (strcmp(bso_cell(&r, row, 1), "Dispatched") == 0) {
                    *bs = jb->min_cost_bs, *type = "Concurrent", rc = 0;
                    goto out;
                }
                if (!bso_atoll(bso_cell(&r, row, 2)))
                    break;
                surv[ns++] = b;
                double c =
                    trial_cost(jb, bso_atof(bso_cell(&r, row, 4)), bso_atof(bso_cell(&r, row, 3)));
                if (c < best)
                    best = c, best_bs = b;
            }
        }
        if (ns == 0) {
            rc = 2;
            goto out;
        }
        pivot = best_bs;
        memcpy(cand, surv, sizeof(int) * (size_t)ns);
        nc = ns;
    }
    qsort(cand, (size_t)nc, sizeof(int), cmp_int);
    memcpy(arms, cand, sizeof(int) * (size_t)nc);
    *n_arms = nc;
out:
    bso_rows_free(&r);
    return rc;
}

/* Rewards (-cost) of a batch size's recorded trials: type NULL for every type. */
static int rewards_of(bso_db *db, const job *jb, int bs, const char *type, int limit, double *out,
                      int max)
{
    bso_rows r;
    bso_val p[] = {BV_S(jb->job_id), BV_I(bs), type ? BV_S(type) : BV_NULL};
    if (bso_db_exec(db,
                    "SELECT time, energy FROM trial WHERE job_id = $1 AND batch_size = $2"
                    " AND status IN " RECORDED " AND (CAST($3 AS TEXT) IS NULL OR type = $3)"
                    " ORDER BY trial_number DESC",
                    p, 3, &r) < 0)
        return -1;
    int n = 0;
    for (int i = 0; i < r.nrows && n < max && (limit <= 0 || n < limit); i++)
        out[n++] = -trial_cost(jb, bso_atof(bso_cell(&r, i, 1)), bso_atof(bso_cell(&r, i, 0)));
    bso_rows_free(&r);
    return n;
}

static int save_arm(bso_db *db, const job *jb, const svc_arm *a, bool insert)
{
    bso_val p[] = {BV_S(jb->job_id),   BV_I(a->batch_size),       BV_D(a->mean),
                   BV_D(a->precision), BV_D(a->reward_precision), BV_I(a->observations)};
    return bso_db_exec(db,
                       insert ? "INSERT INTO arm (job_id, batch_size, param_mean, param_precision,"
                                " reward_precision, num_observations) VALUES ($1, $2, $3, $4, $5,"
                                " $6)"
                              : "UPDATE arm SET param_mean = $3, param_precision = $4,"
                                " reward_precision = $5, num_observations = $6"
                                " WHERE job_id = $1 AND batch_size = $2",
                       p, 6, NULL);
}

/* Thompson sampling over the arms (spec 5.3). */
static int mab_predict(bso_db *db, job *jb, int *bs)
{
    bso_rows r;
    bso_val p = BV_S(jb->job_id);
    if (bso_db_exec(db,
                    "SELECT batch_size, param_mean, param_precision, num_observations FROM arm"
                    " WHERE job_id = $1 ORDER BY batch_size",
                    &p, 1, &r) < 0)
        return -1;
    zeus_rng rng;
    if (!jb->has_seed || !rng_from_text(jb->rng_state, &rng))
        zeus_rng_seed(&rng, (uint64_t)time(NULL));
    size_t n = (size_t)r.nrows, perm[MAX_BS];
    int rc = 0;
    *bs = 0;
    if (n == 0 || zeus_rng_choice(&rng, n, n, perm) < 0) {
        rc = -2;
        goto out;
    }
    for (size_t i = 0; i < n && !*bs; i++) {
        long long obs = bso_atoll(bso_cell(&r, (int)perm[i], 3));
        if (obs == 0 || obs < jb->explorations)
            *bs = (int)bso_atoll(bso_cell(&r, (int)perm[i], 0));
    }
    /* Thompson sampling: one draw per arm in order; the largest wins, ties to the first. */
    double best = -INFINITY;
    for (size_t i = 0, sampling = !*bs; sampling && i < n; i++) {
        double prec = bso_atof(bso_cell(&r, (int)i, 2));
        double s = zeus_rng_normal(&rng, bso_atof(bso_cell(&r, (int)i, 1)),
                                   isinf(prec) ? 0 : sqrt(1 / prec));
        if (i == 0 || s > best) {
            best = s;
            *bs = (int)bso_atoll(bso_cell(&r, (int)i, 0));
        }
    }
    if (jb->has_seed) {
        char text[256];
        rng_to_text(&rng, text, sizeof text);
        bso_val q[] = {BV_S(jb->job_id), BV_S(text)};
        if (bso_db_exec(db, "UPDATE job SET rng_state = $2 WHERE job_id = $1", q, 2, NULL) < 0)
            rc = -1;
    }
out:
    bso_rows_free(&r);
    return rc;
}

/* Builds the arms from the survivors' exploration history and switches to the MAB stage. */
static int build_mab(bso_db *db, job *jb, const int *arms, int n)
{
    for (int i = 0; i < n; i++) {
        double rw[4096];
        int k = rewards_of(db, jb, arms[i], "Exploration", 0, rw, 4096);
        if (k < 0)
            return -1;
        svc_arm a = {.batch_size = arms[i]};
        svc_fit_arm(jb->prior_mean, jb->prior_precision, rw, k, &a);
        if (save_arm(db, jb, &a, true) < 0)
            return -1;
    }
    bso_val p = BV_S(jb->job_id);
    snprintf(jb->stage, sizeof jb->stage, "MAB");
    return bso_db_exec(db, "UPDATE job SET stage = 'MAB' WHERE job_id = $1", &p, 1, NULL);
}

/* ---- GET /jobs/batch_size ----------------------------------------------------------------- */
void svc_next_batch_size(bso_db *db, const char *job_id, svc_reply *out)
{
    job jb;
    int bs = 0, number = 0, arms[MAX_BS], n_arms = 0, rc;
    const char *type = "MAB";
    if ((rc = begin_job(db, job_id, &jb)) < 0)
        goto dbfail;
    if (rc == 1) {
        reply_msg(out, 400, "Unknown job(%s). Please register the job first", job_id);
        return;
    }
    double now = zeus_wall_s();
    bso_val st[] = {BV_S(job_id), BV_D(now), BV_D(now - svc_stale_s)};
    if (bso_db_exec(db,
                    "UPDATE trial SET status = 'Interrupted', end_timestamp = $2, message ="
                    " 'not ended by its client in time' WHERE job_id = $1 AND status ="
                    " 'Dispatched' AND start_timestamp < $3",
                    st, 3, NULL) < 0)
        goto dbfail;
    if (strcmp(jb.stage, "MAB") != 0) {
        rc = prune(db, &jb, &bs, &type, arms, &n_arms);
        if (rc < 0 || (rc == 1 && build_mab(db, &jb, arms, n_arms) < 0))
            goto dbfail;
        if (rc == 2) {
            bso_db_rollback(db);
            reply_msg(out, 500,
                      "No converged batch sizes has observed. Reconfigure batch_sizes "
                      "and re-launch the job.");
            return;
        }
    }
    if (strcmp(jb.stage, "MAB") == 0 && (rc = mab_predict(db, &jb, &bs)) < 0) {
        if (rc == -1)
            goto dbfail;
        bso_db_rollback(db);
        reply_msg(out, 500, "No arms to sample from.");
        return;
    }
    if (new_trial(db, &jb, bs, type, &number) < 0 || bso_db_commit(db) < 0)
        goto dbfail;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "job_id", job_id);
    cJSON_AddNumberToObject(j, "batch_size", bs);
    cJSON_AddNumberToObject(j, "trial_number", number);
    reply_json(out, 200, j);
    return;
dbfail:
    reply_db(out, db);
    bso_db_rollback(db);
}

/* TrialId fields; false with a 422 in out. */
static bool parse_trial_id(cJSON *o, char *job_id, size_t size, long long *bs, long long *number,
                           verr *v)
{
    const char *id = get_str(o, "job_id", true, v);
    get_int(o, "batch_size", bs, true, 0, v);
    get_int(o, "trial_number", number, true, 0, v);
    if (id && strlen(id) >= size)
        verr_add(v, "body", "job_id", "job_id is too long", "value_error");
    else if (id)
        snprintf(job_id, size, "%s", id);
    if (!v->detail && *bs <= 0) /* the original checks these inside the handler: 500 */
        verr_add(v, "body", "batch_size", "batch_size should be > 0", "value_error");
    if (!v->detail && *number <= 0)
        verr_add(v, "body", "trial_number", "trial_number should be > 0", "value_error");
    return v->detail == NULL;
}

/* ---- POST /report ------------------------------------------------------------------------- */
void svc_report(bso_db *db, const char *body, svc_reply *out)
{
    verr v = {0};
    char job_id[400] = "";
    long long bs = 0, number = 0, epoch = 0;
    double t = 0, e = 0, metric = 0;
    cJSON *o = parse_or_422(body, out, &v);
    if (!o)
        return;
    parse_trial_id(o, job_id, sizeof job_id, &bs, &number, &v);
    get_num(o, "time", &t, true, 0, &v);
    get_num(o, "energy", &e, true, 0, &v);
    get_num(o, "metric", &metric, true, 0, &v);
    get_int(o, "current_epoch", &epoch, true, 0, &v);
    cJSON_Delete(o);
    if (verr_reply(&v, out))
        return;
    job jb;
    bso_rows r = {0};
    int rc;
    if ((rc = begin_job(db, job_id, &jb)) < 0)
        goto dbfail;
    if (rc == 1) {
        reply_msg(out, 400, "Unknown job %s", job_id);
        return;
    }
    bso_val key[] = {BV_S(job_id), BV_I(bs), BV_I(number)};
    if (bso_db_exec(db,
                    "SELECT status, converged, type FROM trial WHERE job_id = $1"
                    " AND batch_size = $2 AND trial_number = $3",
                    key, 3, &r) < 0)
        goto dbfail;
    if (r.nrows == 0) {
        bso_db_rollback(db);
        reply_msg(out, 400, "Unknown trial job_id='%s' batch_size=%lld trial_number=%lld", job_id,
                  bs, number);
        goto done;
    }
    if (strcmp(bso_cell(&r, 0, 0), "Dispatched") != 0) {
        bso_db_rollback(db);
        if (!bso_cell(&r, 0, 1)) {
            reply_msg(out, 400, "Trial(%lld) is already reported but converged is not set.",
                      number);
        } else {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddBoolToObject(j, "stop_train", true);
            cJSON_AddBoolToObject(j, "converged", bso_atoll(bso_cell(&r, 0, 1)) != 0);
            char msg[128];
            snprintf(msg, sizeof msg, "Result for this trial(%lld) is already reported.", number);
            cJSON_AddStringToObject(j, "message", msg);
            reply_json(out, 200, j);
        }
        goto done;
    }
    double cost = trial_cost(&jb, e, t);
    double ub = !isnan(jb.beta) && !isnan(jb.min_cost) ? jb.beta * jb.min_cost : INFINITY;
    bool within = ub >= cost;
    bool converged = jb.higher_better ? metric >= jb.target : metric <= jb.target;
    cJSON *j = cJSON_CreateObject();
    if (within && epoch < jb.max_epochs && !converged) {
        bso_db_rollback(db);
        cJSON_AddBoolToObject(j, "stop_train", false);
        cJSON_AddBoolToObject(j, "converged", false);
        cJSON_AddStringToObject(j, "message", "Stop condition not met, keep training");
        reply_json(out, 200, j);
        goto done;
    }
    char msg[512], c1[ZEUS_DOUBLE_BUF], c2[ZEUS_DOUBLE_BUF], c3[ZEUS_DOUBLE_BUF];
    if (converged && within)
        snprintf(msg, sizeof msg, "Train succeeded");
    else if (!within)
        snprintf(msg, sizeof msg,
                 "Batch Size(%lld) exceeded the cost upper bound: current cost(%s) >\n"
                 "                    beta_knob(%s)*min_cost(%s)",
                 bs, zeus_format_double(cost, c1, sizeof c1),
                 zeus_format_double(jb.beta, c2, sizeof c2),
                 zeus_format_double(jb.min_cost, c3, sizeof c3));
    else
        snprintf(msg, sizeof msg, "Train failed to converge within max_epoch(%lld)", jb.max_epochs);
    bool ok = converged && within;
    /* MAB stage: refit the arm with this trial's reward. The original refuses (400) a trial
     * dispatched before the stage changed and so loses it; here it is recorded, and feeds its
     * arm when its batch size has one. */
    if (strcmp(jb.stage, "MAB") == 0) {
        double rw[4096];
        int k = rewards_of(db, &jb, (int)bs, NULL, (int)jb.window, rw, 4095);
        if (k < 0)
            goto dbfail_j;
        if (jb.window > 0 && k == jb.window) /* drop the oldest */
            k--;
        rw[k++] = -cost;
        svc_arm a = {.batch_size = (int)bs};
        svc_fit_arm(jb.prior_mean, jb.prior_precision, rw, k, &a);
        if (save_arm(db, &jb, &a, false) < 0)
            goto dbfail_j;
    }
    /* A run that did not converge is recorded as NotConverged, not Succeeded as the original
     * does; both count as recorded results. */
    bso_val upd[] = {BV_S(job_id),        BV_I(number), BV_S(ok ? "Succeeded" : "NotConverged"),
                     BV_D(zeus_wall_s()), BV_D(t),      BV_D(e),
                     BV_D(cost),          BV_I(ok),     BV_S(msg)};
    if (bso_db_exec(db,
                    "UPDATE trial SET status = $3, end_timestamp = $4, time = $5, energy = $6,"
                    " cost = $7, converged = $8, message = $9"
                    " WHERE job_id = $1 AND trial_number = $2",
                    upd, 9, NULL) < 0)
        goto dbfail_j;
    if (isnan(jb.min_cost) || jb.min_cost > cost) {
        bso_val m[] = {BV_S(job_id), BV_D(cost), BV_I(bs)};
        if (bso_db_exec(db,
                        "UPDATE job SET min_cost = $2, min_cost_batch_size = $3 WHERE job_id = $1",
                        m, 3, NULL) < 0)
            goto dbfail_j;
    }
    if (bso_db_commit(db) < 0)
        goto dbfail_j;
    cJSON_AddBoolToObject(j, "stop_train", true);
    cJSON_AddBoolToObject(j, "converged", ok);
    cJSON_AddStringToObject(j, "message", msg);
    reply_json(out, 200, j);
    goto done;
dbfail_j:
    cJSON_Delete(j);
dbfail:
    reply_db(out, db);
    bso_db_rollback(db);
done:
    bso_rows_free(&r);
}

/* ---- PATCH /trials ------------------------------------------------------------------------ */
void svc_end_trial(bso_db *db, const char *body, svc_reply *out)
{
    verr v = {0};
    char job_id[400] = "";
    long long bs = 0, number = 0;
    cJSON *o = parse_or_422(body, out, &v);
    if (!o)
        return;
    parse_trial_id(o, job_id, sizeof job_id, &bs, &number, &v);
    cJSON_Delete(o);
    if (verr_reply(&v, out))
        return;
    bso_rows r;
    bso_val key[] = {BV_S(job_id), BV_I(bs), BV_I(number), BV_D(zeus_wall_s())};
    if (bso_db_begin(db) < 0 || bso_db_lock_job(db, job_id) < 0 ||
        bso_db_exec(db,
                    "SELECT status FROM trial WHERE job_id = $1 AND batch_size = $2"
                    " AND trial_number = $3",
                    key, 3, &r) < 0)
        goto dbfail;
    if (r.nrows == 0) {
        bso_rows_free(&r);
        bso_db_rollback(db);
        reply_msg(out, 404,
                  "Could not find the trial: job_id='%s' batch_size=%lld trial_number=%lld", job_id,
                  bs, number);
        return;
    }
    bso_rows_free(&r);
    if (bso_db_exec(db,
                    "UPDATE trial SET status = 'Failed', end_timestamp = $4 WHERE job_id = $1"
                    " AND batch_size = $2 AND trial_number = $3 AND status = 'Dispatched'",
                    key, 4, NULL) < 0 ||
        bso_db_commit(db) < 0)
        goto dbfail;
    reply_json(out, 200, NULL);
    return;
dbfail:
    reply_db(out, db);
    bso_db_rollback(db);
}

/* ---- DELETE /jobs ------------------------------------------------------------------------- */
void svc_delete_job(bso_db *db, const char *job_id, svc_reply *out)
{
    bso_rows r;
    bso_val p = BV_S(job_id);
    /* Children first: the cascade also works where foreign keys are not enforced. */
    if (bso_db_begin(db) < 0 ||
        bso_db_exec(db, "SELECT 1 FROM job WHERE job_id = $1 AND kind = 'service'", &p, 1, &r) < 0)
        goto dbfail;
    int found = r.nrows;
    bso_rows_free(&r);
    if (!found) {
        bso_db_rollback(db);
        reply_msg(out, 404, "No job was deleted.");
        return;
    }
    if (bso_db_exec(db, "DELETE FROM arm WHERE job_id = $1", &p, 1, NULL) < 0 ||
        bso_db_exec(db, "DELETE FROM trial WHERE job_id = $1", &p, 1, NULL) < 0 ||
        bso_db_exec(db, "DELETE FROM power_profile WHERE job_id = $1", &p, 1, NULL) < 0 ||
        bso_db_exec(db, "DELETE FROM batch_size WHERE job_id = $1", &p, 1, NULL) < 0 ||
        bso_db_exec(db, "DELETE FROM job WHERE job_id = $1", &p, 1, NULL) < 0 ||
        bso_db_commit(db) < 0)
        goto dbfail;
    reply_json(out, 200, NULL);
    return;
dbfail:
    reply_db(out, db);
    bso_db_rollback(db);
}
