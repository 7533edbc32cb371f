/* zeus-exporter (`zeus exporter`): GPU and CPU energy for Prometheus.
 *
 * One poller thread reads every device at a fixed period and renders the device metrics into a
 * text snapshot; HTTP scrapes (libmicrohttpd) only copy the latest snapshot and add the
 * exporter's own counters, so a scrape never waits on NVML or sysfs. Polling RAPL every period
 * also keeps its wraparound counted (zeus_cpu_read_energy). Uses only the public libzeus API. */
#include "carbon.h"
#include "exposition.h"

#include "httpd/conn_guard.h"
#include "zeus/device.h"
#include "zeus/util.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LISTEN "127.0.0.1:9745"
#define EXIT_USAGE 2
#define EXIT_NODEV 3

enum { READ_ENERGY, READ_POWER, READ_LIMIT, READ_TEMPERATURE, READ_KINDS };
static const char *const read_names[READ_KINDS] = {"energy", "power", "power_limit", "temperature"};
/* The metric family each reading is exported as. */
static const struct {
    const char *name, *type, *help;
} gpu_families[READ_KINDS] = {
    {"zeus_gpu_energy_joules_total", "counter",
     "Energy the GPU consumed since the driver loaded (NVML counter; Volta and newer)."},
    {"zeus_gpu_power_watts", "gauge",
     "GPU power draw (NVML instant reading where the GPU has one, else "
     "nvmlDeviceGetPowerUsage)."},
    {"zeus_gpu_power_limit_watts", "gauge", "GPU power management limit."},
    {"zeus_gpu_temperature_celsius", "gauge",
     "GPU core temperature (GPUs whose driver reports it)."},
};

typedef struct {
    zeus_gpu_info info;
    char labels[768];
    unsigned long long errors[READ_KINDS];
    bool failing[READ_KINDS]; /* logged once per run of failures */
    bool has_temperature;     /* the first read did not answer ZEUS_ENOTSUP */
} gpu_slot;

typedef struct {
    zeus_cpu_info info;
    char labels[384];
    unsigned long long errors;
    bool failing;
} cpu_slot;

typedef struct {
    zeus_devices *devices;
    double period_s;
    char host[256];
    bool quiet;
    bool dcgm_labels; /* UUID, modelName, Hostname as dcgm-exporter spells them */
    unsigned gpu_count, cpu_count;
    gpu_slot gpus[ZEUS_MAX_GPUS];
    cpu_slot cpus[ZEUS_MAX_CPUS];
    unsigned long long polls;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    bool stopping;
    char *snapshot; /* device and poll metrics of the latest poll */
    size_t snapshot_len;
    unsigned long long scrapes;
    double scrape_seconds_sum;

    /* --max-connections, --connection-timeout-s, --request-timeout-s */
    long max_connections, connection_timeout_s, request_timeout_s;
    zh_guard *guard;
    exp_carbon *carbon; /* --carbon; poller thread only */
} exporter;

/* ---- polling ---- */

/* Counts a reading's result; a failure is logged once per run of failures. Returns rc == 0. */
static bool note(exporter *ex, bool *failing, unsigned long long *count, const char *what, int rc)
{
    if (rc == ZEUS_OK) {
        *failing = false;
        return true;
    }
    (*count)++;
    if (!*failing && !ex->quiet)
        fprintf(stderr,
                "zeus exporter: warning: reading %s failed: %s (%s); counted in "
                "zeus_exporter_read_errors_total\n",
                what, zeus_strerror(rc), zeus_last_error());
    *failing = true;
    return false;
}

static bool note_gpu(exporter *ex, unsigned g, int kind, int rc)
{
    char what[64];
    snprintf(what, sizeof what, "GPU %u %s", g, read_names[kind]);
    gpu_slot *s = &ex->gpus[g];
    return note(ex, &s->failing[kind], &s->errors[kind], what, rc);
}

/* One reading's family: a sample per GPU whose reading succeeded. A reading that failed leaves
 * its sample out (Prometheus marks the series stale) rather than exporting a made-up value. */
static void gpu_family(const exporter *ex, expo_buf *b, int kind, const double value[][READ_KINDS],
                       const bool ok[][READ_KINDS])
{
    expo_family(b, gpu_families[kind].name, gpu_families[kind].type, gpu_families[kind].help);
    for (unsigned g = 0; g < ex->gpu_count; g++)
        if (ok[g][kind])
            expo_sample(b, gpu_families[kind].name, ex->gpus[g].labels, value[g][kind]);
}

