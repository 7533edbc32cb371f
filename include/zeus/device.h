/* Zeus device layer: GPUs and CPU packages behind one registry of backends.
 *
 * A zeus_devices handle holds one GPU backend (nvml or sim) and one CPU backend (rapl), each
 * chosen at open time. Which GPU backend is used:
 *   ZEUS_DEVICE unset or "auto": nvml if it loads and initializes, else no GPUs (the simulator
 *                               is never chosen silently);
 *   ZEUS_DEVICE=nvml | sim | none: exactly that backend (sim: simulated GPUs configured by
 *                               ZEUS_SIM_CONFIG, see docs/devices.md).
 * A backend that cannot be used keeps a reason a person can act on (zeus_devices_backend()).
 *
 * GPU indices in this API are *framework indices*: positions after CUDA_VISIBLE_DEVICES, what
 * PyTorch calls cuda:N. zeus_gpu_info.device_index is the backend's own (NVML) index.
 *
 * Units are in the names: _mw milliwatts, _mj millijoules, _uj microjoules, _ns nanoseconds.
 *
 * Thread safety: after zeus_devices_open() returns, every function here may be called from
 * any thread concurrently with any other except zeus_devices_close(). (NVML is thread-safe; the
 * RAPL wrap accumulators and the simulator are protected by locks.)
 */
#ifndef ZEUS_DEVICE_H
#define ZEUS_DEVICE_H

#include "zeus/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zeus_devices zeus_devices;

/* Most GPUs and CPU packages one monitor or sampler follows. */
#define ZEUS_MAX_GPUS 64
#define ZEUS_MAX_CPUS 16

/* GPU architectures, numbered as NVML's nvmlDeviceArchitecture_t. */
typedef enum {
    ZEUS_ARCH_KEPLER = 2,
    ZEUS_ARCH_MAXWELL = 3,
    ZEUS_ARCH_PASCAL = 4,
    ZEUS_ARCH_VOLTA = 5,
    ZEUS_ARCH_TURING = 6,
    ZEUS_ARCH_AMPERE = 7,
    ZEUS_ARCH_ADA = 8,
    ZEUS_ARCH_HOPPER = 9,
    ZEUS_ARCH_BLACKWELL = 10,
    ZEUS_ARCH_UNKNOWN = -1
} zeus_gpu_arch;

/* "volta", "hopper", ... ; "unknown" otherwise. */
ZEUS_API const char *zeus_gpu_arch_name(zeus_gpu_arch arch);
/* Parses a name case-insensitively ("Volta", "ampere"); ZEUS_EINVAL if unknown. */
ZEUS_API int zeus_gpu_arch_parse(const char *name, zeus_gpu_arch *out);

typedef struct {
    unsigned index;        /* framework index (after CUDA_VISIBLE_DEVICES) */
    unsigned device_index; /* backend index (NVML index) */
    char name[96];
    char uuid[96];
    zeus_gpu_arch arch;
    bool has_energy_counter; /* Volta and newer: a cumulative counter worth trusting */
    bool power_limit_valid;  /* the fields below are meaningful */
    unsigned min_power_limit_mw;
    unsigned max_power_limit_mw;
    unsigned default_power_limit_mw;
    bool simulated; /* true for the sim backend and the project's fake NVML */
} zeus_gpu_info;

/* Power readings. NVML's nvmlDeviceGetPowerUsage returns a 1 s average on Ampere (except
 * GA100) and newer and an instantaneous value before; the field-value API names both. */
typedef struct {
    bool instant_valid;
    unsigned instant_mw;
    bool average_valid; /* 1-second average */
    unsigned average_mw;
    unsigned usage_mw; /* nvmlDeviceGetPowerUsage (always valid when the call succeeds) */
} zeus_gpu_power;

typedef struct {
    unsigned index; /* position among CPU packages */
    char name[64];  /* e.g. "package-0" */
    bool has_dram;
    uint64_t package_range_uj; /* max_energy_range_uj */
    uint64_t dram_range_uj;
} zeus_cpu_info;

/* Energy since the handle was opened, wraparound already accounted for. */
typedef struct {
    uint64_t package_uj;
    bool dram_valid;
    uint64_t dram_uj;
} zeus_cpu_energy;

typedef enum { ZEUS_BACKEND_GPU = 0, ZEUS_BACKEND_CPU = 1 } zeus_backend_kind;

typedef struct {
    const char *name; /* "nvml", "sim", "rapl" */
    zeus_backend_kind kind;
    bool available;   /* opened and in use */
    char reason[512]; /* why not available, or a note (e.g. the library path) when it is */
} zeus_backend_status;

