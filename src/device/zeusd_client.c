/* The zeusd client backends (docs/zeusd.md, "Clients"): a GPU backend "zeusd" whose changes
 * (power limit, persistence mode) are carried out by a zeusd daemon, used as the knob backend
 * next to a local reading backend (nvml), and a CPU backend "zeusd-rapl" that reads RAPL through
 * the daemon (reading RAPL needs root since Linux 5.10). Chosen by the options'
 * zeusd_socket_path or zeusd_host_port (ZEUSD_SOCK_PATH, ZEUSD_HOST_PORT, ZEUSD_TOKEN).
 *
 * The transport is the public zeusd client (zeus/zeusd_client.h, zeusd_http.c) over libzeus's
 * one HTTP/1.1 client (core/http_client.h); this file maps the daemon's routes and statuses to
 * the backend operations. */
#include "core/json.h"
#include "core/internal.h"
#include "device/backend.h"
#include "zeus/zeusd_client.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define ZEUSD_MAX_DEVICES 64

typedef struct {
    zeus_zeusd_client *client;
    const char *where; /* "zeusd at ...", for messages */
    bool token;
    unsigned count;
    char names[ZEUSD_MAX_DEVICES][96];
    bool dram[ZEUSD_MAX_DEVICES];
    unsigned ids[ZEUSD_MAX_DEVICES];         /* the daemon's id of each device */
    zeus_cpu_energy base[ZEUSD_MAX_DEVICES]; /* the daemon's counters at open */
} zeusd_state;

/* The client of the options' daemon (zeus/zeusd_client.h). */
static int client_from_options(const zeus_device_options *o, zeusd_state *s, char *reason,
                               size_t reason_size)
{
    bool sock = o->zeusd_socket_path && *o->zeusd_socket_path;
    if (!sock && !(o->zeusd_host_port && *o->zeusd_host_port)) {
        snprintf(reason, reason_size, "no daemon (set ZEUSD_SOCK_PATH or ZEUSD_HOST_PORT)");
        return ZEUS_ENODEV;
    }
    zeus_zeusd_client_options co;
    zeus_zeusd_client_options_init(&co);
    co.socket_path = sock ? o->zeusd_socket_path : NULL;
    co.host_port = sock ? NULL : o->zeusd_host_port;
    co.token = o->zeusd_token;
    int rc = zeus_zeusd_client_open(&co, &s->client);
    if (rc != ZEUS_OK) {
        snprintf(reason, reason_size, "%s", zeus_last_error());
        return rc;
    }
    s->where = zeus_zeusd_client_name(s->client);
    s->token = o->zeusd_token && *o->zeusd_token;
    return ZEUS_OK;
}

/* The ZEUS_E* code for a refused request. */
static int code_of_status(int status)
{
    switch (status) {
    case 400:
        return ZEUS_EINVAL;
    case 401:
    case 403:
        return ZEUS_EPERM;
    case 404:
        return ZEUS_ENOTSUP; /* the API group is not enabled */
    case 409:
        return ZEUS_ETIMEOUT; /* another client holds the GPU, as a held lock */
    default:
        return ZEUS_EIO;
    }
}

/* One request. On 200, *json gets the parsed body (NULL when empty). Anything else is an error
 * with the daemon's words in zeus_last_error(). */
static int request(const zeusd_state *s, const char *method, const char *target, cJSON **json)
{
    if (json)
        *json = NULL;
    zeus_zeusd_reply reply;
    int rc = zeus_zeusd_request(s->client, method, target, NULL, NULL, 0, &reply);
    if (rc != ZEUS_OK)
        return rc;
    if (reply.status != 200) {
        rc = zeus__error(code_of_status(reply.status), "%s refused %s %s: %d %.400s", s->where,
                         method, target, reply.status, reply.body);
    } else if (json && reply.body_len > 0) {
        int error;
        *json = zeus__json_parse(reply.body, false, &error, NULL);
        if (!*json)
            rc = error == ZEUS_ENOMEM ? error
                                      : zeus__error(ZEUS_EPARSE, "%s: %s %s: the reply is not JSON",
                                                    s->where, method, target);
    }
    zeus_zeusd_reply_free(&reply);
    return rc;
}

