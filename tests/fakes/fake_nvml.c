/* A fake libnvidia-ml.so.1 for tests and benchmarks, backed by the simulated GPU model that the
 * sim backend uses (src/device/sim_model.c).
 *
 * Environment:
 *   ZEUS_FAKE_NVML_CONFIG  JSON config (docs/devices.md); default 4 x NVIDIA A40, 100-300 W.
 *   ZEUS_FAKE_NVML_STATE   a file holding power limits and persistence mode, shared between
 *                          processes: a limit set by one process is seen by the next.
 *   ZEUS_FAKE_NVML_LOG     a file to which every set call is appended, one line each:
 *                          "nvmlDeviceSetPowerManagementLimit <nvml index> <mW>".
 *   ZEUS_FAKE_NVML_NOISE_W sensor noise of nvmlDeviceGetPowerUsage and the power field values,
 *                          in W (default 0: exact readings; real sensors never read the same
 *                          value twice under a steady load, and NVIDIA's Python binding users
 *                          such as the original Zeus infer the update period from changes).
 *                          The noise changes every 10 ms, like a sensor's update, and never
 *                          touches the energy counter.
 *   ZEUS_FAKE_NVML_ROOT_ONLY=1  the set calls fail with NO_PERMISSION unless the calling process
 *                          runs as root (as the real driver without CAP_SYS_ADMIN).
 * fake_nvml_set_hook(): a test in Python puts a pynvml mock behind the library (ctypes): the
 * hooked functions below ask it first (tests/support/fake_nvml_mock.py).
 * Errors are injected per GPU and function through the config's "errors" object; a config that
 * does not parse makes nvmlInit fail with NVML_ERROR_UNKNOWN, and nvmlErrorString then returns
 * the parse error so the person reading it learns what is wrong.
 *
 * Build variants: FAKE_NVML_LEGACY exports only the names without _v2; FAKE_NVML_BROKEN lacks
 * nvmlDeviceGetPowerUsage. */
#include "core/internal.h"
#include "device/nvml_api.h"
#include "device/sim_model.h"
#include "device/sim_state.h"
#include "fake_gpu.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
/* The exported functions implement NVML's prototypes (declared as function types in nvml_api.h). */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

