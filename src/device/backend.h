/* The backend operations table: every device backend (nvml, sim, rapl; later amdsmi and the
 * zeusd client) fills one of these and is listed once, in the registry's table (registry.c).
 * Devices are addressed by the backend's own index; the registry maps framework indices onto
 * them. Optional operations are NULL. Every operation returns 0 or a negative ZEUS_E* code with
 * detail recorded through zeus__error(). Backend-specific controls (the simulator's steps) do
 * not belong here: they hang off `extension`, which only that backend's own code interprets. */
#ifndef ZEUS_DEVICE_BACKEND_H
#define ZEUS_DEVICE_BACKEND_H

#include "zeus/device.h"

#define ZEUS_BACKEND_ABI 2

typedef struct zeus_backend_ops {
    int abi_version; /* ZEUS_BACKEND_ABI */
    const char *name;
    zeus_backend_kind kind;
    /* Tried when the GPU backend is "auto" (the simulator never is). */
    bool auto_candidate;
    /* Variable that selects visible devices in this vendor's software stack, reported by
     * show-env and read by the environment fallback (NULL: none). */
    const char *visible_devices_variable;
    /* options: the caller's, normalized (never NULL). On failure returns a negative code and
     * writes a reason a person can act on. A note may be written on success too (e.g. which
     * library was loaded). */
    int (*open)(void **state, const zeus_device_options *options, char *reason, size_t reason_size);
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
    /* Knobs: a set may route these to another backend (zeus_device_options.knob_backend). */
    int (*gpu_set_power_limit_mw)(void *state, unsigned dev, unsigned limit_mw);
    int (*gpu_set_persistence)(void *state, unsigned dev, bool enabled);
    /* Reads persistence mode (a lease records it to put it back). Optional: ZEUS_ENOTSUP. */
    int (*gpu_persistence)(void *state, unsigned dev, bool *enabled);
    /* Optional: core temperature in degrees C. */
    int (*gpu_temperature_c)(void *state, unsigned dev, unsigned *celsius);
    /* True when this process's leases need no lock and no journal of their own: the GPU
     * settings live in this process only (simulated GPUs without a shared state file), or a
     * daemon carries out the changes and leases, locks, journals and puts them back for this
     * process (zeusd; a local lock would only wait on the daemon's own). Optional: false. */
    bool (*gpu_settings_private)(void *state);

    /* Marks limit_mw (already set) as meant to stay after this process exits. Optional: only
     * a backend whose changes are put back when the process exits (zeusd's leases) needs it. */
    int (*gpu_keep_power_limit_mw)(void *state, unsigned dev, unsigned limit_mw);
    /* Sets limit_mw breaking another client's hold on the GPU (ZEUS_LEASE_FORCE: a daemon that
     * keeps leases of its own is asked to break them). Optional: a backend without it has no
     * holds but the local locks, which the lease code breaks itself. */
    int (*gpu_force_power_limit_mw)(void *state, unsigned dev, unsigned limit_mw);

    /* Locked clocks of one domain, MHz (min <= max, checked by the registry). Optional:
     * ZEUS_ENOTSUP. Nothing reads the locked range back (NVML cannot), so a reset is what puts
     * a domain back. */
    int (*gpu_set_locked_clocks)(void *state, unsigned dev, zeus_clock_domain domain,
                                 unsigned min_mhz, unsigned max_mhz);
    int (*gpu_reset_locked_clocks)(void *state, unsigned dev, zeus_clock_domain domain);
    /* As gpu_keep_power_limit_mw, for a locked range already set. Optional. */
    int (*gpu_keep_locked_clocks)(void *state, unsigned dev, zeus_clock_domain domain,
                                  unsigned min_mhz, unsigned max_mhz);
    /* Supported clocks of a domain, MHz, highest first (the GPU domain's at memory_mhz): up to
     * *count written, *count set to how many there are (ZEUS_ERANGE when more than fit).
     * Optional: ZEUS_ENOTSUP. */
    int (*gpu_supported_clocks)(void *state, unsigned dev, zeus_clock_domain domain,
                                unsigned memory_mhz, unsigned *mhz, unsigned *count);
    /* PCI address "dddd:bb:dd.f", lowercase hex. Optional: ZEUS_ENOTSUP. */
    int (*gpu_pci_address)(void *state, unsigned dev, char *address, size_t size);

    /* CPU packages */
    int (*cpu_info)(void *state, unsigned dev, zeus_cpu_info *out);
    int (*cpu_energy)(void *state, unsigned dev, zeus_cpu_energy *out);
    /* The package's own number (rapl: N of intel-rapl:N). Optional: the backend index. */
    int (*cpu_package_id)(void *state, unsigned dev, unsigned *id);

    /* Backend-specific operations (e.g. zeus__sim_extension), NULL for none. */
    const void *extension;
    /* Read when visible_devices_variable is unset (amdsmi: CUDA_VISIBLE_DEVICES, as HIP). */
    const char *visible_devices_fallback;
    /* A counter the backend integrates itself from power readings (jetson): the longest step
     * between its readings, s, and the highest power it has read so far, W (what bounds the
     * error where the GPU reports no power-limit range). Optional: the monitor then measures
     * how often the counter changes. */
    int (*gpu_energy_model)(void *state, unsigned dev, double *period_s, double *peak_w);
} zeus_backend_ops;

