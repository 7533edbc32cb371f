/* The device registry: chooses backends, applies CUDA_VISIBLE_DEVICES, and forwards the public
 * device API (include/zeus/device.h) to the backend operations. */
#include "core/internal.h"
#include "core/array.h"
#include "device/backend.h"
#include "device/visible_devices.h"

#include <stdlib.h>
#include <string.h>

static const zeus_backend_ops *const gpu_backends[] = {&zeus__nvml_backend, &zeus__sim_backend};
static const zeus_backend_ops *const cpu_backends[] = {&zeus__rapl_backend};

#define MAX_BACKENDS (ZEUS_ARRAY_LEN(gpu_backends) + ZEUS_ARRAY_LEN(cpu_backends))

struct zeus_devices {
    zeus_backend_status status[MAX_BACKENDS];
    size_t backend_count;
    const zeus_backend_ops *gpu_ops;
    void *gpu_state;
    const zeus_backend_ops *cpu_ops;
    void *cpu_state;
    unsigned gpu_count;
    zeus_gpu_info *gpus; /* per framework index */
    unsigned cpu_count;
    char *cuda_visible_devices; /* copy of the variable, NULL if unset */
};

static zeus_backend_status *add_status(zeus_devices *d, const zeus_backend_ops *ops)
{
    zeus_backend_status *s = &d->status[d->backend_count++];
    s->name = ops->name;
    s->kind = ops->kind;
    s->available = false;
    s->reason[0] = '\0';
    return s;
}

static int try_open(zeus_devices *d, const zeus_backend_ops *ops, void **state)
{
    zeus_backend_status *s = add_status(d, ops);
    if (ops->abi_version != ZEUS_BACKEND_ABI) {
        snprintf(s->reason, sizeof s->reason, "backend ABI %d, library expects %d",
                 ops->abi_version, ZEUS_BACKEND_ABI);
        return ZEUS_ENODEV;
    }
    int rc = ops->open(state, s->reason, sizeof s->reason);
    s->available = rc == ZEUS_OK;
    return rc;
}

/* Builds the framework-index -> backend-index map from CUDA_VISIBLE_DEVICES. */
static int map_visible(zeus_devices *d, unsigned device_count, unsigned *map, unsigned *visible)
{
    const char *env = d->cuda_visible_devices;
    if (!env) {
        for (unsigned i = 0; i < device_count; i++)
            map[i] = i;
        *visible = device_count;
        return ZEUS_OK;
    }
    zeus_cvd_entry entries[ZEUS_CVD_MAX];
    size_t count;
    int rc = zeus__cvd_parse(env, entries, ZEUS_CVD_MAX, &count);
    if (rc != ZEUS_OK)
        return rc;
    /* Collect every GPU and MIG UUID for UUID-form entries, as many as the machine has (64
     * GPUs with 7 MIG instances each are 512), and each instance's older name
     * "MIG-GPU-<GPU uuid>/<gi>/<ci>" where the backend knows its ids. */
    char(*texts)[96] = NULL;
    unsigned *devs = NULL;
    zeus_cvd_device *uuids = NULL;
    size_t n = 0, cap = 0, dev_cap = 0;
    for (unsigned dev = 0; dev < device_count; dev++) {
        char gpu_uuid[96] = "";
        for (unsigned m = 0;; m++) { /* m == 0 is the GPU itself, then its MIG instances */
            if ((rc = zeus__array_reserve((void **)&texts, &cap, n + 1, sizeof *texts, 64)) !=
                    ZEUS_OK ||
                (rc = zeus__array_reserve((void **)&devs, &dev_cap, n + 1, sizeof *devs, 64)) !=
                    ZEUS_OK)
                goto done;
            if (m == 0) {
                zeus_gpu_info info;
                if (d->gpu_ops->gpu_info(d->gpu_state, dev, &info) != ZEUS_OK)
                    continue;
                zeus__strlcpy(texts[n], info.uuid, sizeof texts[n]);
                zeus__strlcpy(gpu_uuid, info.uuid, sizeof gpu_uuid);
            } else if (!d->gpu_ops->gpu_mig_uuid ||
                       d->gpu_ops->gpu_mig_uuid(d->gpu_state, dev, m - 1, texts[n],
                                                sizeof texts[n]) != ZEUS_OK) {
                break;
            } else {
                unsigned gi, ci;
                if (gpu_uuid[0] && d->gpu_ops->gpu_mig_ids &&
                    d->gpu_ops->gpu_mig_ids(d->gpu_state, dev, m - 1, &gi, &ci) == ZEUS_OK) {
                    snprintf(texts[n + 1], sizeof texts[n + 1], "MIG-%s/%u/%u", gpu_uuid, gi, ci);
                    devs[n + 1] = dev;
                    devs[n++] = dev; /* the instance's UUID, then its older name */
                }
            }
            devs[n++] = dev;
        }
    }
    uuids = calloc(n ? n : 1, sizeof *uuids);
    if (!uuids) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        uuids[i] = (zeus_cvd_device){texts[i], devs[i]};
    rc = zeus__cvd_resolve(entries, count, device_count, uuids, n, map);
    if (rc == ZEUS_OK)
        *visible = (unsigned)count;
done:
    free(uuids);
    free(devs);
    free(texts);
    return rc;
}

