/* The nvml backend: NVIDIA GPUs through libnvidia-ml, loaded at run time with dlopen so that
 * neither building nor running Zeus needs the CUDA toolkit. The nvml_library option
 * (ZEUS_NVML_LIBRARY) names the library to load instead of libnvidia-ml.so.1 / libnvidia-ml.so
 * (the tests point it at our fake). */
#include "core/internal.h"
#include "device/backend.h"
#include "device/nvml_api.h"
#include "device/symbols.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    nvmlInit_fn Init;
    nvmlShutdown_fn Shutdown;
    nvmlErrorString_fn ErrorString;
    nvmlSystemGetDriverVersion_fn SystemGetDriverVersion;
    nvmlDeviceGetCount_fn DeviceGetCount;
    nvmlDeviceGetHandleByIndex_fn DeviceGetHandleByIndex;
    nvmlDeviceGetName_fn DeviceGetName;
    nvmlDeviceGetUUID_fn DeviceGetUUID;
    nvmlDeviceGetArchitecture_fn DeviceGetArchitecture;
    nvmlDeviceGetTotalEnergyConsumption_fn DeviceGetTotalEnergyConsumption;
    nvmlDeviceGetPowerUsage_fn DeviceGetPowerUsage;
    nvmlDeviceGetFieldValues_fn DeviceGetFieldValues;
    nvmlDeviceGetPowerManagementLimitConstraints_fn DeviceGetPowerManagementLimitConstraints;
    nvmlDeviceGetPowerManagementDefaultLimit_fn DeviceGetPowerManagementDefaultLimit;
    nvmlDeviceGetPowerManagementLimit_fn DeviceGetPowerManagementLimit;
    nvmlDeviceSetPowerManagementLimit_fn DeviceSetPowerManagementLimit;
    nvmlDeviceSetPersistenceMode_fn DeviceSetPersistenceMode;
    nvmlDeviceGetPersistenceMode_fn DeviceGetPersistenceMode;
    nvmlDeviceGetTemperature_fn DeviceGetTemperature;
    nvmlDeviceGetMaxMigDeviceCount_fn DeviceGetMaxMigDeviceCount;
    nvmlDeviceGetMigDeviceHandleByIndex_fn DeviceGetMigDeviceHandleByIndex;
    nvmlDeviceGetGpuInstanceId_fn DeviceGetGpuInstanceId;
    nvmlDeviceGetComputeInstanceId_fn DeviceGetComputeInstanceId;
    nvmlDeviceSetGpuLockedClocks_fn DeviceSetGpuLockedClocks;
    nvmlDeviceGetSupportedMemoryClocks_fn DeviceGetSupportedMemoryClocks;
    nvmlDeviceGetSupportedGraphicsClocks_fn DeviceGetSupportedGraphicsClocks;
    nvmlDeviceResetGpuLockedClocks_fn DeviceResetGpuLockedClocks;
    nvmlDeviceSetMemoryLockedClocks_fn DeviceSetMemoryLockedClocks;
    nvmlDeviceResetMemoryLockedClocks_fn DeviceResetMemoryLockedClocks;
    nvmlDeviceGetPciInfo_fn DeviceGetPciInfo;
} nvml_functions;

/* Every entry point: its name without the "nvml" prefix's version suffix, the newest version
 * whose signature we declare, whether we can work without it, and where it goes. */
