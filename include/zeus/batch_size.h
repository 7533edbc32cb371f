/* Zeus in C: batch-size optimization for recurring jobs (spec sections 5.1, 5.3 and 6).
 *
 * Zeus picks a recurring job's batch size with two stages. A pruning stage
 * (zeus_pruning, the original's PruningExploreManager) walks down and then up from the default
 * batch size twice, dropping sizes that do not reach the target metric. Then a Gaussian
 * Thompson-sampling bandit (zeus_gts, GaussianTS) picks among the survivors, learning each
 * arm's reward precision from the spread of its observed costs. zeus_bso
 * (PruningGTSBatchSizeOptimizer) chains the two for one job. zeus_jit_plo
 * (JITPowerLimitOptimizer) remembers the cheapest power limit per batch size.
 *
 * All of this is pure logic: no files, no clocks, no devices. Randomness comes from
 * zeus_rng (numpy-compatible), so with the same seed these objects make exactly the decisions
 * the original Python objects make. A bandit optimizer's whole state (history, explorer
 * progress, posterior, generator) can be saved to JSON and restored, so that a driver can
 * persist it between recurrences.
 *
 * Errors: ZEUS_EINVAL for bad arguments (the original's ValueErrors), ZEUS_ESTATE for calls out
 * of protocol (the original's RuntimeErrors and assertions); zeus_last_error() has the detail.
 *
 * Thread safety: objects are not internally locked; use each from one thread at a time.
 * Distinct objects are independent. */
#ifndef ZEUS_BATCH_SIZE_H
#define ZEUS_BATCH_SIZE_H

#include "zeus/common.h"
#include "zeus/cost.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- job description (spec 5.3) --------------------------------------------------------- */
#define ZEUS_JOB_NAME_MAX 64
typedef struct zeus_job {
    char dataset[ZEUS_JOB_NAME_MAX];
    char network[ZEUS_JOB_NAME_MAX];
    char optimizer[ZEUS_JOB_NAME_MAX];
    double target_metric;
    int max_epochs;
    int default_bs;    /* 0: not given */
    double default_lr; /* NaN: not given */
} zeus_job;

/* Fills job; ZEUS_EINVAL if a name is empty or longer than ZEUS_JOB_NAME_MAX - 1, max_epochs
 * < 1 or default_bs < 0. */
ZEUS_API int zeus_job_init(zeus_job *job, const char *dataset, const char *network,
                           const char *optimizer, double target_metric, int max_epochs,
                           int default_bs, double default_lr);
/* "Job(librispeech,deepspeech2,adamw,40.0,bs192~16)" (the original's str(job)). Returns buf. */
ZEUS_API char *zeus_job_format(const zeus_job *job, char *buf, size_t size);
/* Equality of every field (default_lr NaN equals NaN). */
ZEUS_API bool zeus_job_equal(const zeus_job *a, const zeus_job *b);

/* ---- GaussianTS (spec 6.2) ---------------------------------------------------------------- */
typedef struct zeus_gts zeus_gts;

typedef struct zeus_gts_config {
    double reward_precision;         /* every arm's, unless reward_precisions is given */
    const double *reward_precisions; /* per arm (n_arms values), or NULL */
    double prior_mean;               /* 0.0 */
    double prior_precision;          /* 0.0 */
    int num_exploration;             /* 1 */
    uint64_t seed;                   /* 123456 */
} zeus_gts_config;

typedef struct zeus_gts_arm {
    int arm;
    double mean;             /* posterior mean of the arm's expected reward */
    double precision;        /* posterior precision (+inf: exact) */
    double reward_precision; /* the reward distribution's precision */
    size_t observations;
} zeus_gts_arm;

ZEUS_API void zeus_gts_config_default(zeus_gts_config *cfg);
/* ZEUS_EINVAL for no arms, a repeated arm or num_exploration < 0. */
ZEUS_API int zeus_gts_create(const zeus_gts_config *cfg, const int *arms, size_t n_arms,
                             zeus_gts **out);
ZEUS_API void zeus_gts_destroy(zeus_gts *gts);
/* Fits every arm on the rewards whose decision equals it (others are ignored). */
ZEUS_API int zeus_gts_fit(zeus_gts *gts, const int *decisions, const double *rewards, size_t n,
                          bool reset);
/* Conjugate update of one arm; reset first restores the prior. ZEUS_ENOENT for an unknown arm. */
ZEUS_API int zeus_gts_fit_arm(zeus_gts *gts, int arm, const double *rewards, size_t n, bool reset);
ZEUS_API int zeus_gts_set_reward_precision(zeus_gts *gts, int arm, double precision);
/* Exploration (a random permutation of the arms is drawn on every call; the first arm with
 * fewer than num_exploration observations wins), else Thompson sampling (one normal draw per
 * arm in arm order; the largest wins, ties to the earlier arm). */
