/* The zeusd client's reply parser (src/device/zeusd_client.c), apart for the fuzzer. */
#ifndef ZEUS_DEVICE_ZEUSD_CLIENT_H
#define ZEUS_DEVICE_ZEUSD_CLIENT_H

#include <stddef.h>

/* reply: len bytes plus a NUL. "HTTP/1.x NNN ...", headers, a blank line, the body; a chunked
 * reply is refused. On success *status and *body (into reply, which is modified). */
int zeus__zeusd_parse_reply(char *reply, size_t len, int *status, char **body);

#endif
