/* Limit leases: recorded settings put back on release, at exit, on signals (through a restore
 * thread woken by an async-signal-safe handler) and when a watched client exits; per-GPU
 * advisory locks. See zeus/lease.h. */
#include "zeus/lease.h"

#include "core/internal.h"
#include "device/backend.h"

void zeus__lease_atfork(zeus__fork_phase phase); /* registered with core/fork.c */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOCK_PATH_MAX 4352 /* a directory of up to 4 KiB and a file name */

typedef struct {
    unsigned gpu;
    unsigned original_mw;
    unsigned current_mw;      /* as last set through the lease */
    int original_persistence; /* -1: not recorded */
    atomic_bool limit_changed, persistence_changed;
    /* Per zeus_clock_domain: locked through the lease (put back by a reset), to what. */
    atomic_bool clocks_changed[2];
    unsigned clocks_min_mhz[2], clocks_max_mhz[2];
    int lock_fd;
    bool nested;      /* another lease of this process held the GPU first: its record is ours */
    bool handed_over; /* released while another lease of this process holds it: not restored */
    zeus_gpu_info info;
} lease_gpu;

struct zeus_lease {
    zeus_lease *next; /* every lease of the process */
    zeus_devices *devices;
    pid_t pid; /* the process that created it: the only one that ever restores it */
    unsigned flags;
    size_t count;
    lease_gpu *gpus;
    pthread_mutex_t lock; /* serializes this lease's device changes */
    bool client_gone;     /* the watched client exited: changes refused */
    atomic_bool client_gone_seen, signalled;
    /* The watched client (zeus_lease_watch_pid). */
    bool watching;
    pthread_t watcher;
    pid_t watched_pid; /* 0 when watching a connection */
    int watch_fd;      /* pidfd, our duplicate of a connection, or -1 when polling a pid */
    int stop_pipe[2];  /* written by release to stop the watcher */
};

static pthread_mutex_t leases_lock = PTHREAD_MUTEX_INITIALIZER;
static zeus_lease *leases;
/* Serializes lease creation from looking for this process's holders of its GPUs to joining
 * `leases`, so that two threads leasing one GPU nest rather than wait on each other's lock. */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static bool exit_hook_registered;
/* Set by the restore thread while it handles a signal: changes are refused meanwhile. */
static atomic_bool signal_in_progress;

static const int handled_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define SIGNAL_COUNT ZEUS_ARRAY_LEN(handled_signals)

/* Signal state, changed under signals_lock; the handler reads only the pipe and the pid. */
static pthread_mutex_t signals_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous[SIGNAL_COUNT];
static bool installed[SIGNAL_COUNT];
static bool thread_running;
static pthread_t restore_thread;
static int pipe_fds[2] = {-1, -1};
static volatile sig_atomic_t handler_pipe = -1; /* write end, -1 when there is no thread */
static volatile sig_atomic_t handler_pid;       /* the process whose thread reads the pipe */

/* ---- restoring ---- */

static const char *watts(unsigned mw, char *buf, size_t size)
{
    snprintf(buf, size, "%g W", mw / 1000.0);
    return buf;
}

/* What a restore could not put back, logged once the locks are released (the log callback
 * may call the library). */
typedef struct {
    char text[1024];
    size_t len;
} restore_report;

static void report(restore_report *r, const char *fmt, ...) ZEUS_PRINTF(2, 3);
static void report(restore_report *r, const char *fmt, ...)
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

static void log_report(const restore_report *r, const char *why)
{
    if (r->len)
        ZEUS_WARN("%s: %s", why, r->text);
}

/* Puts back what the lease changed on one GPU. Called with l->lock held. Returns the first
 * failure. */
