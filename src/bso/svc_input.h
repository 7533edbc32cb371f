/* The batch-size service's input (svc_input.c): validation errors in FastAPI's format, field
 * readers in pydantic v1's spirit, and the job spec. Internal to zeus-bso. */
#ifndef ZEUS_BSO_SVC_INPUT_H
#define ZEUS_BSO_SVC_INPUT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "svc.h"

#define MAX_BS 256

/* {"detail":[{"loc":[...],"msg":...,"type":...}]} being built. */
typedef struct verr {
    cJSON *detail;
} verr;

/* out <- status and j printed (j is consumed; NULL: null). */
void reply_json(svc_reply *out, int status, cJSON *j);
void verr_add(verr *v, const char *where, const char *field, const char *msg, const char *type);
/* Replies 422 with the errors (true), or false when there are none. */
bool verr_reply(verr *v, svc_reply *out);
/* The body as a JSON object, or NULL after adding the error. */
cJSON *parse_body(const char *body, verr *v);
/* Field readers: a missing optional field takes dflt; false after adding an error. */
bool get_int_upto(cJSON *o, const char *name, long long *out, bool required, long long dflt,
                  long long max, verr *v);
bool get_int(cJSON *o, const char *name, long long *out, bool required, long long dflt, verr *v);
bool get_num(cJSON *o, const char *name, double *out, bool required, double dflt, verr *v);
const char *get_str(cJSON *o, const char *name, bool required, verr *v);

typedef struct job {
    char job_id[400], prefix[300], gpu_model[64];
    int bs[MAX_BS], n_bs, default_bs;
    double eta, beta; /* beta NaN: no early stop */
    double target;
    bool higher_better;
    long long max_epochs, rounds, window, explorations, seed;
    bool has_seed;
    double prior_mean, prior_precision, max_power;
    long long gpus;
    int policy; /* "policy": ZEUS_BSO_POLICY_* (absent: the original server's pruning + MAB) */
    /* state */
    char stage[16];
    double min_cost; /* NaN: none yet */
    int min_cost_bs;
    char rng_state[256];
} job;

/* qsort order of ints. */
int cmp_int(const void *a, const void *b);
/* JobSpecFromClient (spec 3.1) into jb; false after adding the errors to v. */
bool parse_spec(cJSON *o, job *jb, verr *v);
/* The spec as the response carries it (every field, job_id filled in), also its stored form. */
cJSON *spec_json(const job *jb);

#endif
