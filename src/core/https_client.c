/* https:// for libzeus's HTTP client (core/http_client.h): libcurl, loaded at run time with
 * dlopen("libcurl.so.4") the first time an https:// URL is asked for (or the library named by
 * ZEUS_CURL_LIBRARY), its few functions resolved once, so libzeus keeps its dependency promise
 * (libc, pthreads, libdl, cJSON) and plain http:// never touches it. The certificate is always
 * verified (peer and host name): against the system's CA certificates, or the file
 * SSL_CERT_FILE / the directory SSL_CERT_DIR names, as OpenSSL programs read them. */
#include "core/array.h"
#include "core/curl_api.h"
#include "core/http_client.h"
#include "core/internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURL_SONAME "libcurl.so.4"

/* Loaded once and kept for the life of the process (curl's global state stays initialised). A
 * failed load is not kept: the next request tries again and says why again. */
static pthread_mutex_t curl_lock = PTHREAD_MUTEX_INITIALIZER;
static void *curl_lib;
static zeus__curl_api curl_fns;

static const struct {
    const char *name;
    size_t offset;
} CURL_FUNCTIONS[] = {
    {"curl_global_init", offsetof(zeus__curl_api, global_init)},
    {"curl_easy_init", offsetof(zeus__curl_api, easy_init)},
    {"curl_easy_setopt", offsetof(zeus__curl_api, easy_setopt)},
    {"curl_easy_perform", offsetof(zeus__curl_api, easy_perform)},
    {"curl_easy_getinfo", offsetof(zeus__curl_api, easy_getinfo)},
    {"curl_easy_cleanup", offsetof(zeus__curl_api, easy_cleanup)},
    {"curl_easy_strerror", offsetof(zeus__curl_api, easy_strerror)},
    {"curl_slist_append", offsetof(zeus__curl_api, slist_append)},
    {"curl_slist_free_all", offsetof(zeus__curl_api, slist_free_all)},
};

/* dlopen, resolve, curl_global_init; the caller holds curl_lock. */
static int load_locked(const char *what, const char *url)
{
    const char *override = getenv("ZEUS_CURL_LIBRARY");
    bool named = override && *override;
    const char *name = named ? override : CURL_SONAME;
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        bool missing = !why || strstr(why, "No such file");
        return zeus__error(ZEUS_ELIB, "%s: %s: needs libcurl (%s %s%s: install libcurl4%s)", what,
                           url, name,
                           missing ? "not found" : "could not be loaded: ", missing ? "" : why,
                           named ? ", or fix ZEUS_CURL_LIBRARY" : "");
    }
    zeus__curl_api f;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(CURL_FUNCTIONS); i++) {
        void *sym = dlsym(lib, CURL_FUNCTIONS[i].name);
        if (!sym) {
            dlclose(lib);
            return zeus__error(ZEUS_ELIB,
                               "%s: %s: needs libcurl (%s has no %s: not libcurl 7 or "
                               "later; install libcurl4)",
                               what, url, name, CURL_FUNCTIONS[i].name);
        }
        memcpy((char *)&f + CURL_FUNCTIONS[i].offset, &sym, sizeof sym);
    }
    CURLcode c = f.global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK) {
        int rc = zeus__error(ZEUS_EINIT, "%s: %s: libcurl (%s) failed to start: %s", what, url,
                             name, f.easy_strerror(c));
        dlclose(lib);
        return rc;
    }
    curl_fns = f;
    curl_lib = lib;
    return ZEUS_OK;
}

static int load_curl(const char *what, const char *url)
{
    pthread_mutex_lock(&curl_lock);
    int rc = curl_lib ? ZEUS_OK : load_locked(what, url);
    pthread_mutex_unlock(&curl_lock);
    return rc;
}

/* A growing buffer for the body or the header lines, bounded by max. */
typedef struct {
    char *buf;
    size_t len, cap, max;
    bool over; /* more than max arrived */
} sink;

static bool sink_add(sink *s, const char *data, size_t n)
{
    if (n > s->max - s->len) {
        s->over = true;
        return false;
    }
    void *items = s->buf; /* room for the bytes and a NUL */
    if (zeus__array_reserve(&items, &s->cap, s->len + n, 1, 4096) != ZEUS_OK)
        return false;
    s->buf = items;
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return true;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    return sink_add(user, data, size * n) ? size * n : 0;
}

/* Header lines as the plain client keeps them (each ending in CRLF, no status line, no blank
 * line); a new status line (an interim 100 Continue's head came first) starts over. */
static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    sink *s = user;
    size_t len = size * n, text = len;
    while (text > 0 && (data[text - 1] == '\n' || data[text - 1] == '\r'))
        text--;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        s->len = 0;
        return len;
    }
    if (text == 0)
        return len;
    return sink_add(s, data, text) && sink_add(s, "\r\n", 2) ? len : 0;
}

/* Where the CA certificates come from, for messages and CURLOPT_CAINFO/CAPATH. */
static const char *ca_file(void)
{
    const char *v = getenv("SSL_CERT_FILE");
    return v && *v ? v : NULL;
}

static const char *ca_dir(void)
{
    const char *v = getenv("SSL_CERT_DIR");
    return v && *v ? v : NULL;
}

static bool tls_failure(CURLcode c)
{
    return c == CURLE_SSL_CONNECT_ERROR || c == CURLE_SSL_CERTPROBLEM ||
           c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE ||
           c == CURLE_SSL_CRL_BADFILE || c == CURLE_SSL_ISSUER_ERROR ||
           c == CURLE_SSL_PINNEDPUBKEYNOTMATCH || c == CURLE_SSL_INVALIDCERTSTATUS;
}