static int restore_gpu_locked(zeus_lease *l, lease_gpu *g, restore_report *r)
{
    int first = ZEUS_OK;
    char w[32];
    if (atomic_load(&g->limit_changed)) {
        int rc = zeus_gpu_set_power_limit_mw(l->devices, g->gpu, g->original_mw);
        if (rc == ZEUS_OK) {
            atomic_store(&g->limit_changed, false);
            g->current_mw = g->original_mw;
        } else {
            report(r, "%scannot put GPU %u back to %s: %s", r->len ? "; " : "", g->gpu,
                   watts(g->original_mw, w, sizeof w), zeus_last_error());
            first = rc;
        }
    }
    if (atomic_load(&g->persistence_changed) && g->original_persistence >= 0) {
        int rc = zeus_gpu_set_persistence_mode(l->devices, g->gpu, g->original_persistence);
        if (rc == ZEUS_OK) {
            atomic_store(&g->persistence_changed, false);
        } else {
            report(r, "%scannot put GPU %u's persistence mode back: %s", r->len ? "; " : "", g->gpu,
                   zeus_last_error());
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
            report(r, "%scannot unlock GPU %u's %s clocks: %s", r->len ? "; " : "", g->gpu,
                   d == ZEUS_CLOCK_GPU ? "GPU" : "memory", zeus_last_error());
            if (first == ZEUS_OK)
                first = rc;
        }
    }
    return first;
}

/* Puts back what the lease changed. Called with l->lock held. Returns the first failure. */
static int restore_locked(zeus_lease *l, restore_report *r)
{
    int first = ZEUS_OK;
    for (size_t i = 0; i < l->count; i++) {
        int rc = restore_gpu_locked(l, &l->gpus[i], r);
        if (first == ZEUS_OK)
            first = rc;
    }
    return first;
}

/* Restores every lease of this process that asked for it (a forked child skips its parent's). */
static void restore_all(unsigned flag, const char *why)
{
    pid_t self = getpid();
    restore_report r = {.len = 0};
    pthread_mutex_lock(&leases_lock);
    for (zeus_lease *l = leases; l; l = l->next) {
        if (l->pid != self || !(l->flags & flag))
            continue;
        pthread_mutex_lock(&l->lock);
        restore_locked(l, &r);
        if (flag == ZEUS_LEASE_RESTORE_ON_SIGNAL)
            atomic_store(&l->signalled, true);
        pthread_mutex_unlock(&l->lock);
    }
    pthread_mutex_unlock(&leases_lock);
    log_report(&r, why);
}

static void exit_hook(void)
{
    restore_all(ZEUS_LEASE_RESTORE_AT_EXIT, "at exit");
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

/* Another lease of this process holding g's GPU, or NULL. Called with leases_lock held. */
static lease_gpu *holder_of(const zeus_lease *l, const lease_gpu *g, zeus_lease **owner)
{
    for (zeus_lease *o = leases; o; o = o->next) {
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
 * there), with that lease's lock held; stops at fn's first failure. Called with leases_lock
 * held. */
static int each_held_gpu(zeus_lease *l, int (*fn)(lease_gpu *g, lease_gpu *h))
{
    int rc = ZEUS_OK;
    for (size_t i = 0; i < l->count && rc == ZEUS_OK; i++) {
        zeus_lease *o;
        lease_gpu *h = holder_of(l, &l->gpus[i], &o);
        if (!h)
            continue;
        pthread_mutex_lock(&o->lock);
        rc = fn(&l->gpus[i], h);
        pthread_mutex_unlock(&o->lock);
    }
    return rc;
}

/* A GPU this process already leases is not locked again (that would wait for ourselves): the
 * new lease shares the holder's lock and takes its record of what to put back. */
static int join_holder(lease_gpu *g, lease_gpu *h)
{
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
    return ZEUS_OK;
}

static int join_holders(zeus_lease *l)
{
    pthread_mutex_lock(&leases_lock);
    int rc = each_held_gpu(l, join_holder);
    pthread_mutex_unlock(&leases_lock);
    return rc;
}

/* On release: a GPU another lease of this process still holds is left to that lease, with what
 * this one changed, so that it is put back when the last of them is released. Called through
 * each_held_gpu with leases_lock held, the released lease already out of `leases`. */
static int hand_over(lease_gpu *g, lease_gpu *h)
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
    return ZEUS_OK;
}

/* ---- locks ---- */

static int make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return ZEUS_OK;
    return zeus__error(errno == EACCES ? ZEUS_EPERM : ZEUS_EIO, "cannot create %s: %s", path,
                       strerror(errno));
}

/* zeus_set_lock_dir's choice (empty: the environment, then the defaults). */
static pthread_mutex_t lock_dir_lock = PTHREAD_MUTEX_INITIALIZER;
static char lock_dir_set[LOCK_PATH_MAX - 128];

