/* Pushgateway client: a minimal HTTP/1.1 PUT/POST over a TCP socket (zeus/metric.h). */
#include "core/internal.h"
#include "metric/metric_internal.h"
#include "zeus/metric.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 10.0

void zeus_push_target_init(zeus_push_target *t)
{
    memset(t, 0, sizeof *t);
}

/* "http://HOST[:PORT][/PREFIX]" -> host, port, prefix (without a trailing slash). */
int zeus__push_parse_url(const char *url, char *host, size_t host_size, char *port,
                         size_t port_size, char *prefix, size_t prefix_size)
{
    if (!url || strncmp(url, "http://", 7) != 0)
        return zeus__error(ZEUS_EINVAL, "Pushgateway URL '%s' must start with http://",
                           url ? url : "(null)");
    const char *h = url + 7, *end = h + strcspn(h, "/?#");
    if (*end == '?' || *end == '#')
        return zeus__error(ZEUS_EINVAL, "Pushgateway URL '%s': no query or fragment", url);
    const char *hend = end, *p = NULL;
    if (*h == '[') { /* [v6]:port */
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return zeus__error(ZEUS_EINVAL, "Pushgateway URL '%s': unclosed '['", url);
        p = close[1] == ':' ? close + 2 : NULL;
        if (close + 1 != end && !p)
            return zeus__error(ZEUS_EINVAL, "Pushgateway URL '%s': bad host", url);
        h++;
        hend = close;
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        if (colon) {
            hend = colon;
            p = colon + 1;
        }
    }
    size_t hl = (size_t)(hend - h), pl = p ? (size_t)(end - p) : 2;
    if (hl == 0 || hl >= host_size)
        return zeus__error(ZEUS_EINVAL, "Pushgateway URL '%s': bad host", url);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (p) {
        if (pl == 0 || pl >= port_size || strspn(p, "0123456789") < pl)
            return zeus__error(ZEUS_EINVAL, "Pushgateway URL '%s': bad port", url);
        memcpy(port, p, pl);
        port[pl] = '\0';
    } else {
        zeus__strlcpy(port, "80", port_size);
    }
    size_t rl = strlen(end);
    while (rl > 0 && end[rl - 1] == '/')
        rl--;
    if (rl >= prefix_size)
        return zeus__error(ZEUS_EINVAL, "Pushgateway URL '%s': path too long", url);
    memcpy(prefix, end, rl);
    prefix[rl] = '\0';
    return ZEUS_OK;
}

static bool plain_segment(const char *v)
{
    if (!*v)
        return false;
    for (; *v; v++)
        if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              *v == '-' || *v == '_' || *v == '.' || *v == '~'))
            return false;
    return true;
}

/* "/NAME/VALUE", or "/NAME@base64/B64URL" for a value a path segment cannot carry (the
 * Pushgateway's own escape; an empty value is "="). */
static void put_label(FILE *f, const char *name, const char *value)
{
    if (plain_segment(value)) {
        fprintf(f, "/%s/%s", name, value);
        return;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fprintf(f, "/%s@base64/", name);
    const unsigned char *s = (const unsigned char *)value;
    size_t n = strlen(value);
    if (n == 0)
        fputc('=', f);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? b64[v & 63] : '=', f);
    }
}

static bool valid_label_name(const char *n)
{
    if (!n || !*n || (*n >= '0' && *n <= '9'))
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
              *n == '_'))
            return false;
    return true;
}

/* The request path: PREFIX/metrics/job/JOB[/NAME/VALUE...][/EXTRA_NAME/EXTRA_VALUE]. */
static int build_path(const zeus_push_target *t, const char *prefix, const char *extra_name,
                      const char *extra_value, char **out)
{
    if (!t->job || !*t->job)
        return zeus__error(ZEUS_EINVAL, "a Pushgateway push needs a job name");
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    fprintf(f, "%s/metrics", prefix);
    put_label(f, "job", t->job);
    int rc = ZEUS_OK;
    for (const char *const *g = t->grouping; g && g[0]; g += 2) {
        if (!valid_label_name(g[0]) || !g[1] || strcmp(g[0], "job") == 0) {
            rc = zeus__error(ZEUS_EINVAL, "grouping label '%s' %s", g[0],
                             !g[1] ? "has no value" : "is not a valid label name");
            break;
        }
        put_label(f, g[0], g[1]);
    }
    if (extra_name)
        put_label(f, extra_name, extra_value);
    if (fclose(f) != 0 && rc == ZEUS_OK)
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
    if (rc != ZEUS_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int remaining_ms(int64_t deadline_ns)
{
    int64_t left = deadline_ns - zeus_now_ns();
    return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

static int wait_fd(int fd, short events, int64_t deadline_ns, const char *what)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int ms = remaining_ms(deadline_ns);
        int n = ms > 0 ? poll(&p, 1, ms) : 0;
        if (n > 0)
            return ZEUS_OK;
        if (n == 0)
            return zeus__error(ZEUS_ETIMEOUT, "Pushgateway: timed out %s", what);
        if (errno != EINTR)
            return zeus__error(ZEUS_EIO, "Pushgateway: poll: %s", strerror(errno));
    }
}

static int connect_to(const char *host, const char *port, int64_t deadline_ns, int *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
        return zeus__error(ZEUS_EIO, "Pushgateway %s:%s: %s", host, port, gai_strerror(g));
    int rc = ZEUS_EIO, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        rc = wait_fd(fd, POLLOUT, deadline_ns, "connecting");
        socklen_t len = sizeof err;
        if (rc == ZEUS_OK && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0))
            rc = ZEUS_EIO;
        if (rc == ZEUS_OK) {
            *out = fd;
            break;
        }
        close(fd);
        if (rc == ZEUS_ETIMEOUT)
            break;
    }
    freeaddrinfo(res);
    if (rc == ZEUS_EIO)
        return zeus__error(ZEUS_EIO, "cannot connect to the Pushgateway at %s:%s: %s", host, port,
                           strerror(err ? err : ECONNREFUSED));
    return rc;
}

