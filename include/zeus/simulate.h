/* Zeus in C: the trace-driven simulator of recurring jobs (spec section 7).
 *
 * The NSDI'23 traces record, per workload and batch size, the epoch at which each training run
 * reached each target metric (summary_train.csv) and, per GPU, the epoch time and average
 * power at each power limit (summary_power_<gpu>.csv). The simulator replays a recurring job:
 * each recurrence asks the batch-size optimizer for a batch size and the JIT power-limit policy
 * for a limit, follows one recorded training run chosen at random, and stops it early when its
 * cost would exceed beta times the cheapest recurrence so far.
 *
 * zeus_simulate_one_job and zeus_simulate_one_alibaba_group make exactly the decisions and
 * produce exactly the numbers of the original Simulator (zeus 0.8, numpy 1.24, pandas 1.5) for
 * the same seed: the generator is numpy's, the CSV numbers are parsed the way pandas parses
 * them, and every mean and sum is evaluated in numpy's/pandas' order.
 *
 * Loading validates the files (missing columns, non-numeric cells, unknown datasets, an empty
 * join: each error names the file and line) and builds indexes once, so a simulated run is a
 * few lookups. A loaded trace is immutable: any number of threads may simulate on one trace
 * at once. Everything else (histories, group sets) belongs to the caller's thread. */
#ifndef ZEUS_SIMULATE_H
#define ZEUS_SIMULATE_H

#include "zeus/batch_size.h"
#include "zeus/recurring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- traces -------------------------------------------------------------------------------- */
typedef struct zeus_trace zeus_trace;

/* Loads a train trace and a power trace and joins them on dataset, network, batch_size and
 * optimizer (the original's inner merge). */
ZEUS_API int zeus_trace_load(const char *train_csv, const char *power_csv, zeus_trace **out);
/* dir/summary_train.csv joined with dir/summary_power_<gpu>.csv. */
ZEUS_API int zeus_trace_load_dir(const char *dir, const char *gpu, zeus_trace **out);
ZEUS_API void zeus_trace_destroy(zeus_trace *trace);
/* Rows of the join. */
ZEUS_API size_t zeus_trace_rows(const zeus_trace *trace);
/* The largest power limit in the join (W): the MaxPower of every cost. */
ZEUS_API int zeus_trace_max_power(const zeus_trace *trace);
/* Sorted batch sizes of the job's workload (dataset, network, optimizer; any target metric):
 * the original's _profile_batch_size_range. ZEUS_ENOENT for an unknown workload. */
ZEUS_API int zeus_trace_batch_sizes(const zeus_trace *trace, const zeus_job *job, const int **sizes,
                                    size_t *n);
/* Distinct batch sizes and power limits of the rows of the job (its target metric included):
 * run_single.py's default recurrence count is 2 * |B| * |P|. ZEUS_ENOENT when the job has no
 * rows. */
ZEUS_API int zeus_trace_job_space(const zeus_trace *trace, const zeus_job *job,
                                  size_t *n_batch_sizes, size_t *n_power_limits);
/* The largest batch size of a dataset in the power trace as read (before the join), which
 * run_alibaba.py caps its default batch sizes with. ZEUS_ENOENT when absent. */
ZEUS_API int zeus_trace_max_batch_size(const zeus_trace *trace, const char *dataset, int *bs);

/* The original's _profile_power_limit: one entry per power limit, highest first (zeus_pl_cost is
 * in zeus/recurring.h). Writes at most cap entries and sets *n to the number of limits. */
ZEUS_API int zeus_trace_profile_power_limit(const zeus_trace *trace, const zeus_job *job, int bs,
                                            double eta_knob, zeus_pl_cost *out, size_t cap,
                                            size_t *n);

/* Expected outcome of one run with fixed knobs, averaged over the recorded training runs (each
 * run trains until it reaches the target or max_epochs, without early stopping). */
typedef struct zeus_sim_choice {
    int batch_size, power_limit;
    double energy_j, time_s, cost; /* expected per run */
    double reach_rate;             /* fraction of recorded runs that reach the target */
} zeus_sim_choice;

ZEUS_API int zeus_trace_expected_run(const zeus_trace *trace, const zeus_job *job, int bs, int pl,
                                     double eta_knob, zeus_sim_choice *out);
/* The oracle: the (batch size, power limit) with the lowest expected cost among those whose
 * every recorded run reaches the target (ties: smaller batch size, then higher limit). And the
 * default: the job's default batch size at its highest power limit. */
ZEUS_API int zeus_trace_oracle(const zeus_trace *trace, const zeus_job *job, double eta_knob,
                               zeus_sim_choice *oracle, zeus_sim_choice *default_choice);

/* ---- simulation ---------------------------------------------------------------------------- */

/* One simulated run that actually ran (tries that could not run a single epoch under the
 * early-stopping bound are not runs; their try numbers are skipped). */
