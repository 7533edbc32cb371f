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
#include "svc_input.h"
#include "svc_policy.h"
#include "zeus/cost.h"
#include "zeus/rng.h"
#include "zeus/util.h"

double svc_stale_s = 86400;

/* A recorded trial: reported (converged or not). Failed (ended unreported) and Interrupted
 * trials take no part in the algorithm. */
#define RECORDED "('Succeeded','NotConverged')"

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
/* <prefix>-<8 hex digits>, retried until unused (the original hashes the time); <0 on a database
 * failure. */
static int generate_job_id(bso_db *db, job *jb)
{
    for (int attempt = 0;; attempt++) {
        zeus_rng rng;
        zeus_rng_seed(&rng,
                      (uint64_t)zeus_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt);
        snprintf(jb->job_id, sizeof jb->job_id, "%s-%08x", jb->prefix, zeus_rng_next_u32(&rng));
        int lk = bso_db_lock_job(db, jb->job_id);
        if (lk < 0)
            return lk;
        if (lk == 1)
            return 0;
    }
}

/* Inserts the job's row (spec: its stored JSON text); *created false when the id was there. */
static int insert_job(bso_db *db, const job *jb, const char *spec, bool *created)
{
    char rng[256] = "", *state = NULL;
    if (jb->policy != ZEUS_BSO_POLICY_PRUNING_GTS && svc_policy_initial_state(jb, &state) < 0)
        return -2;
    if (jb->has_seed) {
        zeus_rng r;
        zeus_rng_seed(&r, (uint64_t)jb->seed);
        rng_to_text(&r, rng, sizeof rng);
    }
    bso_job_row row = {.job_id = jb->job_id,
                       .job_id_prefix = jb->prefix,
                       .kind = "service",
                       .spec = spec,
                       .default_batch_size = jb->default_bs,
                       .eta_knob = BV_D(jb->eta),
                       .beta_knob = isnan(jb->beta) ? BV_NULL : BV_D(jb->beta),
                       .target_metric = jb->target,
                       .higher_is_better_metric = jb->higher_better,
                       .max_epochs = jb->max_epochs,
                       .num_pruning_rounds = jb->rounds,
                       .window_size = jb->window,
                       .max_power = jb->max_power,
                       .number_of_gpus = jb->gpus,
                       .gpu_model = jb->gpu_model,
                       .mab_num_explorations = 0,
                       .rng_state = rng[0] ? BV_S(rng) : BV_NULL,
                       .driver_state = state ? BV_S(state) : BV_NULL};
    int rc = bso_db_insert_job(db, &row, jb->bs, jb->n_bs, created);
    zeus_free(state);
    return rc;
}

/* Whether the registered job job_id is a service job with this very spec; <0 on a database
 * failure. */
static int same_registration(bso_db *db, const char *job_id, const char *spec, bool *same)
{
    bso_rows r;
    bso_val p = BV_S(job_id);
    if (bso_db_lock_job(db, job_id) < 0 ||
        bso_db_exec(db, "SELECT spec, kind FROM job WHERE job_id = $1", &p, 1, &r) < 0)
        return -1;
    *same = r.nrows == 1 && strcmp(bso_cell(&r, 0, 1), "service") == 0 &&
            strcmp(bso_cell(&r, 0, 0), spec) == 0;
    bso_rows_free(&r);
    return 0;
}

/* The original's float fields are Python floats in its answer (2.0, not 2); the stored form
 * stays as it was, so registrations compare as before. */
