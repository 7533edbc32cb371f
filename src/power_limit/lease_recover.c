/* zeus_lease_recover: puts back what a gone holder left on each GPU, through a lease of the GPU
 * (whose creation takes the journal over: zeus__journal_take_over). Above lease.c, which the
 * journal itself never calls. */
#include "power_limit/lease_internal.h"

int zeus_lease_recover(zeus_devices *devices, const unsigned *gpus, size_t count,
                       zeus_lease_journal_entry *entries, size_t *entry_count)
{
    if (!devices || !entry_count)
        return zeus__error(ZEUS_EINVAL, "zeus_lease_recover: missing argument");
    if (!gpus)
        count = zeus_gpu_count(devices);
    size_t found_count = 0;
    for (size_t i = 0; i < count; i++) {
        unsigned gpu = gpus ? gpus[i] : (unsigned)i;
        zeus_lease_journal_entry e;
        bool found;
        int rc = zeus__devices_gpu_settings_private(devices)
                     ? ZEUS_OK
                     : zeus__journal_read_entry(devices, gpu, &e, &found);
        if (rc != ZEUS_OK)
            return rc;
        if (zeus__devices_gpu_settings_private(devices) || !found)
            continue;
        if (!e.holder_alive) {
            /* A lease of the GPU puts back what the gone holder left (zeus__journal_take_over). */
            zeus_lease *lease;
            rc = zeus_lease_create(devices, &gpu, 1, ZEUS_LEASE_NO_WAIT, &lease);
            if (rc != ZEUS_OK)
                return rc;
            zeus_lease_release(lease);
        }
        if (entries)
            entries[found_count] = e;
        found_count++;
    }
    *entry_count = found_count;
    return ZEUS_OK;
}
