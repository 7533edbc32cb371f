/* The HTTP/1.1 client's sockets (core/http_client.h): connecting over TCP or a Unix socket,
 * sending, reading an answer to the end of its framing, and event streams. */
#include "core/http_client.h"

#include "core/internal.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct zeus__http_conn {
    const char *what;
    int fd;
    int wake[2]; /* zeus__http_conn_cancel writes to wake[1] */
    char *buf;   /* raw bytes read, NUL-terminated */
    size_t len, cap, max;
    zeus__http_head head;
    char *headers; /* a copy of the head's header lines */
    /* Event streams: buf[head.head_len + data_off ..) is raw body not decoded yet; data holds
     * decoded body not yet handed out. */
    size_t raw_off;
    zeus__http_chunks chunks;
    char *data;
    size_t data_len, data_cap;
    bool eof;
};

/* Milliseconds to deadline_ns for poll(): -1 for no deadline (deadline_ns < 0). */
static int remaining_ms(int64_t deadline_ns)
{
    if (deadline_ns < 0)
        return -1;
    int64_t left = deadline_ns - zeus_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Waits until fd is ready for events, the deadline passes (ZEUS_ETIMEOUT) or wake (-1: none) is
 * readable (ZEUS_ESTATE: cancelled). */
static int wait_fd(const char *what, int fd, int wake, short events, int64_t deadline_ns,
                   const char *doing)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = wake, .events = POLLIN}};
        int ms = remaining_ms(deadline_ns);
        int n = ms != 0 ? poll(p, wake >= 0 ? 2 : 1, ms) : 0;
        if (n > 0 && wake >= 0 && (p[1].revents & POLLIN))
            return zeus__error(ZEUS_ESTATE, "%s: cancelled while %s", what, doing);
        if (n > 0)
            return ZEUS_OK;
        if (n == 0)
            return zeus__error(ZEUS_ETIMEOUT, "%s: timed out %s", what, doing);
        if (errno != EINTR)
            return zeus__error(ZEUS_EIO, "%s: poll: %s", what, strerror(errno));
    }
}

/* A non-blocking connect of a new socket to addr: ZEUS_OK, ZEUS_ETIMEOUT, or ZEUS_EIO with the
 * reason in *err. */
static int connect_addr(const char *what, int family, const struct sockaddr *addr, socklen_t len,
                        int64_t deadline_ns, int *out, int *err)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *err = errno;
        return ZEUS_EIO;
    }
    if (connect(fd, addr, len) != 0 && errno != EINPROGRESS && errno != EAGAIN) {
        *err = errno;
        close(fd);
        return ZEUS_EIO;
    }
    int rc = wait_fd(what, fd, -1, POLLOUT, deadline_ns, "connecting");
    socklen_t el = sizeof *err;
    if (rc == ZEUS_OK && (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &el) != 0 || *err != 0))
        rc = ZEUS_EIO;
    if (rc != ZEUS_OK) {
        close(fd);
        return rc;
    }
    *out = fd;
    return ZEUS_OK;
}

int zeus__http_connect(const zeus__http_peer *peer, int64_t deadline_ns, int *out)
{
    const char *what = peer->what;
    int rc = ZEUS_EIO, err = 0;
    if (peer->unix_path && *peer->unix_path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(peer->unix_path) >= sizeof sa.sun_path)
            return zeus__error(ZEUS_EINVAL, "%s: socket path longer than %zu bytes", what,
                               sizeof sa.sun_path - 1);
        memcpy(sa.sun_path, peer->unix_path, strlen(peer->unix_path));
        rc = connect_addr(what, AF_UNIX, (struct sockaddr *)&sa, sizeof sa, deadline_ns, out, &err);
        if (rc == ZEUS_EIO)
            return zeus__error(ZEUS_ENODEV, "cannot connect to the %s at %s: %s", what,
                               peer->unix_path, strerror(err));
        return rc;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(peer->host, peer->port, &hints, &res);
    if (g != 0)
        return zeus__error(ZEUS_ENODEV, "cannot connect to the %s at %s:%s: %s", what, peer->host,
                           peer->port, gai_strerror(g));
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        rc = connect_addr(what, a->ai_family, a->ai_addr, a->ai_addrlen, deadline_ns, out, &err);
        if (rc != ZEUS_EIO)
            break;
    }
    freeaddrinfo(res);
    if (rc == ZEUS_EIO)
        return zeus__error(ZEUS_ENODEV, "cannot connect to the %s at %s:%s: %s", what, peer->host,
                           peer->port, strerror(err ? err : ECONNREFUSED));
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
        int rc = wait_fd(what, fd, -1, POLLOUT, deadline_ns, "sending");
        if (rc != ZEUS_OK)
            return rc;
    }
    return ZEUS_OK;
}