/* curl's failure as the plain client's errors say it, plus the TLS cases. */
static int perform_error(const zeus__http_request_spec *r, const char *url, const char *host,
                         const char *port, CURLcode c, const char *detail, bool over)
{
    const char *what = r->what, *why = *detail ? detail : curl_fns.easy_strerror(c);
    if (c == CURLE_OPERATION_TIMEDOUT)
        return zeus__error(ZEUS_ETIMEOUT, "%s: timed out (%s): %s", what, url, why);
    if (c == CURLE_WRITE_ERROR && over)
        return zeus__error(ZEUS_EIO, "%s: answer larger than %zu bytes", what, r->max_reply);
    if (c == CURLE_WRITE_ERROR)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    if (c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_CONNECT)
        return zeus__error(ZEUS_EIO, "cannot connect to the %s at %s:%s: %s", what, host, port,
                           why);
    if (tls_failure(c)) {
        const char *file = ca_file(), *dir = ca_dir();
        return zeus__error(ZEUS_EIO,
                           "%s: TLS with %s failed: %s (the certificate is always verified; CA "
                           "certificates: %s%s%s%s)",
                           what, host, why, file ? "SSL_CERT_FILE=" : "the system's",
                           file ? file : "", dir ? " and SSL_CERT_DIR=" : "", dir ? dir : "");
    }
    return zeus__error(ZEUS_EIO, "%s: %s: %s (curl error %d)", what, url, why, c);
}

/* The options of one request: method, URL, headers, body, verification, time limit. */
static int configure(CURL *h, const zeus__http_request_spec *r, const char *url,
                     struct curl_slist **list, sink *head, sink *body, char *detail)
{
    const zeus__curl_api *f = &curl_fns;
    if (!(*list = f->slist_append(NULL, "Expect:"))) /* no 100-continue round trip */
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    for (const char *const *line = r->headers; line && *line; line++) {
        struct curl_slist *more = f->slist_append(*list, *line);
        if (!more)
            return zeus__error(ZEUS_ENOMEM, "out of memory");
        *list = more;
    }
    char agent[64];
    snprintf(agent, sizeof agent, "libzeus/%s", zeus_version());
    int64_t left_ms = (r->deadline_ns - zeus_now_ns()) / 1000000;
    f->easy_setopt(h, CURLOPT_URL, url);
    f->easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTPS);
    f->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    f->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    f->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    f->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file())
        f->easy_setopt(h, CURLOPT_CAINFO, ca_file());
    if (ca_dir())
        f->easy_setopt(h, CURLOPT_CAPATH, ca_dir());
    f->easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(left_ms > 1 ? left_ms : 1));
    f->easy_setopt(h, CURLOPT_USERAGENT, agent);
    f->easy_setopt(h, CURLOPT_HTTPHEADER, *list);
    f->easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    f->easy_setopt(h, CURLOPT_WRITEFUNCTION, (zeus__curl_write_fn)on_body);
    f->easy_setopt(h, CURLOPT_WRITEDATA, (void *)body);
    f->easy_setopt(h, CURLOPT_HEADERFUNCTION, (zeus__curl_write_fn)on_header);
    f->easy_setopt(h, CURLOPT_HEADERDATA, (void *)head);
    if (strcmp(r->method, "GET") == 0 && r->body_len == 0) {
        f->easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        f->easy_setopt(h, CURLOPT_POST, 1L);
        f->easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        f->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if (strcmp(r->method, "POST") != 0)
            f->easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    return ZEUS_OK;
}

/* head and body into one buffer laid out as the plain client's reply. */
static int make_reply(sink *head, sink *body, long status, zeus__http_reply *reply)
{
    char *raw = malloc(head->len + body->len + 2);
    if (!raw)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    if (head->len)
        memcpy(raw, head->buf, head->len);
    raw[head->len] = '\0';
    if (body->len)
        memcpy(raw + head->len + 1, body->buf, body->len);
    raw[head->len + 1 + body->len] = '\0';
    reply->status = (int)status;
    reply->raw = raw;
    reply->headers = raw;
    reply->body = raw + head->len + 1;
    reply->body_len = body->len;
    return ZEUS_OK;
}

int zeus__https_request(const zeus__http_request_spec *r, const char *url, const char *host,
                        const char *port, zeus__http_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    int rc = load_curl(r->what, url);
    if (rc != ZEUS_OK)
        return rc;
    if (zeus_now_ns() >= r->deadline_ns)
        return zeus__error(ZEUS_ETIMEOUT, "%s: timed out before connecting (%s)", r->what, url);
    CURL *h = curl_fns.easy_init();
    if (!h)
        return zeus__error(ZEUS_ENOMEM, "%s: %s: curl_easy_init failed", r->what, url);
    struct curl_slist *list = NULL;
    sink head = {.max = r->max_reply}, body = {.max = r->max_reply};
    char detail[CURL_ERROR_SIZE] = "";
    rc = configure(h, r, url, &list, &head, &body, detail);
    if (rc == ZEUS_OK) {
        CURLcode c = curl_fns.easy_perform(h);
        long status = 0;
        if (c == CURLE_OK)
            curl_fns.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        rc = c != CURLE_OK ? perform_error(r, url, host, port, c, detail, head.over || body.over)
                           : make_reply(&head, &body, status, reply);
    }
    curl_fns.easy_cleanup(h);
    curl_fns.slist_free_all(list);
    free(head.buf);
    free(body.buf);
    return rc;
}
