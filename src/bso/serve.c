/* `zeus bso serve`: the batch-size optimizer service over HTTP (libmicrohttpd), wire-compatible
 * with the newer Zeus's server (docs/spec/bso-server-api.md section 3). Each worker thread has
 * its own database connection; all coordination is the database's. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd/address.h"
#include "httpd/body.h"
#include "bso.h"
#include "bso_util.h"
#include "svc.h"

#define MAX_BODY (1 << 20)

/* The connection opened at start: every worker's connection must reach the same store. */
static bso_db *g_first;
static _Thread_local bso_db *t_db;
/* Every worker's connection, closed at shutdown. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bso_db *g_dbs[256];
static size_t g_ndbs;

static enum MHD_Result send_reply(struct MHD_Connection *c, int status, const char *body)
{
    return zh_send(c, status, body, "application/json");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version;
    zh_step step = zh_body_step(con_cls, upload, upload_size, MAX_BODY);
    if (step != ZH_DONE)
        return step == ZH_MORE ? MHD_YES : MHD_NO;
    zh_body *q = *con_cls;
    if (q->too_large)
        return send_reply(c, 413, "{\"detail\":\"Request body too large\"}");

    bool jobs = strcmp(url, "/jobs") == 0, bs = strcmp(url, "/jobs/batch_size") == 0;
    bool report = strcmp(url, "/report") == 0, trials = strcmp(url, "/trials") == 0;
    if (!jobs && !bs && !report && !trials)
        return send_reply(c, 404, "{\"detail\":\"Not Found\"}");
    bool post = strcmp(method, "POST") == 0;
    if (!((jobs && (post || strcmp(method, "DELETE") == 0)) || (bs && strcmp(method, "GET") == 0) ||
          (report && post) || (trials && strcmp(method, "PATCH") == 0)))
        return send_reply(c, 405, "{\"detail\":\"Method Not Allowed\"}");

    /* The original client sends JSON without a Content-Type; anything declared as another
     * type is not JSON (FastAPI answers 422). */
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!bs && !(jobs && strcmp(method, "DELETE") == 0) && ctype && !strstr(ctype, "json"))
        return send_reply(c, 422,
                          "{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"value is not a valid "
                          "dict\",\"type\":\"type_error.dict\"}]}");

    if (!t_db) {
        char err[512];
        if (bso_db_open_like(g_first, &t_db, err, sizeof err) < 0) {
            svc_reply rep = {0};
            svc_unavailable(err, &rep);
            fprintf(stderr, "zeus bso serve: %s %s: 503: %s\n", method, url, err);
            enum MHD_Result ret = send_reply(c, rep.status, rep.body ? rep.body : "null");
            free(rep.body);
            return ret;
        }
        pthread_mutex_lock(&g_lock);
        if (g_ndbs < sizeof g_dbs / sizeof g_dbs[0])
            g_dbs[g_ndbs++] = t_db;
        pthread_mutex_unlock(&g_lock);
    }
    svc_reply rep = {0};
    const char *job_id = NULL;
    size_t job_id_len = 0;
    if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, "job_id", 6, &job_id,
                                      &job_id_len) != MHD_YES)
        job_id = NULL;
    if (q->body && memchr(q->body, '\0', q->len)) /* cJSON would stop reading there */
        svc_422("body", "__root__", SVC_NUL_MSG, "value_error.str.nul", &rep);
    else if (jobs && post)
        svc_register(t_db, q->body ? q->body : "", &rep);
    else if ((jobs || bs) && !svc_check_query("job_id", job_id, job_id_len, &rep)) {
        /* rep holds the 422 */
    } else if (jobs)
        svc_delete_job(t_db, job_id, &rep);
    else if (bs)
        svc_next_batch_size(t_db, job_id, &rep);
    else if (report)
        svc_report(t_db, q->body ? q->body : "", &rep);
    else
        svc_end_trial(t_db, q->body ? q->body : "", &rep);
    if (rep.status >= 500)
        fprintf(stderr, "zeus bso serve: %s %s: %d %s\n", method, url, rep.status,
                rep.body ? rep.body : "");
    enum MHD_Result ret = send_reply(c, rep.status, rep.body ? rep.body : "null");
    free(rep.body);
    return ret;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zeus bso serve [--host ADDR] [--port PORT] [--db PATH|URL] [--threads N]\n"
            "                      [--stale-after SECONDS]\n\n"
            "Serves the batch-size optimizer API of the newer Zeus (docs/bso.md). The address\n"
            "is printed as 'listening on http://HOST:PORT'.\n\n"
            "options:\n"
            "  --host ADDR            address to listen on (default 127.0.0.1)\n"
            "  --port PORT            port; 0 picks a free one (default 8000)\n"
            "  --db PATH|URL          the store: a SQLite file or postgresql://... (default\n"
            "                         $ZEUS_DB, else <data dir>/zeus/history.db)\n"
            "  --threads N            requests handled at once (default 4)\n"
            "  --stale-after SECONDS  a trial silent this long is abandoned (default 86400)\n"
            "  -h, --help             show this help\n\n"
            "example:\n"
            "  zeus bso serve --host 0.0.0.0 --db postgresql://zeus@/zeus?host=/run/postgresql\n");
}

int bso_cmd_serve(int argc, char **argv)
{
    const char *host = "127.0.0.1", *db = NULL;
    long port = 8000, threads = 4, stale = 86400;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--host") == 0 && v)
            host = v, i++;
        else if (strcmp(a, "--db") == 0 && v)
            db = v, i++;
        else if (strcmp(a, "--port") == 0 && v && bso_parse_long(v, 0, 65535, &port) == 0)
            i++;
        else if (strcmp(a, "--stale-after") == 0 && v &&
                 bso_parse_long(v, 1, 1L << 30, &stale) == 0)
            i++, svc_stale_s = (double)stale;
        else if (strcmp(a, "--threads") == 0 && v && bso_parse_long(v, 1, 256, &threads) == 0)
            i++;
        else {
            fprintf(stderr, "zeus bso serve: error: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    char url[4096];
    if (bso_resolve_db(db, url, sizeof url) < 0)
        return 1;
    /* Open once up front: migrations run and a bad database is reported before listening. It
     * stays open: the workers' connections must reach this very store (a SQLite file deleted
     * or replaced later is refused with 503, never silently re-created). */
    char err[512];
    if (bso_db_open(url, &g_first, err, sizeof err) < 0) {
        fprintf(stderr, "zeus bso serve: error: %s\n", err);
        return 1;
    }

    struct sockaddr_storage ss;
    socklen_t sl;
    if (zh_sockaddr(host, (int)port, &ss, &sl) < 0) {
        fprintf(stderr, "zeus bso serve: error: bad --host '%s'\n", host);
        return 2;
    }
    /* SIGINT/SIGTERM are blocked in every thread (the server's threads inherit the mask) and
     * taken by sigwait below. A handler with `while (!stop) pause();` missed a signal delivered
     * to a server thread, or between the check and pause(), and the server kept running. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED,
        zh_body_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "zeus bso serve: error: cannot listen on %s:%ld: %s\n", host, port,
                strerror(errno));
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://%s:%u\n", host, info ? info->port : (unsigned)port);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    for (size_t i = 0; i < g_ndbs; i++)
        bso_db_close(g_dbs[i]);
    bso_db_close(g_first);
    return 0;
}
