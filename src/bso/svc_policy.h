/* The service's jobs with a batch-size policy of libzeus (svc_policy.c): walk-ts. Each call runs
 * inside the caller's transaction holding the job's lock; 0, -1 on a database error, -2 on a
 * libzeus error (zeus_last_error()). */
#ifndef ZEUS_BSO_SVC_POLICY_H
#define ZEUS_BSO_SVC_POLICY_H

#include "svc_input.h"
#include "zeus/batch_size.h"

/* The driver_state of a newly registered job (release with zeus_free()): a ZEUS_* code. */
int svc_policy_initial_state(const job *jb, char **state);
/* The next trial's batch size and type ("Exploration" during the walk, "Concurrent" while the
 * walk waits for a running trial, "MAB" after), the state saved. */
int svc_policy_next(bso_db *db, const job *jb, int *bs, const char **type);
/* A recorded trial's result, the state saved. */
int svc_policy_observe(bso_db *db, const job *jb, int bs, double cost, bool converged);
/* The early-stopping factor of a running trial of batch size bs (zeus_bso_bound_factor). */
int svc_policy_bound_factor(bso_db *db, const job *jb, int bs, double *factor);

#endif
