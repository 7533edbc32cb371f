/* Limit leases: creation, release, queries and changes. The rest of the lease code is split by
 * seam (see lease_internal.h). See zeus/lease.h. */
#include "power_limit/lease_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Serializes lease creation from looking for this process's holders of its GPUs to joining
 * `zeus__leases`, so that two threads leasing one GPU nest rather than wait on each other's lock.
 */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static bool exit_hook_registered;

/* Records what to put back: the GPU's settings now, or, nested, what the first lease of this
 * process recorded (join_holders). */
static int record(zeus_lease *l, lease_gpu *g)
{
    int rc = zeus_gpu_power_limit_mw(l->devices, g->gpu, &g->current_mw);
    if (rc != ZEUS_OK)
        return zeus__error(rc,
                           "GPU %u (%s): its power limit cannot be read (%s), so it could not be "
                           "put back; refusing to change it",
                           g->gpu, g->info.name, zeus_last_error());
    if (!g->nested && !g->adopted)
        g->original_mw = g->current_mw;
    atomic_store(&g->limit_changed, g->current_mw != g->original_mw);
    if ((l->flags & ZEUS_LEASE_PERSISTENCE) && g->original_persistence < 0) {
        bool enabled;
        rc = zeus_gpu_persistence_mode(l->devices, g->gpu, &enabled);
        if (rc == ZEUS_OK)
            g->original_persistence = enabled;
        else if (rc != ZEUS_ENOTSUP)
            return zeus__error(rc, "GPU %u: cannot read its persistence mode: %s", g->gpu,
                               zeus_last_error());
    }
    return ZEUS_OK;
}

static void lease_free(zeus_lease *l)
{
    zeus__lease_drop_locks(l);
    for (size_t i = 0; i < l->count; i++)
        free(l->gpus[i].lock_path);
    pthread_mutex_destroy(&l->lock);
    free(l->gpus);
    free(l);
}

int zeus_lease_create(zeus_devices *devices, const unsigned *gpus, size_t count, unsigned flags,
                      zeus_lease **out)
{
    if (!out)
        return zeus__error(ZEUS_EINVAL, "zeus_lease_create: no place for the lease");
    *out = NULL;
    if (!devices)
        return zeus__error(ZEUS_EINVAL, "zeus_lease_create: no devices");
    if (!gpus)
        count = zeus_gpu_count(devices);
    if (count == 0)
        return zeus__error(ZEUS_EINVAL, "a lease needs at least one GPU");
    zeus_lease *l = calloc(1, sizeof *l);
    if (!l)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    l->gpus = calloc(count, sizeof *l->gpus);
    if (!l->gpus) {
        free(l);
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&l->lock, NULL);
    l->devices = devices;
    l->pid = getpid();
    l->flags = flags;
    l->count = count;
    l->watch_fd = -1;
    l->stop_pipe[0] = l->stop_pipe[1] = -1;
    zeus__process_identity(l->pid, &l->self);
    l->holder = l->self;
    int rc = ZEUS_OK;
    for (size_t i = 0; i < count; i++) {
        l->gpus[i].lock_fd = -1;
        l->gpus[i].original_persistence = -1;
        l->gpus[i].gpu = gpus ? gpus[i] : (unsigned)i;
        for (size_t k = 0; k < i; k++)
            if (l->gpus[k].gpu == l->gpus[i].gpu) {
                rc = zeus__error(ZEUS_EINVAL, "GPU %u is given twice", l->gpus[i].gpu);
                goto fail;
            }
        if ((rc = zeus_gpu_get_info(devices, l->gpus[i].gpu, &l->gpus[i].info)) != ZEUS_OK)
            goto fail;
    }
    /* Lock first, then record: what another changer did before us is what we put back.
     * Settings private to this process (simulated GPUs without a shared state file) cannot be
     * changed by another process: nothing to lock. */
    zeus__lease_fork_init();
    pthread_mutex_lock(&create_lock);
    if ((rc = zeus__lease_join_holders(l)) != ZEUS_OK ||
        (!zeus__devices_gpu_settings_private(devices) &&
         (rc = zeus__lease_take_locks(l)) != ZEUS_OK))
        goto fail_locked;
    /* What a holder killed with -9 left changed is put back now (or carried on, its holder
     * alive), before this lease records the GPU. */
    for (size_t i = 0; i < count; i++)
        if (!l->gpus[i].nested && (rc = zeus__journal_take_over(l, &l->gpus[i])) != ZEUS_OK)
            goto fail_locked;
    for (size_t i = 0; i < count; i++)
        if ((rc = record(l, &l->gpus[i])) != ZEUS_OK ||
            (l->gpus[i].adopted && (rc = zeus__journal_sync(l, &l->gpus[i])) != ZEUS_OK))
            goto fail_locked;
    pthread_mutex_lock(&zeus__leases_lock);
    l->next = zeus__leases;
    zeus__leases = l;
    if ((flags & ZEUS_LEASE_RESTORE_AT_EXIT) && !exit_hook_registered &&
        atexit(zeus__lease_exit_hook) == 0)
        exit_hook_registered = true;
    pthread_mutex_unlock(&zeus__leases_lock);
    pthread_mutex_unlock(&create_lock);
    *out = l;
    return ZEUS_OK;
fail_locked:
    pthread_mutex_unlock(&create_lock);
fail:
    lease_free(l);
    return rc;
}