ZEUS_API int zeus_gts_predict(zeus_gts *gts, int *arm);
ZEUS_API size_t zeus_gts_arm_count(const zeus_gts *gts);
ZEUS_API int zeus_gts_get_arm(const zeus_gts *gts, size_t index, zeus_gts_arm *out);

/* ---- pruning exploration (spec 6.4) ------------------------------------------------------- */
typedef struct zeus_pruning zeus_pruning;

/* batch_sizes in the caller's order (the optimizer passes them sorted); default_bs must be one
 * of them (ZEUS_EINVAL otherwise); num_rounds is 2 in Zeus. */
ZEUS_API int zeus_pruning_create(const int *batch_sizes, size_t n, int default_bs, int num_rounds,
                                 zeus_pruning **out);
ZEUS_API void zeus_pruning_destroy(zeus_pruning *p);
/* Next batch size to try (*done false), or *done true when exploration is over (the surviving,
 * sorted sizes are then zeus_pruning_batch_sizes()). Each size handed out must be reported
 * before the next call (ZEUS_ESTATE otherwise). ZEUS_EINVAL (and the explorer is finished with
 * an error) if a round kept nothing, so that the next round has no centre [quirk kept: the
 * original fails the same way]. */
ZEUS_API int zeus_pruning_next(zeus_pruning *p, int *batch_size, bool *done);
/* Result of the size last handed out; any other size is ZEUS_ESTATE and ends exploration with
 * an error, as in the original. */
ZEUS_API int zeus_pruning_report(zeus_pruning *p, int batch_size, double cost, bool reached);
/* The size awaited by zeus_pruning_report, 0 when none. */
ZEUS_API int zeus_pruning_expecting(const zeus_pruning *p);
ZEUS_API bool zeus_pruning_done(const zeus_pruning *p);
/* The current round's candidate sizes; after the last round, the survivors. */
ZEUS_API void zeus_pruning_batch_sizes(const zeus_pruning *p, const int **sizes, size_t *n);

/* ---- PruningGTSBatchSizeOptimizer (spec 6.5) ---------------------------------------------- */
typedef struct zeus_bso zeus_bso;

typedef struct zeus_bso_config {
    double prior_mean;      /* 0.0 */
    double prior_precision; /* 0.0 */
    size_t window_size;     /* 0: every past observation; else the most recent ones (>= 2) */
    bool concurrency;       /* true: results of sizes the explorer is not waiting for are
                               only recorded (concurrent submissions) */
    uint64_t seed;          /* 123456 */
    /* How the bandit stage re-estimates an arm from its rewards after each observation:
     * ZEUS_BSO_MOMENTS_EXACT (the default) recomputes numpy's sum and variance over the whole
     * history, as the original does (bit-exact, O(history) per observation);
     * ZEUS_BSO_MOMENTS_RUNNING keeps running moments (O(1) per observation; the last bits of
     * the estimates differ, which changed no decision on the reference configurations,
     * docs/simulate.md). Running moments apply with window_size 0 only. */
    int moments;
    /* Which policy picks the sizes: ZEUS_BSO_POLICY_PRUNING_GTS (0, the default) is the
     * original's pruning + Gaussian Thompson sampling, decision for decision;
     * ZEUS_BSO_POLICY_WALK_TS explores each size at most once, stopping a direction of the walk
     * once the cost rises, then samples with a posterior whose noise is pooled over the sizes
     * (lower cumulative cost on the paper's traces, docs/simulate.md). walk-ts ignores
     * prior_mean, prior_precision, window_size and moments; zeus_bso_mab() is NULL with it.
     * Appended in 0.2 like moments (this struct has no size field yet, docs/abi.md). */
    int policy;
} zeus_bso_config;

enum { ZEUS_BSO_MOMENTS_EXACT = 0, ZEUS_BSO_MOMENTS_RUNNING = 1 };
enum { ZEUS_BSO_POLICY_PRUNING_GTS = 0, ZEUS_BSO_POLICY_WALK_TS = 1 };

/* The policies' names, index = policy: "pruning-gts", "walk-ts" (a NULL-terminated list). */
ZEUS_API const char *const *zeus_bso_policy_names(void);
/* The name of a policy, NULL when there is none of that number. */
ZEUS_API const char *zeus_bso_policy_name(int policy);
/* The policy of a name; ZEUS_EINVAL ("unknown batch-size policy 'x' (known: pruning-gts,
 * walk-ts)") otherwise. */
