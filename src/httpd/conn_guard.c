/* Connection cap, request deadline and eviction for libmicrohttpd servers (conn_guard.h). */
#include "conn_guard.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A connection followed: our own duplicate of its socket (so shutting it down can never hit a
 * reused descriptor number), and since when it has been waiting for a request. */
typedef struct zh_watch {
    int fd;
    int64_t since_ns; /* 0: a request is being answered, or it was shut down */
    bool over;
    struct zh_watch *prev, *next;
} zh_watch;

struct zh_guard {
    zh_guard_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    pthread_t watchdog;
    zh_watch *watches;
    unsigned open;
    unsigned long long evicted; /* since the last warning about it */
    int64_t evict_warned_ns;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void warn(const zh_guard *g, const char *message)
{
    if (g->cfg.warn)
        g->cfg.warn(g->cfg.user, message);
}

static zh_watch *watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void set_since(zh_guard *g, struct MHD_Connection *c, int64_t since_ns)
{
    zh_watch *w = watch_of(c);
    if (!w)
        return;
    pthread_mutex_lock(&g->lock);
    w->since_ns = since_ns;
    pthread_mutex_unlock(&g->lock);
}

void zh_guard_busy(zh_guard *g, struct MHD_Connection *c)
{
    set_since(g, c, 0);
}

void zh_guard_idle(zh_guard *g, struct MHD_Connection *c)
{
    set_since(g, c, now_ns());
}

bool zh_guard_over(struct MHD_Connection *c)
{
    zh_watch *w = watch_of(c);
    return w && w->over;
}

unsigned zh_guard_open(zh_guard *g)
{
    pthread_mutex_lock(&g->lock);
    unsigned n = g->open;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* At the cap: shuts down the connection waiting longest for a request (lock held). Returns
 * whether one was found (every other connection may be busy answering). */
static bool evict_oldest(zh_guard *g, const zh_watch *spare)
{
    zh_watch *oldest = NULL;
    for (zh_watch *w = g->watches; w; w = w->next)
        if (w != spare && w->since_ns && w->fd >= 0 && (!oldest || w->since_ns < oldest->since_ns))
            oldest = w;
    if (!oldest)
        return false;
    shutdown(oldest->fd, SHUT_RDWR);
    oldest->since_ns = 0;
    g->evicted++;
    return true;
}

void zh_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    zh_guard *g = cls;
    zh_watch *w = *socket_context;
    char msg[256] = "";
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!(w = calloc(1, sizeof *w)))
            return;
        w->fd = info ? fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
        w->since_ns = now_ns();
        pthread_mutex_lock(&g->lock);
        g->open++;
        w->next = g->watches;
        if (g->watches)
            g->watches->prev = w;
        g->watches = w;
        if (g->open > g->cfg.max_connections) {
            if (!g->cfg.evict) {
                w->over = true;
                snprintf(msg, sizeof msg,
                         "%u connections open (%s %u): the next request on this one is answered "
                         "503",
                         g->open, g->cfg.flag, g->cfg.max_connections);
                /* It may not hold its thread long. */
                if (g->cfg.request_timeout_ns > g->cfg.over_request_ns)
                    w->since_ns -= g->cfg.request_timeout_ns - g->cfg.over_request_ns;
            } else if (evict_oldest(g, w) && w->since_ns - g->evict_warned_ns > 1000000000LL) {
                /* At most one warning a second, however many are evicted. */
                snprintf(msg, sizeof msg,
                         "%u connections open (%s %u): closed %llu that waited longest for a "
                         "request",
                         g->open, g->cfg.flag, g->cfg.max_connections, g->evicted);
                g->evicted = 0;
                g->evict_warned_ns = w->since_ns;
            }
        }
        if (msg[0])
            warn(g, msg);
        pthread_mutex_unlock(&g->lock);
        *socket_context = w;
    } else if (w) {
        pthread_mutex_lock(&g->lock);
        g->open--;
        if (w->prev)
            w->prev->next = w->next;
        else
            g->watches = w->next;
        if (w->next)
            w->next->prev = w->prev;
        pthread_mutex_unlock(&g->lock);
        if (w->fd >= 0)
            close(w->fd);
        free(w);
        *socket_context = NULL;
    }
}

/* Shuts down connections whose request has not arrived whole in time. */
static void *watchdog_main(void *arg)
{
    zh_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        int64_t now = now_ns();
        unsigned late = 0;
        for (zh_watch *w = g->watches; w; w = w->next)
            late += w->since_ns && w->fd >= 0 && now - w->since_ns > g->cfg.request_timeout_ns;
        if (late) { /* said before it is done: whoever sees the socket close finds the line */
            char msg[160], more[32] = "";
            if (late > 1)
                snprintf(more, sizeof more, " (%u in all)", late);
            snprintf(msg, sizeof msg,
                     "closing a connection whose request did not arrive in %lld s%s",
                     (long long)(g->cfg.request_timeout_ns / 1000000000LL), more);
            warn(g, msg);
        }
        for (zh_watch *w = g->watches; late && w; w = w->next)
            if (w->since_ns && w->fd >= 0 && now - w->since_ns > g->cfg.request_timeout_ns) {
                shutdown(w->fd, SHUT_RDWR);
                w->since_ns = 0;
            }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

zh_guard *zh_guard_start(const zh_guard_config *config)
{
    zh_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->cfg = *config;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&g->lock, NULL);
    if (pthread_create(&g->watchdog, NULL, watchdog_main, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    return g;
}

void zh_guard_stop(zh_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->watchdog, NULL);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