static void unlink_lease(zeus_lease *l)
{
    pthread_mutex_lock(&zeus__leases_lock);
    for (zeus_lease **p = &zeus__leases; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    pthread_mutex_unlock(&zeus__leases_lock);
}

void zeus_lease_release(zeus_lease *l)
{
    if (!l)
        return;
    if (l->pid == getpid()) {
        /* No lease joins this one while it goes (create_lock), and it is put back while still
         * listed: a signal meanwhile finds it and waits for this restore (l->lock) before the
         * process dies of it, instead of ending it half-way through. */
        pthread_mutex_lock(&create_lock);
        pthread_mutex_lock(&zeus__leases_lock);
        zeus__lease_hand_over_all(l);
        pthread_mutex_unlock(&zeus__leases_lock);
        zeus__lease_stop_watcher(l);
        restore_report r = {.len = 0};
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < l->count; i++)
            if (!l->gpus[i].handed_over)
                zeus__lease_restore_gpu_locked(l, &l->gpus[i], &r);
        pthread_mutex_unlock(&l->lock);
        unlink_lease(l);
        pthread_mutex_unlock(&create_lock);
        zeus__lease_log_report(&r, "lease release");
    } else {
        unlink_lease(l); /* a fork's copy of its parent's lease: only freed */
    }
    zeus_devices *devices = l->pid == getpid() ? l->devices : NULL;
    zeus__lease_close_watch_fds(l);
    lease_free(l);
    zeus__lease_recover_dead_holders(devices);
}

/* ---- queries ---- */

size_t zeus_lease_gpu_count(const zeus_lease *l)
{
    return l->count;
}

unsigned zeus_lease_gpu(const zeus_lease *l, size_t i)
{
    return i < l->count ? l->gpus[i].gpu : 0;
}

static lease_gpu *find(const zeus_lease *l, unsigned gpu)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->gpus[i].gpu == gpu)
            return &l->gpus[i];
    zeus__error(ZEUS_EINVAL, "GPU %u is not covered by this lease", gpu);
    return NULL;
}

int zeus_lease_original_mw(const zeus_lease *l, unsigned gpu, unsigned *limit_mw)
{
    const lease_gpu *g = find(l, gpu);
    if (!g)
        return ZEUS_EINVAL;
    *limit_mw = g->original_mw;
    return ZEUS_OK;
}

bool zeus_lease_take_signalled(zeus_lease *l)
{
    return l && atomic_load_explicit(&l->signalled, memory_order_relaxed) &&
           atomic_exchange(&l->signalled, false);
}

bool zeus_lease_client_gone(zeus_lease *l)
{
    return l && atomic_load_explicit(&l->client_gone_seen, memory_order_relaxed) &&
           atomic_exchange(&l->client_gone_seen, false);
}

/* ---- changes ---- */

/* Called with l->lock held. */
static int check_changeable(const zeus_lease *l)
{
    if (l->pid != getpid())
        return zeus__error(ZEUS_ESTATE, "this lease belongs to process %ld (a fork's parent)",
                           (long)l->pid);
    if (l->client_gone)
        return zeus__error(ZEUS_ESTATE,
                           "the lease's client (process %ld) exited; its changes "
                           "were put back",
                           (long)l->watched_pid);
    if (atomic_load(&zeus__signal_in_progress))
        return zeus__error(ZEUS_ESTATE, "a signal is being handled: limits are being restored");
    return ZEUS_OK;
}

static int check_range(const lease_gpu *g, unsigned limit_mw)
{
    return zeus__gpu_check_power_limit(&g->info, g->gpu, limit_mw);
}

