/* The sim backend: simulated GPUs inside libzeus, configured by the sim_config option (the same
 * JSON format as the fake NVML's). Power limits and persistence mode live in this handle, or,
 * with the sim_state option, in a file shared by every process that names it (like a real
 * GPU's). Its step controls (zeus/sim.h) reach it through the backend's extension. */
#include "core/internal.h"
#include "device/backend.h"
#include "device/sim_model.h"
#include "device/sim_state.h"
#include "zeus/sim.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    pthread_mutex_t lock;
    zeus_sim_config config;
    zeus_sim_gpu gpus[ZEUS_SIM_MAX_GPUS];
    bool persistence[ZEUS_SIM_MAX_GPUS];
    zeus_sim_state shared;
} sim_state;

static int sim_open(void **state, const zeus_device_options *options, char *reason,
                    size_t reason_size)
{
    sim_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(reason, reason_size, "out of memory");
        return ZEUS_ENOMEM;
    }
    const char *cfg = options->sim_config;
    int rc = zeus__sim_config_load(cfg, "sim config", &s->config);
    if (rc != ZEUS_OK) {
        snprintf(reason, reason_size, "%s", zeus_last_error());
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->lock, NULL);
    int64_t now = zeus_now_ns();
    for (unsigned i = 0; i < s->config.gpu_count; i++)
        zeus__sim_gpu_init(&s->gpus[i], &s->config.gpus[i], now);
    const char *shared = options->sim_state;
    zeus__sim_state_init(&s->shared, shared);
    rc = zeus__sim_state_load(&s->shared, s->gpus, s->persistence, s->config.gpu_count, now);
    if (rc != ZEUS_OK) {
        snprintf(reason, reason_size, "sim state file: %s", zeus_last_error());
        pthread_mutex_destroy(&s->lock);
        free(s);
        return rc;
    }
    bool has_shared = shared && *shared;
    snprintf(reason, reason_size, "%u simulated GPU%s (%s; settings %s%s)", s->config.gpu_count,
             s->config.gpu_count == 1 ? "" : "s", cfg && *cfg ? cfg : "built-in default config",
             has_shared ? "shared through " : "kept in this process: set ZEUS_SIM_STATE=FILE to ",
             has_shared ? shared : "share them");
    *state = s;
    return ZEUS_OK;
}

