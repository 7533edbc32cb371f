/* zeusd round trips against the same calls made in-process, on the fake NVML.
 *
 *   ./build/bench/bench_zeusd [calls] [seconds]     (defaults 2000 and 3)
 *
 * Starts zeusd on a socket in a temporary directory over the fake NVML, then times: the
 * in-process zeus_gpu_set_power_limit_mw and zeus_gpu_energy_mj; the same over the socket as
 * POST /gpu/set_power_limit (a lease, as a client's) and GET /gpu/get_cumulative_energy, on one
 * kept-alive connection and with a connection per request (as short-lived clients do), the
 * latter also through libzeus's zeusd client (zeus_zeusd_request); and the
 * requests per second one daemon sustains with 100 concurrent clients (a connection each per
 * request). */
#include "zeus/util.h"
#include "zeus/zeus.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char sock_path[128];

static int connect_daemon(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* One request on fd; reads the reply by its Content-Length. Returns the status or -1. */
static int roundtrip(int fd, const char *method, const char *target, bool close_after)
{
    char req[512], buf[8192];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", method, target,
                     close_after ? "Connection: close\r\n" : "");
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    size_t used = 0;
    char *end = NULL;
    while (!(end = used ? strstr(buf, "\r\n\r\n") : NULL)) {
        ssize_t got = recv(fd, buf + used, sizeof buf - 1 - used, 0);
        if (got <= 0)
            return -1;
        used += (size_t)got;
        buf[used] = '\0';
    }
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0, have = used - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        if (got <= 0)
            return -1;
        have += (size_t)got;
    }
    return status;
}

static int once(const char *method, const char *target)
{
    int fd = connect_daemon();
    if (fd < 0)
        return -1;
    int st = roundtrip(fd, method, target, true);
    close(fd);
    return st;
}

static void report(const char *what, int calls, int64_t ns)
{
    printf("%-58s %9.1f us/call\n", what, (double)ns / calls / 1e3);
}

static volatile int stop_flag;
static void *client(void *arg)
{
    long *count = arg;
    while (!stop_flag)
        if (once("GET", "/gpu/get_power_limit?gpu_ids=0") == 200)
            (*count)++;
    return NULL;
}

int main(int argc, char **argv)
{
    int calls = argc > 1 ? atoi(argv[1]) : 2000;
    double seconds = argc > 2 ? atof(argv[2]) : 3;
    char dir[] = "/tmp/zeusd-bench-XXXXXX";
    if (calls <= 0 || !mkdtemp(dir))
        return 1;
    char state[160], locks[160];
    snprintf(sock_path, sizeof sock_path, "%s/zeusd.sock", dir);
    snprintf(state, sizeof state, "%s/nvml-state", dir);
    snprintf(locks, sizeof locks, "%s/locks", dir);
    setenv("ZEUS_DEVICE", "nvml", 1);
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    setenv("ZEUS_FAKE_NVML_STATE", state, 1);
    setenv("ZEUS_LOCK_DIR", locks, 1);
    setenv("ZEUS_SYSFS_ROOT", dir, 1);
    signal(SIGPIPE, SIG_IGN);

    zeus_devices *d;
    if (zeus_devices_open(&d) != 0) {
        fprintf(stderr, "bench_zeusd: %s\n", zeus_last_error());
        return 1;
    }
    printf("# zeusd vs in-process on the fake NVML, %d calls each\n", calls);
    int64_t t0 = zeus_now_ns();
    for (int i = 0; i < calls; i++)
        zeus_gpu_set_power_limit_mw(d, 1, i % 2 ? 200000 : 250000);
    report("in-process zeus_gpu_set_power_limit_mw", calls, zeus_now_ns() - t0);
    uint64_t mj;
    t0 = zeus_now_ns();
    for (int i = 0; i < calls; i++)
        zeus_gpu_energy_mj(d, 0, &mj);
    report("in-process zeus_gpu_energy_mj", calls, zeus_now_ns() - t0);
    zeus_devices_close(d);

    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(ZEUS_ZEUSD_PATH, ZEUS_ZEUSD_PATH, "serve", "--socket-path", sock_path, "--enable",
              "gpu-control,gpu-read", (char *)NULL);
        _exit(127);
    }
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; i++, usleep(10000))
        fd = connect_daemon();
    if (fd < 0) {
        fprintf(stderr, "bench_zeusd: zeusd did not start\n");
        kill(pid, SIGKILL);
        return 1;
    }
    char target[160];
    t0 = zeus_now_ns();
    for (int i = 0; i < calls; i++) {
        snprintf(target, sizeof target,
                 "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=%u&block=true",
                 i % 2 ? 200000u : 250000u);
        if (roundtrip(fd, "POST", target, false) != 200) {
            fprintf(stderr, "bench_zeusd: set_power_limit failed\n");
            break;
        }
    }
    report("zeusd POST /gpu/set_power_limit (leased, kept-alive)", calls, zeus_now_ns() - t0);
    t0 = zeus_now_ns();
    for (int i = 0; i < calls; i++)
        roundtrip(fd, "GET", "/gpu/get_cumulative_energy?gpu_ids=0", false);
    report("zeusd GET /gpu/get_cumulative_energy (kept-alive)", calls, zeus_now_ns() - t0);
    close(fd);
    t0 = zeus_now_ns();
    for (int i = 0; i < calls; i++)
        once("GET", "/gpu/get_cumulative_energy?gpu_ids=0");
    int64_t raw_ns = zeus_now_ns() - t0;
    report("zeusd GET /gpu/get_cumulative_energy (connection each)", calls, raw_ns);
    /* The same through libzeus's zeusd client (zeus/zeusd_client.h), also a connection each. */
    zeus_zeusd_client_options co;
    zeus_zeusd_client_options_init(&co);
    co.socket_path = sock_path;
    zeus_zeusd_client *zc = NULL;
    if (zeus_zeusd_client_open(&co, &zc) == 0) {
        t0 = zeus_now_ns();
        for (int i = 0; i < calls; i++) {
            zeus_zeusd_reply r;
            if (zeus_zeusd_request(zc, "GET", "/gpu/get_cumulative_energy?gpu_ids=0", NULL, NULL, 0,
                                   &r) == 0)
                zeus_zeusd_reply_free(&r);
        }
        int64_t client_ns = zeus_now_ns() - t0;
        report("the same through zeus_zeusd_request", calls, client_ns);
        printf("%-58s %9.2f x the raw connection each\n", "zeus_zeusd_request",
               (double)client_ns / (double)(raw_ns > 0 ? raw_ns : 1));
        zeus_zeusd_client_close(zc);
    }

    pthread_t threads[100];
    long counts[100] = {0};
    t0 = zeus_now_ns();
    for (int i = 0; i < 100; i++)
        pthread_create(&threads[i], NULL, client, &counts[i]);
    usleep((useconds_t)(seconds * 1e6));
    stop_flag = 1;
    long total = 0;
    for (int i = 0; i < 100; i++) {
        pthread_join(threads[i], NULL);
        total += counts[i];
    }
    double elapsed = (double)(zeus_now_ns() - t0) / 1e9;
    printf("%-58s %9.0f requests/s (%ld in %.1f s)\n",
           "zeusd, 100 concurrent clients, connection each", total / elapsed, total, elapsed);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
