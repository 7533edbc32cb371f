/* The power-limit profile file (spec 4.5): the original's JSON, read and written. */
#include "zeus/power_limit.h"

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

/* A JSON string as Python's json.dumps writes it (ASCII-only names: quotes, backslashes and
 * control characters escaped). */
static void put_json_string(text_buf *t, const char *s)
{
    put(t, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\')
            snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (*p == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (*p < 0x20 || *p >= 0x7f)
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        else
            snprintf(esc, sizeof esc, "%c", *p);
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
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(item, keys[k]);
        if (!f)
            return zeus__error(ZEUS_EPARSE, "%s: measurements[%zu] has no \"%s\"", origin, i,
                               keys[k]);
        if (!number_of(f, &v[k]) || !isfinite(v[k]) || !(v[k] > 0))
            return zeus__error(ZEUS_EPARSE, "%s: measurements[%zu].%s must be a positive number",
                               origin, i, keys[k]);
    }
    if (v[0] != floor(v[0]) || v[0] > UINT_MAX / 1000)
        return zeus__error(ZEUS_EPARSE,
                           "%s: measurements[%zu].power_limit must be a whole number of watts",
                           origin, i);
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
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *c = json; at && c < at && *c; c++)
            line += *c == '\n';
        return zeus__error(ZEUS_EPARSE, "%s:%d: not valid JSON (a power-limit profile)", origin,
                           line);
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "measurements");
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
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "gpu_model");
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
