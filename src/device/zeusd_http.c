/* The zeusd client (zeus/zeusd_client.h) over the one HTTP/1.1 client (core/http_client.h): the
 * daemon's address, the request's head, the answer as a reply or an event stream. The zeusd
 * device backends (zeusd_client.c) and the Python package use it. */
#include "zeus/zeusd_client.h"

#include "core/http_client.h"
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define ZEUSD_DEFAULT_TIMEOUT_S 30.0
#define ZEUSD_REPLY_MAX (4u << 20)
#define ZEUSD_TOKEN_MAX 8192

struct zeus_zeusd_client {
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char host[256];
    char port[16];
    char host_header[300];
    char *token;
    double timeout_s;
    char name[320]; /* "zeusd at ..." */
};

struct zeus_zeusd_stream {
    zeus__http_conn *conn;
    char name[320]; /* "zeusd at ...: GET /gpu/stream_power" */
};

void zeus_zeusd_client_options_init_sized(zeus_zeusd_client_options *o, size_t struct_size)
{
    zeus_zeusd_client_options defaults = {.struct_size = struct_size};
    memcpy(o, &defaults, struct_size < sizeof defaults ? struct_size : sizeof defaults);
}

/* HOST:PORT or [V6]:PORT into c->host, c->port. */
static int parse_host_port(zeus_zeusd_client *c, const char *hp)
{
    const char *colon = strrchr(hp, ':'), *host = hp;
    size_t hl = colon ? (size_t)(colon - hp) : 0;
    if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    if (!colon || hl == 0 || hl >= sizeof c->host || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof c->port || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return zeus__error(ZEUS_EINVAL, "zeusd address '%s' is not HOST:PORT", hp);
    memcpy(c->host, host, hl);
    c->host[hl] = '\0';
    zeus__strlcpy(c->port, colon + 1, sizeof c->port);
    snprintf(c->host_header, sizeof c->host_header, "%s", hp);
    snprintf(c->name, sizeof c->name, "zeusd at %s", hp);
    return ZEUS_OK;
}

static int client_setup(zeus_zeusd_client *c, const zeus_zeusd_client_options *o)
{
    if (o->socket_path && *o->socket_path) {
        if (strlen(o->socket_path) >= sizeof c->socket_path)
            return zeus__error(ZEUS_EINVAL, "zeusd socket path longer than %zu bytes: %s",
                               sizeof c->socket_path - 1, o->socket_path);
        zeus__strlcpy(c->socket_path, o->socket_path, sizeof c->socket_path);
        snprintf(c->host_header, sizeof c->host_header, "localhost");
        snprintf(c->name, sizeof c->name, "zeusd at %s", c->socket_path);
    } else if (o->host_port && *o->host_port) {
        int rc = parse_host_port(c, o->host_port);
        if (rc != ZEUS_OK)
            return rc;
    } else {
        return zeus__error(ZEUS_EINVAL, "no zeusd address (a socket path or HOST:PORT)");
    }
    if (o->token && *o->token) {
        if (strlen(o->token) > ZEUSD_TOKEN_MAX || strpbrk(o->token, "\r\n"))
            return zeus__error(ZEUS_EINVAL,
                               "the zeusd token is longer than %d bytes or has a "
                               "line break",
                               ZEUSD_TOKEN_MAX);
        if (!(c->token = strdup(o->token)))
            return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    if (!(o->timeout_s >= 0) || o->timeout_s > 1e6)
        return zeus__error(ZEUS_EINVAL, "zeusd timeout %g s: 0 (30 s) or a positive number",
                           o->timeout_s);
    c->timeout_s = o->timeout_s > 0 ? o->timeout_s : ZEUSD_DEFAULT_TIMEOUT_S;
    return ZEUS_OK;
}

int zeus_zeusd_client_open(const zeus_zeusd_client_options *options, zeus_zeusd_client **out)
{
    if (!options || !out)
        return zeus__error(ZEUS_EINVAL, "zeus_zeusd_client_open: NULL argument");
    *out = NULL;
    zeus_zeusd_client_options o;
    zeus_zeusd_client_options_init(&o);
    int rc = zeus__options_copy(options, &o, sizeof o, "zeus_zeusd_client_options",
                                "zeus_zeusd_client_options_init");
    if (rc != ZEUS_OK)
        return rc;
    zeus_zeusd_client *c = calloc(1, sizeof *c);
    if (!c)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    if ((rc = client_setup(c, &o)) != ZEUS_OK) {
        zeus_zeusd_client_close(c);
        return rc;
    }
    *out = c;
    return ZEUS_OK;
}

void zeus_zeusd_client_close(zeus_zeusd_client *c)
{
    if (!c)
        return;
    free(c->token);
    free(c);
}

const char *zeus_zeusd_client_name(const zeus_zeusd_client *c)
{
    return c ? c->name : "zeusd";
}

/* The caller's header lines: "Name: value" lines ending in CRLF, none of the library's. */
static int check_headers(const zeus_zeusd_client *c, const char *headers)
{
    static const char *const ours[] = {"host", "connection", "content-length", "transfer-encoding"};
    for (const char *h = headers; h && *h;) {
        const char *eol = strstr(h, "\r\n"), *colon = strchr(h, ':');
        size_t n = eol ? (size_t)(eol - h) : 0;
        if (!eol || !colon || colon > eol || colon == h || memchr(h, '\n', n) ||
            memchr(h, '\r', n) || strcspn(h, " \t") < (size_t)(colon - h))
            return zeus__error(ZEUS_EINVAL,
                               "%s: a request header line is not 'Name: value' "
                               "ending in CRLF: %.80s",
                               c->name, h);
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if ((size_t)(colon - h) == strlen(ours[i]) &&
                strncasecmp(h, ours[i], strlen(ours[i])) == 0)
                return zeus__error(ZEUS_EINVAL, "%s: the %.*s header is the client's own", c->name,
                                   (int)(colon - h), h);
        if (c->token && (size_t)(colon - h) == 13 && strncasecmp(h, "authorization", 13) == 0)
            return zeus__error(ZEUS_EINVAL, "%s: an Authorization header and a token", c->name);
        h = eol + 2;
    }
    return ZEUS_OK;
}

/* The request's head (malloc'd) after checking method, target and headers. */
static int request_head(const zeus_zeusd_client *c, const char *method, const char *target,
                        const char *headers, size_t body_len, char **out, size_t *len)
{
    if (!method || !*method || strlen(method) > 16 ||
        strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method))
        return zeus__error(ZEUS_EINVAL, "%s: bad method '%s'", c->name, method ? method : "");
    if (strcmp(method, "HEAD") == 0) /* its answer's Content-Length describes no body */
        return zeus__error(ZEUS_EINVAL, "%s: HEAD requests are not supported", c->name);
    if (!target || target[0] != '/' || strlen(target) > 8192)
        return zeus__error(ZEUS_EINVAL, "%s: the target '%.80s' is not a path", c->name,
                           target ? target : "");
    for (const char *t = target; *t; t++)
        if ((unsigned char)*t <= ' ' || *t == 0x7f)
            return zeus__error(ZEUS_EINVAL, "%s: a space or control character in '%.80s'", c->name,
                               target);
    int rc = check_headers(c, headers);
    if (rc != ZEUS_OK)
        return rc;
    bool with_length = body_len > 0 || strcmp(method, "GET") != 0;
    char length[48] = "";
    if (with_length)
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", body_len);
    int n =
        asprintf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%s%s%s%s\r\n", method,
                 target, c->host_header, c->token ? "Authorization: Bearer " : "",
                 c->token ? c->token : "", c->token ? "\r\n" : "", length, headers ? headers : "");
    if (n < 0)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    *len = (size_t)n;
    return ZEUS_OK;
}

