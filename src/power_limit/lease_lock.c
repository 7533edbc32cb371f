/* The per-GPU advisory lock files and the lock directory. */
#include "power_limit/lease_internal.h"

#include "zeus/output.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return ZEUS_OK;
    return zeus__error(errno == EACCES ? ZEUS_EPERM : ZEUS_EIO, "cannot create %s: %s", path,
                       strerror(errno));
}

int zeus__dir_setting_set(zeus__dir_setting *s, const char *path, const char *what)
{
    if (path && strlen(path) >= sizeof s->path)
        return zeus__error(ZEUS_EINVAL, "%s path too long: %s", what, path);
    pthread_mutex_lock(&s->lock);
    zeus__strlcpy(s->path, path ? path : "", sizeof s->path);
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

void zeus__dir_setting_get(zeus__dir_setting *s, char *out, size_t size)
{
    pthread_mutex_lock(&s->lock);
    zeus__strlcpy(out, s->path, size);
    pthread_mutex_unlock(&s->lock);
}

/* zeus_set_lock_dir's choice (empty: the environment, then the defaults). */
static zeus__dir_setting lock_dir_set = {PTHREAD_MUTEX_INITIALIZER, ""};

int zeus_set_lock_dir(const char *path)
{
    return zeus__dir_setting_set(&lock_dir_set, path, "lock directory");
}

int zeus_lock_dir(char *path, size_t size)
{
    char chosen[sizeof lock_dir_set.path];
    zeus__dir_setting_get(&lock_dir_set, chosen, sizeof chosen);
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

void zeus__lease_gpu_path(const char *dir, const zeus_gpu_info *info, const char *suffix,
                          char *path, size_t size)
{
    char name[sizeof info->uuid];
    size_t n = 0;
    for (const char *c = info->uuid; *c && n + 1 < sizeof name; c++)
        name[n++] = (isalnum((unsigned char)*c) || *c == '-') ? *c : '_';
    name[n] = '\0';
    if (n == 0)
        snprintf(name, sizeof name, "index-%u", info->device_index);
    snprintf(path, size, "%s/gpu-%s%s", dir, name, suffix);
}

/* ---- breaking another process's lock (ZEUS_LEASE_FORCE) ----
 * The holder keeps its flock (it cannot be taken from it); a marker file beside the lock,
 * "<lock>.taken", names the holder (pid and start time) and who took the GPU. The holder checks
 * it before each change (refused, naming the taker) and on restore (nothing put back: the GPU
 * is the taker's now). */

static void taken_path(const char *lock_path, char *path, size_t size)
{
    snprintf(path, size, "%s.taken", lock_path);
}

static int break_lock(const char *path, unsigned gpu, pid_t holder)
{
    zeus__process_id who, me;
    if (zeus__process_identity(holder, &who) != ZEUS_OK)
        return zeus__error(ZEUS_ETIMEOUT, "GPU %u: its lock holder %ld is gone; try again", gpu,
                           (long)holder);
    zeus__process_identity(getpid(), &me);
    char marker[LOCK_PATH_MAX + 8], text[256];
    taken_path(path, marker, sizeof marker);
    int n = snprintf(text, sizeof text,
                     "holder_pid=%ld\nholder_start_time=%llu\ntaken_by_pid=%ld\n"
                     "taken_by_uid=%u\n",
                     (long)holder, who.start_time, (long)getpid(), (unsigned)geteuid());
    int rc = zeus_write_file(marker, text, (size_t)n);
    if (rc != ZEUS_OK)
        return zeus__error(rc, "GPU %u: cannot break the lease of process %ld: %s", gpu,
                           (long)holder, zeus_last_error());
    ZEUS_WARN("GPU %u: the lease of process %ld (uid %u) is broken by process %ld (uid %u) with "
              "force",
              gpu, (long)holder, (unsigned)who.uid, (long)getpid(), (unsigned)geteuid());
    return ZEUS_OK;
}

int zeus__lease_check_taken(const zeus_lease *l, const lease_gpu *g)
{
    if (!g->lock_path)
        return ZEUS_OK;
    char marker[LOCK_PATH_MAX + 8];
    taken_path(g->lock_path, marker, sizeof marker);
    char *text;
    size_t size;
    if (access(marker, F_OK) != 0 || zeus__read_file(marker, &text, &size) != ZEUS_OK)
        return ZEUS_OK;
    long holder = 0, by = 0;
    unsigned long long start = 0;
    unsigned by_uid = 0;
    int fields = sscanf(text,
                        "holder_pid=%ld holder_start_time=%llu taken_by_pid=%ld "
                        "taken_by_uid=%u",
                        &holder, &start, &by, &by_uid);
    free(text);
    if (fields != 4 || holder != (long)l->pid || start != l->self.start_time)
        return ZEUS_OK; /* another holder's (an earlier lease of this GPU) */
    return zeus__error(ZEUS_ESTATE,
                       "GPU %u was taken from this process by process %ld (uid %u) with force; "
                       "its settings are that process's now",
                       g->gpu, by, by_uid);
}

/* Takes the GPU's lock file, waiting up to wait_s for another holder; with force, a lock held
 * by another process is broken at once. */
static int take_lock(const char *path, unsigned gpu, double wait_s, bool force, int *out)
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
            long holder_pid = atol(holder);
            if (force && holder_pid > 0 && holder_pid != (long)getpid()) {
                int rc = break_lock(path, gpu, (pid_t)holder_pid);
                if (rc == ZEUS_OK) {
                    *out = fd; /* not locked: the holder keeps its flock until it lets go */
                    return ZEUS_OK;
                }
                close(fd);
                return rc;
            }
            close(fd);
            return zeus__error(ZEUS_ETIMEOUT,
                               "GPU %u is being changed by %s%s (lock %s held for more than %g "
                               "s); try again when it is done, or take it back as root with "
                               "'zeus power-limit set|reset --force'",
                               gpu, holder[0] ? "process " : "another process", holder, path,
                               wait_s);
        }
        zeus_sleep_ns(10 * 1000 * 1000);
    }
    /* A marker of a lock broken earlier belongs to a holding that is over now. */
    char marker[LOCK_PATH_MAX + 8];
    taken_path(path, marker, sizeof marker);
    unlink(marker);
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
int zeus__lease_take_locks(zeus_lease *l)
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
        zeus__lease_gpu_path(dir, &l->gpus[i].info, ".lock", locks[n].path, sizeof locks[n].path);
        locks[n++].gpu = i;
    }
    qsort(locks, n, sizeof *locks, compare_locks);
    bool force = l->flags & ZEUS_LEASE_FORCE;
    double wait_s = (l->flags & ZEUS_LEASE_NO_WAIT) || force ? 0 : ZEUS_LEASE_LOCK_WAIT_S;
    for (size_t k = 0; k < n && rc == ZEUS_OK; k++) {
        lease_gpu *g = &l->gpus[locks[k].gpu];
        rc = take_lock(locks[k].path, g->gpu, wait_s, force, &g->lock_fd);
        if (rc == ZEUS_OK && !(g->lock_path = strdup(locks[k].path)))
            rc = zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    free(locks);
    return rc;
}

/* Closing is enough (never LOCK_UN): a forked child sharing the descriptor must not drop the
 * parent's lock. */
void zeus__lease_drop_locks(zeus_lease *l)
{
    for (size_t i = 0; i < l->count; i++) {
        if (l->gpus[i].lock_fd >= 0)
            close(l->gpus[i].lock_fd);
        l->gpus[i].lock_fd = -1;
    }
}
