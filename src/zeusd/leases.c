/* Settings changed for clients, put back when the client process exits (docs/zeusd.md,
 * "Leases"). One libzeus lease per (GPU, client process); the first client to change a GPU
 * holds it until it exits; others get 409 meanwhile. */
#include "zeusd.h"

#include "zeus/common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    unsigned gpu;
    pid_t pid;
    uid_t uid;
    zeus_lease *lease;
} zd_client_lease;

/* A lease broken with force=true: its client's next change of the GPU is told who took it. */
typedef struct {
    unsigned gpu;
    pid_t former; /* 0: free slot */
    char by[128];
} zd_taken;

#define ZD_MAX_TAKEN 64

struct zd_leases {
    pthread_mutex_t lock;
    zd_taken taken[ZD_MAX_TAKEN];
    size_t next_taken;
    pthread_cond_t wake;
    bool stop;
    pthread_t sweeper;
    bool sweeper_started;
    zeus_devices *devices;
    zd_client_lease *items;
    size_t count, cap;
};

static void drop(zd_leases *l, size_t i)
{
    zeus_lease_release(l->items[i].lease);
    l->items[i] = l->items[--l->count];
}

static void sweep(zd_leases *l);

/* A lease whose client exited was put back by its watcher at once; this frees its GPU lock
 * soon after, so that other changers (zeus power-limit) need not wait for the next request. */
static void *sweeper_main(void *arg)
{
    zd_leases *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->stop) {
        sweep(l);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->wake, &l->lock, &ts);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

zd_leases *zd_leases_create(zeus_devices *devices)
{
    zd_leases *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->wake, NULL);
    l->devices = devices;
    l->sweeper_started = pthread_create(&l->sweeper, NULL, sweeper_main, l) == 0;
    return l;
}

/* Leases whose client is gone were already put back by their watcher; free their locks. */
static void sweep(zd_leases *l)
{
    for (size_t i = 0; i < l->count;) {
        if (zeus_lease_client_gone(l->items[i].lease)) {
            zd_log("INFO", "client pid %ld (uid %u) exited: GPU %u put back", (long)l->items[i].pid,
                   (unsigned)l->items[i].uid, l->items[i].gpu);
            drop(l, i);
        } else {
            i++;
        }
    }
    /* A broken lease's client that exited is told nothing more (its pid may come back). */
    for (size_t k = 0; k < ZD_MAX_TAKEN; k++)
        if (l->taken[k].former > 0 && kill(l->taken[k].former, 0) != 0 && errno == ESRCH)
            l->taken[k].former = 0;
}

void zd_leases_destroy(zd_leases *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    if (l->sweeper_started)
        pthread_join(l->sweeper, NULL);
    pthread_mutex_lock(&l->lock);
    sweep(l);
    while (l->count > 0) {
        zd_log("INFO", "shutting down: GPU %u put back (was changed by pid %ld)",
               l->items[l->count - 1].gpu, (long)l->items[l->count - 1].pid);
        drop(l, l->count - 1);
    }
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->wake);
    free(l->items);
    free(l);
}

