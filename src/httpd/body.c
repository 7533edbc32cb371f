/* Request bodies collected from libmicrohttpd's pieces (httpd/body.h). */
#include "httpd/body.h"

#include <stdlib.h>
#include <string.h>

zh_step zh_body_step(void **con_cls, const char *upload, size_t *upload_size, size_t max)
{
    zh_body *q = *con_cls;
    if (!q) { /* the headers are in: a record for what follows */
        if (!(q = calloc(1, sizeof *q)))
            return ZH_FAIL;
        *con_cls = q;
        return ZH_MORE;
    }
    if (*upload_size == 0)
        return ZH_DONE;
    if (q->len + *upload_size > max) {
        q->too_large = true;
    } else {
        char *b = realloc(q->body, q->len + *upload_size + 1);
        if (!b)
            return ZH_FAIL;
        memcpy(b + q->len, upload, *upload_size);
        q->body = b;
        q->len += *upload_size;
        q->body[q->len] = '\0';
    }
    *upload_size = 0;
    return ZH_MORE;
}

void zh_body_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    zh_body *q = *con_cls;
    if (q) {
        free(q->body);
        free(q);
    }
    *con_cls = NULL;
}

enum MHD_Result zh_send(struct MHD_Connection *c, int status, const char *body,
                        const char *content_type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", content_type);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}
