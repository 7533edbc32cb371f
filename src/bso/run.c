/* `zeus run`: drives a recurring job's recurrences like the original's ZeusMaster (docs/spec/
 * zeus-behavior.md 5.4), with its decisions taken by libzeus's zeus_recurring (the simulator's
 * driver) and its state kept in the history store, so that every invocation, on any host,
 * continues where the last one stopped.
 *
 * One try: in a transaction holding the job's lock, the driver state saved after the last
 * report is loaded and asked for the next try, and the try is recorded as a Dispatched trial
 * owned by this process; the state itself is not saved, so the decision is a pure function of
 * the saved state. The job runs. In a second transaction the state is loaded again, the same
 * try replayed, the result reported, and the new state saved together with the finished trial.
 * A driver killed in between leaves a Dispatched trial whose owner is gone: the next driver
 * marks it Interrupted and makes the same decision again. Two drivers of one job take turns,
 * one try at a time (the second waits while the first's try runs). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bso.h"
#include "bso_util.h"
#include "check.h"
#include "db.h"
#include "run_jobfile.h"
#include "zeus/cost.h"
#include "zeus/device.h"
#include "zeus/output.h"
#include "zeus/recurring.h"
#include "zeus/util.h"

/* ---- the store --------------------------------------------------------------------------------
 */
static char g_host[256];

/* Creates the job on first use; a stored job must have the same configuration. */
static int ensure_job(bso_db *db, const jobfile *jf)
{
    char *spec = job_spec(jf);
    zeus_recurring_config cfg;
    zeus_recurring_config_default(&cfg);
    cfg.eta_knob = jf->eta;
    cfg.beta_knob = jf->beta;
    cfg.max_power_w = jf->max_power_w;
    cfg.bso.seed = jf->seed;
    cfg.bso.policy = jf->policy;
    zeus_recurring *r = NULL;
    char *state = NULL;
    int rc = 1;
    bso_rows rows = {0};
    if (zeus_recurring_create(&cfg, &jf->job, jf->bs, (size_t)jf->n_bs, &r) < 0 ||
        zeus_recurring_save(r, &state) < 0) {
        fail("%s", zeus_last_error());
        goto out;
    }
    bso_job_row row = {.job_id = jf->job_id,
                       .job_id_prefix = jf->job_id,
                       .kind = "run",
                       .spec = spec,
                       .default_batch_size = jf->job.default_bs,
                       .eta_knob = BV_D(jf->eta),
                       .beta_knob = BV_D(jf->beta),
                       .target_metric = jf->job.target_metric,
                       .higher_is_better_metric = 1,
                       .max_epochs = jf->job.max_epochs,
                       .num_pruning_rounds = 2,
                       .window_size = 0,
                       .max_power = jf->max_power_w,
                       .number_of_gpus = 1,
                       .gpu_model = "",
                       .mab_num_explorations = 1,
                       .rng_state = BV_NULL,
                       .driver_state = BV_S(state)};
    bso_val p = BV_S(jf->job_id);
    bool created = false;
    if (bso_db_begin(db) < 0 || bso_db_insert_job(db, &row, jf->bs, jf->n_bs, &created) < 0)
        goto dbfail;
    if (created) {
        say("New job %s", jf->job_id);
    } else {
        if (bso_db_exec(db, "SELECT kind, spec FROM job WHERE job_id = $1", &p, 1, &rows) < 0)
            goto dbfail;
        if (strcmp(bso_cell(&rows, 0, 0), "run") != 0 || strcmp(bso_cell(&rows, 0, 1), spec)) {
            bso_db_rollback(db);
            fail("the database holds job %s with another configuration (%s); give the job "
                 "file a new 'job_id' for a different configuration",
                 jf->job_id, bso_cell(&rows, 0, 1));
            goto out;
        }
    }
    if (bso_db_commit(db) < 0)
        goto dbfail;
    rc = 0;
    goto out;
dbfail:
    fail("database: %s", bso_db_error(db));
    bso_db_rollback(db);
out:
    bso_rows_free(&rows);
    zeus_recurring_destroy(r);
    free(state);
    free(spec);
    return rc;
}

/* Marks the job's Dispatched trials whose driver is gone as Interrupted (a driver on another
 * host is presumed gone stale_s after its trial started). Returns the number of trials still
 * running under a live driver, or -1. Call inside a transaction. */
