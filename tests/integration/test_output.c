/* zeus/output.h on real files: regular files replaced atomically, devices (mknod copies of
 * /dev/null and /dev/full), FIFOs, sockets and stdout written in place, symlinks followed,
 * paths checked before the work, no temporary file left by a signal, and the streaming writer. */
#include "test_support.h"

#include "zeus/zeus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Entries of dir whose name contains ".tmp.". */
static int count_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static mode_t kind(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & S_IFMT;
}

static void test_regular_file(void **state)
{
    (void)state;
    char *path = zt_path(zt_dir, "a/b/out.csv"); /* missing parents are created */
    assert_int_equal(zeus_write_file(path, "one\n", 4), ZEUS_OK);
    char *text = zt_read(path);
    assert_string_equal(text, "one\n");
    free(text);
    /* Replacing keeps the file's mode. */
    chmod(path, 0600);
    assert_int_equal(zeus_write_file(path, "two\n", 4), ZEUS_OK);
    text = zt_read(path);
    assert_string_equal(text, "two\n");
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* Root replacing another user's file keeps its owner. */
    if (geteuid() == 0 && chown(path, 65534, 65534) == 0) {
        assert_int_equal(zeus_write_file(path, "three\n", 6), ZEUS_OK);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_uid, 65534);
    }
    char *dir = zt_path(zt_dir, "a/b");
    assert_int_equal(count_temporaries(dir), 0);
    free(dir);
    free(path);
}

static void test_symlinks_followed(void **state)
{
    (void)state;
    char *target = zt_write(zt_dir, "target.csv", "old\n");
    char *link = zt_path(zt_dir, "link.csv");
    assert_int_equal(symlink("target.csv", link), 0);
    assert_int_equal(zeus_write_file(link, "new\n", 4), ZEUS_OK);
    assert_int_equal(kind(link), S_IFLNK); /* the link stays a link */
    char *text = zt_read(target);
    assert_string_equal(text, "new\n");
    free(text);
    /* A dangling link: its target is created. */
    char *dangling = zt_path(zt_dir, "dangling.csv");
    char *created = zt_path(zt_dir, "created.csv");
    assert_int_equal(symlink(created, dangling), 0);
    assert_int_equal(zeus_write_file(dangling, "x", 1), ZEUS_OK);
    assert_int_equal(kind(dangling), S_IFLNK);
    assert_int_equal(kind(created), S_IFREG);
    /* A link to a FIFO or device is written in place like its target (see below). */
    free(target);
    free(link);
    free(dangling);
    free(created);
}

typedef struct {
    char *path;
    char got[256];
} reader;

static void *read_all(void *arg)
{
    reader *r = arg;
    int fd = open(r->path, O_RDONLY);
    size_t n = 0;
    ssize_t k;
    while (fd >= 0 && (k = read(fd, r->got + n, sizeof r->got - 1 - n)) > 0)
        n += (size_t)k;
    r->got[n] = '\0';
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_fifo_in_place(void **state)
{
    (void)state;
    reader r = {zt_path(zt_dir, "pipe"), ""};
    assert_int_equal(mkfifo(r.path, 0600), 0);
    char *link = zt_path(zt_dir, "pipe-link");
    assert_int_equal(symlink(r.path, link), 0);
    pthread_t t;
    pthread_create(&t, NULL, read_all, &r);
    assert_int_equal(zeus_write_file(link, "through the fifo\n", 17), ZEUS_OK);
    pthread_join(t, NULL);
    assert_string_equal(r.got, "through the fifo\n");
    assert_int_equal(kind(r.path), S_IFIFO); /* not replaced by a regular file */
    assert_int_equal(count_temporaries(zt_dir), 0);
    /* The streaming writer too. */
    pthread_create(&t, NULL, read_all, &r);
    zeus_output *o;
    assert_int_equal(zeus_output_open(r.path, 0, &o), ZEUS_OK);
    assert_true(zeus_output_started_empty(o));
    assert_int_equal(zeus_output_printf(o, "row %d\n", 1), ZEUS_OK);
    assert_int_equal(zeus_output_close(o), ZEUS_OK);
    pthread_join(t, NULL);
    assert_string_equal(r.got, "row 1\n");
    assert_int_equal(kind(r.path), S_IFIFO);
    free(r.path);
    free(link);
}

static void *accept_all(void *arg)
{
    reader *r = arg;
    int fd = accept(*(int *)(void *)r->got, NULL, NULL);
    size_t n = 0;
    ssize_t k;
    char buf[256];
    while (fd >= 0 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    if (fd >= 0)
        close(fd);
    memcpy(r->got, buf, n + 1);
    return NULL;
}

static void test_socket_in_place(void **state)
{
    (void)state;
    reader r = {zt_path(zt_dir, "sock"), ""};
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(r.path) >= sizeof addr.sun_path) {
        free(r.path);
        zt_skip("the test directory's path is too long for a Unix socket");
    }
    strcpy(addr.sun_path, r.path);
    assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(listener, 1), 0);
    memcpy(r.got, &listener, sizeof listener);
    pthread_t t;
    pthread_create(&t, NULL, accept_all, &r);
    assert_int_equal(zeus_write_file(r.path, "to the socket", 13), ZEUS_OK);
    pthread_join(t, NULL);
    assert_string_equal(r.got, "to the socket");
    assert_int_equal(kind(r.path), S_IFSOCK);
    close(listener);
    free(r.path);
}

