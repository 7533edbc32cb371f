/* zeus-pfo (`zeus pipeline-frequency serve`): the pipeline frequency optimizer's server over
 * HTTP (libmicrohttpd, a thread per connection so that GET /schedule can wait for the other
 * ranks), with the original's routes, models, error bodies and settings (ZEUS_PFO_* or the
 * v0.8 PERSEUS_* environment variables). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd/address.h"
#include "httpd/body.h"
#include "pfo.h"

#define MAX_BODY (16 << 20)

extern char **environ;
static volatile sig_atomic_t g_stop;
static pfo_settings g_set;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* pydantic's BaseSettings: environment names are case-insensitive; ZEUS_PFO_ first (HEAD),
 * then PERSEUS_ (v0.8). */
static const char *setting(const char *field)
{
    static const char *const prefixes[] = {"ZEUS_PFO_", "PERSEUS_"};
    for (size_t p = 0; p < 2; p++)
        for (char **e = environ; *e; e++) {
            size_t lp = strlen(prefixes[p]), lf = strlen(field);
            if (strncasecmp(*e, prefixes[p], lp) == 0 && strncasecmp(*e + lp, field, lf) == 0 &&
                (*e)[lp + lf] == '=')
                return *e + lp + lf + 1;
        }
    return NULL;
}

int pfo_scheduler_args(pfo_settings *s, const char *json, char *err, size_t size)
{
    cJSON *a = cJSON_Parse(json), *it;
    if (!a || !cJSON_IsObject(a)) {
        cJSON_Delete(a);
        snprintf(err, size, "scheduler_args must be a JSON object, got '%s'", json);
        return -1;
    }
    bool online = strcmp(s->scheduler, "Online") == 0;
    cJSON_ArrayForEach(it, a)
    {
        const char *k = it->string;
        bool ok = false;
        if (!online && strcmp(k, "solution_path") == 0 && cJSON_IsString(it)) {
            snprintf(s->solution_path, sizeof s->solution_path, "%s", it->valuestring);
            ok = true;
        } else if (online && strcmp(k, "num_microbatches") == 0 && cJSON_IsNumber(it)) {
            s->online_mbs = (long)it->valuedouble;
            ok = s->online_mbs >= 1 && s->online_mbs <= 1024 && s->online_mbs == it->valuedouble;
        } else if (online && strcmp(k, "min_frequency") == 0 && cJSON_IsNumber(it)) {
            s->online_min_mhz = (long)it->valuedouble;
            ok = it->valuedouble >= 0;
        } else if (online && strcmp(k, "p2p_power") == 0 && cJSON_IsNumber(it)) {
            s->online_p2p_power_w = it->valuedouble;
            ok = it->valuedouble >= 0;
        } else if (online && strcmp(k, "unit_time") == 0 && cJSON_IsNumber(it)) {
            s->online_unit_time_s = it->valuedouble;
            ok = it->valuedouble > 0;
        } else if (online && strcmp(k, "frequencies") == 0 && cJSON_IsArray(it)) {
            const cJSON *f;
            ok = cJSON_GetArraySize(it) > 0 && cJSON_GetArraySize(it) <= PFO_ONLINE_MAX_FREQS;
            s->online_nfreqs = 0;
            cJSON_ArrayForEach(f, it)
            {
                ok = ok && cJSON_IsNumber(f) && f->valuedouble >= 1 && f->valuedouble <= 100000;
                if (ok)
                    s->online_freqs[s->online_nfreqs++] = (int)f->valuedouble;
            }
        } else {
            snprintf(err, size, "scheduler_args: %s() got an unexpected argument '%s'",
                     s->scheduler, k);
            cJSON_Delete(a);
            return -1;
        }
        if (!ok) {
            snprintf(err, size, "scheduler_args: %s(): bad value for '%s'", s->scheduler, k);
            cJSON_Delete(a);
            return -1;
        }
    }
    cJSON_Delete(a);
    return 0;
}