typedef struct zeus_sim_run {
    int recurrence; /* 0-based recurrence (single job) or row of the group (Alibaba) */
    int try_index;  /* 1-based try within the recurrence */
    int batch_size, power_limit;
    double energy_j, time_s; /* Alibaba groups: scaled by the row's runtime ratio */
    double cost;             /* zeus_cost of energy_j and time_s */
    bool reached;
} zeus_sim_run;

typedef struct zeus_sim_history {
    zeus_sim_run *runs;
    size_t n, cap;
} zeus_sim_history;

ZEUS_API void zeus_sim_history_free(zeus_sim_history *history);

typedef struct zeus_sim_params {
    double eta_knob;     /* 0.5 */
    double beta_knob;    /* 2.0; early stop at beta * cheapest so far (+inf: never) */
    uint64_t seed;       /* 123456: picks the recorded training runs */
    zeus_bso_config bso; /* the batch-size optimizer (its own seed: 123456) */
} zeus_sim_params;

ZEUS_API void zeus_sim_params_default(zeus_sim_params *params);

/* The most recurrences one simulation may have: its whole history is kept in memory (up to 20
 * runs per recurrence, 48 bytes each). */
#define ZEUS_SIM_MAX_RECURRENCES 1000000

/* The original's simulate_one_job: num_recurrence recurrences, up to 20 tries each, driven by
 * zeus_recurring (zeus/recurring.h). The history (zeroed or previously freed by the caller)
 * receives every run; on an error it keeps the runs made so far. Errors: ZEUS_ENOENT (job not in
 * the trace), ZEUS_EINVAL (bad knobs or default batch size, more than ZEUS_SIM_MAX_RECURRENCES
 * recurrences), ZEUS_ESTATE ("The default batch size b0 did not converge.", "Job did
 * not reach the target metric in 20 tries."). */
ZEUS_API int zeus_simulate_one_job(const zeus_trace *trace, const zeus_job *job,
                                   size_t num_recurrence, const zeus_sim_params *params,
                                   zeus_sim_history *history);

/* One job submission of an Alibaba-style group. */
typedef struct zeus_group_job {
    double start_time, end_time; /* s; their difference decides concurrency */
    double runtime_ratio;        /* job runtime / mean runtime of the dataset's jobs */
} zeus_group_job;

/* The original's simulate_one_alibaba_group over rows sorted by start time. Submissions that
 * arrive while others run use the best-known batch size (params->bso.concurrency should be on,
 * as run_alibaba.py sets it). */
ZEUS_API int zeus_simulate_one_alibaba_group(const zeus_trace *trace, const zeus_job *job,
                                             const zeus_group_job *rows, size_t n_rows,
                                             const zeus_sim_params *params,
                                             zeus_sim_history *history);

/* ---- the runs as CSV ------------------------------------------------------------------------ */

typedef struct zeus_sim_csv_part {
    const char *group; /* the group column's value (with group_column), else unused */
    const zeus_sim_history *history;
} zeus_sim_csv_part;

/* The CSV `zeus simulate --csv` writes: the header
 * "recurrence,try,batch_size,power_limit,energy,time,reached,cost" ("group," first with
 * group_column), then one row per run of each part in order: recurrence and try counted from 1,
 * floats as Python's repr (they read back to the same double), reached True/False. *text is
 * malloc'd and NUL-terminated (free() it); *len is its length. */
ZEUS_API int zeus_sim_csv_format(const zeus_sim_csv_part *parts, size_t n, bool group_column,
                                 char **text, size_t *len);
/* The same, written to path (replaced atomically: a failed write leaves no partial file). */
ZEUS_API int zeus_sim_csv_save(const char *path, const zeus_sim_csv_part *parts, size_t n,
                               bool group_column);

/* ---- Alibaba-style group traces ------------------------------------------------------------- */
typedef struct zeus_groups zeus_groups;

typedef struct zeus_group {
    const char *id;
    const char *dataset;
    const zeus_group_job *rows; /* file order */
    size_t n_rows;
} zeus_group;

/* CSV with columns group, start_time, end_time, dataset, runtime_ratio (one of the six NSDI'23
 * datasets). Groups come sorted by id, as pandas groupby gives them. */
ZEUS_API int zeus_groups_load(const char *path, zeus_groups **out);
ZEUS_API void zeus_groups_destroy(zeus_groups *groups);
ZEUS_API size_t zeus_groups_count(const zeus_groups *groups);
ZEUS_API void zeus_groups_get(const zeus_groups *groups, size_t index, zeus_group *out);

/* run_alibaba.py's job for a dataset on this trace's GPU: the dataset's network, optimizer,
 * target and max epochs, default batch size capped by zeus_trace_max_batch_size. ZEUS_ENOENT
 * for a dataset outside the six. */
