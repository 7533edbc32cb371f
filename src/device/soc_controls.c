/* zeus/soc.h: what only a system-on-chip's backend has (a Jetson's rails), apart from
 * jetson.c so that the backend does not call back into the registry that calls it (as
 * sim_controls.c for the sim backend). */
#include "core/internal.h"
#include "device/backend.h"
#include "zeus/soc.h"

#include <string.h>

int zeus_soc_read_energy(zeus_devices *devices, zeus_soc_energy *out)
{
    const zeus_backend_ops *ops;
    void *state;
    unsigned dev;
    if (!out)
        return zeus__error(ZEUS_EINVAL, "zeus_soc_read_energy: no result");
    memset(out, 0, sizeof *out);
    if (zeus__devices_gpu_backend(devices, 0, &ops, &state, &dev) != ZEUS_OK ||
        ops != &zeus__jetson_backend)
        return zeus__error(ZEUS_ENOTSUP,
                           "no system-on-chip: the GPU backend is not jetson (only NVIDIA Jetson "
                           "is supported on Linux; Apple Silicon needs macOS)");
    return zeus__jetson_read_energy(state, out);
}
