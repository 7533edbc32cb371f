/* Zeus in C: the driver of a recurring job (spec 7.2), shared by the trace-driven simulator and a
 * real driver (a future `zeus run`, the original's ZeusMaster).
 *
 * Each recurrence of the job is one or more tries. A try asks the batch-size optimizer
 * (zeus_bso) for a batch size and the JIT power-limit policy (zeus_jit_plo) for its limit; a
 * batch size seen for the first time is profiled first (the caller measures every limit's epoch
 * cost and hands them in). The run is stopped early once its cost would exceed
 * cost_ub = beta x the cheapest recurrence so far (its tries summed). A run that reaches the
 * target ends the recurrence; one that does not is retried, up to max_tries (20) times. A run
 * that could not do even one epoch under the bound is not a run: the optimizer is told that
 * batch size is bad with a penalty cost of 100 x beta x the cheapest cost, and it is retried.
 * The first recurrence must reach the target (the default batch size is assumed to converge).
 *
 * zeus_recurring makes exactly the original Simulator's decisions (zeus 0.8) given the same
 * outcomes, so a driver built on it behaves as the paper's simulation. A second protocol,
 * zeus_recurring_next_concurrent / zeus_recurring_report_concurrent, is run_alibaba.py's rule for
 * submissions that overlap in time.
 *
 * Pure logic: no files, no clocks, no devices. Errors: ZEUS_EINVAL for bad arguments,
 * ZEUS_ESTATE for calls out of protocol and for a job that gives up (zeus_last_error() has the
 * original's message). Thread safety: use one object from one thread at a time. */
#ifndef ZEUS_RECURRING_H
#define ZEUS_RECURRING_H

#include "zeus/batch_size.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZEUS_RECURRING_MAX_TRIES 20 /* the original's retry limit per recurrence */
/* Concurrent submissions: the original retries a submission until it reaches the target, which
 * never happens when no run fits under the bound (beta < 1 can do that) and the simulation then
 * never returns. Real traces need at most a few dozen tries. */
#define ZEUS_RECURRING_MAX_CONCURRENT_TRIES 1000

typedef struct zeus_recurring zeus_recurring;

typedef struct zeus_recurring_config {
    double eta_knob;  /* 0.5: energy/time trade-off of the cost, in [0, 1] */
    double beta_knob; /* 2.0: early stop at beta x the cheapest recurrence (> 0; +inf: never) */
    int max_power_w;  /* the MaxPower of every cost (W, > 0); no default */
    int max_tries;    /* ZEUS_RECURRING_MAX_TRIES */
    int max_concurrent_tries; /* ZEUS_RECURRING_MAX_CONCURRENT_TRIES */
    zeus_bso_config bso;      /* the batch-size optimizer (seed 123456) */
} zeus_recurring_config;

typedef struct zeus_pl_cost {
    int power_limit; /* W */
    double cost;     /* epoch cost (eta * avg power + (1 - eta) * max PL) * epoch time */
} zeus_pl_cost;

/* One try of the job, as zeus_recurring_next hands it out. */
typedef struct zeus_recurring_attempt {
    size_t recurrence; /* 0-based (0 for concurrent submissions) */
    int try_index;     /* 1-based within the recurrence (0 for concurrent submissions) */
    int batch_size;
    int power_limit; /* W; 0 while the batch size still needs profiling */
    bool profile;    /* the batch size is new: call zeus_recurring_profile first; this run's
                        first epoch is the profiling epoch */
    double cost_ub;  /* stop the run before its cost would exceed this (+inf: never) */
} zeus_recurring_attempt;

/* What a run did. energy_j == time_s == 0 with reached false means it could not run a single
 * epoch under cost_ub. */
typedef struct zeus_recurring_result {
    double energy_j, time_s;
    bool reached;
} zeus_recurring_result;

