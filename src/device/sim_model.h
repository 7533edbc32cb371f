/* The simulated GPU: one model, written once, used by the sim backend and by the project's fake
 * libnvidia-ml (tests/fakes). Pure logic: time is always passed in (nanoseconds on the zeus
 * monotonic clock), so tests drive it with any clock they like.
 *
 * Workload model. A training step run unconstrained takes step_time_s and draws busy_w. A power
 * limit below busy_w caps the draw p = min(limit, busy_w). Dynamic power (p - static_w) grows
 * with the cube of the clock (voltage scales with frequency), so the clock falls as the cube root
 * of dynamic power; only the compute-bound fraction of the step slows with it:
 *     time = step_time_s * ((1 - c) + c * ((busy_w - static_w) / (p - static_w))^(1/3))
 * with c = compute_fraction. So lowering the limit from the top costs little time and saves
 * energy, while very low limits pay static power for much longer: an interior energy optimum and,
 * at eta = 0.5, a cost optimum below the maximum limit, like the real profiles in the spec.
 * Between steps the GPU draws idle_w, or idle_w + load * (p - idle_w) with a background load
 * (the fake NVML's way to look busy).
 *
 * Counters. Energy is integrated exactly (exact_uj) but the counter a reader sees advances only
 * at multiples of energy_update_ms, like real GPUs. The 1-second average power is computed from
 * the published counter values of the last second.
 */
#ifndef ZEUS_SIM_MODEL_H
#define ZEUS_SIM_MODEL_H

#include "zeus/device.h"

#include <stdint.h>

#define ZEUS_SIM_MAX_GPUS 64
#define ZEUS_SIM_MAX_MIG 8
#define ZEUS_SIM_MAX_ERRORS 8
#define ZEUS_SIM_AVG_RING 64
#define ZEUS_SIM_MAX_MEMORY_CLOCKS 8

/* An error to inject (used by the fake NVML only): `function` fails with `code` (an NVML
 * error name such as "GPU_IS_LOST"; "SUCCESS" lets it succeed) after `after` successful calls,
 * each such call first stalling `delay_ms` (a hung driver). */
typedef struct {
    char function[64];
    char code[40];
    long after;
    long delay_ms;
} zeus_sim_error;

typedef struct {
    char name[ZEUS_GPU_NAME_LEN];
    char uuid[ZEUS_GPU_UUID_LEN];
    zeus_gpu_arch arch;
    unsigned min_limit_mw, max_limit_mw, default_limit_mw;
    double idle_w;
    double busy_w;   /* draw of an unconstrained step */
    double static_w; /* part of busy_w that does not scale with the clock */
    double step_time_s;
    double compute_fraction; /* share of a step that slows with the clock, 0..1 */
    /* Supported clocks: SM clocks from sm_clock_max_mhz down to sm_clock_min_mhz in
     * sm_clock_step_mhz steps (the same at every memory clock), and the memory clocks. */
    unsigned sm_clock_max_mhz, sm_clock_min_mhz, sm_clock_step_mhz;
    unsigned memory_clock_count;
    unsigned memory_clocks_mhz[ZEUS_SIM_MAX_MEMORY_CLOCKS];
    double load; /* background utilisation 0..1 */
    double energy_update_ms;
    double initial_energy_j; /* counter value at start ("since driver load") */
    /* Test mode of the fake NVML: when non-zero, every counter read returns the previous value
     * plus this many mJ, independent of time (deterministic monitor tests; negative values
     * make a counter that goes backwards). */
    double energy_per_read_mj;
    /* Faults of the fake NVML (measurement cross-check tests): the energy counter advances at
     * this multiple of the true rate (1 by default; 0: a frozen counter), and a non-zero
     * stuck_power_w makes every power reading return that value whatever the draw. */
    double energy_counter_rate;
    double stuck_power_w;
    unsigned mig_count;
    char mig_uuids[ZEUS_SIM_MAX_MIG][ZEUS_GPU_UUID_LEN];
    unsigned error_count;
    zeus_sim_error errors[ZEUS_SIM_MAX_ERRORS];
} zeus_sim_gpu_params;

/* "faults" of the fake NVML: a driver that misbehaves in ways a real one might. */
enum {
    ZEUS_SIM_FAULT_UNTERMINATED = 1,    /* "unterminated_strings": text fills the buffer, no NUL */
    ZEUS_SIM_FAULT_INVERTED_LIMITS = 2, /* "inverted_limits": constraints report min > max */
};

typedef struct {
    unsigned gpu_count;
    zeus_sim_gpu_params gpus[ZEUS_SIM_MAX_GPUS];
    char init_error[40]; /* fake NVML: nvmlInit fails with this NVML error name */
    unsigned faults;     /* fake NVML: ZEUS_SIM_FAULT_* misbehaviours of a broken driver */
    char driver_version[32];
} zeus_sim_config;

