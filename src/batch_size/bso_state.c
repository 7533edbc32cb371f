/* Saving and restoring the batch-size policies as JSON, so that a recurring-job driver can
 * persist them between recurrences. Doubles are written with the shortest round-trip digits
 * (cJSON's own number printer may drop the last bit) and non-finite values as strings; 64-bit
 * generator words as hex strings. Loading validates every field and every index, since the
 * file may have been edited. */
#include "batch_size/policy_internal.h"

#include "core/internal.h"
#include "core/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BSO_TYPE "zeus.PruningGTSBatchSizeOptimizer"
#define PLO_TYPE "zeus.JITPowerLimitOptimizer"
#define RECURRING_TYPE "zeus.RecurringJob"
#define STATE_VERSION 1

/* ---- writing ------------------------------------------------------------------------------ */

/* Non-finite values as strings ("inf", "nan") so that a restored state is the same state. */
static cJSON *json_double(double v)
{
    char buf[ZEUS_DOUBLE_BUF];
    return isfinite(v) ? zeus__json_double(v)
                       : cJSON_CreateString(zeus_format_double(v, buf, sizeof buf));
}

static cJSON *json_u64(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
    return cJSON_CreateString(buf);
}

static cJSON *json_ints(const int *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *json_doubles(const double *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, json_double(v[i]));
    return a;
}

static const char *const phase_names[] = {"start", "await", "reported", "done", "failed"};

static cJSON *explorer_json(const zeus_pruning *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "sizes", json_ints(p->sizes, p->n_sizes));
    cJSON_AddItemToObject(o, "down", json_ints(p->down, p->n_down));
    cJSON_AddItemToObject(o, "up", json_ints(p->up, p->n_up));
    cJSON_AddItemToObject(o, "good", json_ints(p->good, p->n_good));
    cJSON_AddNumberToObject(o, "default_bs", p->default_bs);
    cJSON_AddNumberToObject(o, "num_rounds", p->num_rounds);
    cJSON_AddNumberToObject(o, "round", p->round);
    cJSON_AddNumberToObject(o, "dir", p->dir);
    cJSON_AddNumberToObject(o, "pos", (double)p->pos);
    cJSON_AddItemToObject(o, "best_cost", json_double(p->best_cost));
    cJSON_AddNumberToObject(o, "expecting", p->expecting);
    cJSON_AddStringToObject(o, "phase", phase_names[p->phase]);
    cJSON_AddItemToObject(o, "reported_cost", json_double(p->reported_cost));
    cJSON_AddBoolToObject(o, "reported_reached", p->reported_reached);
    return o;
}

static cJSON *rng_json(const zeus_rng *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "state_hi", json_u64(r->state_hi));
    cJSON_AddItemToObject(o, "state_lo", json_u64(r->state_lo));
    cJSON_AddItemToObject(o, "inc_hi", json_u64(r->inc_hi));
    cJSON_AddItemToObject(o, "inc_lo", json_u64(r->inc_lo));
    cJSON_AddItemToObject(o, "buffered", json_u64(r->buffered));
    cJSON_AddBoolToObject(o, "has_buffered", r->has_buffered);
    return o;
}

static cJSON *mab_json(const zeus_gts *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "prior_mean", json_double(g->prior_mean));
    cJSON_AddItemToObject(o, "prior_precision", json_double(g->prior_precision));
    cJSON_AddNumberToObject(o, "num_exploration", g->num_exploration);
    cJSON_AddItemToObject(o, "rng", rng_json(&g->rng));
    cJSON *arms = cJSON_AddArrayToObject(o, "arms");
    for (size_t i = 0; i < g->n_arms; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "arm", g->arms[i].arm);
        cJSON_AddItemToObject(a, "mean", json_double(g->arms[i].mean));
        cJSON_AddItemToObject(a, "precision", json_double(g->arms[i].precision));
        cJSON_AddItemToObject(a, "reward_precision", json_double(g->arms[i].reward_precision));
        cJSON_AddNumberToObject(a, "observations", (double)g->arms[i].observations);
        cJSON_AddItemToArray(arms, a);
    }
    return o;
}

