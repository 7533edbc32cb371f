/* Zeus systems-on-chip: the energy an NVIDIA Jetson's power rails measured (docs/devices.md).
 *
 * On a Jetson the "jetson" GPU backend shows the SoC's GPU as GPU 0 and "jetson-cpu" its CPU rail
 * as CPU package 0, so monitors and samplers work on it as anywhere; this call adds the rails the
 * original's JetsonMeasurement has (CPU, GPU and total). Apple Silicon is not supported on Linux.
 * Thread safety: as zeus/device.h. */
#ifndef ZEUS_SOC_H
#define ZEUS_SOC_H

#include "zeus/common.h"
#include "zeus/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Cumulative energy of each rail since the device set was opened, mJ; a rail the board lacks is
 * not valid (and reads 0). */
typedef struct zeus_soc_energy {
    bool cpu_valid, gpu_valid, total_valid;
    double cpu_mj, gpu_mj, total_mj;
} zeus_soc_energy;

/* ZEUS_ENOTSUP unless the GPU backend in use is "jetson". */
ZEUS_API int zeus_soc_read_energy(zeus_devices *devices, zeus_soc_energy *out);

#ifdef __cplusplus
}
#endif
#endif
