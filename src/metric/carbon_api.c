/* The ElectricityMaps carbon-intensity client with the disk cache shared with the Python client
 * (zeus/carbon.h, docs/carbon.md#cache). */
#include "core/http_client.h"
#include "core/internal.h"
#include "core/json.h"
#include "zeus/carbon_api.h"
#include "zeus/output.h"
#include "zeus/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define WHAT "carbon-intensity API"
#define HOUR_S 3600.0
#define MAX_ANSWER (1u << 20)

void zeus_carbon_api_options_init(zeus_carbon_api_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->emission_factor_type = "direct";
    o->estimate = true;
    o->timeout_s = 10.0;
    o->cache_ttl_s = 600.0;
    o->period_s = HOUR_S;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int env_seconds(const char *name, double *out)
{
    const char *v = env(name);
    double d;
    if (!v)
        return ZEUS_OK;
    if (zeus_parse_double(v, &d) != ZEUS_OK || !(d > 0) || !isfinite(d))
        return zeus__error(ZEUS_EINVAL, "%s='%s': not a positive number of seconds", name, v);
    *out = d;
    return ZEUS_OK;
}

int zeus_carbon_api_options_env(zeus_carbon_api_options *o)
{
    o->api_url = env("ZEUS_CARBON_API");
    o->api_key = env("ZEUS_CARBON_API_KEY");
    o->location = env("ZEUS_CARBON_LOCATION");
    const char *dir = env("ZEUS_CARBON_CACHE_DIR"), *xdg = env("XDG_CACHE_HOME"),
               *home = env("HOME");
    char *buf = o->cache_dir_storage;
    size_t size = sizeof o->cache_dir_storage;
    int n = dir    ? snprintf(buf, size, "%s", dir)
            : xdg  ? snprintf(buf, size, "%s/zeus/carbon", xdg)
            : home ? snprintf(buf, size, "%s/.cache/zeus/carbon", home)
                   : 0;
    o->cache_dir = n > 0 && (size_t)n < size ? buf : NULL;
    int rc = env_seconds("ZEUS_CARBON_TIMEOUT", &o->timeout_s);
    return rc == ZEUS_OK ? env_seconds("ZEUS_CARBON_TEST_PERIOD_S", &o->period_s) : rc;
}

typedef struct {
    const zeus_carbon_api_options *o;
    char where[128]; /* the location as the cache's directory name: "42.2776,-83.7409", "DE" */
    char query[256]; /* lat=..&lon=.. or zone=.. */
    double lat, lon;
    bool zone;
} api;

/* Python's str(float) for the URL and the cache directory, as the Python client writes them. */
static int parse_location(api *a)
{
    const char *loc = a->o->location;
    if (!loc || !*loc)
        return zeus__error(ZEUS_EINVAL, "carbon intensity: no location (LAT,LON or a zone)");
    const char *comma = strchr(loc, ',');
    char x[ZEUS_DOUBLE_BUF], y[ZEUS_DOUBLE_BUF];
    if (comma) {
        char *end;
        a->lat = strtod(loc, &end);
        if (end != comma || !(a->lat >= -90 && a->lat <= 90))
            return zeus__error(ZEUS_EINVAL, "carbon intensity: location '%s': bad latitude", loc);
        a->lon = strtod(comma + 1, &end);
        if (*end || end == comma + 1 || !(a->lon >= -180 && a->lon <= 180))
            return zeus__error(ZEUS_EINVAL, "carbon intensity: location '%s': bad longitude", loc);
        zeus_format_double(a->lat, x, sizeof x);
        zeus_format_double(a->lon, y, sizeof y);
        snprintf(a->where, sizeof a->where, "%s,%s", x, y);
        snprintf(a->query, sizeof a->query, "lat=%s&lon=%s", x, y);
        return ZEUS_OK;
    }
    size_t n = strlen(loc);
    if (n >= 64 ||
        strspn(loc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != n)
        return zeus__error(ZEUS_EINVAL, "carbon intensity: location '%s': not LAT,LON nor a zone",
                           loc);
    a->zone = true;
    zeus__strlcpy(a->where, loc, sizeof a->where);
    snprintf(a->query, sizeof a->query, "zone=%s", loc);
    return ZEUS_OK;
}

static void hour_stamp(double start, char *buf, size_t size)
{
    time_t t = (time_t)start;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cache_path(const api *a, double start, char **out)
{
    char stamp[32];
    hour_stamp(start, stamp, sizeof stamp);
    if (asprintf(out, "%s/electricitymaps/%s/%s/%s.json", a->o->cache_dir, a->where,
                 a->o->emission_factor_type, stamp) < 0) {
        *out = NULL;
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    return ZEUS_OK;
}

/* The cached value of the hour, if usable (see zeus/monitor/_provider.py: fresh()). */
static bool cache_get(const api *a, double start, double period, double *value)
{
    char *path = NULL, *text = NULL;
    size_t size;
    bool hit = false;
    if (!a->o->cache_dir || cache_path(a, start, &path) != ZEUS_OK)
        return false;
    if (zeus__read_file(path, &text, &size) == ZEUS_OK) {
        cJSON *j = cJSON_Parse(text);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "carbonIntensity");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "fetched_at");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "isEstimated");
        double now = zeus_wall_s();
        if (cJSON_IsNumber(v) && cJSON_IsNumber(f) && v->valuedouble > 0 &&
            (f->valuedouble >= start + period || now - f->valuedouble < a->o->cache_ttl_s) &&
            !(cJSON_IsTrue(e) && !a->o->estimate)) {
            *value = v->valuedouble;
            hit = true;
        }
        cJSON_Delete(j);
    }
    zeus__clear_error();
    free(text);
    free(path);
    return hit;
}

static void mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(path, 0777);
        *p = '/';
    }
}