static const char *const walk_phase_names[] = {"down", "up", "sample"};

/* walk-ts (walk_ts.c): the walk's position and each size's run statistics. */
static cJSON *walk_json(const zeus_walkts *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "phase", walk_phase_names[w->phase]);
    cJSON_AddNumberToObject(o, "pos", (double)w->pos);
    cJSON_AddBoolToObject(o, "awaiting", w->awaiting);
    cJSON_AddItemToObject(o, "best", json_double(w->best));
    cJSON_AddItemToObject(o, "rng", rng_json(&w->rng));
    cJSON *arms = cJSON_AddArrayToObject(o, "arms");
    for (size_t i = 0; i < w->n; i++) {
        const zeus_walk_arm *a = &w->arms[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "runs", a->runs);
        cJSON_AddNumberToObject(j, "reached", a->reached);
        cJSON_AddItemToObject(j, "cost_sum", json_double(a->cost_sum));
        cJSON_AddItemToObject(j, "ok_mean", json_double(a->ok_mean));
        cJSON_AddItemToObject(j, "ok_m2", json_double(a->ok_m2));
        cJSON_AddBoolToObject(j, "excluded", a->excluded);
        cJSON_AddItemToArray(arms, j);
    }
    return o;
}

static int print_json(cJSON *root, char **json)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return zeus__error(ZEUS_ENOMEM, "state: out of memory");
    *json = text;
    return ZEUS_OK;
}

static cJSON *bso_json(const zeus_bso *bso)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", BSO_TYPE);
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON_AddItemToObject(cfg, "prior_mean", json_double(bso->cfg.prior_mean));
    cJSON_AddItemToObject(cfg, "prior_precision", json_double(bso->cfg.prior_precision));
    cJSON_AddNumberToObject(cfg, "window_size", (double)bso->cfg.window_size);
    cJSON_AddBoolToObject(cfg, "concurrency", bso->cfg.concurrency);
    cJSON_AddItemToObject(cfg, "seed", json_u64(bso->cfg.seed));
    if (bso->cfg.moments != ZEUS_BSO_MOMENTS_EXACT) /* absent: exact (states saved before it) */
        cJSON_AddNumberToObject(cfg, "moments", bso->cfg.moments);
    if (bso->cfg.policy != ZEUS_BSO_POLICY_PRUNING_GTS) /* absent: the original's */
        cJSON_AddStringToObject(cfg, "policy", zeus_bso_policy_name(bso->cfg.policy));
    cJSON *job = cJSON_AddObjectToObject(root, "job");
    cJSON_AddStringToObject(job, "dataset", bso->job.dataset);
    cJSON_AddStringToObject(job, "network", bso->job.network);
    cJSON_AddStringToObject(job, "optimizer", bso->job.optimizer);
    cJSON_AddItemToObject(job, "target_metric", json_double(bso->job.target_metric));
    cJSON_AddNumberToObject(job, "max_epochs", bso->job.max_epochs);
    cJSON_AddNumberToObject(job, "default_bs", bso->job.default_bs);
    cJSON_AddItemToObject(job, "default_lr", json_double(bso->job.default_lr));
    cJSON *history = cJSON_AddArrayToObject(root, "history");
    for (size_t i = 0; i < bso->n_batch_sizes; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "batch_size", bso->batch_sizes[i]);
        cJSON_AddItemToObject(h, "rewards",
                              json_doubles(bso->history[i].rewards, bso->history[i].n));
        cJSON_AddItemToArray(history, h);
    }
    cJSON_AddItemToObject(root, "explorer", explorer_json(bso->explorer));
    cJSON_AddItemToObject(root, "mab", bso->mab ? mab_json(bso->mab) : cJSON_CreateNull());
    if (bso->walk)
        cJSON_AddItemToObject(root, "walk", walk_json(bso->walk));
    return root;
}