static int repair(bso_db *db, const char *job_id, long stale_s)
{
    bso_rows r;
    bso_val p = BV_S(job_id);
    if (bso_db_exec(db,
                    "SELECT trial_number, owner_host, owner_pid, start_timestamp FROM trial"
                    " WHERE job_id = $1 AND status = 'Dispatched'",
                    &p, 1, &r) < 0)
        return -1;
    int live = 0;
    for (int i = 0; i < r.nrows; i++) {
        const char *host = bso_cell(&r, i, 1);
        long long pid = bso_atoll(bso_cell(&r, i, 2));
        bool gone = host && strcmp(host, g_host) == 0
                        ? pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH
                        : zeus_wall_s() - bso_atof(bso_cell(&r, i, 3)) > (double)stale_s;
        if (!gone) {
            live++;
            continue;
        }
        bso_val q[] = {BV_S(job_id), BV_I(bso_atoll(bso_cell(&r, i, 0))), BV_D(zeus_wall_s())};
        if (bso_db_exec(db,
                        "UPDATE trial SET status = 'Interrupted', end_timestamp = $3, message ="
                        " 'the driver was gone before the trial ended' WHERE job_id = $1 AND"
                        " trial_number = $2",
                        q, 3, NULL) < 0) {
            bso_rows_free(&r);
            return -1;
        }
        printf("[Zeus Master] Trial %s of %s was interrupted (its driver is gone); recorded as "
               "Interrupted.\n",
               bso_cell(&r, i, 0), job_id);
    }
    bso_rows_free(&r);
    return live;
}

/* Loads the saved driver state and replays the next try. */
static int load_next(bso_db *db, const char *job_id, zeus_recurring **r, zeus_recurring_attempt *a)
{
    bso_rows rows;
    bso_val p = BV_S(job_id);
    *r = NULL;
    if (bso_db_exec(db, "SELECT driver_state FROM job WHERE job_id = $1", &p, 1, &rows) < 0)
        return fail("database: %s", bso_db_error(db));
    int rc = rows.nrows == 1 && bso_cell(&rows, 0, 0)
                 ? zeus_recurring_load(bso_cell(&rows, 0, 0), r)
                 : -1;
    bso_rows_free(&rows);
    if (rc < 0)
        return fail("the stored driver state of %s does not load: %s", job_id, zeus_last_error());
    if (zeus_recurring_next(*r, a) < 0) {
        fail("%s (the job gave up in an earlier run; give the job file a new 'job_id' to start "
             "over)",
             zeus_last_error());
        zeus_recurring_destroy(*r);
        *r = NULL;
        return 1;
    }
    return 0;
}

/* ---- one launch ------------------------------------------------------------------------------ */
typedef struct launch {
    int batch_size, recurrence, try_index, trial_number;
    double cost_ub;
    char job_name[64]; /* rec%02d+try%02d */
    /* outcome */
    int exit_status; /* waitpid status decoded: exit code, or 128 + signal */
    bool ok;         /* a result file was read */
    double energy, time;
    bool reached;
    char error[1024];
} launch;

static int subst(const jobfile *jf, const launch *l, unsigned long long seed, const char *tok,
                 char *out, size_t size)
{
    char buf[ZEUS_DOUBLE_BUF];
    if (!strcmp(tok, "{bs}") || !strcmp(tok, "{batch_size}"))
        snprintf(out, size, "%d", l->batch_size);
    else if (!strcmp(tok, "{lr}") || !strcmp(tok, "{learning_rate}")) {
        if (isnan(jf->job.default_lr))
            return -1;
        char opt[ZEUS_JOB_NAME_MAX];
        size_t i = 0;
        for (; jf->job.optimizer[i] && i + 1 < sizeof opt; i++)
            opt[i] = (char)(jf->job.optimizer[i] | 0x20);
        opt[i] = '\0';
        double ratio = (double)l->batch_size / jf->job.default_bs, lr;
        if (!strcmp(opt, "adam") || !strcmp(opt, "adadelta") || !strcmp(opt, "adamw"))
            lr = jf->job.default_lr * sqrt(ratio);
        else if (!strcmp(opt, "sgd"))
            lr = jf->job.default_lr * ratio;
        else
            return -2;
        snprintf(out, size, "%s", pyf(lr, buf));
    } else if (!strcmp(tok, "{seed}"))
        snprintf(out, size, "%llu", seed);
    else if (!strcmp(tok, "{epoch}") || !strcmp(tok, "{epochs}"))
        snprintf(out, size, "%d", jf->job.max_epochs);
    else if (!strcmp(tok, "{slice_number}"))
        snprintf(out, size, "%d", l->recurrence);
    else if (!strcmp(tok, "{target_metric}"))
        snprintf(out, size, "%s", pyf(jf->job.target_metric, buf));
    else
        snprintf(out, size, "%s", tok);
    return 0;
}

