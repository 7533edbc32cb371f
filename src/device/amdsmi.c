/* The amdsmi backend: AMD GPUs through ROCm's libamd_smi, loaded at run time with dlopen so that
 * neither building nor running Zeus needs ROCm. Behaviour follows the newer Zeus (ROCm >= 6.3,
 * docs/spec devices-carbon 1.2-1.3):
 *   - the library: the amdsmi_library option (ZEUS_AMDSMI_LIBRARY) alone when given; else the
 *     SONAMEs .so.26, .so.25, .so.24 under $ROCM_PATH/lib (rocm_path option) alone when given,
 *     else under /opt/rocm/lib, then the newest /opt/rocm-X.Y.Z/lib, then through the loader;
 *   - the ABI (from amdsmi_get_lib_version) picks the amdsmi_power_info_t layout; ROCm 6.2 and
 *     older are refused; calls are serialised by a mutex for ABI 24/25 and ABI 26 before 26.2
 *     (the library was not thread-safe before ROCm 7.2);
 *   - backend index = HIP index (amdsmi_get_gpu_enumeration_info's hip_id, ROCm 6.4+, else the
 *     rank of the KFD node id, ROCm 6.3), so HIP_VISIBLE_DEVICES indices apply as HIP applies them;
 *   - the energy counter (accumulator x resolution, uJ) is checked at open against the power
 *     the GPU reports over a short window (the original's 0.5 s): a counter that is frozen or
 *     advances at the wrong rate (ratio outside 0.1..10, ROCm/amdsmi issue #38) is not used, and
 *     the monitor integrates sampled power for that GPU instead (its windows say "sampled");
 *   - MI250: the odd die of a dual-die card reads no power; its readings are disabled;
 *   - power caps in uW on the wire, mW here; no persistence mode on AMD (ZEUS_ENOTSUP). */
#include "core/internal.h"
#include "device/amdsmi_api.h"
#include "device/backend.h"

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    amdsmi_init_fn init;
    amdsmi_shut_down_fn shut_down;
    amdsmi_status_code_to_string_fn status_code_to_string;
    amdsmi_get_lib_version_fn get_lib_version;
    amdsmi_get_socket_handles_fn get_socket_handles;
    amdsmi_get_processor_handles_fn get_processor_handles;
    amdsmi_get_gpu_enumeration_info_fn get_gpu_enumeration_info;
    amdsmi_get_gpu_kfd_info_fn get_gpu_kfd_info;
    amdsmi_get_gpu_asic_info_fn get_gpu_asic_info;
    amdsmi_get_gpu_device_uuid_fn get_gpu_device_uuid;
    amdsmi_get_gpu_device_bdf_fn get_gpu_device_bdf;
    amdsmi_get_power_cap_info_fn get_power_cap_info;
    amdsmi_set_power_cap_fn set_power_cap;
    amdsmi_get_power_info_fn get_power_info;
    amdsmi_get_energy_count_fn get_energy_count;
    amdsmi_get_clock_info_fn get_clock_info;
    amdsmi_set_gpu_clk_range_fn set_gpu_clk_range;
    amdsmi_set_gpu_perf_level_fn set_gpu_perf_level;
    amdsmi_get_temp_metric_fn get_temp_metric;
} amdsmi_functions;

/* The symbols the newer Zeus's daemon resolves are required (a library lacking one is not a
 * usable ROCm >= 6.3 amdsmi); the HIP-order calls are checked after loading. */
static const struct {
    const char *name;
    bool required;
    size_t offset;
} amdsmi_symbols[] = {
#define SYM(field, required)                                                                       \
    {                                                                                              \
        "amdsmi_" #field, required, offsetof(amdsmi_functions, field)                              \
    }
    SYM(init, true),
    SYM(shut_down, true),
    SYM(status_code_to_string, true),
    SYM(get_lib_version, true),
    SYM(get_socket_handles, true),
    SYM(get_processor_handles, true),
    SYM(get_gpu_enumeration_info, false), /* ROCm 6.4+ */
    SYM(get_gpu_kfd_info, false),         /* ROCm 6.3 */
    SYM(get_gpu_asic_info, true),
    SYM(get_gpu_device_uuid, false),
    SYM(get_gpu_device_bdf, true),
    SYM(get_power_cap_info, true),
    SYM(set_power_cap, true),
    SYM(get_power_info, true),
    SYM(get_energy_count, true),
    SYM(get_clock_info, false),
    SYM(set_gpu_clk_range, false),
    SYM(set_gpu_perf_level, false),
    SYM(get_temp_metric, false),
#undef SYM
};

typedef struct {
    amdsmi_processor_handle handle;
    zeus_gpu_info info;
    char pci_address[ZEUS_GPU_PCI_ADDRESS_LEN];
    bool has_current, has_average; /* power readings the GPU has */
    bool odd_mi250_die;            /* reads nothing: its power is in the even die's */
    /* The locked range this handle set per zeus_clock_domain (max_mhz 0: none), so that a
     * one-domain reset can put the other domain's lock back (AMD resets both at once). */
    struct {
        unsigned min_mhz, max_mhz;
    } locked[2];
} amd_gpu;