/* Called with l->lock held. Marked changed before the call, so a restore that runs after a
 * failure half-way (a timeout that did change it) still puts it back. */
/* A change the device refused (out of range, not supported, no permission) changed nothing:
 * nothing to put back for it, and its journal entry is withdrawn. */
static bool refused(int rc)
{
    return rc == ZEUS_EINVAL || rc == ZEUS_ENOTSUP || rc == ZEUS_EPERM || rc == ZEUS_ERANGE;
}

/* Brings the journal in line after a change or a refusal; a refusal's error stays the one
 * reported. */
static void sync_after(zeus_lease *l, lease_gpu *g, int rc)
{
    char reason[512];
    zeus__strlcpy(reason, zeus_last_error(), sizeof reason);
    zeus__journal_sync(l, g);
    if (rc != ZEUS_OK)
        zeus__error(rc, "%s", reason);
}

static int set_one(zeus_lease *l, lease_gpu *g, unsigned limit_mw)
{
    int rc = zeus__lease_check_taken(l, g);
    if (rc != ZEUS_OK)
        return rc;
    bool before = atomic_exchange(&g->limit_changed, true);
    rc = zeus__journal_sync(l, g);
    if (rc != ZEUS_OK) {
        atomic_store(&g->limit_changed, before);
        return rc;
    }
    rc = l->flags & ZEUS_LEASE_FORCE
             ? zeus__devices_gpu_force_power_limit(l->devices, g->gpu, limit_mw)
             : zeus_gpu_set_power_limit_mw(l->devices, g->gpu, limit_mw);
    if (rc == ZEUS_OK) {
        g->current_mw = limit_mw;
        atomic_store(&g->limit_changed, limit_mw != g->original_mw);
    } else if (refused(rc)) {
        atomic_store(&g->limit_changed, before);
    }
    if (rc == ZEUS_OK || refused(rc))
        sync_after(l, g, rc); /* nothing left to put back: removed */
    return rc;
}