int zeus_set_lock_dir(const char *path)
{
    if (path && strlen(path) >= sizeof lock_dir_set)
        return zeus__error(ZEUS_EINVAL, "lock directory path too long: %s", path);
    pthread_mutex_lock(&lock_dir_lock);
    zeus__strlcpy(lock_dir_set, path ? path : "", sizeof lock_dir_set);
    pthread_mutex_unlock(&lock_dir_lock);
    return ZEUS_OK;
}

int zeus_lock_dir(char *path, size_t size)
{
    char chosen[sizeof lock_dir_set];
    pthread_mutex_lock(&lock_dir_lock);
    zeus__strlcpy(chosen, lock_dir_set, sizeof chosen);
    pthread_mutex_unlock(&lock_dir_lock);
    const char *env = chosen[0] ? chosen : getenv("ZEUS_LOCK_DIR");
    if (env && *env) {
        zeus__strlcpy(path, env, size);
        /* mkdir -p */
        for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            int rc = make_dir(path, 0755);
            *slash = '/';
            if (rc != ZEUS_OK)
                return rc;
        }
        return make_dir(path, 0755);
    }
    if ((mkdir("/run/zeus", 0755) == 0 || errno == EEXIST) && access("/run/zeus", W_OK) == 0) {
        zeus__strlcpy(path, "/run/zeus", size);
        return ZEUS_OK;
    }
    snprintf(path, size, "/tmp/zeus-locks-%u", (unsigned)getuid());
    int rc = make_dir(path, 0700);
    if (rc != ZEUS_OK)
        return rc;
    /* Not a directory someone else planted for us. */
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
        return zeus__error(ZEUS_EPERM, "%s is not a directory of this user (set ZEUS_LOCK_DIR)",
                           path);
    return ZEUS_OK;
}

static void lock_path(const char *dir, const zeus_gpu_info *info, char *path, size_t size)
{
    char name[sizeof info->uuid];
    size_t n = 0;
    for (const char *c = info->uuid; *c && n + 1 < sizeof name; c++)
        name[n++] = (isalnum((unsigned char)*c) || *c == '-') ? *c : '_';
    name[n] = '\0';
    if (n == 0)
        snprintf(name, sizeof name, "index-%u", info->device_index);
    snprintf(path, size, "%s/gpu-%s.lock", dir, name);
}

/* Takes the GPU's lock file, waiting up to wait_s for another holder. */
static int take_lock(const char *path, unsigned gpu, double wait_s, int *out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == EACCES)
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* another user's file */
    if (fd < 0)
        return zeus__error(errno == EACCES ? ZEUS_EPERM : ZEUS_EIO,
                           "GPU %u: cannot open the lock file %s: %s", gpu, path, strerror(errno));
    int64_t deadline = zeus_now_ns() + (int64_t)(wait_s * 1e9);
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || zeus_now_ns() >= deadline) {
            char holder[32] = "";
            ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
            close(fd);
            return zeus__error(ZEUS_ETIMEOUT,
                               "GPU %u is being changed by %s%s (lock %s held for more than %g "
                               "s); try again when it is done",
                               gpu, holder[0] ? "process " : "another process", holder, path,
                               wait_s);
        }
        zeus_sleep_ns(10 * 1000 * 1000);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n) {
        /* best effort: the pid only makes a waiting process's message better */
    }
    *out = fd;
    return ZEUS_OK;
}

typedef struct {
    char path[LOCK_PATH_MAX];
    size_t gpu; /* position in the lease */
} lock_entry;

static int compare_locks(const void *a, const void *b)
{
    return strcmp(((const lock_entry *)a)->path, ((const lock_entry *)b)->path);
}

/* Locks every GPU of the lease in one global order (by path), so that two leases over the same
 * GPUs cannot each hold one and wait for the other. */
static int take_locks(zeus_lease *l)
{
    char dir[LOCK_PATH_MAX - 128];
    int rc = zeus_lock_dir(dir, sizeof dir);
    if (rc != ZEUS_OK)
        return rc;
    lock_entry *locks = calloc(l->count, sizeof *locks);
    if (!locks)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++) {
        if (l->gpus[i].lock_fd >= 0)
            continue; /* shared with another lease of this process */
        lock_path(dir, &l->gpus[i].info, locks[n].path, sizeof locks[n].path);
        locks[n++].gpu = i;
    }
    qsort(locks, n, sizeof *locks, compare_locks);
    double wait_s = (l->flags & ZEUS_LEASE_NO_WAIT) ? 0 : ZEUS_LEASE_LOCK_WAIT_S;
    for (size_t k = 0; k < n && rc == ZEUS_OK; k++) {
        lease_gpu *g = &l->gpus[locks[k].gpu];
        rc = take_lock(locks[k].path, g->gpu, wait_s, &g->lock_fd);
    }
    free(locks);
    return rc;
}