/* Every backend, in the order they are tried and reported: the one place a new backend is
 * registered (registry.c). */
extern const zeus_backend_ops *const zeus__backends[];
extern const size_t zeus__backend_count;

/* The backend that serves a GPU (framework index) and the backend index it has there, for
 * backend-specific APIs such as zeus/sim.h. ZEUS_ENODEV for a GPU that does not exist. */
int zeus__devices_gpu_backend(const zeus_devices *devices, unsigned gpu,
                              const zeus_backend_ops **ops, void **state, unsigned *dev);

/* The GPU backend's gpu_energy_model (ZEUS_ENOTSUP, with no error recorded, when it has none). */
int zeus__gpu_energy_model(zeus_devices *devices, unsigned gpu, double *period_s, double *peak_w);

/* Whether choice names a GPU backend ("auto", "none", NULL and "" included); writes the valid
 * names ("auto, nvml, sim, zeusd, none") for the error message. */
int zeus__gpu_backend_choice_valid(const char *choice, char *names, size_t size);

/* The one power-limit range check (owned here, used by the lease code too): ZEUS_ENOTSUP when
 * the GPU reports no range, ZEUS_ERANGE (with the range in the message) outside it. */
int zeus__gpu_check_power_limit(const zeus_gpu_info *info, unsigned gpu, unsigned limit_mw);

/* For a lease with ZEUS_LEASE_FORCE: the knob backend's gpu_force_power_limit_mw when it has
 * one, else zeus_gpu_set_power_limit_mw. */
int zeus__devices_gpu_force_power_limit(zeus_devices *devices, unsigned gpu, unsigned limit_mw);
/* For zeus_lease_commit: the knob backend's gpu_keep_power_limit_mw, when it has one. */
int zeus__devices_gpu_keep_power_limit(zeus_devices *devices, unsigned gpu, unsigned limit_mw);
/* The same for locked clocks (gpu_keep_locked_clocks). */
int zeus__devices_gpu_keep_locked_clocks(zeus_devices *devices, unsigned gpu,
                                         zeus_clock_domain domain, unsigned min_mhz,
                                         unsigned max_mhz);

/* A view of devices with every GPU of its GPU backend, visibility ignored (framework index =
 * backend index, as physical_indices), over devices' own open backends: nothing is re-opened
 * or re-initialized. It borrows them, so it must be closed (zeus_devices_close) before devices
 * is. For library code that must reach a GPU this process does not see (the lease sweep puts
 * back what a gone process left on its GPU, src/power_limit/lease.c). */
int zeus__devices_open_physical(const zeus_devices *devices, zeus_devices **out);

/* The registry's view for library code (src/power_limit/lease.c): see gpu_settings_private. */
bool zeus__devices_gpu_settings_private(const zeus_devices *devices);

extern const zeus_backend_ops zeus__nvml_backend;
extern const zeus_backend_ops zeus__sim_backend;
extern const zeus_backend_ops zeus__rapl_backend;
/* src/device/amdsmi.c: AMD GPUs through libamd_smi; src/device/jetson.c: a Jetson's rails. */
extern const zeus_backend_ops zeus__amdsmi_backend;
extern const zeus_backend_ops zeus__jetson_backend;
extern const zeus_backend_ops zeus__jetson_cpu_backend;
/* The rails of a jetson GPU backend's state (zeus/soc.h; soc_controls.c owns the public call,
 * so that the backend does not call back into the registry). */
struct zeus_soc_energy;
int zeus__jetson_read_energy(void *state, struct zeus_soc_energy *out);
/* src/device/zeusd_client.c: changes (and RAPL reads) through a zeusd daemon. */
extern const zeus_backend_ops zeus__zeusd_backend;
extern const zeus_backend_ops zeus__zeusd_rapl_backend;

#endif