size_t zd_leases_count(zd_leases *l)
{
    pthread_mutex_lock(&l->lock);
    sweep(l);
    size_t n = l->count;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static int apply_one(zeus_lease *lease, unsigned gpu, const zd_setting *c)
{
    switch (c->knob) {
    case ZD_SET_POWER_LIMIT:
        return zeus_lease_set_power_limit_mw(lease, gpu, c->value);
    case ZD_SET_PERSISTENCE:
        return zeus_lease_set_persistence_mode(lease, gpu, c->value != 0);
    case ZD_SET_GPU_CLOCKS:
    case ZD_SET_MEM_CLOCKS:
        return zeus_lease_set_locked_clocks(
            lease, gpu, c->knob == ZD_SET_GPU_CLOCKS ? ZEUS_CLOCK_GPU : ZEUS_CLOCK_MEMORY, c->value,
            c->value_max);
    case ZD_RESET_GPU_CLOCKS:
        return zeus_lease_reset_locked_clocks(lease, gpu, ZEUS_CLOCK_GPU);
    case ZD_RESET_MEM_CLOCKS:
        return zeus_lease_reset_locked_clocks(lease, gpu, ZEUS_CLOCK_MEMORY);
    case ZD_RESET_CLOCKS:
        break;
    }
    return ZEUS_EINVAL;
}

/* Carries out one setting; on failure err says why. */
static int apply(zeus_lease *lease, unsigned gpu, const zd_setting *c, char *err, size_t err_size)
{
    if (c->knob != ZD_RESET_CLOCKS) {
        int rc = apply_one(lease, gpu, c);
        if (rc != 0)
            snprintf(err, err_size, "%s", zeus_last_error());
        return rc;
    }
    /* Both domains are tried; the first error is the one reported (as the original). */
    const zd_setting gpu_clocks = {ZD_RESET_GPU_CLOCKS, 0, 0}, mem = {ZD_RESET_MEM_CLOCKS, 0, 0};
    char later[512];
    int rc = apply(lease, gpu, &gpu_clocks, err, err_size);
    int mem_rc =
        rc ? apply(lease, gpu, &mem, later, sizeof later) : apply(lease, gpu, &mem, err, err_size);
    return rc ? rc : mem_rc;
}

/* Adds a client's lease; false (lease released) when out of memory. Called with l->lock held. */
static bool add_item(zd_leases *l, unsigned gpu, pid_t pid, uid_t uid, zeus_lease *lease)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        zd_client_lease *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            zeus_lease_release(lease);
            return false;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = (zd_client_lease){gpu, pid, uid, lease};
    return true;
}

void zd_leases_recover(zd_leases *l)
{
    zeus_lease_journal_entry entries[ZD_MAX_IDS];
    size_t n;
    if (zeus_lease_journal_read(l->devices, entries, ZD_MAX_IDS, &n) != 0) {
        zd_log("WARN", "cannot read the lease journal: %s", zeus_last_error());
        return;
    }
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < n; i++) {
        const zeus_lease_journal_entry *e = &entries[i];
        unsigned gpu = e->gpu;
        if (!e->holder_alive) {
            size_t found;
            if (zeus_lease_recover(l->devices, &gpu, 1, NULL, &found) != 0)
                zd_log("ERROR", "GPU %u: cannot put back what client pid %ld left: %s", gpu,
                       (long)e->holder_pid, zeus_last_error());
            else
                zd_log("INFO", "GPU %u: client pid %ld (uid %u) is gone: put back to %g W", gpu,
                       (long)e->holder_pid, (unsigned)e->holder_uid, e->original_mw / 1000.0);
            continue;
        }
        /* The client lives: its lease goes on, with the original recorded before the crash (the
         * new lease takes it from the journal), watched as a new client is. */
        zeus_lease *lease;
        if (zeus_lease_create(l->devices, &gpu, 1, ZEUS_LEASE_PERSISTENCE | ZEUS_LEASE_NO_WAIT,
                              &lease) != 0) {
            zd_log("ERROR", "GPU %u: cannot take back the lease of client pid %ld: %s", gpu,
                   (long)e->holder_pid, zeus_last_error());
            continue;
        }
        if (zeus_lease_watch_pid(lease, e->holder_pid) != 0) {
            zeus_lease_release(lease); /* gone meanwhile: put back */
            continue;
        }
        if (add_item(l, gpu, e->holder_pid, e->holder_uid, lease))
            zd_log("INFO",
                   "GPU %u stays leased to client pid %ld (uid %u); put back to %g W when "
                   "it exits",
                   gpu, (long)e->holder_pid, (unsigned)e->holder_uid, e->original_mw / 1000.0);
    }
    pthread_mutex_unlock(&l->lock);
}

/* True (with the 409 message in err) once when pid's lease of gpu was broken. */
static bool was_taken(zd_leases *l, unsigned gpu, pid_t pid, char *err, size_t err_size)
{
    for (size_t k = 0; k < ZD_MAX_TAKEN; k++) {
        zd_taken *t = &l->taken[k];
        if (t->former != pid || t->gpu != gpu || pid <= 0)
            continue;
        snprintf(err, err_size,
                 "Invalid request: GPU %u was taken from this client by %s with force=true.", gpu,
                 t->by);
        t->former = 0;
        return true;
    }
    return false;
}

