/* Zeus device layer: GPUs and CPU packages behind one registry of backends.
 *
 * A zeus_devices handle holds one GPU backend (nvml or sim) and one CPU backend (rapl), each
 * chosen at open time from a zeus_device_options (zeus_devices_open_with). Which GPU backend:
 *   backend NULL or "auto": nvml if it loads and initializes and finds GPUs, else amdsmi (AMD
 *                           GPUs), else jetson (an NVIDIA Jetson's power rails), else no GPUs
 *                           (the simulator is never chosen silently); a machine with both
 *                           NVIDIA and AMD GPUs uses the NVIDIA ones, as the original does, and
 *                           the amdsmi backend says how to choose it (docs/devices.md);
 *   "nvml" | "amdsmi" | "jetson" | "sim" | "none": exactly that backend (sim: simulated GPUs).
 * zeus_devices_open() is the environment fallback: it reads ZEUS_DEVICE, ZEUS_NVML_LIBRARY,
 * ZEUS_SIM_CONFIG, ZEUS_SIM_STATE, ZEUS_SYSFS_ROOT and the backend's visible-devices variable
 * (CUDA_VISIBLE_DEVICES for nvml and sim) into the options (zeus_device_options_from_env).
 * Nothing else in the library reads those variables, so several device sets with different
 * options can live in one process.
 * A backend that cannot be used keeps a reason a person can act on (zeus_devices_backend()).
 *
 * GPU indices in this API are *framework indices*: positions after the visible-devices
 * selection, what PyTorch calls cuda:N. zeus_gpu_info.device_index is the backend's own index.
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

/* Sizes of the fixed text fields below, terminating NUL included (part of the ABI). */
#define ZEUS_GPU_NAME_LEN 96
#define ZEUS_GPU_UUID_LEN 96
#define ZEUS_CPU_NAME_LEN 64
#define ZEUS_BACKEND_REASON_LEN 512
/* "dddd:bb:dd.f" with room for a wider domain (zeus_gpu_pci_address). */
#define ZEUS_GPU_PCI_ADDRESS_LEN 32

/* GPU architectures (Zeus's own values, not any vendor's numbering: each backend maps its
 * vendor's codes onto these). Within one vendor the values increase with the generation, so
 * "Volta or newer" is arch >= ZEUS_ARCH_VOLTA; ZEUS_ARCH_UNKNOWN is below every known one. */
typedef enum {
    ZEUS_ARCH_KEPLER = 1,
    ZEUS_ARCH_MAXWELL = 2,
    ZEUS_ARCH_PASCAL = 3,
    ZEUS_ARCH_VOLTA = 4,
    ZEUS_ARCH_TURING = 5,
    ZEUS_ARCH_AMPERE = 6,
    ZEUS_ARCH_ADA = 7,
    ZEUS_ARCH_HOPPER = 8,
    ZEUS_ARCH_BLACKWELL = 9,
    ZEUS_ARCH_UNKNOWN = -1
} zeus_gpu_arch;

/* "volta", "hopper", ... ; "unknown" otherwise. */
ZEUS_API const char *zeus_gpu_arch_name(zeus_gpu_arch arch);
/* Parses a name case-insensitively ("Volta", "ampere"); ZEUS_EINVAL if unknown. */
ZEUS_API int zeus_gpu_arch_parse(const char *name, zeus_gpu_arch *out);

typedef struct {
    unsigned index;        /* framework index (after the visible-devices selection) */
    unsigned device_index; /* the backend's own index (for nvml: the NVML index) */
    char name[ZEUS_GPU_NAME_LEN];
    char uuid[ZEUS_GPU_UUID_LEN];
    zeus_gpu_arch arch;
    /* The GPU has a cumulative energy counter worth trusting (zeus_gpu_energy_mj); without one
     * the monitor integrates sampled power. (nvml: Volta and newer, as the original decides.) */
    bool has_energy_counter;
    bool power_limit_valid; /* the fields below are meaningful */
    unsigned min_power_limit_mw;
    unsigned max_power_limit_mw;
    unsigned default_power_limit_mw;
    bool simulated; /* true for the sim backend and the project's fake NVML */
} zeus_gpu_info;

/* Power readings. The backend's standard reading (usage_mw) may be an average or an instant
 * value depending on the GPU (nvml: nvmlDeviceGetPowerUsage is a 1 s average on Ampere except
 * GA100 and newer, instantaneous before); instant and average say which they are. */
typedef struct {
    bool instant_valid;
    unsigned instant_mw;
    bool average_valid; /* 1-second average */
    unsigned average_mw;
    unsigned usage_mw; /* the standard reading (always valid when the call succeeds) */
} zeus_gpu_power;

typedef struct {
    unsigned index;               /* position among CPU packages */
    char name[ZEUS_CPU_NAME_LEN]; /* e.g. "package-0" */
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
    bool available; /* opened and in use */
    /* why not available, or a note (e.g. the library path) when it is */
    char reason[ZEUS_BACKEND_REASON_LEN];
    /* Variable that selects this backend's visible devices ("CUDA_VISIBLE_DEVICES"), or NULL
     * when the backend has none (CPU backends). */
    const char *visible_devices_variable;
} zeus_backend_status;