int pfo_settings_from_env(pfo_settings *s, char *err, size_t size)
{
    memset(s, 0, sizeof *s);
    s->online_p2p_power_w = 70.0;
    s->online_unit_time_s = 0.001;
    snprintf(s->scheduler, sizeof s->scheduler, "PointSolution");
    s->dump_data = true;
    snprintf(s->dump_dir, sizeof s->dump_dir, "./dump");
    s->max_job_idle_time_s = 604800;
    s->sweep_interval_s = 60;
    s->log_requests = true; /* log_level defaults to DEBUG */
    const char *v;
    if ((v = setting("SCHEDULER"))) {
        if (strcmp(v, "PointSolution") && strcmp(v, "PointSolution3D") && strcmp(v, "Online")) {
            snprintf(err, size,
                     "scheduler '%s': the schedulers are PointSolution, "
                     "PointSolution3D and Online",
                     v);
            return -1;
        }
        snprintf(s->scheduler, sizeof s->scheduler, "%s", v);
    }
    if ((v = setting("SCHEDULER_ARGS")) && pfo_scheduler_args(s, v, err, size) < 0)
        return -1;
    if ((v = setting("LOG_LEVEL")))
        s->log_requests = strcasecmp(v, "DEBUG") == 0 || strcasecmp(v, "NOTSET") == 0;
    if ((v = setting("DUMP_DATA"))) {
        static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
        static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
        int val = -1;
        for (size_t i = 0; i < 6; i++) {
            if (strcasecmp(v, yes[i]) == 0)
                val = 1;
            if (strcasecmp(v, no[i]) == 0)
                val = 0;
        }
        if (val < 0) {
            snprintf(err, size, "dump_data: value could not be parsed to a boolean: '%s'", v);
            return -1;
        }
        s->dump_data = val;
    }
    if ((v = setting("DUMP_DIR")))
        snprintf(s->dump_dir, sizeof s->dump_dir, "%s", v);
    if ((v = setting("MAX_JOB_IDLE_TIME"))) {
        char *end;
        long n = strtol(v, &end, 10);
        if (end == v || *end || n < 0) {
            snprintf(err, size, "max_job_idle_time: '%s' is not a whole number of seconds", v);
            return -1;
        }
        s->max_job_idle_time_s = n;
    }
    return 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const pfo_reply *r)
{
    return zh_send(c, r->status, r->body ? r->body : "null",
                   r->plain ? "text/plain; charset=utf-8" : "application/json");
}

/* "/prefix/{job_id}" -> job_id, or NULL. */
static const char *tail(const char *url, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(url, prefix, n) == 0 && url[n] && !strchr(url + n, '/') ? url + n : NULL;
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
    pfo_reply r = {0};
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    const char *id;
    if (q->too_large)
        r = (pfo_reply){413, strdup("{\"detail\":\"Request body too large\"}"), false};
    else if (strcmp(url, "/register_job") == 0 && post)
        pfo_register_job(q->body, &r);
    else if ((id = tail(url, "/register_rank/")) && post)
        pfo_register_rank(id, q->body, &r);
    else if ((id = tail(url, "/schedule/")) && get)
        pfo_get_schedule(id, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "rank"), &r);
    else if ((id = tail(url, "/result/")) && post)
        pfo_post_result(id, q->body, &r);
    else if (strcmp(url, "/register_job") == 0 || tail(url, "/register_rank/") ||
             tail(url, "/schedule/") || tail(url, "/result/"))
        r = (pfo_reply){405, strdup("{\"detail\":\"Method Not Allowed\"}"), false};
    else
        r = (pfo_reply){404, strdup("{\"detail\":\"Not Found\"}"), false};
    if (g_set.log_requests)
        fprintf(stderr, "zeus-pfo: %s %s %s -> %d %s\n", method, url, q->body ? q->body : "",
                r.status, r.body ? r.body : "");
    enum MHD_Result ret = send_reply(c, &r);
    free(r.body);
    return ret;
}

static void *sweeper(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {
            (time_t)g_set.sweep_interval_s,
            (long)((g_set.sweep_interval_s - (double)(time_t)g_set.sweep_interval_s) * 1e9)};
        nanosleep(&ts, NULL);
        pfo_evict_idle();
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: zeus pipeline-frequency serve [--host ADDR] [--port PORT]\n"
           "                                     [--solution FILE.py] [--scheduler NAME]\n"
           "                                     [--scheduler-args JSON] [--sweep-interval S]\n\n"
           "Serves the pipeline frequency optimizer's API (the original's four routes) to the\n"
           "ranks of training jobs: each rank gets its frequency plan from a solution file\n"
           "(a freqs_pipeline_NNNNN.py of `zeus pipeline-frequency solve`). Settings as the\n"
           "original's: ZEUS_PFO_SCHEDULER, ZEUS_PFO_SCHEDULER_ARGS ('{\"solution_path\": ...}'),\n"
           "ZEUS_PFO_DUMP_DATA, ZEUS_PFO_DUMP_DIR (./dump), ZEUS_PFO_MAX_JOB_IDLE_TIME (s),\n"
           "ZEUS_PFO_LOG_LEVEL (the v0.8 names PERSEUS_* work too); the options override them.\n"
           "The address is printed as 'listening on http://HOST:PORT'.\n\n"
           "options:\n"
           "  --host ADDR             address to listen on (default 127.0.0.1)\n"
           "  --port PORT             TCP port; 0 picks a free one (default 7787)\n"
           "  --solution FILE.py      the frequency plan to serve (a freqs_pipeline_NNNNN.py)\n"
           "  --scheduler NAME        PointSolution, PointSolution3D (data or tensor\n"
           "                          parallelism) or Online (default PointSolution)\n"
           "  --scheduler-args JSON   the scheduler's arguments (after --scheduler); Online\n"
           "                          profiles each job itself, one clock per iteration from\n"
           "                          the ranks' POST /result, then solves and serves the last\n"
           "                          frontier point: '{\"num_microbatches\": M}' (required),\n"
           "                          \"frequencies\": [MHz, ...] (default every clock all ranks\n"
           "                          support, down to \"min_frequency\"), \"p2p_power\" (W,\n"
           "                          default 70), \"unit_time\" (s, default 0.001)\n"
           "  --sweep-interval S      evict idle jobs every S seconds (default 60)\n"
           "  -h, --help              show this help\n\n"
           "example:\n"
           "  zeus pipeline-frequency serve --solution plans/freqs_pipeline_00042.py --port 0\n");
}

