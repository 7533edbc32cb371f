/* Defaults of `zeusd serve` (the original's, docs/spec/zeusd-api.md §2.1) and the log. */
#include "zeusd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void zd_config_defaults(zd_config *c)
{
    memset(c, 0, sizeof *c);
    c->uds = true;
    snprintf(c->socket_path, sizeof c->socket_path, "/run/zeusd/zeusd.sock");
    c->socket_mode = 0666;
    c->socket_uid = c->socket_gid = -1;
    snprintf(c->tcp_bind, sizeof c->tcp_bind, "127.0.0.1:4938");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->num_workers = cpus > 0 ? (unsigned)cpus : 1;
    c->gpu_poll_hz = 20;
    c->cpu_poll_hz = 10;
    c->max_connections = 512;
    c->timeout_s = 10;
    c->request_timeout_s = 30;
}

static int log_quiet = -1;

void zd_log(const char *level, const char *fmt, ...)
{
    /* ZEUSD_LOG: debug (everything), off (nothing; the fuzzer), else all but debug. */
    if (log_quiet < 0) {
        const char *env = getenv("ZEUSD_LOG");
        log_quiet = !env ? 1 : strcmp(env, "debug") == 0 ? 0 : strcmp(env, "off") == 0 ? 2 : 1;
    }
    if (log_quiet == 2 || (log_quiet && strcmp(level, "DEBUG") == 0))
        return;
    char msg[1024], line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %5s zeusd: %s\n",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000, level, msg);
    /* One write per line: lines from threads never interleave. */
    fputs(line, stdout);
    fflush(stdout);
}
