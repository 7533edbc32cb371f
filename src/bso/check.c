/* The store's input rules (check.h). */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int bso_json_int(const cJSON *f, long long min, long long max, long long *out)
{
    if (!cJSON_IsNumber(f) || f->valuedouble != floor(f->valuedouble))
        return BSO_INT_NOT_INTEGER;
    /* Compared as doubles first: a huge value never goes through a cast to long long. */
    if (f->valuedouble < (double)min)
        return BSO_INT_TOO_SMALL;
    if (f->valuedouble > (double)max)
        return BSO_INT_TOO_LARGE;
    long long v = (long long)f->valuedouble;
    if (v < min)
        return BSO_INT_TOO_SMALL;
    if (v > max)
        return BSO_INT_TOO_LARGE;
    *out = v;
    return BSO_INT_OK;
}

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), 0 if
 * it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (left < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

const char *bso_text_problem(const char *s, size_t len)
{
    if (memchr(s, '\0', len))
        return "contains a NUL character";
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = utf8_seq((const unsigned char *)s + i, len - i)))
            return "is not valid UTF-8";
    return NULL;
}

char *bso_utf8_repair(const char *s)
{
    size_t len = strlen(s), o = 0;
    char *out = malloc(3 * len + 1); /* each bad byte may become 3 */
    if (!out)
        return NULL;
    for (size_t i = 0, n; i < len; i += n) {
        if ((n = utf8_seq((const unsigned char *)s + i, len - i))) {
            memcpy(out + o, s + i, n);
            o += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD for the byte */
            o += 3;
            n = 1;
        }
    }
    out[o] = '\0';
    return out;
}

bool bso_json_has_nul(const char *json)
{
    bool in_string = false;
    for (const char *p = json; *p; p++) {
        if (!in_string) {
            in_string = *p == '"';
            continue;
        }
        if (*p == '"')
            in_string = false;
        else if (*p == '\\') {
            if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
                return true;
            if (p[1])
                p++; /* the escaped character, whatever it is */
        }
    }
    return false;
}

const char *bso_path_part_problem(const char *id)
{
    if (strchr(id, '/') || strchr(id, '\\'))
        return "contains a path separator";
    if (strstr(id, ".."))
        return "contains '..'";
    return NULL;
}