int zeus_lease_set_power_limit_mw(zeus_lease *l, unsigned gpu, unsigned limit_mw)
{
    lease_gpu *g = find(l, gpu);
    if (!g)
        return ZEUS_EINVAL;
    int rc = check_range(g, limit_mw);
    if (rc != ZEUS_OK)
        return rc;
    pthread_mutex_lock(&l->lock);
    rc = check_changeable(l);
    if (rc == ZEUS_OK)
        rc = set_one(l, g, limit_mw);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int zeus_lease_set_power_limits_mw(zeus_lease *l, const unsigned *limits_mw)
{
    int rc = ZEUS_OK;
    for (size_t i = 0; i < l->count; i++)
        if ((rc = check_range(&l->gpus[i], limits_mw[i])) != ZEUS_OK)
            return rc;
    unsigned *before = malloc(l->count * sizeof *before);
    if (!before)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    pthread_mutex_lock(&l->lock);
    size_t done = 0;
    bool set_failed = false;
    for (; done < l->count; done++) {
        lease_gpu *g = &l->gpus[done];
        before[done] = g->current_mw;
        if ((rc = check_changeable(l)) != ZEUS_OK)
            break;
        if ((rc = set_one(l, g, limits_mw[done])) != ZEUS_OK) {
            rc = zeus__error(rc, "GPU %u: cannot set the power limit to %g W: %s", g->gpu,
                             limits_mw[done] / 1000.0, zeus_last_error());
            set_failed = true;
            done++; /* it may have changed anyway: put it back too */
            break;
        }
    }
    if (rc != ZEUS_OK) {
        char reason[1024];
        zeus__strlcpy(reason, zeus_last_error(), sizeof reason);
        char failed[256] = "";
        size_t n = 0;
        for (size_t i = 0; i < done; i++) {
            lease_gpu *g = &l->gpus[i];
            unsigned now_mw;
            /* The GPU whose set failed usually did not change: leave it alone if so. */
            if (set_failed && i + 1 == done &&
                zeus_gpu_power_limit_mw(l->devices, g->gpu, &now_mw) == ZEUS_OK &&
                now_mw == before[i]) {
                atomic_store(&g->limit_changed, before[i] != g->original_mw);
                continue;
            }
            if (zeus_gpu_set_power_limit_mw(l->devices, g->gpu, before[i]) == ZEUS_OK) {
                g->current_mw = before[i];
                atomic_store(&g->limit_changed, before[i] != g->original_mw);
            } else if (n < sizeof failed)
                n += (size_t)snprintf(failed + n, sizeof failed - n, " %u", g->gpu);
        }
        rc = n ? zeus__error(rc, "%s; and GPUs%s could not be put back", reason, failed)
               : zeus__error(rc, "%s", reason);
    }
    pthread_mutex_unlock(&l->lock);
    free(before);
    return rc;
}

int zeus_lease_set_persistence_mode(zeus_lease *l, unsigned gpu, bool enabled)
{
    lease_gpu *g = find(l, gpu);
    if (!g)
        return ZEUS_EINVAL;
    pthread_mutex_lock(&l->lock);
    int rc = check_changeable(l);
    if (rc == ZEUS_OK)
        rc = zeus__lease_check_taken(l, g);
    if (rc == ZEUS_OK) {
        bool before = atomic_exchange(&g->persistence_changed, true);
        if ((rc = zeus__journal_sync(l, g)) != ZEUS_OK)
            atomic_store(&g->persistence_changed, before);
        else if ((rc = zeus_gpu_set_persistence_mode(l->devices, gpu, enabled)) != ZEUS_OK &&
                 refused(rc)) {
            atomic_store(&g->persistence_changed, before);
            sync_after(l, g, rc);
        }
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* Locks (set) or unlocks a domain. Marked changed before the call, as set_one does. */
static int change_clocks(zeus_lease *l, unsigned gpu, zeus_clock_domain domain, bool set,
                         unsigned min_mhz, unsigned max_mhz)
{
    lease_gpu *g = find(l, gpu);
    if (!g)
        return ZEUS_EINVAL;
    if (domain != ZEUS_CLOCK_GPU && domain != ZEUS_CLOCK_MEMORY)
        return zeus__error(ZEUS_EINVAL, "unknown clock domain %d", (int)domain);
    pthread_mutex_lock(&l->lock);
    int rc = check_changeable(l);
    if (rc == ZEUS_OK)
        rc = zeus__lease_check_taken(l, g);
    if (rc == ZEUS_OK) {
        bool before = atomic_exchange(&g->clocks_changed[domain], true);
        if ((rc = zeus__journal_sync(l, g)) != ZEUS_OK) {
            atomic_store(&g->clocks_changed[domain], before);
            goto done;
        }
        rc = set ? zeus_gpu_set_locked_clocks(l->devices, gpu, domain, min_mhz, max_mhz)
                 : zeus_gpu_reset_locked_clocks(l->devices, gpu, domain);
        if (rc == ZEUS_OK) {
            g->clocks_min_mhz[domain] = min_mhz;
            g->clocks_max_mhz[domain] = max_mhz;
            /* Unlocked is what a restore would leave: nothing to put back. */
            atomic_store(&g->clocks_changed[domain], set);
        } else if (refused(rc)) {
            /* Refused (min above max, not supported, no permission): nothing changed. */
            atomic_store(&g->clocks_changed[domain], before);
        }
        sync_after(l, g, rc);
    }
done:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int zeus_lease_set_locked_clocks(zeus_lease *l, unsigned gpu, zeus_clock_domain domain,
                                 unsigned min_mhz, unsigned max_mhz)
{
    return change_clocks(l, gpu, domain, true, min_mhz, max_mhz);
}

int zeus_lease_reset_locked_clocks(zeus_lease *l, unsigned gpu, zeus_clock_domain domain)
{
    return change_clocks(l, gpu, domain, false, 0, 0);
}

int zeus_lease_restore(zeus_lease *l)
{
    if (l->pid != getpid())
        return zeus__error(ZEUS_ESTATE, "this lease belongs to process %ld", (long)l->pid);
    restore_report r = {.len = 0};
    pthread_mutex_lock(&l->lock);
    int rc = zeus__lease_restore_locked(l, &r);
    pthread_mutex_unlock(&l->lock);
    zeus__lease_log_report(&r, "lease restore");
    zeus__lease_recover_dead_holders(l->devices);
    return rc;
}

int zeus_lease_commit(zeus_lease *l)
{
    int rc = ZEUS_OK;
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->count; i++) {
        lease_gpu *g = &l->gpus[i];
        /* A daemon that carries out changes (zeusd) would put them back when this process
         * exits unless told they are meant to stay. */
        if (atomic_load(&g->limit_changed)) {
            int krc = zeus__devices_gpu_keep_power_limit(l->devices, g->gpu, g->current_mw);
            if (krc != ZEUS_OK && rc == ZEUS_OK)
                rc = krc;
        }
        for (int d = 0; d < 2; d++) {
            if (atomic_load(&g->clocks_changed[d]) && g->clocks_max_mhz[d] != 0) {
                int krc = zeus__devices_gpu_keep_locked_clocks(
                    l->devices, g->gpu, (zeus_clock_domain)d, g->clocks_min_mhz[d],
                    g->clocks_max_mhz[d]);
                if (krc != ZEUS_OK && rc == ZEUS_OK)
                    rc = krc;
            }
            atomic_store(&g->clocks_changed[d], false);
        }
        atomic_store(&g->limit_changed, false);
        atomic_store(&g->persistence_changed, false);
        g->original_mw = g->current_mw;
        zeus__journal_sync(l, g); /* kept: nothing to put back */
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* ---- putting back what gone holders left (zeus_lease_recover) ---- */

/* Set while this thread sweeps or recovers: the leases it takes do not sweep on release (a
 * recover would otherwise find the GPUs after the first already put back, and not list them). */
static _Thread_local bool sweeping;

static int recover_gpus(zeus_devices *devices, const unsigned *gpus, size_t count,
                        zeus_lease_journal_entry *entries, size_t *entry_count)
{
    *entry_count = 0;
    if (zeus__devices_gpu_settings_private(devices))
        return ZEUS_OK; /* a zeusd carries out the changes and keeps the journal */
    if (!gpus)
        count = zeus_gpu_count(devices);
    size_t found_count = 0;
    for (size_t i = 0; i < count; i++) {
        unsigned gpu = gpus ? gpus[i] : (unsigned)i;
        zeus_lease_journal_entry e;
        bool found;
        int rc = zeus__journal_read_entry(devices, gpu, &e, &found);
        if (rc != ZEUS_OK)
            return rc;
        if (!found)
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

int zeus_lease_recover(zeus_devices *devices, const unsigned *gpus, size_t count,
                       zeus_lease_journal_entry *entries, size_t *entry_count)
{
    if (!devices || !entry_count)
        return zeus__error(ZEUS_EINVAL, "zeus_lease_recover: missing argument");
    bool was_sweeping = sweeping;
    sweeping = true;
    int rc = recover_gpus(devices, gpus, count, entries, entry_count);
    sweeping = was_sweeping;
    return rc;
}

/* Puts back the GPU a gone holder's journal names through a lease that does not wait (a GPU
 * locked elsewhere is its holder's to put back) and leaves a live holder's journal as it is. */
static int sweep_gpu(zeus_devices *devices, unsigned gpu)
{
    zeus_lease *lease;
    int rc =
        zeus_lease_create(devices, &gpu, 1, ZEUS_LEASE_NO_WAIT | ZEUS__LEASE_ONLY_GONE, &lease);
    if (rc == ZEUS_OK)
        zeus_lease_release(lease);
    return rc == ZEUS_ETIMEOUT ? ZEUS_OK : rc;
}

/* The sweep: every journal in the directory whose holder is gone, read once; its GPU found
 * among those this process sees, else among every GPU of the backend (a rank given only its own
 * GPU puts back a killed rank's: a view over the open backend, made only when needed). A GPU
 * found in neither (another machine's, on a shared directory) is left alone. */
static int sweep(zeus_devices *devices)
{
    zeus__journal_record *gone;
    size_t count;
    int rc = zeus__journal_list_gone(&gone, &count);
    zeus_devices *all = NULL;
    for (size_t i = 0; rc == ZEUS_OK && i < count; i++) {
        long gpu = zeus__journal_gpu_of(devices, &gone[i]);
        zeus_devices *where = devices;
        if (gpu < 0 && (all || (rc = zeus__devices_open_physical(devices, &all)) == ZEUS_OK)) {
            gpu = zeus__journal_gpu_of(all, &gone[i]);
            where = all;
        }
        if (rc == ZEUS_OK && gpu >= 0)
            rc = sweep_gpu(where, (unsigned)gpu);
    }
    zeus_devices_close(all);
    free(gone);
    return rc;
}

void zeus__lease_recover_dead_holders(zeus_devices *devices)
{
    if (sweeping || !devices || zeus__devices_gpu_settings_private(devices))
        return;
    sweeping = true;
    char reason[ZEUS_ERROR_DETAIL_LEN];
    zeus__strlcpy(reason, zeus_last_error(), sizeof reason); /* the caller's error stays */
    if (sweep(devices) != ZEUS_OK)
        ZEUS_WARN("putting back what a gone process left changed: %s", zeus_last_error());
    (void)zeus__error(ZEUS_OK, "%s", reason);
    sweeping = false;
}
