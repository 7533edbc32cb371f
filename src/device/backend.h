/* The backend operations table: every device backend (nvml, sim, rapl; later amdsmi and the
 * zeusd client) fills one of these. Devices are addressed by the backend's own index; the
 * registry maps framework indices onto them. Optional operations are NULL. Every operation
 * returns 0 or a negative ZEUS_E* code with detail recorded through zeus__error(). */
#ifndef ZEUS_DEVICE_BACKEND_H
#define ZEUS_DEVICE_BACKEND_H

#include "zeus/device.h"

#define ZEUS_BACKEND_ABI 1

typedef struct zeus_backend_ops {
    int abi_version; /* ZEUS_BACKEND_ABI */
    const char *name;
    zeus_backend_kind kind;
    /* On failure returns a negative code and writes a reason a person can act on. A note may be
     * written on success too (e.g. which library was loaded). */
    int (*open)(void **state, char *reason, size_t reason_size);
    void (*close)(void *state);
    unsigned (*count)(void *state);

    /* GPUs */
    int (*gpu_info)(void *state, unsigned dev, zeus_gpu_info *out);
    /* UUID of the m-th MIG instance of dev; ZEUS_ENOENT past the last one. */
    int (*gpu_mig_uuid)(void *state, unsigned dev, unsigned m, char *uuid, size_t size);
    /* GPU and compute instance ids of the m-th MIG instance of dev (what CUDA's older
     * "MIG-GPU-<uuid>/<gi>/<ci>" form names). Optional. */
    int (*gpu_mig_ids)(void *state, unsigned dev, unsigned m, unsigned *gi, unsigned *ci);
    int (*gpu_energy_mj)(void *state, unsigned dev, uint64_t *energy_mj);
    int (*gpu_power)(void *state, unsigned dev, zeus_gpu_power *out);
    /* The one reading best for sampling (instant if the GPU has it), in one call. Optional:
     * without it the registry uses gpu_power. */
    int (*gpu_power_sample_mw)(void *state, unsigned dev, unsigned *power_mw);
    int (*gpu_power_limit_mw)(void *state, unsigned dev, unsigned *limit_mw);
    int (*gpu_set_power_limit_mw)(void *state, unsigned dev, unsigned limit_mw);
    int (*gpu_set_persistence)(void *state, unsigned dev, bool enabled);
    /* Reads persistence mode (a lease records it to put it back). Optional: ZEUS_ENOTSUP. */
    int (*gpu_persistence)(void *state, unsigned dev, bool *enabled);
    /* Optional: core temperature in degrees C. */
    int (*gpu_temperature_c)(void *state, unsigned dev, unsigned *celsius);
    /* True when GPU settings live in this process only (simulated GPUs without a shared state
     * file): no other process can change them, so leases take no lock. Optional: false. */
    bool (*gpu_settings_private)(void *state);
    int (*sim_launch_step)(void *state, unsigned dev, int64_t *end_ns);
    int (*sim_synchronize)(void *state, unsigned dev);
    int (*sim_exact_energy_uj)(void *state, unsigned dev, double *energy_uj);

    /* CPU packages */
    int (*cpu_info)(void *state, unsigned dev, zeus_cpu_info *out);
    int (*cpu_energy)(void *state, unsigned dev, zeus_cpu_energy *out);
} zeus_backend_ops;

/* The registry's view for library code (src/power_limit/lease.c): see gpu_settings_private. */
bool zeus__devices_gpu_settings_private(const zeus_devices *devices);

extern const zeus_backend_ops zeus__nvml_backend;
extern const zeus_backend_ops zeus__sim_backend;
extern const zeus_backend_ops zeus__rapl_backend;

#endif