int zeus_bso_save(const zeus_bso *bso, char **json)
{
    return print_json(bso_json(bso), json);
}

static cJSON *plo_json(const zeus_jit_plo *plo)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", PLO_TYPE);
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON *entries = cJSON_AddArrayToObject(root, "batch_sizes");
    for (size_t i = 0; i < plo->n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "batch_size", plo->entries[i].batch_size);
        cJSON_AddNumberToObject(e, "power_limit", plo->entries[i].power_limit);
        cJSON_AddItemToObject(e, "cost", json_double(plo->entries[i].cost));
        cJSON_AddNumberToObject(e, "observations", plo->entries[i].observations);
        cJSON_AddItemToArray(entries, e);
    }
    return root;
}

int zeus_jit_plo_save(const zeus_jit_plo *plo, char **json)
{
    return print_json(plo_json(plo), json);
}

int zeus_recurring_save(const zeus_recurring *r, char **json)
{
    if (!r || !json)
        return zeus__error(ZEUS_EINVAL, "state: NULL argument");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", RECURRING_TYPE);
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON_AddItemToObject(cfg, "eta_knob", json_double(r->eta));
    cJSON_AddItemToObject(cfg, "beta_knob", json_double(r->beta));
    cJSON_AddNumberToObject(cfg, "max_power_w", r->max_power);
    cJSON_AddNumberToObject(cfg, "max_tries", r->max_tries);
    cJSON_AddNumberToObject(cfg, "max_concurrent_tries", r->max_concurrent_tries);
    cJSON *st = cJSON_AddObjectToObject(root, "state");
    cJSON_AddItemToObject(st, "min_cost", json_double(r->min_cost));
    cJSON_AddNumberToObject(st, "best_bs", r->best_bs);
    cJSON_AddNumberToObject(st, "recurrence", (double)r->recurrence);
    cJSON_AddNumberToObject(st, "tries", r->tries);
    cJSON_AddItemToObject(st, "cost_acc", json_double(r->cost_acc));
    cJSON_AddBoolToObject(st, "pending", r->pending);
    cJSON_AddNumberToObject(st, "pending_bs", r->pending_bs);
    cJSON_AddBoolToObject(st, "over", r->over);
    cJSON_AddItemToObject(root, "bso", bso_json(r->bso));
    cJSON_AddItemToObject(root, "plo", plo_json(r->plo));
    return print_json(root, json);
}

/* ---- reading ------------------------------------------------------------------------------ */

static int bad(const char *what)
{
    return zeus__error(ZEUS_EPARSE, "state: missing or invalid '%s'", what);
}

/* A number, or one of the strings written for non-finite values. */
static bool to_double(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return true;
    }
    if (!cJSON_IsString(v))
        return false;
    const char *s = v->valuestring;
    return (strcmp(s, "inf") == 0 || strcmp(s, "-inf") == 0 || strcmp(s, "nan") == 0) &&
           zeus_parse_double(s, out) == ZEUS_OK;
}

static int get_double(const cJSON *o, const char *key, double *out)
{
    return to_double(cJSON_GetObjectItemCaseSensitive(o, key), out) ? ZEUS_OK : bad(key);
}

static int get_int(const cJSON *o, const char *key, long min, long max, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)min || v->valuedouble > (double)max)
        return bad(key);
    *out = (long)v->valuedouble;
    return ZEUS_OK;
}

static int get_bool(const cJSON *o, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsBool(v))
        return bad(key);
    *out = cJSON_IsTrue(v);
    return ZEUS_OK;
}

static int get_u64(const cJSON *o, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v))
        return bad(key);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v->valuestring, &end, 16);
    if (end == v->valuestring || *end || errno)
        return bad(key);
    *out = x;
    return ZEUS_OK;
}

