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
/* 422 for a missing query parameter, in FastAPI's format. */
void svc_missing_query(const char *name, svc_reply *out);

/* Gaussian Thompson-sampling arm fit from the prior (spec 5.3); shared with `zeus history`. */
typedef struct svc_arm {
    int batch_size;
    double mean, precision, reward_precision;
    int observations;
} svc_arm;
void svc_fit_arm(double prior_mean, double prior_precision, const double *rewards, int n,
                 svc_arm *arm);

#endif