static int open_gpus(zeus_devices *d)
{
    unsigned device_count = d->gpu_ops->count(d->gpu_state);
    unsigned *map = calloc(device_count ? device_count : 1, sizeof *map);
    if (!map)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    unsigned visible = 0;
    int rc = map_visible(d, device_count, map, &visible);
    if (rc != ZEUS_OK)
        goto done;
    d->gpus = calloc(visible ? visible : 1, sizeof *d->gpus);
    if (!d->gpus) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        goto done;
    }
    for (unsigned i = 0; i < visible; i++) {
        rc = d->gpu_ops->gpu_info(d->gpu_state, map[i], &d->gpus[i]);
        if (rc != ZEUS_OK)
            goto done;
        d->gpus[i].index = i;
        d->gpus[i].device_index = map[i];
    }
    d->gpu_count = visible;
done:
    free(map);
    return rc;
}

int zeus_devices_open(zeus_devices **out)
{
    *out = NULL;
    zeus_devices *d = calloc(1, sizeof *d);
    if (!d)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    int rc = ZEUS_OK;
    /* Kept whether or not a GPU backend opens: show-env reports it as set either way. */
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (cvd && !(d->cuda_visible_devices = strdup(cvd))) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        goto fail;
    }
    const char *choice = getenv("ZEUS_DEVICE");
    if (!choice || !*choice)
        choice = "auto";
    bool known = strcmp(choice, "auto") == 0 || strcmp(choice, "none") == 0;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(gpu_backends); i++)
        known = known || strcmp(choice, gpu_backends[i]->name) == 0;
    if (!known) {
        rc = zeus__error(ZEUS_EINVAL, "ZEUS_DEVICE='%s' is not one of auto, nvml, sim, none",
                         choice);
        goto fail;
    }

    for (size_t i = 0; i < ZEUS_ARRAY_LEN(gpu_backends); i++) {
        const zeus_backend_ops *ops = gpu_backends[i];
        /* auto means the real vendor libraries only: the simulator is never chosen silently. */
        bool wanted = strcmp(choice, ops->name) == 0 ||
                      (strcmp(choice, "auto") == 0 && ops != &zeus__sim_backend);
        if (!wanted || d->gpu_ops) {
            zeus_backend_status *s = add_status(d, ops);
            if (d->gpu_ops)
                snprintf(s->reason, sizeof s->reason, "not used: the %s backend is in use",
                         d->gpu_ops->name);
            else if (ops == &zeus__sim_backend)
                snprintf(s->reason, sizeof s->reason, "not requested (set ZEUS_DEVICE=sim)");
            else
                snprintf(s->reason, sizeof s->reason, "not requested (ZEUS_DEVICE=%s)", choice);
            continue;
        }
        void *state = NULL;
        rc = try_open(d, ops, &state);
        if (rc == ZEUS_OK) {
            d->gpu_ops = ops;
            d->gpu_state = state;
        } else if (ops == &zeus__sim_backend) {
            /* The simulator was asked for by name; a config that does not parse is an error. */
            zeus__error(rc, "%s", d->status[d->backend_count - 1].reason);
            goto fail;
        }
        rc = ZEUS_OK;
    }
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(cpu_backends); i++) {
        void *state = NULL;
        if (try_open(d, cpu_backends[i], &state) == ZEUS_OK && !d->cpu_ops) {
            d->cpu_ops = cpu_backends[i];
            d->cpu_state = state;
            d->cpu_count = d->cpu_ops->count(state);
        }
    }
    if (d->gpu_ops && (rc = open_gpus(d)) != ZEUS_OK)
        goto fail;
    zeus__clear_error();
    *out = d;
    return ZEUS_OK;