typedef struct {
    void *lib;
    amdsmi_functions f;
    unsigned abi, major, minor; /* library version: ABI (24, 25, 26) and its minor */
    bool serialise;
    pthread_mutex_t lock;
    bool initialised;
    unsigned count;
    amd_gpu *gpus;
} amd_state;

static void enter(amd_state *s)
{
    if (s->serialise)
        pthread_mutex_lock(&s->lock);
}

static void leave(amd_state *s)
{
    if (s->serialise)
        pthread_mutex_unlock(&s->lock);
}

/* One library call, serialised when the library needs it (an expression; the status passes
 * through a thread-local so that the macro stays plain C11). */
static _Thread_local amdsmi_status_t amd_status;
#define AMD(s, call) (enter(s), amd_status = (s)->f.call, leave(s), amd_status)

static const struct {
    amdsmi_status_t amd;
    int zeus;
    const char *name;
} amd_codes[] = {
    {AMDSMI_STATUS_INVAL, ZEUS_EINVAL, "INVAL"},
    {AMDSMI_STATUS_NOT_SUPPORTED, ZEUS_ENOTSUP, "NOT_SUPPORTED"},
    {AMDSMI_STATUS_NOT_YET_IMPLEMENTED, ZEUS_ENOTSUP, "NOT_YET_IMPLEMENTED"},
    {AMDSMI_STATUS_TIMEOUT, ZEUS_ETIMEOUT, "TIMEOUT"},
    {AMDSMI_STATUS_NO_PERM, ZEUS_EPERM, "NO_PERM"},
    {AMDSMI_STATUS_IO, ZEUS_EDEVICE, "IO"},
    {AMDSMI_STATUS_OUT_OF_RESOURCES, ZEUS_ENOMEM, "OUT_OF_RESOURCES"},
    {AMDSMI_STATUS_INIT_ERROR, ZEUS_EINIT, "INIT_ERROR"},
    {AMDSMI_STATUS_NOT_FOUND, ZEUS_ENOENT, "NOT_FOUND"},
    {AMDSMI_STATUS_NOT_INIT, ZEUS_EINIT, "NOT_INIT"},
    {AMDSMI_STATUS_DRIVER_NOT_LOADED, ZEUS_ENODEV, "DRIVER_NOT_LOADED"},
    {AMDSMI_STATUS_INSUFFICIENT_SIZE, ZEUS_EDEVICE, "INSUFFICIENT_SIZE"},
    {AMDSMI_STATUS_NO_DRV, ZEUS_ENODEV, "NO_DRV"},
    {AMDSMI_STATUS_FILE_NOT_FOUND, ZEUS_ELIB, "FILE_NOT_FOUND"},
};

/* Maps an amdsmi failure to our code with the library's own text and the status name. */
static int amd_fail(amd_state *s, amdsmi_status_t r, const char *call, int dev)
{
    int code = ZEUS_EDEVICE;
    const char *name = NULL;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(amd_codes); i++)
        if (amd_codes[i].amd == r) {
            code = amd_codes[i].zeus;
            name = amd_codes[i].name;
        }
    const char *text = NULL;
    if (s->f.status_code_to_string && AMD(s, status_code_to_string(r, &text)) != 0)
        text = NULL;
    const char *hint = "";
    if (r == AMDSMI_STATUS_NO_PERM && strcmp(call, "amdsmi_init") == 0)
        hint = " (no permission to use the GPUs: the user needs read-write access to /dev/kfd "
               "and /dev/dri/*, usually by being in the video and render groups)";
    else if (r == AMDSMI_STATUS_NO_PERM)
        hint = " (changing GPU settings needs root or the SYS_ADMIN capability; or run zeusd)";
    char status[48];
    if (name)
        snprintf(status, sizeof status, "AMDSMI_STATUS_%s", name);
    else
        snprintf(status, sizeof status, "amdsmi status %u", r);
    if (dev >= 0)
        return zeus__error(code, "%s(AMD GPU %d): %s [%s]%s", call, dev, text ? text : "", status,
                           hint);
    return zeus__error(code, "%s: %s [%s]%s", call, text ? text : "", status, hint);
}

static void amd_close(void *state)
{
    amd_state *s = state;
    if (!s)
        return;
    if (s->initialised)
        s->f.shut_down();
    if (s->lib)
        dlclose(s->lib);
    pthread_mutex_destroy(&s->lock);
    free(s->gpus);
    free(s);
}

static const char *const sonames[] = {"libamd_smi.so.26", "libamd_smi.so.25", "libamd_smi.so.24"};

/* Tries the SONAMEs in dir (NULL: through the dynamic loader). */
static bool try_dir(amd_state *s, const char *dir, char *loaded, size_t loaded_size,
                    char *first_error, size_t error_size)
{
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(sonames) + (dir ? 0 : 1); i++) {
        char path[1024];
        const char *name = i < ZEUS_ARRAY_LEN(sonames) ? sonames[i] : "libamd_smi.so";
        if (dir)
            snprintf(path, sizeof path, "%s/%s", dir, name);
        else
            zeus__strlcpy(path, name, sizeof path);
        s->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (s->lib) {
            zeus__strlcpy(loaded, path, loaded_size);
            return true;
        }
        if (!first_error[0])
            zeus__strlcpy(first_error, dlerror(), error_size);
    }
    return false;
}

