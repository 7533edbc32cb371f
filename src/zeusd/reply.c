/* Replies of the routes (zeusd.h's response helpers): JSON bodies, the per-id error object, the
 * status a libzeus error maps to, and the cJSON allocation hooks that turn a reply with a part
 * missing into a 500. Apart from api.c, which routes. */
#include "zeusd.h"

#include "zeus/common.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Responses ---- */

/* cJSON leaves out what it cannot allocate without a word (an AddItem with a NULL item, a key
 * it could not copy): with zd_json_hooks() installed, a failed allocation of the request's
 * thread is noted, and zd_handle answers 500 instead of a reply with a part missing. */
static _Thread_local bool json_out_of_memory;

static void *json_malloc(size_t size)
{
    void *p = malloc(size);
    if (!p)
        json_out_of_memory = true;
    return p;
}

void zd_json_hooks(void)
{
    cJSON_Hooks hooks = {json_malloc, free};
    cJSON_InitHooks(&hooks);
}

void zd_json_track(void)
{
    json_out_of_memory = false;
}

bool zd_json_out_of_memory(void)
{
    return json_out_of_memory;
}

/* cJSON_AddItemToObject / _ToArray that do not leak item when it cannot be added (the key's
 * copy failed, or the container is NULL because making it failed). */
void zd_add_item(cJSON *o, const char *key, cJSON *item)
{
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        json_out_of_memory = true;
    }
}

void zd_add_to_array(cJSON *array, cJSON *item)
{
    if (!cJSON_AddItemToArray(array, item)) {
        cJSON_Delete(item);
        json_out_of_memory = true;
    }
}

void zd_reply(zd_response *r, int status, const char *type, const char *fmt, ...)
{
    r->status = status;
    r->content_type = type;
    free(r->body);
    r->body = NULL;
    if (!fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&r->body, fmt, ap) < 0)
        r->body = NULL;
    va_end(ap);
}

void zd_reply_error(zd_response *r, int status, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", message);
    r->status = status;
    r->content_type = "application/json";
    free(r->body);
    r->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
}

void zd_reply_json(zd_response *r, cJSON *o)
{
    r->status = 200;
    r->content_type = "application/json";
    free(r->body);
    r->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
}

void zd_add_error(zd_errors *e, unsigned id, int status, const char *message)
{
    if (!e->errors)
        e->errors = cJSON_CreateObject();
    char key[16];
    snprintf(key, sizeof key, "%u", id);
    cJSON_AddStringToObject(e->errors, key, message);
    if (status > e->status)
        e->status = status;
}

bool zd_reply_errors(zd_response *r, zd_errors *e)
{
    if (!e->errors)
        return false;
    cJSON *o = cJSON_CreateObject();
    zd_add_item(o, "errors", e->errors);
    e->errors = NULL;
    zd_reply_json(r, o);
    r->status = e->status;
    return true;
}

int zd_status_of(int rc)
{
    switch (rc) {
    case ZEUS_EPERM:
        return 403;
    case ZEUS_EINVAL:
    case ZEUS_ERANGE:
    case ZEUS_ENOTSUP:
    case ZEUS_ENOENT:
        return 400;
    case ZEUS_ESTATE:
    case ZEUS_ETIMEOUT:
        return 409; /* held by another client's lease (ours; the original has no leases) */
    default:
        return 500;
    }
}