/* Best effort: a cache that cannot be written leaves the answer good. */
static void cache_put(const api *a, double start, double value, bool estimated, double fetched)
{
    char *path = NULL, *text = NULL;
    if (!a->o->cache_dir || cache_path(a, start, &path) != ZEUS_OK)
        return;
    char stamp[32], num[ZEUS_DOUBLE_BUF], when[ZEUS_DOUBLE_BUF];
    hour_stamp(start, stamp, sizeof stamp);
    if (asprintf(&text,
                 "{\"carbonIntensity\": %s, \"datetime\": \"%s\", \"fetched_at\": %s, "
                 "\"isEstimated\": %s, \"source\": \"electricitymaps\"}",
                 zeus_format_double(value, num, sizeof num), stamp,
                 zeus_format_double(fetched, when, sizeof when),
                 estimated ? "true" : "false") >= 0) {
        mkdirs(path);
        if (zeus_write_file(path, text, strlen(text)) != ZEUS_OK)
            zeus__log(ZEUS_LOG_WARN, "carbon cache: %s", zeus_last_error());
        free(text);
    }
    free(path);
}

/* ISO 8601 "2024-11-30T07:00:00.000Z" -> Unix seconds. */
static bool parse_stamp(const char *s, double *out)
{
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end)
        return false;
    *out = (double)timegm(&tm);
    return true;
}

