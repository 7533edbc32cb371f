/* The device registry: the one table of backends, choosing them from the options, applying the
 * visible-devices selection, and forwarding the public device API (include/zeus/device.h) to
 * the backend operations. It never reads the environment: zeus_devices_open() (env.c) turns
 * the environment into options first. */
#include "core/internal.h"
#include "core/array.h"
#include "device/backend.h"
#include "device/visible_devices.h"

#include <stdlib.h>
#include <string.h>

/* Every backend, in the order they are tried and reported. A new backend is added here. */
/* zeusd-rapl comes before rapl: with a daemon configured, RAPL is read through it. */
/* The auto candidates in the original's order: NVIDIA first, then AMD (get_gpus), then a
 * Jetson's rails (get_soc); jetson-cpu comes before rapl, which a Jetson (ARM) lacks anyway. */
const zeus_backend_ops *const zeus__backends[] = {
    &zeus__nvml_backend,       &zeus__amdsmi_backend, &zeus__jetson_backend,
    &zeus__sim_backend,        &zeus__zeusd_backend,  &zeus__zeusd_rapl_backend,
    &zeus__jetson_cpu_backend, &zeus__rapl_backend};
const size_t zeus__backend_count = ZEUS_ARRAY_LEN(zeus__backends);

#define MAX_BACKENDS ZEUS_ARRAY_LEN(zeus__backends)

struct zeus_devices {
    zeus_backend_status status[MAX_BACKENDS];
    size_t backend_count;
    const zeus_backend_ops *gpu_ops;
    void *gpu_state;
    /* Where changes go: the GPU backend, or the options' knob_backend (its own state). */
    const zeus_backend_ops *knob_ops;
    void *knob_state;
    const char *knob_name; /* what was asked for, for errors when it did not open */
    const zeus_backend_ops *cpu_ops;
    void *cpu_state;
    unsigned gpu_count;
    zeus_gpu_info *gpus; /* per framework index */
    unsigned cpu_count;
    char *cuda_visible_devices; /* copy of the visible-devices selection, NULL if none */
    bool borrowed; /* a view (zeus__devices_open_physical): the backends are its parent's */
};

void zeus_device_options_init_sized(zeus_device_options *o, size_t struct_size)
{
    zeus_device_options defaults = {.struct_size = struct_size};
    memcpy(o, &defaults, struct_size < sizeof defaults ? struct_size : sizeof defaults);
}

/* Copies the caller's options into this library's layout (docs/abi.md: growth rule). */
static int normalize_options(const zeus_device_options *in, zeus_device_options *out)
{
    zeus_device_options_init(out);
    if (!in)
        return ZEUS_OK;
    return zeus__options_copy(in, out, sizeof *out, "zeus_device_options",
                              "zeus_device_options_init");
}

/* The backend named by the n characters at name, or NULL. */
static const zeus_backend_ops *find_backend_n(const char *name, size_t n)
{
    for (size_t i = 0; name && i < zeus__backend_count; i++)
        if (strlen(zeus__backends[i]->name) == n && strncmp(zeus__backends[i]->name, name, n) == 0)
            return zeus__backends[i];
    return NULL;
}

static const zeus_backend_ops *find_backend(const char *name)
{
    return name ? find_backend_n(name, strlen(name)) : NULL;
}

int zeus__gpu_backend_choice_valid(const char *choice, char *names, size_t size)
{
    size_t n = (size_t)snprintf(names, size, "auto");
    bool known = !choice || !*choice || strcmp(choice, "auto") == 0 || strcmp(choice, "none") == 0;
    for (size_t i = 0; i < zeus__backend_count; i++) {
        if (zeus__backends[i]->kind != ZEUS_BACKEND_GPU)
            continue;
        known = known || (choice && strcmp(choice, zeus__backends[i]->name) == 0);
        if (n < size)
            n += (size_t)snprintf(names + n, size - n, ", %s", zeus__backends[i]->name);
    }
    if (n < size)
        snprintf(names + n, size - n, ", none");
    return known;
}

