/* libmicrohttpd glue: one thread per connection (a slow or streaming client holds only its
 * own thread), at most --num-workers requests handled at once, limits on connections (503 beyond
 * --max-connections), idle time and request size, SO_PEERCRED of Unix-socket peers, and
 * server-sent events fed by the pollers. */
#include "http.h"

#include "httpd/conn_guard.h"
#include "zeus/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ZD_MAX_ARGS 32
#define ZD_MAX_BODY (64 * 1024)
#define ZD_MAX_GROUPS 64
/* Connections beyond --max-connections that still get their 503 (more are closed at once by
 * libmicrohttpd), and how long such a connection may take to send its request. */
#define ZD_OVERFLOW_CONNECTIONS 64
#define ZD_OVERFLOW_REQUEST_NS (2 * 1000000000LL)

struct zd_http {
    struct MHD_Daemon *mhd;
    zd_server *server;
    bool uds;
    zh_guard *guard; /* --max-connections, --request-timeout-s */
    unsigned max_connections;
    pthread_mutex_t lock;
    /* --num-workers: requests being handled (zd_handle) at once, at most workers. */
    unsigned busy, workers;
    pthread_cond_t worker_free;
};

/* The older route generation (/gpu/{id}/set_power_limit, ...) sends its arguments as a small
 * JSON body: the first ZD_KEPT_BODY bytes are kept; longer bodies are only counted. */
#define ZD_KEPT_BODY 1024
typedef struct {
    size_t body;
    char kept[ZD_KEPT_BODY + 1];
} zd_conn;

static void guard_warn(void *user, const char *message)
{
    (void)user;
    zd_log("WARN", "%s", message);
}

typedef struct {
    zd_stream *stream;
    int fd;
} zd_sse;

typedef struct {
    zd_arg args[ZD_MAX_ARGS];
    size_t count;
    bool overflow;
    bool nul; /* a key or value with a NUL (%00): as C strings they would be cut there */
} zd_arg_list;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    zd_arg_list *l = cls;
    if ((key && strlen(key) != key_size) || (value && strlen(value) != value_size)) {
        l->nul = true;
        return MHD_NO;
    }
    if (l->count == ZD_MAX_ARGS) {
        l->overflow = true;
        return MHD_NO;
    }
    l->args[l->count++] = (zd_arg){key ? key : "", value ? value : ""};
    return MHD_YES;
}

/* The peer's supplementary groups: SO_PEERGROUPS (taken at connect, so a pid reused since
 * cannot lend its groups), else /proc/PID/status on kernels before 4.13. */