/* Reads every GPU once: value in the families' units (J, W, W, °C), ok where the reading
 * succeeded. */
static void read_gpus(exporter *ex, double value[][READ_KINDS], bool ok[][READ_KINDS])
{
    for (unsigned g = 0; g < ex->gpu_count; g++) {
        const gpu_slot *s = &ex->gpus[g];
        uint64_t mj = 0;
        unsigned mw = 0, limit_mw = 0, celsius = 0;
        ok[g][READ_ENERGY] = s->info.has_energy_counter &&
                             note_gpu(ex, g, READ_ENERGY, zeus_gpu_energy_mj(ex->devices, g, &mj));
        ok[g][READ_POWER] = note_gpu(ex, g, READ_POWER, zeus_gpu_power_mw(ex->devices, g, &mw));
        ok[g][READ_LIMIT] =
            note_gpu(ex, g, READ_LIMIT, zeus_gpu_power_limit_mw(ex->devices, g, &limit_mw));
        ok[g][READ_TEMPERATURE] =
            s->has_temperature &&
            note_gpu(ex, g, READ_TEMPERATURE, zeus_gpu_temperature_c(ex->devices, g, &celsius));
        value[g][READ_ENERGY] = (double)mj / 1e3;
        value[g][READ_POWER] = mw / 1e3;
        value[g][READ_LIMIT] = limit_mw / 1e3;
        value[g][READ_TEMPERATURE] = celsius;
    }
}

static void read_cpus(exporter *ex, zeus_cpu_energy *cpu, bool *cpu_ok)
{
    for (unsigned c = 0; c < ex->cpu_count; c++) {
        cpu_slot *s = &ex->cpus[c];
        int rc = zeus_cpu_read_energy(ex->devices, c, &cpu[c]);
        char what[96];
        snprintf(what, sizeof what, "CPU %s energy", s->info.name);
        cpu_ok[c] = note(ex, &s->failing, &s->errors, what, rc);
    }
}

/* The GPUs' power limit range (min, max, default), from their info. */
static void render_limit_ranges(const exporter *ex, expo_buf *b)
{
    static const struct {
        const char *name, *help;
        size_t offset;
    } ranges[] = {
        {"zeus_gpu_power_limit_min_watts", "Lowest power limit the GPU accepts.",
         offsetof(zeus_gpu_info, min_power_limit_mw)},
        {"zeus_gpu_power_limit_max_watts", "Highest power limit the GPU accepts.",
         offsetof(zeus_gpu_info, max_power_limit_mw)},
        {"zeus_gpu_power_limit_default_watts", "The GPU's default power limit.",
         offsetof(zeus_gpu_info, default_power_limit_mw)},
    };
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        expo_family(b, ranges[r].name, "gauge", ranges[r].help);
        for (unsigned g = 0; g < ex->gpu_count; g++) {
            const zeus_gpu_info *info = &ex->gpus[g].info;
            if (info->power_limit_valid)
                expo_sample(b, ranges[r].name, ex->gpus[g].labels,
                            *(const unsigned *)((const char *)info + ranges[r].offset) / 1e3);
        }
    }
}

static void render_cpus(const exporter *ex, expo_buf *b, const zeus_cpu_energy *cpu,
                        const bool *cpu_ok)
{
    expo_family(b, "zeus_cpu_package_energy_joules_total", "counter",
                "CPU package energy (RAPL) since the exporter started, wraparound counted.");
    for (unsigned c = 0; c < ex->cpu_count; c++)
        if (cpu_ok[c])
            expo_sample(b, "zeus_cpu_package_energy_joules_total", ex->cpus[c].labels,
                        (double)cpu[c].package_uj / 1e6);
    expo_family(b, "zeus_cpu_dram_energy_joules_total", "counter",
                "DRAM energy (RAPL) since the exporter started, wraparound counted.");
    for (unsigned c = 0; c < ex->cpu_count; c++)
        if (cpu_ok[c] && cpu[c].dram_valid)
            expo_sample(b, "zeus_cpu_dram_energy_joules_total", ex->cpus[c].labels,
                        (double)cpu[c].dram_uj / 1e6);
}

