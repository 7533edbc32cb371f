/* The fake GPU hardware that both fake vendor libraries expose (tests/fakes/fake_nvml.c and
 * fake_amdsmi.c): one simulated-GPU model (src/device/sim_model.c) and what the fakes add around
 * it, written once. Each fake keeps its own vendor's entry points, codes and struct layouts.
 *
 * Environment (shared by both fakes: the fake hardware is described once, whichever vendor's
 * library a test loads):
 *   ZEUS_FAKE_NVML_LOG      a file to which every set call is appended ("<function> <index>
 * <value>") ZEUS_FAKE_NVML_NOISE_W  sensor noise of the power readings, W (default 0), changing
 * every 10 ms ZEUS_FAKE_NVML_ROOT_ONLY=1  set calls fail with the vendor's no-permission code
 * unless root */
#ifndef ZEUS_FAKE_GPU_H
#define ZEUS_FAKE_GPU_H

#include "device/sim_model.h"

#include <stdbool.h>
#include <stdint.h>

/* A vendor's error code by name, for the config's injected errors ("errors" object). */
typedef struct {
    int code;
    const char *name;
} fake_gpu_code;

/* Looks name up in codes (also with the vendor's prefix, e.g. "NVML_ERROR_"); unknown names give
 * fallback. */
int fake_gpu_code_by_name(const fake_gpu_code *codes, size_t n, const char *prefix,
                          const char *name, int fallback);

/* The error injected into `function` of GPU gpu on this call (its vendor code through codes),
 * or success_code; stalls delay_ms first, as a hung driver. Call with the fake's lock held. */
int fake_gpu_injected(const zeus_sim_config *config, unsigned gpu, const char *function,
                      const fake_gpu_code *codes, size_t n, const char *prefix, int success_code,
                      int unknown_code);
/* Forgets how often each function was called (at init). */
void fake_gpu_reset_calls(void);

/* Appends "<function> <gpu> <value>" to ZEUS_FAKE_NVML_LOG when set. */
void fake_gpu_log_call(const char *function, unsigned gpu, unsigned value);
/* Power with the configured sensor noise (ZEUS_FAKE_NVML_NOISE_W). */
unsigned fake_gpu_noisy_mw(const zeus_sim_config *config, unsigned gpu, unsigned mw,
                           int64_t now_ns);
/* False when ZEUS_FAKE_NVML_ROOT_ONLY=1 and the caller is not root. */
bool fake_gpu_caller_may_set(void);
/* The energy counter the fake shows, in uJ: the model's published counter, or (test mode,
 * energy_per_read_mj) the previous value plus that much per read. */
double fake_gpu_energy_uj(const zeus_sim_config *config, zeus_sim_gpu *gpus, unsigned gpu,
                          int64_t now_ns);

#include "device/sim_state.h"

/* A fake's device call starts with ENTER (its enter() validates the handle, takes the fake's
 * lock and applies injected errors, returning success or the vendor's code) and ends with LEAVE
 * (releases the lock and returns). Each fake defines ENTER and LEAVE with these. */
#define FAKE_GPU_ENTER(type, success, enter_fn, handle, gpu)                                       \
    unsigned gpu;                                                                                  \
    do {                                                                                           \
        type entered_ = enter_fn((handle), __func__, &gpu);                                        \
        if (entered_ != (success))                                                                 \
            return entered_;                                                                       \
    } while (0)
#define FAKE_GPU_LEAVE(lock, rc)                                                                   \
    do {                                                                                           \
        pthread_mutex_unlock(&(lock));                                                             \
        return (rc);                                                                               \
    } while (0)

/* Brings the fake hardware up: loads ZEUS_FAKE_NVML_CONFIG into config, starts every GPU's model
 * now, forgets call counts, and loads the shared settings (ZEUS_FAKE_NVML_STATE) into state. On
 * failure writes "<who>: <reason>" to error and returns the ZEUS_E* code. */
int fake_gpu_hw_init(const char *who, zeus_sim_config *config, zeus_sim_gpu *gpus,
                     bool *persistence, zeus_sim_state *state, char *error, size_t size);
#endif
