/* Zeus zeusd client: requests to a zeusd daemon (docs/zeusd.md, "The client API") over its Unix
 * socket or TCP, and its event streams (/gpu/stream_power, /cpu/stream_power).
 *
 * The zeusd device backends (ZEUSD_SOCK_PATH, docs/devices.md) use it, as do the Python
 * package's zeus.utils.zeusd (an httpx transport over it) and PowerStreamingClient. It is a
 * small HTTP/1.1 client: one request per connection ("Connection: close"), answers framed by
 * Content-Length, chunked transfer coding or the end of the connection, no TLS.
 *
 * Errors (zeus_last_error() names the daemon, the request and the reason): ZEUS_EINVAL bad
 * options or request; ZEUS_ENODEV cannot connect ("zeusd at /run/zeusd.sock: GET /discover:
 * cannot connect to the zeusd at /run/zeusd.sock: No such file or directory"); ZEUS_ETIMEOUT the
 * timeout passed; ZEUS_EIO the connection broke (the daemon closed it in the middle of the
 * answer); ZEUS_EPARSE the answer is not HTTP/1.x; ZEUS_ESTATE a cancelled stream. An HTTP
 * status other than 200 is not an error of these calls: the caller reads reply.status.
 *
 * Thread safety: a client is read-only after open; any number of threads may make requests with
 * one client at once (each request has its own connection). A stream is used by one thread at a
 * time, except zeus_zeusd_stream_cancel, which any thread (or a signal handler) may call. */
#ifndef ZEUS_ZEUSD_CLIENT_H
#define ZEUS_ZEUSD_CLIENT_H

#include "zeus/common.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where the daemon is. Initialize with zeus_zeusd_client_options_init (it sets struct_size,
 * docs/abi.md). */
typedef struct zeus_zeusd_client_options {
    size_t struct_size;
    const char *socket_path; /* its Unix socket (wins over host_port), or NULL */
    const char *host_port;   /* "HOST:PORT" ("[v6]:PORT"), or NULL */
    const char *token;       /* sent as "Authorization: Bearer TOKEN"; NULL or "": none */
    double timeout_s;        /* each request, connecting to the whole answer; 0: 30 s */
} zeus_zeusd_client_options;

#define zeus_zeusd_client_options_init(options)                                                    \
    zeus_zeusd_client_options_init_sized((options), sizeof *(options))
ZEUS_API void zeus_zeusd_client_options_init_sized(zeus_zeusd_client_options *options,
                                                   size_t struct_size);

typedef struct zeus_zeusd_client zeus_zeusd_client;

/* Checks the options (no connection yet): ZEUS_EINVAL for no address, a host_port that is not
 * HOST:PORT, a socket path too long for a Unix socket, or a token with a line break. */
ZEUS_API int zeus_zeusd_client_open(const zeus_zeusd_client_options *options,
                                    zeus_zeusd_client **out);
ZEUS_API void zeus_zeusd_client_close(zeus_zeusd_client *client);
/* "zeusd at PATH" or "zeusd at HOST:PORT" (the client's). */
ZEUS_API const char *zeus_zeusd_client_name(const zeus_zeusd_client *client);

/* An answer. Free with zeus_zeusd_reply_free. */
typedef struct zeus_zeusd_reply {
    int status;             /* the HTTP status */
    char content_type[128]; /* the Content-Type header ("" without one) */
    const char *headers;    /* the header lines, each "Name: value" ending in CRLF */
    const char *body;       /* the body (chunked coding removed), NUL-terminated */
    size_t body_len;        /* its length (a body may hold NUL bytes) */
    void *internal;         /* the library's */
} zeus_zeusd_reply;

/* One request: method ("GET", "POST"), target (the path with its query,
 * "/gpu/get_power?gpu_ids=0,1"), extra header lines (NULL, or lines each ending in CRLF such as
 * "Content-Type: application/json\r\n"; Host, Connection, Content-Length and, with a token,
 * Authorization are the library's), a body (body_len bytes, NULL for none). On ZEUS_OK *reply
 * holds the answer, whatever its status. An answer that is an event stream is ZEUS_EINVAL (open
 * it with zeus_zeusd_stream_open). */
ZEUS_API int zeus_zeusd_request(zeus_zeusd_client *client, const char *method, const char *target,
                                const char *headers, const void *body, size_t body_len,
                                zeus_zeusd_reply *reply);
ZEUS_API void zeus_zeusd_reply_free(zeus_zeusd_reply *reply);

typedef struct zeus_zeusd_stream zeus_zeusd_stream;

/* As zeus_zeusd_request, for a route that may answer with server-sent events: when the daemon
 * answers 200 with Content-Type text/event-stream, *stream is the open stream and reply has the
 * status and headers (an empty body); any other answer is read whole into reply and *stream is
 * NULL. The client's timeout covers connecting and the answer's head (and a whole answer). */
ZEUS_API int zeus_zeusd_stream_open(zeus_zeusd_client *client, const char *method,
                                    const char *target, const char *headers, const void *body,
                                    size_t body_len, zeus_zeusd_reply *reply,
                                    zeus_zeusd_stream **stream);
/* The next event: ZEUS_OK with *event (its lines, "data: {...}", without the blank line that
 * ends it; *len bytes, NUL-terminated, free with zeus_free); ZEUS_OK with *event NULL when the
 * daemon ended the stream; ZEUS_ETIMEOUT when none came within timeout_s (< 0: no limit; the
 * stream stays usable); ZEUS_ESTATE once zeus_zeusd_stream_cancel was called; ZEUS_EIO or
 * ZEUS_EPARSE when the connection broke. */
ZEUS_API int zeus_zeusd_stream_next(zeus_zeusd_stream *stream, double timeout_s, char **event,
                                    size_t *len);
/* Wakes zeus_zeusd_stream_next in another thread; every later call returns ZEUS_ESTATE. */
ZEUS_API void zeus_zeusd_stream_cancel(zeus_zeusd_stream *stream);
ZEUS_API void zeus_zeusd_stream_close(zeus_zeusd_stream *stream);

#ifdef __cplusplus
}
#endif
#endif