static int get_string(const cJSON *o, const char *key, char *dst, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || !*v->valuestring || zeus__strlcpy(dst, v->valuestring, size) >= size)
        return bad(key);
    return ZEUS_OK;
}

/* An int array of at most cap entries into dst. */
static int get_ints(const cJSON *o, const char *key, int *dst, size_t cap, size_t *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) > cap)
        return bad(key);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
            fabs(v->valuedouble) > 2147483647.0)
            return bad(key);
        dst[i++] = (int)v->valuedouble;
    }
    *n = i;
    return ZEUS_OK;
}

static const cJSON *get_object(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsObject(v) ? v : NULL;
}

static int check_header(const cJSON *root, const char *type)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
    long version;
    if (!cJSON_IsString(t) || strcmp(t->valuestring, type) != 0)
        return zeus__error(ZEUS_EPARSE, "state: not a %s document", type);
    if (get_int(root, "version", 1, STATE_VERSION, &version) != ZEUS_OK)
        return zeus__error(ZEUS_EPARSE, "state: unsupported version");
    return ZEUS_OK;
}

/* 0, ZEUS_EPARSE ("state: not valid JSON") or ZEUS_ENOMEM. */
static int parse_root(const char *json, cJSON **root)
{
    int error = ZEUS_EPARSE;
    *root = json ? zeus__json_parse(json, false, &error, NULL) : NULL;
    if (*root)
        return ZEUS_OK;
    return error == ZEUS_ENOMEM ? error : zeus__error(ZEUS_EPARSE, "state: not valid JSON");
}