/* Closing is enough (never LOCK_UN): a forked child sharing the descriptor must not drop the
 * parent's lock. */
static void drop_locks(zeus_lease *l)
{
    for (size_t i = 0; i < l->count; i++) {
        if (l->gpus[i].lock_fd >= 0)
            close(l->gpus[i].lock_fd);
        l->gpus[i].lock_fd = -1;
    }
}

/* ---- creation and release ---- */

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
    if (!g->nested)
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
    drop_locks(l);
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
    zeus__fork_register(zeus__lease_atfork, 4); /* the power_limit floor */
    pthread_mutex_lock(&create_lock);
    if ((rc = join_holders(l)) != ZEUS_OK ||
        (!zeus__devices_gpu_settings_private(devices) && (rc = take_locks(l)) != ZEUS_OK))
        goto fail_locked;
    for (size_t i = 0; i < count; i++)
        if ((rc = record(l, &l->gpus[i])) != ZEUS_OK)
            goto fail_locked;
    pthread_mutex_lock(&leases_lock);
    l->next = leases;
    leases = l;
    if ((flags & ZEUS_LEASE_RESTORE_AT_EXIT) && !exit_hook_registered && atexit(exit_hook) == 0)
        exit_hook_registered = true;
    pthread_mutex_unlock(&leases_lock);
    pthread_mutex_unlock(&create_lock);
    *out = l;
    return ZEUS_OK;
fail_locked:
    pthread_mutex_unlock(&create_lock);
fail:
    lease_free(l);
    return rc;
}

static void stop_watcher(zeus_lease *l)
{
    if (!l->watching)
        return;
    if (write(l->stop_pipe[1], "x", 1) != 1) {
        /* the pipe is ours and empty: cannot fail short of a bug */
    }
    pthread_join(l->watcher, NULL);
    l->watching = false;
}

static void close_watch_fds(zeus_lease *l)
{
    int *fds[] = {&l->watch_fd, &l->stop_pipe[0], &l->stop_pipe[1]};
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(fds); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

void zeus_lease_release(zeus_lease *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&leases_lock);
    for (zeus_lease **p = &leases; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    bool own = l->pid == getpid();
    if (own)
        each_held_gpu(l, hand_over);
    pthread_mutex_unlock(&leases_lock);
    if (own) {
        stop_watcher(l);
        restore_report r = {.len = 0};
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < l->count; i++)
            if (!l->gpus[i].handed_over)
                restore_gpu_locked(l, &l->gpus[i], &r);
        pthread_mutex_unlock(&l->lock);
        log_report(&r, "lease release");
    }
    close_watch_fds(l);
    lease_free(l);
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
    if (atomic_load(&signal_in_progress))
        return zeus__error(ZEUS_ESTATE, "a signal is being handled: limits are being restored");
    return ZEUS_OK;
}

static int check_range(const lease_gpu *g, unsigned limit_mw)
{
    const zeus_gpu_info *i = &g->info;
    if (!i->power_limit_valid)
        return zeus__error(ZEUS_ENOTSUP, "GPU %u (%s) does not report a power-limit range", g->gpu,
                           i->name);
    if (limit_mw < i->min_power_limit_mw || limit_mw > i->max_power_limit_mw)
        return zeus__error(ZEUS_ERANGE, "%g W is outside GPU %u's range %g-%g W", limit_mw / 1000.0,
                           g->gpu, i->min_power_limit_mw / 1000.0, i->max_power_limit_mw / 1000.0);
    return ZEUS_OK;
}

/* Called with l->lock held. Marked changed before the call, so a restore that runs after a
 * failure half-way (a timeout that did change it) still puts it back. */