static void sim_close(void *state)
{
    sim_state *s = state;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static unsigned sim_count(void *state)
{
    return ((sim_state *)state)->config.gpu_count;
}

static int sim_gpu_info(void *state, unsigned dev, zeus_gpu_info *out)
{
    const zeus_sim_gpu_params *p = &((sim_state *)state)->config.gpus[dev];
    *out = (zeus_gpu_info){
        .device_index = dev,
        .arch = p->arch,
        .has_energy_counter = p->arch >= ZEUS_ARCH_VOLTA,
        .power_limit_valid = true,
        .min_power_limit_mw = p->min_limit_mw,
        .max_power_limit_mw = p->max_limit_mw,
        .default_power_limit_mw = p->default_limit_mw,
        .simulated = true,
    };
    zeus__strlcpy(out->name, p->name, sizeof out->name);
    zeus__strlcpy(out->uuid, p->uuid, sizeof out->uuid);
    return ZEUS_OK;
}

static int sim_gpu_mig_uuid(void *state, unsigned dev, unsigned m, char *uuid, size_t size)
{
    const zeus_sim_gpu_params *p = &((sim_state *)state)->config.gpus[dev];
    if (m >= p->mig_count)
        return ZEUS_ENOENT;
    zeus__strlcpy(uuid, p->mig_uuids[m], size);
    return ZEUS_OK;
}

/* Instance ids as the fake NVML reports them: GPU instance m + 1, compute instance 0. */
static int sim_gpu_mig_ids(void *state, unsigned dev, unsigned m, unsigned *gi, unsigned *ci)
{
    if (m >= ((sim_state *)state)->config.gpus[dev].mig_count)
        return ZEUS_ENOENT;
    *gi = m + 1;
    *ci = 0;
    return ZEUS_OK;
}

static int sim_gpu_energy_mj(void *state, unsigned dev, uint64_t *energy_mj)
{
    sim_state *s = state;
    if (s->config.gpus[dev].arch < ZEUS_ARCH_VOLTA)
        return zeus__error(ZEUS_ENOTSUP, "simulated GPU %u (%s) has no energy counter (pre-Volta)",
                           dev, zeus_gpu_arch_name(s->config.gpus[dev].arch));
    pthread_mutex_lock(&s->lock);
    *energy_mj = zeus__sim_gpu_energy_mj(&s->gpus[dev], zeus_now_ns());
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

static int sim_gpu_power(void *state, unsigned dev, zeus_gpu_power *out)
{
    sim_state *s = state;
    int64_t now = zeus_now_ns();
    pthread_mutex_lock(&s->lock);
    out->instant_mw = zeus__sim_gpu_instant_mw(&s->gpus[dev], now);
    out->average_mw = zeus__sim_gpu_average_mw(&s->gpus[dev], now);
    pthread_mutex_unlock(&s->lock);
    out->instant_valid = out->average_valid = true;
    out->usage_mw =
        s->config.gpus[dev].arch >= ZEUS_ARCH_AMPERE ? out->average_mw : out->instant_mw;
    return ZEUS_OK;
}

static int sim_gpu_power_limit_mw(void *state, unsigned dev, unsigned *limit_mw)
{
    sim_state *s = state;
    pthread_mutex_lock(&s->lock);
    int rc = zeus__sim_state_load(&s->shared, s->gpus, s->persistence, s->config.gpu_count,
                                  zeus_now_ns());
    *limit_mw = s->gpus[dev].limit_mw;
    pthread_mutex_unlock(&s->lock);
    return rc == ZEUS_OK ? ZEUS_OK : zeus__error(rc, "ZEUS_SIM_STATE: %s", zeus_last_error());
}

/* One change of a GPU's settings. */
typedef struct {
    enum { CHANGE_LIMIT, CHANGE_PERSISTENCE, CHANGE_CLOCKS } what;
    unsigned value;           /* limit in mW, or persistence 0/1 */
    zeus_clock_domain domain; /* CHANGE_CLOCKS */
    zeus_sim_clocks clocks;   /* CHANGE_CLOCKS: {0, 0} unlocks */
} sim_change;

/* Applies a change under the shared file's lock (lock, load, change, save, unlock). */
static int change_settings(sim_state *s, unsigned dev, const sim_change *c)
{
    pthread_mutex_lock(&s->lock);
    int fd = zeus__sim_state_lock(&s->shared);
    int64_t now = zeus_now_ns();
    /* A malformed file is reported, not overwritten. */
    int rc = zeus__sim_state_load(&s->shared, s->gpus, s->persistence, s->config.gpu_count, now);
    if (rc == ZEUS_OK) {
        if (c->what == CHANGE_LIMIT)
            zeus__sim_gpu_set_limit(&s->gpus[dev], c->value, now);
        else if (c->what == CHANGE_PERSISTENCE)
            s->persistence[dev] = c->value != 0;
        else
            zeus__sim_gpu_set_locked(&s->gpus[dev], c->domain, c->clocks, now);
        rc = zeus__sim_state_save(&s->shared, s->gpus, s->persistence, s->config.gpu_count);
    }
    zeus__sim_state_unlock(fd);
    pthread_mutex_unlock(&s->lock);
    return rc == ZEUS_OK ? ZEUS_OK : zeus__error(rc, "sim state file: %s", zeus_last_error());
}

static int sim_gpu_set_power_limit_mw(void *state, unsigned dev, unsigned limit_mw)
{
    return change_settings(state, dev, &(sim_change){.what = CHANGE_LIMIT, .value = limit_mw});
}

static int sim_gpu_set_persistence(void *state, unsigned dev, bool enabled)
{
    return change_settings(state, dev, &(sim_change){.what = CHANGE_PERSISTENCE, .value = enabled});
}

static int sim_gpu_set_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                     unsigned min_mhz, unsigned max_mhz)
{
    if (max_mhz == 0)
        return zeus__error(ZEUS_EINVAL,
                           "simulated GPU %u: a locked clock range needs a maximum "
                           "above 0 MHz",
                           dev);
    return change_settings(
        state, dev,
        &(sim_change){.what = CHANGE_CLOCKS, .domain = domain, .clocks = {min_mhz, max_mhz}});
}

static int sim_gpu_reset_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain)
{
    return change_settings(state, dev, &(sim_change){.what = CHANGE_CLOCKS, .domain = domain});
}

static int sim_gpu_pci_address(void *state, unsigned dev, char *address, size_t size)
{
    (void)state;
    snprintf(address, size, "0000:%02x:00.0", ZEUS_SIM_PCI_BUS(dev));
    return ZEUS_OK;
}

