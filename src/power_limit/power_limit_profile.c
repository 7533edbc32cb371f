/* The power-limit profile file (spec 4.5): the original's JSON, read and written. */
#include "zeus/power_limit.h"

#include "core/json.h"
#include "core/internal.h"
#include "zeus/output.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} text_buf;

static void put(text_buf *t, const char *s)
{
    size_t n = strlen(s);
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (t->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = true;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

/* Length of the UTF-8 sequence at p and its code point in *cp; 0 if it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF included), as Python decodes. */
static size_t utf8_next(const unsigned char *p, unsigned *cp)
{
    static const unsigned min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xE0) == 0xC0 ? 2
                 : (p[0] & 0xF0) == 0xE0 ? 3
                 : (p[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0)
        return 0;
    unsigned c = len == 1 ? p[0] : p[0] & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3Fu);
    }
    if (c < min_for_len[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

static bool valid_utf8(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp;
        size_t n = utf8_next(p, &cp);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* A JSON string as Python's json.dumps writes it (ensure_ascii): quotes, backslashes, control
 * characters and every code point outside ' '..'~' escaped, above U+FFFF as a surrogate pair.
 * s is valid UTF-8 (the reader checks); a stray byte is written as its own code point. */
static void put_json_string(text_buf *t, const char *s)
{
    put(t, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char esc[16];
        unsigned cp = *p;
        size_t n = utf8_next(p, &cp);
        p += n ? n : 1;
        if (cp == '"' || cp == '\\')
            snprintf(esc, sizeof esc, "\\%c", (char)cp);
        else if (cp == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (cp == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (cp > 0xFFFF)
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                     0xDC00 + ((cp - 0x10000) & 0x3FF));
        else if (cp < 0x20 || cp >= 0x7f)
            snprintf(esc, sizeof esc, "\\u%04x", cp);
        else
            snprintf(esc, sizeof esc, "%c", (char)cp);
        put(t, esc);
    }
    put(t, "\"");
}

static int check_measurement(const zeus_power_limit_measurement *m, size_t i)
{
    if (m->power_limit_w == 0 || !(m->energy_j > 0) || !isfinite(m->energy_j) || !(m->time_s > 0) ||
        !isfinite(m->time_s))
        return zeus__error(ZEUS_EINVAL,
                           "measurement %zu (power_limit %u W, energy %g J, time %g s): the limit "
                           "must be positive and energy and time positive and finite",
                           i, m->power_limit_w, m->energy_j, m->time_s);
    return ZEUS_OK;
}

int zeus_power_limit_profile_format(const zeus_power_limit_measurement *measurements, size_t count,
                                    const char *gpu_model, char **out)
{
    if (!measurements || count == 0)
        return zeus__error(ZEUS_EINVAL, "a power-limit profile needs at least one measurement");
    for (size_t i = 0; i < count; i++) {
        int rc = check_measurement(&measurements[i], i);
        if (rc != ZEUS_OK)
            return rc;
    }
    /* json.dump(profile, f, indent=4): ", " never appears (indent switches the item separator to
     * ","), no trailing newline. */
    text_buf t = {0};
    put(&t, "{\n    \"measurements\": [\n");
    for (size_t i = 0; i < count; i++) {
        char line[256], e[ZEUS_DOUBLE_BUF], s[ZEUS_DOUBLE_BUF];
        snprintf(line, sizeof line,
                 "        {\n"
                 "            \"power_limit\": %u,\n"
                 "            \"energy\": %s,\n"
                 "            \"time\": %s\n"
                 "        }%s\n",
                 measurements[i].power_limit_w,
                 zeus_format_double(measurements[i].energy_j, e, sizeof e),
                 zeus_format_double(measurements[i].time_s, s, sizeof s), i + 1 < count ? "," : "");
        put(&t, line);
    }
    put(&t, "    ]");
    if (gpu_model) {
        put(&t, ",\n    \"gpu_model\": ");
        put_json_string(&t, gpu_model);
    }
    put(&t, "\n}");
    if (t.failed) {
        free(t.buf);
        return zeus__error(ZEUS_ENOMEM, "out of memory formatting a power-limit profile");
    }
    *out = t.buf;
    return ZEUS_OK;
}

int zeus_power_limit_profile_write(const char *path,
                                   const zeus_power_limit_measurement *measurements, size_t count,
                                   const char *gpu_model)
{
    char *text = NULL;
    int rc = zeus_power_limit_profile_format(measurements, count, gpu_model, &text);
    if (rc != ZEUS_OK)
        return zeus__error(rc, "cannot write power-limit profile %s: %s", path, zeus_last_error());
    rc = zeus_write_file(path, text, strlen(text));
    free(text);
    if (rc != ZEUS_OK)
        return zeus__error(rc, "cannot write power-limit profile: %s", zeus_last_error());
    return ZEUS_OK;
}

/* ---- reading ---- */

/* The member named key; the last one when the key repeats, as Python's json.load keeps. */
static const cJSON *member(const cJSON *object, const char *key)
{
    const cJSON *found = NULL, *item;
    cJSON_ArrayForEach(item, object)
    {
        if (item->string && strcmp(item->string, key) == 0)
            found = item;
    }
    return found;
}

/* Pydantic (v1) coerces numeric strings; we accept them too. */
static bool number_of(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return true;
    }
    if (cJSON_IsString(v) && zeus_parse_double(v->valuestring, out) == ZEUS_OK)
        return true;
    return false;
}

static int parse_measurement(const cJSON *item, size_t i, const char *origin,
                             zeus_power_limit_measurement *m)
{
    if (!cJSON_IsObject(item))
        return zeus__error(ZEUS_EPARSE, "%s: measurements[%zu] must be an object", origin, i);
    static const char *const keys[] = {"power_limit", "energy", "time"};
    double v[3];
    for (size_t k = 0; k < ZEUS_ARRAY_LEN(keys); k++) {
        const cJSON *f = member(item, keys[k]);
        if (!f)
            return zeus__error(ZEUS_EPARSE, "%s: measurements[%zu] has no \"%s\"", origin, i,
                               keys[k]);
        if (!number_of(f, &v[k]))
            return zeus__error(ZEUS_EPARSE, "%s: measurements[%zu].%s must be a positive number",
                               origin, i, keys[k]);
        char shown[ZEUS_DOUBLE_BUF];
        if (isnan(v[k]) || !(v[k] > 0))
            return zeus__error(ZEUS_EPARSE,
                               "%s: measurements[%zu].%s must be a positive number (it is %s)",
                               origin, i, keys[k], zeus_format_double(v[k], shown, sizeof shown));
        if (!isfinite(v[k]))
            return zeus__error(ZEUS_EPARSE,
                               "%s: measurements[%zu].%s must be a finite number (it is %s)",
                               origin, i, keys[k], zeus_format_double(v[k], shown, sizeof shown));
    }
    if (v[0] > UINT_MAX / 1000)
        return zeus__error(ZEUS_EPARSE,
                           "%s: measurements[%zu].power_limit %g W is out of range (at most %u W)",
                           origin, i, v[0], UINT_MAX / 1000);
    if (v[0] != floor(v[0]))
        return zeus__error(ZEUS_EPARSE,
                           "%s: measurements[%zu].power_limit %g must be a whole number of watts",
                           origin, i, v[0]);
    m->power_limit_w = (unsigned)v[0];
    m->energy_j = v[1];
    m->time_s = v[2];
    return ZEUS_OK;
}

int zeus_power_limit_profile_parse(const char *json, const char *origin,
                                   zeus_power_limit_profile *out)
{
    int rc = ZEUS_OK;
    memset(out, 0, sizeof *out);
    /* json.load reads text: a BOM is an error there ("Unexpected UTF-8 BOM"), and so is a file
     * that is not UTF-8; cJSON would skip the one and keep the other. */
    if (strncmp(json, "\xEF\xBB\xBF", 3) == 0)
        return zeus__error(ZEUS_EPARSE,
                           "%s: starts with a UTF-8 byte order mark, which a JSON profile may not "
                           "have (save it without BOM)",
                           origin);
    if (!valid_utf8(json))
        return zeus__error(ZEUS_EPARSE, "%s: not UTF-8 text (a power-limit profile)", origin);
    int error;
    const char *at = NULL;
    cJSON *root = zeus__json_parse(json, true, &error, &at); /* true: nothing may follow */
    if (!root) {
        if (error == ZEUS_ENOMEM)
            return error;
        int line = 1;
        for (const char *c = json; at && c < at && *c; c++)
            line += *c == '\n';
        return zeus__error(ZEUS_EPARSE,
                           "%s:%d: not valid JSON (a power-limit profile; nothing but white "
                           "space may follow the object)",
                           origin, line);
    }
    const cJSON *list = member(root, "measurements");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(list)) {
        rc = zeus__error(ZEUS_EPARSE,
                         "%s: not a power-limit profile (expected an object with a "
                         "\"measurements\" array)",
                         origin);
        goto fail;
    }
    int n = cJSON_GetArraySize(list);
    if (n <= 0) {
        rc = zeus__error(ZEUS_EPARSE, "%s: the profile has no measurements", origin);
        goto fail;
    }
    out->measurements = calloc((size_t)n, sizeof *out->measurements);
    if (!out->measurements) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory reading %s", origin);
        goto fail;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        rc = parse_measurement(item, out->count, origin, &out->measurements[out->count]);
        if (rc != ZEUS_OK)
            goto fail;
        out->count++;
    }
    const cJSON *model = member(root, "gpu_model");
    if (model) {
        if (!cJSON_IsString(model) ||
            zeus__strlcpy(out->gpu_model, model->valuestring, sizeof out->gpu_model) >=
                sizeof out->gpu_model) {
            rc = zeus__error(ZEUS_EPARSE, "%s: \"gpu_model\" must be a short string", origin);
            goto fail;
        }
    }
    cJSON_Delete(root);
    return ZEUS_OK;
fail:
    cJSON_Delete(root);
    zeus_power_limit_profile_free(out);
    return rc;
}

int zeus_power_limit_profile_read(const char *path, zeus_power_limit_profile *out)
{
    char *text = NULL;
    memset(out, 0, sizeof *out);
    int rc = zeus__read_file(path, &text, NULL);
    if (rc != ZEUS_OK)
        return zeus__error(rc, "cannot read power-limit profile: %s", zeus_last_error());
    rc = zeus_power_limit_profile_parse(text, path, out);
    free(text);
    return rc;
}

void zeus_power_limit_profile_free(zeus_power_limit_profile *profile)
{
    if (!profile)
        return;
    free(profile->measurements);
    profile->measurements = NULL;
    profile->count = 0;
}