/* Whether the comma-separated list allows ops (NULL list: everything). */
static bool allowed(const char *list, const zeus_backend_ops *ops)
{
    for (const char *p = list; p && *p; p += strcspn(p, ","), p += *p == ',')
        if (find_backend_n(p, strcspn(p, ",")) == ops)
            return true;
    return !list;
}

static int check_allowed_list(const char *list)
{
    for (const char *p = list; p && *p; p += strcspn(p, ","), p += *p == ',')
        if (!find_backend_n(p, strcspn(p, ",")))
            return zeus__error(ZEUS_EINVAL, "allowed_backends: '%.*s' is not a backend",
                               (int)strcspn(p, ","), p);
    return ZEUS_OK;
}

static zeus_backend_status *add_status(zeus_devices *d, const zeus_backend_ops *ops)
{
    zeus_backend_status *s = &d->status[d->backend_count++];
    s->name = ops->name;
    s->kind = ops->kind;
    s->available = false;
    s->reason[0] = '\0';
    s->visible_devices_variable = ops->visible_devices_variable;
    return s;
}

static int try_open(zeus_backend_status *s, const zeus_backend_ops *ops,
                    const zeus_device_options *o, void **state)
{
    if (ops->abi_version != ZEUS_BACKEND_ABI) {
        snprintf(s->reason, sizeof s->reason, "backend ABI %d, library expects %d",
                 ops->abi_version, ZEUS_BACKEND_ABI);
        return ZEUS_ENODEV;
    }
    int rc = ops->open(state, o, s->reason, sizeof s->reason);
    s->available = rc == ZEUS_OK;
    return rc;
}

/* Builds the framework-index -> backend-index map from the visible-devices selection
 * (CUDA_VISIBLE_DEVICES syntax; NULL: every device). */
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

/* Opens the GPU backends the options ask for: the one that reads (first wanted that opens) and,
 * when named, the knob backend that carries out changes. Fails only for a simulator asked for
 * by name whose config does not parse. */
static int open_gpu_backends(zeus_devices *d, const zeus_device_options *o)
{
    const char *choice = o->backend && *o->backend ? o->backend : "auto";
    bool is_auto = strcmp(choice, "auto") == 0;
    const char *knob = o->knob_backend && *o->knob_backend ? o->knob_backend : NULL;
    for (size_t i = 0; i < zeus__backend_count; i++) {
        const zeus_backend_ops *ops = zeus__backends[i];
        if (ops->kind != ZEUS_BACKEND_GPU)
            continue;
        zeus_backend_status *s = add_status(d, ops);
        bool as_knob = knob && strcmp(knob, ops->name) == 0;
        bool wanted =
            !d->gpu_ops && (strcmp(choice, ops->name) == 0 || (is_auto && ops->auto_candidate));
        if (!allowed(o->allowed_backends, ops)) {
            snprintf(s->reason, sizeof s->reason, "not allowed (allowed_backends '%s')",
                     o->allowed_backends);
            continue;
        }
        if (!wanted && !as_knob) {
            if (d->gpu_ops)
                snprintf(s->reason, sizeof s->reason, "not used: the %s backend is in use",
                         d->gpu_ops->name);
            else if (!ops->auto_candidate)
                snprintf(s->reason, sizeof s->reason, "not requested (set ZEUS_DEVICE=%s)",
                         ops->name);
            else
                snprintf(s->reason, sizeof s->reason, "not requested (ZEUS_DEVICE=%s)", choice);
            continue;
        }
        void *state = NULL;
        int rc = try_open(s, ops, o, &state);
        if (rc != ZEUS_OK) {
            /* The simulator was asked for by name; a config that does not parse is an error.
             * Running out of memory says nothing about the backend: never "unavailable". */
            if (ops == &zeus__sim_backend || rc == ZEUS_ENOMEM)
                return zeus__error(rc, "%s", s->reason);
            continue;
        }
        if (wanted) {
            d->gpu_ops = ops;
            d->gpu_state = state;
        }
        if (as_knob) {
            d->knob_ops = ops;
            d->knob_state = state;
            if (!wanted && d->gpu_ops)
                snprintf(s->reason + strlen(s->reason), sizeof s->reason - strlen(s->reason),
                         "; carries out changes for the %s backend", d->gpu_ops->name);
        }
    }
    if (!knob)
        d->knob_ops = d->gpu_ops, d->knob_state = d->gpu_state;
    return ZEUS_OK;
}