static const struct {
    const char *name;
    int max_version;
    bool required;
    size_t offset;
} nvml_symbols[] = {
#define SYM(field, version, required)                                                              \
    {                                                                                              \
        "nvml" #field, version, required, offsetof(nvml_functions, field)                          \
    }
    SYM(Init, 2, true), SYM(Shutdown, 1, true), SYM(ErrorString, 1, true),
    SYM(SystemGetDriverVersion, 1, false), SYM(DeviceGetCount, 2, true),
    SYM(DeviceGetHandleByIndex, 2, true), SYM(DeviceGetName, 1, true), SYM(DeviceGetUUID, 1, true),
    SYM(DeviceGetArchitecture, 1, false), /* drivers before 470 lack it: architecture unknown */
    SYM(DeviceGetTotalEnergyConsumption, 1, true), SYM(DeviceGetPowerUsage, 1, true),
    SYM(DeviceGetFieldValues, 1, false), SYM(DeviceGetPowerManagementLimitConstraints, 1, true),
    SYM(DeviceGetPowerManagementDefaultLimit, 1, true), SYM(DeviceGetPowerManagementLimit, 1, true),
    SYM(DeviceSetPowerManagementLimit, 1, true), SYM(DeviceSetPersistenceMode, 1, true),
    SYM(DeviceGetPersistenceMode, 1, false), /* without it a lease cannot record the mode */
    SYM(DeviceGetTemperature, 1, false),     /* exporters only */
    SYM(DeviceGetMaxMigDeviceCount, 1, false), SYM(DeviceGetMigDeviceHandleByIndex, 1, false),
    SYM(DeviceGetGpuInstanceId, 1, false), SYM(DeviceGetComputeInstanceId, 1, false),
    /* Drivers before 440 (memory: 460) lack the clock calls: ZEUS_ENOTSUP. */
    SYM(DeviceSetGpuLockedClocks, 1, false), SYM(DeviceResetGpuLockedClocks, 1, false),
    SYM(DeviceGetSupportedMemoryClocks, 1, false), SYM(DeviceGetSupportedGraphicsClocks, 1, false),
    SYM(DeviceSetMemoryLockedClocks, 1, false), SYM(DeviceResetMemoryLockedClocks, 1, false),
    SYM(DeviceGetPciInfo, 3, false), /* no PCI address without it */
#undef SYM
};

typedef struct {
    nvmlDevice_t handle;
    zeus_gpu_info info;
    bool fields_supported; /* nvmlDeviceGetFieldValues answers the power fields */
    char pci_address[ZEUS_GPU_PCI_ADDRESS_LEN]; /* empty: unknown */
} nvml_gpu;

typedef struct {
    void *lib;
    nvml_functions f;
    unsigned count;
    nvml_gpu *gpus;
} nvml_state;

static const struct {
    nvmlReturn_t nvml;
    int zeus;
    const char *name;
} nvml_codes[] = {
    {NVML_ERROR_UNINITIALIZED, ZEUS_EINIT, "UNINITIALIZED"},
    {NVML_ERROR_INVALID_ARGUMENT, ZEUS_EINVAL, "INVALID_ARGUMENT"},
    {NVML_ERROR_NOT_SUPPORTED, ZEUS_ENOTSUP, "NOT_SUPPORTED"},
    {NVML_ERROR_NO_PERMISSION, ZEUS_EPERM, "NO_PERMISSION"},
    {NVML_ERROR_ALREADY_INITIALIZED, ZEUS_EINIT, "ALREADY_INITIALIZED"},
    {NVML_ERROR_NOT_FOUND, ZEUS_ENOENT, "NOT_FOUND"},
    {NVML_ERROR_INSUFFICIENT_SIZE, ZEUS_EDEVICE, "INSUFFICIENT_SIZE"},
    {NVML_ERROR_INSUFFICIENT_POWER, ZEUS_EDEVICE, "INSUFFICIENT_POWER"},
    {NVML_ERROR_DRIVER_NOT_LOADED, ZEUS_ENODEV, "DRIVER_NOT_LOADED"},
    {NVML_ERROR_TIMEOUT, ZEUS_ETIMEOUT, "TIMEOUT"},
    {NVML_ERROR_IRQ_ISSUE, ZEUS_EDEVICE, "IRQ_ISSUE"},
    {NVML_ERROR_LIBRARY_NOT_FOUND, ZEUS_ELIB, "LIBRARY_NOT_FOUND"},
    {NVML_ERROR_FUNCTION_NOT_FOUND, ZEUS_ENOTSUP, "FUNCTION_NOT_FOUND"},
    {NVML_ERROR_CORRUPTED_INFOROM, ZEUS_EDEVICE, "CORRUPTED_INFOROM"},
    {NVML_ERROR_GPU_IS_LOST, ZEUS_ELOST, "GPU_IS_LOST"},
    {NVML_ERROR_RESET_REQUIRED, ZEUS_EDEVICE, "RESET_REQUIRED"},
    {NVML_ERROR_OPERATING_SYSTEM, ZEUS_EDEVICE, "OPERATING_SYSTEM"},
    {NVML_ERROR_LIB_RM_VERSION_MISMATCH, ZEUS_ELIB, "LIB_RM_VERSION_MISMATCH"},
    {NVML_ERROR_IN_USE, ZEUS_EDEVICE, "IN_USE"},
    {NVML_ERROR_MEMORY, ZEUS_ENOMEM, "MEMORY"},
    {NVML_ERROR_NO_DATA, ZEUS_EDEVICE, "NO_DATA"},
    {NVML_ERROR_UNKNOWN, ZEUS_EDEVICE, "UNKNOWN"},
};