ZEUS_API int zeus_bso_policy_parse(const char *name, int *policy);

/* converged argument of zeus_bso_observe when unknown (allowed only after pruning). */
#define ZEUS_CONVERGED_UNKNOWN (-1)

ZEUS_API void zeus_bso_config_default(zeus_bso_config *cfg);
/* register_job: job->default_bs is required and must be in batch_sizes; batch_sizes non-empty,
 * distinct and positive (sorted here); window_size 1 is rejected (a bandit arm needs two
 * observations; the original fails later on an assertion). */
ZEUS_API int zeus_bso_create(const zeus_bso_config *cfg, const zeus_job *job,
                             const int *batch_sizes, size_t n, zeus_bso **out);
ZEUS_API void zeus_bso_destroy(zeus_bso *bso);
/* Pruning stage: the explorer's next size. Then the bandit's pick (built from the survivors on
 * the first call after pruning; ZEUS_EINVAL if none survived). */
ZEUS_API int zeus_bso_predict(zeus_bso *bso, int *batch_size);
/* Records reward = -cost for batch_size (ZEUS_EINVAL if it was not registered). Pruning stage:
 * converged must be 0 or 1; the result goes to the explorer (with concurrency, only if it is
 * the size the explorer awaits). Bandit stage: the arm's precision is re-estimated as
 * 1 / variance of its windowed rewards and the arm is refitted on them. */
ZEUS_API int zeus_bso_observe(zeus_bso *bso, int batch_size, double cost, int converged);
/* The optimizer's policy (ZEUS_BSO_POLICY_*). */
ZEUS_API int zeus_bso_policy(const zeus_bso *bso);
/* True while exploring (pruning-gts: pruning; walk-ts: the walk). */
ZEUS_API bool zeus_bso_in_pruning(const zeus_bso *bso);
/* walk-ts only: the sampling model of batch_size, its expected cost per reached run and that
 * estimate's standard error; ZEUS_ENOENT when the size is not (or not yet) a candidate,
 * ZEUS_EINVAL with another policy or an unknown size. */
ZEUS_API int zeus_bso_estimate(const zeus_bso *bso, int batch_size, double *cost, double *sd);
/* The early-stopping factor for the next run of batch_size: a run stops once its cost would
 * exceed this x the cheapest recurrence. beta for pruning-gts (and for an unknown size);
 * walk-ts stops a walk's first run of a size at min(beta, 1.5). */
ZEUS_API double zeus_bso_bound_factor(const zeus_bso *bso, int batch_size, double beta);
ZEUS_API const zeus_job *zeus_bso_job(const zeus_bso *bso);
ZEUS_API const zeus_pruning *zeus_bso_pruning(const zeus_bso *bso);
/* The bandit, NULL until pruning is over. */
ZEUS_API const zeus_gts *zeus_bso_mab(const zeus_bso *bso);
/* The windowed rewards of batch_size in time order (a view valid until the next observe). */
ZEUS_API int zeus_bso_rewards(const zeus_bso *bso, int batch_size, const double **rewards,
                              size_t *n);
/* Whole state as a JSON document (release it with zeus_free()). Load creates an optimizer that
 * continues exactly where the saved one stood (same future decisions). */
ZEUS_API int zeus_bso_save(const zeus_bso *bso, char **json);
ZEUS_API int zeus_bso_load(const char *json, zeus_bso **out);

/* ---- JITPowerLimitOptimizer (spec 6.6) ---------------------------------------------------- */
typedef struct zeus_jit_plo zeus_jit_plo;

ZEUS_API int zeus_jit_plo_create(zeus_jit_plo **out);
ZEUS_API void zeus_jit_plo_destroy(zeus_jit_plo *plo);
/* The best power limit seen for batch_size, or 0 when it still needs profiling. */
ZEUS_API int zeus_jit_plo_predict(const zeus_jit_plo *plo, int batch_size, int *power_limit_w);
/* Keeps the power limit with the strictly smallest cost (the first wins ties). */
ZEUS_API int zeus_jit_plo_observe(zeus_jit_plo *plo, int batch_size, int power_limit_w,
                                  double cost);
/* State as a JSON document (release it with zeus_free()). */
ZEUS_API int zeus_jit_plo_save(const zeus_jit_plo *plo, char **json);
ZEUS_API int zeus_jit_plo_load(const char *json, zeus_jit_plo **out);

#ifdef __cplusplus
}
#endif
#endif