static void read_result(const char *path, launch *l)
{
    char err[512];
    char *text = read_text(path, err, sizeof err);
    if (!text) {
        snprintf(l->error, sizeof l->error, "%s does not exist.", path);
        return;
    }
    cJSON *j = cJSON_Parse(text), *e, *t, *r;
    free(text);
    e = cJSON_GetObjectItemCaseSensitive(j, "energy");
    t = cJSON_GetObjectItemCaseSensitive(j, "time");
    r = cJSON_GetObjectItemCaseSensitive(j, "reached");
    if (!cJSON_IsObject(j) || !cJSON_IsNumber(e) || !cJSON_IsNumber(t) ||
        !(cJSON_IsBool(r) || cJSON_IsString(r)) || e->valuedouble < 0 || t->valuedouble < 0)
        snprintf(l->error, sizeof l->error,
                 "%s is malformed: it needs numbers 'energy' and 'time' (>= 0) and 'reached'",
                 path);
    else {
        l->ok = true;
        l->energy = e->valuedouble;
        l->time = t->valuedouble;
        /* the original accepts a string too: lowercase == "true" */
        l->reached = cJSON_IsBool(r) ? cJSON_IsTrue(r) : strcasecmp(r->valuestring, "true") == 0;
    }
    cJSON_Delete(j);
}

static volatile sig_atomic_t g_child;