static bool contains(const int *v, size_t n, int x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static int load_explorer(const cJSON *o, zeus_pruning *p)
{
    if (!o)
        return bad("explorer");
    long num_rounds, round, dir, pos, default_bs, expecting;
    const cJSON *phase = cJSON_GetObjectItemCaseSensitive(o, "phase");
    int rc;
    if ((rc = get_ints(o, "sizes", p->sizes, p->cap, &p->n_sizes)) ||
        (rc = get_ints(o, "down", p->down, p->cap, &p->n_down)) ||
        (rc = get_ints(o, "up", p->up, p->cap, &p->n_up)) ||
        (rc = get_ints(o, "good", p->good, p->cap, &p->n_good)) ||
        (rc = get_int(o, "default_bs", 1, INT32_MAX, &default_bs)) ||
        (rc = get_int(o, "num_rounds", 0, 1000, &num_rounds)) ||
        (rc = get_int(o, "round", 0, num_rounds, &round)) || (rc = get_int(o, "dir", 0, 2, &dir)) ||
        (rc = get_int(o, "pos", 0, (long)p->cap, &pos)) ||
        (rc = get_double(o, "best_cost", &p->best_cost)) ||
        (rc = get_int(o, "expecting", 0, INT32_MAX, &expecting)) ||
        (rc = get_double(o, "reported_cost", &p->reported_cost)) ||
        (rc = get_bool(o, "reported_reached", &p->reported_reached)))
        return rc;
    if (p->n_down + p->n_up > p->cap)
        return bad("explorer");
    p->default_bs = (int)default_bs;
    p->num_rounds = (int)num_rounds;
    p->round = (int)round;
    p->dir = (int)dir;
    p->pos = (size_t)pos;
    p->expecting = (int)expecting;
    size_t k;
    for (k = 0; k < ZEUS_ARRAY_LEN(phase_names); k++)
        if (cJSON_IsString(phase) && strcmp(phase->valuestring, phase_names[k]) == 0)
            break;
    if (k == ZEUS_ARRAY_LEN(phase_names))
        return bad("phase");
    p->phase = (zeus_pruning_phase)k;
    /* A size is handed out or reported only from inside a walk. */
    if (p->phase == ZEUS_PRUNING_AWAIT || p->phase == ZEUS_PRUNING_REPORTED) {
        size_t walk = p->dir == 0 ? p->n_down : p->dir == 1 ? p->n_up : 0;
        if (p->pos >= walk || (p->phase == ZEUS_PRUNING_AWAIT &&
                               p->expecting != (p->dir == 0 ? p->down : p->up)[p->pos]))
            return bad("explorer position");
    }
    return ZEUS_OK;
}

static int load_rng(const cJSON *o, zeus_rng *r)
{
    uint64_t buffered = 0;
    bool has = false;
    int rc;
    if (!o)
        return bad("rng");
    if ((rc = get_u64(o, "state_hi", &r->state_hi)) ||
        (rc = get_u64(o, "state_lo", &r->state_lo)) || (rc = get_u64(o, "inc_hi", &r->inc_hi)) ||
        (rc = get_u64(o, "inc_lo", &r->inc_lo)) || (rc = get_u64(o, "buffered", &buffered)) ||
        (rc = get_bool(o, "has_buffered", &has)))
        return rc;
    if (buffered > UINT32_MAX || !(r->inc_lo & 1))
        return bad("rng");
    r->buffered = (uint32_t)buffered;
    r->has_buffered = has;
    return ZEUS_OK;
}

static int load_mab(const cJSON *o, const zeus_bso *bso, zeus_gts **out)
{
    const cJSON *arms = cJSON_GetObjectItemCaseSensitive(o, "arms");
    int n = cJSON_GetArraySize(arms);
    if (!cJSON_IsArray(arms) || n < 1 || (size_t)n > bso->n_batch_sizes)
        return bad("arms");
    zeus_gts *g;
    int rc = zeus__gts_alloc((size_t)n, &g);
    if (rc != ZEUS_OK)
        return rc;
    long num_exploration;
    if ((rc = get_double(o, "prior_mean", &g->prior_mean)) ||
        (rc = get_double(o, "prior_precision", &g->prior_precision)) ||
        (rc = get_int(o, "num_exploration", 0, INT32_MAX, &num_exploration)) ||
        (rc = load_rng(get_object(o, "rng"), &g->rng)))
        goto fail;
    g->num_exploration = (int)num_exploration;
    size_t i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, arms)
    {
        long arm, observations;
        zeus_gts_arm *dst = &g->arms[i];
        if ((rc = get_int(a, "arm", 1, INT32_MAX, &arm)) ||
            (rc = get_double(a, "mean", &dst->mean)) ||
            (rc = get_double(a, "precision", &dst->precision)) ||
            (rc = get_double(a, "reward_precision", &dst->reward_precision)) ||
            (rc = get_int(a, "observations", 0, INT32_MAX, &observations)))
            goto fail;
        if (!contains(bso->batch_sizes, bso->n_batch_sizes, (int)arm) ||
            zeus__gts_find(g, (int)arm)) {
            rc = bad("arm");
            goto fail;
        }
        dst->arm = (int)arm;
        dst->observations = (size_t)observations;
        i++;
    }
    *out = g;
    return ZEUS_OK;
fail:
    zeus_gts_destroy(g);
    return rc;
}

static int load_walk_arm(const cJSON *j, zeus_walk_arm *a)
{
    long runs, reached;
    int rc;
    if ((rc = get_int(j, "runs", 0, INT32_MAX, &runs)) ||
        (rc = get_int(j, "reached", 0, runs, &reached)) ||
        (rc = get_double(j, "cost_sum", &a->cost_sum)) ||
        (rc = get_double(j, "ok_mean", &a->ok_mean)) || (rc = get_double(j, "ok_m2", &a->ok_m2)) ||
        (rc = get_bool(j, "excluded", &a->excluded)))
        return rc;
    a->runs = (unsigned)runs;
    a->reached = (unsigned)reached;
    return ZEUS_OK;
}