/* Every reading's failure count, per device. */
static void render_read_errors(const exporter *ex, expo_buf *b)
{
    expo_family(b, "zeus_exporter_read_errors_total", "counter",
                "Device readings that failed (the sample is left out of that poll).");
    for (unsigned g = 0; g < ex->gpu_count; g++)
        for (int k = 0; k < READ_KINDS; k++) {
            if ((k == READ_ENERGY && !ex->gpus[g].info.has_energy_counter) ||
                (k == READ_TEMPERATURE && !ex->gpus[g].has_temperature))
                continue;
            char labels[128], dev[32];
            snprintf(dev, sizeof dev, "gpu%u", g);
            const char *keys[] = {"device", "reading"}, *values[] = {dev, read_names[k]};
            expo_labels(labels, sizeof labels, 2, keys, values);
            expo_sample(b, "zeus_exporter_read_errors_total", labels,
                        (double)ex->gpus[g].errors[k]);
        }
    for (unsigned c = 0; c < ex->cpu_count; c++) {
        char labels[128], dev[32];
        snprintf(dev, sizeof dev, "cpu%u", c);
        const char *keys[] = {"device", "reading"}, *values[] = {dev, "energy"};
        expo_labels(labels, sizeof labels, 2, keys, values);
        expo_sample(b, "zeus_exporter_read_errors_total", labels, (double)ex->cpus[c].errors);
    }
}

/* The exporter's own metrics: polls, the latest poll's duration and time, the period, build. */
static void render_exporter(const exporter *ex, expo_buf *b, double poll_s)
{
    expo_family(b, "zeus_exporter_polls_total", "counter", "Device polls done.");
    expo_sample(b, "zeus_exporter_polls_total", "", (double)ex->polls);
    expo_family(b, "zeus_exporter_poll_duration_seconds", "gauge",
                "Time the latest poll of every device took.");
    expo_sample(b, "zeus_exporter_poll_duration_seconds", "", poll_s);
    expo_family(b, "zeus_exporter_last_poll_timestamp_seconds", "gauge",
                "Unix time of the latest poll.");
    expo_sample(b, "zeus_exporter_last_poll_timestamp_seconds", "", zeus_wall_s());
    expo_family(b, "zeus_exporter_poll_period_seconds", "gauge", "Configured polling period.");
    expo_sample(b, "zeus_exporter_poll_period_seconds", "", ex->period_s);
    char labels[128];
    const char *keys[] = {"version", "gpu_backend"};
    const char *backend = zeus_devices_gpu_backend(ex->devices);
    const char *values[] = {zeus_version(), backend ? backend : "none"};
    expo_labels(labels, sizeof labels, 2, keys, values);
    expo_family(b, "zeus_exporter_build_info", "gauge", "Always 1; the labels say what runs.");
    expo_sample(b, "zeus_exporter_build_info", labels, 1);
}

/* Feeds the GPUs' energy readings to the carbon tracker and renders its metrics. */
static void render_carbon(exporter *ex, expo_buf *b, const double value[][READ_KINDS],
                          const bool ok[][READ_KINDS])
{
    double joules[ZEUS_MAX_GPUS];
    bool have[ZEUS_MAX_GPUS];
    const char *labels[ZEUS_MAX_GPUS];
    for (unsigned g = 0; g < ex->gpu_count; g++) {
        joules[g] = value[g][READ_ENERGY];
        have[g] = ok[g][READ_ENERGY];
        labels[g] = ex->gpus[g].labels;
    }
    exp_carbon_update(ex->carbon, zeus_wall_s(), joules, have);
    exp_carbon_render(ex->carbon, b, labels);
}

/* Reads every device once and renders the metrics into b. Runs on the poller thread only (and
 * once before it starts), so the slots' error counters need no lock. */
static void poll_devices(exporter *ex, expo_buf *b)
{
    int64_t t0 = zeus_now_ns();
    double value[ZEUS_MAX_GPUS][READ_KINDS]; /* in the families' units: J, W, W, °C */
    bool ok[ZEUS_MAX_GPUS][READ_KINDS];
    read_gpus(ex, value, ok);
    zeus_cpu_energy cpu[ZEUS_MAX_CPUS];
    bool cpu_ok[ZEUS_MAX_CPUS];
    read_cpus(ex, cpu, cpu_ok);
    double poll_s = (double)(zeus_now_ns() - t0) / 1e9;
    ex->polls++;
    if (ex->carbon)
        render_carbon(ex, b, value, ok);

    gpu_family(ex, b, READ_ENERGY, value, ok);
    gpu_family(ex, b, READ_POWER, value, ok);
    gpu_family(ex, b, READ_LIMIT, value, ok);
    render_limit_ranges(ex, b);
    gpu_family(ex, b, READ_TEMPERATURE, value, ok);
    render_cpus(ex, b, cpu, cpu_ok);

    render_read_errors(ex, b);
    render_exporter(ex, b, poll_s);
}