/* Re-raises the error of a failed step with the daemon and the request in front. */
static int with_context(int rc, const zeus_zeusd_client *c, const char *method, const char *target)
{
    char why[ZEUS_ERROR_DETAIL_LEN];
    zeus__strlcpy(why, zeus_last_error(), sizeof why);
    return zeus__error(rc, "%s: %s %.200s: %s", c->name, method, target, why);
}

static int64_t deadline_after(double s)
{
    return zeus_now_ns() + (int64_t)(s * 1e9);
}

/* Connects, sends, reads the head. */
static int open_conn(zeus_zeusd_client *c, const char *method, const char *target,
                     const char *headers, const void *body, size_t body_len, int64_t deadline,
                     zeus__http_conn **conn)
{
    char *head = NULL;
    size_t head_len = 0;
    int rc = request_head(c, method, target, headers, body_len, &head, &head_len);
    if (rc != ZEUS_OK)
        return rc;
    zeus__http_peer peer = {
        .what = "daemon", .host = c->host, .port = c->port, .unix_path = c->socket_path};
    rc = zeus__http_conn_open(&peer, head, head_len, body, body_len, deadline, ZEUSD_REPLY_MAX,
                              conn);
    free(head);
    return rc == ZEUS_OK ? rc : with_context(rc, c, method, target);
}

static void reply_fill(zeus_zeusd_reply *r, int status, const char *headers, const char *body,
                       size_t body_len, void *internal)
{
    r->status = status;
    r->headers = headers;
    r->body = body;
    r->body_len = body_len;
    r->internal = internal;
    r->content_type[0] = '\0';
    zeus__http_header_in(headers, "Content-Type", r->content_type, sizeof r->content_type);
}

