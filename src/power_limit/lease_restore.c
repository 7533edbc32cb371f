/* Putting back what a lease changed (on release, at exit, on a signal, when the client goes),
 * and nesting: several leases of one process on one GPU share one record. */
#include "power_limit/lease_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *watts(unsigned mw, char *buf, size_t size)
{
    snprintf(buf, size, "%g W", mw / 1000.0);
    return buf;
}

void zeus__lease_report(restore_report *r, const char *fmt, ...)
{
    if (r->len + 1 >= sizeof r->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n < sizeof r->text - r->len ? (size_t)n : sizeof r->text - r->len - 1;
}

void zeus__lease_log_report(const restore_report *r, const char *why)
{
    if (r->len)
        ZEUS_WARN("%s: %s", why, r->text);
}

/* Puts back what the lease changed on one GPU. Called with l->lock held. Returns the first
 * failure. */
int zeus__lease_restore_gpu_locked(zeus_lease *l, lease_gpu *g, restore_report *r)
{
    int first = ZEUS_OK;
    char w[32];
    if (zeus__lease_check_taken(l, g) != ZEUS_OK) {
        /* Taken with force: its settings are the taker's, nothing of ours to put back. */
        ZEUS_INFO("%s; not put back", zeus_last_error());
        atomic_store(&g->limit_changed, false);
        atomic_store(&g->persistence_changed, false);
        for (int d = 0; d < 2; d++)
            atomic_store(&g->clocks_changed[d], false);
        zeus__journal_sync(l, g); /* its record is void: removed (if it still names us) */
        return ZEUS_OK;
    }
    if (atomic_load(&g->limit_changed)) {
        int rc = zeus_gpu_set_power_limit_mw(l->devices, g->gpu, g->original_mw);
        if (rc == ZEUS_OK) {
            atomic_store(&g->limit_changed, false);
            g->current_mw = g->original_mw;
        } else {
            zeus__lease_report(r, "%scannot put GPU %u back to %s: %s", r->len ? "; " : "", g->gpu,
                               watts(g->original_mw, w, sizeof w), zeus_last_error());
            first = rc;
        }
    }
    if (atomic_load(&g->persistence_changed) && g->original_persistence >= 0) {
        int rc = zeus_gpu_set_persistence_mode(l->devices, g->gpu, g->original_persistence);
        if (rc == ZEUS_OK) {
            atomic_store(&g->persistence_changed, false);
        } else {
            zeus__lease_report(r, "%scannot put GPU %u's persistence mode back: %s",
                               r->len ? "; " : "", g->gpu, zeus_last_error());
            if (first == ZEUS_OK)
                first = rc;
        }
    }
    for (int d = 0; d < 2; d++) {
        if (!atomic_load(&g->clocks_changed[d]))
            continue;
        int rc = zeus_gpu_reset_locked_clocks(l->devices, g->gpu, (zeus_clock_domain)d);
        if (rc == ZEUS_OK) {
            atomic_store(&g->clocks_changed[d], false);
        } else {
            zeus__lease_report(r, "%scannot unlock GPU %u's %s clocks: %s", r->len ? "; " : "",
                               g->gpu, d == ZEUS_CLOCK_GPU ? "GPU" : "memory", zeus_last_error());
            if (first == ZEUS_OK)
                first = rc;
        }
    }
    zeus__journal_sync(l, g); /* removed once nothing is left to put back */
    return first;
}

/* Puts back what the lease changed. Called with l->lock held. Returns the first failure. */
int zeus__lease_restore_locked(zeus_lease *l, restore_report *r)
{
    int first = ZEUS_OK;
    for (size_t i = 0; i < l->count; i++) {
        int rc = zeus__lease_restore_gpu_locked(l, &l->gpus[i], r);
        if (first == ZEUS_OK)
            first = rc;
    }
    return first;
}

/* Restores every lease of this process that asked for it (a forked child skips its parent's). */
void zeus__lease_restore_all(unsigned flag, const char *why)
{
    pid_t self = getpid();
    restore_report r = {.len = 0};
    pthread_mutex_lock(&zeus__leases_lock);
    for (zeus_lease *l = zeus__leases; l; l = l->next) {
        if (l->pid != self || !(l->flags & flag))
            continue;
        pthread_mutex_lock(&l->lock);
        zeus__lease_restore_locked(l, &r);
        if (flag == ZEUS_LEASE_RESTORE_ON_SIGNAL)
            atomic_store(&l->signalled, true);
        pthread_mutex_unlock(&l->lock);
    }
    pthread_mutex_unlock(&zeus__leases_lock);
    zeus__lease_log_report(&r, why);
}

void zeus__lease_exit_hook(void)
{
    zeus__lease_restore_all(ZEUS_LEASE_RESTORE_AT_EXIT, "at exit");
}

/* ---- nesting: several leases of one process on one GPU ---- */

static bool same_gpu(const zeus_lease *a, const lease_gpu *ga, const zeus_lease *b,
                     const lease_gpu *gb)
{
    if (a->devices == b->devices)
        return ga->gpu == gb->gpu;
    /* Another device set of this process: the same GPU if it is a shared one (not a simulated
     * GPU private to its device set) with the same UUID. */
    return !zeus__devices_gpu_settings_private(a->devices) &&
           !zeus__devices_gpu_settings_private(b->devices) && ga->info.uuid[0] &&
           strcmp(ga->info.uuid, gb->info.uuid) == 0;
}

/* Another lease of this process holding g's GPU, or NULL. Called with zeus__leases_lock held. */
static lease_gpu *holder_of(const zeus_lease *l, const lease_gpu *g, zeus_lease **owner)
{
    for (zeus_lease *o = zeus__leases; o; o = o->next) {
        if (o == l || o->pid != l->pid)
            continue;
        for (size_t i = 0; i < o->count; i++)
            if (same_gpu(l, g, o, &o->gpus[i])) {
                *owner = o;
                return &o->gpus[i];
            }
    }
    return NULL;
}

/* Calls fn(g, h) for each GPU g of l that another lease of this process holds (h: its record
 * there), with that lease's lock held; stops at fn's first failure. Called with zeus__leases_lock
 * held. */
static int each_held_gpu(zeus_lease *l, int (*fn)(lease_gpu *g, zeus_lease *o, lease_gpu *h))
{
    int rc = ZEUS_OK;
    for (size_t i = 0; i < l->count && rc == ZEUS_OK; i++) {
        zeus_lease *o;
        lease_gpu *h = holder_of(l, &l->gpus[i], &o);
        if (!h)
            continue;
        pthread_mutex_lock(&o->lock);
        rc = fn(&l->gpus[i], o, h);
        pthread_mutex_unlock(&o->lock);
    }
    return rc;
}

/* A GPU this process already leases is not locked again (that would wait for ourselves): the
 * new lease shares the holder's lock and takes its record of what to put back. */
static int join_holder(lease_gpu *g, zeus_lease *o, lease_gpu *h)
{
    (void)o;
    g->nested = true;
    g->original_mw = h->original_mw;
    g->original_persistence = h->original_persistence;
    atomic_store(&g->persistence_changed, atomic_load(&h->persistence_changed));
    for (int d = 0; d < 2; d++) {
        atomic_store(&g->clocks_changed[d], atomic_load(&h->clocks_changed[d]));
        g->clocks_min_mhz[d] = h->clocks_min_mhz[d];
        g->clocks_max_mhz[d] = h->clocks_max_mhz[d];
    }
    if (h->lock_fd >= 0 && (g->lock_fd = fcntl(h->lock_fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return zeus__error(ZEUS_EIO, "GPU %u: cannot share its lock: %s", g->gpu, strerror(errno));
    if (h->lock_path && !(g->lock_path = strdup(h->lock_path)))
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    return ZEUS_OK;
}

int zeus__lease_join_holders(zeus_lease *l)
{
    pthread_mutex_lock(&zeus__leases_lock);
    int rc = each_held_gpu(l, join_holder);
    pthread_mutex_unlock(&zeus__leases_lock);
    return rc;
}

/* On release: a GPU another lease of this process still holds is left to that lease, with what
 * this one changed, so that it is put back when the last of them is released. Called through
 * each_held_gpu with zeus__leases_lock held (the released lease is skipped: holders are others). */
static int hand_over(lease_gpu *g, zeus_lease *o, lease_gpu *h)
{
    if (atomic_load(&g->limit_changed))
        atomic_store(&h->limit_changed, true);
    if (atomic_load(&g->persistence_changed) && g->original_persistence >= 0) {
        h->original_persistence = g->original_persistence;
        atomic_store(&h->persistence_changed, true);
    }
    /* Clocks are put back by a reset: whoever locked them last, the holder resets them. */
    for (int d = 0; d < 2; d++) {
        if (!atomic_load(&g->clocks_changed[d]))
            continue;
        atomic_store(&h->clocks_changed[d], true);
        if (h->clocks_max_mhz[d] == 0) { /* what a commit of the holder keeps */
            h->clocks_min_mhz[d] = g->clocks_min_mhz[d];
            h->clocks_max_mhz[d] = g->clocks_max_mhz[d];
        }
    }
    g->handed_over = true;
    zeus__journal_sync(o, h); /* the holder's journal now covers what this one changed */
    return ZEUS_OK;
}

void zeus__lease_hand_over_all(zeus_lease *l)
{
    each_held_gpu(l, hand_over);
}
