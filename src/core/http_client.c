/* The minimal HTTP/1.1 client (core/http_client.h). */
#include "core/http_client.h"

#include "core/internal.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int zeus__http_parse_url(const char *what, const char *url, char *host, size_t host_size,
                         char *port, size_t port_size, char *prefix, size_t prefix_size)
{
    if (!url || strncmp(url, "http://", 7) != 0)
        return zeus__error(ZEUS_EINVAL, "%s URL '%s' must start with http://", what,
                           url ? url : "(null)");
    const char *h = url + 7, *end = h + strcspn(h, "/?#");
    if (*end == '?' || *end == '#')
        return zeus__error(ZEUS_EINVAL, "%s URL '%s': no query or fragment", what, url);
    const char *hend = end, *p = NULL;
    if (*h == '[') { /* [v6]:port */
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return zeus__error(ZEUS_EINVAL, "%s URL '%s': unclosed '['", what, url);
        p = close[1] == ':' ? close + 2 : NULL;
        if (close + 1 != end && !p)
            return zeus__error(ZEUS_EINVAL, "%s URL '%s': bad host", what, url);
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
        return zeus__error(ZEUS_EINVAL, "%s URL '%s': bad host", what, url);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (p) {
        if (pl == 0 || pl >= port_size || strspn(p, "0123456789") < pl)
            return zeus__error(ZEUS_EINVAL, "%s URL '%s': bad port", what, url);
        memcpy(port, p, pl);
        port[pl] = '\0';
    } else {
        zeus__strlcpy(port, "80", port_size);
    }
    size_t rl = strlen(end);
    while (rl > 0 && end[rl - 1] == '/')
        rl--;
    if (rl >= prefix_size)
        return zeus__error(ZEUS_EINVAL, "%s URL '%s': path too long", what, url);
    memcpy(prefix, end, rl);
    prefix[rl] = '\0';
    return ZEUS_OK;
}

static int remaining_ms(int64_t deadline_ns)
{
    int64_t left = deadline_ns - zeus_now_ns();
    return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

static int wait_fd(const char *what, int fd, short events, int64_t deadline_ns, const char *doing)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int ms = remaining_ms(deadline_ns);
        int n = ms > 0 ? poll(&p, 1, ms) : 0;
        if (n > 0)
            return ZEUS_OK;
        if (n == 0)
            return zeus__error(ZEUS_ETIMEOUT, "%s: timed out %s", what, doing);
        if (errno != EINTR)
            return zeus__error(ZEUS_EIO, "%s: poll: %s", what, strerror(errno));
    }
}

static int connect_to(const char *what, const char *host, const char *port, int64_t deadline_ns,
                      int *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
        return zeus__error(ZEUS_EIO, "%s %s:%s: %s", what, host, port, gai_strerror(g));
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
        rc = wait_fd(what, fd, POLLOUT, deadline_ns, "connecting");
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
        return zeus__error(ZEUS_EIO, "cannot connect to the %s at %s:%s: %s", what, host, port,
                           strerror(err ? err : ECONNREFUSED));
    return rc;
}

static int send_all(const char *what, int fd, const char *data, size_t len, int64_t deadline_ns)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return zeus__error(ZEUS_EIO, "%s: send: %s", what, strerror(errno));
        int rc = wait_fd(what, fd, POLLOUT, deadline_ns, "sending");
        if (rc != ZEUS_OK)
            return rc;
    }
    return ZEUS_OK;
}

/* Reads until the end, a complete Content-Length body, or max bytes. */
static int read_reply(const char *what, int fd, size_t max, int64_t deadline_ns, char **out,
                      size_t *out_len)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    buf[0] = '\0';
    while (len < max) {
        if (len + 1 >= cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return zeus__error(ZEUS_ENOMEM, "out of memory");
            }
            buf = grown;
            cap *= 2;
        }
        size_t room = cap - 1 - len;
        if (room > max - len)
            room = max - len;
        ssize_t n = recv(fd, buf + len, room, 0);
        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
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
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            free(buf);
            return zeus__error(ZEUS_EIO, "%s: recv: %s", what, strerror(errno));
        }
        int rc = wait_fd(what, fd, POLLIN, deadline_ns, "waiting for the answer");
        if (rc != ZEUS_OK) {
            free(buf);
            return rc;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return ZEUS_OK;
}

int zeus__http_exchange(const char *what, const char *host, const char *port, const char *request,
                        size_t request_len, const char *body, size_t body_len, int64_t deadline_ns,
                        size_t max_reply, zeus__http_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    int fd = -1;
    size_t len = 0;
    int rc = connect_to(what, host, port, deadline_ns, &fd);
    if (rc == ZEUS_OK)
        rc = send_all(what, fd, request, request_len, deadline_ns);
    if (rc == ZEUS_OK && body_len > 0)
        rc = send_all(what, fd, body, body_len, deadline_ns);
    if (rc == ZEUS_OK)
        rc = read_reply(what, fd, max_reply, deadline_ns, &reply->raw, &len);
    if (fd >= 0)
        close(fd);
    if (rc != ZEUS_OK)
        return rc;
    if (sscanf(reply->raw, "HTTP/1.%*d %d", &reply->status) != 1) {
        zeus__http_reply_free(reply);
        return zeus__error(ZEUS_EIO, "%s %s:%s answered no HTTP status", what, host, port);
    }
    const char *hdr_end = strstr(reply->raw, "\r\n\r\n");
    reply->body = hdr_end ? hdr_end + 4 : reply->raw + len;
    reply->body_len = (size_t)(reply->raw + len - reply->body);
    return ZEUS_OK;
}

void zeus__http_reply_free(zeus__http_reply *reply)
{
    free(reply->raw);
    memset(reply, 0, sizeof *reply);
}

bool zeus__http_header(const zeus__http_reply *reply, const char *name, char *buf, size_t size)
{
    size_t nl = strlen(name);
    const char *end = reply->body ? reply->body : reply->raw + strlen(reply->raw);
    for (const char *line = strstr(reply->raw, "\r\n"); line && line + 2 < end;
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            v += strspn(v, " \t");
            size_t vl = strcspn(v, "\r\n");
            if (vl >= size)
                vl = size - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return true;
        }
    }
    return false;
}