/* "rocm-6.3.1" -> 6003001 for ordering, -1 when the name is not rocm-X[.Y[.Z]]. */
static long rocm_dir_version(const char *name)
{
    if (strncmp(name, "rocm-", 5) != 0)
        return -1;
    long parts[3] = {0, 0, 0};
    const char *p = name + 5;
    for (int i = 0; i < 3 && *p; i++) {
        char *end;
        parts[i] = strtol(p, &end, 10);
        if (end == p)
            return -1;
        p = *end == '.' ? end + 1 : end;
    }
    return parts[0] * 1000000 + parts[1] * 1000 + parts[2];
}

static int load_library(amd_state *s, const zeus_device_options *o, char *reason,
                        size_t reason_size, char *loaded, size_t loaded_size)
{
    char first_error[256] = "";
    if (o->amdsmi_library && *o->amdsmi_library) {
        s->lib = dlopen(o->amdsmi_library, RTLD_NOW | RTLD_LOCAL);
        if (!s->lib) {
            snprintf(reason, reason_size, "AMD SMI library %s could not be loaded: %s",
                     o->amdsmi_library, dlerror());
            return ZEUS_ELIB;
        }
        zeus__strlcpy(loaded, o->amdsmi_library, loaded_size);
        return ZEUS_OK;
    }
    if (o->rocm_path && *o->rocm_path) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/lib", o->rocm_path);
        if (try_dir(s, dir, loaded, loaded_size, first_error, sizeof first_error))
            return ZEUS_OK;
        snprintf(reason, reason_size,
                 "AMD SMI library not found under ROCM_PATH=%s (%s): install ROCm >= 6.3 there "
                 "or set ZEUS_AMDSMI_LIBRARY to libamd_smi.so's path",
                 o->rocm_path, first_error);
        return ZEUS_ELIB;
    }
    if (try_dir(s, "/opt/rocm/lib", loaded, loaded_size, first_error, sizeof first_error))
        return ZEUS_OK;
    /* The numerically newest /opt/rocm-X.Y.Z. */
    DIR *opt = opendir("/opt");
    char best[256] = "";
    long best_version = -1;
    for (struct dirent *e; opt && (e = readdir(opt));) {
        long v = rocm_dir_version(e->d_name);
        if (v > best_version) {
            best_version = v;
            snprintf(best, sizeof best, "/opt/%s/lib", e->d_name);
        }
    }
    if (opt)
        closedir(opt);
    if (best[0] && try_dir(s, best, loaded, loaded_size, first_error, sizeof first_error))
        return ZEUS_OK;
    if (try_dir(s, NULL, loaded, loaded_size, first_error, sizeof first_error))
        return ZEUS_OK;
    snprintf(reason, reason_size,
             "AMD SMI library (ROCm >= 6.3) not found in /opt/rocm/lib, /opt/rocm-*/lib or the "
             "loader's path (%s); install ROCm, set ROCM_PATH, or set ZEUS_AMDSMI_LIBRARY to "
             "libamd_smi.so's path",
             first_error);
    return ZEUS_ELIB;
}

/* Reads the version; accepts ROCm 6.3 and newer (docs/spec devices-carbon 1.3). */
static int check_version(amd_state *s, const char *loaded, char *reason, size_t reason_size)
{
    amdsmi_version_any_t v;
    memset(&v, 0, sizeof v);
    amdsmi_status_t r = AMD(s, get_lib_version(&v));
    if (r != AMDSMI_STATUS_SUCCESS) {
        amd_fail(s, r, "amdsmi_get_lib_version", -1);
        snprintf(reason, reason_size, "%s (library %s)", zeus_last_error(), loaded);
        return ZEUS_ELIB;
    }
    if (v.v[0] == 24 || v.v[0] == 25) { /* year, major, minor, release */
        s->abi = v.v[0];
        s->major = v.v[1];
        s->minor = v.v[2];
        if ((s->abi == 24 && s->major < 7) || (s->abi == 25 && s->major != 25)) {
            snprintf(reason, reason_size,
                     "%s is amdsmi %u.%u.%u (ROCm 6.2 or older): Zeus needs ROCm 6.3 or newer",
                     loaded, v.v[0], v.v[1], v.v[2]);
            return ZEUS_ELIB;
        }
        s->serialise = true;
    } else if (v.v[0] >= 26) { /* major, minor, release */
        s->abi = 26;
        s->major = v.v[0];
        s->minor = v.v[1];
        /* Not thread-safe before amdsmi 26.2 (ROCm 7.2). */
        s->serialise = s->major == 26 && s->minor < 2;
    } else {
        snprintf(reason, reason_size,
                 "%s reports amdsmi version %u.%u.%u: Zeus needs ROCm 6.3 or newer (amdsmi 24.7+)",
                 loaded, v.v[0], v.v[1], v.v[2]);
        return ZEUS_ELIB;
    }
    return ZEUS_OK;
}

