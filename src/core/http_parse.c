/* The HTTP/1.1 client's pure parsing (core/http_client.h): URLs, an answer's head, chunked
 * bodies, whole answers and server-sent events. No I/O; fuzzed by fuzz/fuzz_zeusd_reply.c. */
#include "core/http_client.h"

#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What follows the scheme: h, "HOST[:PORT][/PREFIX]" (default_port when none). */
static int parse_authority(const char *what, const char *url, const char *h,
                           const char *default_port, char *host, size_t host_size, char *port,
                           size_t port_size, char *prefix, size_t prefix_size)
{
    const char *end = h + strcspn(h, "/?#");
    if (*end == '?' || *end == '#')
        return zeus__error(ZEUS_EINVAL, "%s URL '%s': no query or fragment", what, url);
    const char *hend = end, *p = NULL;
    if (*h == '[') { /* [v6]:port */
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return zeus__error(ZEUS_EINVAL, "%s URL '%s': unclosed '['", what, url);
        p = close[1] == ':' ? close + 2 : NULL;
        if (close + 1 != end && !p)
            return zeus__error(ZEUS_EINVAL, "%s URL '%s': bad host", what, url);
        h++;
        hend = close;
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        if (colon) {
            hend = colon;
            p = colon + 1;
        }
    }
    size_t hl = (size_t)(hend - h), pl = p ? (size_t)(end - p) : 2;
    if (hl == 0 || hl >= host_size)
        return zeus__error(ZEUS_EINVAL, "%s URL '%s': bad host", what, url);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (p) {
        if (pl == 0 || pl >= port_size || strspn(p, "0123456789") < pl)
            return zeus__error(ZEUS_EINVAL, "%s URL '%s': bad port", what, url);
        memcpy(port, p, pl);
        port[pl] = '\0';
    } else {
        zeus__strlcpy(port, default_port, port_size);
    }
    size_t rl = strlen(end);
    while (rl > 0 && end[rl - 1] == '/')
        rl--;
    if (rl >= prefix_size)
        return zeus__error(ZEUS_EINVAL, "%s URL '%s': path too long", what, url);
    memcpy(prefix, end, rl);
    prefix[rl] = '\0';
    return ZEUS_OK;
}

int zeus__http_parse_url(const char *what, const char *url, char *host, size_t host_size,
                         char *port, size_t port_size, char *prefix, size_t prefix_size)
{
    if (!url || strncmp(url, "http://", 7) != 0)
        return zeus__error(ZEUS_EINVAL, "%s URL '%s' must start with http://", what,
                           url ? url : "(null)");
    return parse_authority(what, url, url + 7, "80", host, host_size, port, port_size, prefix,
                           prefix_size);
}

int zeus__http_parse_any_url(const char *what, const char *url, bool *tls, char *host,
                             size_t host_size, char *port, size_t port_size, char *prefix,
                             size_t prefix_size)
{
    *tls = url && strncmp(url, "https://", 8) == 0;
    if (!*tls && (!url || strncmp(url, "http://", 7) != 0))
        return zeus__error(ZEUS_EINVAL, "%s URL '%s' must start with http:// or https://", what,
                           url ? url : "(null)");
    if (!*tls)
        return zeus__http_parse_url(what, url, host, host_size, port, port_size, prefix,
                                    prefix_size);
    return parse_authority(what, url, url + 8, "443", host, host_size, port, port_size, prefix,
                           prefix_size);
}

/* The first occurrence of "\r\n\r\n" in raw[0..len), or NULL. */
static const char *head_end(const char *raw, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++)
        if (raw[i] == '\r' && memcmp(raw + i, "\r\n\r\n", 4) == 0)
            return raw + i;
    return NULL;
}

/* One header line of the head (h .. the next CRLF): Content-Length or Transfer-Encoding. */
static int head_field(const char *line, size_t n, zeus__http_head *h, const char **why)
{
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return *why = "a header line without ':'", ZEUS_EPARSE;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        size_t value = 0;
        if (vl == 0 || vl > 15)
            return *why = "a bad Content-Length", ZEUS_EPARSE;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return *why = "a bad Content-Length", ZEUS_EPARSE;
            value = value * 10 + (size_t)(v[i] - '0');
        }
        if (h->has_length && h->length != value)
            return *why = "two different Content-Length headers", ZEUS_EPARSE;
        h->has_length = true;
        h->length = value;
    } else if (nl == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
        if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
            return *why = "a transfer coding other than chunked", ZEUS_EPARSE;
        h->chunked = true;
    }
    return ZEUS_OK;
}