static int send_all(int fd, const char *data, size_t len, int64_t deadline_ns)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return zeus__error(ZEUS_EIO, "Pushgateway: send: %s", strerror(errno));
        int rc = wait_fd(fd, POLLOUT, deadline_ns, "sending");
        if (rc != ZEUS_OK)
            return rc;
    }
    return ZEUS_OK;
}

/* Reads the reply up to 4 KiB (the status line and a message are all we use) or its end. */
static int read_reply(int fd, char *buf, size_t size, int64_t deadline_ns)
{
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
            /* Whole headers and a Content-Length body (or none) are enough. */
            const char *hdr_end = strstr(buf, "\r\n\r\n");
            if (hdr_end) {
                const char *cl = strcasestr(buf, "\r\ncontent-length:");
                size_t body = len - (size_t)(hdr_end + 4 - buf);
                if (cl && cl < hdr_end && body >= strtoul(cl + 17, NULL, 10))
                    break;
            }
            continue;
        }
        if (n == 0)
            break;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return zeus__error(ZEUS_EIO, "Pushgateway: recv: %s", strerror(errno));
        int rc = wait_fd(fd, POLLIN, deadline_ns, "waiting for the answer");
        if (rc != ZEUS_OK)
            return rc;
    }
    buf[len] = '\0';
    return ZEUS_OK;
}

int zeus__push(const zeus_push_target *t, const char *body, bool replace, const char *extra_name,
               const char *extra_value)
{
    if (!t || !body)
        return zeus__error(ZEUS_EINVAL, "zeus_push_text: NULL target or body");
    char host[256], port[16], prefix[512];
    int rc =
        zeus__push_parse_url(t->url, host, sizeof host, port, sizeof port, prefix, sizeof prefix);
    if (rc != ZEUS_OK)
        return rc;
    char *path = NULL, *request = NULL;
    int fd = -1;
    if ((rc = build_path(t, prefix, extra_name, extra_value, &path)) != ZEUS_OK)
        return rc;
    double timeout_s =
        t->timeout_s > 0 && isfinite(t->timeout_s) ? t->timeout_s : DEFAULT_TIMEOUT_S;
    int64_t deadline = zeus_now_ns() + (int64_t)(timeout_s * 1e9);
    size_t body_len = strlen(body);
    bool v6 = strchr(host, ':') != NULL;
    int n = asprintf(&request,
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: libzeus/%s\r\n"
                     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     replace ? "PUT" : "POST", path, v6 ? "[" : "", host, v6 ? "]" : "", port,
                     zeus_version(), body_len);
    if (n < 0) {
        request = NULL;
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        goto done;
    }
    char reply[4096];
    if ((rc = connect_to(host, port, deadline, &fd)) != ZEUS_OK ||
        (rc = send_all(fd, request, (size_t)n, deadline)) != ZEUS_OK ||
        (rc = send_all(fd, body, body_len, deadline)) != ZEUS_OK ||
        (rc = read_reply(fd, reply, sizeof reply, deadline)) != ZEUS_OK)
        goto done;
    int status = 0;
    if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1) {
        rc = zeus__error(ZEUS_EIO, "Pushgateway %s:%s answered no HTTP status", host, port);
        goto done;
    }
    if (status < 200 || status > 299) {
        const char *msg = strstr(reply, "\r\n\r\n");
        msg = msg ? msg + 4 : "";
        size_t line = strcspn(reply, "\r\n"), ml = strcspn(msg, "\n");
        rc = zeus__error(ZEUS_EIO, "Pushgateway %s %s: %.*s%s%.*s", replace ? "PUT" : "POST", path,
                         (int)line, reply, ml ? ": " : "", (int)(ml > 300 ? 300 : ml), msg);
        goto done;
    }
done:
    if (fd >= 0)
        close(fd);
    free(request);
    free(path);
    return rc;
}

int zeus_push_target_check(const zeus_push_target *t)
{
    if (!t)
        return zeus__error(ZEUS_EINVAL, "zeus_push_target_check: NULL target");
    char host[256], port[16], prefix[512], *path = NULL;
    int rc =
        zeus__push_parse_url(t->url, host, sizeof host, port, sizeof port, prefix, sizeof prefix);
    if (rc == ZEUS_OK)
        rc = build_path(t, prefix, NULL, NULL, &path);
    free(path);
    return rc;
}

int zeus_push_text(const zeus_push_target *t, const char *body, bool replace)
{
    return zeus__push(t, body, replace, NULL, NULL);
}
