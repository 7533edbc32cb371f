/* Zeus power-limit optimizer (the original's GlobalPowerLimitOptimizer and its optimum
 * selectors): profiles every GPU power limit during the first steps of training, then locks in
 * the one that is best under a chosen objective.
 *
 *   zeus_power_limit_options o;
 *   zeus_power_limit_options_init(&o);          // ZeusCost(eta 0.5), wait 1, warmup 10,
 *   zeus_power_limit_optimizer *plo;            // profile 40 steps, 25 W stride
 *   zeus_power_limit_optimizer_create(monitor, &o, &plo);
 *   for each epoch:
 *       for each step:
 *           zeus_power_limit_on_step_begin(plo);  ... train one step ...
 *           zeus_power_limit_on_step_end(plo);
 *       zeus_power_limit_on_epoch_end(plo);
 *   zeus_power_limit_optimizer_destroy(plo);    // every GPU back to the limit it had
 *
 * State machine (see docs/power-limit.md): Ready -> Warmup -> Profiling -> Warmup -> ... -> Done.
 * Limits are profiled from the maximum down in steps of pl_step_w, never below the GPU's
 * minimum. An epoch end during Warmup or Profiling abandons that limit (the GPU goes back to the
 * maximum) and retries it from the start of its warmup at the next step.
 *
 * Safety: the optimizer holds a lease (zeus/lease.h) over its GPUs from creation to destruction:
 * their locks (so `zeus power-limit set` on them waits rather than interleaves), and the limit
 * and persistence mode each GPU had, put back when the optimizer is destroyed, when the process
 * exits normally (restore_on_exit) and on SIGINT/SIGTERM/SIGHUP (restore_on_signal) once the
 * application called zeus_install_signal_handlers() -- the library installs no handler by
 * itself. Nothing can run on SIGKILL: the limit stays where it was until something resets it
 * (`zeus power-limit reset`, or a lease holder watching the process).
 *
 * Thread safety: the selector functions are pure and thread-safe. One optimizer must be driven
 * from one thread at a time (its hooks are not locked; they cost a few nanoseconds outside
 * phase transitions). Creating and destroying optimizers is thread-safe. The optimizer must be
 * destroyed before its monitor and the monitor's devices are closed.
 */
#ifndef ZEUS_POWER_LIMIT_H
#define ZEUS_POWER_LIMIT_H

#include "zeus/common.h"
#include "zeus/device.h"
#include "zeus/monitor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One profiled power limit, as in the original's profile file: W, J (summed over the monitored
 * GPUs), s. */
typedef struct {
    unsigned power_limit_w;
    double energy_j;
    double time_s;
} zeus_power_limit_measurement;

/* ---- Optimum selectors ---------------------------------------------------------------------
 * Values a caller composes; they hold no resources. Input: measurements in profiling order;
 * output: the optimal power limit in W. Ties go to the earlier measurement (the higher limit).
 * The cost function is zeus_cost() from zeus/cost.h.
 */
typedef enum {
    ZEUS_SELECTOR_ZEUS_COST = 0, /* argmin zeus_cost(E, T, eta, max PL x world size) */
    ZEUS_SELECTOR_ENERGY,        /* argmin E */
    ZEUS_SELECTOR_TIME,          /* argmin T */
    ZEUS_SELECTOR_MAX_SLOWDOWN,  /* lowest limit with T <= factor x T(max limit) */
    ZEUS_SELECTOR_CUSTOM         /* the caller's function */
} zeus_selector_kind;

/* A caller's selector: write the optimal limit (W) to *optimal_w and return 0, or return a
 * negative ZEUS_E* code. count >= 1. */
typedef int (*zeus_selector_fn)(const zeus_power_limit_measurement *measurements, size_t count,
                                void *user, unsigned *optimal_w);

/* world_size for ZeusCost meaning "the number of GPUs the optimizer monitors" (the original's
 * default for GlobalPowerLimitOptimizer). zeus_selector_select() treats it as 1. */
#define ZEUS_WORLD_SIZE_AUTO 0

typedef struct {
    zeus_selector_kind kind;
    double eta_knob;     /* ZEUS_COST: 0 <= eta <= 1 */
    int world_size;      /* ZEUS_COST: >= 1, or ZEUS_WORLD_SIZE_AUTO */
    double factor;       /* MAX_SLOWDOWN: >= 1 */
    zeus_selector_fn fn; /* CUSTOM */
    void *user;          /* CUSTOM */
    const char *name;    /* CUSTOM: shown in logs (may be NULL) */
} zeus_optimum_selector;

