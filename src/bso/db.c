/* The two engines behind db.h, and the schema with its migrations. */
#include "db.h"
#include "zeus/util.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bso_db {
    sqlite3 *lite;
    PGconn *pg;
    char err[512];
    bool unavailable; /* the last error: the database is down, read-only or gone */
    /* SQLite: the file opened, by path and identity. A file deleted or replaced under a running
     * process would take every later write with it (into the unlinked inode): each transaction
     * checks that the path still names this file. */
    char *url, *path;
    dev_t dev;
    ino_t ino;
};

/* Schema migrations, applied in order at open; zeus_schema.version counts those applied. Never
 * edit a released step: add one. Doubles are DOUBLE PRECISION (IEEE, +inf allowed in both);
 * booleans are INTEGER 0/1; timestamps are Unix seconds. */
static const char *const migrations[] = {
    /* 1: jobs, batch sizes, trials, bandit arms, power profiles */
    "CREATE TABLE job ("
    " job_id TEXT PRIMARY KEY, job_id_prefix TEXT NOT NULL, kind TEXT NOT NULL,"
    " spec TEXT NOT NULL, default_batch_size INTEGER NOT NULL,"
    " eta_knob DOUBLE PRECISION NOT NULL, beta_knob DOUBLE PRECISION,"
    " target_metric DOUBLE PRECISION NOT NULL, higher_is_better_metric INTEGER NOT NULL,"
    " max_epochs INTEGER NOT NULL, num_pruning_rounds INTEGER NOT NULL,"
    " window_size INTEGER NOT NULL, max_power DOUBLE PRECISION NOT NULL,"
    " number_of_gpus INTEGER NOT NULL, gpu_model TEXT NOT NULL,"
    " mab_prior_mean DOUBLE PRECISION NOT NULL, mab_prior_precision DOUBLE PRECISION NOT NULL,"
    " mab_num_explorations INTEGER NOT NULL, mab_seed BIGINT, rng_state TEXT,"
    " stage TEXT NOT NULL DEFAULT 'Pruning', min_cost DOUBLE PRECISION,"
    " min_cost_batch_size INTEGER NOT NULL, driver_state TEXT,"
    " created DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE batch_size ("
    " job_id TEXT NOT NULL REFERENCES job(job_id) ON DELETE CASCADE,"
    " batch_size INTEGER NOT NULL, profile_json TEXT, PRIMARY KEY (job_id, batch_size));"
    "CREATE TABLE arm ("
    " job_id TEXT NOT NULL, batch_size INTEGER NOT NULL,"
    " param_mean DOUBLE PRECISION NOT NULL, param_precision DOUBLE PRECISION NOT NULL,"
    " reward_precision DOUBLE PRECISION NOT NULL, num_observations INTEGER NOT NULL,"
    " PRIMARY KEY (job_id, batch_size), FOREIGN KEY (job_id, batch_size)"
    " REFERENCES batch_size(job_id, batch_size) ON DELETE CASCADE);"
    "CREATE TABLE trial ("
    " job_id TEXT NOT NULL, trial_number INTEGER NOT NULL, batch_size INTEGER NOT NULL,"
    " type TEXT NOT NULL, status TEXT NOT NULL, power_limit INTEGER,"
    " start_timestamp DOUBLE PRECISION NOT NULL, end_timestamp DOUBLE PRECISION,"
    " time DOUBLE PRECISION, energy DOUBLE PRECISION, cost DOUBLE PRECISION,"
    " converged INTEGER, exit_status INTEGER, recurrence INTEGER, try_index INTEGER,"
    " owner_host TEXT, owner_pid INTEGER, message TEXT,"
    " PRIMARY KEY (job_id, trial_number), FOREIGN KEY (job_id, batch_size)"
    " REFERENCES batch_size(job_id, batch_size) ON DELETE CASCADE);"
    "CREATE TABLE power_profile ("
    " job_id TEXT NOT NULL, batch_size INTEGER NOT NULL, power_limit INTEGER NOT NULL,"
    " cost DOUBLE PRECISION NOT NULL, PRIMARY KEY (job_id, batch_size, power_limit),"
    " FOREIGN KEY (job_id, batch_size) REFERENCES batch_size(job_id, batch_size)"
    " ON DELETE CASCADE);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

bool bso_db_is_pg(const bso_db *db)
{
    return db->pg != NULL;
}
const char *bso_db_error(const bso_db *db)
{
    return db->err;
}
bool bso_db_unavailable(const bso_db *db)
{
    return db->unavailable;
}

/* Errors that say the database cannot take the request now (busy past the timeout, read-only,
 * disk full or failing, the file gone), not that the request or the server is wrong. */
static bool sqlite_unavailable(int code)
{
    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return true;
    default:
        return false;
    }
}