struct nvmlDevice_st {
    unsigned gpu;
    int mig; /* -1: the whole GPU */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;
static zeus_sim_config config;
static zeus_sim_gpu gpus[ZEUS_SIM_MAX_GPUS];
static bool persistence[ZEUS_SIM_MAX_GPUS];
static struct nvmlDevice_st handles[ZEUS_SIM_MAX_GPUS];
static struct nvmlDevice_st mig_handles[ZEUS_SIM_MAX_GPUS][ZEUS_SIM_MAX_MIG];
static char config_error[1024];

static const struct {
    nvmlReturn_t code;
    const char *name;
    const char *text;
} codes[] = {
    {NVML_SUCCESS, "SUCCESS", "Success"},
    {NVML_ERROR_UNINITIALIZED, "UNINITIALIZED", "Uninitialized"},
    {NVML_ERROR_INVALID_ARGUMENT, "INVALID_ARGUMENT", "Invalid Argument"},
    {NVML_ERROR_NOT_SUPPORTED, "NOT_SUPPORTED", "Not Supported"},
    {NVML_ERROR_NO_PERMISSION, "NO_PERMISSION", "Insufficient Permissions"},
    {NVML_ERROR_ALREADY_INITIALIZED, "ALREADY_INITIALIZED", "Already Initialized"},
    {NVML_ERROR_NOT_FOUND, "NOT_FOUND", "Not Found"},
    {NVML_ERROR_INSUFFICIENT_SIZE, "INSUFFICIENT_SIZE", "Insufficient Size"},
    {NVML_ERROR_INSUFFICIENT_POWER, "INSUFFICIENT_POWER", "Insufficient External Power"},
    {NVML_ERROR_DRIVER_NOT_LOADED, "DRIVER_NOT_LOADED", "Driver Not Loaded"},
    {NVML_ERROR_TIMEOUT, "TIMEOUT", "Timeout"},
    {NVML_ERROR_IRQ_ISSUE, "IRQ_ISSUE", "Interrupt Request Issue"},
    {NVML_ERROR_LIBRARY_NOT_FOUND, "LIBRARY_NOT_FOUND", "NVML Shared Library Not Found"},
    {NVML_ERROR_FUNCTION_NOT_FOUND, "FUNCTION_NOT_FOUND", "Function Not Found"},
    {NVML_ERROR_CORRUPTED_INFOROM, "CORRUPTED_INFOROM", "Corrupted infoROM"},
    {NVML_ERROR_GPU_IS_LOST, "GPU_IS_LOST", "GPU is lost"},
    {NVML_ERROR_RESET_REQUIRED, "RESET_REQUIRED", "GPU requires restart"},
    {NVML_ERROR_OPERATING_SYSTEM, "OPERATING_SYSTEM",
     "The operating system has blocked the request."},
    {NVML_ERROR_LIB_RM_VERSION_MISMATCH, "LIB_RM_VERSION_MISMATCH",
     "RM has detected an NVML/RM version mismatch."},
    {NVML_ERROR_IN_USE, "IN_USE", "In use by another client"},
    {NVML_ERROR_MEMORY, "MEMORY", "Insufficient Memory"},
    {NVML_ERROR_NO_DATA, "NO_DATA", "No data"},
    {NVML_ERROR_UNKNOWN, "UNKNOWN", "Unknown Error"},
};

/* The codes by name, for the config's injected errors (fake_gpu.h). */
static fake_gpu_code code_names[ZEUS_ARRAY_LEN(codes)];

static nvmlReturn_t code_by_name(const char *name)
{
    return (nvmlReturn_t)fake_gpu_code_by_name(code_names, ZEUS_ARRAY_LEN(code_names),
                                               "NVML_ERROR_", name, NVML_ERROR_UNKNOWN);
}

/* ---- shared state file ---- */

static zeus_sim_state state;

/* A malformed file fails nvmlInit (its detail through nvmlErrorString); later it keeps the
 * settings last read, as the library's sim backend reports it. */
static int state_load_locked(void)
{
    return zeus__sim_state_load(&state, gpus, persistence, config.gpu_count, zeus_now_ns());
}

/* Changes a setting the way sim_state.h prescribes (lock, load, change, save, unlock); a
 * malformed file fails the call with NVML_ERROR_UNKNOWN and is left alone. */
#define STATE_CHANGE(change)                                                                       \
    do {                                                                                           \
        int fd_ = zeus__sim_state_lock(&state);                                                    \
        int rc_ = state_load_locked();                                                             \
        if (rc_ == ZEUS_OK) {                                                                      \
            change;                                                                                \
            zeus__sim_state_save(&state, gpus, persistence, config.gpu_count);                     \
        }                                                                                          \
        zeus__sim_state_unlock(fd_);                                                               \
        if (rc_ != ZEUS_OK)                                                                        \
            LEAVE(NVML_ERROR_UNKNOWN);                                                             \
    } while (0)

/* ---- entry checks ---- */

static nvmlReturn_t injected(unsigned gpu, const char *function)
{
    return (nvmlReturn_t)fake_gpu_injected(&config, gpu, function, code_names,
                                           ZEUS_ARRAY_LEN(code_names), "NVML_ERROR_", NVML_SUCCESS,
                                           NVML_ERROR_UNKNOWN);
}

/* Validates the handle, takes the lock and applies error injection. On success the caller holds
 * the lock and must release it. */
static nvmlReturn_t enter(nvmlDevice_t device, const char *function, unsigned *gpu)
{
    pthread_mutex_lock(&lock);
    if (init_count == 0) {
        pthread_mutex_unlock(&lock);
        return NVML_ERROR_UNINITIALIZED;
    }
    if (!device || device->gpu >= config.gpu_count) {
        pthread_mutex_unlock(&lock);
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    nvmlReturn_t rc = injected(device->gpu, function);
    if (rc != NVML_SUCCESS) {
        pthread_mutex_unlock(&lock);
        return rc;
    }
    *gpu = device->gpu;
    return NVML_SUCCESS;
}

#define ENTER(device, gpu) FAKE_GPU_ENTER(nvmlReturn_t, NVML_SUCCESS, enter, device, gpu)
#define LEAVE(rc) FAKE_GPU_LEAVE(lock, rc)

/* ---- the hook: a pynvml mock behind the library ----
 * hook(function, gpu, args, nargs, out, nout): -1 = not answered (the simulated GPU answers),
 * NVML_SUCCESS with out[] filled, or an NVML error code to return. Called without the library's
 * lock held: the hook may take a Python interpreter lock of its own. */
typedef int (*fake_nvml_hook_fn)(const char *function, unsigned gpu, const long long *args,
                                 int nargs, long long *out, int nout);
static fake_nvml_hook_fn hook;

EXPORT void fake_nvml_set_hook(fake_nvml_hook_fn fn)
{
    __atomic_store_n(&hook, fn, __ATOMIC_SEQ_CST);
}

static int ask_hook(const char *function, unsigned gpu, long long arg, int nargs, long long *out,
                    int nout)
{
    fake_nvml_hook_fn fn = __atomic_load_n(&hook, __ATOMIC_SEQ_CST);
    return fn ? fn(function, gpu, &arg, nargs, out, nout) : -1;
}

/* The device's index for the hook, or UINT32_MAX for a handle that is not one of ours. */
static unsigned hook_gpu(nvmlDevice_t device)
{
    return device && device->mig < 0 ? device->gpu : UINT32_MAX;
}

/* ---- system ---- */

static nvmlReturn_t init_impl(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(codes); i++)
        code_names[i] = (fake_gpu_code){(int)codes[i].code, codes[i].name};
    if (init_count > 0) {
        init_count++;
        pthread_mutex_unlock(&lock);
        return NVML_SUCCESS;
    }
    if (fake_gpu_hw_init("fake NVML", &config, gpus, persistence, &state, config_error,
                         sizeof config_error) != ZEUS_OK) {
        pthread_mutex_unlock(&lock);
        return NVML_ERROR_UNKNOWN;
    }
    if (config.init_error[0]) {
        pthread_mutex_unlock(&lock);
        return code_by_name(config.init_error);
    }
    for (unsigned i = 0; i < config.gpu_count; i++) {
        handles[i] = (struct nvmlDevice_st){i, -1};
        for (unsigned m = 0; m < config.gpus[i].mig_count; m++)
            mig_handles[i][m] = (struct nvmlDevice_st){i, (int)m};
    }
    init_count = 1;
    pthread_mutex_unlock(&lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlInit(void)
{
    return init_impl();
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlInit_v2(void)
{
    return init_impl();
}
#endif

/* What NVIDIA's Python binding (nvidia-ml-py) calls for nvmlInit(). */
EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags;
    return init_impl();
}

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    pthread_mutex_lock(&lock);
    nvmlReturn_t rc = init_count > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    if (init_count > 0)
        init_count--;
    pthread_mutex_unlock(&lock);
    return rc;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t result)
{
    if (result == NVML_ERROR_UNKNOWN && config_error[0])
        return config_error;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(codes); i++)
        if (codes[i].code == result)
            return codes[i].text;
    return "Unknown Error";
}

/* Copies text as NVML does; the "unterminated_strings" fault fills the whole buffer with the
 * text repeated and no NUL, as a misbehaving library might. */
static nvmlReturn_t copy_text(const char *text, char *out, unsigned int length)
{
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(text) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    if (config.faults & ZEUS_SIM_FAULT_UNTERMINATED) {
        for (unsigned i = 0; i < length; i++)
            out[i] = text[i % strlen(text)];
        return NVML_SUCCESS;
    }
    zeus__strlcpy(out, text, length);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    return copy_text(config.driver_version, version, length);
}

static nvmlReturn_t count_impl(unsigned int *count)
{
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    long long answer;
    int hooked = ask_hook("nvmlDeviceGetCount", 0, 0, 0, &answer, 1);
    pthread_mutex_lock(&lock);
    nvmlReturn_t rc = init_count > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    if (rc == NVML_SUCCESS && hooked > 0)
        rc = (nvmlReturn_t)hooked;
    else if (rc == NVML_SUCCESS) /* (never more GPUs than the config has handles for) */
        *count = hooked == 0 && answer >= 0 && answer < config.gpu_count ? (unsigned)answer
                                                                         : config.gpu_count;
    pthread_mutex_unlock(&lock);
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
    return count_impl(count);
}

static nvmlReturn_t handle_impl(unsigned int index, nvmlDevice_t *device)
{
    if (!device)
        return NVML_ERROR_INVALID_ARGUMENT;
    long long unused;
    (void)ask_hook("nvmlDeviceGetHandleByIndex", index, index, 1, &unused, 0); /* seen, not asked */
    pthread_mutex_lock(&lock);
    nvmlReturn_t rc = NVML_SUCCESS;
    if (init_count == 0)
        rc = NVML_ERROR_UNINITIALIZED;
    else if (index >= config.gpu_count)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    else
        *device = &handles[index];
    pthread_mutex_unlock(&lock);
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return handle_impl(index, device);
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    return count_impl(count);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    return handle_impl(index, device);
}
#endif

/* ---- per device ---- */

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    ENTER(device, gpu);
    LEAVE(copy_text(config.gpus[gpu].name, name, length));
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    ENTER(device, gpu);
    const char *text =
        device->mig >= 0 ? config.gpus[gpu].mig_uuids[device->mig] : config.gpus[gpu].uuid;
    LEAVE(copy_text(text, uuid, length));
}

EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, nvmlDeviceArchitecture_t *arch)
{
    long long answer;
    int hooked = ask_hook(__func__, hook_gpu(device), 0, 0, &answer, 1);
    ENTER(device, gpu);
    if (!arch)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    if (hooked >= 0) {
        if (hooked == 0)
            *arch = (nvmlDeviceArchitecture_t)answer;
        LEAVE((nvmlReturn_t)hooked);
    }
    /* The config names Zeus's architectures; NVML numbers them its own way (nvml_api.h). */
    static const struct {
        zeus_gpu_arch zeus;
        nvmlDeviceArchitecture_t nvml;
    } arch_codes[] = {{ZEUS_ARCH_KEPLER, 2}, {ZEUS_ARCH_MAXWELL, 3}, {ZEUS_ARCH_PASCAL, 4},
                      {ZEUS_ARCH_VOLTA, 5},  {ZEUS_ARCH_TURING, 6},  {ZEUS_ARCH_AMPERE, 7},
                      {ZEUS_ARCH_ADA, 8},    {ZEUS_ARCH_HOPPER, 9},  {ZEUS_ARCH_BLACKWELL, 10}};
    *arch = NVML_DEVICE_ARCH_UNKNOWN;
    for (size_t i = 0; i < sizeof arch_codes / sizeof arch_codes[0]; i++)
        if (arch_codes[i].zeus == config.gpus[gpu].arch)
            *arch = arch_codes[i].nvml;
    LEAVE(NVML_SUCCESS);
}