static int sim_gpu_persistence(void *state, unsigned dev, bool *enabled)
{
    sim_state *s = state;
    pthread_mutex_lock(&s->lock);
    zeus__sim_state_load(&s->shared, s->gpus, s->persistence, s->config.gpu_count, zeus_now_ns());
    *enabled = s->persistence[dev];
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

static bool sim_gpu_settings_private(void *state)
{
    return ((sim_state *)state)->shared.path[0] == '\0';
}

/* The extension's operations (zeus/sim.h). */
static int sim_launch_step(void *state, unsigned dev, int64_t *end_ns)
{
    sim_state *s = state;
    pthread_mutex_lock(&s->lock);
    int64_t now = zeus_now_ns();
    /* A limit or locked clock another process set applies to the steps launched from now on. */
    zeus__sim_state_load(&s->shared, s->gpus, s->persistence, s->config.gpu_count, now);
    *end_ns = zeus__sim_gpu_launch_step(&s->gpus[dev], now);
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

static int sim_synchronize(void *state, unsigned dev)
{
    sim_state *s = state;
    pthread_mutex_lock(&s->lock);
    int64_t end = s->gpus[dev].busy_end_ns;
    pthread_mutex_unlock(&s->lock);
    zeus_sleep_ns(end - zeus_now_ns());
    return ZEUS_OK;
}

static int sim_exact_energy_uj(void *state, unsigned dev, double *energy_uj)
{
    sim_state *s = state;
    pthread_mutex_lock(&s->lock);
    *energy_uj = zeus__sim_gpu_exact_uj(&s->gpus[dev], zeus_now_ns());
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

static int sim_gpu_supported_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                    unsigned memory_mhz, unsigned *mhz, unsigned *count)
{
    sim_state *s = state;
    const zeus_sim_gpu_params *p = &s->gpus[dev].p;
    if (domain == ZEUS_CLOCK_GPU) {
        bool known = false;
        for (unsigned i = 0; i < p->memory_clock_count; i++)
            known |= p->memory_clocks_mhz[i] == memory_mhz;
        if (!known)
            return zeus__error(ZEUS_EINVAL, "simulated GPU %u has no %u MHz memory clock", dev,
                               memory_mhz);
    }
    unsigned room = *count;
    *count = zeus__sim_supported_clocks(p, domain, mhz, room);
    return *count <= room ? ZEUS_OK
                          : zeus__error(ZEUS_ERANGE, "GPU %u has %u supported clocks, room for %u",
                                        dev, *count, room);
}

static int sim_gpu_temperature_c(void *state, unsigned dev, unsigned *celsius)
{
    sim_state *s = state;
    pthread_mutex_lock(&s->lock);
    *celsius = zeus__sim_gpu_temperature_c(&s->gpus[dev], zeus_now_ns());
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

static int sim_step_cost(void *state, unsigned dev, double *seconds, double *busy_w, double *idle_w)
{
    sim_state *s = state;
    pthread_mutex_lock(&s->lock);
    int64_t now = zeus_now_ns();
    zeus__sim_state_load(&s->shared, s->gpus, s->persistence, s->config.gpu_count, now);
    const zeus_sim_gpu *g = &s->gpus[dev];
    if (seconds)
        *seconds = zeus__sim_gpu_step_time_s(g);
    if (busy_w)
        *busy_w = zeus__sim_gpu_busy_power_w(g);
    if (idle_w)
        *idle_w = zeus__sim_gpu_background_power_w(g);
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

static const zeus__sim_extension sim_ext = {sim_launch_step, sim_synchronize, sim_exact_energy_uj,
                                            sim_step_cost};

const zeus_backend_ops zeus__sim_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "sim",
    .kind = ZEUS_BACKEND_GPU,
    .auto_candidate = false,                            /* never chosen silently */
    .visible_devices_variable = "CUDA_VISIBLE_DEVICES", /* it stands in for NVIDIA GPUs */
    .open = sim_open,
    .close = sim_close,
    .count = sim_count,
    .gpu_info = sim_gpu_info,
    .gpu_mig_uuid = sim_gpu_mig_uuid,
    .gpu_mig_ids = sim_gpu_mig_ids,
    .gpu_energy_mj = sim_gpu_energy_mj,
    .gpu_power = sim_gpu_power,
    .gpu_power_limit_mw = sim_gpu_power_limit_mw,
    .gpu_set_power_limit_mw = sim_gpu_set_power_limit_mw,
    .gpu_set_persistence = sim_gpu_set_persistence,
    .gpu_persistence = sim_gpu_persistence,
    .gpu_temperature_c = sim_gpu_temperature_c,
    .gpu_settings_private = sim_gpu_settings_private,
    .gpu_set_locked_clocks = sim_gpu_set_locked_clocks,
    .gpu_supported_clocks = sim_gpu_supported_clocks,
    .gpu_reset_locked_clocks = sim_gpu_reset_locked_clocks,
    .gpu_pci_address = sim_gpu_pci_address,
    .extension = &sim_ext,
};