/* The walk-ts state of an optimizer whose sizes and job are loaded. */
static int load_walk(const cJSON *o, zeus_bso *bso)
{
    const cJSON *arms = cJSON_GetObjectItemCaseSensitive(o, "arms");
    const cJSON *phase = cJSON_GetObjectItemCaseSensitive(o, "phase");
    if (!o || !cJSON_IsArray(arms) || (size_t)cJSON_GetArraySize(arms) != bso->n_batch_sizes)
        return bad(!o ? "walk" : "arms");
    size_t start = zeus__bso_index(bso, bso->job.default_bs);
    if (start == bso->n_batch_sizes)
        return bad("default_bs");
    zeus_walkts *w;
    int rc = zeus__walkts_create(bso->n_batch_sizes, start, bso->cfg.seed, &w);
    if (rc != ZEUS_OK)
        return rc;
    bso->walk = w;
    long pos, ph = -1;
    for (long k = 0; k < 3 && cJSON_IsString(phase); k++)
        if (strcmp(phase->valuestring, walk_phase_names[k]) == 0)
            ph = k;
    if (ph < 0)
        return bad("phase");
    w->phase = (zeus_walk_phase)ph;
    if ((rc = get_int(o, "pos", 0, (long)w->n, &pos)) ||
        (rc = get_bool(o, "awaiting", &w->awaiting)) || (rc = get_double(o, "best", &w->best)) ||
        (rc = load_rng(get_object(o, "rng"), &w->rng)))
        return rc;
    if (w->phase != ZEUS_WALK_SAMPLE && (size_t)pos >= w->n)
        return bad("pos");
    w->pos = (size_t)pos;
    size_t i = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, arms)
    {
        if ((rc = load_walk_arm(j, &w->arms[i++])) != ZEUS_OK)
            return rc;
    }
    return ZEUS_OK;
}

/* The config's policy: absent in the original's documents. */
static int load_policy(const cJSON *cfg, int *policy)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cfg, "policy");
    *policy = ZEUS_BSO_POLICY_PRUNING_GTS;
    if (!p)
        return ZEUS_OK;
    if (!cJSON_IsString(p) || zeus_bso_policy_parse(p->valuestring, policy) != ZEUS_OK)
        return bad("policy");
    return ZEUS_OK;
}

