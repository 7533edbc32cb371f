/* Our own minimal declarations of the AMD SMI C API (libamd_smi.so, ROCm >= 6.3) that we call.
 * No amdsmi.h exists on the machines we build on, and the build must never need one.
 *
 * Checked against: ROCm/amdsmi include/amd_smi/amdsmi.h (status codes, amdsmi_clk_type_t,
 * amdsmi_power_cap_info_t, amdsmi_clk_info_t, amdsmi_enumeration_info_t, amdsmi_kfd_info_t,
 * amdsmi_get_energy_count(h, uint64_t *, float *, uint64_t *), amdsmi_get_gpu_device_uuid(h,
 * unsigned *, char *), AMDSMI_GPU_UUID_SIZE 38), ROCm/rocm-systems' amdsmi.h for the ROCm 7
 * amdsmi_power_info_t, and the layouts by library ABI that the newer Zeus's daemon loads
 * (zeusd/src/devices/gpu/amdsmi/ffi.rs, summarised in docs/spec: SONAME .so.24 = ROCm 6.3,
 * .so.25 = ROCm 6.4, .so.26 = ROCm 7.x). The fake libamd_smi in tests/fakes implements these. */
#ifndef ZEUS_AMDSMI_API_H
#define ZEUS_AMDSMI_API_H

#include <stdint.h>

typedef uint32_t amdsmi_status_t;
typedef void *amdsmi_processor_handle;
typedef void *amdsmi_socket_handle;

#define AMDSMI_STATUS_SUCCESS 0u
#define AMDSMI_STATUS_INVAL 1u
#define AMDSMI_STATUS_NOT_SUPPORTED 2u
#define AMDSMI_STATUS_NOT_YET_IMPLEMENTED 3u
#define AMDSMI_STATUS_TIMEOUT 8u
#define AMDSMI_STATUS_RETRY 9u
#define AMDSMI_STATUS_NO_PERM 10u
#define AMDSMI_STATUS_IO 12u
#define AMDSMI_STATUS_OUT_OF_RESOURCES 15u
#define AMDSMI_STATUS_INIT_ERROR 18u
#define AMDSMI_STATUS_BUSY 30u
#define AMDSMI_STATUS_NOT_FOUND 31u
#define AMDSMI_STATUS_NOT_INIT 32u
#define AMDSMI_STATUS_DRIVER_NOT_LOADED 34u
#define AMDSMI_STATUS_INSUFFICIENT_SIZE 41u
#define AMDSMI_STATUS_UNEXPECTED_DATA 43u
#define AMDSMI_STATUS_NO_DRV 51u
#define AMDSMI_STATUS_FILE_NOT_FOUND 52u
#define AMDSMI_STATUS_UNKNOWN_ERROR 0xFFFFFFFFu

/* amdsmi_init_flags_t */
#define AMDSMI_INIT_AMD_GPUS (1u << 1)
/* amdsmi_clk_type_t: SYS = GFX = 0, DF, DCEF, SOC, MEM = 4 */
#define AMDSMI_CLK_TYPE_GFX 0u
#define AMDSMI_CLK_TYPE_MEM 4u
/* amdsmi_clk_limit_type_t */
#define AMDSMI_CLK_LIMIT_MIN 0u
#define AMDSMI_CLK_LIMIT_MAX 1u
/* amdsmi_dev_perf_level_t */
#define AMDSMI_DEV_PERF_LEVEL_AUTO 0u
/* amdsmi_temperature_type_t / amdsmi_temperature_metric_t */
#define AMDSMI_TEMPERATURE_TYPE_HOTSPOT 1u /* = JUNCTION */
#define AMDSMI_TEMP_CURRENT 0u
#define AMDSMI_GPU_UUID_SIZE 38
/* A power reading the GPU does not have (0xFFFF from older libraries, UINT32_MAX newer). */
#define AMDSMI_POWER_NA_16 0xFFFFu
#define AMDSMI_POWER_NA_32 0xFFFFFFFFu

typedef struct {
    uint64_t power_cap; /* all in microwatts */
    uint64_t default_power_cap;
    uint64_t dpm_cap;
    uint64_t min_power_cap;
    uint64_t max_power_cap;
    uint64_t reserved[3];
} amdsmi_power_cap_info_t;

/* amdsmi_power_info_t differs by library ABI; power in W. */
typedef struct { /* ABI 26 (ROCm 7.x): 192 bytes */
    uint64_t socket_power;
    uint32_t current_socket_power;
    uint32_t average_socket_power;
    uint64_t gfx_voltage, soc_voltage, mem_voltage;
    uint32_t power_limit;
    uint64_t reserved[18];
} amdsmi_power_info_v26_t;
typedef struct { /* ABI 25 (ROCm 6.4): 40 bytes */
    uint64_t socket_power;
    uint32_t current_socket_power;
    uint32_t average_socket_power;
    uint32_t gfx_voltage, soc_voltage, mem_voltage;
    uint32_t power_limit;
    uint32_t reserved[2];
} amdsmi_power_info_v25_t;
typedef struct { /* ABI 24 (ROCm 6.3): 68 bytes */
    uint32_t current_socket_power;
    uint32_t average_socket_power;
    uint32_t gfx_voltage, soc_voltage, mem_voltage;
    uint32_t power_limit;
    uint32_t reserved[11];
} amdsmi_power_info_v24_t;

