/* Query-string values as the original parses them (docs/spec/zeusd-api.md §4.0). */
#include "zeusd.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const group_names[ZD_GROUP_COUNT] = {"gpu-control", "gpu-read", "cpu-read"};

const char *zd_group_name(zd_group g)
{
    return g >= 0 && g < ZD_GROUP_COUNT ? group_names[g] : "none";
}

int zd_group_parse(const char *name, zd_group *out)
{
    for (int g = 0; g < ZD_GROUP_COUNT; g++)
        if (strcmp(name, group_names[g]) == 0) {
            *out = (zd_group)g;
            return 0;
        }
    return -1;
}

zd_group zd_path_group(const char *path)
{
    if (strncmp(path, "/gpu/set_", 9) == 0 || strncmp(path, "/gpu/reset_", 11) == 0)
        return ZD_GROUP_GPU_CONTROL;
    if (strncmp(path, "/gpu/", 5) == 0)
        return ZD_GROUP_GPU_READ;
    if (strncmp(path, "/cpu/", 5) == 0)
        return ZD_GROUP_CPU_READ;
    return ZD_GROUP_NONE;
}

int zd_parse_u32(const char *text, unsigned *out)
{
    /* Decimal digits only, as Rust's u32::from_str (a leading '+' is accepted there too). */
    const char *p = text;
    if (*p == '+')
        p++;
    if (*p == '\0')
        return -1;
    unsigned long long v = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > 0xffffffffull)
            return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int zd_parse_bool(const char *text, bool *out)
{
    if (strcmp(text, "true") == 0)
        *out = true;
    else if (strcmp(text, "false") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int zd_parse_ids(const char *text, const char *what, const char *field, unsigned *ids, size_t max,
                 size_t *count, char *err, size_t err_size)
{
    size_t n = 0;
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0') {
        snprintf(err, err_size, "%s must contain at least one %s index", field, what);
        return -1;
    }
    p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p))
            p++, len--;
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len == 0) {
            snprintf(err, err_size, "%s contains an empty %s index", field, what);
            return -1;
        }
        char item[32];
        unsigned v;
        if (len >= sizeof item || (memcpy(item, p, len), item[len] = '\0', 0) ||
            zd_parse_u32(item, &v) != 0) {
            snprintf(err, err_size, "Invalid %s index: %.*s", what, (int)(len > 64 ? 64 : len), p);
            return -1;
        }
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= ids[i] == v;
        if (!seen) {
            if (n == max) {
                snprintf(err, err_size, "%s lists more than %zu %s indices", field, max, what);
                return -1;
            }
            ids[n++] = v;
        }
        if (!end)
            break;
        p = end + 1;
    }
    qsort(ids, n, sizeof *ids, cmp_unsigned);
    *count = n;
    return 0;
}
