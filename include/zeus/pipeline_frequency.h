/* Zeus in C: the pipeline frequency optimizer's solver (Perseus; the original's `lowtime` 0.3.0
 * driven by zeus's examples/pipeline_frequency_optimizer/run_optimization.py). From a profile of
 * every stage's forward and backward at every SM frequency it computes the iteration
 * time-energy frontier of a synchronous 1F1B pipeline with the Phillips-Dessouky method and, for
 * every frontier point, a per-instruction frequency plan (docs/pipeline-frequency.md).
 *
 * Pure logic (no devices, clocks or threads); zeus_pf_profile_load reads a file. A solver
 * object is used by one thread at a time; different objects are independent. */
#ifndef ZEUS_PIPELINE_FREQUENCY_H
#define ZEUS_PIPELINE_FREQUENCY_H

#include "zeus/common.h"
#include "zeus/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ZEUS_PF_FORWARD = 0, ZEUS_PF_BACKWARD = 1 } zeus_pf_instruction;

/* "forward" / "backward" (the names in the profile CSV and in plans). */
ZEUS_API const char *zeus_pf_instruction_name(zeus_pf_instruction instruction);

/* One way to run an instruction: measured time and (effective) energy at a frequency. */
typedef struct {
    double real_time_s;
    double cost_j;
    long knob_mhz;
    long quant_time; /* zeus_pf_quantize(real_time_s, unit_time_s) */
} zeus_pf_option;

/* int(real_time // unit_time) with Python's float floor division (0.094 // 0.001 == 93), as
 * lowtime quantises. */
ZEUS_API long zeus_pf_quantize(double real_time_s, double unit_time_s);

/* lowtime's CandidateExecutionOptions: drops an option if another has real_time < its
 * real_time*noise_factor and cost < its cost*noise_factor, keeps the highest-cost option of each
 * quant_time, and sorts by quant_time descending. Writes at most n options to out (which may
 * not alias options); returns how many. */
ZEUS_API size_t zeus_pf_candidates(const zeus_pf_option *options, size_t n, double noise_factor,
                                   zeus_pf_option *out);

/* cost(q) = a * exp(b * q) + c */
typedef struct {
    double a, b, c;
} zeus_pf_cost_model;

ZEUS_API double zeus_pf_cost(const zeus_pf_cost_model *model, long quant_time);

/* Least-squares fit of the exponential model to the candidates' (quant_time, cost) with a >= 0
 * (lowtime's ExponentialModel with the "best" grid search: the convex fit of least squared
 * error). Needs at least 4 candidates (with 3 or fewer lowtime's curve_fit has no covariance and
 * every fit is rejected): ZEUS_EINVAL otherwise, or when no convex fit exists. */
ZEUS_API int zeus_pf_fit_exponential(const zeus_pf_option *candidates, size_t n,
                                     zeus_pf_cost_model *out);

/* What the solver knows of one (stage, instruction): its candidate options (quant_time
 * descending, as zeus_pf_candidates leaves them) and its cost model. */
typedef struct {
    zeus_pf_option *options;
    size_t n_options;
    zeus_pf_cost_model model;
} zeus_pf_spec;

typedef struct {
    size_t size;         /* sizeof(zeus_pf_profile_options) */
    double unit_time_s;  /* seconds per time quantum, default 0.001 */
    double p2p_power_w;  /* power while blocked on P2P, subtracted from each energy: 70 */
    double noise_factor; /* soft Pareto filter used when 3 or fewer candidates remain: 0.95 */
    bool no_fit;         /* leave the models zero (for zeus_pf_cost_models_load) */
} zeus_pf_profile_options;

ZEUS_API void zeus_pf_profile_options_init(zeus_pf_profile_options *options);

/* Reads a profile CSV (columns stage, instruction, frequency, time, energy; others ignored; the
 * rows of all ranks of a stage are merged) and builds *specs_out[stage * 2 + instruction] for
 * stages 0..num_stages-1: options with effective cost energy - p2p_power * quant_time *
 * unit_time, candidates, and the fitted model. Errors name the file, line, stage and
 * instruction. Free with zeus_pf_specs_free. */
ZEUS_API int zeus_pf_profile_load(const char *path, int num_stages,
                                  const zeus_pf_profile_options *options, zeus_pf_spec **specs_out);
ZEUS_API void zeus_pf_specs_free(zeus_pf_spec *specs, int num_stages);
/* Replaces the models of specs (from zeus_pf_profile_load) with those of a CSV with columns
 * stage, instruction, a, b, c: a fixed model instead of the fit (to reuse a fit, or to compare
 * with another solver on identical curves). Every (stage, instruction) must appear exactly once.
 * The models zeus_pf_profile_load fitted are written in the same form by `zeus
 * pipeline-frequency solve` (cost_models.csv). */
