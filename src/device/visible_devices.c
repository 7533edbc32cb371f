/* CUDA_VISIBLE_DEVICES parsing and resolution (see visible_devices.h). */
#include "device/visible_devices.h"
#include "core/internal.h"

#include <ctype.h>
#include <string.h>

static int parse_entry(const char *start, size_t len, unsigned position, zeus_cvd_entry *e,
                       bool *stop)
{
    while (len > 0 && isspace((unsigned char)*start)) {
        start++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)start[len - 1]))
        len--;
    if (len == 0)
        return zeus__error(ZEUS_EINVAL, "CUDA_VISIBLE_DEVICES entry %u is empty", position);
    if (len >= sizeof e->text)
        return zeus__error(ZEUS_EINVAL, "CUDA_VISIBLE_DEVICES entry %u is too long", position);
    memcpy(e->text, start, len);
    e->text[len] = '\0';

    if (strncmp(e->text, "MIG-", 4) == 0 && len > 4) {
        e->kind = ZEUS_CVD_MIG_UUID;
        return ZEUS_OK;
    }
    if (strncmp(e->text, "GPU-", 4) == 0 && len > 4) {
        e->kind = ZEUS_CVD_GPU_UUID;
        return ZEUS_OK;
    }
    size_t i = e->text[0] == '-' ? 1 : 0;
    bool digits = i < len;
    for (size_t j = i; j < len; j++)
        digits = digits && isdigit((unsigned char)e->text[j]);
    if (!digits || len > 9)
        return zeus__error(ZEUS_EINVAL,
                           "CUDA_VISIBLE_DEVICES entry %u '%s' is not a device index, GPU-<uuid> "
                           "or MIG-<uuid>",
                           position, e->text);
    if (e->text[0] == '-') {
        *stop = true; /* CUDA: a negative index ends the list */
        return ZEUS_OK;
    }
    e->kind = ZEUS_CVD_INDEX;
    long v = 0;
    for (size_t j = 0; j < len; j++)
        v = v * 10 + (e->text[j] - '0');
    e->index = (unsigned)v;
    return ZEUS_OK;
}

int zeus__cvd_parse(const char *text, zeus_cvd_entry *entries, size_t capacity, size_t *count)
{
    *count = 0;
    if (!text)
        return zeus__error(ZEUS_EINVAL, "CUDA_VISIBLE_DEVICES: no text");
    const char *p = text;
    bool all_space = true;
    for (const char *c = text; *c; c++)
        all_space = all_space && isspace((unsigned char)*c);
    if (all_space)
        return ZEUS_OK; /* set but empty: no GPU is visible */
    for (unsigned position = 1;; position++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (*count == capacity)
            return zeus__error(ZEUS_EINVAL, "CUDA_VISIBLE_DEVICES lists more than %zu devices",
                               capacity);
        bool stop = false;
        int rc = parse_entry(p, len, position, &entries[*count], &stop);
        if (rc != ZEUS_OK)
            return rc;
        if (stop)
            return ZEUS_OK;
        (*count)++;
        if (!comma)
            return ZEUS_OK;
        p = comma + 1;
    }
}

static bool is_old_mig(const char *text)
{
    return strncmp(text, "MIG-GPU-", 8) == 0;
}

/* The old MIG form "MIG-GPU-<uuid>/<gi>/<ci>" names an instance by its GPU and its GPU and
 * compute instance ids. Where the backend knows the ids, uuids lists every instance under that
 * name and only an exact match counts; otherwise the GPU must at least have MIG instances. */