static int set_one(zeus_lease *l, lease_gpu *g, unsigned limit_mw)
{
    atomic_store(&g->limit_changed, true);
    int rc = zeus_gpu_set_power_limit_mw(l->devices, g->gpu, limit_mw);
    if (rc == ZEUS_OK) {
        g->current_mw = limit_mw;
        atomic_store(&g->limit_changed, limit_mw != g->original_mw);
    }
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
    if (rc == ZEUS_OK) {
        atomic_store(&g->persistence_changed, true);
        rc = zeus_gpu_set_persistence_mode(l->devices, gpu, enabled);
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
    if (rc == ZEUS_OK) {
        bool before = atomic_exchange(&g->clocks_changed[domain], true);
        rc = set ? zeus_gpu_set_locked_clocks(l->devices, gpu, domain, min_mhz, max_mhz)
                 : zeus_gpu_reset_locked_clocks(l->devices, gpu, domain);
        if (rc == ZEUS_OK) {
            g->clocks_min_mhz[domain] = min_mhz;
            g->clocks_max_mhz[domain] = max_mhz;
            /* Unlocked is what a restore would leave: nothing to put back. */
            atomic_store(&g->clocks_changed[domain], set);
        } else if (rc == ZEUS_EINVAL || rc == ZEUS_ENOTSUP || rc == ZEUS_EPERM) {
            /* Refused (min above max, not supported, no permission): nothing changed. */
            atomic_store(&g->clocks_changed[domain], before);
        }
    }
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
    int rc = restore_locked(l, &r);
    pthread_mutex_unlock(&l->lock);
    log_report(&r, "lease restore");
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
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* ---- the watched client ---- */

static bool client_exited(pid_t pid)
{
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    /* A zombie (exited, not yet reaped) still answers kill(). */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

static void *watcher_main(void *arg)
{
    zeus_lease *l = arg;
    /* A pidfd is readable when the process exits; a connection hangs up when its peer closes. */
    short events = l->watched_pid ? POLLIN : POLLRDHUP;
    struct pollfd fds[2] = {{.fd = l->stop_pipe[0], .events = POLLIN},
                            {.fd = l->watch_fd, .events = events}};
    for (;;) {
        /* Without a pidfd (kernels before 5.3) the process is polled every 50 ms. */
        int n = poll(fds, l->watch_fd >= 0 ? 2 : 1, l->watch_fd >= 0 ? -1 : 50);
        if (n < 0 && errno != EINTR)
            return NULL;
        if (n > 0 && fds[0].revents)
            return NULL; /* released */
        bool gone = l->watch_fd >= 0 ? n > 0 && fds[1].revents : client_exited(l->watched_pid);
        if (!gone)
            continue;
        zeus__no_fork_begin();
        restore_report r = {.len = 0};
        pthread_mutex_lock(&l->lock);
        restore_locked(l, &r);
        l->client_gone = true;
        pthread_mutex_unlock(&l->lock);
        zeus__no_fork_end();
        log_report(&r, "lease client gone");
        atomic_store(&l->client_gone_seen, true);
        if (l->watched_pid)
            ZEUS_INFO("lease: client process %ld exited; its changes were put back",
                      (long)l->watched_pid);
        else
            ZEUS_INFO("lease: the client's connection closed; its changes were put back");
        return NULL;
    }
}

/* Starts the watcher over l->watch_fd (or l->watched_pid polled). */
static int start_watcher(zeus_lease *l)
{
    if (pipe2(l->stop_pipe, O_CLOEXEC) != 0) {
        int rc = zeus__error(ZEUS_EIO, "cannot make a pipe: %s", strerror(errno));
        close_watch_fds(l);
        return rc;
    }
    if (pthread_create(&l->watcher, NULL, watcher_main, l) != 0) {
        close_watch_fds(l);
        return zeus__error(ZEUS_ENOMEM, "cannot start the lease watcher thread");
    }
    l->watching = true;
    return ZEUS_OK;
}

static int check_not_watching(const zeus_lease *l)
{
    if (!l->watching)
        return ZEUS_OK;
    if (l->watched_pid)
        return zeus__error(ZEUS_ESTATE, "this lease already watches process %ld",
                           (long)l->watched_pid);
    return zeus__error(ZEUS_ESTATE, "this lease already watches a connection");
}

int zeus_lease_watch_pid(zeus_lease *l, pid_t pid)
{
    if (pid <= 0)
        return zeus__error(ZEUS_EINVAL, "cannot watch process %ld", (long)pid);
    int rc = check_not_watching(l);
    if (rc != ZEUS_OK)
        return rc;
#ifdef SYS_pidfd_open
    l->watch_fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (l->watch_fd < 0 && errno == ESRCH)
        return zeus__error(ZEUS_ENOENT, "process %ld does not exist", (long)pid);
#endif
    if (l->watch_fd < 0 && kill(pid, 0) != 0 && errno == ESRCH)
        return zeus__error(ZEUS_ENOENT, "process %ld does not exist", (long)pid);
    l->watched_pid = pid;
    return start_watcher(l);
}

int zeus_lease_watch_connection(zeus_lease *l, int fd)
{
    int rc = check_not_watching(l);
    if (rc != ZEUS_OK)
        return rc;
    /* Our own reference: the caller may close its descriptor, only the peer's close counts. */
    l->watch_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (l->watch_fd < 0)
        return zeus__error(ZEUS_EINVAL, "cannot watch descriptor %d: %s", fd, strerror(errno));
    l->watched_pid = 0;
    return start_watcher(l);
}

/* ---- signals ---- */

static size_t signal_slot(int sig)
{
    for (size_t i = 0; i < SIGNAL_COUNT; i++)
        if (handled_signals[i] == sig)
            return i;
    return 0;
}

/* Async-signal-safe: one write of the siginfo (atomic below PIPE_BUF). Where no restore thread
 * reads the pipe in this process (a forked child before its fork handler ran), the signal goes
 * straight on as if we were not there. */
static void signal_handler(int sig, siginfo_t *info, void *context)
{
    int saved_errno = errno;
    int fd = handler_pipe;
    if (fd >= 0 && handler_pid == getpid()) {
        if (write(fd, info, sizeof *info) != (ssize_t)sizeof *info) {
            /* pipe full: a restore is already on its way */
        }
    } else {
        const struct sigaction *prev = &previous[signal_slot(sig)];
        if (prev->sa_flags & SA_SIGINFO) {
            if (prev->sa_sigaction)
                prev->sa_sigaction(sig, info, context);
        } else if (prev->sa_handler == SIG_DFL) {
            sigaction(sig, prev, NULL);
            raise(sig); /* delivered when we return: blocked while we run */
        } else if (prev->sa_handler != SIG_IGN) {
            prev->sa_handler(sig);
        }
    }
    errno = saved_errno;
}

static bool is_ours(int sig)
{
    struct sigaction cur;
    return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == signal_handler;
}

/* What the signal would have done without us, from the restore thread. */
static void pass_on(const siginfo_t *info)
{
    int sig = info->si_signo;
    size_t i = signal_slot(sig);
    pthread_mutex_lock(&signals_lock);
    struct sigaction prev = previous[i];
    pthread_mutex_unlock(&signals_lock);
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction)
            prev.sa_sigaction(sig, (siginfo_t *)info, NULL);
    } else if (prev.sa_handler == SIG_DFL) {
        /* Die of the signal, as without us: the default action, raised in this thread with it
         * unblocked here. */
        sigaction(sig, &prev, NULL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
    } else if (prev.sa_handler != SIG_IGN) {
        prev.sa_handler(sig);
    }
}

static void *restore_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        siginfo_t info;
        ssize_t n = read(fd, &info, sizeof info);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof info || info.si_signo == 0)
            return NULL; /* closed, or zeus_uninstall_signal_handlers */
        atomic_store(&signal_in_progress, true);
        zeus__no_fork_begin();
        restore_all(ZEUS_LEASE_RESTORE_ON_SIGNAL, "on a signal");
        zeus__no_fork_end();
        pass_on(&info);
        /* Still alive: the previous handler let the process go on. */
        atomic_store(&signal_in_progress, false);
    }
}