ZEUS_API int zeus_pf_cost_models_load(const char *path, int num_stages, zeus_pf_spec *specs);

/* The synchronous 1F1B order of one stage (2 * num_microbatches instructions): stage s runs
 * min(S - s, M) forwards, then alternates backward/forward, then the remaining backwards. */
ZEUS_API int zeus_pf_1f1b(int num_stages, int num_microbatches, int stage,
                          zeus_pf_instruction *instructions, int *microbatches);

/* One frontier point (lowtime's IterationResult). */
typedef struct {
    long iteration;     /* 1, 2, ... */
    double cost_change; /* cost added by shortening the iteration by one quantum */
    double cost;        /* sum of the instructions' modelled effective costs */
    long quant_time;    /* iteration time in quanta */
    double real_time_s; /* quant_time * unit_time */
} zeus_pf_result;

/* One instruction of a plan. */
typedef struct {
    zeus_pf_instruction instruction;
    int microbatch;
    long duration; /* planned quanta */
    long knob_mhz; /* frequency: the slowest option that fits the duration */
} zeus_pf_step;

typedef struct zeus_pf_solver zeus_pf_solver;

/* A solver over the 1F1B DAG of num_stages x num_microbatches, every instruction at its
 * slowest option. specs as zeus_pf_profile_load makes them (copied). */
ZEUS_API int zeus_pf_solver_create(int num_stages, int num_microbatches, const zeus_pf_spec *specs,
                                   double unit_time_s, zeus_pf_solver **out);
ZEUS_API void zeus_pf_solver_destroy(zeus_pf_solver *solver);
/* Iteration time in quanta with every instruction at its slowest / fastest option. */
ZEUS_API long zeus_pf_solver_max_time(const zeus_pf_solver *solver);
ZEUS_API long zeus_pf_solver_min_time(const zeus_pf_solver *solver);
/* Shortens the iteration by one quantum at the least cost (a minimum cut of the critical
 * subgraph). Returns 1 with *out filled, 0 when the frontier has ended, or a negative error. */
ZEUS_API int zeus_pf_solver_step(zeus_pf_solver *solver, zeus_pf_result *out);
/* The current plan of one stage: 2 * num_microbatches steps in 1F1B order. */
ZEUS_API int zeus_pf_solver_plan(const zeus_pf_solver *solver, int stage, zeus_pf_step *out);

/* The solution file the original's example writes for frontier point `index` (0-based) and
 * PointSolution reads: "[\n" then each stage's [('forward', 1410), ...] list and ",\n", "]\n",
 * and the three "# Iteration ..." comment lines (cost with P2P = cost + S * real_time * p2p).
 * *text is freed with zeus_free. */
ZEUS_API int zeus_pf_solver_format_plan(const zeus_pf_solver *solver, long index,
                                        const zeus_pf_result *result, double p2p_power_w,
                                        char **text);

/* ---- The frequency controller (the original's FrequencyController) ----
 * Each rank replays its plan by asking for the next instruction's SM clock; the controller's own
 * thread locks it, so the training step never waits for the driver. The clocks are changed
 * through a lease (zeus/lease.h): unlocked when the controller stops, at exit, on SIGINT /
 * SIGTERM / SIGHUP once zeus_install_signal_handlers() was called, and through zeusd without
 * root when the device set's knob backend is zeusd. */
typedef struct zeus_pf_controller zeus_pf_controller;

/* Takes a lease on the GPU, puts its power limit back to the default (unless it is already),
 * locks the memory clock at the highest supported one (a driver that cannot is fine) and the SM
 * clock at the highest at that memory clock, then starts the thread. */
ZEUS_API int zeus_pf_controller_start(zeus_devices *devices, unsigned gpu,
                                      zeus_pf_controller **out);
/* Queues a frequency (MHz) and returns at once: 0 changes nothing, and the thread skips a
 * frequency equal to the current one. Any thread. */
ZEUS_API int zeus_pf_controller_set_frequency(zeus_pf_controller *controller, unsigned mhz);
/* Blocks until every queued frequency has been applied (or failed): for a trainer that wants
 * the clock in place before an instruction's first kernel, at the cost of waiting for the
 * driver at each change (PipelineFrequencyOptimizer's wait_for_frequency). NULL: no-op. */
ZEUS_API void zeus_pf_controller_wait(zeus_pf_controller *controller);
/* Applies what is queued, stops the thread and unlocks the clocks. NULL: no-op. */
ZEUS_API void zeus_pf_controller_stop(zeus_pf_controller *controller);
/* The highest SM clock (what the controller started at), the one locked now, and how many lock
 * calls the thread made (for tests and logs). */
ZEUS_API void zeus_pf_controller_state(zeus_pf_controller *controller, unsigned *max_mhz,
                                       unsigned *current_mhz, unsigned long *locks);

#ifdef __cplusplus
}
#endif
#endif