/* Breaks item i's lease for who (force=true): a new lease of this process takes the GPU over
 * with the same record (nested: the original is kept), the old one is let go without putting
 * anything back, and its client is told on its next change. Returns the new lease or NULL. */
static zeus_lease *break_lease(zd_leases *l, size_t i, const zd_requester *who, char *err,
                               size_t err_size)
{
    zd_client_lease old = l->items[i];
    zeus_lease *lease;
    if (zeus_lease_create(l->devices, &old.gpu, 1, ZEUS_LEASE_PERSISTENCE | ZEUS_LEASE_NO_WAIT,
                          &lease) != 0) {
        snprintf(err, err_size, "%s", zeus_last_error());
        return NULL;
    }
    zd_log("WARN", "GPU %u: the lease of client pid %ld (uid %u) is broken by %s with force=true",
           old.gpu, (long)old.pid, (unsigned)old.uid, who->name);
    zd_taken *t = &l->taken[l->next_taken++ % ZD_MAX_TAKEN];
    *t = (zd_taken){.gpu = old.gpu, .former = old.pid};
    snprintf(t->by, sizeof t->by, "%s", who->name);
    l->items[i] = l->items[--l->count];
    zeus_lease_release(old.lease); /* hands its changes over to the new lease */
    return lease;
}

int zd_leases_set(zd_leases *l, unsigned gpu, const zd_setting *setting, const zd_requester *who,
                  char *err, size_t err_size)
{
    int rc;
    zeus_lease *lease = NULL;
    pid_t pid = who->pid;
    uid_t uid = who->uid;
    bool persist = who->persist;
    pthread_mutex_lock(&l->lock);
    sweep(l);
    if (was_taken(l, gpu, pid, err, err_size)) {
        rc = ZEUS_ESTATE;
        goto done;
    }
    size_t i;
    for (i = 0; i < l->count && l->items[i].gpu != gpu; i++)
        ;
    if (i < l->count && l->items[i].pid != pid && who->force) {
        if (!(lease = break_lease(l, i, who, err, err_size))) {
            rc = ZEUS_ESTATE;
            goto done;
        }
        i = l->count;
    } else if (i < l->count && l->items[i].pid != pid) {
        snprintf(err, err_size,
                 "Invalid request: GPU %u is leased by process %ld (uid %u) until it exits "
                 "(root may take it with force=true).",
                 gpu, (long)l->items[i].pid, (unsigned)l->items[i].uid);
        rc = ZEUS_ESTATE;
        goto done;
    }
    if (lease) {
        /* taken over above */
    } else if (i < l->count) {
        lease = l->items[i].lease;
    } else {
        unsigned flags = ZEUS_LEASE_PERSISTENCE | ZEUS_LEASE_NO_WAIT;
        rc = zeus_lease_create(l->devices, &gpu, 1, who->force ? flags | ZEUS_LEASE_FORCE : flags,
                               &lease);
        if (rc != 0)
            goto fail_msg;
    }
    rc = apply(lease, gpu, setting, err, err_size);
    if (rc != 0) {
        if (i == l->count)
            zeus_lease_release(lease);
        goto done;
    }
    if (persist || pid <= 0) {
        /* Permanent: keep what was set, and drop the lease (its lock too). */
        zeus_lease_commit(lease);
        if (i < l->count)
            drop(l, i);
        else
            zeus_lease_release(lease);
        goto done;
    }
    if (i == l->count) {
        rc = zeus_lease_watch_pid(lease, pid);
        if (rc != 0) {
            /* The client is already gone: put back at once. */
            zeus_lease_release(lease);
            goto fail_msg;
        }
        if (!add_item(l, gpu, pid, uid, lease)) {
            rc = ZEUS_ENOMEM;
            snprintf(err, err_size, "out of memory");
            goto done;
        }
    }
    goto done;
fail_msg:
    snprintf(err, err_size, "%s", zeus_last_error());
done:
    pthread_mutex_unlock(&l->lock);
    return rc;
}