/* Current and average socket power in W from the layout of this ABI. */
static amdsmi_status_t power_watts(amd_state *s, amdsmi_processor_handle h, uint32_t *current,
                                   uint32_t *average)
{
    union {
        amdsmi_power_info_v26_t v26;
        amdsmi_power_info_v25_t v25;
        amdsmi_power_info_v24_t v24;
    } p;
    memset(&p, 0, sizeof p);
    amdsmi_status_t r = AMD(s, get_power_info(h, &p));
    if (r != AMDSMI_STATUS_SUCCESS)
        return r;
    if (s->abi == 24) {
        *current = p.v24.current_socket_power;
        *average = p.v24.average_socket_power;
    } else if (s->abi == 25) {
        *current = p.v25.current_socket_power;
        *average = p.v25.average_socket_power;
    } else {
        *current = p.v26.current_socket_power;
        *average = p.v26.average_socket_power;
    }
    return AMDSMI_STATUS_SUCCESS;
}

static bool power_valid(uint32_t w)
{
    return w != AMDSMI_POWER_NA_16 && w != AMDSMI_POWER_NA_32;
}

/* Energy counter in uJ (accumulator x resolution), as a double: the resolution is a float. */
static amdsmi_status_t energy_uj(amd_state *s, amdsmi_processor_handle h, double *uj)
{
    uint64_t acc = 0, ts = 0;
    float resolution = 0;
    amdsmi_status_t r = AMD(s, get_energy_count(h, &acc, &resolution, &ts));
    if (r == AMDSMI_STATUS_SUCCESS)
        *uj = (double)acc * resolution;
    return r;
}

/* Every GPU handle of every socket, in the library's order. */
static int collect_handles(amd_state *s, amdsmi_processor_handle **out, unsigned *count)
{
    uint32_t sockets = 0;
    amdsmi_status_t r = AMD(s, get_socket_handles(&sockets, NULL));
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_get_socket_handles", -1);
    amdsmi_socket_handle *sh = calloc(sockets ? sockets : 1, sizeof *sh);
    amdsmi_processor_handle *all = NULL;
    unsigned n = 0;
    int rc = ZEUS_OK;
    if (!sh)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    if ((r = AMD(s, get_socket_handles(&sockets, sh))) != AMDSMI_STATUS_SUCCESS) {
        rc = amd_fail(s, r, "amdsmi_get_socket_handles", -1);
        goto done;
    }
    for (uint32_t i = 0; i < sockets; i++) {
        uint32_t k = 0;
        if ((r = AMD(s, get_processor_handles(sh[i], &k, NULL))) != AMDSMI_STATUS_SUCCESS) {
            rc = amd_fail(s, r, "amdsmi_get_processor_handles", -1);
            goto done;
        }
        amdsmi_processor_handle *grown = realloc(all, (n + k + 1) * sizeof *all);
        if (!grown) {
            rc = zeus__error(ZEUS_ENOMEM, "out of memory");
            goto done;
        }
        all = grown;
        if ((r = AMD(s, get_processor_handles(sh[i], &k, all + n))) != AMDSMI_STATUS_SUCCESS) {
            rc = amd_fail(s, r, "amdsmi_get_processor_handles", -1);
            goto done;
        }
        n += k;
    }
done:
    free(sh);
    if (rc != ZEUS_OK) {
        free(all);
        return rc;
    }
    *out = all;
    *count = n;
    return ZEUS_OK;
}

/* HIP's number of each handle (its index among what HIP sees, before HIP_VISIBLE_DEVICES). */
static int hip_order(amd_state *s, amdsmi_processor_handle *h, unsigned n, unsigned *hip)
{
    if (s->f.get_gpu_enumeration_info) { /* ROCm 6.4+ */
        for (unsigned i = 0; i < n; i++) {
            amdsmi_enumeration_info_t e;
            memset(&e, 0, sizeof e);
            amdsmi_status_t r = AMD(s, get_gpu_enumeration_info(h[i], &e));
            if (r != AMDSMI_STATUS_SUCCESS)
                return amd_fail(s, r, "amdsmi_get_gpu_enumeration_info", (int)i);
            hip[i] = e.hip_id;
        }
    } else if (s->f.get_gpu_kfd_info) { /* ROCm 6.3: rank of the KFD node id */
        uint32_t *node = calloc(n ? n : 1, sizeof *node);
        if (!node)
            return zeus__error(ZEUS_ENOMEM, "out of memory");
        for (unsigned i = 0; i < n; i++) {
            amdsmi_kfd_info_t k;
            memset(&k, 0, sizeof k);
            amdsmi_status_t r = AMD(s, get_gpu_kfd_info(h[i], &k));
            if (r != AMDSMI_STATUS_SUCCESS) {
                free(node);
                return amd_fail(s, r, "amdsmi_get_gpu_kfd_info", (int)i);
            }
            node[i] = k.node_id;
        }
        for (unsigned i = 0; i < n; i++) {
            hip[i] = 0;
            for (unsigned j = 0; j < n; j++)
                hip[i] += node[j] < node[i] || (node[j] == node[i] && j < i);
        }
        free(node);
    } else {
        return zeus__error(ZEUS_ELIB,
                           "this AMD SMI library has neither "
                           "amdsmi_get_gpu_enumeration_info nor amdsmi_get_gpu_kfd_info: "
                           "Zeus needs ROCm/amdsmi 6.3 or newer to number GPUs as HIP does");
    }
    for (unsigned i = 0; i < n; i++)
        if (hip[i] >= n)
            return zeus__error(ZEUS_EDEVICE, "AMD GPU handle %u has HIP index %u of %u GPUs", i,
                               hip[i], n);
        else
            for (unsigned j = 0; j < i; j++)
                if (hip[j] == hip[i])
                    return zeus__error(ZEUS_EDEVICE, "two AMD GPUs have HIP index %u", hip[i]);
    return ZEUS_OK;
}