/* Opens the device layer. Never fails because a backend is missing (that backend is just
 * unavailable, with a reason); fails only for malformed configuration such as a bad
 * CUDA_VISIBLE_DEVICES or ZEUS_DEVICE, or a simulator config that does not parse. */
ZEUS_API int zeus_devices_open(zeus_devices **out);
ZEUS_API void zeus_devices_close(zeus_devices *devices);

ZEUS_API size_t zeus_devices_backend_count(const zeus_devices *devices);
ZEUS_API int zeus_devices_backend(const zeus_devices *devices, size_t i, zeus_backend_status *out);
/* The name of the GPU backend in use, or NULL when there are no GPUs. */
ZEUS_API const char *zeus_devices_gpu_backend(const zeus_devices *devices);

/* How CUDA_VISIBLE_DEVICES was read: its text (NULL when unset) and, per framework index, the
 * backend index it maps to (zeus_gpu_info.device_index). */
ZEUS_API const char *zeus_devices_cuda_visible_devices(const zeus_devices *devices);

/* ---- GPUs (framework indices) ---- */
ZEUS_API unsigned zeus_gpu_count(const zeus_devices *devices);
ZEUS_API int zeus_gpu_get_info(const zeus_devices *devices, unsigned gpu, zeus_gpu_info *out);
/* Cumulative energy counter in mJ (since driver load). ZEUS_ENOTSUP before Volta. */
ZEUS_API int zeus_gpu_energy_mj(zeus_devices *devices, unsigned gpu, uint64_t *energy_mj);
ZEUS_API int zeus_gpu_read_power(zeus_devices *devices, unsigned gpu, zeus_gpu_power *out);
/* The fastest reading that is good for sampling: instant when available, else usage. */
ZEUS_API int zeus_gpu_power_mw(zeus_devices *devices, unsigned gpu, unsigned *power_mw);
ZEUS_API int zeus_gpu_power_limit_mw(zeus_devices *devices, unsigned gpu, unsigned *limit_mw);
/* Needs root or CAP_SYS_ADMIN on real GPUs: ZEUS_EPERM otherwise. */
ZEUS_API int zeus_gpu_set_power_limit_mw(zeus_devices *devices, unsigned gpu, unsigned limit_mw);
ZEUS_API int zeus_gpu_set_persistence_mode(zeus_devices *devices, unsigned gpu, bool enabled);
/* ZEUS_ENOTSUP where the backend (or an old NVML) cannot read it. */
ZEUS_API int zeus_gpu_persistence_mode(zeus_devices *devices, unsigned gpu, bool *enabled);
/* GPU core temperature in degrees C (nvmlDeviceGetTemperature, NVML_TEMPERATURE_GPU; the sim
 * backend models it from power). ZEUS_ENOTSUP where the GPU or the NVML library cannot say. */
ZEUS_API int zeus_gpu_temperature_c(zeus_devices *devices, unsigned gpu, unsigned *celsius);
/* ZEUS_EHETERO (with the names in zeus_last_error()) if the GPUs are not all the same model.
 * gpus == NULL checks every GPU. */
ZEUS_API int zeus_gpu_check_homogeneous(const zeus_devices *devices, const unsigned *gpus,
                                        size_t count);

/* ---- Simulated GPUs (sim backend only; ZEUS_ENOTSUP elsewhere) ---- */
/* Queues one training step on the GPU, like an asynchronous kernel launch: it starts when the
 * previous step ends and takes the time the workload model gives at the current power limit.
 * *end_ns (optional) receives when it will finish (zeus monotonic clock). */
ZEUS_API int zeus_sim_launch_step(zeus_devices *devices, unsigned gpu, int64_t *end_ns);
/* Blocks until every queued step on the GPU is done (like torch.cuda.synchronize). */
ZEUS_API int zeus_sim_synchronize(zeus_devices *devices, unsigned gpu);
/* Exact energy consumed so far in µJ, unquantized: the ground truth tests compare against. */
ZEUS_API int zeus_sim_exact_energy_uj(zeus_devices *devices, unsigned gpu, double *energy_uj);

/* ---- CPU packages (RAPL) ---- */
ZEUS_API unsigned zeus_cpu_count(const zeus_devices *devices);
ZEUS_API int zeus_cpu_get_info(const zeus_devices *devices, unsigned cpu, zeus_cpu_info *out);
/* Reads the counters and returns energy accumulated since open. Call at least once per wrap
 * period (max_energy_range_uj / power; minutes at full load) or a wrap can be missed. */
ZEUS_API int zeus_cpu_read_energy(zeus_devices *devices, unsigned cpu, zeus_cpu_energy *out);

#ifdef __cplusplus
}
#endif
#endif