ZEUS_API zeus_optimum_selector zeus_selector_energy(void);
ZEUS_API zeus_optimum_selector zeus_selector_time(void);
/* ZEUS_EINVAL "eta_knob must be between 0 and 1, inclusive both sides." or "world_size must be
 * greater than or equal to 1." (world_size < 0; 0 is ZEUS_WORLD_SIZE_AUTO). */
ZEUS_API int zeus_selector_zeus_cost(double eta_knob, int world_size, zeus_optimum_selector *out);
/* ZEUS_EINVAL "max_slowdown_factor must be greater than or equal to 1.0. Got <factor>." */
ZEUS_API int zeus_selector_max_slowdown(double factor, zeus_optimum_selector *out);
ZEUS_API zeus_optimum_selector zeus_selector_custom(zeus_selector_fn fn, void *user,
                                                    const char *name);
/* Checks a selector built by hand (same messages as the constructors). */
ZEUS_API int zeus_selector_validate(const zeus_optimum_selector *selector);
/* Runs the selector. ZEUS_EINVAL for an empty list or an invalid selector. */
ZEUS_API int zeus_selector_select(const zeus_optimum_selector *selector,
                                  const zeus_power_limit_measurement *measurements, size_t count,
                                  unsigned *optimal_w);
/* "ZeusCost(eta_knob=0.5, world_size=1)", "Energy()", "MaxSlowdownConstraint(factor=1.1)", ...
 * Returns buf. */
ZEUS_API const char *zeus_selector_describe(const zeus_optimum_selector *selector, char *buf,
                                            size_t size);
/* Parses "zeus-cost" (alias "cost"), "energy", "time", "max-slowdown" for the command line;
 * eta_knob and factor fill in the parameters. */
ZEUS_API int zeus_selector_parse(const char *name, double eta_knob, double factor,
                                 zeus_optimum_selector *out);

/* ---- Profile file --------------------------------------------------------------------------
 * The original's JSON: {"measurements": [{"power_limit": W, "energy": J, "time": s}, ...]},
 * 4-space indent, floats in Python repr. Written atomically (temporary file + rename).
 */
typedef struct {
    size_t count;
    zeus_power_limit_measurement *measurements; /* malloc'd; free with _profile_free */
    char gpu_model[ZEUS_GPU_NAME_LEN];          /* optional "gpu_model" key; empty when absent */
} zeus_power_limit_profile;

/* Reads and validates a profile. ZEUS_ENOENT if missing; ZEUS_EPARSE (message names the file
 * and what is wrong) if it is not the original's format, empty, or has a non-positive or
 * non-finite value. Unknown keys are ignored, as the original does. */
ZEUS_API int zeus_power_limit_profile_read(const char *path, zeus_power_limit_profile *out);
/* Writes the original's exact bytes; gpu_model != NULL adds a top-level "gpu_model" key after
 * "measurements" (the original ignores it when loading). */
ZEUS_API int zeus_power_limit_profile_write(const char *path,
                                            const zeus_power_limit_measurement *measurements,
                                            size_t count, const char *gpu_model);
/* Renders the JSON text into a string (what _write stores); release it with zeus_free(). */
ZEUS_API int zeus_power_limit_profile_format(const zeus_power_limit_measurement *measurements,
                                             size_t count, const char *gpu_model, char **out);
ZEUS_API int zeus_power_limit_profile_parse(const char *json, const char *origin,
                                            zeus_power_limit_profile *out);
ZEUS_API void zeus_power_limit_profile_free(zeus_power_limit_profile *profile);

/* ---- The optimizer ------------------------------------------------------------------------- */

/* The advice when a limit cannot be set for lack of permission (ZEUS_EPERM): the original's
 * sentence (users search for it), then the two other ways it does not name. */
#define ZEUS_POWER_LIMIT_PERMISSION_ADVICE                                                         \
    "SYS_ADMIN capability is required to modify GPU power limits. Using --cap-add SYS_ADMIN "      \
    "when running the Docker container is the easiest way to do this. The other ways: run as "     \
    "root, or run Zeus's daemon as root (zeusd serve) and set ZEUSD_SOCK_PATH to its socket "      \
    "(docs/zeusd.md)."

typedef struct zeus_power_limit_optimizer zeus_power_limit_optimizer;

