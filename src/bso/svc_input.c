/* The batch-size service's input: FastAPI / pydantic v1 style validation errors, the field
 * readers, and the job spec (JobSpecFromClient) checked as the original's model checks it. */
#include "svc_input.h"
#include "zeus/batch_size.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zeus/util.h"

void reply_json(svc_reply *out, int status, cJSON *j)
{
    out->status = status;
    out->body = j ? cJSON_PrintUnformatted(j) : strdup("null");
    cJSON_Delete(j);
}

/* FastAPI / pydantic v1 validation errors: {"detail":[{"loc":[...],"msg":...,"type":...}]}. */
void verr_add(verr *v, const char *where, const char *field, const char *msg, const char *type)
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

bool verr_reply(verr *v, svc_reply *out)
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

cJSON *parse_body(const char *body, verr *v)
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
bool get_int_upto(cJSON *o, const char *name, long long *out, bool required, long long dflt,
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

bool get_int(cJSON *o, const char *name, long long *out, bool required, long long dflt, verr *v)
{
    return get_int_upto(o, name, out, required, dflt, BSO_INT_MAX, v);
}

bool get_num(cJSON *o, const char *name, double *out, bool required, double dflt, verr *v)
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

const char *get_str(cJSON *o, const char *name, bool required, verr *v)
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

int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

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

/* GpuConfig's fields. */
static void parse_gpu_config(cJSON *o, job *jb, verr *v)
{
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
}

/* job_id (returned, checked against the prefix by the root validators) and job_id_prefix. */
static const char *parse_ids(cJSON *o, job *jb, verr *v)
{
    const char *id = get_str(o, "job_id", false, v);
    if (id && strlen(id) >= sizeof jb->job_id)
        verr_add(v, "body", "job_id", "job_id is too long", "value_error");
    const char *prefix = get_str(o, "job_id_prefix", true, v);
    if (prefix && strlen(prefix) >= sizeof jb->prefix - 16)
        verr_add(v, "body", "job_id_prefix", "job_id_prefix is too long", "value_error");
    else if (prefix)
        snprintf(jb->prefix, sizeof jb->prefix, "%s", prefix);

    return id;
}

/* batch_sizes: up to MAX_BS positive integers, sorted, none repeated. */
static void parse_batch_sizes(cJSON *o, job *jb, verr *v)
{
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
}

/* The knobs after default_batch_size, in the model's order. */
static void parse_knobs(cJSON *o, job *jb, verr *v)
{
    char msg[400], num[ZEUS_DOUBLE_BUF];
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
}

/* "policy" (ours): absent or null is the original server's algorithm. */
static void parse_policy(cJSON *o, job *jb, verr *v)
{
    cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "policy");
    jb->policy = ZEUS_BSO_POLICY_PRUNING_GTS;
    if (!p || cJSON_IsNull(p))
        return;
    if (!cJSON_IsString(p))
        verr_add(v, "body", "policy", "str type expected", "type_error.str");
    else if (zeus_bso_policy_parse(p->valuestring, &jb->policy) != ZEUS_OK)
        verr_add(v, "body", "policy", zeus_last_error(), "value_error");
}

/* The root validators (skip_on_failure): the default batch size, then the job id's prefix. */
static void check_root(job *jb, const char *id, long long dbs, verr *v)
{
    char msg[400];
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
}

/* JobSpecFromClient (spec 3.1), checked as pydantic v1 checks the original's model: fields in
 * its order (GpuConfig's, then JobSpec's), the same messages, then the root validators only when
 * every field passed. Our own limits (sizes, lengths, repeated batch sizes) are extra errors.
 * Returns false after adding the errors to v. */
bool parse_spec(cJSON *o, job *jb, verr *v)
{
    memset(jb, 0, sizeof *jb);
    parse_gpu_config(o, jb, v);
    const char *id = parse_ids(o, jb, v);
    parse_batch_sizes(o, jb, v);
    long long dbs = 0;
    if (get_int(o, "default_batch_size", &dbs, true, 0, v) && dbs <= 0)
        verr_limit(v, "default_batch_size", false);
    jb->default_bs = (int)dbs;
    parse_knobs(o, jb, v);
    parse_policy(o, jb, v);
    if (v->detail)
        return false;
    check_root(jb, id, dbs, v);
    return v->detail == NULL;
}

/* The spec as the response carries it (every field, job_id filled in), also its stored form:
 * two registrations match when these documents are equal. */
cJSON *spec_json(const job *jb)
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
    if (jb->policy != ZEUS_BSO_POLICY_PRUNING_GTS) /* absent: the original's wire format */
        cJSON_AddStringToObject(j, "policy", zeus_bso_policy_name(jb->policy));
    return j;
}
