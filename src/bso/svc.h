/* Zeus batch-size service: the newer Zeus's batch-size optimizer server (docs/spec/
 * bso-server-api.md) as functions of a request, independent of HTTP. Each call runs in one
 * database transaction (committed on success, rolled back on any error) that holds the job's
 * lock, so any number of service processes may share the database. */
#ifndef ZEUS_BSO_SVC_H
#define ZEUS_BSO_SVC_H

#include "db.h"

typedef struct svc_reply {
    int status;
    char *body; /* malloc'd JSON */
} svc_reply;

/* A Dispatched trial older than this (s) is taken as interrupted: its client died without
 * ending it (killed -9, a lost node), and it would otherwise hold its pruning slot forever. */
extern double svc_stale_s;

void svc_register(bso_db *db, const char *body, svc_reply *out);
void svc_next_batch_size(bso_db *db, const char *job_id, svc_reply *out);
void svc_report(bso_db *db, const char *body, svc_reply *out);
void svc_end_trial(bso_db *db, const char *body, svc_reply *out);
void svc_delete_job(bso_db *db, const char *job_id, svc_reply *out);
/* 503 {"message": "database unavailable: <why>"}: the store is down, read-only or gone. */
void svc_unavailable(const char *why, svc_reply *out);
/* One FastAPI-style 422 (loc [where, field]). */
void svc_422(const char *where, const char *field, const char *msg, const char *type,
             svc_reply *out);
#define SVC_NUL_MSG "strings must not contain a NUL character (\\u0000)"
/* A query parameter's value (len bytes, NULL when missing): true when usable, else false with a
 * 422 in FastAPI's format in out (missing, a NUL character, not UTF-8). */
bool svc_check_query(const char *name, const char *value, size_t len, svc_reply *out);

/* Gaussian Thompson-sampling arm fit from the prior (spec 5.3); shared with `zeus history`. */
typedef struct svc_arm {
    int batch_size;
    double mean, precision, reward_precision;
    int observations;
} svc_arm;
void svc_fit_arm(double prior_mean, double prior_precision, const double *rewards, int n,
                 svc_arm *arm);

#endif
