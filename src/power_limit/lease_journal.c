/* The lease journal: what a lease must put back, one small file per GPU, written and fsynced
 * before a change is applied and removed once it is put back, so that a GPU left changed by a
 * holder that died without a word (kill -9, the OOM killer) is put back by the next lease of
 * that GPU, `zeus power-limit reset|recover`, or a restarting zeusd. The format (key=value
 * lines) is documented in docs/power-limit.md. A holder is a process identified by its pid and
 * its start time (field 22 of /proc/PID/stat) and the boot, so a reused pid is not taken for it. */
#include "power_limit/lease_internal.h"

#include "zeus/output.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_SUFFIX ".journal"
#define JOURNAL_TEXT_MAX 1024

/* zeus_set_journal_dir's choice (empty: the lock directory). */
static zeus__dir_setting journal_dir_set = {PTHREAD_MUTEX_INITIALIZER, ""};

int zeus_set_journal_dir(const char *path)
{
    return zeus__dir_setting_set(&journal_dir_set, path, "journal directory");
}

int zeus_journal_dir(char *path, size_t size)
{
    char chosen[sizeof journal_dir_set.path];
    zeus__dir_setting_get(&journal_dir_set, chosen, sizeof chosen);
    if (!chosen[0])
        return zeus_lock_dir(path, size);
    zeus__strlcpy(path, chosen, size);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return zeus__error(errno == EACCES ? ZEUS_EPERM : ZEUS_EIO,
                           "cannot create the lease journal directory %s: %s", path,
                           strerror(errno));
    return ZEUS_OK;
}

/* Whether the holder a journal names still runs: the same pid, start time and boot. */
static bool holder_alive(const zeus__journal_record *rec)
{
    if (rec->holder.pid <= 0)
        return false;
    zeus__process_id now;
    if (zeus__process_identity(rec->holder.pid, &now) != ZEUS_OK || now.zombie)
        return false;
    if (now.start_time != rec->holder.start_time)
        return false; /* the pid was reused */
    return !rec->holder.boot_id[0] || !now.boot_id[0] ||
           strcmp(rec->holder.boot_id, now.boot_id) == 0;
}

/* ---- the file ---- */

static int journal_path(const zeus_gpu_info *info, char *path, size_t size)
{
    char dir[LOCK_PATH_MAX - 128];
    int rc = zeus_journal_dir(dir, sizeof dir);
    if (rc == ZEUS_OK)
        zeus__lease_gpu_path(dir, info, JOURNAL_SUFFIX, path, size);
    return rc;
}

static size_t format_record(const zeus__journal_record *r, char *text, size_t size)
{
    int n = snprintf(text, size,
                     "# zeus lease journal: what to put back on this GPU if its holder is gone "
                     "(docs/power-limit.md)\n"
                     "version=1\nuuid=%s\nindex=%u\n"
                     "power_limit_changed=%d\noriginal_power_limit_mw=%u\n"
                     "persistence_changed=%d\noriginal_persistence=%d\n"
                     "gpu_clocks_locked=%d\nmemory_clocks_locked=%d\n"
                     "holder_pid=%ld\nholder_start_time=%llu\nholder_uid=%u\nboot_id=%s\n",
                     r->uuid, r->index, r->limit_changed, r->original_mw, r->persistence_changed,
                     r->original_persistence, r->clocks_changed[0], r->clocks_changed[1],
                     (long)r->holder.pid, r->holder.start_time, (unsigned)r->holder.uid,
                     r->holder.boot_id);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* Reads a number field; false (with the error set) when malformed. */
static bool number(const char *path, int line, const char *key, const char *value,
                   unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-' || v > max) {
        zeus__error(ZEUS_EPARSE, "%s:%d: %s = '%s' is not a number in 0..%llu", path, line, key,
                    value, max);
        return false;
    }
    *out = v;
    return true;
}

