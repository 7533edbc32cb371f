/* The one HTTP/1.1 client of libzeus (no proxy, one request per connection), over TCP or a Unix
 * socket: the Pushgateway client (src/metric/push.c), the carbon-intensity client
 * (src/metric/carbon_api.c) and the zeusd client (zeus/zeusd_client.h, src/device/zeusd_http.c,
 * which the zeusd device backends use). http_parse.c holds the pure parsing (status line,
 * headers, Content-Length or chunked bodies, server-sent events; fuzzed by
 * fuzz/fuzz_zeusd_reply.c), http_client.c the sockets. https:// URLs (zeus__http_request only)
 * go through libcurl loaded at run time (https_client.c): libzeus links no TLS library. Errors
 * start with the caller's name for the server ("Pushgateway", "ElectricityMaps", "zeusd at
 * /run/zeusd.sock"). */
#ifndef ZEUS_CORE_HTTP_CLIENT_H
#define ZEUS_CORE_HTTP_CLIENT_H

#include "zeus/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- http_parse.c: pure parsing ---- */

/* "http://HOST[:PORT][/PREFIX]" -> host, port ("80" when left out), prefix (no trailing slash).
 * No query or fragment. */
int zeus__http_parse_url(const char *what, const char *url, char *host, size_t host_size,
                         char *port, size_t port_size, char *prefix, size_t prefix_size);

/* The same for "http://..." or "https://..." (*tls true; port "443" when left out). */
int zeus__http_parse_any_url(const char *what, const char *url, bool *tls, char *host,
                             size_t host_size, char *port, size_t port_size, char *prefix,
                             size_t prefix_size);

/* The head of an answer: its status, its length through the blank line and how the body ends. */
typedef struct {
    int status;
    size_t head_len;
    bool chunked;    /* Transfer-Encoding: chunked */
    bool has_length; /* Content-Length (ignored when chunked) */
    size_t length;
} zeus__http_head;

/* raw[0..len): 1 while the head is not complete yet, 0 when it is (*h filled), ZEUS_EPARSE with
 * *why when it is not an HTTP/1.x answer's head (status line "HTTP/1.x NNN", no NUL byte,
 * Content-Length digits, no transfer coding but chunked). */
int zeus__http_parse_head(const char *raw, size_t len, zeus__http_head *h, const char **why);

/* The state of a chunked body being decoded (zero it to start). */
typedef struct {
    int phase; /* size line, data, the CRLF after data, trailer, done */
    size_t left;
} zeus__http_chunks;

/* Decodes the chunked bytes in[0..len): the data goes to out (NULL: only scan; out may be in or
 * before it, never after), *made bytes of it; *used raw bytes are consumed (a partial line is
 * left for the next call). c->phase is ZEUS__HTTP_CHUNKS_DONE after the last chunk and its
 * trailer. ZEUS_EPARSE with *why on bad framing. */
#define ZEUS__HTTP_CHUNKS_DONE 4
int zeus__http_dechunk(zeus__http_chunks *c, const char *in, size_t len, char *out, size_t *used,
                       size_t *made, const char **why);

typedef struct {
    int status;          /* the status line's code */
    char *raw;           /* the whole answer, NUL-terminated (malloc'd) */
    const char *headers; /* into raw: the header lines, each ending in CRLF, NUL-terminated */
    const char *body;    /* into raw: the body (decoded when chunked), NUL-terminated */
    size_t body_len;
} zeus__http_reply;

/* A complete answer raw[0..len) (raw[len] is NUL; read to the end of its framing, or to EOF when
 * it has none) into *reply (whose raw is raw, still the caller's): the header block and the body
 * are NUL-terminated in place and a chunked body decoded in place. ZEUS_EPARSE with *why for a
 * malformed answer or a body shorter than its framing says ("cut short"). */
int zeus__http_parse_reply(char *raw, size_t len, zeus__http_reply *reply, const char **why);

/* The value of a header of a header block (case-insensitive name), copied into buf; false if
 * absent. */
bool zeus__http_header_in(const char *headers, const char *name, char *buf, size_t size);
/* The same for a parsed reply. */
bool zeus__http_header(const zeus__http_reply *reply, const char *name, char *buf, size_t size);

/* Server-sent events: the first event of buf[0..len) (lines ending in LF or CRLF, events ending
 * in a blank line): true with the event's length without its blank line (*event_len) and the
 * bytes it spans with it (*span); false while no event is complete. */
bool zeus__sse_event(const char *buf, size_t len, size_t *event_len, size_t *span);

/* ---- http_client.c: sockets ---- */

/* Where a server is: host and port, or a Unix socket (unix_path non-empty wins). */
typedef struct {
    const char *what; /* its name in messages */
    const char *host;
    const char *port;
    const char *unix_path;
} zeus__http_peer;