int zeus__http_parse_head(const char *raw, size_t len, zeus__http_head *h, const char **why)
{
    memset(h, 0, sizeof *h);
    size_t check = len < 12 ? len : 12;
    if (memcmp(raw, "HTTP/1.", check < 7 ? check : 7) != 0)
        return *why = "no HTTP/1.x status line", ZEUS_EPARSE;
    const char *end = head_end(raw, len);
    if (!end) {
        if (memchr(raw, '\0', len))
            return *why = "a NUL byte in the head", ZEUS_EPARSE;
        return len > 64 * 1024 ? (*why = "a head longer than 64 KiB", ZEUS_EPARSE) : 1;
    }
    if (memchr(raw, '\0', (size_t)(end - raw)))
        return *why = "a NUL byte in the head", ZEUS_EPARSE;
    if ((raw[7] != '0' && raw[7] != '1') || raw[8] != ' ' || raw[9] < '1' || raw[9] > '5' ||
        raw[10] < '0' || raw[10] > '9' || raw[11] < '0' || raw[11] > '9' ||
        (raw + 12 != end && raw[12] != ' ' && raw[12] != '\r'))
        return *why = "a bad status line", ZEUS_EPARSE;
    h->status = (raw[9] - '0') * 100 + (raw[10] - '0') * 10 + (raw[11] - '0');
    h->head_len = (size_t)(end - raw) + 4;
    const char *line = memchr(raw, '\n', (size_t)(end - raw));
    while (line && line < end) {
        const char *start = line + 1;
        const char *next = memchr(start, '\n', (size_t)(end + 2 - start));
        if (!next || next == start || next[-1] != '\r')
            return *why = "a header line not ending in CRLF", ZEUS_EPARSE;
        int rc = head_field(start, (size_t)(next - 1 - start), h, why);
        if (rc != ZEUS_OK)
            return rc;
        line = next + 1 <= end ? next : NULL;
    }
    if (h->status < 200 || h->status == 204 || h->status == 304) { /* never a body */
        h->chunked = false;
        h->has_length = true;
        h->length = 0;
    }
    return ZEUS_OK;
}

/* A chunk's size line in[0..len): 1 while incomplete, else 0 with *size and *line_len. */
static int chunk_size(const char *in, size_t len, size_t *size, size_t *line_len, const char **why)
{
    const char *lf = memchr(in, '\n', len < 256 ? len : 256);
    if (!lf)
        return len >= 256 ? (*why = "a chunk size line longer than 256 bytes", ZEUS_EPARSE) : 1;
    size_t v = 0, i = 0;
    for (; in + i < lf; i++) {
        int c = in[i], d = c >= '0' && c <= '9'   ? c - '0'
                           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
        if (d < 0)
            break;
        if (v > (SIZE_MAX >> 8))
            return *why = "a chunk size too large", ZEUS_EPARSE;
        v = v * 16 + (size_t)d;
    }
    if (i == 0 || (in[i] != ';' && in[i] != '\r') || lf == in || lf[-1] != '\r')
        return *why = "a bad chunk size line", ZEUS_EPARSE;
    *size = v;
    *line_len = (size_t)(lf - in) + 1;
    return ZEUS_OK;
}

enum { PH_SIZE, PH_DATA, PH_DATA_END, PH_TRAILER, PH_DONE };

