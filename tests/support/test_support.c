#include "test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include "zeus/common.h"

char *zt_dir;
zeus_device_options zt_options;

/* A test started from a script in the background (nohup, `&`: SIGINT and SIGQUIT ignored) or
 * under a blocked signal would hand that to every process it starts, and a test that stops a
 * command with Ctrl-C would wait for it forever. Every test program starts with the default
 * disposition of every signal and none blocked, so what it starts does too. */
__attribute__((constructor)) static void reset_signals(void)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int skipped;

int zt_require_all(void)
{
    const char *v = getenv("ZEUS_REQUIRE_ALL");
    return v && strcmp(v, "1") == 0;
}

void zt_skip_(const char *reason, const char *file, int line)
{
    if (zt_require_all()) {
        fprintf(stderr, "%s:%d: skipped (%s), and with ZEUS_REQUIRE_ALL=1 a skip is a failure\n",
                file, line, reason);
        _fail(file, line);
    }
    fprintf(stderr, "%s:%d: SKIPPED: %s\n", file, line, reason);
    skipped++;
    _skip(file, line);
}

int zt_run_group_tests(const char *name, const struct CMUnitTest *tests, size_t count,
                       CMFixtureFunction setup, CMFixtureFunction teardown)
{
    int failed = _cmocka_run_group_tests(name, tests, count, setup, teardown);
    if (failed == 0 && skipped > 0) {
        fprintf(stderr, "%d test(s) skipped: exit 77 (reported by ctest as skipped)\n", skipped);
        return 77;
    }
    return failed;
}

