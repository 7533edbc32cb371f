/* A minimal HTTP/1.1 client over a TCP socket (http:// only: no TLS, no proxy, one request per
 * connection), shared by the Pushgateway client (src/metric/push.c) and the carbon-intensity
 * client (src/power_limit/carbon_api.c). Errors start with the caller's name for the server
 * ("Pushgateway", "ElectricityMaps"). */
#ifndef ZEUS_CORE_HTTP_CLIENT_H
#define ZEUS_CORE_HTTP_CLIENT_H

#include "zeus/common.h"

#include <stdint.h>

/* "http://HOST[:PORT][/PREFIX]" -> host, port ("80" when left out), prefix (no trailing slash).
 * No query or fragment. */
int zeus__http_parse_url(const char *what, const char *url, char *host, size_t host_size,
                         char *port, size_t port_size, char *prefix, size_t prefix_size);

typedef struct {
    int status;       /* the status line's code */
    char *raw;        /* the whole answer, NUL-terminated (malloc'd) */
    const char *body; /* into raw: after the headers */
    size_t body_len;
} zeus__http_reply;

/* Connects to host:port, sends request (head) then body, reads the answer until the connection
 * closes, Content-Length is reached or max_reply bytes (the rest is cut off), all before
 * deadline_ns (zeus_now_ns clock): ZEUS_ETIMEOUT "WHAT: timed out connecting|sending|waiting
 * for the answer", ZEUS_EIO "cannot connect to the WHAT at host:port: why". */
int zeus__http_exchange(const char *what, const char *host, const char *port, const char *request,
                        size_t request_len, const char *body, size_t body_len, int64_t deadline_ns,
                        size_t max_reply, zeus__http_reply *reply);
void zeus__http_reply_free(zeus__http_reply *reply);
/* The value of a header of the answer (case-insensitive name), copied into buf; false if
 * absent. */
bool zeus__http_header(const zeus__http_reply *reply, const char *name, char *buf, size_t size);

#endif
