/* A fake libamd_smi.so (ROCm's AMD SMI) for tests, on the same simulated-GPU model as the fake
 * NVML (fake_gpu.h, src/device/sim_model.c): the same config, shared settings file, log, noise
 * and root-only switch (ZEUS_FAKE_NVML_*: the fake hardware is described once, whichever
 * vendor's library a test loads), with AMD's entry points, status codes and struct layouts
 * (src/device/amdsmi_api.h). Powers are whole watts, caps microwatts, energy an accumulator
 * times a resolution of 15.259 uJ, as on MI-series GPUs.
 *
 * GPU i of the config is HIP index i (amdsmi_get_gpu_enumeration_info's hip_id; KFD node i+1),
 * but the library lists handles in the reverse order (as amd-smi's BDF order can differ from
 * HIP's), two GPUs per socket, so a backend that numbers by list position is caught.
 *
 * Environment (besides fake_gpu.h's):
 *   ZEUS_FAKE_AMDSMI_VERSION  the version amdsmi_get_lib_version reports (default 26.2.0, ROCm
 *                  7.2; the rocm63 build 24.7.1). Before 26.2 (ABI 24/25 always) the library is
 *                  not thread-safe: a call that overlaps another fails with AMDSMI_STATUS_BUSY
 *                  and logs "concurrent_call" (ZEUS_FAKE_NVML_LOG), so serialisation is tested.
 *   ZEUS_FAKE_AMDSMI_FAULTS   comma-separated faults, each for every GPU or "NAME@GPU":
 *                  frozen_counter (the accumulator never moves), counter_x100 (the resolution
 *                  reported is 100 x too large: a wrong-rate counter), no_average_power,
 *                  no_current_power (those readings are N/A), init_no_permission (amdsmi_init
 *                  fails with AMDSMI_STATUS_NO_PERM).
 * Errors are injected per GPU and function through the config's "errors" object with AMD
 * status names ("NO_PERM", "NOT_SUPPORTED", ...).
 * fake_amdsmi_set_hook() puts a Python test's amdsmi mock behind the library: the processor list
 * is then the mock's (tests/support/fake_amdsmi_mock.py).
 *
 * Build variants: FAKE_AMDSMI_ROCM63 (SONAME .so.24: ABI 24 layouts, no enumeration info, the
 * KFD order instead); FAKE_AMDSMI_BROKEN lacks amdsmi_get_power_info (a required symbol). */
#include "core/internal.h"
#include "device/amdsmi_api.h"
#include "fake_gpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define RESOLUTION_UJ 15.259f