static size_t peer_groups(int fd, pid_t pid, gid_t *groups, size_t max)
{
#ifdef SO_PEERGROUPS
    socklen_t glen = (socklen_t)(max * sizeof *groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
        return glen / sizeof *groups;
#endif
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Groups:", 7) == 0) {
            char *p = line + 7, *end;
            for (unsigned long g; n < max && (g = strtoul(p, &end, 10), end != p); p = end)
                groups[n++] = (gid_t)g;
            break;
        }
    fclose(f);
    return n;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    zd_sse *sse = cls;
    for (;;) {
        long n = zd_stream_next(sse->stream, buf, max, 250);
        if (n < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (n > 0)
            return n;
        /* Nothing to send: notice a client that went away, so its poller can sleep. */
        struct pollfd p = {.fd = sse->fd, .events = POLLRDHUP};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static void sse_free(void *cls)
{
    zd_sse *sse = cls;
    zd_stream_close(sse->stream);
    free(sse);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned status, const char *type,
                                  char *body, bool www_authenticate, bool close)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body ? strlen(body) : 0, body ? body : (void *)"",
                                        body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"zeusd\"");
    if (close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_plain(struct MHD_Connection *c, unsigned status, const char *type,
                                  char *body, bool www_authenticate)
{
    return send_reply(c, status, type, body, www_authenticate, false);
}

/* A connection beyond --max-connections: 503, then closed. */
static enum MHD_Result send_overloaded(zd_http *h, struct MHD_Connection *c, const char *url)
{
    char *body = NULL;
    if (asprintf(&body,
                 "{\"error\":\"Too many connections: this server serves at most %u at once "
                 "(--max-connections). Try again later.\"}",
                 h->max_connections) < 0)
        body = NULL;
    zd_log("WARN", "503 for %s: more than %u connections open", url, h->max_connections);
    return send_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body, false, true);
}

/* --num-workers: a request waits for a free worker before it is handled. */
static void worker_take(zd_http *h)
{
    pthread_mutex_lock(&h->lock);
    while (h->busy >= h->workers)
        pthread_cond_wait(&h->worker_free, &h->lock);
    h->busy++;
    pthread_mutex_unlock(&h->lock);
}

static void worker_give(zd_http *h)
{
    pthread_mutex_lock(&h->lock);
    h->busy--;
    pthread_cond_signal(&h->worker_free);
    pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    zd_http *h = cls;
    zd_conn *conn = *con_cls;
    if (!conn) {
        conn = calloc(1, sizeof *conn);
        if (!conn)
            return MHD_NO;
        *con_cls = conn;
        zh_guard_busy(h->guard, c); /* the request line and headers are in */
        return MHD_YES;
    }
    if (*upload_size) {
        /* Only the older routes read a body (a small JSON object): keep its start. */
        if (conn->body + *upload_size <= ZD_KEPT_BODY)
            memcpy(conn->kept + conn->body, upload, *upload_size);
        conn->body += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    if (zh_guard_over(c))
        return send_overloaded(h, c, url);
    if (conn->body > ZD_MAX_BODY)
        return send_plain(c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain; charset=utf-8",
                          strdup("Request body too large."), false);
    zd_arg_list args = {.count = 0};
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
    if (args.nul)
        return send_plain(c, MHD_HTTP_BAD_REQUEST, "text/plain; charset=utf-8",
                          strdup("Query deserialize error: a query key or value contains a NUL "
                                 "character (%00)"),
                          false);
    if (args.overflow)
        return send_plain(c, MHD_HTTP_BAD_REQUEST, "text/plain; charset=utf-8",
                          strdup("Query deserialize error: too many fields"), false);
    gid_t groups[ZD_MAX_GROUPS];
    zd_request req = {.method = method,
                      .path = url,
                      .args = args.args,
                      .arg_count = args.count,
                      .body = conn->body <= ZD_KEPT_BODY ? conn->kept : NULL,
                      .authorization =
                          MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                      .groups = groups};
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = info ? info->connect_fd : -1;
    if (h->uds && fd >= 0) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            req.has_peer = true;
            req.pid = cred.pid;
            req.uid = cred.uid;
            req.gid = cred.gid;
            req.group_count = peer_groups(fd, cred.pid, groups, ZD_MAX_GROUPS);
        }
    }
    zd_response r;
    worker_take(h);
    zd_handle(h->server, &req, &r);
    worker_give(h);
    if (!r.stream)
        return send_plain(c, (unsigned)r.status, r.content_type, r.body, r.www_authenticate);
    zd_sse *sse = calloc(1, sizeof *sse);
    if (!sse)
        return MHD_NO;
    sse->fd = fd;
    sse->stream = zd_stream_open(zd_server_pollers(h->server), r.stream_cpu, r.ids, r.id_count);
    if (!sse->stream) {
        free(sse);
        return MHD_NO;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, sse, sse_free);
    if (!resp) {
        sse_free(sse);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)code;
    zd_http *h = cls;
    /* A kept-alive connection waits for its next request from now. */
    zh_guard_idle(h->guard, c);
    free(*con_cls);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    zd_log("DEBUG", "http: %s", msg);
}

zd_http *zd_http_start(zd_server *server, int listen_fd, bool uds)
{
    const zd_config *c = zd_server_config(server);
    zd_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->server = server;
    h->uds = uds;
    h->max_connections = c->max_connections;
    h->workers = c->num_workers ? c->num_workers : 1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->worker_free, NULL);
    zh_guard_config g = {.max_connections = c->max_connections,
                         .request_timeout_ns =
                             (int64_t)(c->request_timeout_s ? c->request_timeout_s : 1) *
                             1000000000LL,
                         .over_request_ns = ZD_OVERFLOW_REQUEST_NS,
                         .flag = "--max-connections",
                         .warn = guard_warn};
    if (!(h->guard = zh_guard_start(&g))) {
        zd_http_stop(h);
        return NULL;
    }
    h->mhd = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, c->max_connections + ZD_OVERFLOW_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32 * 1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, zh_guard_notify, h->guard, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_END);
    if (!h->mhd) {
        zd_http_stop(h);
        return NULL;
    }
    return h;
}

void zd_http_stop(zd_http *h)
{
    if (!h)
        return;
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    zh_guard_stop(h->guard);
    pthread_cond_destroy(&h->worker_free);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