/* Maps an NVML failure to our code, keeping nvmlErrorString's text and the NVML name. */
static int nvml_fail(const nvml_state *s, nvmlReturn_t r, const char *call, int dev)
{
    int code = ZEUS_EDEVICE;
    const char *name = "?";
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(nvml_codes); i++) {
        if (nvml_codes[i].nvml == r) {
            code = nvml_codes[i].zeus;
            name = nvml_codes[i].name;
        }
    }
    const char *text = s->f.ErrorString ? s->f.ErrorString(r) : "";
    const char *hint = "";
    if (r == NVML_ERROR_NO_PERMISSION && strcmp(call, "nvmlInit") == 0)
        hint = " (no permission to use the GPUs: the user needs read-write access to "
               "/dev/nvidia*, usually by being in the group that owns them; in Docker pass them "
               "with --gpus)";
    else if (r == NVML_ERROR_NO_PERMISSION)
        hint = " (changing GPU settings needs root, the SYS_ADMIN capability (docker run "
               "--cap-add SYS_ADMIN), or Zeus's daemon zeusd run as root with ZEUSD_SOCK_PATH "
               "set to its socket)";
    if (dev >= 0)
        return zeus__error(code, "%s(NVML GPU %d): %s [NVML_ERROR_%s]%s", call, dev, text, name,
                           hint);
    return zeus__error(code, "%s: %s [NVML_ERROR_%s]%s", call, text, name, hint);
}

static void *dl_lookup(void *lib, const char *name)
{
    return dlsym(lib, name);
}

static void nvml_close(void *state)
{
    nvml_state *s = state;
    if (!s)
        return;
    if (s->f.Shutdown)
        s->f.Shutdown();
    if (s->lib)
        dlclose(s->lib);
    free(s->gpus);
    free(s);
}

static int load_library(nvml_state *s, const char *override, char *reason, size_t reason_size,
                        char *loaded, size_t loaded_size)
{
    if (override && *override) {
        s->lib = dlopen(override, RTLD_NOW | RTLD_LOCAL);
        if (!s->lib) {
            snprintf(reason, reason_size, "NVML library %s could not be loaded: %s", override,
                     dlerror());
            return ZEUS_ELIB;
        }
        zeus__strlcpy(loaded, override, loaded_size);
        return ZEUS_OK;
    }
    static const char *const names[] = {"libnvidia-ml.so.1", "libnvidia-ml.so"};
    char first_error[256] = "";
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(names); i++) {
        s->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (s->lib) {
            zeus__strlcpy(loaded, names[i], loaded_size);
            return ZEUS_OK;
        }
        if (i == 0)
            zeus__strlcpy(first_error, dlerror(), sizeof first_error);
    }
    snprintf(reason, reason_size,
             "NVIDIA driver library not found (%s); install the NVIDIA driver, or set "
             "ZEUS_NVML_LIBRARY to libnvidia-ml.so.1's path",
             first_error);
    return ZEUS_ELIB;
}

