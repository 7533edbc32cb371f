/* Zeus batch-size service: one SQL interface over two engines, SQLite (a file, the default) and
 * PostgreSQL (a postgresql:// URL, for clusters). Every statement is written once, with $1..$N
 * placeholders, in the SQL both engines understand. Values cross as typed parameters; results
 * come back as text (doubles with 17 significant digits, so they round-trip exactly).
 *
 * Concurrency is the database's: bso_db_begin starts a write transaction (SQLite: BEGIN
 * IMMEDIATE, which takes the database's write lock; PostgreSQL: BEGIN, and bso_db_lock_job then
 * takes the job row's lock with SELECT ... FOR UPDATE). No in-process mutex is involved, so any
 * number of processes on any number of hosts may share one database. */
#ifndef ZEUS_BSO_DB_H
#define ZEUS_BSO_DB_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bso_db bso_db;

enum { BSO_NULL, BSO_TEXT, BSO_INT, BSO_REAL };
typedef struct bso_val {
    int type;
    const char *s;
    long long i;
    double d;
} bso_val;

#define BV_NULL ((bso_val){.type = BSO_NULL})
#define BV_S(x) ((bso_val){.type = BSO_TEXT, .s = (x)})
#define BV_I(x) ((bso_val){.type = BSO_INT, .i = (x)})
#define BV_D(x) ((bso_val){.type = BSO_REAL, .d = (x)})

typedef struct bso_rows {
    int nrows, ncols;
    char **cells; /* nrows * ncols, NULL for SQL NULL */
} bso_rows;

/* url: "postgresql://..." or "postgres://..." for PostgreSQL, "sqlite://PATH" or a plain path
 * for SQLite. Runs the schema migrations. Returns 0, or -1 with a message in err. */
int bso_db_open(const char *url, bso_db **out, char *err, size_t errlen);
/* Another connection to like's store (a server's worker threads): never creates a SQLite file,
 * and refuses one that is not the file like has open (deleted or replaced since). */
int bso_db_open_like(const bso_db *like, bso_db **out, char *err, size_t errlen);
void bso_db_close(bso_db *db);
bool bso_db_is_pg(const bso_db *db);
const char *bso_db_error(const bso_db *db);
/* The last error means the database cannot take requests now (PostgreSQL down or read-only,
 * SQLite busy, read-only, full, or its file deleted or replaced under this process): a
 * service answers 503 rather than 500. bso_db_begin and bso_db_commit fail this way once the
 * SQLite file the connection opened is no longer at its path, so no write into a deleted file
 * is ever reported as done. */
bool bso_db_unavailable(const bso_db *db);

/* 0 or -1 (bso_db_error). rows may be NULL for statements without results. */
int bso_db_exec(bso_db *db, const char *sql, const bso_val *params, int n, bso_rows *rows);
void bso_rows_free(bso_rows *rows);
static inline const char *bso_cell(const bso_rows *r, int row, int col)
{
    return r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

int bso_db_begin(bso_db *db);
int bso_db_commit(bso_db *db);
void bso_db_rollback(bso_db *db);
/* Serializes transactions on one job across processes (PostgreSQL row lock; SQLite's
 * BEGIN IMMEDIATE already holds the database's write lock). 0 locked, 1 no such job, -1 error. */
int bso_db_lock_job(bso_db *db, const char *job_id);

/* Text helpers for results. */
double bso_atof(const char *s); /* NULL -> NaN */
long long bso_atoll(const char *s);

/* A new job's row: the columns both kinds fill (a 'service' job registered through the API,
 * a 'run' job a driver made). NULL values: beta_knob (no beta), rng_state, driver_state. */
typedef struct {
    const char *job_id, *job_id_prefix, *kind, *spec;
    long long default_batch_size;
    bso_val eta_knob, beta_knob;
    double target_metric;
    long long higher_is_better_metric, max_epochs, num_pruning_rounds, window_size;
    double max_power;
    long long number_of_gpus;
    const char *gpu_model;
    long long mab_num_explorations;
    bso_val rng_state, driver_state;
} bso_job_row;
/* The one INSERT INTO job: the first insert of an id wins (racing registrations), and the one
 * that created the job also inserts its batch sizes; *created says which happened. Inside the
 * caller's transaction. 0 or -1 (bso_db_error). */
int bso_db_insert_job(bso_db *db, const bso_job_row *j, const int *batch_sizes, int n,
                      bool *created);

#endif