static void forward(int sig)
{
    if (g_child > 0)
        kill(g_child, sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_job(const jobfile *jf, const opts *o, const char *logdir, launch *l)
{
    char *argv[MAX_ARGS + 1], store[MAX_ARGS][512];
    unsigned long long seed = jf->seed + (unsigned long long)l->trial_number - 1;
    for (int i = 0; i < jf->argc; i++) {
        int rc = subst(jf, l, seed, jf->argv[i], store[i], sizeof store[i]);
        if (rc < 0) {
            snprintf(l->error, sizeof l->error,
                     rc == -1 ? "the command uses %s but the job file has no 'default_lr'"
                              : "the command uses %s but optimizer '%s' has no learning-rate "
                                "scaling rule (adam, adadelta, adamw, sgd)",
                     jf->argv[i], jf->job.optimizer);
            return;
        }
        argv[i] = store[i];
    }
    argv[jf->argc] = NULL;
    char logpath[4400], buf[8192];
    snprintf(logpath, sizeof logpath, "%s/%s.train.log", logdir, l->job_name);
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int out[2], errp[2];
    if (logfd < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        snprintf(l->error, sizeof l->error, "cannot set up the job's output (%s): %s", logpath,
                 strerror(errno));
        if (logfd >= 0)
            close(logfd);
        return;
    }
    char thresh[ZEUS_DOUBLE_BUF], eta[ZEUS_DOUBLE_BUF], tm[ZEUS_DOUBLE_BUF], prof[64];
    isinf(l->cost_ub) ? snprintf(thresh, sizeof thresh, "inf") : (void)pyf(l->cost_ub, thresh);
    snprintf(prof, sizeof prof, "%ld,%ld", o->warmup, o->measure);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a driver killed -9 takes its job along */
        dup2(out[1], 1);
        dup2(out[1], 2);
        setenv("ZEUS_LOG_DIR", logdir, 1);
        setenv("ZEUS_JOB_ID", l->job_name, 1);
        setenv("ZEUS_COST_THRESH", thresh, 1);
        setenv("ZEUS_ETA_KNOB", pyf(jf->eta, eta), 1);
        setenv("ZEUS_TARGET_METRIC", pyf(jf->job.target_metric, tm), 1);
        setenv("ZEUS_MONITOR_PATH", "zeus_monitor", 0);
        setenv("ZEUS_PROFILE_PARAMS", prof, 1);
        setenv("ZEUS_USE_OPTIMAL_PL", o->observer ? "False" : "True", 1);
        int e = 0;
        if (chdir(jf->workdir) < 0 || (execvp(argv[0], argv), 1))
            e = errno;
        ssize_t w = write(errp[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(out[1]);
    close(errp[1]);
    if (pid < 0) {
        snprintf(l->error, sizeof l->error, "cannot fork: %s", strerror(errno));
        close(out[0]), close(errp[0]), close(logfd);
        return;
    }
    g_child = pid;
    int e = 0;
    bool exec_failed = read(errp[0], &e, sizeof e) == (ssize_t)sizeof e;
    close(errp[0]);
    ssize_t n;
    /* The job's output goes to its log and is streamed to ours. */
    while ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n <= 0)
            continue;
        if (write(logfd, buf, (size_t)n) < 0 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
        }
        fflush(stdout);
    }
    close(out[0]);
    close(logfd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    g_child = 0;
    l->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (exec_failed) {
        snprintf(l->error, sizeof l->error, "the command failed to start: %s (in %s): %s", argv[0],
                 jf->workdir, strerror(e));
        return;
    }
    say("Job %s exited with status %d", l->job_name, l->exit_status);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s+bs%d.train.json", logdir, l->job_name, l->batch_size);
    read_result(path, l);
    if (!l->ok && l->exit_status != 0) {
        size_t len = strlen(l->error);
        snprintf(l->error + len, sizeof l->error - len, " (the job exited with status %d; see %s)",
                 l->exit_status, logpath);
    }
}

/* The power-limit profile a profiling run wrote (ZeusDataLoader's bs<B>.power.json): each
 * limit's cost per iteration, highest limit first. The original weighs time with the maximum
 * limit in mW (spec 10.6); here in W like everywhere else. */
static size_t profile_costs(const char *text, const jobfile *jf, zeus_pl_cost *out, size_t max)
{
    cJSON *j = cJSON_Parse(text ? text : "");
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(j, "train_power");
    cJSON *tp = cJSON_GetObjectItemCaseSensitive(j, "train_throughput"), *e;
    size_t n = 0;
    cJSON_ArrayForEach(e, pw)
    {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(tp, e->string);
        long mw;
        if (n == max || !cJSON_IsNumber(e) || !cJSON_IsNumber(t) || t->valuedouble <= 0 ||
            zeus_parse_long(e->string, &mw) < 0 || mw < 1000)
            continue;
        out[n].power_limit = (int)(mw / 1000);
        out[n].cost = (jf->eta * e->valuedouble + (1 - jf->eta) * jf->max_power_w) / t->valuedouble;
        n++;
    }
    for (size_t a = 1; a < n; a++) /* highest limit first, as measured */
        for (size_t b = a; b > 0 && out[b].power_limit > out[b - 1].power_limit; b--) {
            zeus_pl_cost tmp = out[b];
            out[b] = out[b - 1];
            out[b - 1] = tmp;
        }
    cJSON_Delete(j);
    return n;
}

/* ---- the driver ------------------------------------------------------------------------------ */
static int insert_trial(bso_db *db, const char *job_id, const zeus_recurring_attempt *a,
                        const opts *o, const jobfile *jf, launch *l)
{
    bso_rows r;
    bso_val p = BV_S(job_id);
    if (bso_db_exec(db, "SELECT COALESCE(MAX(trial_number), 0) + 1 FROM trial WHERE job_id = $1",
                    &p, 1, &r) < 0)
        return -1;
    l->trial_number = (int)bso_atoll(bso_cell(&r, 0, 0));
    bso_rows_free(&r);
    int pl = o->observer ? 0 : a->power_limit;
    (void)jf;
    bso_val ins[] = {
        BV_S(job_id),        BV_I(l->trial_number), BV_I(a->batch_size), pl ? BV_I(pl) : BV_NULL,
        BV_D(zeus_wall_s()), BV_I(l->recurrence),   BV_I(l->try_index),  BV_S(g_host),
        BV_I(getpid())};
    return bso_db_exec(db,
                       "INSERT INTO trial (job_id, trial_number, batch_size, type, status,"
                       " power_limit, start_timestamp, recurrence, try_index, owner_host,"
                       " owner_pid) VALUES ($1, $2, $3, 'Run', 'Dispatched', $4, $5, $6, $7, $8,"
                       " $9)",
                       ins, 9, NULL);
}

static int finish_trial(bso_db *db, const char *job_id, const launch *l, const char *status,
                        double cost, const char *message)
{
    bso_val p[] = {BV_S(job_id),
                   BV_I(l->trial_number),
                   BV_S(status),
                   BV_D(zeus_wall_s()),
                   l->ok ? BV_D(l->time) : BV_NULL,
                   l->ok ? BV_D(l->energy) : BV_NULL,
                   l->ok ? BV_D(cost) : BV_NULL,
                   l->ok ? BV_I(l->reached) : BV_NULL,
                   BV_I(l->exit_status),
                   message ? BV_S(message) : BV_NULL};
    return bso_db_exec(db,
                       "UPDATE trial SET status = $3, end_timestamp = $4, time = $5, energy = $6,"
                       " cost = $7, converged = $8, exit_status = $9, message = $10"
                       " WHERE job_id = $1 AND trial_number = $2",
                       p, 10, NULL);
}

static void history_entry(char **hist, const launch *l, int pl)
{
    char e[ZEUS_DOUBLE_BUF], t[ZEUS_DOUBLE_BUF], plb[32], *old = *hist, *n;
    snprintf(plb, sizeof plb, "%d", pl);
    if (asprintf(&n, "%s%sHistoryEntry(bs=%d, pl=%s, energy=%s, reached=%s, time=%s)",
                 old ? old : "", old ? ",\n " : "", l->batch_size, pl ? plb : "None",
                 pyf(l->energy, e), l->reached ? "True" : "False", pyf(l->time, t)) < 0)
        return;
    free(old);
    *hist = n;
}

/* Begins a transaction holding the job once no other driver's try of it is live (stale ones
 * repaired): 0 (the transaction open), 1 when --wait ran out (reported), -1 a database error. */
static int begin_when_free(bso_db *db, const jobfile *jf, const opts *o)
{
    for (double waited = 0;; waited += 0.2) {
        if (bso_db_begin(db) < 0 || bso_db_lock_job(db, jf->job_id) < 0)
            return -1;
        int live = repair(db, jf->job_id, o->stale_s);
        if (live <= 0)
            return live;
        if (bso_db_commit(db) < 0) /* keeps the repairs */
            return -1;
        if (waited >= (double)o->wait_s)
            return fail("another driver's try of %s is still running after %ld s (--wait)",
                        jf->job_id, o->wait_s);
        if (waited == 0)
            say("Another driver is running a try of this job; waiting for it.");
        zeus_sleep_ns(200000000);
    }
}

/* A profiling try: the costs of the profile the job wrote at ppath go to the driver and into the
 * database (power_profile, batch_size.profile_json). 0, 1 when the driver refused them
 * (reported, rolled back), -1 a database error. */
static int record_profile(bso_db *db, const jobfile *jf, zeus_recurring *r,
                          zeus_recurring_attempt *a, const char *ppath)
{
    char err[256];
    char *ptext = read_text(ppath, err, sizeof err);
    zeus_pl_cost costs[64];
    size_t n = profile_costs(ptext, jf, costs, 64);
    if (n == 0) { /* the job did not profile: it ran at the maximum limit */
        costs[0] = (zeus_pl_cost){jf->max_power_w, 1.0};
        n = 1;
    }
    int rc = 0;
    if (zeus_recurring_profile(r, a, costs, n) < 0) {
        bso_db_rollback(db);
        rc = fail("%s", zeus_last_error());
        goto out;
    }
    for (size_t i = 0; i < n && ptext; i++) {
        bso_val pp[] = {BV_S(jf->job_id), BV_I(a->batch_size), BV_I(costs[i].power_limit),
                        BV_D(costs[i].cost)};
        if (bso_db_exec(db,
                        "INSERT INTO power_profile (job_id, batch_size, power_limit, cost)"
                        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        pp, 4, NULL) < 0) {
            rc = -1;
            goto out;
        }
    }
    bso_val q[] = {BV_S(jf->job_id), BV_I(a->batch_size), ptext ? BV_S(ptext) : BV_NULL};
    if (bso_db_exec(db,
                    "UPDATE batch_size SET profile_json = $3 WHERE job_id = $1 AND"
                    " batch_size = $2",
                    q, 3, NULL) < 0)
        rc = -1;
out:
    free(ptext);
    return rc;
}

/* The try's end in the database: the trial's result and limit, the driver's state, the job's
 * minimum cost and stage; commits. 0 or -1 (a database error, nothing committed). */
static int save_result(bso_db *db, const jobfile *jf, zeus_recurring *r, const launch *l, int pl,
                       double cost, const char *message)
{
    char *state = NULL;
    if (zeus_recurring_save(r, &state) < 0)
        return -1;
    bso_val sp[] = {BV_S(jf->job_id), BV_S(state), BV_NULL,
                    BV_S(zeus_bso_in_pruning(zeus_recurring_bso(r)) ? "Pruning" : "MAB")};
    if (isfinite(zeus_recurring_min_cost(r)))
        sp[2] = BV_D(zeus_recurring_min_cost(r));
    bso_val plv[] = {BV_S(jf->job_id), BV_I(l->trial_number), pl ? BV_I(pl) : BV_NULL};
    int rc = 0;
    if (finish_trial(db, jf->job_id, l, l->reached ? "Succeeded" : "NotConverged", cost, message) <
            0 ||
        bso_db_exec(db, "UPDATE trial SET power_limit = $3 WHERE job_id = $1 AND trial_number = $2",
                    plv, 3, NULL) < 0 ||
        bso_db_exec(db,
                    "UPDATE job SET driver_state = $2, min_cost = $3, stage = $4"
                    " WHERE job_id = $1",
                    sp, 4, NULL) < 0 ||
        bso_db_commit(db) < 0)
        rc = -1;
    free(state);
    return rc;
}

/* Adds the try to the history and rewrites LOGDIR/history.py (the original's list). */
static void write_history(const char *logdir, char **hist, const launch *l, int pl)
{
    history_entry(hist, l, pl);
    char hpath[4400];
    snprintf(hpath, sizeof hpath, "%s/history.py", logdir);
    char *h = NULL;
    if (asprintf(&h, "[%s]\n", *hist ? *hist : "") >= 0) {
        zeus_write_file(hpath, h, strlen(h));
        free(h);
    }
}

static void announce_try(const launch *l, const zeus_recurring_attempt *a, const opts *o)
{
    char ub[ZEUS_DOUBLE_BUF];
    say("Recurrence %d, try %d (trial %d): batch size %d, power limit %s, cost bound %s",
        l->recurrence, l->try_index, l->trial_number, a->batch_size,
        a->profile    ? "to profile"
        : o->observer ? "max (observer)"
                      : "known",
        isinf(a->cost_ub) ? "inf" : pyf(a->cost_ub, ub));
}

static int one_try(bso_db *db, const jobfile *jf, const opts *o, const char *logdir, char **hist,
                   bool *recurrence_done)
{
    zeus_recurring *r = NULL;
    zeus_recurring_attempt a;
    launch l = {0};
    int rc = 1;
    *recurrence_done = false;
    /* Phase 1: decide and record the try. */
    int free_rc = begin_when_free(db, jf, o);
    if (free_rc < 0)
        goto dbfail;
    if (free_rc > 0)
        return free_rc;
    if ((rc = load_next(db, jf->job_id, &r, &a)) != 0) {
        bso_db_rollback(db);
        return rc;
    }
    l.batch_size = a.batch_size;
    l.recurrence = (int)a.recurrence + 1;
    l.try_index = a.try_index;
    l.cost_ub = a.cost_ub;
    snprintf(l.job_name, sizeof l.job_name, "rec%02d+try%02d", l.recurrence, l.try_index);
    bso_rows rows = {0};
    bso_val key[] = {BV_S(jf->job_id), BV_I(a.batch_size)};
    if (insert_trial(db, jf->job_id, &a, o, jf, &l) < 0 ||
        bso_db_exec(db, "SELECT profile_json FROM batch_size WHERE job_id = $1 AND batch_size = $2",
                    key, 2, &rows) < 0 ||
        bso_db_commit(db) < 0)
        goto dbfail;
    zeus_recurring_destroy(r);
    r = NULL;
    /* A profile measured by an earlier run (in any log folder) spares this one the profiling. */
    char ppath[4400];
    snprintf(ppath, sizeof ppath, "%s/bs%d.power.json", logdir, a.batch_size);
    if (rows.nrows && bso_cell(&rows, 0, 0) && access(ppath, F_OK) != 0)
        zeus_write_file(ppath, bso_cell(&rows, 0, 0), strlen(bso_cell(&rows, 0, 0)));
    bso_rows_free(&rows);
    announce_try(&l, &a, o);

    run_job(jf, o, logdir, &l);

    /* Phase 2: report and save, with the same try replayed from the saved state. */
    if (bso_db_begin(db) < 0 || bso_db_lock_job(db, jf->job_id) < 0)
        goto dbfail;
    if (l.error[0]) {
        if (finish_trial(db, jf->job_id, &l, "Failed", 0, l.error) < 0 || bso_db_commit(db) < 0)
            goto dbfail;
        return fail("%s", l.error);
    }
    if ((rc = load_next(db, jf->job_id, &r, &a)) != 0) {
        bso_db_rollback(db);
        return rc;
    }
    if (a.batch_size != l.batch_size) {
        bso_db_rollback(db);
        zeus_recurring_destroy(r);
        return fail("the job's state moved on while trial %d ran", l.trial_number);
    }
    if (a.profile) {
        int prc = record_profile(db, jf, r, &a, ppath);
        if (prc < 0)
            goto dbfail;
        if (prc > 0) {
            zeus_recurring_destroy(r);
            return prc;
        }
    }
    zeus_recurring_result res = {l.energy, l.time, l.reached};
    zeus_recurring_verdict v;
    int rep = zeus_recurring_report(r, &res, &v);
    char msg[512] = "";
    if (rep < 0 && rep != ZEUS_ESTATE) {
        bso_db_rollback(db);
        zeus_recurring_destroy(r);
        return fail("%s", zeus_last_error());
    }
    if (rep < 0)
        snprintf(msg, sizeof msg, "%s", zeus_last_error());
    else if (!v.ran)
        snprintf(msg, sizeof msg, "could not run one epoch under the cost bound");
    int pl = o->observer ? 0 : a.power_limit;
    if (save_result(db, jf, r, &l, pl, v.cost, msg[0] ? msg : NULL) < 0)
        goto dbfail;
    write_history(logdir, hist, &l, pl);
    char c[ZEUS_DOUBLE_BUF];
    say("Trial %d: energy %.2f J, time %.2f s, cost %s, reached %s", l.trial_number, l.energy,
        l.time, pyf(v.cost, c), l.reached ? "true" : "false");
    zeus_recurring_destroy(r);
    if (rep < 0)
        return fail("%s", msg);
    *recurrence_done = v.done;
    return 0;
dbfail:
    fail("database: %s", bso_db_error(db));
    bso_db_rollback(db);
    zeus_recurring_destroy(r);
    return 1;
}

static void run_usage(FILE *f)
{
    fprintf(f, "usage: zeus run JOBFILE [--recurrences N] [--db PATH|URL] [--log-base DIR]\n"
               "                [--observer] [--wait SECONDS] [--stale-after SECONDS]\n"
               "                [--profile-params WARMUP,MEASURE] [--policy NAME]\n\n"
               "Runs recurrences of the job described by JOBFILE (JSON, docs/bso.md), each\n"
               "with the batch size the optimizer chooses, continuing from the state kept in\n"
               "the store (as the original's ZeusMaster).\n\n"
               "options:\n"
               "  --recurrences N        recurrences to run (default 1)\n"
               "  --db PATH|URL          the store: a SQLite file or postgresql://... (default\n"
               "                         $ZEUS_DB, else <data dir>/zeus/history.db)\n"
               "  --log-base DIR         where the logs go (default $ZEUS_LOG_BASE, else\n"
               "                         zeus_logs)\n"
               "  --observer             observer mode: the job keeps the maximum power limit\n"
               "                         (ZEUS_USE_OPTIMAL_PL=False)\n"
               "  --wait SECONDS         how long to wait for another driver's try of the same\n"
               "                         job (default 3600)\n"
               "  --stale-after SECONDS  a try started this long ago by a driver that is gone\n"
               "                         is abandoned (default 86400)\n"
               "  --profile-params W,M   power-limit profiling: warmup and measured steps\n"
               "                         (default 10,40)\n"
               "  --policy NAME          the batch-size policy: pruning-gts (the original's,\n"
               "                         default) or walk-ts (docs/simulate.md); overrides the\n"
               "                         job file's \"policy\"; part of the job's configuration\n"
               "  -h, --help             show this help\n\n"
               "example:\n"
               "  zeus run job.json --recurrences 5 --db /var/lib/zeus/history.db\n");
}

/* The command line: 0, -1 after --help, or 2 (usage error, said). */
static int parse_args(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return -1;
        } else if (!strcmp(a, "--observer"))
            o->observer = true;
        else if (!strcmp(a, "--db") && v)
            o->db = v, i++;
        else if (!strcmp(a, "--log-base") && v)
            o->log_base = v, i++;
        else if (!strcmp(a, "--policy") && v)
            o->policy = v, i++;
        else if (!strcmp(a, "--recurrences") && v &&
                 bso_parse_long(v, 1, 1000000, &o->recurrences) == 0)
            i++;
        else if (!strcmp(a, "--profile-params") && v &&
                 sscanf(v, "%ld,%ld", &o->warmup, &o->measure) == 2 && o->warmup > 0 &&
                 o->measure > 0)
            i++;
        else if (!strcmp(a, "--wait") && v && bso_parse_long(v, 0, 1L << 30, &o->wait_s) == 0)
            i++;
        else if (!strcmp(a, "--stale-after") && v &&
                 bso_parse_long(v, 1, 1L << 30, &o->stale_s) == 0)
            i++;
        else if (a[0] != '-' && !o->jobfile)
            o->jobfile = a;
        else {
            fprintf(stderr, "zeus run: error: bad argument '%s'\n", a);
            run_usage(stderr);
            return 2;
        }
    }
    if (!o->jobfile) {
        run_usage(stderr);
        return 2;
    }
    int policy;
    if (o->policy && policy_of("--policy", o->policy, &policy) != 0)
        return 2;
    return 0;
}

int bso_cmd_run(int argc, char **argv)
{
    opts o = {.recurrences = 1, .wait_s = 3600, .stale_s = 86400, .warmup = 10, .measure = 40};
    int prc = parse_args(argc, argv, &o);
    if (prc != 0)
        return prc < 0 ? 0 : prc;
    gethostname(g_host, sizeof g_host - 1);
    jobfile jf;
    char url[4096], err[512], logdir[4096];
    int rc = 1;
    bso_db *db = NULL;
    char *hist = NULL;
    struct sigaction sa = {.sa_handler = forward};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (load_jobfile(o.jobfile, &jf) != 0 ||
        (o.policy && policy_of("--policy", o.policy, &jf.policy) != 0) ||
        (!jf.max_power_w && gpu_max_power(&jf.max_power_w) != 0) ||
        bso_resolve_db(o.db, url, sizeof url) < 0)
        goto out;
    if (bso_db_open(url, &db, err, sizeof err) < 0) {
        fail("database %s: %s", url, err);
        goto out;
    }
    if (ensure_job(db, &jf) != 0)
        goto out;
    /* <log base>/<job>+x<N>+eta<eta>+beta<beta>+<YYYYmmddHHMMSS> (the original writes the
     * epoch seconds for the seconds, spec 10.8) */
    char base[4096], stamp[32], e[ZEUS_DOUBLE_BUF], b[ZEUS_DOUBLE_BUF];
    const char *lb = o.log_base ? o.log_base : getenv("ZEUS_LOG_BASE");
    snprintf(base, sizeof base, "%s", lb && *lb ? lb : "zeus_logs");
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", localtime(&now));
    if (snprintf(logdir, sizeof logdir, "%s/%s+x%ld+eta%s+beta%s+%s", base, jf.job_id,
                 o.recurrences, pyf(jf.eta, e), pyf(jf.beta, b), stamp) >= (int)sizeof logdir) {
        fail("log folder name too long");
        goto out;
    }
    char mk[4096];
    snprintf(mk, sizeof mk, "%s", logdir);
    for (char *p = mk + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(mk, 0755);
            *p = '/';
        }
    if (mkdir(logdir, 0755) < 0 && errno != EEXIST) {
        fail("cannot create %s: %s", logdir, strerror(errno));
        goto out;
    }
    if (logdir[0] != '/') { /* the job runs in its workdir: give it an absolute path */
        char cwd[4096], abs[4096];
        if (getcwd(cwd, sizeof cwd) &&
            snprintf(abs, sizeof abs, "%s/%s", cwd, logdir) < (int)sizeof abs)
            snprintf(logdir, sizeof logdir, "%s", abs);
    }
    say("Job %s, log folder %s", jf.job_id, logdir);
    for (long done = 0; done < o.recurrences;) {
        bool rec_done;
        if ((rc = one_try(db, &jf, &o, logdir, &hist, &rec_done)) != 0)
            goto out;
        done += rec_done;
    }
    rc = 0;
out:
    free(hist);
    bso_db_close(db);
    cJSON_Delete(jf.doc);
    return rc;
}