/* Reads what is there (waiting for it until the deadline) onto c->buf; sets c->eof at the end. */
static int recv_some(zeus__http_conn *c, int64_t deadline_ns, const char *doing)
{
    if (c->len + 1 >= c->cap) {
        if (c->len >= c->max)
            return zeus__error(ZEUS_EIO, "%s: answer larger than %zu bytes", c->what, c->max);
        size_t cap = c->cap * 2 > c->max + 1 ? c->max + 1 : c->cap * 2;
        char *grown = realloc(c->buf, cap);
        if (!grown)
            return zeus__error(ZEUS_ENOMEM, "out of memory");
        c->buf = grown;
        c->cap = cap;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - 1 - c->len, 0);
        if (n >= 0) {
            c->len += (size_t)n;
            c->buf[c->len] = '\0';
            c->eof = n == 0;
            return ZEUS_OK;
        }
        if (errno == ECONNRESET) {
            c->eof = true;
            return ZEUS_OK;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return zeus__error(ZEUS_EIO, "%s: recv: %s", c->what, strerror(errno));
        int rc = wait_fd(c->what, c->fd, c->wake[0], POLLIN, deadline_ns, doing);
        if (rc != ZEUS_OK)
            return rc;
    }
}

void zeus__http_conn_close(zeus__http_conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    for (int i = 0; i < 2; i++)
        if (c->wake[i] >= 0)
            close(c->wake[i]);
    free(c->buf);
    free(c->data);
    free(c->headers);
    free(c);
}