#define KEEP_GOING (-1)

/* The command line over the settings (g_set); KEEP_GOING, or the exit status (--help: 0). */
static int parse_args(int argc, char **argv, const char **host, long *port, char *err,
                      size_t err_size)
{
    /* argv[0] is "pipeline-frequency" (via zeus) or the program; "serve" may follow. */
    int i = 1;
    if (i < argc && strcmp(argv[i], "serve") == 0)
        i++;
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--host") == 0 && v)
            *host = v, i++;
        else if (strcmp(a, "--port") == 0 && v && (*port = strtol(v, &end, 10), !*end) &&
                 *port >= 0 && *port <= 65535)
            i++;
        else if (strcmp(a, "--solution") == 0 && v)
            snprintf(g_set.solution_path, sizeof g_set.solution_path, "%s", v), i++;
        else if (strcmp(a, "--scheduler") == 0 && v &&
                 (!strcmp(v, "PointSolution") || !strcmp(v, "PointSolution3D") ||
                  !strcmp(v, "Online")))
            snprintf(g_set.scheduler, sizeof g_set.scheduler, "%s", v), i++;
        else if (strcmp(a, "--scheduler-args") == 0 && v) {
            if (pfo_scheduler_args(&g_set, v, err, err_size) < 0) {
                fprintf(stderr, "zeus pipeline-frequency serve: error: %s\n", err);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--sweep-interval") == 0 && v &&
                   (g_set.sweep_interval_s = strtod(v, &end), !*end) && g_set.sweep_interval_s > 0)
            i++;
        else {
            fprintf(stderr, "zeus pipeline-frequency serve: error: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    return KEEP_GOING;
}

/* The scheduler has what it needs; KEEP_GOING or the exit status. */
static int check_scheduler(bool online)
{
    if (online && !g_set.online_mbs) {
        fprintf(stderr, "zeus pipeline-frequency serve: error: Online needs num_microbatches "
                        "(--scheduler-args '{\"num_microbatches\": 8}')\n");
        return 2;
    }
    /* The original binds the scheduler's arguments at start: PointSolution needs one. */
    if (!online && !g_set.solution_path[0]) {
        fprintf(stderr,
                "zeus pipeline-frequency serve: error: %s needs a solution_path "
                "(ZEUS_PFO_SCHEDULER_ARGS='{\"solution_path\": \"freqs_pipeline_00042.py\"}' "
                "or --solution)\n",
                g_set.scheduler);
        return 2;
    }
    return KEEP_GOING;
}

/* The address to listen on (adds MHD_USE_IPv6 to *flags for one); KEEP_GOING or the exit
 * status. */
static int listen_address(const char *host, long port, struct sockaddr_storage *ss, unsigned *flags)
{
    socklen_t len;
    if (zh_sockaddr(host, (int)port, ss, &len) < 0) {
        fprintf(stderr, "zeus pipeline-frequency serve: error: bad --host '%s' (an address)\n",
                host);
        return 2;
    }
    if (ss->ss_family == AF_INET6)
        *flags |= MHD_USE_IPv6;
    return KEEP_GOING;
}

int main(int argc, char **argv)
{
    char err[8192];
    if (pfo_settings_from_env(&g_set, err, sizeof err) < 0) {
        fprintf(stderr, "zeus pipeline-frequency serve: error: %s\n", err);
        return 2;
    }
    const char *host = "127.0.0.1";
    long port = 7787;
    int rc = parse_args(argc, argv, &host, &port, err, sizeof err);
    if (rc != KEEP_GOING)
        return rc;
    bool online = strcmp(g_set.scheduler, "Online") == 0;
    if ((rc = check_scheduler(online)) != KEEP_GOING)
        return rc;
    struct sockaddr_storage ss;
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if ((rc = listen_address(host, port, &ss, &flags)) != KEEP_GOING)
        return rc;
    pfo_jobs_init(&g_set);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &ss,
                         MHD_OPTION_NOTIFY_COMPLETED, zh_body_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "zeus pipeline-frequency serve: error: cannot listen on %s:%ld: %s\n", host,
                port, strerror(errno));
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, sweeper, NULL);
    pthread_detach(t);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (online)
        fprintf(stderr, "zeus pipeline-frequency serve: scheduler Online, %ld microbatches\n",
                g_set.online_mbs);
    else
        fprintf(stderr, "zeus pipeline-frequency serve: scheduler %s, solution %s\n",
                g_set.scheduler, g_set.solution_path);
    printf("listening on http://%s:%u\n", host, info ? info->port : (unsigned)port);
    fflush(stdout);
    while (!g_stop)
        pause();
    pfo_jobs_shutdown(); /* wakes the long polls so the daemon can stop */
    MHD_stop_daemon(d);
    return 0;
}