static int describe_gpu(amd_state *s, unsigned dev)
{
    amd_gpu *g = &s->gpus[dev];
    zeus_gpu_info *info = &g->info;
    info->device_index = dev;
    info->arch = ZEUS_ARCH_UNKNOWN; /* Zeus's architectures are NVIDIA's generations */
    info->simulated = false;
    _Alignas(8) char asic[AMDSMI_ASIC_INFO_BUFFER];
    memset(asic, 0, sizeof asic);
    amdsmi_status_t r = AMD(s, get_gpu_asic_info(g->handle, asic));
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_get_gpu_asic_info", (int)dev);
    asic[sizeof asic - 1] = '\0';
    zeus__strlcpy(info->name, asic, sizeof info->name); /* market_name at offset 0 */
    if (s->f.get_gpu_device_uuid) {
        char uuid[ZEUS_GPU_UUID_LEN] = "";
        unsigned len = sizeof uuid;
        if (AMD(s, get_gpu_device_uuid(g->handle, &len, uuid)) == AMDSMI_STATUS_SUCCESS) {
            uuid[sizeof uuid - 1] = '\0';
            zeus__strlcpy(info->uuid, uuid, sizeof info->uuid);
        }
    }
    amdsmi_power_cap_info_t cap;
    memset(&cap, 0, sizeof cap);
    if (AMD(s, get_power_cap_info(g->handle, 0, &cap)) == AMDSMI_STATUS_SUCCESS) {
        /* uW -> mW by integer division, as the original does. */
        info->min_power_limit_mw = (unsigned)(cap.min_power_cap / 1000);
        info->max_power_limit_mw = (unsigned)(cap.max_power_cap / 1000);
        info->default_power_limit_mw = (unsigned)(cap.default_power_cap / 1000);
        if (cap.min_power_cap % 1000 || cap.max_power_cap % 1000)
            ZEUS_WARN("AMD GPU %u: power caps are not whole milliwatts (%llu-%llu uW): rounded "
                      "down",
                      dev, (unsigned long long)cap.min_power_cap,
                      (unsigned long long)cap.max_power_cap);
        if (info->min_power_limit_mw > info->max_power_limit_mw ||
            info->default_power_limit_mw < info->min_power_limit_mw ||
            info->default_power_limit_mw > info->max_power_limit_mw)
            ZEUS_WARN("AMD GPU %u (%s): the driver reports an impossible power-cap range (min %g "
                      "W, max %g W, default %g W): this GPU's limit is left alone",
                      dev, info->name, info->min_power_limit_mw / 1000.0,
                      info->max_power_limit_mw / 1000.0, info->default_power_limit_mw / 1000.0);
        else
            info->power_limit_valid = true;
    }
    amdsmi_bdf_t bdf = 0;
    if (AMD(s, get_gpu_device_bdf(g->handle, &bdf)) == AMDSMI_STATUS_SUCCESS)
        snprintf(g->pci_address, sizeof g->pci_address, "%04llx:%02x:%02x.%x",
                 (unsigned long long)(bdf >> 16), (unsigned)(bdf >> 8) & 0xff,
                 (unsigned)(bdf >> 3) & 0x1f, (unsigned)bdf & 0x7);
    uint32_t cur = AMDSMI_POWER_NA_32, avg = AMDSMI_POWER_NA_32;
    if (power_watts(s, g->handle, &cur, &avg) == AMDSMI_STATUS_SUCCESS) {
        g->has_current = power_valid(cur);
        g->has_average = power_valid(avg);
    }
    return ZEUS_OK;
}

/* The original's energy-counter check (docs/spec devices-carbon 1.2 step 5), all GPUs in one
 * window: expected = power (average, else instant) x window; the counter is used when
 * 0.1 < measured / expected < 10. */