static int conn_new(const zeus__http_peer *peer, size_t max, zeus__http_conn **out)
{
    zeus__http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    c->what = peer->what;
    c->fd = c->wake[0] = c->wake[1] = -1;
    c->cap = 4096 < max + 1 ? 4096 : max + 1;
    c->max = max;
    c->buf = malloc(c->cap);
    if (!c->buf) {
        zeus__http_conn_close(c);
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    c->buf[0] = '\0';
    *out = c;
    return ZEUS_OK;
}

int zeus__http_conn_open(const zeus__http_peer *peer, const char *request, size_t request_len,
                         const char *body, size_t body_len, int64_t deadline_ns, size_t max_reply,
                         zeus__http_conn **out)
{
    zeus__http_conn *c = NULL;
    int rc = conn_new(peer, max_reply, &c);
    if (rc != ZEUS_OK)
        return rc;
    rc = zeus__http_connect(peer, deadline_ns, &c->fd);
    if (rc == ZEUS_OK)
        rc = send_all(c->what, c->fd, request, request_len, deadline_ns);
    if (rc == ZEUS_OK && body_len > 0)
        rc = send_all(c->what, c->fd, body, body_len, deadline_ns);
    const char *why = NULL;
    int head = 1;
    while (rc == ZEUS_OK && head == 1) {
        rc = recv_some(c, deadline_ns, "waiting for the answer");
        if (rc != ZEUS_OK)
            break;
        head = zeus__http_parse_head(c->buf, c->len, &c->head, &why);
        if (head < 0)
            rc = zeus__error(ZEUS_EPARSE, "%s: malformed answer: %s", c->what, why);
        else if (head == 1 && c->eof)
            rc = zeus__error(ZEUS_EIO, "%s closed the connection %s", c->what,
                             c->len ? "in the middle of the answer's head" : "without answering");
    }
    if (rc == ZEUS_OK) {
        const char *first = strstr(c->buf, "\r\n") + 2, *end = c->buf + c->head.head_len - 2;
        size_t n = first < end ? (size_t)(end - first) : 0;
        if (!(c->headers = malloc(n + 1)))
            rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        else
            zeus__strlcpy(c->headers, first, n + 1);
    }
    if (rc != ZEUS_OK) {
        zeus__http_conn_close(c);
        return rc;
    }
    *out = c;
    return ZEUS_OK;
}

const zeus__http_head *zeus__http_conn_head(const zeus__http_conn *c)
{
    return &c->head;
}

const char *zeus__http_conn_headers(const zeus__http_conn *c)
{
    return c->headers;
}

/* Whether buf holds the whole answer by its framing (chunked: scanned from c->raw_off on). */
static int answer_complete(zeus__http_conn *c, bool *done)
{
    const zeus__http_head *h = &c->head;
    size_t body = c->len - h->head_len;
    const char *why = NULL;
    if (h->chunked) {
        size_t used, made;
        int rc = zeus__http_dechunk(&c->chunks, c->buf + h->head_len + c->raw_off,
                                    body - c->raw_off, NULL, &used, &made, &why);
        if (rc != ZEUS_OK)
            return zeus__error(rc, "%s: malformed answer: %s", c->what, why);
        c->raw_off += used;
        *done = c->chunks.phase == ZEUS__HTTP_CHUNKS_DONE;
    } else {
        *done = h->has_length ? body >= h->length : c->eof;
    }
    return ZEUS_OK;
}

int zeus__http_conn_finish(zeus__http_conn *c, int64_t deadline_ns, zeus__http_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    bool done = false;
    int rc = answer_complete(c, &done);
    while (rc == ZEUS_OK && !done) {
        if (c->eof)
            return zeus__error(ZEUS_EIO, "%s closed the connection in the middle of the answer",
                               c->what);
        if ((rc = recv_some(c, deadline_ns, "waiting for the answer")) == ZEUS_OK)
            rc = answer_complete(c, &done);
    }
    if (rc != ZEUS_OK)
        return rc;
    const char *why = NULL;
    if (zeus__http_parse_reply(c->buf, c->len, reply, &why) != ZEUS_OK)
        return zeus__error(ZEUS_EPARSE, "%s: malformed answer: %s", c->what, why);
    c->buf = NULL; /* now the reply's */
    c->len = c->cap = 0;
    return ZEUS_OK;
}

/* Moves the raw body read so far into c->data (decoded when chunked). */
static int stream_decode(zeus__http_conn *c)
{
    char *raw = c->buf + c->head.head_len + c->raw_off;
    size_t n = c->len - c->head.head_len - c->raw_off, used = n, made = n;
    if (c->data_len + n + 1 > c->data_cap) {
        size_t cap = (c->data_len + n + 1) * 2;
        char *grown = realloc(c->data, cap);
        if (!grown)
            return zeus__error(ZEUS_ENOMEM, "out of memory");
        c->data = grown;
        c->data_cap = cap;
    }
    const char *why = NULL;
    if (c->head.chunked) {
        if (zeus__http_dechunk(&c->chunks, raw, n, c->data + c->data_len, &used, &made, &why) != 0)
            return zeus__error(ZEUS_EPARSE, "%s: malformed event stream: %s", c->what, why);
    } else {
        memcpy(c->data + c->data_len, raw, n);
    }
    c->data_len += made;
    /* Keep only the undecoded rest (a partial chunk line) after the head. */
    memmove(raw, raw + used, n - used);
    c->len = c->head.head_len + c->raw_off + (n - used);
    c->buf[c->len] = '\0';
    return ZEUS_OK;
}

int zeus__http_conn_event(zeus__http_conn *c, int64_t deadline_ns, char **event, size_t *len)
{
    *event = NULL;
    *len = 0;
    for (;;) {
        char byte;
        if (c->wake[0] >= 0 && read(c->wake[0], &byte, 1) == 1) {
            (void)!write(c->wake[1], &byte, 1); /* stays cancelled */
            return zeus__error(ZEUS_ESTATE, "%s: the event stream was cancelled", c->what);
        }
        int rc = stream_decode(c);
        if (rc != ZEUS_OK)
            return rc;
        size_t elen, span;
        if (zeus__sse_event(c->data, c->data_len, &elen, &span)) {
            char *e = malloc(elen + 1);
            if (!e)
                return zeus__error(ZEUS_ENOMEM, "out of memory");
            memcpy(e, c->data, elen);
            e[elen] = '\0';
            memmove(c->data, c->data + span, c->data_len - span);
            c->data_len -= span;
            *event = e;
            *len = elen;
            return ZEUS_OK;
        }
        if (c->chunks.phase == ZEUS__HTTP_CHUNKS_DONE || (c->eof && !c->head.chunked))
            return ZEUS_OK; /* the server ended the stream (a partial event is dropped) */
        if (c->eof)
            return zeus__error(ZEUS_EIO, "%s closed the connection in the middle of a chunk",
                               c->what);
        /* Room for the next read: the raw part is small after each decode. */
        if (c->len + 1 >= c->cap && c->len >= c->max)
            return zeus__error(ZEUS_EIO, "%s: an event larger than %zu bytes", c->what, c->max);
        if (c->data_len > c->max)
            return zeus__error(ZEUS_EIO, "%s: an event larger than %zu bytes", c->what, c->max);
        rc = recv_some(c, deadline_ns, "waiting for an event");
        if (rc != ZEUS_OK)
            return rc;
    }
}

int zeus__http_conn_cancellable(zeus__http_conn *c)
{
    if (c->wake[0] < 0 && pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return zeus__error(ZEUS_EIO, "%s: cannot make the stream cancellable: pipe: %s", c->what,
                           strerror(errno));
    return ZEUS_OK;
}

void zeus__http_conn_cancel(zeus__http_conn *c)
{
    char byte = 'x';
    (void)!write(c->wake[1], &byte, 1);
}

int zeus__http_exchange(const char *what, const char *host, const char *port, const char *request,
                        size_t request_len, const char *body, size_t body_len, int64_t deadline_ns,
                        size_t max_reply, zeus__http_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    zeus__http_peer peer = {.what = what, .host = host, .port = port};
    zeus__http_conn *c = NULL;
    int rc = zeus__http_conn_open(&peer, request, request_len, body, body_len, deadline_ns,
                                  max_reply, &c);
    if (rc == ZEUS_ENODEV)
        return ZEUS_EIO; /* what the Pushgateway and carbon callers expect (same message) */
    if (rc != ZEUS_OK)
        return rc;
    rc = zeus__http_conn_finish(c, deadline_ns, reply);
    zeus__http_conn_close(c);
    return rc;
}

void zeus__http_reply_free(zeus__http_reply *reply)
{
    free(reply->raw);
    memset(reply, 0, sizeof *reply);
}

/* The request's head for the plain client: request line, Host, User-Agent, the caller's headers,
 * Content-Length when there is a body, Connection: close. */
static int plain_head(const zeus__http_request_spec *r, const char *host, const char *port,
                      const char *prefix, char **head, size_t *len)
{
    FILE *f = open_memstream(head, len);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    bool v6 = strchr(host, ':') != NULL;
    fprintf(f, "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: libzeus/%s\r\n", r->method,
            prefix, r->target, v6 ? "[" : "", host, v6 ? "]" : "", port, zeus_version());
    for (const char *const *h = r->headers; h && *h; h++)
        fprintf(f, "%s\r\n", *h);
    if (r->body_len > 0)
        fprintf(f, "Content-Length: %zu\r\n", r->body_len);
    fputs("Connection: close\r\n\r\n", f);
    if (fclose(f) != 0 || !*head) {
        free(*head);
        *head = NULL;
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    return ZEUS_OK;
}

int zeus__http_request(const zeus__http_request_spec *r, zeus__http_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    char host[256], port[16], prefix[1024];
    bool tls = false;
    int rc = zeus__http_parse_any_url(r->what, r->base_url, &tls, host, sizeof host, port,
                                      sizeof port, prefix, sizeof prefix);
    if (rc != ZEUS_OK)
        return rc;
    if (tls) {
        bool v6 = strchr(host, ':') != NULL;
        char *url = NULL;
        if (asprintf(&url, "https://%s%s%s:%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "", port,
                     prefix, r->target) < 0)
            return zeus__error(ZEUS_ENOMEM, "out of memory");
        rc = zeus__https_request(r, url, host, port, reply);
        free(url);
        return rc;
    }
    char *head = NULL;
    size_t len = 0;
    if ((rc = plain_head(r, host, port, prefix, &head, &len)) != ZEUS_OK)
        return rc;
    rc = zeus__http_exchange(r->what, host, port, head, len, r->body, r->body_len, r->deadline_ns,
                             r->max_reply, reply);
    free(head);
    return rc;
}