/* SQLSTATE classes 08 (connection), 53 (insufficient resources), 57P (shutdown, cannot connect
 * now), 58 (system error), 25006 (read-only transaction: a standby, default_transaction_read_only).
 */
static bool pg_unavailable(PGconn *pg, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(pg) == CONNECTION_BAD || !state)
        return PQstatus(pg) == CONNECTION_BAD;
    return strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
           strncmp(state, "57P", 3) == 0 || strncmp(state, "58", 2) == 0 ||
           strcmp(state, "25006") == 0;
}

/* SQLite: 0 while the path names the file opened, else -1 with the error set. */
static int check_store(bso_db *db)
{
    if (!db->path)
        return 0;
    struct stat st;
    const char *what = NULL;
    if (stat(db->path, &st) < 0)
        what = errno == ENOENT ? "was deleted" : "cannot be checked";
    else if (st.st_dev != db->dev || st.st_ino != db->ino)
        what = "was replaced by another file";
    if (!what)
        return 0;
    snprintf(db->err, sizeof db->err,
             "the SQLite store %s %s while this process had it open: nothing is written until "
             "the original file is back at that path (or the server is restarted)",
             db->path, what);
    db->unavailable = true;
    return -1;
}

double bso_atof(const char *s)
{
    return s ? strtod(s, NULL) : NAN;
}
long long bso_atoll(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

void bso_rows_free(bso_rows *rows)
{
    if (!rows || !rows->cells)
        return;
    for (size_t i = 0; i < (size_t)rows->nrows * (size_t)rows->ncols; i++)
        free(rows->cells[i]);
    free(rows->cells);
    rows->cells = NULL;
    rows->nrows = rows->ncols = 0;
}

static void fmt_double(double d, char *buf, size_t size, bool pg)
{
    if (isinf(d))
        snprintf(buf, size, "%s", d > 0 ? (pg ? "Infinity" : "inf") : (pg ? "-Infinity" : "-inf"));
    else if (isnan(d))
        snprintf(buf, size, "NaN");
    else
        snprintf(buf, size, "%.17g", d);
}

static int exec_sqlite(bso_db *db, const char *sql, const bso_val *params, int n, bso_rows *rows)
{
    sqlite3_stmt *st = NULL;
    const char *tail = sql;
    int rc = -1, cap = 0;
    if (rows)
        *rows = (bso_rows){0};
    /* Several statements without parameters (migrations) run one after the other. */
    while (tail && *tail) {
        while (*tail == ' ' || *tail == '\n' || *tail == ';')
            tail++;
        if (!*tail)
            break;
        if (sqlite3_prepare_v2(db->lite, tail, -1, &st, &tail) != SQLITE_OK)
            goto fail;
        for (int i = 0; i < n; i++) {
            char name[16];
            snprintf(name, sizeof name, "$%d", i + 1);
            int idx = sqlite3_bind_parameter_index(st, name);
            if (!idx)
                continue;
            switch (params[i].type) {
            case BSO_TEXT:
                sqlite3_bind_text(st, idx, params[i].s, -1, SQLITE_TRANSIENT);
                break;
            case BSO_INT:
                sqlite3_bind_int64(st, idx, params[i].i);
                break;
            case BSO_REAL:
                sqlite3_bind_double(st, idx, params[i].d);
                break;
            default:
                sqlite3_bind_null(st, idx);
            }
        }
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            if (!rows)
                continue;
            int nc = sqlite3_column_count(st);
            if (rows->nrows == cap) {
                cap = cap ? cap * 2 : 8;
                char **c = realloc(rows->cells, (size_t)cap * (size_t)nc * sizeof *c);
                if (!c)
                    goto fail;
                rows->cells = c;
            }
            rows->ncols = nc;
            for (int c = 0; c < nc; c++) {
                char buf[64], *v = NULL;
                switch (sqlite3_column_type(st, c)) {
                case SQLITE_NULL:
                    break;
                case SQLITE_FLOAT:
                    fmt_double(sqlite3_column_double(st, c), buf, sizeof buf, false);
                    v = strdup(buf);
                    break;
                default:
                    v = strdup((const char *)sqlite3_column_text(st, c));
                }
                rows->cells[(size_t)rows->nrows * (size_t)nc + (size_t)c] = v;
            }
            rows->nrows++;
        }
        if (s != SQLITE_DONE)
            goto fail;
        sqlite3_finalize(st);
        st = NULL;
    }
    return 0;
fail:
    snprintf(db->err, sizeof db->err, "sqlite: %s", sqlite3_errmsg(db->lite));
    db->unavailable = sqlite_unavailable(sqlite3_errcode(db->lite));
    sqlite3_finalize(st);
    if (rows)
        bso_rows_free(rows);
    return rc;
}