/* Polls once and publishes the result. */
static void poll_and_publish(exporter *ex)
{
    expo_buf b = {0};
    poll_devices(ex, &b);
    if (b.failed) {
        if (!ex->quiet)
            fprintf(stderr, "zeus exporter: warning: out of memory rendering metrics\n");
        expo_free(&b);
        return;
    }
    pthread_mutex_lock(&ex->lock);
    free(ex->snapshot);
    ex->snapshot = b.text;
    ex->snapshot_len = b.len;
    pthread_mutex_unlock(&ex->lock);
}

static struct timespec add_ns(struct timespec t, int64_t ns)
{
    int64_t total = (int64_t)t.tv_nsec + ns % 1000000000;
    t.tv_sec += (time_t)(ns / 1000000000 + total / 1000000000);
    t.tv_nsec = (long)(total % 1000000000);
    return t;
}

/* Sleeps on absolute deadlines so the period does not drift with the time a poll takes; a
 * poll that overruns skips the missed deadlines instead of bunching up. */
static void *poller_main(void *arg)
{
    exporter *ex = arg;
    int64_t period_ns = (int64_t)(ex->period_s * 1e9);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        next = add_ns(next, period_ns);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        while (now.tv_sec > next.tv_sec ||
               (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = add_ns(next, period_ns);
        while (!ex->stopping && pthread_cond_timedwait(&ex->wake, &ex->lock, &next) != ETIMEDOUT) {
        }
        if (ex->stopping)
            break;
        pthread_mutex_unlock(&ex->lock);
        poll_and_publish(ex);
        pthread_mutex_lock(&ex->lock);
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    char *body = strdup(text);
    return body ? reply(conn, status, "text/plain; charset=utf-8", body, strlen(text)) : MHD_NO;
}

static enum MHD_Result metrics(exporter *ex, struct MHD_Connection *conn)
{
    int64_t t0 = zeus_now_ns();
    expo_buf b = {0};
    pthread_mutex_lock(&ex->lock);
    expo_append(&b, ex->snapshot ? ex->snapshot : "", ex->snapshot ? ex->snapshot_len : 0);
    unsigned long long scrapes = ex->scrapes;
    double sum = ex->scrape_seconds_sum;
    pthread_mutex_unlock(&ex->lock);
    /* This scrape's own time is in the next one: it is not known until its text is made. */
    expo_family(&b, "zeus_exporter_scrape_duration_seconds", "summary",
                "Time spent answering /metrics (earlier scrapes).");
    expo_sample(&b, "zeus_exporter_scrape_duration_seconds_sum", "", sum);
    expo_sample(&b, "zeus_exporter_scrape_duration_seconds_count", "", (double)scrapes);
    if (b.failed) {
        expo_free(&b);
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    size_t len = b.len;
    enum MHD_Result ret = reply(conn, MHD_HTTP_OK, EXPO_CONTENT_TYPE, b.text, len);
    double took = (double)(zeus_now_ns() - t0) / 1e9;
    pthread_mutex_lock(&ex->lock);
    ex->scrapes++;
    ex->scrape_seconds_sum += took;
    pthread_mutex_unlock(&ex->lock);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    exporter *ex = cls;
    zh_guard_busy(ex->guard, conn); /* its request is in: neither timed out nor evicted */
    if (*upload_data_size != 0) {   /* a body we do not read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/metrics") == 0)
        return metrics(cls, conn);
    if (strcmp(url, "/") == 0) {
        static const char page[] =
            "<html><head><title>Zeus exporter</title></head><body><h1>Zeus exporter</h1>"
            "<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";
        char *body = strdup(page);
        return body ? reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", body, sizeof page - 1)
                    : MHD_NO;
    }
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
}

/* The reply is sent: a kept-alive connection waits for its next request from now. */
static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode code)
{
    (void)con_cls;
    (void)code;
    exporter *ex = cls;
    zh_guard_idle(ex->guard, conn);
}

static void guard_warn(void *user, const char *message)
{
    const exporter *ex = user;
    if (!ex->quiet)
        fprintf(stderr, "zeus exporter: warning: %s\n", message);
}

/* 0.0.0.0 or [::]: every interface of the machine. */
static bool wildcard(const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET)
        return ((const struct sockaddr_in *)addr)->sin_addr.s_addr == htonl(INADDR_ANY);
    return addr->ss_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)addr)->sin6_addr);
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: zeus exporter [--listen HOST:PORT] [--period S] [--hostname NAME] [--once]\n"
        "                     [--dcgm-labels] [--quiet] [--max-connections N]\n"
        "                     [--connection-timeout-s N] [--request-timeout-s N]\n"
        "                     [--carbon [--location L] [--carbon-api URL]]\n\n"
        "Serve GPU energy, power and power limits (NVML, or the simulator) and CPU package\n"
        "and DRAM energy (RAPL) to Prometheus at http://HOST:PORT/metrics.\n\n"
        "options:\n"
        "  --listen HOST:PORT  address to serve on (default " DEFAULT_LISTEN "; [::1]:PORT for\n"
        "                      IPv6; 0.0.0.0:PORT for every interface; PORT 0 picks a free\n"
        "                      port). The address served is printed on standard error.\n"
        "  --period S          how often every device is read (default 1; scrapes return\n"
        "                      the latest reading and never wait on a device)\n"
        "  --hostname NAME     the hostname label (default: this machine's host name)\n"
        "  --dcgm-labels       name the labels as dcgm-exporter does (UUID, modelName,\n"
        "                      Hostname) so queries can join the two; default snake_case\n"
        "                      (uuid, model_name, hostname) as Prometheus recommends\n"
        "  --once              read every device once, print the metrics and exit (default:\n"
        "                      serve until SIGTERM or SIGINT)\n"
        "  --quiet             no startup line, no read warnings (default: both)\n"
        "  --max-connections N  open connections at most (default 64); at the cap a new\n"
        "                      one closes the connection that has waited longest for a\n"
        "                      request, so idle connections never starve a scrape\n"
        "  --connection-timeout-s N  close a kept-alive connection idle this long (default 10)\n"
        "  --request-timeout-s N     close a connection whose request has not arrived whole\n"
        "                      this long after it opened or its last reply (default 5)\n"
        "  --carbon            also the grid's carbon intensity and CO2eq per GPU\n"
        "                      (zeus_gpu_carbon_grams_total; docs/carbon.md; default off)\n"
        "  --location L        LAT,LON or an ElectricityMaps zone (default ZEUS_CARBON_LOCATION)\n"
        "  --carbon-api URL    the API's http:// or https:// base URL (https: libcurl4;\n"
        "                      default ZEUS_CARBON_API; none: the cache in\n"
        "                      ZEUS_CARBON_CACHE_DIR only)\n"
        "  -h, --help          show this help\n\n"
        "Metrics (docs/exporter.md): zeus_gpu_energy_joules_total, zeus_gpu_power_watts,\n"
        "zeus_gpu_power_limit{,_min,_max,_default}_watts,\n"
        "zeus_gpu_temperature_celsius, zeus_cpu_package_energy_joules_total,\n"
        "zeus_cpu_dram_energy_joules_total, zeus_exporter_*. GPU labels: gpu, uuid, model_name,\n"
        "hostname.\n"
        "Environment: ZEUS_DEVICE, ZEUS_NVML_LIBRARY, ZEUS_AMDSMI_LIBRARY, ZEUS_SIM_CONFIG,\n"
        "ZEUS_SYSFS_ROOT (see docs/devices.md). Every GPU is exported by its backend's index\n"
        "(NVML's; HIP's on AMD); CUDA_VISIBLE_DEVICES and HIP_VISIBLE_DEVICES are ignored.\n"
        "Exit codes: 0 stopped by SIGTERM/SIGINT (or --once done), 1 failure, 2 usage error.\n\n"
        "example:\n"
        "  zeus exporter --listen 0.0.0.0:9745 --period 0.5\n"
        "  zeus exporter --once --dcgm-labels\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "zeus exporter: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see zeus exporter --help)\n");
    return EXIT_USAGE;
}