typedef struct {
    uint32_t clk; /* MHz */
    uint32_t min_clk;
    uint32_t max_clk;
    uint8_t clk_locked;
    uint8_t clk_deep_sleep;
    uint32_t reserved[4];
} amdsmi_clk_info_t;

/* ROCm 6.4+: HIP's numbering of a GPU (before HIP_VISIBLE_DEVICES masking). */
typedef struct {
    uint32_t drm_render;
    uint32_t drm_card;
    uint32_t hsa_id;
    uint32_t hip_id;
    char hip_uuid[256];
} amdsmi_enumeration_info_t;

/* ROCm 6.3: HIP numbers GPUs in KFD node order. */
typedef struct {
    uint64_t kfd_id;
    uint32_t node_id;
    uint32_t current_partition_id;
    uint32_t reserved[12];
} amdsmi_kfd_info_t;

/* amdsmi_version_t: ABI 24/25 start with a year (24, 25), ABI 26 with the major (26). Read as
 * four u32 and a pointer; the first field tells which. */
typedef struct {
    uint32_t v[4];
    const char *build;
} amdsmi_version_any_t;

/* amdsmi_asic_info_t starts with char market_name[] (64 bytes in ROCm 6.x headers, 256 in 7.x)
 * and is about 900 bytes in ROCm 7; we pass a buffer larger than any and read only the name. */
#define AMDSMI_ASIC_INFO_BUFFER 2048
/* amdsmi_bdf_t: bits 0-2 function, 3-7 device, 8-15 bus, 16-63 domain. */
typedef uint64_t amdsmi_bdf_t;

typedef amdsmi_status_t (*amdsmi_init_fn)(uint64_t flags);
typedef amdsmi_status_t (*amdsmi_shut_down_fn)(void);
typedef amdsmi_status_t (*amdsmi_status_code_to_string_fn)(amdsmi_status_t, const char **);
typedef amdsmi_status_t (*amdsmi_get_lib_version_fn)(amdsmi_version_any_t *);
typedef amdsmi_status_t (*amdsmi_get_socket_handles_fn)(uint32_t *, amdsmi_socket_handle *);
typedef amdsmi_status_t (*amdsmi_get_processor_handles_fn)(amdsmi_socket_handle, uint32_t *,
                                                           amdsmi_processor_handle *);
typedef amdsmi_status_t (*amdsmi_get_gpu_enumeration_info_fn)(amdsmi_processor_handle,
                                                              amdsmi_enumeration_info_t *);
typedef amdsmi_status_t (*amdsmi_get_gpu_kfd_info_fn)(amdsmi_processor_handle, amdsmi_kfd_info_t *);
typedef amdsmi_status_t (*amdsmi_get_gpu_asic_info_fn)(amdsmi_processor_handle, void *);
typedef amdsmi_status_t (*amdsmi_get_gpu_device_uuid_fn)(amdsmi_processor_handle, unsigned int *,
                                                         char *);
typedef amdsmi_status_t (*amdsmi_get_gpu_device_bdf_fn)(amdsmi_processor_handle, amdsmi_bdf_t *);
typedef amdsmi_status_t (*amdsmi_get_power_cap_info_fn)(amdsmi_processor_handle, uint32_t,
                                                        amdsmi_power_cap_info_t *);
typedef amdsmi_status_t (*amdsmi_set_power_cap_fn)(amdsmi_processor_handle, uint32_t, uint64_t);
typedef amdsmi_status_t (*amdsmi_get_power_info_fn)(amdsmi_processor_handle, void *);
typedef amdsmi_status_t (*amdsmi_get_energy_count_fn)(amdsmi_processor_handle, uint64_t *, float *,
                                                      uint64_t *);
typedef amdsmi_status_t (*amdsmi_get_clock_info_fn)(amdsmi_processor_handle, uint32_t,
                                                    amdsmi_clk_info_t *);
typedef amdsmi_status_t (*amdsmi_set_gpu_clk_range_fn)(amdsmi_processor_handle, uint64_t, uint64_t,
                                                       uint32_t);
typedef amdsmi_status_t (*amdsmi_set_gpu_perf_level_fn)(amdsmi_processor_handle, uint32_t);
typedef amdsmi_status_t (*amdsmi_get_temp_metric_fn)(amdsmi_processor_handle, uint32_t, uint32_t,
                                                     int64_t *);

#endif