typedef struct zeus_recurring_verdict {
    double cost; /* zeus_cost of the run (0 if it did not run) */
    bool ran;    /* false: it could not run an epoch; not a run, the try is not recorded */
    bool done;   /* the recurrence is over (the target was reached); else retry */
} zeus_recurring_verdict;

ZEUS_API void zeus_recurring_config_default(zeus_recurring_config *cfg);
/* job->default_bs must be one of batch_sizes (the feasible sizes of the job); ZEUS_EINVAL
 * otherwise, for eta outside [0, 1], beta <= 0, max_power_w <= 0 or max_tries < 1. */
ZEUS_API int zeus_recurring_create(const zeus_recurring_config *cfg, const zeus_job *job,
                                   const int *batch_sizes, size_t n, zeus_recurring **out);
ZEUS_API void zeus_recurring_destroy(zeus_recurring *r);

/* The next try (ZEUS_ESTATE while one is awaiting its report). */
ZEUS_API int zeus_recurring_next(zeus_recurring *r, zeus_recurring_attempt *a);
/* Hands in the profile of a->batch_size: each limit's epoch cost, in the order measured (the
 * original measures the highest limit first; the first of equal costs wins). Sets
 * a->power_limit to the cheapest. */
ZEUS_API int zeus_recurring_profile(zeus_recurring *r, zeus_recurring_attempt *a,
                                    const zeus_pl_cost *costs, size_t n);
/* Reports the awaited try. The job gives up (ZEUS_ESTATE, and every later call fails) with "The
 * default batch size B did not converge." when the first recurrence's run misses the target, and
 * with "Job did not reach the target metric in 20 tries." when a recurrence runs out of tries;
 * *v then still describes the run (record it if v->ran). On any other error v->ran is false. */
ZEUS_API int zeus_recurring_report(zeus_recurring *r, const zeus_recurring_result *res,
                                   zeus_recurring_verdict *v);
/* Recurrences finished (target reached) and the cheapest one's cost (+inf before any). */
ZEUS_API size_t zeus_recurring_recurrences(const zeus_recurring *r);
ZEUS_API double zeus_recurring_min_cost(const zeus_recurring *r);
/* The optimizers it drives (to inspect, or to save with zeus_bso_save / zeus_jit_plo_save). */
ZEUS_API const zeus_bso *zeus_recurring_bso(const zeus_recurring *r);
ZEUS_API const zeus_jit_plo *zeus_recurring_plo(const zeus_recurring *r);

/* The whole state (the optimizers, the cheapest cost, the recurrence and try in progress) as a
 * JSON document (malloc'd; free()), so a driver can stop between tries and continue in another
 * process. Load creates a driver that continues exactly where the saved one stood (same future
 * decisions). ZEUS_EPARSE for a document that is not one, or whose fields are out of range. */
ZEUS_API int zeus_recurring_save(const zeus_recurring *r, char **json);
ZEUS_API int zeus_recurring_load(const char *json, zeus_recurring **out);

/* Concurrent submissions (run_alibaba.py): a submission made while others run gets the best
 * known batch size at its known limit (no profiling); otherwise the optimizer's pick, as
 * zeus_recurring_next. Results are reported as runs finish, in any order, with the submission's
 * 1-based try number; the bound uses the cheapest single run (not a recurrence's tries summed)
 * [quirk kept], and a run that could not do an epoch is observed with cost 0 [quirk kept]. The
 * caller resubmits a run that missed the target (v->done false), up to max_concurrent_tries
 * times: the report of the last try that misses gives up ("Job did not reach the target metric
 * in 1000 tries.", ZEUS_ESTATE; *v still describes the run) where the original retries
 * forever. */
ZEUS_API int zeus_recurring_next_concurrent(zeus_recurring *r, bool others_running,
                                            zeus_recurring_attempt *a);
ZEUS_API int zeus_recurring_report_concurrent(zeus_recurring *r, int batch_size, int try_index,
                                              const zeus_recurring_result *res,
                                              zeus_recurring_verdict *v);

#ifdef __cplusplus
}
#endif
#endif