static void floats_as_python(cJSON *spec)
{
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
}

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
    if (!jb.job_id[0] && generate_job_id(db, &jb) < 0)
        goto dbfail;
    spec = spec_json(&jb);
    text = cJSON_PrintUnformatted(spec);
    /* Racing registrations of one id: the first insert wins, the others compare against it. */
    bool created = false;
    int irc = insert_job(db, &jb, text, &created);
    if (irc == -2) {
        bso_db_rollback(db);
        reply_msg(out, 500, "batch-size policy: %s", zeus_last_error());
        goto done;
    }
    if (irc < 0)
        goto dbfail;
    if (!created) {
        bool same;
        if (same_registration(db, jb.job_id, text, &same) < 0)
            goto dbfail;
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
    floats_as_python(spec);
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
    if (jb.policy != ZEUS_BSO_POLICY_PRUNING_GTS) {
        if ((rc = svc_policy_next(db, &jb, &bs, &type)) == -1)
            goto dbfail;
        if (rc < 0) {
            bso_db_rollback(db);
            reply_msg(out, 500, "batch-size policy: %s", zeus_last_error());
            return;
        }
    } else if (strcmp(jb.stage, "MAB") != 0) {
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
    if (jb.policy == ZEUS_BSO_POLICY_PRUNING_GTS && strcmp(jb.stage, "MAB") == 0 &&
        (rc = mab_predict(db, &jb, &bs)) < 0) {
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
typedef struct {
    char job_id[400];
    long long bs, number, epoch;
    double t, e, metric;
} report_in;

/* A report of a trial no longer Dispatched (row 0 of r: status, converged): the answer. */
static void reply_already_reported(const bso_rows *r, long long number, svc_reply *out)
{
    if (!bso_cell(r, 0, 1)) {
        reply_msg(out, 400, "Trial(%lld) is already reported but converged is not set.", number);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "stop_train", true);
    cJSON_AddBoolToObject(j, "converged", bso_atoll(bso_cell(r, 0, 1)) != 0);
    char msg[128];
    snprintf(msg, sizeof msg, "Result for this trial(%lld) is already reported.", number);
    cJSON_AddStringToObject(j, "message", msg);
    reply_json(out, 200, j);
}

/* Why training stops, in the original's words. */
static void stop_message(const job *jb, long long bs, double cost, bool converged, bool within,
                         char *msg, size_t size)
{
    char c1[ZEUS_DOUBLE_BUF], c2[ZEUS_DOUBLE_BUF], c3[ZEUS_DOUBLE_BUF];
    if (converged && within)
        snprintf(msg, size, "Train succeeded");
    else if (!within)
        snprintf(msg, size,
                 "Batch Size(%lld) exceeded the cost upper bound: current cost(%s) >\n"
                 "                    beta_knob(%s)*min_cost(%s)",
                 bs, zeus_format_double(cost, c1, sizeof c1),
                 zeus_format_double(jb->beta, c2, sizeof c2),
                 zeus_format_double(jb->min_cost, c3, sizeof c3));
    else
        snprintf(msg, size, "Train failed to converge within max_epoch(%lld)", jb->max_epochs);
}

/* Records the ended trial (and, in the MAB stage, refits its arm; a new minimum cost updates the
 * job); <0 on a database failure. */
static int record_result(bso_db *db, const job *jb, const report_in *in, double cost, bool ok,
                         const char *msg)
{
    /* MAB stage: refit the arm with this trial's reward. The original refuses (400) a trial
     * dispatched before the stage changed and so loses it; here it is recorded, and feeds its
     * arm when its batch size has one. */
    if (jb->policy != ZEUS_BSO_POLICY_PRUNING_GTS) {
        if (svc_policy_observe(db, jb, (int)in->bs, cost, ok) < 0)
            return -1;
    } else if (strcmp(jb->stage, "MAB") == 0) {
        double rw[4096];
        int k = rewards_of(db, jb, (int)in->bs, NULL, (int)jb->window, rw, 4095);
        if (k < 0)
            return -1;
        if (jb->window > 0 && k == jb->window) /* drop the oldest */
            k--;
        rw[k++] = -cost;
        svc_arm a = {.batch_size = (int)in->bs};
        svc_fit_arm(jb->prior_mean, jb->prior_precision, rw, k, &a);
        if (save_arm(db, jb, &a, false) < 0)
            return -1;
    }
    /* A run that did not converge is recorded as NotConverged, not Succeeded as the original
     * does; both count as recorded results. */
    bso_val upd[] = {BV_S(in->job_id),    BV_I(in->number), BV_S(ok ? "Succeeded" : "NotConverged"),
                     BV_D(zeus_wall_s()), BV_D(in->t),      BV_D(in->e),
                     BV_D(cost),          BV_I(ok),         BV_S(msg)};
    if (bso_db_exec(db,
                    "UPDATE trial SET status = $3, end_timestamp = $4, time = $5, energy = $6,"
                    " cost = $7, converged = $8, message = $9"
                    " WHERE job_id = $1 AND trial_number = $2",
                    upd, 9, NULL) < 0)
        return -1;
    if (isnan(jb->min_cost) || jb->min_cost > cost) {
        bso_val m[] = {BV_S(in->job_id), BV_D(cost), BV_I(in->bs)};
        if (bso_db_exec(db,
                        "UPDATE job SET min_cost = $2, min_cost_batch_size = $3 WHERE job_id = $1",
                        m, 3, NULL) < 0)
            return -1;
    }
    return 0;
}

/* Python's repr() of a str (as pydantic's str() of a model shows it): single quotes unless the
 * text holds one and no double quote; backslash, the quote and control characters escaped. */
static const char *py_str_repr(const char *text, char *buf, size_t size)
{
    char q = strchr(text, '\'') && !strchr(text, '"') ? '"' : '\'';
    size_t n = 0;
    buf[n++] = q;
    for (const unsigned char *c = (const unsigned char *)text; *c && n + 6 < size; c++) {
        if (*c == '\\' || *c == (unsigned char)q)
            n += (size_t)snprintf(buf + n, size - n, "\\%c", *c);
        else if (*c == '\n' || *c == '\t' || *c == '\r')
            n += (size_t)snprintf(buf + n, size - n, "\\%c",
                                  *c == '\n'   ? 'n'
                                  : *c == '\t' ? 't'
                                               : 'r');
        else if (*c < 0x20 || *c == 0x7f)
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *c);
        else
            buf[n++] = (char)*c;
    }
    buf[n++] = q;
    buf[n] = '\0';
    return buf;
}

void svc_report(bso_db *db, const char *body, svc_reply *out)
{
    verr v = {0};
    report_in in = {0};
    cJSON *o = parse_or_422(body, out, &v);
    if (!o)
        return;
    parse_trial_id(o, in.job_id, sizeof in.job_id, &in.bs, &in.number, &v);
    get_num(o, "time", &in.t, true, 0, &v);
    get_num(o, "energy", &in.e, true, 0, &v);
    get_num(o, "metric", &in.metric, true, 0, &v);
    get_int(o, "current_epoch", &in.epoch, true, 0, &v);
    cJSON_Delete(o);
    if (verr_reply(&v, out))
        return;
    job jb;
    bso_rows r = {0};
    int rc;
    if ((rc = begin_job(db, in.job_id, &jb)) < 0)
        goto dbfail;
    if (rc == 1) {
        reply_msg(out, 400, "Unknown job %s", in.job_id);
        return;
    }
    bso_val key[] = {BV_S(in.job_id), BV_I(in.bs), BV_I(in.number)};
    if (bso_db_exec(db,
                    "SELECT status, converged, type FROM trial WHERE job_id = $1"
                    " AND batch_size = $2 AND trial_number = $3",
                    key, 3, &r) < 0)
        goto dbfail;
    if (r.nrows == 0) {
        bso_db_rollback(db);
        /* The original formats the request's model: str(TrainingResult(...)). */
        char id[2 * sizeof in.job_id + 3], t[ZEUS_DOUBLE_BUF], e[ZEUS_DOUBLE_BUF],
            m[ZEUS_DOUBLE_BUF];
        reply_msg(out, 400,
                  "Unknown trial job_id=%s batch_size=%lld trial_number=%lld time=%s energy=%s "
                  "metric=%s current_epoch=%lld",
                  py_str_repr(in.job_id, id, sizeof id), in.bs, in.number,
                  zeus_format_double(in.t, t, sizeof t), zeus_format_double(in.e, e, sizeof e),
                  zeus_format_double(in.metric, m, sizeof m), in.epoch);
        goto done;
    }
    if (strcmp(bso_cell(&r, 0, 0), "Dispatched") != 0) {
        bso_db_rollback(db);
        reply_already_reported(&r, in.number, out);
        goto done;
    }
    double cost = trial_cost(&jb, in.e, in.t);
    double factor = jb.beta; /* walk-ts stops a walk's first run of a size sooner */
    if (jb.policy != ZEUS_BSO_POLICY_PRUNING_GTS && !isnan(jb.beta) &&
        svc_policy_bound_factor(db, &jb, (int)in.bs, &factor) < 0)
        goto dbfail;
    double ub = !isnan(jb.beta) && !isnan(jb.min_cost) ? factor * jb.min_cost : INFINITY;
    bool within = ub >= cost;
    bool converged = jb.higher_better ? in.metric >= jb.target : in.metric <= jb.target;
    cJSON *j = cJSON_CreateObject();
    if (within && in.epoch < jb.max_epochs && !converged) {
        bso_db_rollback(db);
        cJSON_AddBoolToObject(j, "stop_train", false);
        cJSON_AddBoolToObject(j, "converged", false);
        cJSON_AddStringToObject(j, "message", "Stop condition not met, keep training");
        reply_json(out, 200, j);
        goto done;
    }
    char msg[512];
    stop_message(&jb, in.bs, cost, converged, within, msg, sizeof msg);
    bool ok = converged && within;
    if (record_result(db, &jb, &in, cost, ok, msg) < 0 || bso_db_commit(db) < 0)
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