/* How to open a device set. Every pointer is borrowed: it must stay valid during
 * zeus_devices_open_with() only (the handle keeps copies of what it needs). NULL or zero means
 * the default written next to the field.
 *
 * Growth rule (docs/abi.md): struct_size is set by zeus_device_options_init() to the size the
 * caller was compiled with. New fields are only ever appended, and the library reads only the
 * first struct_size bytes, so a program built against an older header keeps working; a newer
 * header's options given to an older library are refused (ZEUS_ENOTSUP) unless the fields that
 * library does not know are left zero. Always call zeus_device_options_init() first (bindings
 * that cannot use the macro call zeus_device_options_init_sized with their struct's size). */
typedef struct {
    size_t struct_size;
    /* GPU backend: "auto" (NULL), "nvml", "amdsmi", "jetson", "sim" or "none". */
    const char *backend;
    /* Backend that carries out changes (power limit, persistence mode) when they must go
     * somewhere other than where readings come from, e.g. reads through NVML and writes through a
     * privileged daemon. It addresses the same devices by backend index. NULL: the GPU backend. */
    const char *knob_backend;
    /* NVML library to load (NULL: libnvidia-ml.so.1, then libnvidia-ml.so). */
    const char *nvml_library;
    /* Simulated GPUs: a JSON file's path, or the JSON itself when it starts with '{' (NULL:
     * 4 x NVIDIA A40). */
    const char *sim_config;
    /* File through which simulated GPUs share power limits and persistence mode between
     * processes (NULL: settings last as long as the handle). */
    const char *sim_state;
    /* Prefix for /sys/class/powercap (NULL: none, the real sysfs). */
    const char *sysfs_root;
    /* Which GPUs are visible and in what order, in the syntax of the GPU backend's variable
     * (for nvml and sim: CUDA_VISIBLE_DEVICES syntax). NULL: every GPU, in backend order. */
    const char *visible_devices;
    /* Ignore visible_devices: framework index = backend index (tools that address physical
     * GPUs, like a daemon). */
    bool physical_indices;
    /* Comma-separated names of the backends this set may use ("nvml,rapl"); NULL: all. A
     * backend left out is reported unavailable ("not allowed"). */
    const char *allowed_backends;
    /* A zeusd daemon (docs/zeusd.md) that carries out changes and reads RAPL for this process:
     * its Unix socket, or HOST:PORT over TCP (the socket wins), and the bearer token if the
     * daemon wants one. With an address, knob_backend NULL means "zeusd" and the CPU packages
     * are read through the daemon ("zeusd-rapl"). NULL: no daemon. */
    const char *zeusd_socket_path;
    const char *zeusd_host_port;
    const char *zeusd_token;
    /* AMD GPUs (the amdsmi backend, docs/devices.md): the AMD SMI library to load (NULL:
     * libamd_smi.so.26/.25/.24 under rocm_path/lib, else /opt/rocm/lib, the newest
     * /opt/rocm-X.Y.Z/lib, then the loader's path), the ROCm install to search (ROCM_PATH), and
     * how long each GPU's energy counter is checked against its power at open, in ms (0: the
     * original's 500 ms; a counter that fails the check is not used and power is sampled). */
    const char *amdsmi_library;
    const char *rocm_path;
    unsigned amdsmi_check_ms;
} zeus_device_options;

/* Defaults (everything NULL/false) and struct_size. A macro, so that struct_size is the size
 * the caller was compiled with; the function writes no more than struct_size bytes. */
#define zeus_device_options_init(options)                                                          \
    zeus_device_options_init_sized((options), sizeof *(options))
ZEUS_API void zeus_device_options_init_sized(zeus_device_options *options, size_t struct_size);
/* The environment fallback: sets each field from its variable when the variable is set (see the
 * header comment); other fields are left as they are. The strings point into the environment,
 * so use the options before the environment changes. ZEUS_EINVAL for a ZEUS_DEVICE that names
 * no backend. */
ZEUS_API int zeus_device_options_from_env(zeus_device_options *options);

/* Opens a device set. Never fails because a backend is missing (that backend is just
 * unavailable, with a reason); fails only for malformed configuration such as a bad
 * visible-devices selection or backend name, or a simulator config that does not parse.
 * options NULL: the defaults. */
ZEUS_API int zeus_devices_open_with(const zeus_device_options *options, zeus_devices **out);
/* zeus_devices_open_with() on the options zeus_device_options_from_env() gives. */
ZEUS_API int zeus_devices_open(zeus_devices **out);
ZEUS_API void zeus_devices_close(zeus_devices *devices);

ZEUS_API size_t zeus_devices_backend_count(const zeus_devices *devices);
ZEUS_API int zeus_devices_backend(const zeus_devices *devices, size_t i, zeus_backend_status *out);
/* The name of the GPU backend in use, or NULL when there are no GPUs. */
ZEUS_API const char *zeus_devices_gpu_backend(const zeus_devices *devices);