static int open_cpu_backends(zeus_devices *d, const zeus_device_options *o)
{
    int rc;
    for (size_t i = 0; i < zeus__backend_count; i++) {
        const zeus_backend_ops *ops = zeus__backends[i];
        if (ops->kind != ZEUS_BACKEND_CPU)
            continue;
        zeus_backend_status *s = add_status(d, ops);
        void *state = NULL;
        if (!allowed(o->allowed_backends, ops))
            snprintf(s->reason, sizeof s->reason, "not allowed (allowed_backends '%s')",
                     o->allowed_backends);
        else if (d->cpu_ops)
            snprintf(s->reason, sizeof s->reason, "not used: the %s backend is in use",
                     d->cpu_ops->name);
        else if ((rc = try_open(s, ops, o, &state)) == ZEUS_OK) {
            d->cpu_ops = ops;
            d->cpu_state = state;
            d->cpu_count = ops->count(state);
        } else if (rc == ZEUS_ENOMEM) { /* not "no RAPL here" */
            return zeus__error(rc, "%s", s->reason);
        }
    }
    return ZEUS_OK;
}

/* The knob backend addresses the reading backend's devices by backend index. */
static int check_knob(const zeus_devices *d)
{
    if (!d->gpu_ops || !d->knob_ops || d->knob_ops == d->gpu_ops)
        return ZEUS_OK;
    unsigned reads = d->gpu_ops->count(d->gpu_state), knobs = d->knob_ops->count(d->knob_state);
    if (knobs < reads)
        return zeus__error(ZEUS_EINVAL,
                           "knob backend %s has %u GPU%s but the %s backend reads %u: it must "
                           "address the same GPUs",
                           d->knob_ops->name, knobs, knobs == 1 ? "" : "s", d->gpu_ops->name,
                           reads);
    return ZEUS_OK;
}

int zeus_devices_open_with(const zeus_device_options *options, zeus_devices **out)
{
    *out = NULL;
    zeus_device_options o;
    int rc = normalize_options(options, &o);
    if (rc != ZEUS_OK)
        return rc;
    char names[128];
    if (!zeus__gpu_backend_choice_valid(o.backend, names, sizeof names))
        return zeus__error(ZEUS_EINVAL, "device backend '%s' is not one of %s", o.backend, names);
    /* A configured daemon carries out the changes (reads stay with the GPU backend). */
    if ((!o.knob_backend || !*o.knob_backend) && ((o.zeusd_socket_path && *o.zeusd_socket_path) ||
                                                  (o.zeusd_host_port && *o.zeusd_host_port)))
        o.knob_backend = zeus__zeusd_backend.name;
    if (o.knob_backend && *o.knob_backend) {
        const zeus_backend_ops *k = find_backend(o.knob_backend);
        if (!k || k->kind != ZEUS_BACKEND_GPU)
            return zeus__error(ZEUS_EINVAL, "knob backend '%s' is not a GPU backend (%s)",
                               o.knob_backend, names);
    }
    if ((rc = check_allowed_list(o.allowed_backends)) != ZEUS_OK)
        return rc;
    zeus_devices *d = calloc(1, sizeof *d);
    if (!d)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    d->knob_name = o.knob_backend && *o.knob_backend ? find_backend(o.knob_backend)->name : NULL;
    /* Kept whether or not a GPU backend opens: show-env reports it as set either way. */
    const char *cvd = o.physical_indices ? NULL : o.visible_devices;
    if (cvd && !(d->cuda_visible_devices = strdup(cvd))) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = open_gpu_backends(d, &o)) != ZEUS_OK)
        goto fail;
    if ((rc = open_cpu_backends(d, &o)) != ZEUS_OK || (rc = check_knob(d)) != ZEUS_OK)
        goto fail;
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
    if (d->borrowed) {
        free(d->gpus);
        free(d);
        return;
    }
    if (d->knob_ops && d->knob_state != d->gpu_state)
        d->knob_ops->close(d->knob_state);
    if (d->gpu_ops)
        d->gpu_ops->close(d->gpu_state);
    if (d->cpu_ops)
        d->cpu_ops->close(d->cpu_state);
    free(d->gpus);
    free(d->cuda_visible_devices);
    free(d);
}