/* mknod copies of /dev/null and /dev/full: written in place, never replaced; a full device is
 * an error naming the path. */
static void test_devices_in_place(void **state)
{
    (void)state;
    char *null_dev = zt_mknod_copy(zt_dir, "null", "/dev/null");
    char *full_dev = zt_mknod_copy(zt_dir, "full", "/dev/full");
    if (!null_dev || !full_dev) {
        free(null_dev);
        free(full_dev);
        zt_skip("cannot mknod copies of /dev/null and /dev/full (not root, or no CAP_MKNOD)");
    }
    assert_int_equal(zeus_write_file(null_dev, "gone\n", 5), ZEUS_OK);
    assert_int_equal(kind(null_dev), S_IFCHR);
    assert_int_equal(zeus_write_file(full_dev, "no room\n", 8), ZEUS_EIO);
    assert_contains(zeus_last_error(), full_dev);
    assert_contains(zeus_last_error(), "No space left on device");
    assert_int_equal(kind(full_dev), S_IFCHR);
    assert_int_equal(count_temporaries(zt_dir), 0);
    /* Streaming to a full device: the flush fails, the error sticks, close reports it. */
    zeus_output *o;
    assert_int_equal(zeus_output_open(full_dev, 0, &o), ZEUS_OK);
    zeus_output_set_flush_interval(o, 0);
    assert_int_equal(zeus_output_printf(o, "row\n"), ZEUS_EIO);
    assert_int_equal(zeus_output_printf(o, "row\n"), ZEUS_EIO);
    assert_int_equal(zeus_output_close(o), ZEUS_EIO);
    assert_contains(zeus_last_error(), "No space left on device");
    free(null_dev);
    free(full_dev);
}

/* "-" is stdout, written in place (a child's stdout is a file here). */
static void test_stdout_dash(void **state)
{
    (void)state;
    char *path = zt_path(zt_dir, "stdout.txt");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        int rc = zeus_write_file("-", "to stdout\n", 10);
        zeus_output *o;
        rc = rc ? rc : zeus_output_open("-", 0, &o);
        rc = rc ? rc : zeus_output_printf(o, "streamed\n");
        rc = rc ? rc : zeus_output_close(o);
        _exit(rc == ZEUS_OK ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = zt_read(path);
    assert_string_equal(text, "to stdout\nstreamed\n");
    assert_int_equal(kind(path), S_IFREG);
    free(text);
    free(path);
}

static void test_check_before_work(void **state)
{
    (void)state;
    assert_int_equal(zeus_output_check(""), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "empty");
    assert_int_equal(zeus_output_check(NULL), ZEUS_EINVAL);
    assert_int_equal(zeus_write_file("", "x", 1), ZEUS_EINVAL);
    assert_int_equal(zeus_output_check(zt_dir), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "is a directory");
    assert_int_equal(zeus_output_check("-"), ZEUS_OK);
    /* Missing directories are fine (they will be created), and checking creates nothing. */
    char *deep = zt_path(zt_dir, "x/y/z.csv");
    assert_int_equal(zeus_output_check(deep), ZEUS_OK);
    char *x = zt_path(zt_dir, "x");
    struct stat st;
    assert_int_equal(stat(x, &st), -1);
    /* A file where a directory should be. */
    free(zt_write(zt_dir, "plain", "p"));
    char *under = zt_path(zt_dir, "plain/out.csv");
    assert_int_equal(zeus_output_check(under), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "is not a directory");
    assert_contains(zeus_last_error(), under);
    free(deep);
    free(x);
    free(under);
}

static int check_read_only(void *arg)
{
    char **paths = arg;
    int a = zeus_output_check(paths[0]), b = zeus_output_check(paths[1]);
    int c = zeus_write_file(paths[0], "x", 1);
    return a == ZEUS_EPERM && b == ZEUS_EPERM && c == ZEUS_EPERM &&
                   strstr(zeus_last_error(), paths[0])
               ? 0
               : 1;
}

/* A read-only directory, checked as an unprivileged user (root may write anywhere). */
static void test_read_only_directory(void **state)
{
    (void)state;
    char *ro = zt_path(zt_dir, "ro");
    mkdir(ro, 0555);
    chmod(zt_dir, 0755);
    char *out = zt_path(ro, "out.csv");
    char *missing = zt_path(ro, "sub/out.csv");
    char *paths[] = {out, missing};
    int rc = zt_as_nobody(check_read_only, paths);
    free(ro);
    free(out);
    free(missing);
    if (rc == ZT_NOBODY_UNREACHABLE)
        zt_skip("user nobody cannot reach the build tree");
    assert_int_equal(rc, 0);
}

/* SIGTERM or SIGINT while a process rewrites a file over and over: no "*.tmp.*" is left. Each
 * write is 8 MB with an fsync, so the signal almost always lands mid-write. */
static void signal_mid_write(int sig)
{
    char *path = zt_path(zt_dir, "big.csv");
    pid_t pid = fork();
    if (pid == 0) {
        size_t size = 8u << 20;
        char *data = malloc(size);
        memset(data, 'x', size);
        for (;;)
            zeus_write_file(path, data, size);
    }
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    kill(pid, sig);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == sig);
    assert_int_equal(count_temporaries(zt_dir), 0);
    free(path);
}