/* The visible-devices selection: its text (NULL when none was given, or physical_indices) and
 * the variable that carries it for the GPU backend in use
 * ("CUDA_VISIBLE_DEVICES"; NULL without a GPU backend). zeus_gpu_info.device_index gives, per
 * framework index, the backend index it maps to. */
ZEUS_API const char *zeus_devices_visible_devices(const zeus_devices *devices);
ZEUS_API const char *zeus_devices_visible_devices_variable(const zeus_devices *devices);
/* The name of the backend that carries out changes (the knob backend, or the GPU backend). */
ZEUS_API const char *zeus_devices_knob_backend(const zeus_devices *devices);

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
/* The clock domains whose range can be locked. */
typedef enum { ZEUS_CLOCK_GPU = 0, ZEUS_CLOCK_MEMORY = 1 } zeus_clock_domain;

/* Locks the domain's clock to [min_mhz, max_mhz] (nvml: nvmlDeviceSetGpuLockedClocks, Volta and
 * newer, or nvmlDeviceSetMemoryLockedClocks, Ampere and newer). Needs root or CAP_SYS_ADMIN on
 * real GPUs (ZEUS_EPERM). ZEUS_EINVAL for min_mhz > max_mhz or an unknown domain (nothing is
 * asked of the driver); ZEUS_ENOTSUP where the GPU, the backend or an old driver (one without
 * these calls) cannot. Goes through the knob backend, as power limits do. */
ZEUS_API int zeus_gpu_set_locked_clocks(zeus_devices *devices, unsigned gpu,
                                        zeus_clock_domain domain, unsigned min_mhz,
                                        unsigned max_mhz);
/* The clocks a domain supports, MHz, highest first (nvml: nvmlDeviceGetSupportedMemoryClocks,
 * or nvmlDeviceGetSupportedGraphicsClocks at memory_mhz, which the memory domain ignores; the
 * pipeline frequency optimizer takes the GPU clocks at the highest memory clock). *count: room
 * in mhz on entry, the number of clocks on return (ZEUS_ERANGE when they did not all fit).
 * ZEUS_ENOTSUP where the backend cannot tell. */
ZEUS_API int zeus_gpu_supported_clocks(zeus_devices *devices, unsigned gpu,
                                       zeus_clock_domain domain, unsigned memory_mhz, unsigned *mhz,
                                       unsigned *count);
/* Unlocks the domain: the driver's default clock behaviour (nvmlDeviceReset*LockedClocks). The
 * locked range cannot be read back (NVML has no call for it), so a reset is how a lease puts
 * clocks back (zeus/lease.h). */
ZEUS_API int zeus_gpu_reset_locked_clocks(zeus_devices *devices, unsigned gpu,
                                          zeus_clock_domain domain);
/* The GPU's PCI address, "dddd:bb:dd.f" in lowercase hex (nvml: nvmlDeviceGetPciInfo's domain,
 * bus and device, function 0, as the newer Zeus's daemon reports it). ZEUS_ENOTSUP where the
 * backend cannot say; the text is cut to size (ZEUS_GPU_PCI_ADDRESS_LEN is enough). */
ZEUS_API int zeus_gpu_pci_address(const zeus_devices *devices, unsigned gpu, char *address,
                                  size_t size);
/* GPU core temperature in degrees C (nvmlDeviceGetTemperature, NVML_TEMPERATURE_GPU; the sim
 * backend models it from power). ZEUS_ENOTSUP where the GPU or the NVML library cannot say. */
ZEUS_API int zeus_gpu_temperature_c(zeus_devices *devices, unsigned gpu, unsigned *celsius);
/* ZEUS_EHETERO (with the names in zeus_last_error()) if the GPUs are not all the same model.
 * gpus == NULL checks every GPU. */
ZEUS_API int zeus_gpu_check_homogeneous(const zeus_devices *devices, const unsigned *gpus,
                                        size_t count);

/* ---- CPU packages (RAPL) ---- */
ZEUS_API unsigned zeus_cpu_count(const zeus_devices *devices);
ZEUS_API int zeus_cpu_get_info(const zeus_devices *devices, unsigned cpu, zeus_cpu_info *out);
/* The package's own number: N of intel-rapl:N for rapl (a tree with intel-rapl:0 and
 * intel-rapl:2 gives 0 and 2 for CPUs 0 and 1), the daemon's id through zeusd; the position
 * where a backend has no numbering of its own. */
ZEUS_API int zeus_cpu_package_id(const zeus_devices *devices, unsigned cpu, unsigned *id);
/* Reads the counters and returns energy accumulated since open. Call at least once per wrap
 * period (max_energy_range_uj / power; minutes at full load) or a wrap can be missed. */
ZEUS_API int zeus_cpu_read_energy(zeus_devices *devices, unsigned cpu, zeus_cpu_energy *out);

/* ---- JSON ---- */
/* Everything the device set sees as one JSON object (what `zeus show-env --json` prints):
 * version, backends (name, kind, available, note or reason, visible-devices variable), the
 * visible-devices selection, the GPUs (info, current limit) and the CPU packages. *json is
 * allocated by the library: release it with zeus_free(). */
ZEUS_API int zeus_devices_to_json(zeus_devices *devices, char **json);

#ifdef __cplusplus
}
#endif
#endif