int zeus__devices_open_physical(const zeus_devices *d, zeus_devices **out)
{
    *out = NULL;
    zeus_devices *v = malloc(sizeof *v);
    if (!v)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    *v = *d;
    v->gpus = NULL;
    v->gpu_count = 0;
    v->cuda_visible_devices = NULL; /* every GPU, framework index = backend index */
    v->borrowed = true;
    int rc = v->gpu_ops ? open_gpus(v) : ZEUS_OK;
    if (rc != ZEUS_OK) {
        zeus_devices_close(v);
        return rc;
    }
    *out = v;
    return ZEUS_OK;
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

const char *zeus_devices_visible_devices(const zeus_devices *d)
{
    return d->cuda_visible_devices;
}

const char *zeus_devices_visible_devices_variable(const zeus_devices *d)
{
    return d->gpu_ops ? d->gpu_ops->visible_devices_variable : NULL;
}

const char *zeus_devices_knob_backend(const zeus_devices *d)
{
    return d->knob_ops ? d->knob_ops->name : NULL;
}

static int check_gpu(const zeus_devices *d, unsigned gpu);

int zeus__devices_gpu_backend(const zeus_devices *d, unsigned gpu, const zeus_backend_ops **ops,
                              void **state, unsigned *dev)
{
    int rc = check_gpu(d, gpu);
    if (rc != ZEUS_OK)
        return rc;
    *ops = d->gpu_ops;
    *state = d->gpu_state;
    *dev = d->gpus[gpu].device_index;
    return ZEUS_OK;
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

/* Where a call on a GPU goes: checks the index, that the backend has the operation (has_op;
 * the caller reads it only when the backend exists) and gives the GPU's index on the backend. */
static int gpu_op(const zeus_devices *d, unsigned gpu, bool has_op, const char *op, unsigned *dev)
{
    int rc = check_gpu(d, gpu);
    if (rc != ZEUS_OK)
        return rc;
    if (!has_op)
        return zeus__error(ZEUS_ENOTSUP, "%s: the %s backend does not support this", op,
                           d->gpu_ops->name);
    *dev = d->gpus[gpu].device_index;
    return ZEUS_OK;
}

/* The same for a change, which goes to the knob backend (the GPU backend unless the options
 * named another): ZEUS_ENODEV when that one is unavailable. */
static int knob_op(const zeus_devices *d, unsigned gpu, bool has_op, const char *op, unsigned *dev)
{
    int rc = check_gpu(d, gpu);
    if (rc != ZEUS_OK)
        return rc;
    if (!d->knob_ops)
        return zeus__error(ZEUS_ENODEV, "%s: the knob backend %s is unavailable", op, d->knob_name);
    if (!has_op)
        return zeus__error(ZEUS_ENOTSUP, "%s: the %s backend does not support this", op,
                           d->knob_ops->name);
    *dev = d->gpus[gpu].device_index;
    return ZEUS_OK;
}

int zeus_gpu_energy_mj(zeus_devices *d, unsigned gpu, uint64_t *energy_mj)
{
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    int rc = gpu_op(d, gpu, o && o->gpu_energy_mj, "gpu_energy_mj", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_energy_mj(d->gpu_state, dev, energy_mj);
}

int zeus__gpu_energy_model(zeus_devices *d, unsigned gpu, double *period_s, double *peak_w)
{
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    if (!o || !o->gpu_energy_model)
        return ZEUS_ENOTSUP; /* the usual case (the monitor then probes): no error recorded */
    int rc = gpu_op(d, gpu, true, "gpu_energy_model", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_energy_model(d->gpu_state, dev, period_s, peak_w);
}

int zeus_gpu_read_power(zeus_devices *d, unsigned gpu, zeus_gpu_power *out)
{
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    int rc = gpu_op(d, gpu, o && o->gpu_power, "gpu_power", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_power(d->gpu_state, dev, out);
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
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    int rc = gpu_op(d, gpu, o && o->gpu_power_limit_mw, "gpu_power_limit_mw", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_power_limit_mw(d->gpu_state, dev, limit_mw);
}

int zeus__gpu_check_power_limit(const zeus_gpu_info *info, unsigned gpu, unsigned limit_mw)
{
    if (!info->power_limit_valid)
        return zeus__error(ZEUS_ENOTSUP, "GPU %u (%s) does not report a power-limit range", gpu,
                           info->name);
    if (limit_mw < info->min_power_limit_mw || limit_mw > info->max_power_limit_mw)
        return zeus__error(ZEUS_ERANGE, "%g W is outside GPU %u's range %g-%g W", limit_mw / 1000.0,
                           gpu, info->min_power_limit_mw / 1000.0,
                           info->max_power_limit_mw / 1000.0);
    return ZEUS_OK;
}

int zeus_gpu_set_power_limit_mw(zeus_devices *d, unsigned gpu, unsigned limit_mw)
{
    int rc = check_gpu(d, gpu);
    if (rc != ZEUS_OK)
        return rc;
    /* A backend that reports no range is left to refuse what it cannot take. */
    if (d->gpus[gpu].power_limit_valid &&
        (rc = zeus__gpu_check_power_limit(&d->gpus[gpu], gpu, limit_mw)) != ZEUS_OK)
        return rc;
    const zeus_backend_ops *o = d->knob_ops;
    unsigned dev = 0;
    rc = knob_op(d, gpu, o && o->gpu_set_power_limit_mw, "gpu_set_power_limit_mw", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_set_power_limit_mw(d->knob_state, dev, limit_mw);
}

int zeus_gpu_set_persistence_mode(zeus_devices *d, unsigned gpu, bool enabled)
{
    const zeus_backend_ops *o = d->knob_ops;
    unsigned dev = 0;
    int rc = knob_op(d, gpu, o && o->gpu_set_persistence, "gpu_set_persistence", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_set_persistence(d->knob_state, dev, enabled);
}

int zeus__devices_gpu_force_power_limit(zeus_devices *d, unsigned gpu, unsigned limit_mw)
{
    if (gpu >= d->gpu_count || !d->knob_ops || !d->knob_ops->gpu_force_power_limit_mw)
        return zeus_gpu_set_power_limit_mw(d, gpu, limit_mw);
    int rc = d->gpus[gpu].power_limit_valid
                 ? zeus__gpu_check_power_limit(&d->gpus[gpu], gpu, limit_mw)
                 : ZEUS_OK;
    return rc != ZEUS_OK ? rc
                         : d->knob_ops->gpu_force_power_limit_mw(
                               d->knob_state, d->gpus[gpu].device_index, limit_mw);
}

int zeus__devices_gpu_keep_power_limit(zeus_devices *d, unsigned gpu, unsigned limit_mw)
{
    if (gpu >= d->gpu_count || !d->knob_ops || !d->knob_ops->gpu_keep_power_limit_mw)
        return ZEUS_OK;
    return d->knob_ops->gpu_keep_power_limit_mw(d->knob_state, d->gpus[gpu].device_index, limit_mw);
}

static int check_domain(zeus_clock_domain domain)
{
    if (domain != ZEUS_CLOCK_GPU && domain != ZEUS_CLOCK_MEMORY)
        return zeus__error(ZEUS_EINVAL, "unknown clock domain %d", (int)domain);
    return ZEUS_OK;
}

int zeus_gpu_set_locked_clocks(zeus_devices *d, unsigned gpu, zeus_clock_domain domain,
                               unsigned min_mhz, unsigned max_mhz)
{
    int rc = check_domain(domain);
    if (rc != ZEUS_OK)
        return rc;
    if (min_mhz > max_mhz)
        return zeus__error(ZEUS_EINVAL,
                           "locked %s clocks for GPU %u: the minimum %u MHz is above the maximum "
                           "%u MHz",
                           domain == ZEUS_CLOCK_GPU ? "GPU" : "memory", gpu, min_mhz, max_mhz);
    const zeus_backend_ops *o = d->knob_ops;
    unsigned dev = 0;
    rc = knob_op(d, gpu, o && o->gpu_set_locked_clocks, "gpu_set_locked_clocks", &dev);
    return rc != ZEUS_OK ? rc
                         : o->gpu_set_locked_clocks(d->knob_state, dev, domain, min_mhz, max_mhz);
}

int zeus_gpu_supported_clocks(zeus_devices *d, unsigned gpu, zeus_clock_domain domain,
                              unsigned memory_mhz, unsigned *mhz, unsigned *count)
{
    int rc = check_domain(domain);
    if (rc != ZEUS_OK)
        return rc;
    if (!count || (*count && !mhz))
        return zeus__error(ZEUS_EINVAL, "zeus_gpu_supported_clocks: NULL count or list");
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    rc = gpu_op(d, gpu, o && o->gpu_supported_clocks, "gpu_supported_clocks", &dev);
    return rc != ZEUS_OK
               ? rc
               : o->gpu_supported_clocks(d->gpu_state, dev, domain, memory_mhz, mhz, count);
}

int zeus_gpu_reset_locked_clocks(zeus_devices *d, unsigned gpu, zeus_clock_domain domain)
{
    int rc = check_domain(domain);
    if (rc != ZEUS_OK)
        return rc;
    const zeus_backend_ops *o = d->knob_ops;
    unsigned dev = 0;
    rc = knob_op(d, gpu, o && o->gpu_reset_locked_clocks, "gpu_reset_locked_clocks", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_reset_locked_clocks(d->knob_state, dev, domain);
}

int zeus__devices_gpu_keep_locked_clocks(zeus_devices *d, unsigned gpu, zeus_clock_domain domain,
                                         unsigned min_mhz, unsigned max_mhz)
{
    if (gpu >= d->gpu_count || !d->knob_ops || !d->knob_ops->gpu_keep_locked_clocks)
        return ZEUS_OK;
    return d->knob_ops->gpu_keep_locked_clocks(d->knob_state, d->gpus[gpu].device_index, domain,
                                               min_mhz, max_mhz);
}

int zeus_gpu_pci_address(const zeus_devices *d, unsigned gpu, char *address, size_t size)
{
    if (!address || size == 0)
        return zeus__error(ZEUS_EINVAL, "zeus_gpu_pci_address: no buffer");
    address[0] = '\0';
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    int rc = gpu_op(d, gpu, o && o->gpu_pci_address, "gpu_pci_address", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_pci_address(d->gpu_state, dev, address, size);
}

/* Settings live where changes go: the knob backend's. */
bool zeus__devices_gpu_settings_private(const zeus_devices *d)
{
    return d->knob_ops && d->knob_ops->gpu_settings_private &&
           d->knob_ops->gpu_settings_private(d->knob_state);
}

int zeus_gpu_persistence_mode(zeus_devices *d, unsigned gpu, bool *enabled)
{
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    int rc = gpu_op(d, gpu, o && o->gpu_persistence, "gpu_persistence", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_persistence(d->gpu_state, dev, enabled);
}

int zeus_gpu_temperature_c(zeus_devices *d, unsigned gpu, unsigned *celsius)
{
    const zeus_backend_ops *o = d->gpu_ops;
    unsigned dev = 0;
    int rc = gpu_op(d, gpu, o && o->gpu_temperature_c, "gpu_temperature_c", &dev);
    return rc != ZEUS_OK ? rc : o->gpu_temperature_c(d->gpu_state, dev, celsius);
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

int zeus_cpu_package_id(const zeus_devices *d, unsigned cpu, unsigned *id)
{
    int rc = check_cpu(d, cpu);
    if (rc != ZEUS_OK)
        return rc;
    if (!d->cpu_ops->cpu_package_id) {
        *id = cpu;
        return ZEUS_OK;
    }
    return d->cpu_ops->cpu_package_id(d->cpu_state, cpu, id);
}

int zeus_cpu_read_energy(zeus_devices *d, unsigned cpu, zeus_cpu_energy *out)
{
    int rc = check_cpu(d, cpu);
    return rc != ZEUS_OK ? rc : d->cpu_ops->cpu_energy(d->cpu_state, cpu, out);
}