static void test_signal_leaves_no_temporary(void **state)
{
    (void)state;
    signal_mid_write(SIGTERM);
    signal_mid_write(SIGINT);
}

/* The streaming writer: rows survive kill -9; append keeps earlier rows. */
static void test_stream_survives_kill(void **state)
{
    (void)state;
    char *path = zt_path(zt_dir, "rows.csv");
    /* When the child finished writing each row (shared with it): what must be in the file is
     * decided by those times, not by how many rows a loaded machine let it write. */
    enum { MAX_ROWS = 4096 };
    struct shared {
        int written;
        double at[MAX_ROWS];
    } *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    sh->written = 0;
    pid_t pid = fork();
    if (pid == 0) {
        zeus_output *o;
        if (zeus_output_open(path, 0, &o) != ZEUS_OK)
            _exit(1);
        zeus_output_set_flush_interval(o, 0.05);
        for (int i = 0; i < MAX_ROWS; i++) {
            zeus_output_printf(o, "row %d\n", i);
            sh->at[i] = zt_now_s();
            __atomic_store_n(&sh->written, i + 1, __ATOMIC_RELEASE);
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        pause();
    }
    /* Killed once it wrote 20 rows (at least 10 ms apart), however long that took. */
    for (double t0 = zt_now_s(); __atomic_load_n(&sh->written, __ATOMIC_ACQUIRE) < 20;) {
        assert_true(zt_now_s() - t0 < 60);
        usleep(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char *text = zt_read(path);
    assert_non_null(text);
    assert_true(strncmp(text, "row 0\nrow 1\n", 12) == 0);
    int rows = 0;
    for (char *p = text; *p; p++)
        rows += *p == '\n';
    /* Writing row j flushes every row older than the flush interval (50 ms): each row written
     * 60 ms before the last one was is in the file. */
    int written = __atomic_load_n(&sh->written, __ATOMIC_ACQUIRE), due = 0;
    while (due < written && sh->at[due] <= sh->at[written - 1] - 0.06)
        due++;
    if (rows < due || rows > written)
        fprintf(stderr, "%d rows in the file, %d written, %d due\n", rows, written, due);
    assert_true(rows >= due && rows <= written);
    assert_true(due >= 10); /* rows 0-13 are 60 ms older than row 19 */
    munmap(sh, sizeof *sh);
    free(text);
    /* Append: earlier rows stay, and the writer knows the file was not empty. */
    zeus_output *o;
    assert_int_equal(zeus_output_open(path, ZEUS_OUTPUT_APPEND, &o), ZEUS_OK);
    assert_false(zeus_output_started_empty(o));
    assert_int_equal(zeus_output_printf(o, "appended\n"), ZEUS_OK);
    assert_int_equal(zeus_output_close(o), ZEUS_OK);
    text = zt_read(path);
    assert_true(strncmp(text, "row 0\n", 6) == 0);
    assert_non_null(strstr(text, "\nappended\n"));
    free(text);
    /* Without append a stream starts the file afresh, in place (no rename). */
    struct stat before, after;
    stat(path, &before);
    assert_int_equal(zeus_output_open(path, 0, &o), ZEUS_OK);
    assert_true(zeus_output_started_empty(o));
    assert_int_equal(zeus_output_close(o), ZEUS_OK);
    stat(path, &after);
    assert_true(before.st_ino == after.st_ino && after.st_size == 0);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_regular_file, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_followed, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_fifo_in_place, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_socket_in_place, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_devices_in_place, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_stdout_dash, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_check_before_work, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_directory, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_signal_leaves_no_temporary, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_stream_survives_kill, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
