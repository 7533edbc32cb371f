/* The HTTP server around zd_handle (libmicrohttpd). */
#ifndef ZEUSD_HTTP_H
#define ZEUSD_HTTP_H

#include "zeusd.h"

typedef struct zd_http zd_http;
/* Serves on an already listening socket (Unix or TCP; uds: peers have SO_PEERCRED). */
zd_http *zd_http_start(zd_server *server, int listen_fd, bool uds);
/* Stops accepting, ends the connections (streams end once the pollers are stopped). */
void zd_http_stop(zd_http *h);

#endif
