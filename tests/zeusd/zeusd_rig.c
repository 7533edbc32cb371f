#include "zeusd_rig.h"

#include "test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int zr_connect(const char *sock)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void parse(zr_reply *r)
{
    r->status = 0;
    r->body = NULL;
    if (!r->raw)
        return;
    sscanf(r->raw, "HTTP/1.%*d %d", &r->status);
    char *end = strstr(r->raw, "\r\n\r\n");
    r->body = end ? end + 4 : r->raw + strlen(r->raw);
}

int zr_raw(const char *sock, const char *data, size_t len, zr_reply *out)
{
    memset(out, 0, sizeof *out);
    int fd = zr_connect(sock);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (used + 1024 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + used, cap - used - 1, 0);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    close(fd);
    out->raw = buf;
    parse(out);
    return out->status;
}

int zr_request(const char *sock, const char *method, const char *target, const char *headers,
               zr_reply *out)
{
    char req[8192];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n", method,
                     target, headers ? headers : "");
    return zr_raw(sock, req, (size_t)n, out);
}

void zr_free(zr_reply *r)
{
    free(r->raw);
    memset(r, 0, sizeof *r);
}

static const char *tcp_addr; /* zr_start_tcp's, for the start-up wait */

static int connect_tcp(const char *addr)
{
    char host[64];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, host, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

void zr_start_argv(zr_daemon *d, const char *const *args)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/zeusd-test-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    chmod(d->dir, 0755);
    snprintf(d->sock, sizeof d->sock, "%s/zeusd.sock", d->dir);
    snprintf(d->log, sizeof d->log, "%s/log", d->dir);
    const char *argv[64] = {ZEUS_ZEUSD_PATH, "serve", "--socket-path", d->sock};
    size_t n = 4;
    if (tcp_addr) {
        argv[n++] = "--mode";
        argv[n++] = "tcp";
        argv[n++] = "--tcp-bind-address";
        argv[n++] = tcp_addr;
    }
    for (size_t i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    d->pid = fork();
    assert_true(d->pid >= 0);
    if (d->pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        int fd = tcp_addr ? connect_tcp(tcp_addr) : zr_connect(d->sock);
        if (fd >= 0) {
            close(fd);
            return;
        }
        usleep(10000);
    }
    char *log = zr_log(d);
    fprintf(stderr, "zeusd did not start:\n%s\n", log ? log : "");
    free(log);
    fail();
}

void zr_start(zr_daemon *d, ...)
{
    const char *args[48];
    size_t n = 0;
    va_list ap;
    va_start(ap, d);
    for (const char *a; n < 47 && (a = va_arg(ap, const char *)) != NULL;)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    zr_start_argv(d, args);
}

void zr_start_tcp(zr_daemon *d, const char *addr, ...)
{
    const char *args[48];
    size_t n = 0;
    va_list ap;
    va_start(ap, addr);
    for (const char *a; n < 47 && (a = va_arg(ap, const char *)) != NULL;)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    tcp_addr = addr;
    zr_start_argv(d, args);
    tcp_addr = NULL;
}

char *zr_log(const zr_daemon *d)
{
    return zt_read(d->log);
}

int zr_stop(zr_daemon *d)
{
    int status = -1;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        status = zt_wait(d->pid, 20);
        d->pid = 0;
    }
    zt_rmtree(d->dir);
    return status;
}