#define PG_MAX_PARAMS 24 /* the most a statement here binds: INSERT INTO job, 19 */

static int exec_pg(bso_db *db, const char *sql, const bso_val *params, int n, bso_rows *rows)
{
    char bufs[PG_MAX_PARAMS][64];
    const char *vals[PG_MAX_PARAMS];
    if (rows)
        *rows = (bso_rows){0};
    if (n > PG_MAX_PARAMS) {
        snprintf(db->err, sizeof db->err, "too many parameters");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        switch (params[i].type) {
        case BSO_TEXT:
            vals[i] = params[i].s;
            break;
        case BSO_INT:
            snprintf(bufs[i], sizeof bufs[i], "%lld", params[i].i);
            vals[i] = bufs[i];
            break;
        case BSO_REAL:
            fmt_double(params[i].d, bufs[i], sizeof bufs[i], true);
            vals[i] = bufs[i];
            break;
        default:
            vals[i] = NULL;
        }
    }
    PGresult *res =
        n ? PQexecParams(db->pg, sql, n, NULL, vals, NULL, NULL, 0) : PQexec(db->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(db->err, sizeof db->err, "postgresql: %s", PQerrorMessage(db->pg));
        db->err[strcspn(db->err, "\n")] = '\0';
        db->unavailable = pg_unavailable(db->pg, res);
        PQclear(res);
        /* A lost connection (server restart, failover) fails this statement; the next one
         * runs on a new connection. */
        if (PQstatus(db->pg) == CONNECTION_BAD)
            PQreset(db->pg);
        return -1;
    }
    if (rows && st == PGRES_TUPLES_OK && PQntuples(res) > 0) {
        rows->nrows = PQntuples(res);
        rows->ncols = PQnfields(res);
        rows->cells = calloc((size_t)rows->nrows * (size_t)rows->ncols, sizeof(char *));
        for (int r = 0; rows->cells && r < rows->nrows; r++)
            for (int c = 0; c < rows->ncols; c++)
                if (!PQgetisnull(res, r, c))
                    rows->cells[(size_t)r * (size_t)rows->ncols + (size_t)c] =
                        strdup(PQgetvalue(res, r, c));
    }
    PQclear(res);
    return 0;
}

int bso_db_exec(bso_db *db, const char *sql, const bso_val *params, int n, bso_rows *rows)
{
    return db->pg ? exec_pg(db, sql, params, n, rows) : exec_sqlite(db, sql, params, n, rows);
}