/* Splits HOST:PORT ([v6]:PORT) and resolves it numerically or by name. */
static int resolve_listen(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || colon[1] == '\0')
        return -1;
    size_t hl = (size_t)(colon - text);
    const char *h = text;
    if (text[0] == '[') {
        if (colon[-1] != ']')
            return -1;
        h = text + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    long port;
    if (zeus_parse_long(colon + 1, &port) != ZEUS_OK || port < 0 || port > 65535)
        return -1;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char ports[16];
    snprintf(ports, sizeof ports, "%ld", port);
    if (getaddrinfo(host, ports, &hints, &res) != 0 || !res)
        return -1;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void make_labels(exporter *ex)
{
    for (unsigned g = 0; g < ex->gpu_count; g++) {
        gpu_slot *s = &ex->gpus[g];
        char index[16];
        snprintf(index, sizeof index, "%u", g);
        /* Prometheus wants snake_case label names; dcgm-exporter's are camelCase. */
        const char *keys[] = {"gpu", ex->dcgm_labels ? "UUID" : "uuid",
                              ex->dcgm_labels ? "modelName" : "model_name",
                              ex->dcgm_labels ? "Hostname" : "hostname"};
        const char *values[] = {index, s->info.uuid, s->info.name, ex->host};
        expo_labels(s->labels, sizeof s->labels, 4, keys, values);
    }
    for (unsigned c = 0; c < ex->cpu_count; c++) {
        cpu_slot *s = &ex->cpus[c];
        char index[16];
        snprintf(index, sizeof index, "%u", c);
        const char *keys[] = {"package", "name", ex->dcgm_labels ? "Hostname" : "hostname"};
        const char *values[] = {index, s->info.name, ex->host};
        expo_labels(s->labels, sizeof s->labels, 3, keys, values);
    }
}

static int open_devices(exporter *ex)
{
    /* A node exporter reports every GPU of the machine by its NVML index, as dcgm-exporter's
     * gpu label does, whatever CUDA_VISIBLE_DEVICES its environment happens to carry. */
    zeus_device_options o;
    zeus_device_options_init(&o);
    int rc = zeus_device_options_from_env(&o);
    o.physical_indices = true;
    if (rc == ZEUS_OK)
        rc = zeus_devices_open_with(&o, &ex->devices);
    if (rc != ZEUS_OK) {
        fprintf(stderr, "zeus exporter: error: %s: %s\n", zeus_strerror(rc), zeus_last_error());
        return 1;
    }
    ex->gpu_count = zeus_gpu_count(ex->devices);
    ex->cpu_count = zeus_cpu_count(ex->devices);
    if (ex->gpu_count > ZEUS_MAX_GPUS)
        ex->gpu_count = ZEUS_MAX_GPUS;
    if (ex->cpu_count > ZEUS_MAX_CPUS)
        ex->cpu_count = ZEUS_MAX_CPUS;
    for (unsigned g = 0; g < ex->gpu_count; g++) {
        if ((rc = zeus_gpu_get_info(ex->devices, g, &ex->gpus[g].info)) != ZEUS_OK)
            goto fail;
        /* Temperature is optional: a GPU or driver that cannot say is left out, not an error. */
        unsigned celsius;
        ex->gpus[g].has_temperature =
            zeus_gpu_temperature_c(ex->devices, g, &celsius) != ZEUS_ENOTSUP;
    }
    for (unsigned c = 0; c < ex->cpu_count; c++)
        if ((rc = zeus_cpu_get_info(ex->devices, c, &ex->cpus[c].info)) != ZEUS_OK)
            goto fail;
    make_labels(ex);
    return 0;
fail:
    fprintf(stderr, "zeus exporter: error: %s: %s\n", zeus_strerror(rc), zeus_last_error());
    return 1;
}

/* --carbon: the options, the environment's fallback, then the flags. */
static int open_carbon(exporter *ex, const char *location, const char *api)
{
    static zeus_carbon_api_options o;
    zeus_carbon_api_options_init(&o);
    o.timeout_s = 5; /* a lookup holds up one poll at most this long */
    if (zeus_carbon_api_options_env(&o) != ZEUS_OK) {
        fprintf(stderr, "zeus exporter: error: --carbon: %s\n", zeus_last_error());
        return -1;
    }
    if (location)
        o.location = location;
    if (api)
        o.api_url = api;
    if (!o.location) {
        fprintf(stderr, "zeus exporter: error: --carbon needs --location LAT,LON|ZONE or "
                        "ZEUS_CARBON_LOCATION\n");
        return -1;
    }
    ex->carbon = exp_carbon_new(&o, ex->gpu_count, ex->quiet);
    if (!ex->carbon) {
        fprintf(stderr, "zeus exporter: error: out of memory\n");
        return -1;
    }
    return 0;
}

static void log_to_stderr(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    fprintf(stderr, "zeus exporter: %s: %s\n", zeus_log_level_name(level), message);
}

#define KEEP_GOING (-1)

/* What the command line says beside the exporter's own settings. */
typedef struct {
    const char *listen, *location, *carbon_api;
    bool once, carbon;
} exporter_args;

/* The k-th of the whole-number settings --max-connections, --connection-timeout-s,
 * --request-timeout-s. */
static long *limit_value(exporter *ex, size_t k)
{
    long *values[] = {&ex->max_connections, &ex->connection_timeout_s, &ex->request_timeout_s};
    return values[k];
}

/* argv[*i] as one of the whole-number settings (its value taken, *i advanced); KEEP_GOING or
 * the exit status. */
static int take_limit(exporter *ex, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    bool has_value = *i + 1 < argc;
    static const struct {
        const char *flag;
        long min, max;
    } limits[] = {{"--max-connections", 1, 100000},
                  {"--connection-timeout-s", 1, 86400},
                  {"--request-timeout-s", 1, 86400}};
    size_t k = 0, n = sizeof limits / sizeof limits[0];
    while (k < n && strcmp(a, limits[k].flag) != 0)
        k++;
    if (k == n)
        return usage_error("unknown argument '%s'", a);
    const char *v = has_value ? argv[++*i] : NULL;
    if (!v)
        return usage_error("%s needs a value", a);
    long *value = limit_value(ex, k);
    if (zeus_parse_long(v, value) != ZEUS_OK || *value < limits[k].min || *value > limits[k].max) {
        fprintf(stderr,
                "zeus exporter: error: %s takes a whole number from %ld to %ld, "
                "not '%s'\n(see zeus exporter --help)\n",
                a, limits[k].min, limits[k].max, v);
        return EXIT_USAGE;
    }
    return KEEP_GOING;
}

/* The command line into ex's settings and args; KEEP_GOING, or the exit status (--help: 0). */
static int parse_args(int argc, char **argv, exporter *ex, exporter_args *args)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--once") == 0) {
            args->once = true;
        } else if (strcmp(a, "--quiet") == 0) {
            ex->quiet = true;
        } else if (strcmp(a, "--dcgm-labels") == 0) {
            ex->dcgm_labels = true;
        } else if (strcmp(a, "--carbon") == 0) {
            args->carbon = true;
        } else if ((strcmp(a, "--location") == 0 || strcmp(a, "--carbon-api") == 0) && has_value) {
            *(a[2] == 'l' ? &args->location : &args->carbon_api) = argv[++i];
        } else if (strcmp(a, "--listen") == 0 && has_value) {
            args->listen = argv[++i];
        } else if (strcmp(a, "--hostname") == 0 && has_value) {
            snprintf(ex->host, sizeof ex->host, "%s", argv[++i]);
        } else if (strcmp(a, "--period") == 0 && has_value) {
            const char *v = argv[++i];
            if (zeus_parse_double(v, &ex->period_s) != ZEUS_OK || !(ex->period_s >= 0.01) ||
                ex->period_s > 86400)
                return usage_error("--period takes seconds between 0.01 and 86400, not '%s'", v);
        } else if (strcmp(a, "--listen") == 0 || strcmp(a, "--hostname") == 0 ||
                   strcmp(a, "--period") == 0 || strcmp(a, "--location") == 0 ||
                   strcmp(a, "--carbon-api") == 0) {
            return usage_error("%s needs a value", a);
        } else {
            int rc = take_limit(ex, argc, argv, &i);
            if (rc != KEEP_GOING)
                return rc;
        }
    }
    return KEEP_GOING;
}

