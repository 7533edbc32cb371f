/* JSON glue (core/json.h). */
#include "core/json.h"

#include "core/internal.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

cJSON *zeus__json_double(double value)
{
    if (!isfinite(value))
        return cJSON_CreateNull();
    char buf[ZEUS_DOUBLE_BUF];
    return cJSON_CreateRaw(zeus_format_double(value, buf, sizeof buf));
}

/* ---- telling "out of memory" from "not JSON" -------------------------------------------------
 * cJSON returns NULL for both. When it fails, this checker (RFC 8259, allocating nothing, at
 * most as lenient as cJSON: the same nesting limit, no lone UTF-16 surrogates) decides: text it
 * accepts failed for want of memory. */

typedef struct {
    const unsigned char *p, *end;
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool literal(scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool digits(scan *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

static bool number(scan *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!digits(s))
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digits(s))
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!digits(s))
            return false;
    }
    return true;
}

static long hex4(scan *s)
{
    if (s->end - s->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = *s->p++;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool string(scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end && *s->p != '"') {
        if (*s->p < 0x20)
            return false;
        if (*s->p++ != '\\')
            continue;
        if (s->p == s->end)
            return false;
        unsigned char e = *s->p++;
        if (e == 'u') {
            long u = hex4(s);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return false;
            if (u >= 0xD800 && u <= 0xDBFF) { /* a high surrogate needs its low one */
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                    return false;
                s->p += 2;
                long low = hex4(s);
                if (low < 0xDC00 || low > 0xDFFF)
                    return false;
            }
        } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
            return false;
        }
    }
    if (s->p == s->end)
        return false;
    s->p++;
    return true;
}

static bool value(scan *s, int depth)
{
    skip_ws(s);
    if (s->p == s->end)
        return false;
    switch (*s->p) {
    case '{':
    case '[': {
        if (depth >= CJSON_NESTING_LIMIT)
            return false;
        unsigned char close = *s->p == '{' ? '}' : ']';
        bool object = close == '}';
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return true;
        }
        for (;;) {
            if (object) {
                skip_ws(s);
                if (s->p == s->end || *s->p != '"' || !string(s))
                    return false;
                skip_ws(s);
                if (s->p == s->end || *s->p++ != ':')
                    return false;
            }
            if (!value(s, depth + 1))
                return false;
            skip_ws(s);
            if (s->p == s->end)
                return false;
            if (*s->p == close) {
                s->p++;
                return true;
            }
            if (*s->p++ != ',')
                return false;
        }
    }
    case '"':
        return string(s);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

bool zeus__json_valid(const char *text, size_t length, bool whole)
{
    scan s = {(const unsigned char *)text, (const unsigned char *)text + length};
    if (!value(&s, 0))
        return false;
    skip_ws(&s);
    return !whole || s.p == s.end;
}

cJSON *zeus__json_parse(const char *text, bool whole, int *error, const char **error_at)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, whole);
    if (root)
        return root;
    if (error_at)
        *error_at = end ? end : cJSON_GetErrorPtr();
    *error = zeus__json_valid(text, strlen(text), whole) ? ZEUS_ENOMEM : ZEUS_EPARSE;
    if (*error == ZEUS_ENOMEM)
        zeus__error(ZEUS_ENOMEM, "out of memory reading JSON");
    return NULL;
}
