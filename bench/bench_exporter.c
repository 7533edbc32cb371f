/* zeus-exporter's cost: CPU time at a 1 s period on 8 fake-NVML GPUs with nobody scraping, and
 * scrape latency under 20 concurrent scrapers (each a new connection, as Prometheus' are not).
 *   ./build/bench/bench_exporter [idle seconds] [scrapes per scraper] [stall ms]
 * stall ms: every NVML power-limit read stalls that long (a slow driver), to show that scrapes
 * do not wait for device reads.
 * Results: docs/exporter.md. */
#include "zeus/util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRAPERS 20

static int port;
static int per_scraper = 200;
static double latency_s[SCRAPERS][2000];
static long bytes_seen[SCRAPERS];

/* CPU time of every thread of pid, in seconds, from the scheduler's nanosecond counters
 * (/proc/PID/task/TID/schedstat; utime/stime in /proc/PID/stat count whole 10 ms ticks, too
 * coarse for a process that is idle most of the time). */
static double cpu_s(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    double total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s/%s/schedstat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1)
            total += (double)ns / 1e9;
        if (f)
            fclose(f);
    }
    closedir(d);
    return total;
}

static double scrape(long *bytes)
{
    int64_t t0 = zeus_now_ns();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        *bytes += n;
    close(fd);
    return (double)(zeus_now_ns() - t0) / 1e9;
}

static void *scraper(void *arg)
{
    long i = (long)arg;
    for (int k = 0; k < per_scraper; k++)
        latency_s[i][k] = scrape(&bytes_seen[i]);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double idle_s = argc > 1 ? atof(argv[1]) : 30;
    per_scraper = argc > 2 ? atoi(argv[2]) : 200;
    if (per_scraper < 1 || per_scraper > 2000)
        per_scraper = 200;
    setenv("ZEUS_DEVICE", "nvml", 1);
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    long stall_ms = argc > 3 ? atol(argv[3]) : 0;
    char config[256];
    snprintf(
        config, sizeof config,
        "{\"gpus\": [{\"count\": 8, \"load\": 0.5, \"errors\": "
        "{\"nvmlDeviceGetPowerManagementLimit\": {\"code\": \"SUCCESS\", \"delay_ms\": %ld}}}]}",
        stall_ms);
    setenv("ZEUS_FAKE_NVML_CONFIG", config, 1);
    setenv("ZEUS_SYSFS_ROOT", "/nonexistent", 1);
    /* A free port: bind 0, read it, release it for the exporter. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    close(s);
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        execl(ZEUS_EXPORTER_PATH, "zeus-exporter", "--listen", listen, "--period", "1", "--quiet",
              (char *)NULL);
        _exit(127);
    }
    long warm = 0;
    for (int i = 0; i < 100 && scrape(&warm) < 0; i++)
        zeus_sleep_ns(50000000);
    double c0 = cpu_s(pid), t0 = zeus_wall_s();
    zeus_sleep_ns((int64_t)(idle_s * 1e9));
    double c1 = cpu_s(pid), t1 = zeus_wall_s();
    if (stall_ms > 0)
        printf("every power-limit read stalls %ld ms: a poll takes at least %.1f s\n", stall_ms,
               8 * stall_ms / 1e3);
    printf("idle, 8 GPUs, 1 s period: %.4f%% of one CPU (%.3f ms CPU per second over %.0f s)\n",
           (c1 - c0) / (t1 - t0) * 100, (c1 - c0) / (t1 - t0) * 1e3, t1 - t0);

    pthread_t th[SCRAPERS];
    double w0 = zeus_wall_s(), s0 = cpu_s(pid);
    for (long i = 0; i < SCRAPERS; i++)
        pthread_create(&th[i], NULL, scraper, (void *)i);
    for (int i = 0; i < SCRAPERS; i++)
        pthread_join(th[i], NULL);
    double w1 = zeus_wall_s(), s1 = cpu_s(pid);
    size_t n = (size_t)SCRAPERS * (size_t)per_scraper, failed = 0, k = 0;
    double *all = malloc(n * sizeof *all);
    for (int i = 0; i < SCRAPERS; i++)
        for (int j = 0; j < per_scraper; j++) {
            if (latency_s[i][j] < 0)
                failed++;
            else
                all[k++] = latency_s[i][j];
        }
    qsort(all, k, sizeof *all, cmp);
    long bytes = 0;
    for (int i = 0; i < SCRAPERS; i++)
        bytes += bytes_seen[i];
    printf("%d concurrent scrapers x %d scrapes: %zu ok, %zu failed, %.0f scrapes/s, "
           "%.0f bytes each\n",
           SCRAPERS, per_scraper, k, failed, (double)k / (w1 - w0), k ? (double)bytes / k : 0.0);
    if (k)
        printf("latency ms: p50 %.3f, p90 %.3f, p99 %.3f, max %.3f; exporter CPU %.3f ms per "
               "scrape\n",
               all[k / 2] * 1e3, all[k * 9 / 10] * 1e3, all[k * 99 / 100] * 1e3, all[k - 1] * 1e3,
               (s1 - s0) / (double)k * 1e3);
    free(all);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("exporter exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return failed ? 1 : 0;
}
