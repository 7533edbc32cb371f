/* What both fake vendor libraries add around the simulated-GPU model (see fake_gpu.h). */
#include "fake_gpu.h"
#include "core/internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long call_counts[ZEUS_SIM_MAX_GPUS][ZEUS_SIM_MAX_ERRORS];
static long energy_reads[ZEUS_SIM_MAX_GPUS];

int fake_gpu_code_by_name(const fake_gpu_code *codes, size_t n, const char *prefix,
                          const char *name, int fallback)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (strcmp(codes[i].name, name) == 0 ||
            (strncmp(name, prefix, plen) == 0 && strcmp(codes[i].name, name + plen) == 0))
            return codes[i].code;
    return fallback;
}

int fake_gpu_injected(const zeus_sim_config *config, unsigned gpu, const char *function,
                      const fake_gpu_code *codes, size_t n, const char *prefix, int success_code,
                      int unknown_code)
{
    const zeus_sim_gpu_params *p = &config->gpus[gpu];
    for (unsigned i = 0; i < p->error_count; i++) {
        if (strcmp(p->errors[i].function, function) != 0)
            continue;
        if (call_counts[gpu][i]++ >= p->errors[i].after) {
            /* Stalls holding the library's lock, as a hung driver stalls every caller. */
            zeus_sleep_ns(p->errors[i].delay_ms * 1000000);
            return fake_gpu_code_by_name(codes, n, prefix, p->errors[i].code, unknown_code);
        }
    }
    return success_code;
}

void fake_gpu_reset_calls(void)
{
    memset(call_counts, 0, sizeof call_counts);
    memset(energy_reads, 0, sizeof energy_reads);
}

void fake_gpu_log_call(const char *function, unsigned gpu, unsigned value)
{
    const char *path = getenv("ZEUS_FAKE_NVML_LOG");
    if (!path || !*path)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[128];
    int len = snprintf(line, sizeof line, "%s %u %u\n", function, gpu, value);
    if (write(fd, line, (size_t)len) != len) {
        /* best effort: a test that reads the log will notice the missing line */
    }
    close(fd);
}

/* A deterministic hash of the GPU and the 10 ms period, uniform in [-noise, +noise] W, so that a
 * steady load still reads differently over time. */
unsigned fake_gpu_noisy_mw(const zeus_sim_config *config, unsigned gpu, unsigned mw, int64_t now_ns)
{
    if (config->gpus[gpu].stuck_power_w > 0) /* "stuck_power_w": a sensor stuck at one value */
        return (unsigned)(config->gpus[gpu].stuck_power_w * 1000.0);
    static double noise_w = -1;
    if (noise_w < 0) {
        const char *env = getenv("ZEUS_FAKE_NVML_NOISE_W");
        noise_w = env && *env ? atof(env) : 0;
        if (!(noise_w > 0))
            noise_w = 0;
    }
    if (noise_w == 0)
        return mw;
    uint64_t x =
        (uint64_t)(now_ns / 10000000) * 0x9E3779B97F4A7C15ull + gpu * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    double u = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
    double v = mw + (2 * u - 1) * noise_w * 1000;
    return v > 0 ? (unsigned)v : 0;
}

bool fake_gpu_caller_may_set(void)
{
    const char *root_only = getenv("ZEUS_FAKE_NVML_ROOT_ONLY");
    return !root_only || strcmp(root_only, "1") != 0 || geteuid() == 0;
}

double fake_gpu_energy_uj(const zeus_sim_config *config, zeus_sim_gpu *gpus, unsigned gpu,
                          int64_t now_ns)
{
    const zeus_sim_gpu_params *p = &config->gpus[gpu];
    if (p->energy_per_read_mj != 0) {
        double mj = p->initial_energy_j * 1000.0 + p->energy_per_read_mj * energy_reads[gpu]++;
        return mj > 0 ? mj * 1000.0 : 0;
    }
    (void)zeus__sim_gpu_energy_mj(&gpus[gpu], now_ns);
    double uj = gpus[gpu].published_uj;
    if (p->energy_counter_rate != 1.0) {
        /* "energy_counter_rate": a frozen counter (0) or one at the wrong rate. */
        double start = p->initial_energy_j * 1e6;
        uj = start + (uj - start) * p->energy_counter_rate;
    }
    return uj;
}

int fake_gpu_hw_init(const char *who, zeus_sim_config *config, zeus_sim_gpu *gpus,
                     bool *persistence, zeus_sim_state *state, char *error, size_t size)
{
    int rc =
        zeus__sim_config_load(getenv("ZEUS_FAKE_NVML_CONFIG"), "ZEUS_FAKE_NVML_CONFIG", config);
    if (rc != ZEUS_OK) {
        snprintf(error, size, "%s: %s", who, zeus_last_error());
        return rc;
    }
    int64_t now = zeus_now_ns();
    for (unsigned i = 0; i < config->gpu_count; i++) {
        zeus__sim_gpu_init(&gpus[i], &config->gpus[i], now);
        persistence[i] = false;
    }
    fake_gpu_reset_calls();
    zeus__sim_state_init(state, getenv("ZEUS_FAKE_NVML_STATE"));
    int fd = zeus__sim_state_lock(state);
    rc = zeus__sim_state_load(state, gpus, persistence, config->gpu_count, now);
    zeus__sim_state_unlock(fd);
    if (rc != ZEUS_OK)
        snprintf(error, size, "%s: ZEUS_FAKE_NVML_STATE: %s", who, zeus_last_error());
    else
        error[0] = '\0';
    return rc;
}
