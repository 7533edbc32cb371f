/* Pushgateway client: a minimal HTTP/1.1 PUT/POST over a TCP socket (zeus/metric.h). */
#include "core/http_client.h"
#include "core/internal.h"
#include "metric/metric_internal.h"
#include "zeus/metric.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_S 10.0

void zeus_push_target_init(zeus_push_target *t)
{
    memset(t, 0, sizeof *t);
}

/* "http://HOST[:PORT][/PREFIX]" -> host, port, prefix (without a trailing slash). */
int zeus__push_parse_url(const char *url, char *host, size_t host_size, char *port,
                         size_t port_size, char *prefix, size_t prefix_size)
{
    return zeus__http_parse_url("Pushgateway", url, host, host_size, port, port_size, prefix,
                                prefix_size);
}

static bool plain_segment(const char *v)
{
    if (!*v)
        return false;
    for (; *v; v++)
        if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              *v == '-' || *v == '_' || *v == '.' || *v == '~'))
            return false;
    return true;
}

/* "/NAME/VALUE", or "/NAME@base64/B64URL" for a value a path segment cannot carry (the
 * Pushgateway's own escape; an empty value is "="). */
static void put_label(FILE *f, const char *name, const char *value)
{
    if (plain_segment(value)) {
        fprintf(f, "/%s/%s", name, value);
        return;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fprintf(f, "/%s@base64/", name);
    const unsigned char *s = (const unsigned char *)value;
    size_t n = strlen(value);
    if (n == 0)
        fputc('=', f);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? b64[v & 63] : '=', f);
    }
}

static bool valid_label_name(const char *n)
{
    if (!n || !*n || (*n >= '0' && *n <= '9'))
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
              *n == '_'))
            return false;
    return true;
}

/* The request path: PREFIX/metrics/job/JOB[/NAME/VALUE...][/EXTRA_NAME/EXTRA_VALUE]. */
static int build_path(const zeus_push_target *t, const char *prefix, const char *extra_name,
                      const char *extra_value, char **out)
{
    if (!t->job || !*t->job)
        return zeus__error(ZEUS_EINVAL, "a Pushgateway push needs a job name");
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    fprintf(f, "%s/metrics", prefix);
    put_label(f, "job", t->job);
    int rc = ZEUS_OK;
    for (const char *const *g = t->grouping; g && g[0]; g += 2) {
        if (!valid_label_name(g[0]) || !g[1] || strcmp(g[0], "job") == 0) {
            rc = zeus__error(ZEUS_EINVAL, "grouping label '%s' %s", g[0],
                             !g[1] ? "has no value" : "is not a valid label name");
            break;
        }
        put_label(f, g[0], g[1]);
    }
    if (extra_name)
        put_label(f, extra_name, extra_value);
    if (fclose(f) != 0 && rc == ZEUS_OK)
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
    if (rc != ZEUS_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int zeus__push(const zeus_push_target *t, const char *body, bool replace, const char *extra_name,
               const char *extra_value)
{
    if (!t || !body)
        return zeus__error(ZEUS_EINVAL, "zeus_push_text: NULL target or body");
    char host[256], port[16], prefix[512];
    int rc =
        zeus__push_parse_url(t->url, host, sizeof host, port, sizeof port, prefix, sizeof prefix);
    if (rc != ZEUS_OK)
        return rc;
    char *path = NULL, *request = NULL;
    if ((rc = build_path(t, prefix, extra_name, extra_value, &path)) != ZEUS_OK)
        return rc;
    double timeout_s =
        t->timeout_s > 0 && isfinite(t->timeout_s) ? t->timeout_s : DEFAULT_TIMEOUT_S;
    int64_t deadline = zeus_now_ns() + (int64_t)(timeout_s * 1e9);
    size_t body_len = strlen(body);
    bool v6 = strchr(host, ':') != NULL;
    int n = asprintf(&request,
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: libzeus/%s\r\n"
                     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     replace ? "PUT" : "POST", path, v6 ? "[" : "", host, v6 ? "]" : "", port,
                     zeus_version(), body_len);
    if (n < 0) {
        request = NULL;
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        goto done;
    }
    zeus__http_reply reply;
    if ((rc = zeus__http_exchange("Pushgateway", host, port, request, (size_t)n, body, body_len,
                                  deadline, 4096, &reply)) != ZEUS_OK)
        goto done;
    if (reply.status < 200 || reply.status > 299) {
        const char *msg = reply.body;
        size_t line = strcspn(reply.raw, "\r\n"), ml = strcspn(msg, "\n");
        rc = zeus__error(ZEUS_EIO, "Pushgateway %s %s: %.*s%s%.*s", replace ? "PUT" : "POST", path,
                         (int)line, reply.raw, ml ? ": " : "", (int)(ml > 300 ? 300 : ml), msg);
    }
    zeus__http_reply_free(&reply);
done:
    free(request);
    free(path);
    return rc;
}

int zeus_push_target_check(const zeus_push_target *t)
{
    if (!t)
        return zeus__error(ZEUS_EINVAL, "zeus_push_target_check: NULL target");
    char host[256], port[16], prefix[512], *path = NULL;
    int rc =
        zeus__push_parse_url(t->url, host, sizeof host, port, sizeof port, prefix, sizeof prefix);
    if (rc == ZEUS_OK)
        rc = build_path(t, prefix, NULL, NULL, &path);
    free(path);
    return rc;
}

int zeus_push_text(const zeus_push_target *t, const char *body, bool replace)
{
    return zeus__push(t, body, replace, NULL, NULL);
}