fail:
    zeus_devices_close(d);
    return rc;
}

void zeus_devices_close(zeus_devices *d)
{
    if (!d)
        return;
    if (d->gpu_ops)
        d->gpu_ops->close(d->gpu_state);
    if (d->cpu_ops)
        d->cpu_ops->close(d->cpu_state);
    free(d->gpus);
    free(d->cuda_visible_devices);
    free(d);
}

size_t zeus_devices_backend_count(const zeus_devices *d)
{
    return d->backend_count;
}

int zeus_devices_backend(const zeus_devices *d, size_t i, zeus_backend_status *out)
{
    if (i >= d->backend_count)
        return zeus__error(ZEUS_ERANGE, "backend %zu does not exist (%zu backends)", i,
                           d->backend_count);
    *out = d->status[i];
    return ZEUS_OK;
}

const char *zeus_devices_gpu_backend(const zeus_devices *d)
{
    return d->gpu_ops ? d->gpu_ops->name : NULL;
}

const char *zeus_devices_cuda_visible_devices(const zeus_devices *d)
{
    return d->cuda_visible_devices;
}

/* ---- GPUs ---- */

unsigned zeus_gpu_count(const zeus_devices *d)
{
    return d->gpu_count;
}

static int check_gpu(const zeus_devices *d, unsigned gpu)
{
    if (gpu < d->gpu_count)
        return ZEUS_OK;
    if (d->gpu_count == 0)
        return zeus__error(ZEUS_ENODEV, "GPU %u does not exist: no GPU is available", gpu);
    return zeus__error(ZEUS_ENODEV, "GPU %u does not exist (%u GPU%s visible: 0..%u)", gpu,
                       d->gpu_count, d->gpu_count == 1 ? "" : "s", d->gpu_count - 1);
}

int zeus_gpu_get_info(const zeus_devices *d, unsigned gpu, zeus_gpu_info *out)
{
    int rc = check_gpu(d, gpu);
    if (rc == ZEUS_OK)
        *out = d->gpus[gpu];
    return rc;
}

/* Forwards a GPU call to the backend, ZEUS_ENOTSUP when it lacks the operation. */
#define GPU_CALL(d, gpu, op, ...)                                                                  \
    do {                                                                                           \
        int rc_ = check_gpu((d), (gpu));                                                           \
        if (rc_ != ZEUS_OK)                                                                        \
            return rc_;                                                                            \
        if (!(d)->gpu_ops->op)                                                                     \
            return zeus__error(ZEUS_ENOTSUP, "%s: the %s backend does not support this", #op,      \
                               (d)->gpu_ops->name);                                                \
        return (d)->gpu_ops->op((d)->gpu_state, (d)->gpus[gpu].device_index, __VA_ARGS__);         \
    } while (0)

int zeus_gpu_energy_mj(zeus_devices *d, unsigned gpu, uint64_t *energy_mj)
{
    GPU_CALL(d, gpu, gpu_energy_mj, energy_mj);
}

int zeus_gpu_read_power(zeus_devices *d, unsigned gpu, zeus_gpu_power *out)
{
    GPU_CALL(d, gpu, gpu_power, out);
}

int zeus_gpu_power_mw(zeus_devices *d, unsigned gpu, unsigned *power_mw)
{
    if (gpu < d->gpu_count && d->gpu_ops->gpu_power_sample_mw)
        return d->gpu_ops->gpu_power_sample_mw(d->gpu_state, d->gpus[gpu].device_index, power_mw);
    zeus_gpu_power p;
    int rc = zeus_gpu_read_power(d, gpu, &p);
    if (rc == ZEUS_OK)
        *power_mw = p.instant_valid ? p.instant_mw : p.usage_mw;
    return rc;
}

int zeus_gpu_power_limit_mw(zeus_devices *d, unsigned gpu, unsigned *limit_mw)
{
    GPU_CALL(d, gpu, gpu_power_limit_mw, limit_mw);
}