/* Connects before deadline_ns (zeus_now_ns clock), non-blocking socket: ZEUS_ETIMEOUT "WHAT:
 * timed out connecting", ZEUS_ENODEV "cannot connect to the WHAT at host:port: why" (or "...
 * at PATH: why"). zeus__http_conn_open passes these on. */
int zeus__http_connect(const zeus__http_peer *peer, int64_t deadline_ns, int *fd);

/* Sends request (head) then body over a new connection and reads the whole answer (bounded by
 * max_reply bytes: ZEUS_EIO "answer larger than N bytes"), all before deadline_ns: ZEUS_ETIMEOUT
 * "WHAT: timed out connecting|sending|waiting for the answer", ZEUS_EIO "cannot connect to the
 * WHAT at host:port: why", "WHAT closed the connection in the middle of the answer", ZEUS_EPARSE
 * "WHAT: malformed answer: why". */
int zeus__http_exchange(const char *what, const char *host, const char *port, const char *request,
                        size_t request_len, const char *body, size_t body_len, int64_t deadline_ns,
                        size_t max_reply, zeus__http_reply *reply);
void zeus__http_reply_free(zeus__http_reply *reply);

/* One request to a URL, http:// (the sockets above) or https:// (libcurl, https_client.c). */
typedef struct {
    const char *what;           /* the server's name in messages */
    const char *method;         /* "GET", "POST", "PUT" */
    const char *base_url;       /* "http[s]://HOST[:PORT][/PREFIX]" (no query) */
    const char *target;         /* appended to PREFIX: "/path?query" */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; NULL: none */
    const char *body;           /* sent with Content-Length when body_len > 0 */
    size_t body_len;
    int64_t deadline_ns; /* zeus_now_ns clock */
    size_t max_reply;    /* the largest answer taken (the body, over https) */
} zeus__http_request_spec;

/* Sends the request and reads the whole answer into *reply (status, headers, body as
 * zeus__http_exchange gives them). Errors: those of zeus__http_exchange; over https also ZEUS_ELIB
 * "WHAT: URL: needs libcurl (libcurl.so.4 not found: install libcurl4)", ZEUS_EIO "WHAT: TLS with
 * HOST failed: <curl's message> (...)" when the certificate is not verified (always verified: the
 * system's CA certificates, or SSL_CERT_FILE / SSL_CERT_DIR as OpenSSL reads them). */
int zeus__http_request(const zeus__http_request_spec *request, zeus__http_reply *reply);

/* ---- https_client.c: https:// through libcurl (dlopen "libcurl.so.4", or ZEUS_CURL_LIBRARY) */

/* The https request of spec to url (the whole URL); host and port for messages. Thread-safe (a
 * curl handle per request; the library is loaded once, under a lock). */
int zeus__https_request(const zeus__http_request_spec *spec, const char *url, const char *host,
                        const char *port, zeus__http_reply *reply);

/* One connection of the client, for answers that are not read in one go (event streams). */
typedef struct zeus__http_conn zeus__http_conn;

/* Connects to peer, sends request and body, reads the answer's head. *conn owns the connection:
 * zeus__http_conn_head gives the head, then either zeus__http_conn_finish (the rest as a whole
 * reply, under a deadline) or zeus__http_conn_event (server-sent events). */
int zeus__http_conn_open(const zeus__http_peer *peer, const char *request, size_t request_len,
                         const char *body, size_t body_len, int64_t deadline_ns, size_t max_reply,
                         zeus__http_conn **conn);
const zeus__http_head *zeus__http_conn_head(const zeus__http_conn *conn);
/* The header lines (each ending in CRLF, NUL-terminated). */
const char *zeus__http_conn_headers(const zeus__http_conn *conn);
/* Reads the rest of the answer into *reply; the connection is spent afterwards. */
int zeus__http_conn_finish(zeus__http_conn *conn, int64_t deadline_ns, zeus__http_reply *reply);
/* The next server-sent event: 0 with *event (malloc'd, NUL-terminated, *len bytes, without the
 * blank line); 0 with *event NULL when the server ended the answer; ZEUS_ETIMEOUT when none came
 * before deadline_ns (-1: no deadline; the connection stays usable); ZEUS_ESTATE once
 * zeus__http_conn_cancel was called; ZEUS_EIO/ZEUS_EPARSE when the connection broke. */
int zeus__http_conn_event(zeus__http_conn *conn, int64_t deadline_ns, char **event, size_t *len);
/* Gives the connection the pipe zeus__http_conn_cancel writes to (before another thread may
 * cancel it; plain requests go without). */
int zeus__http_conn_cancellable(zeus__http_conn *conn);
/* Wakes a zeus__http_conn_event blocked in another thread, and makes every later one return
 * ZEUS_ESTATE (a cancellable connection). Thread-safe and async-signal-safe (a write to a pipe). */
void zeus__http_conn_cancel(zeus__http_conn *conn);
void zeus__http_conn_close(zeus__http_conn *conn);

#endif