/* NVML's architecture codes onto Zeus's own values, which promise no vendor's numbering. */
static zeus_gpu_arch arch_from_nvml(nvmlDeviceArchitecture_t arch)
{
    static const zeus_gpu_arch by_code[NVML_DEVICE_ARCH_BLACKWELL + 1] = {
        [2] = ZEUS_ARCH_KEPLER, [3] = ZEUS_ARCH_MAXWELL, [4] = ZEUS_ARCH_PASCAL,
        [5] = ZEUS_ARCH_VOLTA,  [6] = ZEUS_ARCH_TURING,  [7] = ZEUS_ARCH_AMPERE,
        [8] = ZEUS_ARCH_ADA,    [9] = ZEUS_ARCH_HOPPER,  [10] = ZEUS_ARCH_BLACKWELL,
    };
    if (arch < NVML_DEVICE_ARCH_KEPLER || arch > NVML_DEVICE_ARCH_BLACKWELL)
        return ZEUS_ARCH_UNKNOWN;
    return by_code[arch];
}

/* NVML promises NUL-terminated text; a library that fills the buffer without one must not make
 * us read past it. */
static void terminate(char *buf, size_t size)
{
    buf[size - 1] = '\0';
}

static int describe_gpu(nvml_state *s, unsigned dev)
{
    nvml_gpu *g = &s->gpus[dev];
    zeus_gpu_info *info = &g->info;
    nvmlReturn_t r = s->f.DeviceGetHandleByIndex(dev, &g->handle);
    if (r != NVML_SUCCESS)
        return nvml_fail(s, r, "nvmlDeviceGetHandleByIndex", (int)dev);
    info->device_index = dev;
    if ((r = s->f.DeviceGetName(g->handle, info->name, sizeof info->name)) != NVML_SUCCESS)
        return nvml_fail(s, r, "nvmlDeviceGetName", (int)dev);
    terminate(info->name, sizeof info->name);
    if ((r = s->f.DeviceGetUUID(g->handle, info->uuid, sizeof info->uuid)) != NVML_SUCCESS)
        return nvml_fail(s, r, "nvmlDeviceGetUUID", (int)dev);
    terminate(info->uuid, sizeof info->uuid);
    info->arch = ZEUS_ARCH_UNKNOWN;
    nvmlDeviceArchitecture_t arch;
    if (s->f.DeviceGetArchitecture && s->f.DeviceGetArchitecture(g->handle, &arch) == NVML_SUCCESS)
        info->arch = arch_from_nvml(arch);
    /* Volta and newer have a trustworthy cumulative energy counter (as the original decides). */
    info->has_energy_counter = info->arch != ZEUS_ARCH_UNKNOWN && info->arch >= ZEUS_ARCH_VOLTA;
    unsigned lo, hi, def;
    if (s->f.DeviceGetPowerManagementLimitConstraints(g->handle, &lo, &hi) == NVML_SUCCESS &&
        s->f.DeviceGetPowerManagementDefaultLimit(g->handle, &def) == NVML_SUCCESS) {
        /* A range that cannot be right is no range (a limit inside it could not be chosen). */
        if (lo > hi || def < lo || def > hi)
            ZEUS_WARN("NVML GPU %u (%s): the driver reports an impossible power-limit range "
                      "(min %g W, max %g W, default %g W): this GPU's limit is left alone",
                      dev, info->name, lo / 1000.0, hi / 1000.0, def / 1000.0);
        else
            info->power_limit_valid = true;
        info->min_power_limit_mw = lo;
        info->max_power_limit_mw = hi;
        info->default_power_limit_mw = def;
    }
    info->simulated = false;
    nvmlPciInfo_t pci;
    memset(&pci, 0, sizeof pci);
    /* Function 0 always, as the newer Zeus's daemon formats it. */
    if (s->f.DeviceGetPciInfo && s->f.DeviceGetPciInfo(g->handle, &pci) == NVML_SUCCESS)
        snprintf(g->pci_address, sizeof g->pci_address, "%04x:%02x:%02x.0", pci.domain, pci.bus,
                 pci.device);
    if (s->f.DeviceGetFieldValues) {
        nvmlFieldValue_t v = {.fieldId = NVML_FI_DEV_POWER_INSTANT};
        g->fields_supported = s->f.DeviceGetFieldValues(g->handle, 1, &v) == NVML_SUCCESS &&
                              v.nvmlReturn == NVML_SUCCESS;
    }
    return ZEUS_OK;
}

