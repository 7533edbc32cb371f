/* Starting zeusd in tests and talking HTTP/1.1 to it over its Unix socket (a tiny client:
 * one request per connection, "Connection: close", the response read to EOF). */
#ifndef ZEUSD_RIG_H
#define ZEUSD_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int status;
    char *raw;  /* the whole response */
    char *body; /* points into raw */
} zr_reply;

/* A started daemon: its socket directory (under /tmp, traversable by any user) and log. */
typedef struct {
    pid_t pid;
    char dir[64];
    char sock[128];
    char log[128];
} zr_daemon;

/* Starts zeusd serve with the given extra arguments (NULL-terminated) on dir/zeusd.sock,
 * with the environment of the calling process; waits until it answers. */
void zr_start(zr_daemon *d, ...);
void zr_start_argv(zr_daemon *d, const char *const *args);
/* The same in TCP mode on addr (HOST:PORT); d->sock stays unused. */
void zr_start_tcp(zr_daemon *d, const char *addr, ...);
/* SIGTERM and wait: returns its exit status. Removes the directory. */
int zr_stop(zr_daemon *d);
/* The daemon's log so far (malloc'd). */
char *zr_log(const zr_daemon *d);

/* One request; headers are extra header lines ("Authorization: ...\r\n") or NULL. */
int zr_request(const char *sock, const char *method, const char *target, const char *headers,
               zr_reply *out);
/* Sends raw bytes and reads the reply to EOF (or timeout). Returns the status, 0 if none. */
int zr_raw(const char *sock, const char *data, size_t len, zr_reply *out);
void zr_free(zr_reply *r);
/* A connected socket (for streams and slow clients). */
int zr_connect(const char *sock);

#endif