static int find_old_mig(const zeus_cvd_entry *e, const zeus_cvd_device *uuids, size_t uuid_count,
                        unsigned *device)
{
    char parent[96];
    zeus__strlcpy(parent, e->text + 4, sizeof parent);
    char *slash = strchr(parent, '/');
    bool ok = slash != NULL;
    const char *p = slash;
    for (int part = 0; ok && part < 2; part++) { /* "/<digits>/<digits>" and the end */
        ok = *p++ == '/' && isdigit((unsigned char)*p);
        while (ok && isdigit((unsigned char)*p))
            p++;
    }
    if (!ok || *p)
        return zeus__error(ZEUS_EINVAL,
                           "CUDA_VISIBLE_DEVICES entry '%s' is not MIG-GPU-<uuid>/<gi>/<ci>",
                           e->text);
    for (size_t i = 0; i < uuid_count; i++) {
        if (strcmp(uuids[i].uuid, e->text) == 0) {
            *device = uuids[i].device_index;
            return ZEUS_OK;
        }
    }
    *slash = '\0';
    int matches = 0;
    for (size_t i = 0; i < uuid_count; i++) {
        if (strncmp(uuids[i].uuid, "GPU-", 4) == 0 && strcmp(uuids[i].uuid, parent) == 0) {
            *device = uuids[i].device_index;
            matches++;
        }
    }
    if (matches == 0)
        return zeus__error(ZEUS_EINVAL, "CUDA_VISIBLE_DEVICES entry '%s' matches no device",
                           e->text);
    bool has_mig = false, ids_known = false;
    for (size_t i = 0; i < uuid_count; i++) {
        if (uuids[i].device_index != *device || strncmp(uuids[i].uuid, "MIG-", 4) != 0)
            continue;
        has_mig = true;
        ids_known = ids_known || is_old_mig(uuids[i].uuid);
    }
    if (!has_mig)
        return zeus__error(ZEUS_EINVAL,
                           "CUDA_VISIBLE_DEVICES entry '%s' names a MIG instance of device %u, "
                           "which has none",
                           e->text, *device);
    if (ids_known)
        return zeus__error(ZEUS_EINVAL,
                           "CUDA_VISIBLE_DEVICES entry '%s' names a MIG instance device %u does "
                           "not have",
                           e->text, *device);
    return ZEUS_OK;
}

/* The device whose UUID (or MIG UUID) starts with the entry's text; a unique prefix is enough. */
static int find_uuid(const zeus_cvd_entry *e, const zeus_cvd_device *uuids, size_t uuid_count,
                     unsigned *device)
{
    if (is_old_mig(e->text))
        return find_old_mig(e, uuids, uuid_count, device);
    const char *want = e->text;
    size_t n = strlen(want);
    int matches = 0;
    for (size_t i = 0; i < uuid_count; i++) {
        if (is_old_mig(uuids[i].uuid) || strncmp(uuids[i].uuid, want, n) != 0)
            continue;
        if (strlen(uuids[i].uuid) == n) { /* exact match wins over prefixes */
            *device = uuids[i].device_index;
            return ZEUS_OK;
        }
        if (matches++ == 0)
            *device = uuids[i].device_index;
    }
    if (matches == 1)
        return ZEUS_OK;
    if (matches > 1)
        return zeus__error(ZEUS_EINVAL, "CUDA_VISIBLE_DEVICES entry '%s' matches %d devices",
                           e->text, matches);
    return zeus__error(ZEUS_EINVAL, "CUDA_VISIBLE_DEVICES entry '%s' matches no device", e->text);
}

int zeus__cvd_resolve(const zeus_cvd_entry *entries, size_t count, unsigned device_count,
                      const zeus_cvd_device *uuids, size_t uuid_count, unsigned *map)
{
    for (size_t i = 0; i < count; i++) {
        const zeus_cvd_entry *e = &entries[i];
        if (e->kind == ZEUS_CVD_INDEX) {
            if (e->index >= device_count)
                return zeus__error(ZEUS_EINVAL,
                                   "CUDA_VISIBLE_DEVICES entry '%s' names device %u, but %u "
                                   "device%s exist",
                                   e->text, e->index, device_count, device_count == 1 ? "" : "s");
            map[i] = e->index;
        } else {
            int rc = find_uuid(e, uuids, uuid_count, &map[i]);
            if (rc != ZEUS_OK)
                return rc;
        }
        for (size_t j = 0; j < i; j++)
            if (map[j] == map[i])
                return zeus__error(ZEUS_EINVAL,
                                   "CUDA_VISIBLE_DEVICES entries '%s' and '%s' name the same "
                                   "device %u",
                                   entries[j].text, e->text, map[i]);
    }
    return ZEUS_OK;
}