static bool has_energy_counter(unsigned gpu)
{
    return config.gpus[gpu].arch >= ZEUS_ARCH_VOLTA;
}

EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device,
                                                        unsigned long long *energy)
{
    long long answer;
    int hooked = ask_hook(__func__, hook_gpu(device), 0, 0, &answer, 1);
    ENTER(device, gpu);
    if (!energy)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    if (hooked >= 0) {
        if (hooked == 0)
            *energy = (unsigned long long)answer;
        LEAVE((nvmlReturn_t)hooked);
    }
    if (!has_energy_counter(gpu))
        LEAVE(NVML_ERROR_NOT_SUPPORTED);
    (void)state_load_locked();
    *energy = (unsigned long long)(fake_gpu_energy_uj(&config, gpus, gpu, zeus_now_ns()) / 1000.0);
    LEAVE(NVML_SUCCESS);
}

#ifndef FAKE_NVML_BROKEN
EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    ENTER(device, gpu);
    if (!power)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    (void)state_load_locked();
    int64_t now = zeus_now_ns();
    /* Ampere and newer report a 1 s average here; older GPUs an instantaneous value. */
    *power = fake_gpu_noisy_mw(&config, gpu,
                               config.gpus[gpu].arch >= ZEUS_ARCH_AMPERE
                                   ? zeus__sim_gpu_average_mw(&gpus[gpu], now)
                                   : zeus__sim_gpu_instant_mw(&gpus[gpu], now),
                               now);
    LEAVE(NVML_SUCCESS);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount,
                                             nvmlFieldValue_t *values)
{
    ENTER(device, gpu);
    if (!values || valuesCount < 0)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    (void)state_load_locked();
    int64_t now = zeus_now_ns();
    for (int i = 0; i < valuesCount; i++) {
        nvmlFieldValue_t *v = &values[i];
        v->timestamp = (long long)(zeus_wall_s() * 1e6);
        v->latencyUsec = 0;
        v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
        if (!has_energy_counter(gpu)) {
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        } else if (v->fieldId == NVML_FI_DEV_POWER_INSTANT) {
            v->nvmlReturn = NVML_SUCCESS;
            v->value.uiVal =
                fake_gpu_noisy_mw(&config, gpu, zeus__sim_gpu_instant_mw(&gpus[gpu], now), now);
        } else if (v->fieldId == NVML_FI_DEV_POWER_AVERAGE) {
            v->nvmlReturn = NVML_SUCCESS;
            v->value.uiVal =
                fake_gpu_noisy_mw(&config, gpu, zeus__sim_gpu_average_mw(&gpus[gpu], now), now);
        } else {
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        }
    }
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device,
                                                                 unsigned int *minLimit,
                                                                 unsigned int *maxLimit)
{
    long long answer[2];
    int hooked = ask_hook(__func__, hook_gpu(device), 0, 0, answer, 2);
    ENTER(device, gpu);
    if (!minLimit || !maxLimit)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    if (hooked >= 0) {
        if (hooked == 0)
            *minLimit = (unsigned)answer[0], *maxLimit = (unsigned)answer[1];
        LEAVE((nvmlReturn_t)hooked);
    }
    bool inverted = config.faults & ZEUS_SIM_FAULT_INVERTED_LIMITS;
    *minLimit = inverted ? config.gpus[gpu].max_limit_mw : config.gpus[gpu].min_limit_mw;
    *maxLimit = inverted ? config.gpus[gpu].min_limit_mw : config.gpus[gpu].max_limit_mw;
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device,
                                                             unsigned int *defaultLimit)
{
    long long answer;
    int hooked = ask_hook(__func__, hook_gpu(device), 0, 0, &answer, 1);
    ENTER(device, gpu);
    if (!defaultLimit)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    if (hooked >= 0) {
        if (hooked == 0)
            *defaultLimit = (unsigned)answer;
        LEAVE((nvmlReturn_t)hooked);
    }
    *defaultLimit = config.gpus[gpu].default_limit_mw;
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
    ENTER(device, gpu);
    if (!limit)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    (void)state_load_locked();
    *limit = gpus[gpu].limit_mw;
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t device, unsigned int limit)
{
    /* The mock sees the call; the simulated GPU applies it unless the mock answers an error. */
    long long unused;
    int hooked = ask_hook(__func__, hook_gpu(device), limit, 1, &unused, 0);
    if (hooked > 0)
        return (nvmlReturn_t)hooked;
    ENTER(device, gpu);
    if (!fake_gpu_caller_may_set())
        LEAVE(NVML_ERROR_NO_PERMISSION);
    const zeus_sim_gpu_params *p = &config.gpus[gpu];
    if (limit < p->min_limit_mw || limit > p->max_limit_mw)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    STATE_CHANGE(zeus__sim_gpu_set_limit(&gpus[gpu], limit, zeus_now_ns()));
    fake_gpu_log_call(__func__, gpu, limit);
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceSetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t mode)
{
    ENTER(device, gpu);
    if (!fake_gpu_caller_may_set())
        LEAVE(NVML_ERROR_NO_PERMISSION);
    if (mode != NVML_FEATURE_ENABLED && mode != NVML_FEATURE_DISABLED)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    STATE_CHANGE(persistence[gpu] = mode == NVML_FEATURE_ENABLED);
    fake_gpu_log_call(__func__, gpu, (unsigned)mode);
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t *mode)
{
    ENTER(device, gpu);
    if (!mode)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    state_load_locked();
    *mode = persistence[gpu] ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensorType,
                                             unsigned int *temp)
{
    ENTER(device, gpu);
    if (!temp || sensorType != NVML_TEMPERATURE_GPU)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    (void)state_load_locked();
    *temp = zeus__sim_gpu_temperature_c(&gpus[gpu], zeus_now_ns());
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
    ENTER(device, gpu);
    if (!count)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    *count = config.gpus[gpu].mig_count;
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                        nvmlDevice_t *migDevice)
{
    ENTER(device, gpu);
    if (!migDevice)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    if (index >= config.gpus[gpu].mig_count)
        LEAVE(NVML_ERROR_NOT_FOUND);
    *migDevice = &mig_handles[gpu][index];
    LEAVE(NVML_SUCCESS);
}