/* ---- Distributed training (docs/power-limit.md, "Distributed training") --------------------
 * One optimizer per rank (process), each over its own GPUs, as the newest Zeus does under
 * torch.distributed. At the end of every limit's profiling window the ranks combine what they
 * measured: energy summed over every rank's GPUs, time the slowest rank's; so every rank sees
 * the same profile and chooses the same limit. The collective is the caller's: MPI_Allreduce,
 * NCCL or Gloo (the Python package uses torch.distributed). */
typedef enum { ZEUS_REDUCE_SUM = 0, ZEUS_REDUCE_MAX = 1 } zeus_reduce_op;

/* Reduces count doubles in place, element-wise, across every rank, so that each rank ends with
 * the same values. Every rank calls it at the same points with the same count. Returns 0, or a
 * negative ZEUS_E* code when the collective failed (a peer died: ZEUS_EIO; it timed out:
 * ZEUS_ETIMEOUT); it must not block forever (give the collective a time-out). */
typedef int (*zeus_all_reduce_fn)(double *values, size_t count, zeus_reduce_op op, void *user);

/* How limits are profiled (docs/power-limit.md, "Adaptive profiling"). */
typedef enum {
    ZEUS_PL_PROFILING_FULL = 0, /* the original's: every limit, warmup + profile_steps each */
    /* Every limit from the maximum down measured in short windows only until its rank is
     * statistically clear (the sweep stops once two limits rose far above the best), then the
     * best and its closest challenger measured again while they overlap, all within
     * profiling_budget (45 %) of full profiling's steps. Full profiling's choice or one as
     * cheap in most cases. */
    ZEUS_PL_PROFILING_ADAPTIVE = 1
} zeus_power_limit_profiling;

/* "full" or "adaptive" (NULL: unknown). */
ZEUS_API const char *zeus_power_limit_profiling_name(zeus_power_limit_profiling profiling);
/* Parses "full"/"adaptive"; ZEUS_EINVAL naming the value otherwise. */
ZEUS_API int zeus_power_limit_profiling_parse(const char *name, zeus_power_limit_profiling *out);

typedef struct {
    /* Set by zeus_power_limit_options_init() (docs/abi.md: options grow by their size). */
    size_t struct_size;
    zeus_optimum_selector selector; /* default ZeusCost(0.5, ZEUS_WORLD_SIZE_AUTO) */
    int wait_steps;    /* >= 0, default 1: steps at the maximum before profiling starts */
    int warmup_steps;  /* >= 0, default 10 (0: profiling starts right after a limit change) */
    int profile_steps; /* > 0, default 40 */
    int pl_step_w;     /* > 0, default 25 */
    /* NULL: profile, keep the result in memory. A path that does not exist: profile, then
     * write it there. An existing file: load it, apply the optimum, never profile. */
    const char *profile_path;
    /* Also write a "gpu_model" key and check it on load (default false: the original's bytes). */
    bool profile_gpu_model;
    /* Restore limits and persistence mode on SIGINT/SIGTERM/SIGHUP (default true; needs
     * zeus_install_signal_handlers()) and at normal exit (default true). */
    bool restore_on_signal;
    bool restore_on_exit;
    /* Distributed training: NULL (default) profiles this process's GPUs alone. Set, the
     * optimizer calls it (with all_reduce_user) collectively: twice when created (the ranks agree
     * that every one of them was created, and whether they load a profile or make one), and
     * twice at the end of each limit's profiling window (energy summed, time max) -- never in
     * the other steps. ZeusCost's ZEUS_WORLD_SIZE_AUTO then means the GPUs of every rank. */
    zeus_all_reduce_fn all_reduce;
    void *all_reduce_user;
    /* Default ZEUS_PL_PROFILING_FULL. Distributed training works in both modes. */
    zeus_power_limit_profiling profiling;
    /* ZEUS_PL_PROFILING_ADAPTIVE: the most steps it may take, as a fraction of full
     * profiling's, 0 < budget <= 1 (default 0.45). More steps buy full profiling's quality
     * (docs/power-limit.md, "Adaptive profiling"); ignored by full profiling. */
    double profiling_budget;
} zeus_power_limit_options;

/* Defaults and struct_size. A macro, so that struct_size is the size the caller was compiled
 * with; the function writes no more than struct_size bytes. */
#define zeus_power_limit_options_init(options)                                                     \
    zeus_power_limit_options_init_sized((options), sizeof *(options))