/* The watchdog and the HTTP server on addr; NULL (said why) when either cannot start. */
static struct MHD_Daemon *start_http(exporter *ex, const struct sockaddr_storage *addr,
                                     const char *listen)
{
    zh_guard_config gc = {.max_connections = (unsigned)ex->max_connections,
                          .request_timeout_ns = ex->request_timeout_s * 1000000000LL,
                          .evict = true,
                          .flag = "--max-connections",
                          .warn = guard_warn,
                          .user = ex};
    if (!(ex->guard = zh_guard_start(&gc))) {
        fprintf(stderr, "zeus exporter: error: cannot start the connection watchdog\n");
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* libmicrohttpd's own cap is above ours: evicted connections take a moment to close, and a
     * server at its cap would refuse new ones, scrapes included. */
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, ex, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)addr,
        MHD_OPTION_THREAD_POOL_SIZE, 4u, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)ex->max_connections * 2 + 64, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)ex->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, completed, ex,
        MHD_OPTION_NOTIFY_CONNECTION, zh_guard_notify, ex->guard, MHD_OPTION_END);
    if (!daemon)
        fprintf(stderr,
                "zeus exporter: error: cannot serve on %s (address in use, or not "
                "this machine's?)\n",
                listen);
    return daemon;
}

/* Where it serves, a warning for a wildcard address, and why a kind of device is missing. */
static void say_serving(const exporter *ex, struct MHD_Daemon *daemon,
                        const struct sockaddr_storage *addr, const char *listen)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    char host[256];
    const char *colon = strrchr(listen, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    fprintf(stderr,
            "zeus exporter: serving http://%s:%u/metrics (%u GPUs, %u CPU packages, "
            "every %g s)\n",
            host, info ? info->port : 0, ex->gpu_count, ex->cpu_count, ex->period_s);
    if (wildcard(addr))
        fprintf(stderr,
                "zeus exporter: warning: --listen %s serves on every network interface of "
                "this machine: anyone who reaches it can read the metrics (127.0.0.1:PORT "
                "serves this machine only)\n",
                listen);
    /* Why a kind of device is missing (no NVML, RAPL readable by root only, ...). */
    for (size_t i = 0; i < zeus_devices_backend_count(ex->devices); i++) {
        zeus_backend_status st;
        if (zeus_devices_backend(ex->devices, i, &st) == ZEUS_OK && !st.available &&
            !(st.kind == ZEUS_BACKEND_GPU && ex->gpu_count > 0))
            fprintf(stderr, "zeus exporter: note: %s unavailable: %s\n", st.name, st.reason);
    }
}