/* /discover: the devices of one kind, and whether group is enabled. */
static int discover(zeusd_state *s, bool cpu, char *reason, size_t reason_size)
{
    cJSON *d = NULL;
    int rc = request(s, "GET", "/discover", &d);
    if (rc != ZEUS_OK) {
        snprintf(reason, reason_size, "%s", zeus_last_error());
        return rc;
    }
    const char *group = cpu ? "cpu-read" : "gpu-control";
    bool enabled = false;
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(d, "enabled_api_groups")) enabled |=
        cJSON_IsString(g) && strcmp(g->valuestring, group) == 0;
    if (!enabled) {
        snprintf(reason, reason_size, "%s does not enable %s", s->where, group);
        cJSON_Delete(d);
        return ZEUS_ENOTSUP;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "auth_required")) && !s->token) {
        snprintf(reason, reason_size, "%s requires a token (set ZEUSD_TOKEN)", s->where);
        cJSON_Delete(d);
        return ZEUS_EPERM;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(d, cpu ? "cpus" : "gpus"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        /* GPU ids are 0..N-1 in order (stop at a gap rather than misnumber); CPU ids are RAPL
         * package numbers, increasing, with gaps where the node has them. */
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e6 ||
            (!cpu && id->valuedouble != s->count) ||
            (cpu && s->count > 0 && id->valuedouble <= s->ids[s->count - 1]) ||
            s->count == ZEUSD_MAX_DEVICES)
            break;
        s->ids[s->count] = (unsigned)id->valuedouble;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (cJSON_IsString(name))
            snprintf(s->names[s->count], sizeof s->names[0], "%s", name->valuestring);
        s->dram[s->count] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "dram_available"));
        s->count++;
    }
    cJSON_Delete(d);
    snprintf(reason, reason_size, "%s (%u %s)", s->where, s->count, cpu ? "CPUs" : "GPUs");
    return ZEUS_OK;
}

static int open_common(void **state, const zeus_device_options *o, bool cpu, char *reason,
                       size_t reason_size)
{
    zeusd_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(reason, reason_size, "out of memory");
        return ZEUS_ENOMEM;
    }
    int rc = client_from_options(o, s, reason, reason_size);
    if (rc == ZEUS_OK)
        rc = discover(s, cpu, reason, reason_size);
    if (rc != ZEUS_OK) {
        zeus_zeusd_client_close(s->client);
        free(s);
        return rc;
    }
    *state = s;
    return ZEUS_OK;
}

static void zeusd_close(void *state)
{
    zeusd_state *s = state;
    if (s)
        zeus_zeusd_client_close(s->client);
    free(s);
}

static unsigned zeusd_count(void *state)
{
    return ((zeusd_state *)state)->count;
}

/* ---- GPUs ---- */

static int gpu_open(void **state, const zeus_device_options *o, char *reason, size_t size)
{
    return open_common(state, o, false, reason, size);
}

static int gpu_info(void *state, unsigned dev, zeus_gpu_info *out)
{
    zeusd_state *s = state;
    memset(out, 0, sizeof *out);
    out->index = out->device_index = dev;
    snprintf(out->name, sizeof out->name, "%s", s->names[dev]);
    out->arch = ZEUS_ARCH_UNKNOWN;
    return ZEUS_OK;
}

/* GET route?gpu_ids=dev, then reply[outer][inner], where the GPU's id stands for a NULL key:
 * the read routes answer {"<id>": {field: ...}}, get_power {"power_mw": {"<id>": ...}}. */
static int read_gpu_value(zeusd_state *s, const char *route, unsigned dev, const char *outer,
                          const char *inner, double *out)
{
    char target[160];
    snprintf(target, sizeof target, "%s?gpu_ids=%u", route, dev);
    cJSON *j;
    int rc = request(s, "GET", target, &j);
    if (rc != ZEUS_OK)
        return rc;
    char key[16];
    snprintf(key, sizeof key, "%u", dev);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, outer ? outer : key), inner ? inner : key);
    if (cJSON_IsNumber(v))
        *out = v->valuedouble;
    else if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else
        rc = zeus__error(ZEUS_EPARSE, "%s: %s: no %s for GPU %u", s->where, route,
                         outer ? outer : inner, dev);
    cJSON_Delete(j);
    return rc;
}

/* The number at reply[dev][field]. */
static int read_number(zeusd_state *s, const char *route, unsigned dev, const char *field,
                       double *out)
{
    return read_gpu_value(s, route, dev, NULL, field, out);
}

