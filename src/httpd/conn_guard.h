/* Connection limits for the libmicrohttpd servers (zeusd, the exporter), which libmicrohttpd's
 * own options do not give: a cap on open connections, and a deadline for a request to arrive
 * whole (its idle timeout alone lets a client that sends a byte a second hold a connection
 * forever). A watchdog thread shuts down connections past the deadline; at the cap, a new
 * connection either evicts the connection that has waited longest for a request (so a flood of
 * idle connections cannot starve a real client: the exporter) or is marked "over", for the
 * server to answer 503 (zeusd).
 *
 * Not part of libzeus: a static helper the server faces link (scripts/check-faces.sh allows
 * "httpd/..." includes). Thread-safe: the callbacks run on libmicrohttpd's threads. */
#ifndef ZEUS_HTTPD_CONN_GUARD_H
#define ZEUS_HTTPD_CONN_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct zh_guard zh_guard;

typedef struct zh_guard_config {
    unsigned max_connections;
    int64_t request_timeout_ns; /* a request must arrive whole within this of its wait's start */
    /* At the cap: true, the new connection evicts the one waiting longest for its request;
     * false, it is marked over (zh_guard_over) and its request must arrive within
     * over_request_ns. */
    bool evict;
    int64_t over_request_ns;
    const char *flag; /* the cap's option, for messages ("--max-connections") */
    /* Warnings (called with the guard's lock held: it must not call back into the guard). */
    void (*warn)(void *user, const char *message);
    void *user;
} zh_guard_config;

/* Starts the watchdog thread. NULL when out of memory or threads. */
zh_guard *zh_guard_start(const zh_guard_config *config);
/* Stops the watchdog (after MHD_stop_daemon: every connection is closed by then). */
void zh_guard_stop(zh_guard *g);
/* MHD_OPTION_NOTIFY_CONNECTION's callback; its closure is the guard. */
void zh_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);
/* A request's line and headers are in: the connection is neither timed nor evicted until
 * zh_guard_idle (its reply sent: it waits for the next request from then). */
void zh_guard_busy(zh_guard *g, struct MHD_Connection *c);
void zh_guard_idle(zh_guard *g, struct MHD_Connection *c);
/* The connection came beyond the cap (evict false): its request is to be answered 503. */
bool zh_guard_over(struct MHD_Connection *c);
/* Connections open now. */
unsigned zh_guard_open(zh_guard *g);

#endif