/* Called with signals_lock held. */
static void uninstall_locked(bool stop_thread)
{
    for (size_t i = 0; i < SIGNAL_COUNT; i++) {
        if (installed[i] && is_ours(handled_signals[i]))
            sigaction(handled_signals[i], &previous[i], NULL);
        installed[i] = false;
    }
    handler_pipe = -1;
    if (thread_running && stop_thread) {
        siginfo_t stop;
        memset(&stop, 0, sizeof stop);
        if (write(pipe_fds[1], &stop, sizeof stop) == (ssize_t)sizeof stop &&
            !pthread_equal(pthread_self(), restore_thread))
            pthread_join(restore_thread, NULL);
        else
            pthread_detach(restore_thread);
    }
    thread_running = false;
    for (int k = 0; k < 2; k++) {
        if (pipe_fds[k] >= 0)
            close(pipe_fds[k]);
        pipe_fds[k] = -1;
    }
}

int zeus_install_signal_handlers(void)
{
    zeus__fork_register(zeus__lease_atfork, 4); /* the power_limit floor */
    pthread_mutex_lock(&signals_lock);
    int rc = ZEUS_OK;
    if (thread_running)
        goto done;
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        rc = zeus__error(ZEUS_EIO, "cannot make the signal pipe: %s", strerror(errno));
        goto done;
    }
    fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
    /* The thread blocks every signal: it must never run our handler itself. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int created =
        pthread_create(&restore_thread, NULL, restore_main, (void *)(intptr_t)pipe_fds[0]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (created != 0) {
        uninstall_locked(false);
        rc = zeus__error(ZEUS_ENOMEM, "cannot start the restore thread");
        goto done;
    }
    thread_running = true;
    handler_pid = getpid();
    handler_pipe = pipe_fds[1];
    for (size_t i = 0; i < SIGNAL_COUNT; i++) {
        int sig = handled_signals[i];
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) != 0)
            continue;
        /* An ignored signal cannot end the process: nothing to restore. */
        if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN)
            continue;
        struct sigaction act;
        memset(&act, 0, sizeof act);
        act.sa_sigaction = signal_handler;
        act.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&act.sa_mask);
        previous[i] = cur;
        if (sigaction(sig, &act, NULL) == 0)
            installed[i] = true;
    }
