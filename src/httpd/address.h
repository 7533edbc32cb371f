/* The address a JSON server (zeus-bso, zeus-pfo) listens on, from its --host and --port. */
#ifndef ZEUS_HTTPD_ADDRESS_H
#define ZEUS_HTTPD_ADDRESS_H

#include <sys/socket.h>

/* host: an IPv4 or IPv6 address (no name lookup). 0, or -1 for anything else. */
int zh_sockaddr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

#endif
