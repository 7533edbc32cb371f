/* zeus/sim.h: the controls only the sim backend has, reached through its extension
 * (zeus__sim_extension). Apart from sim.c, so that the backend does not call back into the
 * registry that calls it. */
#include "core/internal.h"
#include "device/backend.h"
#include "device/sim_model.h"
#include "zeus/sim.h"

/* The extension's calls (sim.c fills it). */
#define SIM_EXT ((const zeus__sim_extension *)zeus__sim_backend.extension)

/* The simulator serving a GPU, or ZEUS_ENOTSUP naming what it is instead. */
static int sim_target(const zeus_devices *d, unsigned gpu, const char *what, void **state,
                      unsigned *dev)
{
    const zeus_backend_ops *ops;
    int rc = zeus__devices_gpu_backend(d, gpu, &ops, state, dev);
    if (rc != ZEUS_OK)
        return rc;
    if (ops != &zeus__sim_backend)
        return zeus__error(ZEUS_ENOTSUP, "%s: GPU %u is not simulated (the %s backend serves it)",
                           what, gpu, ops->name);
    return ZEUS_OK;
}

int zeus_sim_launch_step(zeus_devices *d, unsigned gpu, int64_t *end_ns)
{
    void *state;
    unsigned dev;
    int64_t ignored;
    int rc = sim_target(d, gpu, "launch_step", &state, &dev);
    return rc != ZEUS_OK ? rc : SIM_EXT->launch_step(state, dev, end_ns ? end_ns : &ignored);
}

int zeus_sim_synchronize(zeus_devices *d, unsigned gpu)
{
    void *state;
    unsigned dev;
    int rc = sim_target(d, gpu, "synchronize", &state, &dev);
    return rc != ZEUS_OK ? rc : SIM_EXT->synchronize(state, dev);
}

int zeus_sim_exact_energy_uj(zeus_devices *d, unsigned gpu, double *energy_uj)
{
    void *state;
    unsigned dev;
    int rc = sim_target(d, gpu, "exact_energy_uj", &state, &dev);
    return rc != ZEUS_OK ? rc : SIM_EXT->exact_energy_uj(state, dev, energy_uj);
}

int zeus_sim_step_cost(zeus_devices *d, unsigned gpu, double *seconds, double *busy_w,
                       double *idle_w)
{
    void *state;
    unsigned dev;
    int rc = sim_target(d, gpu, "step_cost", &state, &dev);
    return rc != ZEUS_OK ? rc : SIM_EXT->step_cost(state, dev, seconds, busy_w, idle_w);
}