static void check_counters(amd_state *s, unsigned window_ms)
{
    double *e0 = calloc(s->count ? s->count : 1, sizeof *e0);
    bool *ok = calloc(s->count ? s->count : 1, sizeof *ok);
    if (!e0 || !ok)
        goto done;
    int64_t t0 = zeus_now_ns();
    for (unsigned i = 0; i < s->count; i++)
        ok[i] = energy_uj(s, s->gpus[i].handle, &e0[i]) == AMDSMI_STATUS_SUCCESS;
    zeus_sleep_ns((int64_t)window_ms * 1000000);
    double window_s = (zeus_now_ns() - t0) / 1e9;
    for (unsigned i = 0; i < s->count; i++) {
        amd_gpu *g = &s->gpus[i];
        double e1 = 0;
        uint32_t cur = AMDSMI_POWER_NA_32, avg = AMDSMI_POWER_NA_32;
        bool counter = ok[i] && energy_uj(s, g->handle, &e1) == AMDSMI_STATUS_SUCCESS;
        power_watts(s, g->handle, &cur, &avg);
        double power_mw = g->has_average && power_valid(avg)   ? avg * 1000.0
                          : g->has_current && power_valid(cur) ? cur * 1000.0
                                                               : 0.0;
        double expected_mj = power_mw * window_s, measured_mj = (e1 - e0[i]) / 1000.0;
        bool mi250 = strstr(g->info.name, "MI250") != NULL;
        if (mi250 && (i % 2) == 1 && expected_mj < 0.001) {
            g->odd_mi250_die = true;
            g->has_current = g->has_average = false;
            ZEUS_WARN("AMD GPU %u (%s) is the second die of a dual-die MI250: its power and "
                      "energy are reported by GPU %u, which measures both dies",
                      i, g->info.name, i - 1);
            continue;
        }
        if (mi250 && (i % 2) == 0 && expected_mj >= 0.001)
            ZEUS_WARN("AMD GPU %u (%s): power and energy cover both dies of the MI250", i,
                      g->info.name);
        if (!counter) {
            ZEUS_INFO("AMD GPU %u: no energy counter (%s): power is sampled instead", i,
                      zeus_last_error());
            continue;
        }
        if (expected_mj < 0.001) {
            ZEUS_INFO("AMD GPU %u: no power reading to check its energy counter against: power "
                      "is sampled instead",
                      i);
            continue;
        }
        double ratio = measured_mj / expected_mj;
        if (ratio > 0.1 && ratio < 10) {
            g->info.has_energy_counter = true;
        } else {
            ZEUS_WARN("AMD GPU %u (%s): its energy counter advanced %.1f mJ in %.3f s while the "
                      "GPU reported %.1f W (%.1f mJ expected)%s: the counter is not used and "
                      "power is sampled instead (ROCm/amdsmi issue #38)",
                      i, g->info.name, measured_mj, window_s, power_mw / 1000.0, expected_mj,
                      measured_mj == 0 ? ", frozen" : "");
        }
    }
done:
    free(e0);
    free(ok);
}

static int amd_open(void **state, const zeus_device_options *options, char *reason,
                    size_t reason_size)
{
    amd_state *s = calloc(1, sizeof *s);
    char loaded[1024] = "";
    amdsmi_processor_handle *handles = NULL;
    unsigned *hip = NULL;
    int rc;
    if (!s) {
        snprintf(reason, reason_size, "out of memory");
        return ZEUS_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    if ((rc = load_library(s, options, reason, reason_size, loaded, sizeof loaded)) != ZEUS_OK)
        goto fail;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(amdsmi_symbols); i++) {
        void *sym = dlsym(s->lib, amdsmi_symbols[i].name);
        if (!sym && amdsmi_symbols[i].required) {
            snprintf(reason, reason_size,
                     "%s lacks %s: it is not an AMD SMI library of ROCm 6.3 or newer", loaded,
                     amdsmi_symbols[i].name);
            rc = ZEUS_ELIB;
            goto fail;
        }
        memcpy((char *)&s->f + amdsmi_symbols[i].offset, &sym, sizeof sym);
    }
    amdsmi_status_t r = s->f.init(AMDSMI_INIT_AMD_GPUS);
    if (r != AMDSMI_STATUS_SUCCESS) {
        rc = amd_fail(s, r, "amdsmi_init", -1);
        snprintf(reason, reason_size, "%s (library %s)", zeus_last_error(), loaded);
        if (r == AMDSMI_STATUS_NO_PERM)
            ZEUS_WARN("amdsmi: %s", reason);
        goto fail;
    }
    s->initialised = true;
    if ((rc = check_version(s, loaded, reason, reason_size)) != ZEUS_OK)
        goto fail;
    unsigned n = 0;
    if ((rc = collect_handles(s, &handles, &n)) != ZEUS_OK ||
        !(hip = calloc(n ? n : 1, sizeof *hip)) ||
        !(s->gpus = calloc(n ? n : 1, sizeof *s->gpus))) {
        if (rc == ZEUS_OK)
            rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        snprintf(reason, reason_size, "%s", zeus_last_error());
        goto fail;
    }
    if ((rc = hip_order(s, handles, n, hip)) != ZEUS_OK) {
        snprintf(reason, reason_size, "%s (library %s)", zeus_last_error(), loaded);
        goto fail;
    }
    for (unsigned i = 0; i < n; i++)
        s->gpus[hip[i]].handle = handles[i];
    s->count = n;
    for (unsigned i = 0; i < n; i++)
        if ((rc = describe_gpu(s, i)) != ZEUS_OK) {
            snprintf(reason, reason_size, "%s", zeus_last_error());
            goto fail;
        }
    check_counters(s, options->amdsmi_check_ms ? options->amdsmi_check_ms : 500);
    unsigned counters = 0;
    for (unsigned i = 0; i < n; i++)
        counters += s->gpus[i].info.has_energy_counter;
    snprintf(reason, reason_size, "%s, amdsmi %u.%u%s, %u GPU%s (%u with a trusted energy counter)",
             loaded, s->major, s->minor, s->serialise ? " (calls serialised)" : "", n,
             n == 1 ? "" : "s", counters);
    free(handles);
    free(hip);
    *state = s;
    return ZEUS_OK;
fail:
    free(handles);
    free(hip);
    amd_close(s);
    return rc;
}

static unsigned amd_count(void *state)
{
    return ((amd_state *)state)->count;
}