static int nvml_open(void **state, const zeus_device_options *options, char *reason,
                     size_t reason_size)
{
    nvml_state *s = calloc(1, sizeof *s);
    char loaded[256] = "";
    int rc;
    if (!s) {
        snprintf(reason, reason_size, "out of memory");
        return ZEUS_ENOMEM;
    }
    if ((rc = load_library(s, options->nvml_library, reason, reason_size, loaded, sizeof loaded)) !=
        ZEUS_OK)
        goto fail;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(nvml_symbols); i++) {
        void *sym = zeus__resolve_versioned(dl_lookup, s->lib, nvml_symbols[i].name,
                                            nvml_symbols[i].max_version, NULL, 0);
        if (!sym && nvml_symbols[i].required) {
            snprintf(reason, reason_size,
                     "%s lacks %s: the NVIDIA driver is too old or the library is not NVML", loaded,
                     nvml_symbols[i].name);
            rc = ZEUS_ELIB;
            goto fail;
        }
        memcpy((char *)&s->f + nvml_symbols[i].offset, &sym, sizeof sym);
    }
    nvmlReturn_t r = s->f.Init();
    if (r != NVML_SUCCESS) {
        s->f.Shutdown = NULL; /* nothing to shut down */
        rc = nvml_fail(s, r, "nvmlInit", -1);
        snprintf(reason, reason_size, "%s (library %s)", zeus_last_error(), loaded);
        /* GPUs that are there but may not be used are no "no GPU": say so wherever it shows. */
        if (r == NVML_ERROR_NO_PERMISSION)
            ZEUS_WARN("nvml: %s", reason);
        goto fail;
    }
    if ((r = s->f.DeviceGetCount(&s->count)) != NVML_SUCCESS) {
        rc = nvml_fail(s, r, "nvmlDeviceGetCount", -1);
        snprintf(reason, reason_size, "%s", zeus_last_error());
        goto fail;
    }
    s->gpus = calloc(s->count ? s->count : 1, sizeof *s->gpus);
    if (!s->gpus) {
        rc = ZEUS_ENOMEM;
        snprintf(reason, reason_size, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < s->count; i++) {
        if ((rc = describe_gpu(s, i)) != ZEUS_OK) {
            snprintf(reason, reason_size, "%s", zeus_last_error());
            goto fail;
        }
    }
    char driver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = "unknown";
    if (s->f.SystemGetDriverVersion)
        s->f.SystemGetDriverVersion(driver, sizeof driver);
    terminate(driver, sizeof driver);
    snprintf(reason, reason_size, "%s, driver %s, %u GPU%s", loaded, driver, s->count,
             s->count == 1 ? "" : "s");
    *state = s;
    return ZEUS_OK;
fail:
    nvml_close(s);
    return rc;
}

static unsigned nvml_count(void *state)
{
    return ((nvml_state *)state)->count;
}

static int nvml_gpu_info(void *state, unsigned dev, zeus_gpu_info *out)
{
    *out = ((nvml_state *)state)->gpus[dev].info;
    return ZEUS_OK;
}

/* Handle of the m-th MIG instance of dev. */
static int mig_handle(nvml_state *s, unsigned dev, unsigned m, nvmlDevice_t *mig)
{
    unsigned count = 0;
    if (!s->f.DeviceGetMaxMigDeviceCount || !s->f.DeviceGetMigDeviceHandleByIndex ||
        s->f.DeviceGetMaxMigDeviceCount(s->gpus[dev].handle, &count) != NVML_SUCCESS || m >= count)
        return ZEUS_ENOENT;
    if (s->f.DeviceGetMigDeviceHandleByIndex(s->gpus[dev].handle, m, mig) != NVML_SUCCESS)
        return ZEUS_ENOENT;
    return ZEUS_OK;
}

