/* Output files: one set of rules for every path (see zeus/output.h). */
#include "core/internal.h"
#include "zeus/output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SYMLINKS 40 /* as the kernel's ELOOP limit */

static bool is_stdout(const char *path)
{
    return strcmp(path, "-") == 0;
}

static int errno_code(int err)
{
    return err == EACCES || err == EPERM || err == EROFS ? ZEUS_EPERM
           : err == ENOENT || err == ENOTDIR             ? ZEUS_ENOENT
                                                         : ZEUS_EIO;
}

/* The directory part of path ("." for a bare name). */
static void dir_of(const char *path, char *dir, size_t size)
{
    zeus__strlcpy(dir, path, size);
    char *slash = strrchr(dir, '/');
    if (!slash)
        zeus__strlcpy(dir, ".", size);
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
}

/* Follows symbolic links (a dangling one too) to the path that is actually written. */
static int resolve(const char *path, char *out, size_t size)
{
    if (zeus__strlcpy(out, path, size) >= size)
        return zeus__error(ZEUS_EINVAL, "path too long: %s", path);
    for (int hops = 0; hops < MAX_SYMLINKS; hops++) {
        struct stat st;
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
            return ZEUS_OK;
        char target[PATH_MAX];
        ssize_t n = readlink(out, target, sizeof target - 1);
        if (n < 0 || (size_t)n >= sizeof target - 1)
            return zeus__error(ZEUS_EIO, "cannot read the link %s: %s", out,
                               n < 0 ? strerror(errno) : "target too long");
        target[n] = '\0';
        if (target[0] == '/') {
            zeus__strlcpy(out, target, size);
        } else {
            char dir[PATH_MAX];
            dir_of(out, dir, sizeof dir);
            if ((size_t)snprintf(out, size, "%s/%s", dir, target) >= size)
                return zeus__error(ZEUS_EINVAL, "path too long: %s", path);
        }
    }
    return zeus__error(ZEUS_EINVAL, "%s: too many levels of symbolic links", path);
}