static int gpu_energy_mj(void *state, unsigned dev, uint64_t *energy_mj)
{
    double v = 0;
    int rc = read_number(state, "/gpu/get_cumulative_energy", dev, "energy_mj", &v);
    if (rc == ZEUS_OK)
        *energy_mj = (uint64_t)v;
    return rc;
}

static int gpu_power(void *state, unsigned dev, zeus_gpu_power *out)
{
    double mw = 0;
    int rc = read_gpu_value(state, "/gpu/get_power", dev, "power_mw", NULL, &mw);
    memset(out, 0, sizeof *out);
    if (rc == ZEUS_OK) {
        out->instant_valid = true;
        out->instant_mw = out->usage_mw = (unsigned)mw;
    }
    return rc;
}

static int gpu_power_limit_mw(void *state, unsigned dev, unsigned *limit_mw)
{
    double v = 0;
    int rc = read_number(state, "/gpu/get_power_limit", dev, "power_limit_mw", &v);
    if (rc == ZEUS_OK)
        *limit_mw = (unsigned)v;
    return rc;
}

static int gpu_persistence(void *state, unsigned dev, bool *enabled)
{
    double v = 0;
    int rc = read_number(state, "/gpu/get_persistence_mode", dev, "enabled", &v);
    if (rc == ZEUS_OK)
        *enabled = v != 0;
    return rc;
}

/* extra: "&persist=true" (the daemon keeps the setting and drops its lease for this process)
 * or "&force=true" (it breaks another client's lease: root or gpu-admin only). */
static int set_power_limit(void *state, unsigned dev, unsigned limit_mw, const char *extra)
{
    char target[192];
    snprintf(target, sizeof target,
             "/gpu/set_power_limit?gpu_ids=%u&power_limit_mw=%u&block=true%s", dev, limit_mw,
             extra);
    return request(state, "POST", target, NULL);
}

static int gpu_set_power_limit_mw(void *state, unsigned dev, unsigned limit_mw)
{
    return set_power_limit(state, dev, limit_mw, "");
}

static int gpu_keep_power_limit_mw(void *state, unsigned dev, unsigned limit_mw)
{
    return set_power_limit(state, dev, limit_mw, "&persist=true");
}

/* The daemon leases, locks and journals the changes it carries out for this process. */
static bool gpu_settings_private(void *state)
{
    (void)state;
    return true;
}

static int gpu_force_power_limit_mw(void *state, unsigned dev, unsigned limit_mw)
{
    return set_power_limit(state, dev, limit_mw, "&force=true");
}

static int gpu_set_persistence(void *state, unsigned dev, bool enabled)
{
    char target[160];
    snprintf(target, sizeof target, "/gpu/set_persistence_mode?gpu_ids=%u&enabled=%s&block=true",
             dev, enabled ? "true" : "false");
    return request(state, "POST", target, NULL);
}

/* The daemon's routes for one clock domain, as the newer Zeus's client sends them. */
static const char *clock_route(zeus_clock_domain domain, bool set)
{
    if (domain == ZEUS_CLOCK_GPU)
        return set ? "set_gpu_locked_clocks" : "reset_gpu_locked_clocks";
    return set ? "set_mem_locked_clocks" : "reset_mem_locked_clocks";
}

/* persist=true as for set_power_limit. */
static int set_clocks(void *state, unsigned dev, zeus_clock_domain domain, unsigned min_mhz,
                      unsigned max_mhz, bool persist)
{
    char target[192];
    snprintf(target, sizeof target,
             "/gpu/%s?gpu_ids=%u&min_clock_mhz=%u&max_clock_mhz=%u&block=true%s",
             clock_route(domain, true), dev, min_mhz, max_mhz, persist ? "&persist=true" : "");
    return request(state, "POST", target, NULL);
}

static int gpu_set_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                 unsigned min_mhz, unsigned max_mhz)
{
    return set_clocks(state, dev, domain, min_mhz, max_mhz, false);
}

static int gpu_keep_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain,
                                  unsigned min_mhz, unsigned max_mhz)
{
    return set_clocks(state, dev, domain, min_mhz, max_mhz, true);
}

static int gpu_reset_locked_clocks(void *state, unsigned dev, zeus_clock_domain domain)
{
    char target[160];
    snprintf(target, sizeof target, "/gpu/%s?gpu_ids=%u&block=true", clock_route(domain, false),
             dev);
    return request(state, "POST", target, NULL);
}

