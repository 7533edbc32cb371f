/* Zeus simulated GPUs: controls that only the sim backend has (see docs/devices.md).
 *
 * The sim backend is chosen by name (zeus_device_options.backend = "sim", or ZEUS_DEVICE=sim);
 * these functions drive its workload model. On any other backend they return ZEUS_ENOTSUP.
 * GPU indices are framework indices, as everywhere in zeus/device.h. */
#ifndef ZEUS_SIM_H
#define ZEUS_SIM_H

#include "zeus/common.h"
#include "zeus/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queues one training step on the GPU, like an asynchronous kernel launch: it starts when the
 * previous step ends and takes the time the workload model gives at the current power limit.
 * *end_ns (optional) receives when it will finish (zeus monotonic clock). */
ZEUS_API int zeus_sim_launch_step(zeus_devices *devices, unsigned gpu, int64_t *end_ns);
/* Blocks until every queued step on the GPU is done (like torch.cuda.synchronize). */
ZEUS_API int zeus_sim_synchronize(zeus_devices *devices, unsigned gpu);
/* Exact energy consumed so far in µJ, unquantized: the ground truth tests compare against. */
ZEUS_API int zeus_sim_exact_energy_uj(zeus_devices *devices, unsigned gpu, double *energy_uj);
/* What a step launched now would cost, from the simulator's own model (deterministic, unlike
 * wall-clock timings of steps on a loaded machine): its duration in seconds and the power it
 * draws while running, at the locked clock and power limit in force now (including those
 * another process set through the shared state), and the power the GPU draws idle. Any of the
 * outputs may be NULL. */
ZEUS_API int zeus_sim_step_cost(zeus_devices *devices, unsigned gpu, double *seconds,
                                double *busy_w, double *idle_w);

#ifdef __cplusplus
}
#endif
#endif