int zeus__journal_parse(const char *path, char *text, zeus__journal_record *r)
{
    memset(r, 0, sizeof *r);
    r->original_persistence = -1;
    bool have_limit = false, have_pid = false;
    int line = 0;
    for (char *save = NULL, *s = strtok_r(text, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
        line++;
        if (s[0] == '#' || s[0] == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return zeus__error(ZEUS_EPARSE, "%s:%d: expected key=value, got '%s'", path, line, s);
        *eq = '\0';
        const char *key = s, *value = eq + 1;
        unsigned long long v = 0;
        bool ok = true;
        if (strcmp(key, "uuid") == 0) {
            zeus__strlcpy(r->uuid, value, sizeof r->uuid);
        } else if (strcmp(key, "boot_id") == 0) {
            zeus__strlcpy(r->holder.boot_id, value, sizeof r->holder.boot_id);
        } else if (strcmp(key, "original_persistence") == 0) {
            r->original_persistence = strcmp(value, "-1") == 0  ? -1
                                      : strcmp(value, "1") == 0 ? 1
                                                                : 0;
            ok = strcmp(value, "-1") == 0 || strcmp(value, "0") == 0 || strcmp(value, "1") == 0;
            if (!ok)
                zeus__error(ZEUS_EPARSE, "%s:%d: original_persistence = '%s' is not -1, 0 or 1",
                            path, line, value);
        } else if (strcmp(key, "version") == 0) {
            if ((ok = number(path, line, key, value, 1000, &v)) && v != 1)
                return zeus__error(ZEUS_EPARSE, "%s:%d: journal version %llu is not 1", path, line,
                                   v);
        } else if (strcmp(key, "index") == 0) {
            if ((ok = number(path, line, key, value, UINT32_MAX, &v)))
                r->index = (unsigned)v;
        } else if (strcmp(key, "original_power_limit_mw") == 0) {
            if ((ok = number(path, line, key, value, UINT32_MAX, &v)))
                r->original_mw = (unsigned)v, have_limit = true;
        } else if (strcmp(key, "holder_pid") == 0) {
            if ((ok = number(path, line, key, value, INT32_MAX, &v)))
                r->holder.pid = (pid_t)v, have_pid = true;
        } else if (strcmp(key, "holder_start_time") == 0) {
            ok = number(path, line, key, value, UINT64_MAX, &r->holder.start_time);
        } else if (strcmp(key, "holder_uid") == 0) {
            if ((ok = number(path, line, key, value, UINT32_MAX, &v)))
                r->holder.uid = (uid_t)v;
        } else {
            bool *flag = strcmp(key, "power_limit_changed") == 0    ? &r->limit_changed
                         : strcmp(key, "persistence_changed") == 0  ? &r->persistence_changed
                         : strcmp(key, "gpu_clocks_locked") == 0    ? &r->clocks_changed[0]
                         : strcmp(key, "memory_clocks_locked") == 0 ? &r->clocks_changed[1]
                                                                    : NULL;
            if (!flag)
                continue; /* a later version's field */
            if ((ok = number(path, line, key, value, 1, &v)))
                *flag = v != 0;
        }
        if (!ok)
            return ZEUS_EPARSE;
    }
    if (!have_limit || !have_pid)
        return zeus__error(ZEUS_EPARSE, "%s: missing %s", path,
                           have_limit ? "holder_pid" : "original_power_limit_mw");
    return ZEUS_OK;
}

/* Reads the GPU's journal: ZEUS_ENOENT when there is none. */
static int read_record(const char *path, zeus__journal_record *r)
{
    char *text;
    size_t size;
    int rc = zeus__read_file(path, &text, &size);
    if (rc != ZEUS_OK)
        return access(path, F_OK) != 0 && errno == ENOENT ? ZEUS_ENOENT : rc;
    rc = zeus__journal_parse(path, text, r);
    free(text);
    return rc;
}

/* Neither the removal nor the rename of a journal is followed by an fsync of the directory:
 * the file's own fsync is what a killed process needs, and a machine that crashes comes back
 * with its GPUs reset by the driver (a journal then found puts back what the GPU already has). */
static void remove_file(const char *path)
{
    unlink(path);
}

/* ---- a lease's GPU ---- */

static bool journaled(const zeus_lease *l)
{
    return !zeus__devices_gpu_settings_private(l->devices);
}

/* What the GPU's record says now. */
static void current_record(const zeus_lease *l, const lease_gpu *g, zeus__journal_record *r)
{
    memset(r, 0, sizeof *r);
    zeus__strlcpy(r->uuid, g->info.uuid, sizeof r->uuid);
    r->index = g->info.device_index;
    r->limit_changed = atomic_load(&g->limit_changed);
    r->original_mw = g->original_mw;
    r->persistence_changed = atomic_load(&g->persistence_changed) && g->original_persistence >= 0;
    r->original_persistence = g->original_persistence;
    for (int d = 0; d < 2; d++)
        r->clocks_changed[d] = atomic_load(&g->clocks_changed[d]);
    r->holder = l->holder;
}

static bool same_process(const zeus__process_id *a, const zeus__process_id *b)
{
    return a->pid == b->pid && a->start_time == b->start_time;
}

static bool anything_changed(const zeus__journal_record *r)
{
    return r->limit_changed || r->persistence_changed || r->clocks_changed[0] ||
           r->clocks_changed[1];
}

int zeus__journal_sync(zeus_lease *l, lease_gpu *g)
{
    if (!journaled(l) || l->pid != getpid())
        return ZEUS_OK;
    zeus__journal_record r;
    current_record(l, g, &r);
    char path[LOCK_PATH_MAX];
    if (!anything_changed(&r)) {
        if (g->journal_written && journal_path(&g->info, path, sizeof path) == ZEUS_OK) {
            /* Only a journal that names us (or the live holder we carried on): another
             * holder's record is not ours to drop. */
            zeus__journal_record on_disk;
            if (read_record(path, &on_disk) == ZEUS_OK &&
                (same_process(&on_disk.holder, &l->holder) ||
                 (g->adopted && same_process(&on_disk.holder, &g->adopted_from))))
                remove_file(path);
        }
        g->journal_written = false;
        return ZEUS_OK;
    }
    char text[JOURNAL_TEXT_MAX];
    size_t n = format_record(&r, text, sizeof text);
    if (g->journal_written && n == g->journal_len && memcmp(text, g->journal_text, n) == 0)
        return ZEUS_OK;
    int rc = journal_path(&g->info, path, sizeof path);
    if (rc == ZEUS_OK)
        rc = zeus_write_file(path, text, n); /* fsynced, then renamed into place */
    if (rc != ZEUS_OK)
        return zeus__error(rc,
                           "GPU %u: cannot write the lease journal (%s), so a crash could leave "
                           "it changed; refusing to change it%s",
                           g->gpu, zeus_last_error(),
                           rc == ZEUS_EPERM ? " (a journal another user left there is cleared by "
                                              "`zeus power-limit recover` as root or that user)"
                                            : "");
    g->journal_written = true;
    g->journal_len = n < sizeof g->journal_text ? n : sizeof g->journal_text;
    memcpy(g->journal_text, text, g->journal_len);
    return ZEUS_OK;
}

/* Puts back what a gone holder's journal says it changed. */
static int put_back(zeus_devices *devices, unsigned gpu, const zeus__journal_record *r)
{
    int rc;
    unsigned now_mw;
    if (r->limit_changed && (rc = zeus_gpu_power_limit_mw(devices, gpu, &now_mw)) == ZEUS_OK &&
        now_mw != r->original_mw)
        rc = zeus_gpu_set_power_limit_mw(devices, gpu, r->original_mw);
    if (r->limit_changed && rc != ZEUS_OK)
        return rc;
    if (r->persistence_changed && r->original_persistence >= 0 &&
        (rc = zeus_gpu_set_persistence_mode(devices, gpu, r->original_persistence)) != ZEUS_OK &&
        rc != ZEUS_ENOTSUP)
        return rc;
    for (int d = 0; d < 2; d++)
        if (r->clocks_changed[d] &&
            (rc = zeus_gpu_reset_locked_clocks(devices, gpu, (zeus_clock_domain)d)) != ZEUS_OK &&
            rc != ZEUS_ENOTSUP)
            return rc;
    /* Through a daemon (the zeusd knob backend) a change is the daemon's lease of this process,
     * undone when it exits: what is put back must stay. Elsewhere a no-op. */
    if (zeus_gpu_power_limit_mw(devices, gpu, &now_mw) == ZEUS_OK)
        zeus__devices_gpu_keep_power_limit(devices, gpu, now_mw);
    return ZEUS_OK;
}

int zeus__journal_take_over(zeus_lease *l, lease_gpu *g)
{
    if (!journaled(l))
        return ZEUS_OK;
    char path[LOCK_PATH_MAX];
    int rc = journal_path(&g->info, path, sizeof path);
    if (rc != ZEUS_OK)
        return rc;
    zeus__journal_record r;
    rc = read_record(path, &r);
    if (rc == ZEUS_ENOENT)
        return ZEUS_OK;
    if (rc != ZEUS_OK) {
        /* Nothing we can trust to put back: say so, and let our own record replace it. */
        ZEUS_WARN("lease journal: ignoring %s: %s", path, zeus_last_error());
        return ZEUS_OK;
    }
    char w[32];
    snprintf(w, sizeof w, "%g W", r.original_mw / 1000.0);
    char boot[40];
    zeus__boot_id(boot, sizeof boot);
    if (r.holder.boot_id[0] && boot[0] && strcmp(r.holder.boot_id, boot) != 0) {
        /* Written before the machine restarted: the driver has reset the GPU since. */
        ZEUS_INFO("GPU %u: dropping the lease journal of an earlier boot (%s)", g->gpu, path);
        remove_file(path);
        return ZEUS_OK;
    }
    if (!holder_alive(&r)) {
        /* Claimed first (renamed aside): a journal this process may not remove (another user's
         * in a shared sticky directory) is left for someone who may, not put back again and
         * again over later settings. */
        char claimed[LOCK_PATH_MAX + 32];
        snprintf(claimed, sizeof claimed, "%s.recovering-%ld", path, (long)getpid());
        if (rename(path, claimed) != 0) {
            ZEUS_WARN("GPU %u: process %ld (uid %u) left it changed and is gone, but its journal "
                      "%s cannot be taken over here (%s): run `zeus power-limit recover` as root "
                      "or as uid %u",
                      g->gpu, (long)r.holder.pid, (unsigned)r.holder.uid, path, strerror(errno),
                      (unsigned)r.holder.uid);
            return ZEUS_OK;
        }
        if ((rc = put_back(l->devices, g->gpu, &r)) != ZEUS_OK) {
            char reason[512];
            zeus__strlcpy(reason, zeus_last_error(), sizeof reason);
            if (rename(claimed, path) != 0)
                ZEUS_WARN("cannot put the lease journal %s back: %s", path, strerror(errno));
            return zeus__error(rc,
                               "GPU %u was left changed by process %ld, which is gone, and "
                               "cannot be put back (%s); its journal %s is kept",
                               g->gpu, (long)r.holder.pid, reason, path);
        }
        remove_file(claimed);
        ZEUS_WARN(
            "GPU %u: process %ld (uid %u) left it changed and is gone: put back to %s%s "
            "(from %s)",
            g->gpu, (long)r.holder.pid, (unsigned)r.holder.uid, w,
            r.persistence_changed && r.original_persistence >= 0
                ? (r.original_persistence ? ", persistence mode on" : ", persistence mode off")
                : "",
            path);
        return ZEUS_OK;
    }
    if (l->flags & ZEUS__LEASE_ONLY_GONE)
        return ZEUS_OK; /* the sweep: a live holder's journal is not touched */
    /* The holder lives but does not hold the GPU's lock (its daemon restarted, or the lease is
     * being broken): this lease carries on its record, so the GPU goes back to the true
     * original, not to what the holder set. */
    g->adopted = true;
    g->adopted_from = r.holder;
    g->journal_written = true; /* the file on disk is ours to rewrite or remove now */
    g->journal_len = 0;
    g->original_mw = r.original_mw;
    if (r.original_persistence >= 0) {
        g->original_persistence = r.original_persistence;
        atomic_store(&g->persistence_changed, r.persistence_changed);
    }
    for (int d = 0; d < 2; d++)
        atomic_store(&g->clocks_changed[d], r.clocks_changed[d]);
    ZEUS_INFO("GPU %u: carrying on the lease of live process %ld (original %s)", g->gpu,
              (long)r.holder.pid, w);
    return ZEUS_OK;
}

/* ---- the sweep's listing ---- */

int zeus__journal_list_gone(zeus__journal_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    char dir[LOCK_PATH_MAX - 128];
    int rc = zeus_journal_dir(dir, sizeof dir);
    if (rc != ZEUS_OK)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return zeus__error(ZEUS_EIO, "cannot read the lease journal directory %s: %s", dir,
                           strerror(errno));
    size_t cap = 0;
    const size_t suffix = strlen(JOURNAL_SUFFIX);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n <= suffix || strcmp(e->d_name + n - suffix, JOURNAL_SUFFIX) != 0)
            continue; /* a lock, a marker, a journal being recovered (".recovering-PID") */
        char path[LOCK_PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        zeus__journal_record r;
        /* One that does not parse is reported by the next lease of its GPU, not here. */
        if (read_record(path, &r) != ZEUS_OK || holder_alive(&r))
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 4;
            zeus__journal_record *grown = realloc(*out, cap * sizeof **out);
            if (!grown) {
                rc = zeus__error(ZEUS_ENOMEM, "out of memory");
                break;
            }
            *out = grown;
        }
        (*out)[(*count)++] = r;
    }
    closedir(d);
    if (rc != ZEUS_OK) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

/* ---- public: reading and recovering ---- */

long zeus__journal_gpu_of(zeus_devices *devices, const zeus__journal_record *r)
{
    unsigned n = zeus_gpu_count(devices);
    for (unsigned i = 0; i < n; i++) {
        zeus_gpu_info info;
        if (zeus_gpu_get_info(devices, i, &info) != ZEUS_OK)
            continue;
        if (r->uuid[0] ? strcmp(info.uuid, r->uuid) == 0 : info.device_index == r->index)
            return i;
    }
    return -1;
}

int zeus__journal_read_entry(zeus_devices *devices, unsigned gpu, zeus_lease_journal_entry *e,
                             bool *found)
{
    *found = false;
    zeus_gpu_info info;
    int rc = zeus_gpu_get_info(devices, gpu, &info);
    if (rc != ZEUS_OK)
        return rc;
    char path[LOCK_PATH_MAX];
    if ((rc = journal_path(&info, path, sizeof path)) != ZEUS_OK)
        return rc;
    zeus__journal_record r;
    rc = read_record(path, &r);
    if (rc == ZEUS_ENOENT)
        return ZEUS_OK;
    if (rc != ZEUS_OK)
        return rc;
    if (zeus__journal_gpu_of(devices, &r) != (long)gpu)
        return ZEUS_OK; /* another GPU's file (a UUID clash after sanitizing): not this one */
    char boot[40];
    zeus__boot_id(boot, sizeof boot);
    if (r.holder.boot_id[0] && boot[0] && strcmp(r.holder.boot_id, boot) != 0)
        return ZEUS_OK; /* an earlier boot's: nothing to put back (dropped by the next lease) */
    *e = (zeus_lease_journal_entry){.gpu = gpu,
                                    .holder_pid = r.holder.pid,
                                    .holder_uid = r.holder.uid,
                                    .holder_alive = holder_alive(&r),
                                    .original_mw = r.original_mw,
                                    .original_persistence =
                                        r.persistence_changed ? r.original_persistence : -1};
    *found = true;
    return ZEUS_OK;
}

int zeus_lease_journal_read(zeus_devices *devices, zeus_lease_journal_entry *entries, size_t max,
                            size_t *count)
{
    if (!devices || !count || (max && !entries))
        return zeus__error(ZEUS_EINVAL, "zeus_lease_journal_read: missing argument");
    *count = 0;
    if (zeus__devices_gpu_settings_private(devices))
        return ZEUS_OK;
    unsigned n = zeus_gpu_count(devices);
    for (unsigned i = 0; i < n && *count < max; i++) {
        bool found;
        int rc = zeus__journal_read_entry(devices, i, &entries[*count], &found);
        if (rc != ZEUS_OK)
            return rc;
        if (found)
            (*count)++;
    }
    return ZEUS_OK;
}