/* One step of the decoder at in[0..len): the raw bytes it consumed, or 0 when it needs more. */
static int dechunk_step(zeus__http_chunks *c, const char *in, size_t len, char *out, size_t *step,
                        size_t *made, const char **why)
{
    size_t n = 0, size = 0;
    int rc = ZEUS_OK;
    *step = 0;
    switch (c->phase) {
    case PH_SIZE:
        if ((rc = chunk_size(in, len, &size, &n, why)) != ZEUS_OK)
            return rc < 0 ? rc : ZEUS_OK;
        c->left = size;
        c->phase = size ? PH_DATA : PH_TRAILER;
        break;
    case PH_DATA:
        n = len < c->left ? len : c->left;
        if (out)
            memmove(out + *made, in, n);
        *made += n;
        c->left -= n;
        if (c->left == 0)
            c->phase = PH_DATA_END;
        break;
    case PH_DATA_END:
        if (len < 2)
            return ZEUS_OK;
        if (in[0] != '\r' || in[1] != '\n')
            return *why = "chunk data not followed by CRLF", ZEUS_EPARSE;
        n = 2;
        c->phase = PH_SIZE;
        break;
    case PH_TRAILER: {
        const char *lf = memchr(in, '\n', len);
        if (!lf)
            return len > 4096 ? (*why = "a trailer line longer than 4 KiB", ZEUS_EPARSE) : ZEUS_OK;
        n = (size_t)(lf - in) + 1;
        if (n == 2 && in[0] == '\r')
            c->phase = PH_DONE;
        else if (n < 2 || lf[-1] != '\r')
            return *why = "a trailer line not ending in CRLF", ZEUS_EPARSE;
        break;
    }
    default:
        break;
    }
    *step = n;
    return ZEUS_OK;
}

int zeus__http_dechunk(zeus__http_chunks *c, const char *in, size_t len, char *out, size_t *used,
                       size_t *made, const char **why)
{
    *used = *made = 0;
    while (c->phase != PH_DONE && *used < len) {
        size_t step;
        int rc = dechunk_step(c, in + *used, len - *used, out, &step, made, why);
        if (rc != ZEUS_OK)
            return rc;
        if (step == 0)
            break;
        *used += step;
    }
    return ZEUS_OK;
}

int zeus__http_parse_reply(char *raw, size_t len, zeus__http_reply *reply, const char **why)
{
    zeus__http_head h;
    memset(reply, 0, sizeof *reply);
    int rc = zeus__http_parse_head(raw, len, &h, why);
    if (rc == 1)
        return *why = "the answer ends inside its head", ZEUS_EPARSE;
    if (rc != ZEUS_OK)
        return rc;
    char *body = raw + h.head_len;
    size_t avail = len - h.head_len, body_len = avail;
    if (h.chunked) {
        zeus__http_chunks c = {0};
        size_t used;
        if ((rc = zeus__http_dechunk(&c, body, avail, body, &used, &body_len, why)) != ZEUS_OK)
            return rc;
        if (c.phase != PH_DONE)
            return *why = "the answer was cut short inside its chunked body", ZEUS_EPARSE;
    } else if (h.has_length) {
        if (avail < h.length)
            return *why = "the answer was cut short (fewer bytes than its Content-Length)",
                   ZEUS_EPARSE;
        body_len = h.length;
    }
    body[body_len] = '\0';
    char *first = strstr(raw, "\r\n");
    raw[h.head_len - 2] = '\0'; /* the header block ends with its last CRLF */
    reply->status = h.status;
    reply->raw = raw;
    reply->headers = first + 2 <= raw + h.head_len - 2 ? first + 2 : raw + h.head_len - 2;
    reply->body = body;
    reply->body_len = body_len;
    return ZEUS_OK;
}

bool zeus__http_header_in(const char *headers, const char *name, char *buf, size_t size)
{
    size_t nl = strlen(name);
    for (const char *h = headers; h && *h;) {
        const char *eol = strstr(h, "\r\n");
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            v += strspn(v, " \t");
            size_t vl = eol ? (size_t)(eol - v) : strlen(v);
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (size > 0)
                zeus__strlcpy(buf, v, vl + 1 < size ? vl + 1 : size);
            return true;
        }
        h = eol ? eol + 2 : NULL;
    }
    return false;
}

bool zeus__http_header(const zeus__http_reply *reply, const char *name, char *buf, size_t size)
{
    return reply->headers && zeus__http_header_in(reply->headers, name, buf, size);
}

bool zeus__sse_event(const char *buf, size_t len, size_t *event_len, size_t *span)
{
    /* A blank line: LF followed by LF or by CRLF. */
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        size_t end = i + 1 < len && buf[i + 1] == '\n'                         ? i + 2
                     : i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n' ? i + 3
                                                                               : 0;
        if (end) {
            *event_len = i > 0 && buf[i - 1] == '\r' ? i - 1 : i;
            *span = end;
            return true;
        }
    }
    return false;
}