int bso_db_begin(bso_db *db)
{
    if (check_store(db) < 0)
        return -1;
    return bso_db_exec(db, db->pg ? "BEGIN" : "BEGIN IMMEDIATE", NULL, 0, NULL);
}
int bso_db_commit(bso_db *db)
{
    if (bso_db_exec(db, "COMMIT", NULL, 0, NULL) < 0)
        return -1;
    /* Gone between BEGIN and COMMIT: the write went to the unlinked file, so it is not in the
     * store and must not be acknowledged. */
    return check_store(db);
}
void bso_db_rollback(bso_db *db)
{
    char keep[sizeof db->err];
    bool unavailable = db->unavailable;
    memcpy(keep, db->err, sizeof keep); /* the error that made us roll back is the one to tell */
    bso_db_exec(db, "ROLLBACK", NULL, 0, NULL);
    memcpy(db->err, keep, sizeof keep);
    db->unavailable = unavailable;
}

int bso_db_lock_job(bso_db *db, const char *job_id)
{
    bso_rows r;
    bso_val p = BV_S(job_id);
    if (bso_db_exec(db,
                    db->pg ? "SELECT 1 FROM job WHERE job_id = $1 FOR UPDATE"
                           : "SELECT 1 FROM job WHERE job_id = $1",
                    &p, 1, &r) < 0)
        return -1;
    int found = r.nrows > 0;
    bso_rows_free(&r);
    return found ? 0 : 1;
}

static int migrate(bso_db *db)
{
    bso_rows r;
    if (bso_db_begin(db) < 0)
        return -1;
    /* One process migrates at a time (SQLite: the write lock taken by BEGIN IMMEDIATE). */
    if (db->pg && bso_db_exec(db, "SELECT pg_advisory_xact_lock(7395001)", NULL, 0, NULL) < 0)
        goto fail;
    if (bso_db_exec(db, "CREATE TABLE IF NOT EXISTS zeus_schema (version INTEGER NOT NULL)", NULL,
                    0, NULL) < 0 ||
        bso_db_exec(db, "SELECT version FROM zeus_schema", NULL, 0, &r) < 0)
        goto fail;
    int version = r.nrows ? (int)bso_atoll(bso_cell(&r, 0, 0)) : -1;
    bso_rows_free(&r);
    if (version < 0) {
        if (bso_db_exec(db, "INSERT INTO zeus_schema (version) VALUES (0)", NULL, 0, NULL) < 0)
            goto fail;
        version = 0;
    }
    if (version > N_MIGRATIONS) {
        snprintf(db->err, sizeof db->err,
                 "the database has schema version %d, newer than this zeus knows (%d)", version,
                 N_MIGRATIONS);
        goto fail;
    }
    for (int v = version; v < N_MIGRATIONS; v++) {
        bso_val p = BV_I(v + 1);
        if (bso_db_exec(db, migrations[v], NULL, 0, NULL) < 0 ||
            bso_db_exec(db, "UPDATE zeus_schema SET version = $1", &p, 1, NULL) < 0)
            goto fail;
    }
    return bso_db_commit(db);
fail:
    bso_db_rollback(db);
    return -1;
}

/* like: another connection of this process to its store: the file must exist already and be the
 * one like has open. */
