/* The service's jobs registered with "policy": "walk-ts" (docs/bso.md): libzeus's batch-size
 * optimizer (zeus_bso with ZEUS_BSO_POLICY_WALK_TS) decides, and its whole state (zeus_bso_save)
 * lives in the job's driver_state, loaded and saved inside the request's transaction that holds
 * the job's lock. Jobs without a policy keep the original server's pruning and arms (svc.c). */
#include "svc_policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zeus/util.h"

/* The optimizer of a new job: its sizes, default and seed (the job's mab_seed, else the time). */
static int create(const job *jb, zeus_bso **out)
{
    zeus_job j;
    zeus_bso_config cfg;
    zeus_bso_config_default(&cfg);
    cfg.policy = jb->policy;
    cfg.concurrency = true; /* clients may run trials side by side */
    cfg.seed = jb->has_seed ? (uint64_t)jb->seed : (uint64_t)time(NULL);
    int rc = zeus_job_init(&j, "service", "job", "walk-ts", jb->target,
                           jb->max_epochs > 0x7fffffff ? 0x7fffffff : (int)jb->max_epochs,
                           jb->default_bs, NAN);
    if (rc == ZEUS_OK)
        rc = zeus_bso_create(&cfg, &j, jb->bs, (size_t)jb->n_bs, out);
    return rc;
}

int svc_policy_initial_state(const job *jb, char **state)
{
    zeus_bso *bso;
    int rc = create(jb, &bso);
    if (rc == ZEUS_OK) {
        rc = zeus_bso_save(bso, state);
        zeus_bso_destroy(bso);
    }
    return rc;
}

/* The job's optimizer from driver_state: 0, -1 on a database error, -2 (zeus_last_error). */
static int load(bso_db *db, const job *jb, zeus_bso **out)
{
    bso_rows r;
    bso_val p = BV_S(jb->job_id);
    if (bso_db_exec(db, "SELECT driver_state FROM job WHERE job_id = $1", &p, 1, &r) < 0)
        return -1;
    const char *state = r.nrows ? bso_cell(&r, 0, 0) : NULL;
    int rc = state ? zeus_bso_load(state, out) : ZEUS_ENOENT;
    bso_rows_free(&r);
    return rc == ZEUS_OK ? 0 : -2;
}

static int save(bso_db *db, const job *jb, const zeus_bso *bso)
{
    char *state;
    if (zeus_bso_save(bso, &state) != ZEUS_OK)
        return -2;
    bso_val p[] = {BV_S(jb->job_id), BV_S(state)};
    int rc = bso_db_exec(db, "UPDATE job SET driver_state = $2 WHERE job_id = $1", p, 2, NULL);
    zeus_free(state);
    return rc < 0 ? -1 : 0;
}

/* Whether an exploration trial is running (the walk waits for its result). */
static int exploring(bso_db *db, const job *jb, bool *running)
{
    bso_rows r;
    bso_val p = BV_S(jb->job_id);
    if (bso_db_exec(db,
                    "SELECT 1 FROM trial WHERE job_id = $1 AND type = 'Exploration'"
                    " AND status = 'Dispatched'",
                    &p, 1, &r) < 0)
        return -1;
    *running = r.nrows > 0;
    bso_rows_free(&r);
    return 0;
}

int svc_policy_next(bso_db *db, const job *jb, int *bs, const char **type)
{
    zeus_bso *bso;
    bool running = false;
    int rc = load(db, jb, &bso);
    if (rc < 0)
        return rc;
    bool walking = zeus_bso_in_pruning(bso);
    if (walking && (rc = exploring(db, jb, &running)) == 0 && running) {
        /* As the original's pruning: a concurrent trial takes the best known size. */
        *bs = jb->min_cost_bs > 0 ? jb->min_cost_bs : jb->default_bs;
        *type = "Concurrent";
    } else if (rc == 0) {
        rc = zeus_bso_predict(bso, bs) == ZEUS_OK ? save(db, jb, bso) : -2;
        *type = walking ? "Exploration" : "MAB";
    }
    zeus_bso_destroy(bso);
    return rc;
}

int svc_policy_observe(bso_db *db, const job *jb, int bs, double cost, bool converged)
{
    zeus_bso *bso;
    int rc = load(db, jb, &bso);
    if (rc < 0)
        return rc;
    rc = zeus_bso_observe(bso, bs, cost, converged) == ZEUS_OK ? save(db, jb, bso) : -2;
    zeus_bso_destroy(bso);
    return rc;
}

int svc_policy_bound_factor(bso_db *db, const job *jb, int bs, double *factor)
{
    zeus_bso *bso;
    int rc = load(db, jb, &bso);
    if (rc < 0)
        return rc;
    *factor = zeus_bso_bound_factor(bso, bs, jb->beta);
    zeus_bso_destroy(bso);
    return 0;
}