/* MIG instance m of a GPU is GPU instance m + 1, compute instance 0 (the sim backend agrees). */
EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)
{
    ENTER(device, gpu);
    if (!id || device->mig < 0)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    *id = (unsigned)device->mig + 1;
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)
{
    ENTER(device, gpu);
    if (!id || device->mig < 0)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    *id = 0;
    LEAVE(NVML_SUCCESS);
}

/* ---- Clock locking (what the original Zeus and other tools call through nvidia-ml-py) ----
 * Kept in the state file like the power limit (ZEUS_FAKE_NVML_STATE: "gpu_clocks_mhz <min>
 * <max>" while locked) and logged (ZEUS_FAKE_NVML_LOG: "<function> <nvml index> <min MHz>");
 * a locked SM clock slows the workload model and cuts its power (sim_model.h), and the
 * supported clocks are the model's. As the real driver: root only under
 * ZEUS_FAKE_NVML_ROOT_ONLY, GPU clocks from Volta, memory clocks from Ampere, min > max is an
 * invalid argument. The legacy build (an old driver) has none of these calls. */

#ifndef FAKE_NVML_LEGACY
static nvmlReturn_t clocks_impl(nvmlDevice_t device, const char *function, zeus_clock_domain domain,
                                unsigned lo, unsigned hi, bool set)
{
    unsigned gpu;
    nvmlReturn_t entered = enter(device, function, &gpu); /* errors injected by its own name */
    if (entered != NVML_SUCCESS)
        return entered;
    if (!fake_gpu_caller_may_set())
        LEAVE(NVML_ERROR_NO_PERMISSION);
    if (config.gpus[gpu].arch < (domain == ZEUS_CLOCK_GPU ? ZEUS_ARCH_VOLTA : ZEUS_ARCH_AMPERE))
        LEAVE(NVML_ERROR_NOT_SUPPORTED);
    if (set && (lo > hi || hi == 0))
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    zeus_sim_clocks locked = {set ? lo : 0, set ? hi : 0};
    STATE_CHANGE(zeus__sim_gpu_set_locked(&gpus[gpu], domain, locked, zeus_now_ns()));
    fake_gpu_log_call(function, gpu, lo);
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceSetGpuLockedClocks(nvmlDevice_t device, unsigned int minGpuClockMHz,
                                                 unsigned int maxGpuClockMHz)
{
    return clocks_impl(device, __func__, ZEUS_CLOCK_GPU, minGpuClockMHz, maxGpuClockMHz, true);
}

EXPORT nvmlReturn_t nvmlDeviceResetGpuLockedClocks(nvmlDevice_t device)
{
    return clocks_impl(device, __func__, ZEUS_CLOCK_GPU, 0, 0, false);
}

EXPORT nvmlReturn_t nvmlDeviceSetMemoryLockedClocks(nvmlDevice_t device,
                                                    unsigned int minMemClockMHz,
                                                    unsigned int maxMemClockMHz)
{
    return clocks_impl(device, __func__, ZEUS_CLOCK_MEMORY, minMemClockMHz, maxMemClockMHz, true);
}

EXPORT nvmlReturn_t nvmlDeviceResetMemoryLockedClocks(nvmlDevice_t device)
{
    return clocks_impl(device, __func__, ZEUS_CLOCK_MEMORY, 0, 0, false);
}

/* Bus ZEUS_SIM_PCI_BUS(index) in domain 0, as the sim backend reports it; NVML writes the bus id
 * in uppercase hex with an 8-digit domain (and a 4-digit one in busIdLegacy). */
static nvmlReturn_t pci_impl(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    ENTER(device, gpu);
    if (!pci)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    memset(pci, 0, sizeof *pci);
    pci->domain = 0;
    pci->bus = ZEUS_SIM_PCI_BUS(gpu);
    pci->device = 0;
    pci->pciDeviceId = 0x223510de; /* A40 */
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02X:00.0", pci->bus);
    snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", pci->bus);
    LEAVE(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_impl(device, pci);
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_impl(device, pci);
}
#endif

static nvmlReturn_t clock_list(const zeus_sim_gpu_params *p, zeus_clock_domain domain,
                               unsigned int *count, unsigned int *clocks)
{
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned room = clocks ? *count : 0;
    *count = zeus__sim_supported_clocks(p, domain, clocks, room);
    return *count > room ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedMemoryClocks(nvmlDevice_t device, unsigned int *count,
                                                       unsigned int *clocksMHz)
{
    ENTER(device, gpu);
    LEAVE(clock_list(&config.gpus[gpu], ZEUS_CLOCK_MEMORY, count, clocksMHz));
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedGraphicsClocks(nvmlDevice_t device,
                                                         unsigned int memoryClockMHz,
                                                         unsigned int *count,
                                                         unsigned int *clocksMHz)
{
    ENTER(device, gpu);
    bool known = false;
    for (unsigned i = 0; i < config.gpus[gpu].memory_clock_count; i++)
        known |= config.gpus[gpu].memory_clocks_mhz[i] == memoryClockMHz;
    if (!known)
        LEAVE(NVML_ERROR_NOT_FOUND);
    LEAVE(clock_list(&config.gpus[gpu], ZEUS_CLOCK_GPU, count, clocksMHz));
}

/* nvmlClockType_t NVML_CLOCK_SM (1) and NVML_CLOCK_GRAPHICS (0): the clock the model runs at
 * now; NVML_CLOCK_MEM (2): the locked or highest memory clock. */
EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
    ENTER(device, gpu);
    if (!clock || type < 0 || type > 2)
        LEAVE(NVML_ERROR_INVALID_ARGUMENT);
    (void)state_load_locked();
    if (type == 2) {
        const zeus_sim_clocks *m = &gpus[gpu].locked[ZEUS_CLOCK_MEMORY];
        *clock = m->max_mhz ? m->max_mhz : config.gpus[gpu].memory_clocks_mhz[0];
    } else {
        *clock = (unsigned)(zeus__sim_gpu_sm_clock_mhz(&gpus[gpu]) + 0.5);
    }
    LEAVE(NVML_SUCCESS);
}