static int load_bso(const cJSON *root, zeus_bso **out)
{
    const cJSON *cfg = get_object(root, "config"), *job = get_object(root, "job");
    const cJSON *history = cJSON_GetObjectItemCaseSensitive(root, "history");
    int n = cJSON_GetArraySize(history);
    if (!cfg || !job || !cJSON_IsArray(history) || n < 1)
        return bad(!cfg ? "config" : !job ? "job" : "history");
    zeus_bso *bso;
    int rc = zeus__bso_alloc((size_t)n, &bso);
    if (rc != ZEUS_OK)
        return rc;
    long window, max_epochs, default_bs;
    if ((rc = get_double(cfg, "prior_mean", &bso->cfg.prior_mean)) ||
        (rc = get_double(cfg, "prior_precision", &bso->cfg.prior_precision)) ||
        (rc = get_int(cfg, "window_size", 0, INT32_MAX, &window)) ||
        (rc = get_bool(cfg, "concurrency", &bso->cfg.concurrency)) ||
        (rc = get_u64(cfg, "seed", &bso->cfg.seed)) ||
        (rc = get_string(job, "dataset", bso->job.dataset, sizeof bso->job.dataset)) ||
        (rc = get_string(job, "network", bso->job.network, sizeof bso->job.network)) ||
        (rc = get_string(job, "optimizer", bso->job.optimizer, sizeof bso->job.optimizer)) ||
        (rc = get_double(job, "target_metric", &bso->job.target_metric)) ||
        (rc = get_int(job, "max_epochs", 1, INT32_MAX, &max_epochs)) ||
        (rc = get_int(job, "default_bs", 1, INT32_MAX, &default_bs)) ||
        (rc = get_double(job, "default_lr", &bso->job.default_lr)))
        goto fail;
    if (window == 1) {
        rc = bad("window_size");
        goto fail;
    }
    long moments = ZEUS_BSO_MOMENTS_EXACT;
    if (cJSON_GetObjectItemCaseSensitive(cfg, "moments") &&
        (rc = get_int(cfg, "moments", ZEUS_BSO_MOMENTS_EXACT, ZEUS_BSO_MOMENTS_RUNNING, &moments)))
        goto fail;
    bso->cfg.moments = (int)moments;
    if ((rc = load_policy(cfg, &bso->cfg.policy)) != ZEUS_OK)
        goto fail;
    bso->cfg.window_size = (size_t)window;
    bso->job.max_epochs = (int)max_epochs;
    bso->job.default_bs = (int)default_bs;
    size_t i = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, history)
    {
        long bs;
        const cJSON *rewards = cJSON_GetObjectItemCaseSensitive(h, "rewards");
        if ((rc = get_int(h, "batch_size", 1, INT32_MAX, &bs)) != ZEUS_OK)
            goto fail;
        if ((i > 0 && bs <= bso->batch_sizes[i - 1]) || !cJSON_IsArray(rewards)) {
            rc = bad("history");
            goto fail;
        }
        bso->batch_sizes[i] = (int)bs;
        const cJSON *r;
        cJSON_ArrayForEach(r, rewards)
        {
            double v;
            if (!to_double(r, &v)) {
                rc = bad("rewards");
                goto fail;
            }
            if ((rc = zeus__bso_append_reward(&bso->history[i], v)) != ZEUS_OK)
                goto fail;
        }
        i++;
    }
    if ((rc = zeus__pruning_alloc(bso->n_batch_sizes, &bso->explorer)) != ZEUS_OK ||
        (rc = load_explorer(get_object(root, "explorer"), bso->explorer)) != ZEUS_OK)
        goto fail;
    const cJSON *mab = cJSON_GetObjectItemCaseSensitive(root, "mab");
    if (cJSON_IsObject(mab)) {
        if ((rc = load_mab(mab, bso, &bso->mab)) != ZEUS_OK)
            goto fail;
    } else if (!cJSON_IsNull(mab)) {
        rc = bad("mab");
        goto fail;
    }
    if (bso->cfg.policy == ZEUS_BSO_POLICY_WALK_TS &&
        (rc = load_walk(get_object(root, "walk"), bso)) != ZEUS_OK)
        goto fail;
    *out = bso;
    return ZEUS_OK;
fail:
    zeus_bso_destroy(bso);
    return rc;
}

int zeus_bso_load(const char *json, zeus_bso **out)
{
    cJSON *root;
    int prc = parse_root(json, &root);
    if (prc < 0)
        return prc;
    int rc = check_header(root, BSO_TYPE);
    if (rc == ZEUS_OK)
        rc = load_bso(root, out);
    cJSON_Delete(root);
    return rc;
}

static int load_plo(const cJSON *root, zeus_jit_plo **out)
{
    zeus_jit_plo *plo = NULL;
    int rc = check_header(root, PLO_TYPE);
    if (rc != ZEUS_OK)
        goto done;
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "batch_sizes");
    if (!cJSON_IsArray(entries)) {
        rc = bad("batch_sizes");
        goto done;
    }
    if ((rc = zeus_jit_plo_create(&plo)) != ZEUS_OK)
        goto done;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries)
    {
        long bs, pl, observations;
        double cost;
        int known;
        if ((rc = get_int(e, "batch_size", 1, INT32_MAX, &bs)) ||
            (rc = get_int(e, "power_limit", 1, INT32_MAX, &pl)) ||
            (rc = get_double(e, "cost", &cost)) ||
            (rc = get_int(e, "observations", 1, UINT32_MAX, &observations)))
            goto done;
        zeus_jit_plo_predict(plo, (int)bs, &known);
        if (known) {
            rc = bad("batch_size");
            goto done;
        }
        if ((rc = zeus_jit_plo_observe(plo, (int)bs, (int)pl, cost)) != ZEUS_OK)
            goto done;
        plo->entries[plo->n - 1].observations = (unsigned)observations;
    }
    *out = plo;
    plo = NULL;