static int amd_gpu_info(void *state, unsigned dev, zeus_gpu_info *out)
{
    *out = ((amd_state *)state)->gpus[dev].info;
    return ZEUS_OK;
}

static int odd_die(unsigned dev)
{
    return zeus__error(ZEUS_ENOTSUP,
                       "AMD GPU %u is the second die of an MI250: measure GPU %u, which reports "
                       "the power of both dies",
                       dev, dev ? dev - 1 : 0);
}

static int amd_gpu_energy_mj(void *state, unsigned dev, uint64_t *energy_mj)
{
    amd_state *s = state;
    if (s->gpus[dev].odd_mi250_die)
        return odd_die(dev);
    double uj = 0;
    amdsmi_status_t r = energy_uj(s, s->gpus[dev].handle, &uj);
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_get_energy_count", (int)dev);
    *energy_mj = (uint64_t)(uj / 1000.0);
    return ZEUS_OK;
}

static int amd_gpu_power(void *state, unsigned dev, zeus_gpu_power *out)
{
    amd_state *s = state;
    amd_gpu *g = &s->gpus[dev];
    memset(out, 0, sizeof *out);
    if (g->odd_mi250_die)
        return odd_die(dev);
    uint32_t cur = 0, avg = 0;
    amdsmi_status_t r = power_watts(s, g->handle, &cur, &avg);
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_get_power_info", (int)dev);
    out->instant_valid = g->has_current && power_valid(cur);
    out->instant_mw = out->instant_valid ? cur * 1000 : 0;
    out->average_valid = g->has_average && power_valid(avg);
    out->average_mw = out->average_valid ? avg * 1000 : 0;
    if (!out->instant_valid && !out->average_valid)
        return zeus__error(ZEUS_ENOTSUP, "AMD GPU %u (%s) reports no socket power", dev,
                           g->info.name);
    /* The standard reading: the average where the GPU has one (as the original's monitor
     * prefers), else the instant value. */
    out->usage_mw = out->average_valid ? out->average_mw : out->instant_mw;
    return ZEUS_OK;
}

static int amd_gpu_power_sample_mw(void *state, unsigned dev, unsigned *power_mw)
{
    zeus_gpu_power p;
    int rc = amd_gpu_power(state, dev, &p);
    if (rc == ZEUS_OK)
        *power_mw = p.instant_valid ? p.instant_mw : p.average_mw;
    return rc;
}

static int amd_gpu_power_limit_mw(void *state, unsigned dev, unsigned *limit_mw)
{
    amd_state *s = state;
    amdsmi_power_cap_info_t cap;
    memset(&cap, 0, sizeof cap);
    amdsmi_status_t r = AMD(s, get_power_cap_info(s->gpus[dev].handle, 0, &cap));
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_get_power_cap_info", (int)dev);
    *limit_mw = (unsigned)(cap.power_cap / 1000);
    return ZEUS_OK;
}

static int amd_gpu_set_power_limit_mw(void *state, unsigned dev, unsigned limit_mw)
{
    amd_state *s = state;
    amdsmi_status_t r = AMD(s, set_power_cap(s->gpus[dev].handle, 0, (uint64_t)limit_mw * 1000));
    return r == AMDSMI_STATUS_SUCCESS ? ZEUS_OK : amd_fail(s, r, "amdsmi_set_power_cap", (int)dev);
}

static int amd_gpu_set_persistence(void *state, unsigned dev, bool enabled)
{
    (void)state;
    /* The newer Zeus's daemon's words. */
    return zeus__error(ZEUS_ENOTSUP,
                       "AMD GPU %u: persistence mode is not supported on AMD GPUs (the driver "
                       "keeps them initialised; nothing to %s)",
                       dev, enabled ? "enable" : "disable");
}

static int amd_gpu_persistence(void *state, unsigned dev, bool *enabled)
{
    (void)state;
    (void)enabled;
    return zeus__error(ZEUS_ENOTSUP, "AMD GPU %u: persistence mode is not supported on AMD GPUs",
                       dev);
}

/* Hotspot (junction) temperature. The newer Zeus divides by 1000 assuming millidegrees; AMD
 * SMI's own tools print the value as degrees C, which we follow (docs/devices.md: to be
 * confirmed on a real GPU). */
static int amd_gpu_temperature_c(void *state, unsigned dev, unsigned *celsius)
{
    amd_state *s = state;
    if (!s->f.get_temp_metric)
        return zeus__error(ZEUS_ENOTSUP, "this AMD SMI library lacks amdsmi_get_temp_metric");
    int64_t t = 0;
    amdsmi_status_t r = AMD(s, get_temp_metric(s->gpus[dev].handle, AMDSMI_TEMPERATURE_TYPE_HOTSPOT,
                                               AMDSMI_TEMP_CURRENT, &t));
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_get_temp_metric", (int)dev);
    *celsius = t > 0 ? (unsigned)t : 0;
    return ZEUS_OK;
}

static amdsmi_status_t set_range(amd_state *s, unsigned dev, zeus_clock_domain domain,
                                 unsigned min_mhz, unsigned max_mhz)
{
    uint32_t type = domain == ZEUS_CLOCK_GPU ? AMDSMI_CLK_TYPE_GFX : AMDSMI_CLK_TYPE_MEM;
    amdsmi_status_t r = AMD(s, set_gpu_clk_range(s->gpus[dev].handle, min_mhz, max_mhz, type));
    if (r == AMDSMI_STATUS_SUCCESS) {
        s->gpus[dev].locked[domain].min_mhz = min_mhz;
        s->gpus[dev].locked[domain].max_mhz = max_mhz;
    }
    return r;
}