int zeus_gpu_set_power_limit_mw(zeus_devices *d, unsigned gpu, unsigned limit_mw)
{
    int rc = check_gpu(d, gpu);
    if (rc != ZEUS_OK)
        return rc;
    const zeus_gpu_info *g = &d->gpus[gpu];
    if (g->power_limit_valid &&
        (limit_mw < g->min_power_limit_mw || limit_mw > g->max_power_limit_mw))
        return zeus__error(
            ZEUS_ERANGE, "power limit %.3f W for GPU %u is outside its range %.0f-%.0f W",
            limit_mw / 1000.0, gpu, g->min_power_limit_mw / 1000.0, g->max_power_limit_mw / 1000.0);
    GPU_CALL(d, gpu, gpu_set_power_limit_mw, limit_mw);
}

int zeus_gpu_set_persistence_mode(zeus_devices *d, unsigned gpu, bool enabled)
{
    GPU_CALL(d, gpu, gpu_set_persistence, enabled);
}

bool zeus__devices_gpu_settings_private(const zeus_devices *d)
{
    return d->gpu_ops && d->gpu_ops->gpu_settings_private &&
           d->gpu_ops->gpu_settings_private(d->gpu_state);
}

int zeus_gpu_persistence_mode(zeus_devices *d, unsigned gpu, bool *enabled)
{
    GPU_CALL(d, gpu, gpu_persistence, enabled);
}

int zeus_gpu_temperature_c(zeus_devices *d, unsigned gpu, unsigned *celsius)
{
    GPU_CALL(d, gpu, gpu_temperature_c, celsius);
}

int zeus_gpu_check_homogeneous(const zeus_devices *d, const unsigned *gpus, size_t count)
{
    if (!gpus)
        count = d->gpu_count;
    const char *first = NULL;
    for (size_t i = 0; i < count; i++) {
        unsigned gpu = gpus ? gpus[i] : (unsigned)i;
        int rc = check_gpu(d, gpu);
        if (rc != ZEUS_OK)
            return rc;
        if (!first) {
            first = d->gpus[gpu].name;
        } else if (strcmp(first, d->gpus[gpu].name) != 0) {
            char names[1024];
            size_t n = 0;
            for (size_t j = 0; j < count && n < sizeof names; j++) {
                unsigned g = gpus ? gpus[j] : (unsigned)j;
                n += (size_t)snprintf(names + n, sizeof names - n, "%s'%s'", j ? ", " : "",
                                      d->gpus[g].name);
            }
            return zeus__error(ZEUS_EHETERO, "Heterogeneous GPUs found: [%s]", names);
        }
    }
    return ZEUS_OK;
}

int zeus_sim_launch_step(zeus_devices *d, unsigned gpu, int64_t *end_ns)
{
    int64_t ignored;
    GPU_CALL(d, gpu, sim_launch_step, end_ns ? end_ns : &ignored);
}

int zeus_sim_synchronize(zeus_devices *d, unsigned gpu)
{
    int rc = check_gpu(d, gpu);
    if (rc != ZEUS_OK)
        return rc;
    if (!d->gpu_ops->sim_synchronize)
        return zeus__error(ZEUS_ENOTSUP, "synchronize: GPU %u is not simulated", gpu);
    return d->gpu_ops->sim_synchronize(d->gpu_state, d->gpus[gpu].device_index);
}

int zeus_sim_exact_energy_uj(zeus_devices *d, unsigned gpu, double *energy_uj)
{
    GPU_CALL(d, gpu, sim_exact_energy_uj, energy_uj);
}

/* ---- CPUs ---- */

unsigned zeus_cpu_count(const zeus_devices *d)
{
    return d->cpu_count;
}

static int check_cpu(const zeus_devices *d, unsigned cpu)
{
    if (cpu < d->cpu_count)
        return ZEUS_OK;
    if (d->cpu_count == 0)
        return zeus__error(ZEUS_ENODEV, "CPU package %u does not exist: RAPL is not available",
                           cpu);
    return zeus__error(ZEUS_ENODEV, "CPU package %u does not exist (%u packages: 0..%u)", cpu,
                       d->cpu_count, d->cpu_count - 1);
}

int zeus_cpu_get_info(const zeus_devices *d, unsigned cpu, zeus_cpu_info *out)
{
    int rc = check_cpu(d, cpu);
    return rc != ZEUS_OK ? rc : d->cpu_ops->cpu_info(d->cpu_state, cpu, out);
}

int zeus_cpu_read_energy(zeus_devices *d, unsigned cpu, zeus_cpu_energy *out)
{
    int rc = check_cpu(d, cpu);
    return rc != ZEUS_OK ? rc : d->cpu_ops->cpu_energy(d->cpu_state, cpu, out);
}