/* Parses a JSON config (documented in docs/devices.md). json == NULL gives the default:
 * 4 x "NVIDIA A40", Ampere, 100-300 W. origin names the file in error messages. */
int zeus__sim_config_parse(const char *json, const char *origin, zeus_sim_config *out);
/* Reads a config given as a file's path, or as the JSON text itself when it starts with '{'
 * (NULL or empty: the default config). label names the source in error messages. */
int zeus__sim_config_load(const char *path_or_json, const char *label, zeus_sim_config *out);

/* A locked clock range of one domain (ZEUS_CLOCK_GPU, ZEUS_CLOCK_MEMORY); max_mhz 0: not
 * locked. Kept and shared like the power limit. A locked SM clock below the maximum slows the
 * compute-bound part of a step (time ∝ 1/f above the memory-bound floor 1 - compute_fraction)
 * and cuts dynamic power with the cube of the clock, as a power limit does: the clock a step
 * runs at is the lower of the locked one and the one the power limit allows. */
typedef struct {
    unsigned min_mhz, max_mhz;
} zeus_sim_clocks;

/* A plausible PCI address of simulated GPU dev ("0000:<dev+1>:00.0"), shared by the sim backend
 * and the fake NVML so both report the same. */
#define ZEUS_SIM_PCI_BUS(dev) ((dev) + 1u)

typedef struct {
    zeus_sim_gpu_params p;
    unsigned limit_mw;
    zeus_sim_clocks locked[2]; /* by zeus_clock_domain */
    int64_t t_ns;              /* the exact accumulator is at this time */
    double exact_uj;           /* exact energy up to t_ns */
    int64_t busy_start_ns, busy_end_ns;
    int64_t period_ns;
    int64_t published_k; /* index of the last counter update */
    double published_uj;
    int64_t ring_t[ZEUS_SIM_AVG_RING];
    double ring_uj[ZEUS_SIM_AVG_RING];
    unsigned ring_head, ring_len;
} zeus_sim_gpu;

void zeus__sim_gpu_init(zeus_sim_gpu *g, const zeus_sim_gpu_params *p, int64_t now_ns);
/* Brings the model to now (no-op for times in the past). */
void zeus__sim_gpu_advance(zeus_sim_gpu *g, int64_t now_ns);
void zeus__sim_gpu_set_limit(zeus_sim_gpu *g, unsigned limit_mw, int64_t now_ns);
/* The supported clocks of a domain, highest first: writes up to cap of them to out and returns
 * how many there are. */
unsigned zeus__sim_supported_clocks(const zeus_sim_gpu_params *p, zeus_clock_domain domain,
                                    unsigned *out, unsigned cap);
/* Locks (max_mhz > 0) or unlocks a domain's clocks from now on. */
void zeus__sim_gpu_set_locked(zeus_sim_gpu *g, zeus_clock_domain domain, zeus_sim_clocks clocks,
                              int64_t now_ns);
/* The SM clock steps run at now: the locked clock (the highest supported one at or below the
 * locked maximum) or, when a power limit holds it lower, what that limit allows. */
double zeus__sim_gpu_sm_clock_mhz(const zeus_sim_gpu *g);
/* Step duration at the current limit and clocks. */
double zeus__sim_gpu_step_time_s(const zeus_sim_gpu *g);
/* Power drawn while running steps at the current limit and clocks, W. */
double zeus__sim_gpu_busy_power_w(const zeus_sim_gpu *g);
/* What the GPU draws when no step runs (idle power plus the configured background load). */
double zeus__sim_gpu_background_power_w(const zeus_sim_gpu *g);
/* Queues one step; returns when it ends. */
int64_t zeus__sim_gpu_launch_step(zeus_sim_gpu *g, int64_t now_ns);
uint64_t zeus__sim_gpu_energy_mj(zeus_sim_gpu *g, int64_t now_ns);
double zeus__sim_gpu_exact_uj(zeus_sim_gpu *g, int64_t now_ns);
unsigned zeus__sim_gpu_instant_mw(zeus_sim_gpu *g, int64_t now_ns);
unsigned zeus__sim_gpu_average_mw(zeus_sim_gpu *g, int64_t now_ns);
/* Core temperature, degrees C: 25 plus 0.2 per watt of the 1 s average power (a steady-state
 * thermal model; enough for exporters and tests to see it follow the load). */
unsigned zeus__sim_gpu_temperature_c(zeus_sim_gpu *g, int64_t now_ns);

/* The sim backend's extension (zeus_backend_ops.extension): the zeus/sim.h controls. */
typedef struct {
    int (*launch_step)(void *state, unsigned dev, int64_t *end_ns);
    int (*synchronize)(void *state, unsigned dev);
    int (*exact_energy_uj)(void *state, unsigned dev, double *energy_uj);
    int (*step_cost)(void *state, unsigned dev, double *seconds, double *busy_w, double *idle_w);
} zeus__sim_extension;

#endif