done:
    pthread_mutex_unlock(&signals_lock);
    return rc;
}

void zeus_uninstall_signal_handlers(void)
{
    pthread_mutex_lock(&signals_lock);
    uninstall_locked(true);
    pthread_mutex_unlock(&signals_lock);
}

static bool handlers_installed(void)
{
    pthread_mutex_lock(&signals_lock);
    bool yes = thread_running;
    pthread_mutex_unlock(&signals_lock);
    return yes;
}

/* ---- fork ---- */

void zeus__lease_atfork(zeus__fork_phase phase)
{
    if (phase == ZEUS__FORK_PREPARE) {
        pthread_mutex_lock(&signals_lock);
        pthread_mutex_lock(&leases_lock);
        return;
    }
    if (phase == ZEUS__FORK_CHILD) {
        /* The child has neither the restore thread nor the watchers; the parent's leases stay
         * the parent's (their pid says so), and their locks are not the child's to keep. */
        for (zeus_lease *l = leases; l; l = l->next) {
            drop_locks(l);
            l->watching = false;
        }
        handler_pipe = -1;
        uninstall_locked(false);
        atomic_store(&signal_in_progress, false);
    }
    pthread_mutex_unlock(&leases_lock);
    pthread_mutex_unlock(&signals_lock);
}

/* ---- several GPUs at once ---- */

int zeus_power_limit_set_many(zeus_devices *devices, const unsigned *gpus, size_t count,
                              unsigned limit_mw, zeus_power_limit_change *changes)
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
        if (!info.power_limit_valid) {
            rc = zeus__error(ZEUS_ENOTSUP, "GPU %u (%s) does not report a power-limit range", gpu,
                             info.name);
            goto done;
        }
        limits[i] = limit_mw == ZEUS_POWER_LIMIT_DEFAULT ? info.default_power_limit_mw : limit_mw;
        if (limits[i] < info.min_power_limit_mw || limits[i] > info.max_power_limit_mw) {
            rc = zeus__error(ZEUS_ERANGE, "%g W is outside GPU %u's range %g-%g W",
                             limits[i] / 1000.0, gpu, info.min_power_limit_mw / 1000.0,
                             info.max_power_limit_mw / 1000.0);
            goto done;
        }
    }
    /* No handler of ours: keep the signals out of this thread until it is done or undone (a
     * signal meanwhile is delivered after, and finds every GPU changed or none). */
    sigset_t block, old;
    sigemptyset(&block);
    bool installed_now = handlers_installed();
    if (!installed_now)
        for (size_t i = 0; i < SIGNAL_COUNT; i++)
            sigaddset(&block, handled_signals[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = zeus_lease_create(devices, gpus, count, ZEUS_LEASE_RESTORE_ON_SIGNAL, &lease);
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