ZEUS_API int zeus_alibaba_job(const zeus_trace *trace, const char *dataset, zeus_job *job);
/* run_alibaba.py's per-group seed: adler32 of the group id's UTF-8 bytes. */
ZEUS_API uint64_t zeus_alibaba_seed(const char *group_id);

typedef struct zeus_group_result {
    zeus_job job;
    uint64_t seed;
    zeus_sim_history history;
    int status;                        /* ZEUS_OK or the simulation's error */
    char error[ZEUS_ERROR_DETAIL_LEN]; /* its detail */
} zeus_group_result;

/* Simulates every group as run_alibaba.py does (per-group job and seed, concurrency on) on up
 * to n_threads threads (0: one per online CPU). *results has one entry per group, in group
 * order, whatever the threads; free with zeus_group_results_free. Returns ZEUS_OK when the
 * runner itself worked, even if some groups failed (see each status). */
ZEUS_API int zeus_simulate_alibaba(const zeus_trace *trace, const zeus_groups *groups,
                                   double eta_knob, double beta_knob, unsigned n_threads,
                                   zeus_group_result **results);
/* The same with a batch-size policy other than the original's (ZEUS_BSO_POLICY_*,
 * zeus/batch_size.h; zeus_simulate_alibaba is this with ZEUS_BSO_POLICY_PRUNING_GTS). ZEUS_EINVAL
 * for an unknown one. */
ZEUS_API int zeus_simulate_alibaba_policy(const zeus_trace *trace, const zeus_groups *groups,
                                          double eta_knob, double beta_knob, int policy,
                                          unsigned n_threads, zeus_group_result **results);
ZEUS_API void zeus_group_results_free(zeus_group_result *results, size_t n);

/* ---- summary ------------------------------------------------------------------------------- */

/* How often a (batch size, power limit) was used. */
typedef struct zeus_sim_knob_use {
    int batch_size, power_limit;
    size_t runs;
} zeus_sim_knob_use;

#define ZEUS_SIM_MOST_USED 3

/* What `zeus simulate` prints after a run, for any face. */
typedef struct zeus_sim_summary {
    size_t runs, recurrences, unreached_runs;
    double energy_j, time_s, cost; /* totals over the history */
    /* false when no (batch size, power limit) always reaches the target within max_epochs: the
     * oracle is then unknown, and oracle, oracle_cost, regret and regret_pct are zero. (Groups:
     * true when at least one summarized group has one; the regret is over those groups.) */
    bool has_oracle;
    zeus_sim_choice oracle, default_choice;
    /* The same recurrences (weighted by their runtime ratios, if any) at the default and at
     * the oracle's knobs, in expectation. */
    double default_energy_j, default_time_s, default_cost, oracle_cost;
    double energy_saved_j, time_saved_s; /* default minus simulated (negative: worse) */
    double regret;                       /* simulated cost minus the oracle's */
    /* energy_saved_j and time_saved_s in % of the default's, regret in % of oracle_cost (0 when
     * the reference is 0). */
    double energy_saved_pct, time_saved_pct, regret_pct;
    /* The most used knobs, most runs first (ties: smaller batch size, then first used). */
    zeus_sim_knob_use most_used[ZEUS_SIM_MOST_USED];
    size_t n_most_used;
} zeus_sim_summary;

/* weights: per recurrence (e.g. the group rows' runtime ratios), or NULL for 1 each. A job
 * without an oracle is summarized with has_oracle false (not an error). ZEUS_ENOENT when the job
 * or its default batch size has no rows. */
ZEUS_API int zeus_sim_summarize(const zeus_trace *trace, const zeus_job *job, double eta_knob,
                                const zeus_sim_history *history, size_t n_recurrences,
                                const double *weights, zeus_sim_summary *out);

/* Curves over the recurrences 0..n-1 of a single job's history (arrays of n values, the
 * caller's; any may be NULL): cost[r] the cost of recurrence r's runs (every try),
 * cumulative[r] that of recurrences 0..r, regret[r] = cumulative[r] - (r + 1) x oracle_cost (NaN
 * when oracle_cost is NaN), batch_size[r] the batch size of its last try (NaN if it had none). */
ZEUS_API int zeus_sim_curves(const zeus_sim_history *history, size_t n, double oracle_cost,
                             double *cost, double *cumulative, double *regret, double *batch_size);

/* The summary of each group of a zeus_simulate_alibaba run (per_group: one per group, weighted by
 * the rows' runtime ratios; a failed group's is all zero) and their total (sums; percentages of
 * the summed references; most used knobs over every group). */
ZEUS_API int zeus_sim_summarize_alibaba(const zeus_trace *trace, const zeus_groups *groups,
                                        const zeus_group_result *results, double eta_knob,
                                        zeus_sim_summary *per_group, zeus_sim_summary *total);

#ifdef __cplusplus
}
#endif
#endif