struct fake_handle {
    unsigned gpu;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialised; /* amdsmi_init calls not yet shut down (the library counts them) */
static bool thread_safe = true;
static zeus_sim_config config;
static zeus_sim_gpu gpus[ZEUS_SIM_MAX_GPUS];
static bool persistence[ZEUS_SIM_MAX_GPUS];
static zeus_sim_state state;
static struct fake_handle handles[ZEUS_SIM_MAX_GPUS];
static int sockets[ZEUS_SIM_MAX_GPUS];
static double frozen_uj[ZEUS_SIM_MAX_GPUS];
static char init_error_text[1024];
static unsigned version[3];

enum { F_FROZEN = 1, F_X100 = 2, F_NO_AVG = 4, F_NO_CUR = 8, F_INIT_NO_PERM = 16 };
static unsigned faults[ZEUS_SIM_MAX_GPUS];

static const fake_gpu_code codes[] = {
    {AMDSMI_STATUS_SUCCESS, "SUCCESS"},
    {AMDSMI_STATUS_INVAL, "INVAL"},
    {AMDSMI_STATUS_NOT_SUPPORTED, "NOT_SUPPORTED"},
    {AMDSMI_STATUS_TIMEOUT, "TIMEOUT"},
    {AMDSMI_STATUS_NO_PERM, "NO_PERM"},
    {AMDSMI_STATUS_IO, "IO"},
    {AMDSMI_STATUS_OUT_OF_RESOURCES, "OUT_OF_RESOURCES"},
    {AMDSMI_STATUS_INIT_ERROR, "INIT_ERROR"},
    {AMDSMI_STATUS_BUSY, "BUSY"},
    {AMDSMI_STATUS_NOT_FOUND, "NOT_FOUND"},
    {AMDSMI_STATUS_NOT_INIT, "NOT_INIT"},
    {AMDSMI_STATUS_DRIVER_NOT_LOADED, "DRIVER_NOT_LOADED"},
    {AMDSMI_STATUS_UNKNOWN_ERROR, "UNKNOWN_ERROR"},
    /* The fake hardware's configs name faults as NVML does (one description of the hardware,
     * tests/fakes/fake_gpu.h): the nearest AMD status for each. */
    {AMDSMI_STATUS_NO_PERM, "NO_PERMISSION"},
    {AMDSMI_STATUS_INVAL, "INVALID_ARGUMENT"},
    {AMDSMI_STATUS_IO, "GPU_IS_LOST"}, /* its sysfs files fail to read */
    {AMDSMI_STATUS_UNKNOWN_ERROR, "UNKNOWN"},
    {AMDSMI_STATUS_NOT_INIT, "UNINITIALIZED"},
};

/* The NVML entry point a config names for the same operation of the fake hardware. */
static const struct {
    const char *amd, *nvml;
} same_operation[] = {
    {"amdsmi_set_power_cap", "nvmlDeviceSetPowerManagementLimit"},
    {"amdsmi_get_power_cap_info", "nvmlDeviceGetPowerManagementLimit"},
    {"amdsmi_get_energy_count", "nvmlDeviceGetTotalEnergyConsumption"},
    {"amdsmi_get_power_info", "nvmlDeviceGetPowerUsage"},
    {"amdsmi_set_gpu_clk_range", "nvmlDeviceSetGpuLockedClocks"},
    {"amdsmi_set_gpu_perf_level", "nvmlDeviceResetGpuLockedClocks"},
    {"amdsmi_get_temp_metric", "nvmlDeviceGetTemperature"},
};

static void parse_faults(void)
{
    memset(faults, 0, sizeof faults);
    const char *env = getenv("ZEUS_FAKE_AMDSMI_FAULTS");
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"frozen_counter", F_FROZEN},
                 {"counter_x100", F_X100},
                 {"no_average_power", F_NO_AVG},
                 {"no_current_power", F_NO_CUR},
                 {"init_no_permission", F_INIT_NO_PERM}};
    for (const char *p = env; p && *p; p += strcspn(p, ","), p += *p == ',') {
        size_t len = strcspn(p, ",@");
        int gpu = p[len] == '@' ? atoi(p + len + 1) : -1;
        for (size_t i = 0; i < ZEUS_ARRAY_LEN(names); i++)
            if (strlen(names[i].name) == len && strncmp(p, names[i].name, len) == 0)
                for (unsigned g = 0; g < ZEUS_SIM_MAX_GPUS; g++)
                    if (gpu < 0 || (unsigned)gpu == g)
                        faults[g] |= names[i].bit;
    }
}

/* The library's lock: blocking when thread-safe; otherwise an overlapping call is a bug of the
 * caller (the real library would corrupt its state), reported as BUSY. */
static amdsmi_status_t take_lock(const char *function)
{
    if (thread_safe) {
        pthread_mutex_lock(&lock);
        return AMDSMI_STATUS_SUCCESS;
    }
    if (pthread_mutex_trylock(&lock) != 0) {
        fake_gpu_log_call("concurrent_call", 0, 0);
        (void)function;
        return AMDSMI_STATUS_BUSY;
    }
    zeus_sleep_ns(20 * 1000); /* widen the window a concurrent caller would hit */
    return AMDSMI_STATUS_SUCCESS;
}