static int nvml_gpu_mig_uuid(void *state, unsigned dev, unsigned m, char *uuid, size_t size)
{
    nvml_state *s = state;
    nvmlDevice_t mig;
    if (mig_handle(s, dev, m, &mig) != ZEUS_OK)
        return ZEUS_ENOENT;
    char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    if (s->f.DeviceGetUUID(mig, buf, sizeof buf) != NVML_SUCCESS)
        return ZEUS_ENOENT;
    terminate(buf, sizeof buf);
    zeus__strlcpy(uuid, buf, size);
    return ZEUS_OK;
}

static int nvml_gpu_mig_ids(void *state, unsigned dev, unsigned m, unsigned *gi, unsigned *ci)
{
    nvml_state *s = state;
    nvmlDevice_t mig;
    if (!s->f.DeviceGetGpuInstanceId || !s->f.DeviceGetComputeInstanceId ||
        mig_handle(s, dev, m, &mig) != ZEUS_OK ||
        s->f.DeviceGetGpuInstanceId(mig, gi) != NVML_SUCCESS ||
        s->f.DeviceGetComputeInstanceId(mig, ci) != NVML_SUCCESS)
        return ZEUS_ENOENT;
    return ZEUS_OK;
}

static int nvml_gpu_energy_mj(void *state, unsigned dev, uint64_t *energy_mj)
{
    nvml_state *s = state;
    unsigned long long mj;
    nvmlReturn_t r = s->f.DeviceGetTotalEnergyConsumption(s->gpus[dev].handle, &mj);
    if (r != NVML_SUCCESS)
        return nvml_fail(s, r, "nvmlDeviceGetTotalEnergyConsumption", (int)dev);
    *energy_mj = mj;
    return ZEUS_OK;
}

static unsigned field_mw(const nvmlFieldValue_t *v)
{
    switch (v->valueType) {
    case NVML_VALUE_TYPE_DOUBLE:
        return (unsigned)v->value.dVal;
    case NVML_VALUE_TYPE_UNSIGNED_LONG:
        return (unsigned)v->value.ulVal;
    case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
        return (unsigned)v->value.ullVal;
    case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return (unsigned)v->value.sllVal;
    case NVML_VALUE_TYPE_SIGNED_INT:
        return (unsigned)v->value.siVal;
    case NVML_VALUE_TYPE_UNSIGNED_SHORT:
        return v->value.usVal;
    default:
        return v->value.uiVal;
    }
}

static int nvml_gpu_power(void *state, unsigned dev, zeus_gpu_power *out)
{
    nvml_state *s = state;
    nvml_gpu *g = &s->gpus[dev];
    memset(out, 0, sizeof *out);
    nvmlReturn_t r = s->f.DeviceGetPowerUsage(g->handle, &out->usage_mw);
    if (r != NVML_SUCCESS)
        return nvml_fail(s, r, "nvmlDeviceGetPowerUsage", (int)dev);
    if (g->fields_supported) {
        nvmlFieldValue_t v[2] = {{.fieldId = NVML_FI_DEV_POWER_INSTANT},
                                 {.fieldId = NVML_FI_DEV_POWER_AVERAGE}};
        if (s->f.DeviceGetFieldValues(g->handle, 2, v) == NVML_SUCCESS) {
            out->instant_valid = v[0].nvmlReturn == NVML_SUCCESS;
            out->instant_mw = out->instant_valid ? field_mw(&v[0]) : 0;
            out->average_valid = v[1].nvmlReturn == NVML_SUCCESS;
            out->average_mw = out->average_valid ? field_mw(&v[1]) : 0;
        }
    }
    return ZEUS_OK;
}

static int nvml_gpu_power_sample_mw(void *state, unsigned dev, unsigned *power_mw)
{
    nvml_state *s = state;
    nvml_gpu *g = &s->gpus[dev];
    if (g->fields_supported) {
        nvmlFieldValue_t v = {.fieldId = NVML_FI_DEV_POWER_INSTANT};
        nvmlReturn_t r = s->f.DeviceGetFieldValues(g->handle, 1, &v);
        if (r == NVML_SUCCESS && v.nvmlReturn == NVML_SUCCESS) {
            *power_mw = field_mw(&v);
            return ZEUS_OK;
        }
        if (r != NVML_SUCCESS)
            return nvml_fail(s, r, "nvmlDeviceGetFieldValues", (int)dev);
    }
    nvmlReturn_t r = s->f.DeviceGetPowerUsage(g->handle, power_mw);
    return r == NVML_SUCCESS ? ZEUS_OK : nvml_fail(s, r, "nvmlDeviceGetPowerUsage", (int)dev);
}

