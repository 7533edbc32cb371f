/* zeus-pfo: the pipeline frequency optimizer's server (`zeus pipeline-frequency serve`),
 * wire-compatible with the original's FastAPI server (zeus.optimizer.perseus.server /
 * zeus.optimizer.pipeline_frequency.server; docs/pipeline-frequency.md). */
#ifndef ZEUS_PFO_H
#define ZEUS_PFO_H

#include <stdbool.h>
#include <stddef.h>

/* One rank's plan: (instruction, MHz) pairs. */
typedef struct {
    char (*names)[16];
    int *freqs;
    size_t n;
} pfo_plan;

/* A solution file (what `zeus pipeline-frequency solve` and the original's run_optimization.py
 * write): a Python list of lists of ('forward'|'backward', int) tuples, then # comments, read by
 * a literal parser, never evaluated. Returns 0, or -1 with a message naming file and line. */
int pfo_solution_load(const char *path, pfo_plan **plans, size_t *count, char *err, size_t size);
void pfo_plans_free(pfo_plan *plans, size_t count);

#define PFO_ONLINE_MAX_FREQS 128

typedef struct {
    char scheduler[32]; /* PointSolution, PointSolution3D or Online (ours, online.c) */
    char solution_path[4096];
    /* Online: microbatches per iteration, the clocks to profile (none: every clock all ranks
     * support, at least online_min_mhz), and the solver's options */
    long online_mbs;
    int online_freqs[PFO_ONLINE_MAX_FREQS];
    size_t online_nfreqs;
    long online_min_mhz;
    double online_p2p_power_w, online_unit_time_s;
    bool dump_data;
    char dump_dir[4096];
    long max_job_idle_time_s;
    double sweep_interval_s; /* how often idle jobs are evicted (the original: 60 s) */
    bool log_requests;       /* log level DEBUG: every request and response */
} pfo_settings;

/* Reads ZEUS_PFO_* (and the v0.8 names PERSEUS_*) like the original's settings class; -1 with
 * a message for a bad value (the original refuses to start). */
int pfo_settings_from_env(pfo_settings *s, char *err, size_t size);

/* Applies a scheduler_args JSON object (ZEUS_PFO_SCHEDULER_ARGS, --scheduler-args) for the
 * scheduler s names; -1 with a message naming the bad argument. */
int pfo_scheduler_args(pfo_settings *s, const char *json, char *err, size_t size);

/* Online (online.c): one profiling iteration's plan of a stage (1F1B order, every instruction
 * at mhz), and the plan of every stage from a profile CSV (the last frontier point). */
int pfo_online_profiling_plan(long stages, long mbs, long stage, int mhz, pfo_plan *out, char *err,
                              size_t size);
int pfo_online_solve(const char *csv, long stages, long mbs, const pfo_settings *s, pfo_plan *plans,
                     char *err, size_t size);

/* A reply: status and body (malloc'd), content type JSON unless plain. */
typedef struct {
    int status;
    char *body;
    bool plain;
} pfo_reply;

void pfo_jobs_init(const pfo_settings *settings);
void pfo_jobs_shutdown(void);
/* The four routes. schedule_wait blocks until the round's schedules are out (the long poll). */
void pfo_register_job(const char *body, pfo_reply *out);
void pfo_register_rank(const char *job_id, const char *body, pfo_reply *out);
void pfo_get_schedule(const char *job_id, const char *rank, pfo_reply *out);
void pfo_post_result(const char *job_id, const char *body, pfo_reply *out);
/* Evicts jobs idle longer than the limit; called by the sweeper thread. */
void pfo_evict_idle(void);

#endif