ZEUS_API void zeus_power_limit_options_init_sized(zeus_power_limit_options *options,
                                                  size_t struct_size);

typedef enum {
    ZEUS_PL_READY = 0, /* limit: the next one to profile; steps: steps until it is set */
    ZEUS_PL_WARMUP,    /* limit: being warmed up; steps: left */
    ZEUS_PL_PROFILING, /* limit: being profiled; steps: left */
    ZEUS_PL_DONE       /* limit: the optimal one */
} zeus_power_limit_phase;

ZEUS_API const char *zeus_power_limit_phase_name(zeus_power_limit_phase phase);

typedef struct {
    zeus_power_limit_phase phase;
    unsigned power_limit_mw;
    long steps;
    size_t profiled;    /* measurements taken so far */
    size_t limit_count; /* limits to profile */
} zeus_power_limit_state;

/* Binds to a monitor (its GPUs are the ones optimized; its devices take the limits).
 * In order: validates the options; checks the GPUs share one power-limit range (ZEUS_EINVAL
 * "Power limits ranges are not uniform across GPUs.") and one model (ZEUS_EHETERO); reads and
 * checks an existing profile_path (ZEUS_EPARSE naming the file if it is corrupt, ZEUS_ERANGE if
 * its limits are outside the GPUs' range, ZEUS_EINVAL for another GPU model), or checks that a
 * new one can be written there -- all before touching any GPU; takes a lease on the GPUs
 * (ZEUS_ETIMEOUT if another changer holds them; the device's error if a GPU's current limit
 * cannot be read, as it could not be put back); enables persistence mode (ZEUS_EPERM with
 * ZEUS_POWER_LIMIT_PERMISSION_ADVICE); then sets the profile's optimum, or the maximum to start
 * profiling (on every GPU or, after a failure half-way, none). */
ZEUS_API int zeus_power_limit_optimizer_create(zeus_monitor *monitor,
                                               const zeus_power_limit_options *options,
                                               zeus_power_limit_optimizer **out);
/* Puts every GPU back to the limit it had at creation, then frees. NULL is a no-op. */
ZEUS_API void zeus_power_limit_optimizer_destroy(zeus_power_limit_optimizer *optimizer);
/* Puts every GPU back now, limit and persistence mode (the optimizer stays usable: a later hook
 * re-applies its limit and persistence mode). */
ZEUS_API int zeus_power_limit_optimizer_restore(zeus_power_limit_optimizer *optimizer);

/* Hooks. Only on_step_begin and on_epoch_end do anything; the others exist for symmetry with
 * the original's Callback. A failed hook returns the error with detail in zeus_last_error()
 * and leaves the machine in a state from which the next on_step_begin retries. */
ZEUS_API int zeus_power_limit_on_train_begin(zeus_power_limit_optimizer *optimizer);
ZEUS_API int zeus_power_limit_on_train_end(zeus_power_limit_optimizer *optimizer);
ZEUS_API int zeus_power_limit_on_epoch_begin(zeus_power_limit_optimizer *optimizer);
ZEUS_API int zeus_power_limit_on_epoch_end(zeus_power_limit_optimizer *optimizer);
ZEUS_API int zeus_power_limit_on_step_begin(zeus_power_limit_optimizer *optimizer);
ZEUS_API int zeus_power_limit_on_step_end(zeus_power_limit_optimizer *optimizer);

ZEUS_API void zeus_power_limit_get_state(const zeus_power_limit_optimizer *optimizer,
                                         zeus_power_limit_state *out);
/* The limits to profile (mW, profiling order); returns how many there are (copies at most
 * capacity). */
ZEUS_API size_t zeus_power_limit_limits(const zeus_power_limit_optimizer *optimizer,
                                        unsigned *limits_mw, size_t capacity);
/* Measurements so far (profiling order, or loaded from the profile). */
ZEUS_API size_t zeus_power_limit_measurements(const zeus_power_limit_optimizer *optimizer,
                                              zeus_power_limit_measurement *out, size_t capacity);
/* The optimal limit in mW once Done, else 0. */
ZEUS_API unsigned zeus_power_limit_optimal_mw(const zeus_power_limit_optimizer *optimizer);
/* The selector in use (world_size resolved). */
ZEUS_API zeus_optimum_selector
zeus_power_limit_selector(const zeus_power_limit_optimizer *optimizer);

#ifdef __cplusplus
}
#endif
#endif