static int nvml_gpu_power_limit_mw(void *state, unsigned dev, unsigned *limit_mw)
{
    nvml_state *s = state;
    nvmlReturn_t r = s->f.DeviceGetPowerManagementLimit(s->gpus[dev].handle, limit_mw);
    return r == NVML_SUCCESS ? ZEUS_OK
                             : nvml_fail(s, r, "nvmlDeviceGetPowerManagementLimit", (int)dev);
}

static int nvml_gpu_set_power_limit_mw(void *state, unsigned dev, unsigned limit_mw)
{
    nvml_state *s = state;
    nvmlReturn_t r = s->f.DeviceSetPowerManagementLimit(s->gpus[dev].handle, limit_mw);
    return r == NVML_SUCCESS ? ZEUS_OK
                             : nvml_fail(s, r, "nvmlDeviceSetPowerManagementLimit", (int)dev);
}

static int nvml_gpu_set_persistence(void *state, unsigned dev, bool enabled)
{
    nvml_state *s = state;
    nvmlReturn_t r = s->f.DeviceSetPersistenceMode(
        s->gpus[dev].handle, enabled ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED);
    return r == NVML_SUCCESS ? ZEUS_OK : nvml_fail(s, r, "nvmlDeviceSetPersistenceMode", (int)dev);
}

static int nvml_gpu_persistence(void *state, unsigned dev, bool *enabled)
{
    nvml_state *s = state;
    if (!s->f.DeviceGetPersistenceMode)
        return zeus__error(ZEUS_ENOTSUP, "this NVML library lacks nvmlDeviceGetPersistenceMode");
    nvmlEnableState_t mode = NVML_FEATURE_DISABLED;
    nvmlReturn_t r = s->f.DeviceGetPersistenceMode(s->gpus[dev].handle, &mode);
    if (r != NVML_SUCCESS)
        return nvml_fail(s, r, "nvmlDeviceGetPersistenceMode", (int)dev);
    *enabled = mode == NVML_FEATURE_ENABLED;
    return ZEUS_OK;
}

static int nvml_gpu_temperature_c(void *state, unsigned dev, unsigned *celsius)
{
    nvml_state *s = state;
    if (!s->f.DeviceGetTemperature)
        return zeus__error(ZEUS_ENOTSUP, "this NVML library lacks nvmlDeviceGetTemperature");
    nvmlReturn_t r = s->f.DeviceGetTemperature(s->gpus[dev].handle, NVML_TEMPERATURE_GPU, celsius);
    return r == NVML_SUCCESS ? ZEUS_OK : nvml_fail(s, r, "nvmlDeviceGetTemperature", (int)dev);
}

/* Locks (set) or unlocks one clock domain; the calls are optional at load. */
static int clock_call(nvml_state *s, unsigned dev, zeus_clock_domain domain, bool set,
                      unsigned min_mhz, unsigned max_mhz)
{
    bool gpu = domain == ZEUS_CLOCK_GPU;
    nvmlDeviceSetGpuLockedClocks_fn set_fn =
        gpu ? s->f.DeviceSetGpuLockedClocks : s->f.DeviceSetMemoryLockedClocks;
    nvmlDeviceResetGpuLockedClocks_fn reset_fn =
        gpu ? s->f.DeviceResetGpuLockedClocks : s->f.DeviceResetMemoryLockedClocks;
    const char *set_name = gpu ? "nvmlDeviceSetGpuLockedClocks" : "nvmlDeviceSetMemoryLockedClocks";
    const char *reset_name =
        gpu ? "nvmlDeviceResetGpuLockedClocks" : "nvmlDeviceResetMemoryLockedClocks";
    if (!set_fn || !reset_fn)
        return zeus__error(ZEUS_ENOTSUP,
                           "this NVML library lacks %s/%s: locking %s clocks needs NVIDIA driver "
                           "%s or newer",
                           set_name, reset_name, gpu ? "GPU" : "memory", gpu ? "440" : "460");
    nvmlDevice_t h = s->gpus[dev].handle;
    nvmlReturn_t r = set ? set_fn(h, min_mhz, max_mhz) : reset_fn(h);
    return r == NVML_SUCCESS ? ZEUS_OK : nvml_fail(s, r, set ? set_name : reset_name, (int)dev);
}

