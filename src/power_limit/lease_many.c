/* Several GPUs at once, all or nothing (zeus_power_limit_set_many, for `zeus power-limit`). */
#include "power_limit/lease_internal.h"

#include <signal.h>
#include <stdlib.h>

int zeus_power_limit_set_many(zeus_devices *devices, const unsigned *gpus, size_t count,
                              unsigned limit_mw, zeus_power_limit_change *changes)
{
    return zeus_power_limit_set_many_with(devices, gpus, count, limit_mw, 0, changes);
}

int zeus_power_limit_set_many_with(zeus_devices *devices, const unsigned *gpus, size_t count,
                                   unsigned limit_mw, unsigned flags,
                                   zeus_power_limit_change *changes)
{
    if (!devices)
        return zeus__error(ZEUS_EINVAL, "no devices");
    if (!gpus)
        count = zeus_gpu_count(devices);
    if (count == 0)
        return zeus__error(ZEUS_ENODEV, "no GPU to change");
    unsigned *limits = malloc(count * sizeof *limits);
    if (!limits)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    zeus_lease *lease = NULL;
    /* Every GPU and range first, before any lock or change. */
    int rc = ZEUS_OK;
    for (size_t i = 0; i < count; i++) {
        unsigned gpu = gpus ? gpus[i] : (unsigned)i;
        zeus_gpu_info info;
        if ((rc = zeus_gpu_get_info(devices, gpu, &info)) != ZEUS_OK)
            goto done;
        limits[i] = limit_mw == ZEUS_POWER_LIMIT_DEFAULT ? info.default_power_limit_mw : limit_mw;
        if ((rc = zeus__gpu_check_power_limit(&info, gpu, limits[i])) != ZEUS_OK)
            goto done;
    }
    /* No handler of ours: keep the signals out of this thread until it is done or undone (a
     * signal meanwhile is delivered after, and finds every GPU changed or none). */
    sigset_t block, old;
    sigemptyset(&block);
    bool installed_now = zeus__lease_handlers_installed();
    if (!installed_now)
        zeus__lease_add_handled_signals(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = zeus_lease_create(devices, gpus, count,
                           ZEUS_LEASE_RESTORE_ON_SIGNAL | (flags & ZEUS_LEASE_FORCE), &lease);
    /* A broken lease's other changes (persistence mode, clocks) are undone: what stays is
     * what this call sets. */
    if (rc == ZEUS_OK && (flags & ZEUS_LEASE_FORCE))
        rc = zeus_lease_restore(lease);
    if (rc == ZEUS_OK)
        rc = zeus_lease_set_power_limits_mw(lease, limits);
    if (rc == ZEUS_OK && changes) {
        for (size_t i = 0; i < count; i++)
            changes[i] = (zeus_power_limit_change){lease->gpus[i].gpu, lease->gpus[i].original_mw,
                                                   lease->gpus[i].current_mw};
    }
    if (rc == ZEUS_OK)
        zeus_lease_commit(lease);
    if (rc != ZEUS_OK) {
        char reason[1024];
        zeus__strlcpy(reason, zeus_last_error(), sizeof reason);
        zeus_lease_release(lease);
        lease = NULL;
        zeus__error(rc, "%s", reason);
    }
    zeus_lease_release(lease);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
done:
    free(limits);
    return rc;
}