done:
    zeus_jit_plo_destroy(plo);
    return rc;
}

int zeus_jit_plo_load(const char *json, zeus_jit_plo **out)
{
    cJSON *root;
    int prc = parse_root(json, &root);
    if (prc < 0)
        return prc;
    int rc = load_plo(root, out);
    cJSON_Delete(root);
    return rc;
}

/* The driver's own fields (its optimizers are loaded by the caller). */
static int load_recurring_fields(const cJSON *root, zeus_recurring *r)
{
    const cJSON *cfg = get_object(root, "config"), *st = get_object(root, "state");
    if (!cfg || !st)
        return bad(!cfg ? "config" : "state");
    long max_power, max_tries, max_concurrent_tries, best_bs, recurrence, tries, pending_bs;
    int rc;
    if ((rc = get_double(cfg, "eta_knob", &r->eta)) ||
        (rc = get_double(cfg, "beta_knob", &r->beta)) ||
        (rc = get_int(cfg, "max_power_w", 1, INT32_MAX, &max_power)) ||
        (rc = get_int(cfg, "max_tries", 1, INT32_MAX, &max_tries)) ||
        (rc = get_int(cfg, "max_concurrent_tries", 1, INT32_MAX, &max_concurrent_tries)) ||
        (rc = get_double(st, "min_cost", &r->min_cost)) ||
        (rc = get_int(st, "best_bs", 1, INT32_MAX, &best_bs)) ||
        (rc = get_int(st, "recurrence", 0, INT32_MAX, &recurrence)) ||
        (rc = get_int(st, "tries", 0, max_tries, &tries)) ||
        (rc = get_double(st, "cost_acc", &r->cost_acc)) ||
        (rc = get_bool(st, "pending", &r->pending)) ||
        (rc = get_int(st, "pending_bs", 0, INT32_MAX, &pending_bs)) ||
        (rc = get_bool(st, "over", &r->over)))
        return rc;
    if (!(r->eta >= 0 && r->eta <= 1))
        return bad("eta_knob");
    if (!(r->beta > 0))
        return bad("beta_knob");
    r->max_power = (int)max_power;
    r->max_tries = (int)max_tries;
    r->max_concurrent_tries = (int)max_concurrent_tries;
    r->best_bs = (int)best_bs;
    r->recurrence = (size_t)recurrence;
    r->tries = (int)tries;
    r->pending_bs = (int)pending_bs;
    return ZEUS_OK;
}

int zeus_recurring_load(const char *json, zeus_recurring **out)
{
    if (!out)
        return zeus__error(ZEUS_EINVAL, "state: NULL argument");
    cJSON *root;
    int prc = parse_root(json, &root);
    if (prc < 0)
        return prc;
    zeus_recurring *r = calloc(1, sizeof *r);
    int rc =
        r ? check_header(root, RECURRING_TYPE) : zeus__error(ZEUS_ENOMEM, "state: out of memory");
    const cJSON *bso = get_object(root, "bso"), *plo = get_object(root, "plo");
    if (rc == ZEUS_OK && (!bso || !plo))
        rc = bad(!bso ? "bso" : "plo");
    if (rc == ZEUS_OK && (rc = check_header(bso, BSO_TYPE)) == ZEUS_OK &&
        (rc = load_bso(bso, &r->bso)) == ZEUS_OK && (rc = load_plo(plo, &r->plo)) == ZEUS_OK &&
        (rc = load_recurring_fields(root, r)) == ZEUS_OK) {
        r->job = *zeus_bso_job(r->bso);
        r->verbose = zeus_get_log_level() >= ZEUS_LOG_DEBUG;
        zeus_job_format(&r->job, r->name, sizeof r->name);
        *out = r;
        r = NULL;
    }
    zeus_recurring_destroy(r);
    cJSON_Delete(root);
    return rc;
}