int main(int argc, char **argv)
{
    static exporter ex; /* large (device slots); one per process */
    ex.period_s = 1.0;
    ex.max_connections = 64;
    ex.connection_timeout_s = 10;
    ex.request_timeout_s = 5;
    if (gethostname(ex.host, sizeof ex.host) != 0)
        snprintf(ex.host, sizeof ex.host, "localhost");
    ex.host[sizeof ex.host - 1] = '\0';
    exporter_args args = {.listen = DEFAULT_LISTEN};
    int rc = parse_args(argc, argv, &ex, &args);
    if (rc != KEEP_GOING)
        return rc;
    const char *listen = args.listen, *location = args.location, *carbon_api = args.carbon_api;
    bool once = args.once, carbon = args.carbon;
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    if (!once && resolve_listen(listen, &addr, &addr_len) != 0)
        return usage_error("--listen takes HOST:PORT (e.g. 127.0.0.1:9745 or [::1]:9745), not '%s'",
                           listen);
    zeus_set_log_callback(log_to_stderr, NULL);
    if ((location || carbon_api) && !carbon)
        return usage_error("%s goes with --carbon", location ? "--location" : "--carbon-api");
    if (open_devices(&ex) != 0)
        return 1;
    if (carbon && open_carbon(&ex, location, carbon_api) != 0)
        return 1;

    int code = 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ex.wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&ex.lock, NULL);
    poll_and_publish(&ex); /* the first scrape already has readings */
    struct MHD_Daemon *daemon = NULL;
    bool poller_started = false;
    pthread_t poller;
    if (once) {
        if (ex.snapshot)
            fputs(ex.snapshot, stdout);
        code = ex.snapshot && fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
        goto done;
    }

    /* Signals are taken by sigwait below; threads started from here inherit the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&poller, NULL, poller_main, &ex) != 0) {
        fprintf(stderr, "zeus exporter: error: cannot start the poller thread\n");
        goto done;
    }
    poller_started = true;
    if (!(daemon = start_http(&ex, &addr, listen)))
        goto done;
    if (!ex.quiet)
        say_serving(&ex, daemon, &addr, listen);
    int sig = 0;
    sigwait(&stop, &sig);
    code = 0;
done:
    if (daemon)
        MHD_stop_daemon(daemon);
    zh_guard_stop(ex.guard);
    if (poller_started) {
        pthread_mutex_lock(&ex.lock);
        ex.stopping = true;
        pthread_cond_signal(&ex.wake);
        pthread_mutex_unlock(&ex.lock);
        pthread_join(poller, NULL);
    }
    free(ex.snapshot);
    exp_carbon_free(ex.carbon);
    pthread_cond_destroy(&ex.wake);
    pthread_mutex_destroy(&ex.lock);
    zeus_devices_close(ex.devices);
    return code;
}