static int db_open(const char *url, const bso_db *like, bso_db **out, char *err, size_t errlen)
{
    bso_db *db = calloc(1, sizeof *db);
    *out = NULL;
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        db->pg = PQconnectdb(url);
        if (PQstatus(db->pg) != CONNECTION_OK) {
            snprintf(db->err, sizeof db->err, "cannot connect to PostgreSQL: %s",
                     PQerrorMessage(db->pg));
            db->err[strcspn(db->err, "\n")] = '\0';
            goto fail;
        }
        bso_db_exec(db, "SET client_min_messages = warning", NULL, 0, NULL);
    } else {
        const char *path = strncmp(url, "sqlite://", 9) == 0 ? url + 9 : url;
        if (like && like->path) { /* the file like has open, and no other */
            if (!(db->path = strdup(like->path)))
                goto oom;
            db->dev = like->dev;
            db->ino = like->ino;
            if (check_store(db) < 0)
                goto fail;
        }
        int flags = SQLITE_OPEN_READWRITE | (like ? 0 : SQLITE_OPEN_CREATE);
        if (sqlite3_open_v2(path, &db->lite, flags, NULL) != SQLITE_OK) {
            snprintf(db->err, sizeof db->err, "cannot open SQLite database %s: %s", path,
                     db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
            goto fail;
        }
        sqlite3_busy_timeout(db->lite, 30000);
        /* WAL: readers never block the writer; synchronous=NORMAL is durable across a killed
         * process (only a power cut may lose the last commits). */
        /* Switching a new database to WAL takes an exclusive lock without waiting on the busy
         * handler: a concurrent first open retries for as long as the busy timeout. */
        int rc, tries = 0;
        while ((rc = bso_db_exec(db,
                                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                 " PRAGMA foreign_keys=ON;",
                                 NULL, 0, NULL)) < 0 &&
               (sqlite3_errcode(db->lite) & 0xff) == SQLITE_BUSY && tries++ < 1500)
            usleep(20000);
        if (rc < 0) {
            char keep[sizeof db->err];
            snprintf(keep, sizeof keep, "%s", db->err);
            snprintf(db->err, sizeof db->err, "cannot use SQLite database %s: %s", path, keep);
            goto fail;
        }
        struct stat st;
        if (db->path) { /* replaced while it was being opened? */
            if (check_store(db) < 0)
                goto fail;
        } else if (!like && stat(path, &st) == 0) { /* a file, not :memory:: remember which */
            if (!(db->path = strdup(path)))
                goto oom;
            db->dev = st.st_dev;
            db->ino = st.st_ino;
        }
    }
    if (!(db->url = strdup(url)))
        goto oom;
    if (migrate(db) < 0)
        goto fail;
    *out = db;
    return 0;
oom:
    snprintf(db->err, sizeof db->err, "out of memory");
fail:
    snprintf(err, errlen, "%s", db->err);
    bso_db_close(db);
    return -1;
}

int bso_db_open(const char *url, bso_db **out, char *err, size_t errlen)
{
    return db_open(url, NULL, out, err, errlen);
}

int bso_db_open_like(const bso_db *like, bso_db **out, char *err, size_t errlen)
{
    return db_open(like->url, like, out, err, errlen);
}

void bso_db_close(bso_db *db)
{
    if (!db)
        return;
    if (db->pg)
        PQfinish(db->pg);
    if (db->lite)
        sqlite3_close(db->lite);
    free(db->url);
    free(db->path);
    free(db);
}

int bso_db_insert_job(bso_db *db, const bso_job_row *j, const int *batch_sizes, int n,
                      bool *created)
{
    bso_val p[] = {BV_S(j->job_id),
                   BV_S(j->job_id_prefix),
                   BV_S(j->kind),
                   BV_S(j->spec),
                   BV_I(j->default_batch_size),
                   j->eta_knob,
                   j->beta_knob,
                   BV_D(j->target_metric),
                   BV_I(j->higher_is_better_metric),
                   BV_I(j->max_epochs),
                   BV_I(j->num_pruning_rounds),
                   BV_I(j->window_size),
                   BV_D(j->max_power),
                   BV_I(j->number_of_gpus),
                   BV_S(j->gpu_model),
                   BV_I(j->mab_num_explorations),
                   j->rng_state,
                   j->driver_state,
                   BV_D(zeus_wall_s())};
    bso_rows r;
    if (bso_db_exec(db,
                    "INSERT INTO job (job_id, job_id_prefix, kind, spec, default_batch_size,"
                    " eta_knob, beta_knob, target_metric, higher_is_better_metric, max_epochs,"
                    " num_pruning_rounds, window_size, max_power, number_of_gpus, gpu_model,"
                    " mab_prior_mean, mab_prior_precision, mab_num_explorations, mab_seed,"
                    " rng_state, stage, min_cost, min_cost_batch_size, driver_state, created)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
                    " 0, 0, $16, NULL, $17, 'Pruning', NULL, $5, $18, $19)"
                    " ON CONFLICT (job_id) DO NOTHING RETURNING job_id",
                    p, 19, &r) < 0)
        return -1;
    *created = r.nrows == 1;
    bso_rows_free(&r);
    for (int i = 0; *created && i < n; i++) {
        bso_val q[] = {BV_S(j->job_id), BV_I(batch_sizes[i])};
        if (bso_db_exec(db, "INSERT INTO batch_size (job_id, batch_size) VALUES ($1, $2)", q, 2,
                        NULL) < 0)
            return -1;
    }
    return 0;
}