static amdsmi_status_t enter(amdsmi_processor_handle h, const char *function, unsigned *gpu)
{
    amdsmi_status_t r = take_lock(function);
    if (r != AMDSMI_STATUS_SUCCESS)
        return r;
    const struct fake_handle *fh = h;
    if (!initialised)
        r = AMDSMI_STATUS_NOT_INIT;
    else if (!fh || fh < handles || fh >= handles + config.gpu_count)
        r = AMDSMI_STATUS_INVAL;
    else
        r = fake_gpu_injected(&config, fh->gpu, function, codes, ZEUS_ARRAY_LEN(codes),
                              "AMDSMI_STATUS_", AMDSMI_STATUS_SUCCESS, AMDSMI_STATUS_UNKNOWN_ERROR);
    for (size_t i = 0; r == AMDSMI_STATUS_SUCCESS && i < ZEUS_ARRAY_LEN(same_operation); i++)
        if (strcmp(function, same_operation[i].amd) == 0)
            r = fake_gpu_injected(&config, fh->gpu, same_operation[i].nvml, codes,
                                  ZEUS_ARRAY_LEN(codes), "NVML_ERROR_", AMDSMI_STATUS_SUCCESS,
                                  AMDSMI_STATUS_UNKNOWN_ERROR);
    if (r != AMDSMI_STATUS_SUCCESS) {
        pthread_mutex_unlock(&lock);
        return r;
    }
    *gpu = fh->gpu;
    (void)zeus__sim_state_load(&state, gpus, persistence, config.gpu_count, zeus_now_ns());
    return AMDSMI_STATUS_SUCCESS;
}

#define ENTER(h, gpu) FAKE_GPU_ENTER(amdsmi_status_t, AMDSMI_STATUS_SUCCESS, enter, h, gpu)
#define LEAVE(rc) FAKE_GPU_LEAVE(lock, rc)

/* lock, load, change, save, unlock of the shared settings (sim_state.h). */
#define STATE_CHANGE(change)                                                                       \
    do {                                                                                           \
        int fd_ = zeus__sim_state_lock(&state);                                                    \
        if (zeus__sim_state_load(&state, gpus, persistence, config.gpu_count, zeus_now_ns()) !=    \
            ZEUS_OK) {                                                                             \
            zeus__sim_state_unlock(fd_);                                                           \
            LEAVE(AMDSMI_STATUS_UNKNOWN_ERROR);                                                    \
        }                                                                                          \
        change;                                                                                    \
        zeus__sim_state_save(&state, gpus, persistence, config.gpu_count);                         \
        zeus__sim_state_unlock(fd_);                                                               \
    } while (0)