static int amd_gpu_set_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                     unsigned min_mhz, unsigned max_mhz)
{
    amd_state *s = state;
    if (!s->f.set_gpu_clk_range)
        return zeus__error(ZEUS_ENOTSUP, "this AMD SMI library lacks amdsmi_set_gpu_clk_range");
    amdsmi_status_t r = set_range(s, dev, domain, min_mhz, max_mhz);
    return r == AMDSMI_STATUS_SUCCESS ? ZEUS_OK
                                      : amd_fail(s, r, "amdsmi_set_gpu_clk_range", (int)dev);
}

/* AMD cannot reset one clock domain: the performance level "auto" (the original's
 * reset_locked_clocks) resets both; the other domain's range, when this handle locked it, is
 * then set again, so a reset means what it means on NVIDIA. */
static int amd_gpu_reset_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain)
{
    amd_state *s = state;
    if (!s->f.set_gpu_perf_level)
        return zeus__error(ZEUS_ENOTSUP, "this AMD SMI library lacks amdsmi_set_gpu_perf_level");
    amd_gpu *g = &s->gpus[dev];
    amdsmi_status_t r = AMD(s, set_gpu_perf_level(g->handle, AMDSMI_DEV_PERF_LEVEL_AUTO));
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_set_gpu_perf_level", (int)dev);
    g->locked[domain].min_mhz = g->locked[domain].max_mhz = 0;
    zeus_clock_domain other = domain == ZEUS_CLOCK_GPU ? ZEUS_CLOCK_MEMORY : ZEUS_CLOCK_GPU;
    if (g->locked[other].max_mhz && s->f.set_gpu_clk_range &&
        (r = set_range(s, dev, other, g->locked[other].min_mhz, g->locked[other].max_mhz)) !=
            AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_set_gpu_clk_range (putting the other domain back)", (int)dev);
    return ZEUS_OK;
}

/* The original's AMDGPU.get_supported_{memory,graphics}_clocks: amdsmi_get_clock_info's range,
 * [max_clk, min_clk] only (AMD SMI has no level table there); memory_mhz is ignored. */
static int amd_gpu_supported_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                    unsigned memory_mhz, unsigned *mhz, unsigned *count)
{
    amd_state *s = state;
    (void)memory_mhz;
    if (!s->f.get_clock_info)
        return zeus__error(ZEUS_ENOTSUP, "this AMD SMI library lacks amdsmi_get_clock_info");
    amdsmi_clk_info_t clk;
    memset(&clk, 0, sizeof clk);
    uint32_t type = domain == ZEUS_CLOCK_GPU ? AMDSMI_CLK_TYPE_GFX : AMDSMI_CLK_TYPE_MEM;
    amdsmi_status_t r = AMD(s, get_clock_info(s->gpus[dev].handle, type, &clk));
    if (r != AMDSMI_STATUS_SUCCESS)
        return amd_fail(s, r, "amdsmi_get_clock_info", (int)dev);
    unsigned room = *count;
    *count = 2;
    if (room < 2)
        return zeus__error(ZEUS_ERANGE, "AMD GPU %u has 2 supported clocks, room for %u", dev,
                           room);
    mhz[0] = clk.max_clk;
    mhz[1] = clk.min_clk;
    return ZEUS_OK;
}

static int amd_gpu_pci_address(void *state, unsigned dev, char *address, size_t size)
{
    const amd_gpu *g = &((amd_state *)state)->gpus[dev];
    if (!g->pci_address[0])
        return zeus__error(ZEUS_ENOTSUP, "AMD GPU %u: amdsmi_get_gpu_device_bdf failed", dev);
    zeus__strlcpy(address, g->pci_address, size);
    return ZEUS_OK;
}

const zeus_backend_ops zeus__amdsmi_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "amdsmi",
    .kind = ZEUS_BACKEND_GPU,
    .auto_candidate = true,
    .visible_devices_variable = "HIP_VISIBLE_DEVICES",
    .visible_devices_fallback = "CUDA_VISIBLE_DEVICES",
    .open = amd_open,
    .close = amd_close,
    .count = amd_count,
    .gpu_info = amd_gpu_info,
    .gpu_energy_mj = amd_gpu_energy_mj,
    .gpu_power = amd_gpu_power,
    .gpu_power_sample_mw = amd_gpu_power_sample_mw,
    .gpu_power_limit_mw = amd_gpu_power_limit_mw,
    .gpu_set_power_limit_mw = amd_gpu_set_power_limit_mw,
    .gpu_set_persistence = amd_gpu_set_persistence,
    .gpu_persistence = amd_gpu_persistence,
    .gpu_temperature_c = amd_gpu_temperature_c,
    .gpu_set_locked_clocks = amd_gpu_set_locked_clocks,
    .gpu_reset_locked_clocks = amd_gpu_reset_locked_clocks,
    .gpu_supported_clocks = amd_gpu_supported_clocks,
    .gpu_pci_address = amd_gpu_pci_address,
};