static int get_json(const api *a, const char *kind, cJSON **out)
{
    char *target = NULL, *url = NULL, auth[320];
    const char *key = a->o->api_key && *a->o->api_key ? a->o->api_key : NULL;
    /* The original's parameter order and Python's True/False. */
    int n = asprintf(&target, "/carbon-intensity/%s?%s&disableEstimations=%s&emissionFactorType=%s",
                     kind, a->query, a->o->estimate ? "False" : "True", a->o->emission_factor_type);
    if (n < 0 || asprintf(&url, "%s/carbon-intensity/%s?%s", a->o->api_url, kind, a->query) < 0) {
        if (n >= 0)
            free(target);
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    if (key && (size_t)snprintf(auth, sizeof auth, "auth-token: %s", key) >= sizeof auth) {
        free(target);
        free(url);
        return zeus__error(ZEUS_EINVAL, "%s: the API key is longer than %zu bytes", WHAT,
                           sizeof auth - 13);
    }
    const char *headers[] = {key ? auth : "Accept: application/json",
                             key ? "Accept: application/json" : NULL, NULL};
    double timeout = a->o->timeout_s > 0 && isfinite(a->o->timeout_s) ? a->o->timeout_s : 10.0;
    zeus__http_request_spec spec = {.what = WHAT,
                                    .method = "GET",
                                    .base_url = a->o->api_url,
                                    .target = target,
                                    .headers = headers,
                                    .deadline_ns = zeus_now_ns() + (int64_t)(timeout * 1e9),
                                    .max_reply = MAX_ANSWER};
    zeus__http_reply reply;
    int rc = zeus__http_request(&spec, &reply);
    free(target);
    if (rc != ZEUS_OK) {
        free(url);
        return rc == ZEUS_ETIMEOUT ? zeus__error(rc, "%s: no answer from %s within %g s", WHAT,
                                                 a->o->api_url, timeout)
                                   : rc;
    }
    int len = (int)(reply.body_len > 300 ? 300 : reply.body_len);
    if (reply.status == 401 || reply.status == 403)
        rc = zeus__error(ZEUS_EPERM, "%s: the API key was refused (HTTP %d) at %s: %.*s", WHAT,
                         reply.status, url, len, reply.body);
    else if (reply.status == 429)
        rc = zeus__error(ZEUS_EIO, "%s: rate limited (HTTP 429) at %s: %.*s", WHAT, url, len,
                         reply.body);
    else if (reply.status != 200)
        rc = zeus__error(ZEUS_EIO, "%s: HTTP %d from %s: %.*s", WHAT, reply.status, url, len,
                         reply.body);
    else if (!(*out = cJSON_ParseWithLength(reply.body, reply.body_len)))
        rc = zeus__error(ZEUS_EIO, "%s: %s answered with something that is not JSON: %.*s", WHAT,
                         url, len, reply.body);
    zeus__http_reply_free(&reply);
    free(url);
    return rc;
}

int zeus_carbon_api_intensity(const zeus_carbon_api_options *o, double unix_s, double *g_per_kwh)
{
    if (!o || o->size < sizeof *o || !g_per_kwh)
        return zeus__error(ZEUS_EINVAL, "zeus_carbon_api_intensity: options not initialised");
    if (!o->emission_factor_type || (strcmp(o->emission_factor_type, "direct") != 0 &&
                                     strcmp(o->emission_factor_type, "lifecycle") != 0))
        return zeus__error(ZEUS_EINVAL, "carbon intensity: emission factor type must be "
                                        "'direct' or 'lifecycle'");
    api a = {.o = o};
    int rc = parse_location(&a);
    if (rc != ZEUS_OK)
        return rc;
    double period = o->period_s > 0 && isfinite(o->period_s) ? o->period_s : HOUR_S;
    double start = floor(unix_s / period) * period;
    if (cache_get(&a, start, period, g_per_kwh))
        return ZEUS_OK;
    if (!o->api_url || !*o->api_url) {
        char stamp[32];
        hour_stamp(start, stamp, sizeof stamp);
        return zeus__error(ZEUS_ENOENT,
                           "carbon intensity of %s at %s: not in the cache%s%s and no API URL "
                           "to ask",
                           stamp, a.where, o->cache_dir ? " " : "",
                           o->cache_dir ? o->cache_dir : "");
    }
    double now = zeus_wall_s();
    bool current = floor(now / period) * period == start;
    cJSON *j = NULL;
    if ((rc = get_json(&a, current ? "latest" : "history", &j)) != ZEUS_OK)
        return rc;
    rc = ZEUS_ENOENT;
    if (current) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "carbonIntensity");
        if (cJSON_IsNumber(v) && v->valuedouble > 0) {
            *g_per_kwh = v->valuedouble;
            cache_put(&a, start, v->valuedouble,
                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "isEstimated")), now);
            rc = ZEUS_OK;
        }
    } else {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j, "history"))
        {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "carbonIntensity");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(item, "datetime");
            double t;
            if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !cJSON_IsString(d) ||
                !parse_stamp(d->valuestring, &t))
                continue;
            cache_put(&a, t, v->valuedouble,
                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "isEstimated")), now);
            if (t == start) {
                *g_per_kwh = v->valuedouble;
                rc = ZEUS_OK;
            }
        }
    }
    if (rc != ZEUS_OK) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        rc = zeus__error(ZEUS_ENOENT, "%s: no carbon intensity for %s at %s%s%s", WHAT,
                         current ? "this hour" : "that hour (not in the last 24)", a.where,
                         cJSON_IsString(e) ? ": " : "", cJSON_IsString(e) ? e->valuestring : "");
    } else {
        zeus__clear_error();
    }
    cJSON_Delete(j);
    return rc;
}