const zeus_backend_ops zeus__zeusd_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "zeusd",
    .kind = ZEUS_BACKEND_GPU,
    .open = gpu_open,
    .close = zeusd_close,
    .count = zeusd_count,
    .gpu_info = gpu_info,
    .gpu_energy_mj = gpu_energy_mj,
    .gpu_power = gpu_power,
    .gpu_power_limit_mw = gpu_power_limit_mw,
    .gpu_set_power_limit_mw = gpu_set_power_limit_mw,
    .gpu_set_persistence = gpu_set_persistence,
    .gpu_persistence = gpu_persistence,
    .gpu_keep_power_limit_mw = gpu_keep_power_limit_mw,
    .gpu_force_power_limit_mw = gpu_force_power_limit_mw,
    .gpu_settings_private = gpu_settings_private,
    .gpu_set_locked_clocks = gpu_set_locked_clocks,
    .gpu_reset_locked_clocks = gpu_reset_locked_clocks,
    .gpu_keep_locked_clocks = gpu_keep_locked_clocks,
};

/* ---- CPU packages ---- */

static int cpu_read(zeusd_state *s, unsigned dev, zeus_cpu_energy *out)
{
    char target[96];
    snprintf(target, sizeof target, "/cpu/get_cumulative_energy?cpu=true&dram=true&cpu_ids=%u",
             s->ids[dev]);
    cJSON *j;
    int rc = request(s, "GET", target, &j);
    if (rc != ZEUS_OK)
        return rc;
    char key[16];
    snprintf(key, sizeof key, "%u", s->ids[dev]);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, key);
    const cJSON *pkg = cJSON_GetObjectItemCaseSensitive(e, "cpu_energy_uj");
    const cJSON *dram = cJSON_GetObjectItemCaseSensitive(e, "dram_energy_uj");
    memset(out, 0, sizeof *out);
    if (!cJSON_IsNumber(pkg) || (s->dram[dev] && !cJSON_IsNumber(dram))) {
        rc = zeus__error(ZEUS_EPARSE, "%s: no energy for CPU %u", s->where, dev);
    } else {
        out->package_uj = (uint64_t)pkg->valuedouble;
        out->dram_valid = cJSON_IsNumber(dram);
        out->dram_uj = out->dram_valid ? (uint64_t)dram->valuedouble : 0;
    }
    cJSON_Delete(j);
    return rc;
}

static int cpu_open(void **state, const zeus_device_options *o, char *reason, size_t size)
{
    int rc = open_common(state, o, true, reason, size);
    if (rc != ZEUS_OK)
        return rc;
    zeusd_state *s = *state;
    for (unsigned i = 0; i < s->count; i++)
        if ((rc = cpu_read(s, i, &s->base[i])) != ZEUS_OK) {
            snprintf(reason, size, "%s", zeus_last_error());
            zeusd_close(s);
            *state = NULL;
            return rc;
        }
    return ZEUS_OK;
}

static int cpu_info(void *state, unsigned dev, zeus_cpu_info *out)
{
    zeusd_state *s = state;
    memset(out, 0, sizeof *out);
    out->index = dev;
    snprintf(out->name, sizeof out->name, "package-%u", s->ids[dev]);
    out->has_dram = s->dram[dev];
    return ZEUS_OK;
}

/* Energy since open, as the local backend counts it (the daemon's counters are wrap-corrected
 * and count from its own start). */
static int cpu_energy(void *state, unsigned dev, zeus_cpu_energy *out)
{
    zeusd_state *s = state;
    int rc = cpu_read(s, dev, out);
    if (rc != ZEUS_OK)
        return rc;
    out->package_uj -= out->package_uj >= s->base[dev].package_uj ? s->base[dev].package_uj : 0;
    if (out->dram_valid)
        out->dram_uj -= out->dram_uj >= s->base[dev].dram_uj ? s->base[dev].dram_uj : 0;
    return ZEUS_OK;
}

static int cpu_package_id(void *state, unsigned dev, unsigned *id)
{
    *id = ((zeusd_state *)state)->ids[dev];
    return ZEUS_OK;
}

const zeus_backend_ops zeus__zeusd_rapl_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "zeusd-rapl",
    .kind = ZEUS_BACKEND_CPU,
    .open = cpu_open,
    .close = zeusd_close,
    .count = zeusd_count,
    .cpu_info = cpu_info,
    .cpu_energy = cpu_energy,
    .cpu_package_id = cpu_package_id,
};
