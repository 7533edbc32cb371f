/* A request body as libmicrohttpd hands it over, in pieces: what the JSON servers (zeus-bso,
 * zeus-pfo) share, and their replies. */
#ifndef ZEUS_HTTPD_BODY_H
#define ZEUS_HTTPD_BODY_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *body; /* NUL-terminated; NULL when the request had none */
    size_t len;
    bool too_large; /* more than the server's limit came: the body was dropped */
} zh_body;

typedef enum { ZH_FAIL = -1, ZH_MORE = 0, ZH_DONE = 1 } zh_step;

/* Call first in the access handler: makes the connection's body record on the first call and
 * collects the upload pieces (at most max bytes). ZH_MORE: return MHD_YES, more is coming;
 * ZH_DONE: the request is whole, *con_cls is its zh_body; ZH_FAIL: out of memory, MHD_NO. */
zh_step zh_body_step(void **con_cls, const char *upload, size_t *upload_size, size_t max);

/* Queues a reply: status, the body (copied) and its Content-Type. */
enum MHD_Result zh_send(struct MHD_Connection *c, int status, const char *body,
                        const char *content_type);

/* The MHD_OPTION_NOTIFY_COMPLETED callback that frees the record. */
void zh_body_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

#endif