double zt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double zt_sleep_scale(double sleep_s, int n)
{
    double t0 = zt_now_s();
    for (int i = 0; i < n; i++) {
        struct timespec ts = {(time_t)sleep_s, (long)((sleep_s - (double)(time_t)sleep_s) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    double scale = (zt_now_s() - t0) / (sleep_s * n);
    return scale < 1.0 ? 1.0 : scale;
}

int zt_as_nobody(int (*fn)(void *), void *arg)
{
    if (zt_dir)
        chmod(zt_dir, 0755);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            _exit(120);
        if (zt_dir && access(zt_dir, X_OK) != 0) {
            fprintf(stderr, "user %u cannot reach %s\n", (unsigned)geteuid(), zt_dir);
            _exit(ZT_NOBODY_UNREACHABLE);
        }
        _exit(fn(arg));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

#define ZT_KEEP_MAX 64
static char *kept[ZT_KEEP_MAX];
static size_t kept_count;

const char *zt_keep(const char *text)
{
    if (!text)
        return NULL;
    if (kept_count == ZT_KEEP_MAX)
        abort();
    return kept[kept_count++] = strdup(text);
}

int zt_open(zeus_devices **out)
{
    return zeus_devices_open_with(&zt_options, out);
}

int zt_setup(void **state)
{
    (void)state;
    zt_clean_env();
    zt_dir = zt_mkdtemp();
    zeus_device_options_init(&zt_options);
    char *nosys = zt_path(zt_dir, "nosys");
    zt_options.sysfs_root = zt_keep(nosys);
    free(nosys);
    /* GPU lock files (zeus/lease.h) of this test only, never the machine's. */
    char *locks = zt_path(zt_dir, "locks");
    setenv("ZEUS_LOCK_DIR", locks, 1);
    free(locks);
    return 0;
}

int zt_teardown(void **state)
{
    (void)state;
    zeus_set_log_callback(NULL, NULL);
    zt_rmtree(zt_dir);
    free(zt_dir);
    zt_dir = NULL;
    while (kept_count > 0)
        free(kept[--kept_count]);
    zeus_device_options_init(&zt_options);
    return 0;
}

char *zt_mkdtemp(void)
{
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/tmp", ZEUS_TEST_BINARY_DIR);
    mkdir(path, 0777);
    snprintf(path, 4096, "%s/tmp/t.XXXXXX", ZEUS_TEST_BINARY_DIR);
    if (!mkdtemp(path)) {
        fprintf(stderr, "mkdtemp %s: %s\n", path, strerror(errno));
        abort();
    }
    return path;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

void zt_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *zt_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *zt_write(const char *dir, const char *name, const char *text)
{
    char *path = zt_path(dir, name);
    for (char *s = path + strlen(dir) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0777);
            *s = '/';
        }
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(text, f);
    fclose(f);
    return path;
}

char *zt_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

void zt_clean_env(void)
{
    const char *names[] = {"ZEUS_DEVICE",
                           "ZEUS_NVML_LIBRARY",
                           "ZEUS_FAKE_NVML_CONFIG",
                           "ZEUS_FAKE_NVML_STATE",
                           "ZEUS_FAKE_NVML_LOG",
                           "ZEUS_SYSFS_ROOT",
                           "ZEUS_SIM_CONFIG",
                           "ZEUS_SIM_STATE",
                           "CUDA_VISIBLE_DEVICES",
                           "ZEUS_LOG_LEVEL",
                           "ZEUS_AMDSMI_LIBRARY",
                           "ZEUS_AMDSMI_CHECK_MS",
                           "HIP_VISIBLE_DEVICES",
                           "ROCM_PATH",
                           "ZEUS_FAKE_AMDSMI_FAULTS",
                           "ZEUS_FAKE_AMDSMI_VERSION"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

bool zt_vendor_amd(void)
{
    const char *v = getenv("ZEUS_TEST_VENDOR");
    return v && strcmp(v, "amd") == 0;
}

bool zt_vendor_has_persistence(void)
{
    return !zt_vendor_amd();
}

double zt_vendor_power_resolution_w(void)
{
    return zt_vendor_amd() ? 1.0 : 0.001;
}

int zt_vendor_counter_reads_at_open(void)
{
    return zt_vendor_amd() ? 2 : 0;
}

int zt_vendor_lost_error(void)
{
    return zt_vendor_amd() ? ZEUS_EDEVICE : ZEUS_ELOST;
}

const char *zt_vendor_gpu_label(void)
{
    return zt_vendor_amd() ? "AMD GPU" : "NVML GPU";
}

const char *zt_vendor_cli_label(void)
{
    return zt_vendor_amd() ? "AMDSMI" : "NVML";
}

char *zt_read_calls(const char *path)
{
    char *text = zt_read(path);
    static const struct {
        const char *amd, *nvml;
    } names[] = {{"amdsmi_set_power_cap ", "nvmlDeviceSetPowerManagementLimit "},
                 {"amdsmi_set_gpu_clk_range ", "nvmlDeviceSetGpuLockedClocks "},
                 {"amdsmi_set_gpu_perf_level ", "nvmlDeviceResetGpuLockedClocks "}};
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++) {
        for (char *at; (at = strstr(text, names[i].amd));) {
            size_t pre = (size_t)(at - text), la = strlen(names[i].amd), ln = strlen(names[i].nvml),
                   rest = strlen(at + la);
            char *out = malloc(pre + ln + rest + 1);
            memcpy(out, text, pre);
            memcpy(out + pre, names[i].nvml, ln);
            memcpy(out + pre + ln, at + la, rest + 1);
            free(text);
            text = out;
        }
    }
    return text;
}

void zt_use_fake_nvml(const char *dir, const char *config_json)
{
    if (zt_vendor_amd()) {
        /* The same fake hardware behind AMD's library: the amdsmi backend, its counter check
         * kept short (the original's 0.5 s per open would dominate the suite). */
        zt_options.backend = "amdsmi";
        zt_options.amdsmi_library = ZEUS_FAKE_AMDSMI_PATH;
        zt_options.amdsmi_check_ms = ZT_AMDSMI_CHECK_MS_IN_PROCESS;
    } else {
        zt_options.backend = "nvml";
        zt_options.nvml_library = ZEUS_FAKE_NVML_PATH;
    }
    /* A zeus child takes these from zt_options, not from an earlier choice of the test's. */
    unsetenv("ZEUS_DEVICE");
    unsetenv("ZEUS_NVML_LIBRARY");
    unsetenv("ZEUS_AMDSMI_LIBRARY");
    if (config_json) {
        char *cfg = zt_write(dir, "fake_nvml.json", config_json);
        setenv("ZEUS_FAKE_NVML_CONFIG", cfg, 1);
        free(cfg);
    } else {
        unsetenv("ZEUS_FAKE_NVML_CONFIG");
    }
    char *state = zt_path(dir, "fake_nvml.state");
    unlink(state);
    setenv("ZEUS_FAKE_NVML_STATE", state, 1);
    free(state);
}

static void drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0)
        return;
    if (*len + (size_t)n + 1 > *cap) {
        *cap = (*len + (size_t)n + 1) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, chunk, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
}

extern char **environ;

/* This environment plus zt_options as the variables the zeus command reads (malloc'd). */
static char **child_environment(void)
{
    const struct {
        const char *name, *value;
    } from_options[] = {
        {"ZEUS_DEVICE", zt_options.backend},
        {"ZEUS_NVML_LIBRARY", zt_options.nvml_library},
        {"ZEUS_AMDSMI_LIBRARY", zt_options.amdsmi_library},
        {"ZEUS_AMDSMI_CHECK_MS", zt_options.amdsmi_check_ms ? ZT_STR(ZT_AMDSMI_CHECK_MS) : NULL},
        {"ZEUS_SIM_CONFIG", zt_options.sim_config},
        {"ZEUS_SIM_STATE", zt_options.sim_state},
        {"ZEUS_SYSFS_ROOT", zt_options.sysfs_root},
        {"CUDA_VISIBLE_DEVICES", zt_options.visible_devices}};
    size_t n = 0;
    while (environ[n])
        n++;
    size_t extra = sizeof from_options / sizeof from_options[0];
    char **env = calloc(n + extra + 1, sizeof *env);
    for (size_t i = 0; i < n; i++)
        env[i] = strdup(environ[i]);
    for (size_t i = 0; i < extra; i++) {
        if (!from_options[i].value || getenv(from_options[i].name))
            continue;
        size_t len = strlen(from_options[i].name) + strlen(from_options[i].value) + 2;
        env[n] = malloc(len);
        snprintf(env[n++], len, "%s=%s", from_options[i].name, from_options[i].value);
    }
    return env;
}

/* SIGKILL to the process group a zt_spawn/zt_run child leads (and to the child itself). */
static void kill_group(pid_t pid)
{
    if (getpgid(pid) == pid)
        kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

int zt_spawn(char *const argv[])
{
    char **env = child_environment();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0); /* its own process group: a timeout kills whatever it started too */
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execve(argv[0], argv, env);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no window in which a timeout would miss the group */
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
    return pid;
}

int zt_wait(int pid, double timeout_s)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9 >
            timeout_s) {
            kill_group(pid);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(1000);
    }
}

static int run_child(char *const argv[], const char *stdout_path, char **out, char **err,
                     double timeout_s)
{
    char **env = child_environment();
    int po[2], pe[2];
    if (pipe(po) != 0 || pipe(pe) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        int fd = stdout_path ? open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : po[1];
        if (fd < 0) {
            fprintf(stderr, "open %s: %s\n", stdout_path, strerror(errno));
            _exit(126);
        }
        dup2(fd, 1);
        dup2(pe[1], 2);
        if (stdout_path)
            close(po[1]);
        close(po[0]);
        close(pe[0]);
        execve(argv[0], argv, env);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(po[1]);
    close(pe[1]);
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
    size_t lo = 0, le = 0, co = 1, ce = 1;
    char *bo = calloc(1, 1), *be = calloc(1, 1);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int open_fds = 2;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    while (open_fds > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double elapsed = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9;
        if (elapsed > timeout_s) {
            fprintf(stderr, "%s: killed after %.0f s (timeout)\n", argv[0], timeout_s);
            kill_group(pid);
            break;
        }
        if (poll(fds, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            size_t before = i == 0 ? lo : le;
            if (i == 0)
                drain(fds[i].fd, &bo, &lo, &co);
            else
                drain(fds[i].fd, &be, &le, &ce);
            if ((i == 0 ? lo : le) == before) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int status;
    waitpid(pid, &status, 0);
    if (out)
        *out = bo;
    else
        free(bo);
    if (err)
        *err = be;
    else
        free(be);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

int zt_run(char *const argv[], char **out, char **err, double timeout_s)
{
    return run_child(argv, NULL, out, err, timeout_s);
}

int zt_run_to(char *const argv[], const char *stdout_path, char **err, double timeout_s)
{
    return run_child(argv, stdout_path, NULL, err, timeout_s);
}

static void zeus_argv(char **argv, va_list ap)
{
    int n = 0;
    argv[n++] = (char *)ZEUS_CLI_PATH;
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 63)
        argv[n++] = a;
    argv[n] = NULL;
}

int zt_zeus(char **out, char **err, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, err);
    zeus_argv(argv, ap);
    va_end(ap);
    return zt_run(argv, out, err, 120.0);
}

int zt_zeus_to(const char *stdout_path, char **err, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, err);
    zeus_argv(argv, ap);
    va_end(ap);
    return zt_run_to(argv, stdout_path, err, 120.0);
}

char *zt_mknod_copy(const char *dir, const char *name, const char *model)
{
    struct stat st;
    if (stat(model, &st) != 0 || !S_ISCHR(st.st_mode))
        return NULL;
    char *path = zt_path(dir, name);
    if (mknod(path, S_IFCHR | 0666, st.st_rdev) != 0) {
        fprintf(stderr, "mknod %s: %s (skipping what needs it)\n", path, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

int zt_contains(const char *haystack, const char *needle)
{
    if (haystack && needle && strstr(haystack, needle))
        return 1;
    fprintf(stderr, "expected to find [%s] in:\n---\n%s\n---\n", needle ? needle : "(null)",
            haystack ? haystack : "(null)");
    return 0;
}

int zt_file_contains(const char *path, const char *needle)
{
    char *text = zt_read(path);
    int found = zt_contains(text, needle);
    free(text);
    return found;
}