static int nvml_gpu_set_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                      unsigned min_mhz, unsigned max_mhz)
{
    return clock_call(state, dev, domain, true, min_mhz, max_mhz);
}

static int nvml_gpu_reset_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain)
{
    return clock_call(state, dev, domain, false, 0, 0);
}

static int nvml_gpu_supported_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                     unsigned memory_mhz, unsigned *mhz, unsigned *count)
{
    nvml_state *s = state;
    bool gpu = domain == ZEUS_CLOCK_GPU;
    const char *name =
        gpu ? "nvmlDeviceGetSupportedGraphicsClocks" : "nvmlDeviceGetSupportedMemoryClocks";
    if (gpu ? !s->f.DeviceGetSupportedGraphicsClocks : !s->f.DeviceGetSupportedMemoryClocks)
        return zeus__error(ZEUS_ENOTSUP, "this NVML library lacks %s", name);
    unsigned room = *count;
    nvmlDevice_t h = s->gpus[dev].handle;
    nvmlReturn_t r = gpu ? s->f.DeviceGetSupportedGraphicsClocks(h, memory_mhz, count, mhz)
                         : s->f.DeviceGetSupportedMemoryClocks(h, count, mhz);
    if (r == NVML_ERROR_INSUFFICIENT_SIZE)
        return zeus__error(ZEUS_ERANGE, "GPU %u has %u supported clocks, room for %u", dev, *count,
                           room);
    return r == NVML_SUCCESS ? ZEUS_OK : nvml_fail(s, r, name, (int)dev);
}

static int nvml_gpu_pci_address(void *state, unsigned dev, char *address, size_t size)
{
    const nvml_gpu *g = &((nvml_state *)state)->gpus[dev];
    if (!g->pci_address[0])
        return zeus__error(ZEUS_ENOTSUP, "NVML GPU %u: its PCI address is unknown (%s)", dev,
                           ((nvml_state *)state)->f.DeviceGetPciInfo
                               ? "nvmlDeviceGetPciInfo failed"
                               : "this NVML library lacks nvmlDeviceGetPciInfo");
    zeus__strlcpy(address, g->pci_address, size);
    return ZEUS_OK;
}

const zeus_backend_ops zeus__nvml_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "nvml",
    .kind = ZEUS_BACKEND_GPU,
    .auto_candidate = true,
    .visible_devices_variable = "CUDA_VISIBLE_DEVICES",
    .open = nvml_open,
    .close = nvml_close,
    .count = nvml_count,
    .gpu_info = nvml_gpu_info,
    .gpu_mig_uuid = nvml_gpu_mig_uuid,
    .gpu_mig_ids = nvml_gpu_mig_ids,
    .gpu_energy_mj = nvml_gpu_energy_mj,
    .gpu_power = nvml_gpu_power,
    .gpu_power_sample_mw = nvml_gpu_power_sample_mw,
    .gpu_power_limit_mw = nvml_gpu_power_limit_mw,
    .gpu_set_power_limit_mw = nvml_gpu_set_power_limit_mw,
    .gpu_set_persistence = nvml_gpu_set_persistence,
    .gpu_persistence = nvml_gpu_persistence,
    .gpu_temperature_c = nvml_gpu_temperature_c,
    .gpu_set_locked_clocks = nvml_gpu_set_locked_clocks,
    .gpu_supported_clocks = nvml_gpu_supported_clocks,
    .gpu_reset_locked_clocks = nvml_gpu_reset_locked_clocks,
    .gpu_pci_address = nvml_gpu_pci_address,
};
