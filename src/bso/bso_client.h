/* Zeus batch-size optimizer client for C and C++ trainers: the same protocol and behaviour as
 * the Python BatchSizeOptimizer (docs/bso.md), against `zeus bso serve` or the original server.
 * Installed as <zeus-bso/bso_client.h> with libzeus-bso-client.a (links cJSON).
 *
 *   zeus_bso_job_spec job;
 *   zeus_bso_job_spec_default(&job);
 *   job.job_id_prefix = "mnist"; job.batch_sizes = sizes; job.n_batch_sizes = 4; ...
 *   zeus_bso_client *c;
 *   zeus_bso_client_create("http://bso:8000", &job, 300.0, 1, "NVIDIA A100", &c);
 *   int bs; zeus_bso_client_batch_size(c, &bs);
 *   for (each epoch) { train; validate;
 *       bool stop; int rc = zeus_bso_client_report(c, time_s, energy_j, metric, &stop);
 *       if (stop) break; }   // rc ZEUS_BSO_TRAIN_FAILED: stopped without converging
 *   zeus_bso_client_destroy(c);  // ends the trial (PATCH /trials), as the Python client's atexit
 *
 * Functions return 0 or a negative ZEUS_BSO_* code; zeus_bso_client_error() has the message
 * (for a NULL client, the message of the failed create is in the thread's last error). One
 * client per thread. Only http:// URLs. */
#ifndef ZEUS_BSO_CLIENT_H
#define ZEUS_BSO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ZEUS_BSO_RUNTIME = -1,      /* ZeusBSORuntimError: HTTP error, unreachable, bad answer */
    ZEUS_BSO_TRAIN_FAILED = -2, /* ZeusBSOTrainFailError: stopped without converging */
    ZEUS_BSO_ORDER = -3,        /* ZeusBSOOperationOrderError */
    ZEUS_BSO_CONFIG = -4,       /* ZeusBSOConfigError / bad arguments */
};

typedef struct zeus_bso_job_spec {
    const char *job_id; /* NULL: the server makes one */
    const char *job_id_prefix;
    const int *batch_sizes;
    size_t n_batch_sizes;
    int default_batch_size;
    double eta_knob;                            /* 0.5 */
    double beta_knob;                           /* 2.0; NaN: no early stop (null) */
    double target_metric;                       /* 0.5 */
    bool higher_is_better_metric;               /* true */
    int max_epochs;                             /* 100 */
    int num_pruning_rounds;                     /* 2 */
    int window_size;                            /* 0 */
    double mab_prior_mean, mab_prior_precision; /* 0, 0 */
    int mab_num_explorations;                   /* 2 */
    long long mab_seed;                         /* -1: none */
} zeus_bso_job_spec;

typedef struct zeus_bso_client zeus_bso_client;

void zeus_bso_job_spec_default(zeus_bso_job_spec *job);
/* Registers the job (POST /jobs). max_power_w is the job's GPUs' maximum power limit summed. */
int zeus_bso_client_create(const char *server_url, const zeus_bso_job_spec *job, double max_power_w,
                           int number_of_gpus, const char *gpu_model, zeus_bso_client **out);
const char *zeus_bso_client_job_id(const zeus_bso_client *c);
/* This run's batch size (GET /jobs/batch_size, asked once) and its trial number. */
int zeus_bso_client_batch_size(zeus_bso_client *c, int *batch_size);
int zeus_bso_client_trial_number(const zeus_bso_client *c);
/* After each epoch's validation: time and energy since training began (cumulative), the
 * metric. *stop true: training is over (ZEUS_BSO_TRAIN_FAILED when it did not converge). */
int zeus_bso_client_report(zeus_bso_client *c, double time_s, double energy_j, double metric,
                           bool *stop);
/* Ends the trial (PATCH /trials); also done by destroy. */
int zeus_bso_client_end(zeus_bso_client *c);
const char *zeus_bso_client_error(const zeus_bso_client *c);
const char *zeus_bso_client_last_error(void);
void zeus_bso_client_destroy(zeus_bso_client *c);

#ifdef __cplusplus
}
#endif
#endif