EXPORT amdsmi_status_t amdsmi_init(uint64_t flags)
{
    pthread_mutex_lock(&lock);
    if (initialised > 0) {
        initialised++;
        pthread_mutex_unlock(&lock);
        return AMDSMI_STATUS_SUCCESS;
    }
    parse_faults();
    const char *v = getenv("ZEUS_FAKE_AMDSMI_VERSION");
#ifdef FAKE_AMDSMI_ROCM63
    const char *def = "24.7.1";
#else
    const char *def = "26.2.0";
#endif
    memset(version, 0, sizeof version);
    sscanf(v && *v ? v : def, "%u.%u.%u", &version[0], &version[1], &version[2]);
    thread_safe = version[0] > 26 || (version[0] == 26 && version[1] >= 2);
    amdsmi_status_t r = AMDSMI_STATUS_SUCCESS;
    if (!(flags & AMDSMI_INIT_AMD_GPUS))
        r = AMDSMI_STATUS_INVAL;
    else if (fake_gpu_hw_init("fake AMD SMI", &config, gpus, persistence, &state, init_error_text,
                              sizeof init_error_text) != ZEUS_OK)
        r = AMDSMI_STATUS_INIT_ERROR;
    else if (faults[0] & F_INIT_NO_PERM)
        r = AMDSMI_STATUS_NO_PERM;
    else if (config.init_error[0])
        r = (amdsmi_status_t)fake_gpu_code_by_name(codes, ZEUS_ARRAY_LEN(codes), "AMDSMI_STATUS_",
                                                   config.init_error, AMDSMI_STATUS_UNKNOWN_ERROR);
    if (r == AMDSMI_STATUS_SUCCESS) {
        for (unsigned i = 0; i < config.gpu_count; i++) {
            handles[i].gpu = i;
            frozen_uj[i] = -1;
        }
        initialised = 1;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT amdsmi_status_t amdsmi_shut_down(void)
{
    pthread_mutex_lock(&lock);
    amdsmi_status_t r = initialised > 0 ? AMDSMI_STATUS_SUCCESS : AMDSMI_STATUS_NOT_INIT;
    if (initialised > 0)
        initialised--;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT amdsmi_status_t amdsmi_status_code_to_string(amdsmi_status_t status, const char **text)
{
    if (!text)
        return AMDSMI_STATUS_INVAL;
    static const struct {
        amdsmi_status_t code;
        const char *text;
    } texts[] = {
        {AMDSMI_STATUS_SUCCESS, "AMDSMI_STATUS_SUCCESS: Call succeeded"},
        {AMDSMI_STATUS_INVAL, "AMDSMI_STATUS_INVAL: Invalid parameters"},
        {AMDSMI_STATUS_NOT_SUPPORTED, "AMDSMI_STATUS_NOT_SUPPORTED: Command not supported"},
        {AMDSMI_STATUS_NO_PERM, "AMDSMI_STATUS_NO_PERM: Permission Denied"},
        {AMDSMI_STATUS_IO, "AMDSMI_STATUS_IO: I/O Error"},
        {AMDSMI_STATUS_BUSY, "AMDSMI_STATUS_BUSY: Device busy"},
        {AMDSMI_STATUS_NOT_INIT, "AMDSMI_STATUS_NOT_INIT: Device not initialized"},
    };
    *text = "An unknown error occurred";
    if (status == AMDSMI_STATUS_INIT_ERROR && init_error_text[0])
        *text = init_error_text;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(texts); i++)
        if (texts[i].code == status)
            *text = texts[i].text;
    return AMDSMI_STATUS_SUCCESS;
}

EXPORT amdsmi_status_t amdsmi_get_lib_version(amdsmi_version_any_t *v)
{
    if (!v)
        return AMDSMI_STATUS_INVAL;
    memset(v, 0, sizeof *v);
    if (version[0] >= 26) { /* major, minor, release */
        memcpy(v->v, version, sizeof version);
    } else { /* year, major, minor, release: "24.7.1" is year 24, major 7, minor 1 */
        v->v[0] = version[0];
        v->v[1] = version[1];
        v->v[2] = version[2];
    }
    v->build = "fake";
    return AMDSMI_STATUS_SUCCESS;
}

/* Two GPUs per socket, listed in the reverse of HIP's order. */
/* ---- the hook: a test's `amdsmi` (Python) mock behind the library ----
 * fake_amdsmi_set_hook(fn) (ctypes; tests/support/fake_amdsmi_mock.py): the processor list is
 * then the mock's. fn(function, out, max) writes, for each handle of the mock's list in its
 * order, the GPU of the config it stands for (its HIP index: the mock's hip_id), and returns how
 * many (at most max), or -1 (not answered: the library's own list). One socket holds them all. */
typedef int (*fake_amdsmi_hook_fn)(const char *function, unsigned *out, unsigned max);
static fake_amdsmi_hook_fn hook;

EXPORT void fake_amdsmi_set_hook(fake_amdsmi_hook_fn fn)
{
    __atomic_store_n(&hook, fn, __ATOMIC_SEQ_CST);
}

/* The mock's list (config GPUs, in list order): how many, -1 without a hook's answer, or
 * AMDSMI_STATUS_INVAL as a negative number for a list the config cannot hold. */
static int hooked_list(unsigned *gpu)
{
    fake_amdsmi_hook_fn fn = __atomic_load_n(&hook, __ATOMIC_SEQ_CST);
    int n = fn ? fn("amdsmi_get_processor_handles", gpu, ZEUS_SIM_MAX_GPUS) : -1;
    if (n < 0)
        return -1;
    if (n > ZEUS_SIM_MAX_GPUS)
        return -(int)AMDSMI_STATUS_INVAL;
    for (int i = 0; i < n; i++) {
        if (gpu[i] >= config.gpu_count)
            return -(int)AMDSMI_STATUS_INVAL;
        for (int j = 0; j < i; j++)
            if (gpu[j] == gpu[i])
                return -(int)AMDSMI_STATUS_INVAL;
    }
    return n;
}

static unsigned socket_count(void)
{
    unsigned gpu[ZEUS_SIM_MAX_GPUS];
    return hooked_list(gpu) != -1 ? 1 : (config.gpu_count + 1) / 2;
}

EXPORT amdsmi_status_t amdsmi_get_socket_handles(uint32_t *count, amdsmi_socket_handle *out)
{
    if (!count)
        return AMDSMI_STATUS_INVAL;
    if (!initialised)
        return AMDSMI_STATUS_NOT_INIT;
    unsigned n = socket_count();
    if (out) {
        if (*count < n)
            return AMDSMI_STATUS_INSUFFICIENT_SIZE;
        for (unsigned i = 0; i < n; i++)
            out[i] = &sockets[i];
    }
    *count = n;
    return AMDSMI_STATUS_SUCCESS;
}

EXPORT amdsmi_status_t amdsmi_get_processor_handles(amdsmi_socket_handle socket, uint32_t *count,
                                                    amdsmi_processor_handle *out)
{
    if (!count || !socket)
        return AMDSMI_STATUS_INVAL;
    if (!initialised)
        return AMDSMI_STATUS_NOT_INIT;
    unsigned si = (unsigned)((int *)socket - sockets);
    if (si >= socket_count())
        return AMDSMI_STATUS_INVAL;
    unsigned n = 0;
    amdsmi_processor_handle list[ZEUS_SIM_MAX_GPUS];
    unsigned gpu[ZEUS_SIM_MAX_GPUS];
    int hooked = hooked_list(gpu);
    if (hooked < -1)
        return (amdsmi_status_t)-hooked;
    for (unsigned k = 0; hooked >= 0 && k < (unsigned)hooked; k++)
        list[n++] = &handles[gpu[k]];
    for (unsigned k = 0; hooked < 0 && k < 2; k++) {
        unsigned pos = si * 2 + k; /* position in the library's list */
        if (pos < config.gpu_count)
            list[n++] = &handles[config.gpu_count - 1 - pos];
    }
    if (out) {
        if (*count < n)
            return AMDSMI_STATUS_INSUFFICIENT_SIZE;
        memcpy(out, list, n * sizeof *list);
    }
    *count = n;
    return AMDSMI_STATUS_SUCCESS;
}

#ifndef FAKE_AMDSMI_ROCM63
EXPORT amdsmi_status_t amdsmi_get_gpu_enumeration_info(amdsmi_processor_handle h,
                                                       amdsmi_enumeration_info_t *info)
{
    ENTER(h, gpu);
    if (!info)
        LEAVE(AMDSMI_STATUS_INVAL);
    memset(info, 0, sizeof *info);
    info->drm_render = 128 + gpu;
    info->drm_card = gpu;
    info->hsa_id = gpu + 1;
    info->hip_id = gpu;
    snprintf(info->hip_uuid, sizeof info->hip_uuid, "GPU-%016x", gpu);
    LEAVE(AMDSMI_STATUS_SUCCESS);
}
#endif

EXPORT amdsmi_status_t amdsmi_get_gpu_kfd_info(amdsmi_processor_handle h, amdsmi_kfd_info_t *info)
{
    ENTER(h, gpu);
    if (!info)
        LEAVE(AMDSMI_STATUS_INVAL);
    memset(info, 0, sizeof *info);
    info->kfd_id = 40000 + gpu;
    info->node_id = gpu + 1;
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_get_gpu_asic_info(amdsmi_processor_handle h, void *info)
{
    ENTER(h, gpu);
    if (!info)
        LEAVE(AMDSMI_STATUS_INVAL);
#ifdef FAKE_AMDSMI_ROCM63
    const size_t name_size = 64;
#else
    const size_t name_size = 256;
#endif
    memset(info, 0, name_size);
    zeus__strlcpy(info, config.gpus[gpu].name, name_size);
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_get_gpu_device_uuid(amdsmi_processor_handle h, unsigned int *len,
                                                  char *uuid)
{
    ENTER(h, gpu);
    if (!len || !uuid || *len < AMDSMI_GPU_UUID_SIZE)
        LEAVE(AMDSMI_STATUS_INVAL);
    zeus__strlcpy(uuid, config.gpus[gpu].uuid, *len);
    *len = (unsigned)strlen(uuid) + 1;
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_get_gpu_device_bdf(amdsmi_processor_handle h, amdsmi_bdf_t *bdf)
{
    ENTER(h, gpu);
    if (!bdf)
        LEAVE(AMDSMI_STATUS_INVAL);
    *bdf = (amdsmi_bdf_t)ZEUS_SIM_PCI_BUS(gpu) << 8; /* domain 0, device 0, function 0 */
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_get_power_cap_info(amdsmi_processor_handle h, uint32_t sensor,
                                                 amdsmi_power_cap_info_t *info)
{
    ENTER(h, gpu);
    if (!info || sensor != 0)
        LEAVE(AMDSMI_STATUS_INVAL);
    memset(info, 0, sizeof *info);
    const zeus_sim_gpu_params *p = &config.gpus[gpu];
    info->power_cap = (uint64_t)gpus[gpu].limit_mw * 1000;
    info->default_power_cap = (uint64_t)p->default_limit_mw * 1000;
    info->dpm_cap = info->default_power_cap;
    info->min_power_cap = (uint64_t)p->min_limit_mw * 1000;
    info->max_power_cap = (uint64_t)p->max_limit_mw * 1000;
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_set_power_cap(amdsmi_processor_handle h, uint32_t sensor,
                                            uint64_t cap_uw)
{
    ENTER(h, gpu);
    if (!fake_gpu_caller_may_set())
        LEAVE(AMDSMI_STATUS_NO_PERM);
    const zeus_sim_gpu_params *p = &config.gpus[gpu];
    if (sensor != 0 || cap_uw < (uint64_t)p->min_limit_mw * 1000 ||
        cap_uw > (uint64_t)p->max_limit_mw * 1000)
        LEAVE(AMDSMI_STATUS_INVAL);
    STATE_CHANGE(zeus__sim_gpu_set_limit(&gpus[gpu], (unsigned)(cap_uw / 1000), zeus_now_ns()));
    fake_gpu_log_call(__func__, gpu, (unsigned)(cap_uw / 1000));
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

#ifndef FAKE_AMDSMI_BROKEN
EXPORT amdsmi_status_t amdsmi_get_power_info(amdsmi_processor_handle h, void *out)
{
    ENTER(h, gpu);
    if (!out)
        LEAVE(AMDSMI_STATUS_INVAL);
    int64_t now = zeus_now_ns();
    /* Whole watts, as the library reports them. */
    uint32_t cur =
        (fake_gpu_noisy_mw(&config, gpu, zeus__sim_gpu_instant_mw(&gpus[gpu], now), now) + 500) /
        1000;
    uint32_t avg =
        (fake_gpu_noisy_mw(&config, gpu, zeus__sim_gpu_average_mw(&gpus[gpu], now), now) + 500) /
        1000;
    if (faults[gpu] & F_NO_CUR)
        cur = AMDSMI_POWER_NA_32;
    if (faults[gpu] & F_NO_AVG)
        avg = AMDSMI_POWER_NA_16;
    uint32_t limit = gpus[gpu].limit_mw / 1000;
#ifdef FAKE_AMDSMI_ROCM63
    amdsmi_power_info_v24_t *p = out;
    memset(p, 0, sizeof *p);
#else
    amdsmi_power_info_v26_t *p = out;
    memset(p, 0, sizeof *p);
    p->socket_power = cur;
#endif
    p->current_socket_power = cur;
    p->average_socket_power = avg;
    p->power_limit = limit;
    LEAVE(AMDSMI_STATUS_SUCCESS);
}
#endif

EXPORT amdsmi_status_t amdsmi_get_energy_count(amdsmi_processor_handle h, uint64_t *acc,
                                               float *resolution, uint64_t *timestamp)
{
    ENTER(h, gpu);
    if (!acc || !resolution || !timestamp)
        LEAVE(AMDSMI_STATUS_INVAL);
    /* The config's architecture says whether the hardware has a counter (Volta and newer, as
     * in the fake NVML); an older GPU's reads NOT_SUPPORTED. */
    if (config.gpus[gpu].arch < ZEUS_ARCH_VOLTA)
        LEAVE(AMDSMI_STATUS_NOT_SUPPORTED);
    double uj = fake_gpu_energy_uj(&config, gpus, gpu, zeus_now_ns());
    if (faults[gpu] & F_FROZEN) {
        if (frozen_uj[gpu] < 0)
            frozen_uj[gpu] = uj;
        uj = frozen_uj[gpu];
    }
    *acc = (uint64_t)(uj / RESOLUTION_UJ);
    *resolution = faults[gpu] & F_X100 ? RESOLUTION_UJ * 100 : RESOLUTION_UJ;
    *timestamp = (uint64_t)zeus_now_ns();
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

/* Clock ranges the fake GPU supports, MHz (amdsmi_clk_info_t). */
static const amdsmi_clk_info_t gfx_clocks = {.clk = 1700, .min_clk = 100, .max_clk = 2100};
static const amdsmi_clk_info_t mem_clocks = {.clk = 1300, .min_clk = 100, .max_clk = 1600};

EXPORT amdsmi_status_t amdsmi_get_clock_info(amdsmi_processor_handle h, uint32_t type,
                                             amdsmi_clk_info_t *info)
{
    ENTER(h, gpu);
    (void)gpu;
    if (!info || (type != AMDSMI_CLK_TYPE_GFX && type != AMDSMI_CLK_TYPE_MEM))
        LEAVE(AMDSMI_STATUS_INVAL);
    *info = type == AMDSMI_CLK_TYPE_GFX ? gfx_clocks : mem_clocks;
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_set_gpu_clk_range(amdsmi_processor_handle h, uint64_t min_mhz,
                                                uint64_t max_mhz, uint32_t type)
{
    ENTER(h, gpu);
    if (!fake_gpu_caller_may_set())
        LEAVE(AMDSMI_STATUS_NO_PERM);
    const amdsmi_clk_info_t *range = type == AMDSMI_CLK_TYPE_GFX   ? &gfx_clocks
                                     : type == AMDSMI_CLK_TYPE_MEM ? &mem_clocks
                                                                   : NULL;
    if (!range || min_mhz > max_mhz || min_mhz < range->min_clk || max_mhz > range->max_clk)
        LEAVE(AMDSMI_STATUS_INVAL);
    zeus_clock_domain d = type == AMDSMI_CLK_TYPE_GFX ? ZEUS_CLOCK_GPU : ZEUS_CLOCK_MEMORY;
    zeus_sim_clocks locked = {(unsigned)min_mhz, (unsigned)max_mhz};
    STATE_CHANGE(zeus__sim_gpu_set_locked(&gpus[gpu], d, locked, zeus_now_ns()));
    fake_gpu_log_call(__func__, gpu, (unsigned)min_mhz);
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_set_gpu_perf_level(amdsmi_processor_handle h, uint32_t level)
{
    ENTER(h, gpu);
    if (!fake_gpu_caller_may_set())
        LEAVE(AMDSMI_STATUS_NO_PERM);
    if (level != AMDSMI_DEV_PERF_LEVEL_AUTO)
        LEAVE(AMDSMI_STATUS_NOT_SUPPORTED);
    zeus_sim_clocks unlocked = {0, 0};
    STATE_CHANGE(
        (zeus__sim_gpu_set_locked(&gpus[gpu], ZEUS_CLOCK_GPU, unlocked, zeus_now_ns()),
         zeus__sim_gpu_set_locked(&gpus[gpu], ZEUS_CLOCK_MEMORY, unlocked, zeus_now_ns())));
    fake_gpu_log_call(__func__, gpu, level);
    LEAVE(AMDSMI_STATUS_SUCCESS);
}

EXPORT amdsmi_status_t amdsmi_get_temp_metric(amdsmi_processor_handle h, uint32_t sensor,
                                              uint32_t metric, int64_t *value)
{
    ENTER(h, gpu);
    if (!value || metric != AMDSMI_TEMP_CURRENT || sensor > 1)
        LEAVE(AMDSMI_STATUS_INVAL);
    *value = zeus__sim_gpu_temperature_c(&gpus[gpu], zeus_now_ns());
    LEAVE(AMDSMI_STATUS_SUCCESS);
}