static bool is_event_stream(const zeus__http_conn *conn)
{
    char type[128] = "";
    zeus__http_header_in(zeus__http_conn_headers(conn), "Content-Type", type, sizeof type);
    return zeus__http_conn_head(conn)->status == 200 &&
           strncasecmp(type, "text/event-stream", 17) == 0;
}

/* The rest of the answer into *reply. */
static int finish(zeus_zeusd_client *c, zeus__http_conn *conn, int64_t deadline, const char *method,
                  const char *target, zeus_zeusd_reply *reply)
{
    zeus__http_reply r;
    int rc = zeus__http_conn_finish(conn, deadline, &r);
    if (rc != ZEUS_OK)
        return with_context(rc, c, method, target);
    reply_fill(reply, r.status, r.headers, r.body, r.body_len, r.raw);
    return ZEUS_OK;
}

void zeus_zeusd_reply_free(zeus_zeusd_reply *reply)
{
    if (!reply)
        return;
    free(reply->internal);
    memset(reply, 0, sizeof *reply);
}

/* The reply of an open stream: its own copy of the headers, an empty body. */
static int stream_reply(const zeus__http_conn *conn, zeus_zeusd_reply *reply)
{
    const char *headers = zeus__http_conn_headers(conn);
    size_t n = strlen(headers);
    char *copy = malloc(n + 2);
    if (!copy)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    memcpy(copy, headers, n + 1);
    copy[n + 1] = '\0';
    reply_fill(reply, zeus__http_conn_head(conn)->status, copy, copy + n + 1, 0, copy);
    return ZEUS_OK;
}

/* One request. stream NULL: an event-stream answer is refused; else it is left open there. */
static int exchange(zeus_zeusd_client *c, const char *method, const char *target,
                    const char *headers, const void *body, size_t body_len, zeus_zeusd_reply *reply,
                    zeus_zeusd_stream **stream)
{
    memset(reply, 0, sizeof *reply);
    int64_t deadline = deadline_after(c->timeout_s);
    zeus__http_conn *conn = NULL;
    int rc = open_conn(c, method, target, headers, body, body_len, deadline, &conn);
    if (rc != ZEUS_OK)
        return rc;
    zeus_zeusd_stream *s = NULL;
    if (!is_event_stream(conn))
        rc = finish(c, conn, deadline, method, target, reply);
    else if (!stream)
        rc = zeus__error(ZEUS_EINVAL,
                         "%s: %s %.200s answers with an event stream (open it with "
                         "zeus_zeusd_stream_open)",
                         c->name, method, target);
    else if (!(s = calloc(1, sizeof *s)))
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
    else if ((rc = zeus__http_conn_cancellable(conn)) == ZEUS_OK &&
             (rc = stream_reply(conn, reply)) == ZEUS_OK) {
        s->conn = conn;
        snprintf(s->name, sizeof s->name, "%s: %s %.200s", c->name, method, target);
        *stream = s;
        return ZEUS_OK;
    }
    free(s);
    zeus__http_conn_close(conn);
    return rc;
}

int zeus_zeusd_request(zeus_zeusd_client *c, const char *method, const char *target,
                       const char *headers, const void *body, size_t body_len,
                       zeus_zeusd_reply *reply)
{
    if (!c || !reply)
        return zeus__error(ZEUS_EINVAL, "zeus_zeusd_request: NULL argument");
    return exchange(c, method, target, headers, body, body_len, reply, NULL);
}

int zeus_zeusd_stream_open(zeus_zeusd_client *c, const char *method, const char *target,
                           const char *headers, const void *body, size_t body_len,
                           zeus_zeusd_reply *reply, zeus_zeusd_stream **stream)
{
    if (!c || !reply || !stream)
        return zeus__error(ZEUS_EINVAL, "zeus_zeusd_stream_open: NULL argument");
    *stream = NULL;
    return exchange(c, method, target, headers, body, body_len, reply, stream);
}

int zeus_zeusd_stream_next(zeus_zeusd_stream *s, double timeout_s, char **event, size_t *len)
{
    if (!s || !event || !len)
        return zeus__error(ZEUS_EINVAL, "zeus_zeusd_stream_next: NULL argument");
    int64_t deadline = timeout_s < 0 || timeout_s > 1e9 ? -1 : deadline_after(timeout_s);
    int rc = zeus__http_conn_event(s->conn, deadline, event, len);
    if (rc != ZEUS_OK) {
        char why[ZEUS_ERROR_DETAIL_LEN];
        zeus__strlcpy(why, zeus_last_error(), sizeof why);
        return zeus__error(rc, "%s: %s", s->name, why);
    }
    return ZEUS_OK;
}

void zeus_zeusd_stream_cancel(zeus_zeusd_stream *s)
{
    if (s)
        zeus__http_conn_cancel(s->conn);
}

void zeus_zeusd_stream_close(zeus_zeusd_stream *s)
{
    if (!s)
        return;
    zeus__http_conn_close(s->conn);
    free(s);
}