/* The nearest existing ancestor directory of a path that does not exist must be writable. */
static int check_missing(const char *path, const char *shown)
{
    char dir[PATH_MAX];
    zeus__strlcpy(dir, path, sizeof dir);
    for (;;) {
        char parent[PATH_MAX];
        dir_of(dir, parent, sizeof parent);
        struct stat st;
        if (stat(parent, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                return zeus__error(ZEUS_ENOENT, "cannot write %s: %s is not a directory", shown,
                                   parent);
            if (access(parent, W_OK | X_OK) != 0)
                return zeus__error(errno_code(errno), "cannot write %s: directory %s: %s", shown,
                                   parent, strerror(errno));
            return ZEUS_OK;
        }
        if (errno != ENOENT)
            return zeus__error(errno_code(errno), "cannot write %s: %s: %s", shown, parent,
                               strerror(errno));
        if (strcmp(parent, dir) == 0) /* "." or "/" missing: cannot happen, but stop */
            return zeus__error(ZEUS_ENOENT, "cannot write %s: no directory", shown);
        zeus__strlcpy(dir, parent, sizeof dir);
    }
}

int zeus_output_check(const char *path)
{
    if (!path || !*path)
        return zeus__error(ZEUS_EINVAL, "the output path is empty");
    if (is_stdout(path))
        return ZEUS_OK;
    char real[PATH_MAX];
    int rc = resolve(path, real, sizeof real);
    if (rc != ZEUS_OK)
        return rc;
    struct stat st;
    if (stat(real, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return check_missing(real, path);
        return zeus__error(errno_code(errno), "cannot write %s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return zeus__error(ZEUS_EINVAL, "cannot write %s: it is a directory", path);
    if (access(real, W_OK) != 0)
        return zeus__error(errno_code(errno), "cannot write %s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        char dir[PATH_MAX];
        dir_of(real, dir, sizeof dir);
        if (access(dir, W_OK | X_OK) != 0)
            return zeus__error(errno_code(errno), "cannot write %s: directory %s: %s", path, dir,
                               strerror(errno));
    }
    return ZEUS_OK;
}

/* ---- writing ---- */

/* mkdir -p of the directory part of path (mode 0777 minus the umask). */
static int make_parent_dirs(const char *path)
{
    char dir[4096];
    if (zeus__strlcpy(dir, path, sizeof dir) >= sizeof dir)
        return zeus__error(ZEUS_EINVAL, "path too long: %s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return ZEUS_OK;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return zeus__error(ZEUS_EIO, "cannot create directory %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return zeus__error(ZEUS_EIO, "cannot create directory %s: %s", dir, strerror(errno));
    return ZEUS_OK;
}

static int write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

/* Opens a non-regular file for writing in place: a device or FIFO is opened, a Unix socket
 * connected to. */
static int open_in_place(const char *real, const struct stat *st, int flags)
{
    if (!S_ISSOCK(st->st_mode))
        return open(real, O_WRONLY | O_NOCTTY | O_CLOEXEC | flags);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (zeus__strlcpy(addr.sun_path, real, sizeof addr.sun_path) >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static int write_stdout(const void *data, size_t size)
{
    if ((size > 0 && fwrite(data, 1, size, stdout) != size) || fflush(stdout) != 0)
        return zeus__error(ZEUS_EIO, "cannot write to standard output: %s", strerror(errno));
    return ZEUS_OK;
}

/* The signals that end a process by default and that users send to stop one. */
static void block_stop_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void temp_name(const char *real, char *tmp, size_t size)
{
    static atomic_uint counter;
    unsigned n = atomic_fetch_add(&counter, 1);
    snprintf(tmp, size, "%s.tmp.%ld.%u.%lld", real, (long)getpid(), n,
             (long long)(zeus_now_ns() % 1000000007LL));
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* durability of the rename; best effort */
        close(fd);
    }
}

/* Fills fd with the data and the mode, and makes it durable. */
static int fill(int fd, const char *path, const void *data, size_t size, const struct stat *old)
{
    if (write_all(fd, data, size) != 0)
        return zeus__error(errno_code(errno), "cannot write %s: %s", path, strerror(errno));
    if (old && fchmod(fd, old->st_mode & 07777) != 0)
        return zeus__error(errno_code(errno), "cannot set the mode of %s: %s", path,
                           strerror(errno));
    /* Root replacing someone's file keeps it theirs. */
    if (old && old->st_uid != 0 && geteuid() == 0 && fchown(fd, old->st_uid, old->st_gid) != 0) {
        /* best effort: the data matters more than its owner */
    }
    if (fsync(fd) != 0)
        return zeus__error(ZEUS_EIO, "cannot sync %s: %s", path, strerror(errno));
    return ZEUS_OK;
}

/* Preferred: an unnamed file (O_TMPFILE) gets the data and is named only to be renamed.
 * Returns 1 when the file system cannot do it (caller falls back), else 0 or an error. */
static int replace_unnamed(const char *real, const char *dir, const void *data, size_t size,
                           const struct stat *old)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0)
        return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL
                   ? 1
                   : zeus__error(errno_code(errno), "cannot create a file in %s: %s", dir,
                                 strerror(errno));
    int rc = fill(fd, real, data, size, old);
    if (rc != ZEUS_OK) {
        close(fd);
        return rc;
    }
    char proc[64], tmp[PATH_MAX + 64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    temp_name(real, tmp, sizeof tmp);
    sigset_t old_mask;
    block_stop_signals(&old_mask);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0) {
        int err = errno;
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        close(fd);
        return err == ENOENT
                   ? 1 /* no /proc */
                   : zeus__error(errno_code(err), "cannot create %s: %s", tmp, strerror(err));
    }
    if (rename(tmp, real) != 0) {
        rc = zeus__error(errno_code(errno), "cannot rename %s to %s: %s", tmp, real,
                         strerror(errno));
        unlink(tmp);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    close(fd);
    return rc;
}

/* Fallback: a named temporary file, with the stop signals blocked for its whole life. */
static int replace_named(const char *real, const void *data, size_t size, const struct stat *old)
{
    char tmp[PATH_MAX + 16];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", real) >= sizeof tmp)
        return zeus__error(ZEUS_EINVAL, "path too long: %s", real);
    sigset_t old_mask;
    block_stop_signals(&old_mask);
    int rc = ZEUS_OK, fd = mkstemp(tmp);
    if (fd < 0) {
        rc = zeus__error(errno_code(errno), "cannot create a temporary file beside %s: %s", real,
                         strerror(errno));
        goto done;
    }
    struct stat fresh = {.st_mode = 0644};
    if ((rc = fill(fd, tmp, data, size, old ? old : &fresh)) == ZEUS_OK && rename(tmp, real) != 0)
        rc = zeus__error(errno_code(errno), "cannot rename %s to %s: %s", tmp, real,
                         strerror(errno));
    if (rc != ZEUS_OK)
        unlink(tmp);
    close(fd);
done:
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return rc;
}

int zeus_write_file(const char *path, const void *data, size_t size)
{
    int rc = zeus_output_check(path);
    if (rc != ZEUS_OK)
        return rc;
    if (is_stdout(path))
        return write_stdout(data, size);
    char real[PATH_MAX];
    if ((rc = resolve(path, real, sizeof real)) != ZEUS_OK)
        return rc;
    struct stat st;
    bool exists = stat(real, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        int fd = open_in_place(real, &st, 0);
        if (fd < 0)
            return zeus__error(errno_code(errno), "cannot open %s: %s", path, strerror(errno));
        rc = write_all(fd, data, size) == 0
                 ? ZEUS_OK
                 : zeus__error(errno_code(errno), "cannot write %s: %s", path, strerror(errno));
        if (close(fd) != 0 && rc == ZEUS_OK)
            rc = zeus__error(ZEUS_EIO, "cannot write %s: %s", path, strerror(errno));
        return rc;
    }
    if ((rc = make_parent_dirs(real)) != ZEUS_OK)
        return rc;
    char dir[PATH_MAX];
    dir_of(real, dir, sizeof dir);
    rc = replace_unnamed(real, dir, data, size, exists ? &st : NULL);
    if (rc == 1)
        rc = replace_named(real, data, size, exists ? &st : NULL);
    if (rc == ZEUS_OK)
        sync_dir(dir);
    return rc;
}

/* ---- streaming ---- */

struct zeus_output {
    FILE *f;
    char *path;
    bool started_empty;
    double flush_interval_s;
    int64_t last_flush_ns;
    int error; /* sticky */
    char message[512];
};

static int fail(zeus_output *o, int code, const char *what)
{
    if (!o->error) {
        o->error = code;
        snprintf(o->message, sizeof o->message, "cannot %s %s: %s", what,
                 o->f == stdout ? "to standard output" : o->path, strerror(errno));
    }
    return zeus__error(o->error, "%s", o->message);
}

int zeus_output_open(const char *path, unsigned flags, zeus_output **out)
{
    *out = NULL;
    int rc = zeus_output_check(path);
    if (rc != ZEUS_OK)
        return rc;
    zeus_output *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(path))) {
        free(o);
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    o->flush_interval_s = 1.0;
    o->last_flush_ns = zeus_now_ns();
    o->started_empty = true;
    if (is_stdout(path)) {
        o->f = stdout;
        *out = o;
        return ZEUS_OK;
    }
    bool append = flags & ZEUS_OUTPUT_APPEND;
    char real[PATH_MAX];
    struct stat st;
    int fd = -1;
    if ((rc = resolve(path, real, sizeof real)) != ZEUS_OK)
        goto fail;
    if (stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
        fd = open_in_place(real, &st, append ? O_APPEND : 0);
    } else {
        if ((rc = make_parent_dirs(real)) != ZEUS_OK)
            goto fail;
        fd = open(real, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (append ? O_APPEND : O_TRUNC),
                  0666);
    }
    if (fd < 0 || fstat(fd, &st) != 0 || !(o->f = fdopen(fd, append ? "a" : "w"))) {
        rc = zeus__error(errno_code(errno), "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    o->started_empty = !S_ISREG(st.st_mode) || st.st_size == 0;
    *out = o;
    return ZEUS_OK;
fail:
    if (fd >= 0)
        close(fd);
    free(o->path);
    free(o);
    return rc;
}

bool zeus_output_started_empty(const zeus_output *o)
{
    return o->started_empty;
}

const char *zeus_output_path(const zeus_output *o)
{
    return o->path;
}

void zeus_output_set_flush_interval(zeus_output *o, double seconds)
{
    o->flush_interval_s = seconds > 0 ? seconds : 0;
}

int zeus_output_flush(zeus_output *o)
{
    if (o->error)
        return zeus__error(o->error, "%s", o->message);
    o->last_flush_ns = zeus_now_ns();
    if (fflush(o->f) != 0 || ferror(o->f))
        return fail(o, ZEUS_EIO, "write");
    return ZEUS_OK;
}

int zeus_output_write(zeus_output *o, const void *data, size_t size)
{
    if (o->error)
        return zeus__error(o->error, "%s", o->message);
    if (size > 0 && fwrite(data, 1, size, o->f) != size)
        return fail(o, ZEUS_EIO, "write");
    if ((double)(zeus_now_ns() - o->last_flush_ns) * 1e-9 >= o->flush_interval_s)
        return zeus_output_flush(o);
    return ZEUS_OK;
}

int zeus_output_printf(zeus_output *o, const char *fmt, ...)
{
    if (o->error)
        return zeus__error(o->error, "%s", o->message);
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(o->f, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(o, ZEUS_EIO, "write");
    return zeus_output_write(o, NULL, 0);
}

int zeus_output_close(zeus_output *o)
{
    if (!o)
        return ZEUS_OK;
    int rc = zeus_output_flush(o);
    if (o->f != stdout && fclose(o->f) != 0 && rc == ZEUS_OK)
        rc = fail(o, ZEUS_EIO, "close");
    free(o->path);
    free(o);
    return rc;
}
