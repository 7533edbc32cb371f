/* The routes (docs/spec/zeusd-api.md §4-§6): request in, status and body out. The HTTP library
 * glue lives in http.c; this file does no socket I/O, so the fuzzer drives it directly. */
#include "zeusd.h"

#include "zeus/common.h"
#include "zeus/util.h"

#include <cjson/cJSON.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct zd_server {
    zd_config config;
    zeus_devices *devices;
    unsigned gpu_count, cpu_count;
    /* The id clients use for each CPU package: N of intel-rapl:N (spec §4.4). */
    unsigned cpu_ids[ZD_MAX_IDS];
    zd_leases *leases;
    zd_queue *queue;
    zd_pollers *pollers;
};

int zd_server_create(const zd_config *config, zeus_devices *devices, zd_server **out)
{
    zd_server *s = calloc(1, sizeof *s);
    if (!s)
        return ZEUS_ENOMEM;
    s->config = *config;
    s->devices = devices;
    bool gpus = config->group_on[ZD_GROUP_GPU_CONTROL] || config->group_on[ZD_GROUP_GPU_READ];
    s->gpu_count = gpus && devices ? zeus_gpu_count(devices) : 0;
    s->cpu_count = config->group_on[ZD_GROUP_CPU_READ] && devices ? zeus_cpu_count(devices) : 0;
    if (s->cpu_count > ZD_MAX_IDS)
        s->cpu_count = ZD_MAX_IDS;
    for (unsigned c = 0; c < s->cpu_count; c++)
        if (zeus_cpu_package_id(devices, c, &s->cpu_ids[c]) != 0)
            s->cpu_ids[c] = c;
    s->leases = zd_leases_create(devices);
    if (s->leases && s->gpu_count > 0)
        zd_leases_recover(s->leases);
    s->queue = s->leases ? zd_queue_create(s->leases, s->gpu_count) : NULL;
    s->pollers = zd_pollers_create(devices, config->gpu_poll_hz, config->cpu_poll_hz);
    if (!s->leases || !s->queue || !s->pollers) {
        zd_server_destroy(s);
        return ZEUS_ENOMEM;
    }
    *out = s;
    return 0;
}

void zd_server_destroy(zd_server *s)
{
    if (!s)
        return;
    zd_pollers_destroy(s->pollers);
    zd_queue_destroy(s->queue);
    zd_leases_destroy(s->leases);
    free(s);
}

const zd_config *zd_server_config(const zd_server *s)
{
    return &s->config;
}
zd_pollers *zd_server_pollers(zd_server *s)
{
    return s->pollers;
}
zeus_devices *zd_server_devices(zd_server *s)
{
    return s->devices;
}

void zd_response_free(zd_response *resp)
{
    free(resp->body);
    resp->body = NULL;
}

/* The newer daemon's texts by backend: NVML's, or AMD SMI's ("AMDSMI error", and its own 400
 * for what AMD GPUs cannot do, such as persistence mode). */
static void device_error(const zd_server *s, zd_errors *e, unsigned id, int rc, const char *detail)
{
    const char *backend = zeus_devices_gpu_backend(s->devices);
    bool amd = backend && strcmp(backend, "amdsmi") == 0;
    char msg[600];
    if (rc == ZEUS_ENOTSUP)
        snprintf(msg, sizeof msg, amd ? "Invalid request: %s" : "NVML error: Not Supported",
                 detail);
    else if (rc == ZEUS_ESTATE && strncmp(detail, "Invalid request: ", 17) == 0)
        snprintf(msg, sizeof msg, "%s", detail);
    else if (zd_status_of(rc) == 400 || zd_status_of(rc) == 409)
        snprintf(msg, sizeof msg, "Invalid request: %s", detail);
    else if (rc == ZEUS_EPERM)
        snprintf(msg, sizeof msg,
                 amd ? "AMDSMI error: %s" : "NVML error: Insufficient Permissions (%s)", detail);
    else
        snprintf(msg, sizeof msg, "IOError: %s", detail);
    zd_add_error(e, id, zd_status_of(rc), msg);
}

/* ---- Query fields (the framework's extractor in the original: text/plain 400s) ---- */

typedef enum { F_IDS, F_BOOL, F_U32 } zd_field_type;
typedef struct {
    const char *name;
    zd_field_type type;
    bool required;
} zd_field;

typedef struct {
    const char *text[8];
    bool b[8];
    unsigned u[8];
} zd_values;

static int read_fields(const zd_request *req, const zd_field *fields, size_t n, zd_values *v,
                       zd_response *r)
{
    memset(v, 0, sizeof *v);
    for (size_t a = 0; a < req->arg_count; a++) {
        size_t f;
        for (f = 0; f < n && strcmp(req->args[a].key, fields[f].name) != 0; f++)
            ;
        if (f == n) {
            char expected[256] = "";
            size_t len = 0;
            for (size_t i = 0; i < n && len < sizeof expected; i++)
                len += (size_t)snprintf(expected + len, sizeof expected - len, "%s`%s`",
                                        i ? ", " : "", fields[i].name);
            zd_reply(r, 400, "text/plain; charset=utf-8",
                     "Query deserialize error: unknown field `%.64s`, %s%s", req->args[a].key,
                     n ? "expected one of " : "there are no fields", expected);
            return -1;
        }
        if (v->text[f]) {
            zd_reply(r, 400, "text/plain; charset=utf-8",
                     "Query deserialize error: duplicate field `%s`", fields[f].name);
            return -1;
        }
        v->text[f] = req->args[a].value;
        const char *t = v->text[f];
        if (fields[f].type == F_BOOL && zd_parse_bool(t, &v->b[f]) != 0) {
            zd_reply(r, 400, "text/plain; charset=utf-8",
                     "Query deserialize error: provided string was not `true` or `false`");
            return -1;
        }
        if (fields[f].type == F_U32 && zd_parse_u32(t, &v->u[f]) != 0) {
            zd_reply(r, 400, "text/plain; charset=utf-8", "Query deserialize error: %s",
                     *t == '\0' ? "cannot parse integer from empty string"
                                : "invalid digit found in string or number too large to fit in "
                                  "target type");
            return -1;
        }
    }
    for (size_t f = 0; f < n; f++)
        if (fields[f].required && !v->text[f]) {
            zd_reply(r, 400, "text/plain; charset=utf-8",
                     "Query deserialize error: missing field `%s`", fields[f].name);
            return -1;
        }
    return 0;
}

/* Ids from an optional list: all devices when omitted. JSON 400s as the original. */
static int read_ids(const char *text, bool cpu, unsigned count, unsigned *ids, size_t *n,
                    zd_response *r)
{
    char err[160];
    if (!text) {
        *n = count > ZD_MAX_IDS ? ZD_MAX_IDS : count;
        for (size_t i = 0; i < *n; i++)
            ids[i] = (unsigned)i;
        return 0;
    }
    if (zd_parse_ids(text, cpu ? "CPU" : "GPU", cpu ? "cpu_ids" : "gpu_ids", ids, ZD_MAX_IDS, n,
                     err, sizeof err) != 0) {
        zd_reply_error(r, 400, err);
        return -1;
    }
    return 0;
}

/* read_ids for the read routes, which refuse an unknown id with a JSON 400. Gives libzeus
 * indices: a GPU's id is its index, a CPU's is its RAPL package number (cpu_ids). */
static int read_known_ids(const zd_server *s, const char *text, bool cpu, unsigned *ids, size_t *n,
                          zd_response *r)
{
    unsigned count = cpu ? s->cpu_count : s->gpu_count;
    if (read_ids(text, cpu, count, ids, n, r) != 0)
        return -1;
    if (!text)
        return 0; /* every device, by index */
    for (size_t i = 0; i < *n; i++) {
        unsigned index = ids[i];
        if (cpu)
            for (index = 0; index < count && s->cpu_ids[index] != ids[i]; index++)
                ;
        if (index >= count) {
            char msg[64];
            snprintf(msg, sizeof msg, "%s %u not found", cpu ? "CPU" : "GPU", ids[i]);
            zd_reply_error(r, 400, msg);
            return -1;
        }
        ids[i] = index;
    }
    return 0;
}

/* The id clients see for a device's libzeus index. */
static unsigned client_id(const zd_server *s, bool cpu, unsigned index)
{
    return cpu ? s->cpu_ids[index] : index;
}

static const char *user_name(uid_t uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, size, "%s", res->pw_name);
    else
        snprintf(buf, size, "uid %u", (unsigned)uid);
    return buf;
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *key_of(unsigned id, char *buf)
{
    sprintf(buf, "%u", id);
    return buf;
}

/* ---- GPU writes ---- */

typedef enum {
    W_PERSISTENCE,
    W_POWER_LIMIT,
    W_GPU_CLOCKS,
    W_RESET_GPU_CLOCKS,
    W_MEM_CLOCKS,
    W_RESET_MEM_CLOCKS,
    W_RESET_CLOCKS
} zd_write;

static bool id_matches(const zd_allow *list, size_t count, const zd_request *req);

/* force=true: root, or a peer --allow gpu-admin= names (never a TCP client). */
static bool admin_allowed(const zd_config *c, const zd_request *req)
{
    return req->has_peer && (req->uid == 0 || id_matches(c->admin, c->admin_count, req));
}

/* The route's body fields into fields (7 at most); returns how many, with the places of our own
 * persist and force fields. */
static size_t write_fields(zd_write op, zd_field *fields, size_t *persist_field,
                           size_t *force_field)
{
    fields[0] = (zd_field){"gpu_ids", F_IDS, true};
    fields[1] = (zd_field){"block", F_BOOL, true};
    size_t n = 2;
    switch (op) {
    case W_PERSISTENCE:
        fields[n++] = (zd_field){"enabled", F_BOOL, true};
        break;
    case W_POWER_LIMIT:
        fields[n++] = (zd_field){"power_limit_mw", F_U32, true};
        break;
    case W_GPU_CLOCKS:
    case W_MEM_CLOCKS:
        fields[n++] = (zd_field){"min_clock_mhz", F_U32, true};
        fields[n++] = (zd_field){"max_clock_mhz", F_U32, true};
        break;
    default:
        break;
    }
    /* Ours: make the change permanent (no lease); break another client's lease (root or
     * gpu-admin). */
    *persist_field = n;
    fields[n++] = (zd_field){"persist", F_BOOL, false};
    *force_field = n;
    fields[n++] = (zd_field){"force", F_BOOL, false};
    return n;
}

/* Who asks (requester->name) and how, for the log (who). */
static void describe_requester(const zd_request *req, bool leased, bool force,
                               zd_requester *requester, char *who, size_t size)
{
    if (req->has_peer) {
        char name[96];
        snprintf(requester->name, sizeof requester->name, "%s (uid %u, pid %ld)",
                 user_name(req->uid, name, sizeof name), (unsigned)req->uid, (long)req->pid);
        snprintf(who, size, "%s%s%s", requester->name, leased ? " [lease]" : " [permanent]",
                 force ? " [force]" : "");
    } else {
        snprintf(requester->name, sizeof requester->name, "a tcp client");
        snprintf(who, size, "tcp client [permanent]");
    }
}

/* The route's setting from the body's values, and those values for the log line. */
static zd_setting route_setting(zd_write op, const zd_values *v, char *values, size_t size)
{
    static const zd_knob knobs[] = {
        [W_PERSISTENCE] = ZD_SET_PERSISTENCE, [W_POWER_LIMIT] = ZD_SET_POWER_LIMIT,
        [W_GPU_CLOCKS] = ZD_SET_GPU_CLOCKS,   [W_RESET_GPU_CLOCKS] = ZD_RESET_GPU_CLOCKS,
        [W_MEM_CLOCKS] = ZD_SET_MEM_CLOCKS,   [W_RESET_MEM_CLOCKS] = ZD_RESET_MEM_CLOCKS,
        [W_RESET_CLOCKS] = ZD_RESET_CLOCKS};
    zd_setting setting = {knobs[op], 0, 0};
    values[0] = '\0';
    if (op == W_POWER_LIMIT) {
        setting.value = v->u[2];
        snprintf(values, size, " power_limit_mw=%u", v->u[2]);
    } else if (op == W_PERSISTENCE) {
        setting.value = v->b[2];
        snprintf(values, size, " enabled=%s", v->b[2] ? "true" : "false");
    } else if (op == W_GPU_CLOCKS || op == W_MEM_CLOCKS) {
        setting.value = v->u[2];
        setting.value_max = v->u[3];
        snprintf(values, size, " min_clock_mhz=%u max_clock_mhz=%u", v->u[2], v->u[3]);
    }
    return setting;
}

/* Queues one change per GPU (all sent first: different GPUs change in parallel), then waits for
 * them when blocking; failures go to errors. what: the change's log text before " gpu=". */
static void submit_changes(zd_server *s, const unsigned *ids, size_t count, const zd_change *proto,
                           const char *what, const char *values, const char *who, zd_errors *errors)
{
    zd_change *changes[ZD_MAX_IDS] = {0};
    for (size_t i = 0; i < count; i++) {
        zd_change *c = calloc(1, sizeof *c);
        if (!c) {
            zd_add_error(errors, ids[i], 500, "IOError: out of memory");
            continue;
        }
        *c = *proto;
        c->gpu = ids[i];
        snprintf(c->what, sizeof c->what, "%s gpu=%u%s by %s", what, ids[i], values, who);
        if (zd_queue_submit(s->queue, c) != 0) {
            free(c);
            zd_add_error(errors, ids[i], 500,
                         "Management task for this GPU unexpectedly terminated while handling the "
                         "request.");
            continue;
        }
        if (proto->blocking)
            changes[i] = c;
    }
    for (size_t i = 0; i < count; i++) {
        if (!changes[i])
            continue;
        zd_queue_wait(s->queue, changes[i]);
        if (changes[i]->rc != 0)
            device_error(s, errors, ids[i], changes[i]->rc, changes[i]->err);
        free(changes[i]);
    }
}

static void gpu_write(zd_server *s, const zd_request *req, zd_response *r, zd_write op)
{
    zd_field fields[7];
    size_t persist_field, force_field;
    size_t n = write_fields(op, fields, &persist_field, &force_field);
    zd_values v;
    if (read_fields(req, fields, n, &v, r) != 0)
        return;
    unsigned ids[ZD_MAX_IDS];
    size_t count;
    if (read_ids(v.text[0], false, s->gpu_count, ids, &count, r) != 0)
        return;
    for (size_t i = 0; i < count; i++)
        if (ids[i] >= s->gpu_count) {
            zd_reply(r, 400, "text/plain; charset=utf-8", "GPU index %u does not exist.", ids[i]);
            return;
        }
    bool block = v.b[1], persist = v.text[persist_field] && v.b[persist_field];
    bool force = v.text[force_field] && v.b[force_field];
    bool leased = req->has_peer && req->pid > 0 && !persist && !s->config.no_leases;
    zd_requester requester = {
        .pid = req->has_peer ? req->pid : 0, .uid = req->uid, .persist = !leased, .force = force};
    char who[192];
    describe_requester(req, leased, force, &requester, who, sizeof who);
    if (force && !admin_allowed(&s->config, req)) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "force=true (breaking another client's lease) is for root and the members of "
                 "--allow gpu-admin=...; %s is neither.",
                 requester.name);
        zd_log("WARN", "refused %s %s: %s", req->method, req->path, msg);
        zd_reply_error(r, 403, msg);
        return;
    }
    static const char *const names[] = {
        [W_PERSISTENCE] = "set_persistence_mode", [W_POWER_LIMIT] = "set_power_limit",
        [W_GPU_CLOCKS] = "set_gpu_locked_clocks", [W_RESET_GPU_CLOCKS] = "reset_gpu_locked_clocks",
        [W_MEM_CLOCKS] = "set_mem_locked_clocks", [W_RESET_MEM_CLOCKS] = "reset_mem_locked_clocks",
        [W_RESET_CLOCKS] = "reset_locked_clocks"};
    char values[96];
    zd_setting setting = route_setting(op, &v, values, sizeof values);
    zd_errors errors = {0};
    zd_change proto = {.setting = setting, .who = requester, .blocking = block};
    submit_changes(s, ids, count, &proto, names[op], values, who, &errors);
    if (!block) {
        /* Only a queueing failure is reported; what the worker meets is logged. */
        bool queue_failed = errors.status == 500;
        if (!queue_failed) {
            cJSON_Delete(errors.errors);
            errors.errors = NULL;
        }
    }
    if (!zd_reply_errors(r, &errors))
        zd_reply(r, 200, NULL, NULL);
}

/* ---- GPU reads ---- */

typedef enum { R_ENERGY, R_POWER, R_LIMIT, R_CONSTRAINTS, R_PERSISTENCE } zd_read;

static void gpu_read(zd_server *s, const zd_request *req, zd_response *r, zd_read op)
{
    const zd_field fields[] = {{"gpu_ids", F_IDS, false}};
    zd_values v;
    unsigned ids[ZD_MAX_IDS];
    size_t count;
    if (read_fields(req, fields, 1, &v, r) != 0 ||
        read_known_ids(s, v.text[0], false, ids, &count, r) != 0)
        return;
    zd_errors errors = {0};
    cJSON *out = cJSON_CreateObject();
    cJSON *map = op == R_POWER ? cJSON_CreateObject() : out;
    for (size_t i = 0; i < count; i++) {
        unsigned g = ids[i];
        char key[16];
        int rc;
        cJSON *item = cJSON_CreateObject();
        if (op == R_ENERGY) {
            uint64_t mj;
            rc = zeus_gpu_energy_mj(s->devices, g, &mj);
            cJSON_AddNumberToObject(item, "energy_mj", (double)mj);
        } else if (op == R_POWER) {
            unsigned mw;
            rc = zeus_gpu_power_mw(s->devices, g, &mw);
            cJSON_Delete(item);
            item = cJSON_CreateNumber(mw);
        } else if (op == R_LIMIT) {
            unsigned mw;
            rc = zeus_gpu_power_limit_mw(s->devices, g, &mw);
            cJSON_AddNumberToObject(item, "power_limit_mw", mw);
        } else if (op == R_CONSTRAINTS) {
            zeus_gpu_info info;
            rc = zeus_gpu_get_info(s->devices, g, &info);
            if (rc == 0 && !info.power_limit_valid)
                rc = ZEUS_ENOTSUP;
            cJSON_AddNumberToObject(item, "min_power_limit_mw", info.min_power_limit_mw);
            cJSON_AddNumberToObject(item, "max_power_limit_mw", info.max_power_limit_mw);
        } else {
            bool on = false;
            rc = zeus_gpu_persistence_mode(s->devices, g, &on);
            cJSON_AddBoolToObject(item, "enabled", on);
        }
        if (rc != 0) {
            device_error(s, &errors, g, rc, zeus_last_error());
            cJSON_Delete(item);
        } else {
            zd_add_item(map, key_of(g, key), item);
        }
    }
    if (op == R_POWER) {
        cJSON_AddNumberToObject(out, "timestamp_ms", (double)unix_ms());
        zd_add_item(out, "power_mw", map);
    }
    if (zd_reply_errors(r, &errors))
        cJSON_Delete(out);
    else
        zd_reply_json(r, out);
}

/* ---- CPUs ---- */

static void cpu_energy(zd_server *s, const zd_request *req, zd_response *r)
{
    const zd_field fields[] = {
        {"cpu", F_BOOL, true}, {"dram", F_BOOL, true}, {"cpu_ids", F_IDS, false}};
    zd_values v;
    unsigned ids[ZD_MAX_IDS];
    size_t count;
    if (read_fields(req, fields, 3, &v, r) != 0 ||
        read_known_ids(s, v.text[2], true, ids, &count, r) != 0)
        return;
    zd_errors errors = {0};
    cJSON *out = cJSON_CreateObject();
    for (size_t i = 0; i < count; i++) {
        zeus_cpu_energy e;
        int rc = zeus_cpu_read_energy(s->devices, ids[i], &e);
        if (rc != 0) {
            device_error(s, &errors, client_id(s, true, ids[i]), rc, zeus_last_error());
            continue;
        }
        cJSON *item = cJSON_CreateObject();
        if (v.b[0])
            cJSON_AddNumberToObject(item, "cpu_energy_uj", (double)e.package_uj);
        else
            cJSON_AddNullToObject(item, "cpu_energy_uj");
        if (v.b[1] && e.dram_valid)
            cJSON_AddNumberToObject(item, "dram_energy_uj", (double)e.dram_uj);
        else
            cJSON_AddNullToObject(item, "dram_energy_uj");
        char key[16];
        zd_add_item(out, key_of(client_id(s, true, ids[i]), key), item);
    }
    if (zd_reply_errors(r, &errors))
        cJSON_Delete(out);
    else
        zd_reply_json(r, out);
}

static void cpu_power(zd_server *s, const zd_request *req, zd_response *r)
{
    const zd_field fields[] = {{"cpu_ids", F_IDS, false}};
    zd_values v;
    unsigned ids[ZD_MAX_IDS];
    size_t count;
    if (read_fields(req, fields, 1, &v, r) != 0 ||
        read_known_ids(s, v.text[0], true, ids, &count, r) != 0)
        return;
    zeus_cpu_energy before[ZD_MAX_IDS], after[ZD_MAX_IDS];
    zd_errors errors = {0};
    bool failed[ZD_MAX_IDS] = {0};
    int64_t t0 = zeus_now_ns();
    for (size_t i = 0; i < count; i++)
        if (zeus_cpu_read_energy(s->devices, ids[i], &before[i]) != 0) {
            failed[i] = true;
            device_error(s, &errors, client_id(s, true, ids[i]), ZEUS_EIO, zeus_last_error());
        }
    unsigned hz = s->config.cpu_poll_hz ? s->config.cpu_poll_hz : 1;
    zeus_sleep_ns(1000000000LL / hz);
    for (size_t i = 0; i < count; i++)
        if (!failed[i] && zeus_cpu_read_energy(s->devices, ids[i], &after[i]) != 0) {
            failed[i] = true;
            device_error(s, &errors, client_id(s, true, ids[i]), ZEUS_EIO, zeus_last_error());
        }
    int64_t elapsed_us = (zeus_now_ns() - t0) / 1000;
    if (elapsed_us < 1)
        elapsed_us = 1;
    if (zd_reply_errors(r, &errors))
        return;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "timestamp_ms", (double)unix_ms());
    cJSON *map = cJSON_AddObjectToObject(out, "power_mw");
    for (size_t i = 0; i < count; i++) {
        cJSON *item = cJSON_CreateObject();
        uint64_t d = after[i].package_uj - before[i].package_uj;
        cJSON_AddNumberToObject(item, "cpu_mw", (double)(d * 1000u / (uint64_t)elapsed_us));
        if (after[i].dram_valid)
            cJSON_AddNumberToObject(
                item, "dram_mw",
                (double)((after[i].dram_uj - before[i].dram_uj) * 1000u / (uint64_t)elapsed_us));
        else
            cJSON_AddNullToObject(item, "dram_mw");
        char key[16];
        zd_add_item(map, key_of(client_id(s, true, ids[i]), key), item);
    }
    zd_reply_json(r, out);
}

static void stream_power(zd_server *s, const zd_request *req, zd_response *r, bool cpu)
{
    const zd_field fields[] = {{cpu ? "cpu_ids" : "gpu_ids", F_IDS, false}};
    zd_values v;
    unsigned count_all = cpu ? s->cpu_count : s->gpu_count;
    if (read_fields(req, fields, 1, &v, r) != 0 ||
        read_ids(v.text[0], cpu, count_all, r->ids, &r->id_count, r) != 0)
        return;
    char unknown[256] = "", avail[512] = "";
    size_t ul = 0, al = 0;
    for (size_t i = 0; v.text[0] && i < r->id_count; i++) {
        unsigned index;
        for (index = 0; index < count_all && client_id(s, cpu, index) != r->ids[i]; index++)
            ;
        if (index < count_all)
            r->ids[i] = index; /* the pollers are by libzeus index */
        else if (ul < sizeof unknown)
            ul += (size_t)snprintf(unknown + ul, sizeof unknown - ul, "%s%u", ul ? ", " : "",
                                   r->ids[i]);
    }
    if (ul > 0) {
        for (unsigned i = 0; i < count_all && al < sizeof avail; i++)
            al += (size_t)snprintf(avail + al, sizeof avail - al, "%s%u", i ? ", " : "",
                                   client_id(s, cpu, i));
        char msg[900];
        snprintf(msg, sizeof msg, "Unknown %s indices: [%s]. Available: [%s]", cpu ? "CPU" : "GPU",
                 unknown, avail);
        zd_reply_error(r, 400, msg);
        return;
    }
    r->status = 200;
    r->stream = true;
    r->stream_cpu = cpu;
    r->content_type = "text/event-stream";
}

/* ---- Always-available routes ---- */

static void discover(zd_server *s, zd_response *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *gpus = cJSON_AddArrayToObject(o, "gpus");
    for (unsigned g = 0; g < s->gpu_count; g++) {
        zeus_gpu_info info;
        if (zeus_gpu_get_info(s->devices, g, &info) != 0)
            continue;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "id", g);
        cJSON_AddStringToObject(item, "name", info.name);
        char pci[ZEUS_GPU_PCI_ADDRESS_LEN] = "";
        if (zeus_gpu_pci_address(s->devices, g, pci, sizeof pci) != 0)
            pci[0] = '\0'; /* unknown: the Python client needs the key for NVIDIA GPUs only */
        cJSON_AddStringToObject(item, "pci_address", pci);
        cJSON_AddBoolToObject(item, "cumulative_energy_available", info.has_energy_counter);
        zd_add_to_array(gpus, item);
    }
    cJSON *cpus = cJSON_AddArrayToObject(o, "cpus");
    for (unsigned c = 0; c < s->cpu_count; c++) {
        zeus_cpu_info info;
        if (zeus_cpu_get_info(s->devices, c, &info) != 0)
            continue;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "id", s->cpu_ids[c]);
        cJSON_AddBoolToObject(item, "dram_available", info.has_dram);
        zd_add_to_array(cpus, item);
    }
    cJSON *groups = cJSON_AddArrayToObject(o, "enabled_api_groups");
    for (size_t i = 0; i < s->config.enabled_count; i++)
        zd_add_to_array(groups, cJSON_CreateString(zd_group_name(s->config.enabled[i])));
    cJSON_AddBoolToObject(o, "auth_required", s->config.key != NULL);
    zd_reply_json(r, o);
}

/* ---- Access: groups, the allowlists (ours), tokens ---- */

static bool peer_allowed(const zd_config *c, zd_group g, const zd_request *req)
{
    if (!c->allow_set[g])
        return true;
    if (!req->has_peer)
        return false; /* TCP: no credentials to check */
    return req->uid == 0 || id_matches(c->allow[g], c->allow_count[g], req);
}

/* Whether the peer's uid, group or a supplementary group is in list. */
static bool id_matches(const zd_allow *list, size_t count, const zd_request *req)
{
    for (size_t i = 0; i < count; i++) {
        const zd_allow *a = &list[i];
        if (a->kind == ZD_ALLOW_UID && a->id == req->uid)
            return true;
        if (a->kind == ZD_ALLOW_GID) {
            if (a->id == req->gid)
                return true;
            for (size_t k = 0; k < req->group_count; k++)
                if (req->groups[k] == a->id)
                    return true;
        }
    }
    return false;
}

/* Returns false when the request was answered (refused). */
static bool check_access(zd_server *s, const zd_request *req, zd_group g, zd_claims *claims,
                         bool *authed, zd_response *r)
{
    const zd_config *c = &s->config;
    char msg[512];
    *authed = false;
    if (g != ZD_GROUP_NONE && !c->group_on[g]) {
        snprintf(msg, sizeof msg, "API group '%s' is not enabled on this server.",
                 zd_group_name(g));
        zd_reply_error(r, 404, msg);
        return false;
    }
    if (c->key && strcmp(req->path, "/discover") != 0 && strcmp(req->path, "/time") != 0) {
        if (!req->authorization || strncmp(req->authorization, "Bearer ", 7) != 0) {
            zd_log("WARN", "refused %s %s: no bearer token", req->method, req->path);
            zd_reply_error(r, 401,
                           "Authentication required. Provide an Authorization: Bearer "
                           "<token> header.");
            r->www_authenticate = true;
            return false;
        }
        char err[256];
        int rc = zd_token_verify(c->key, c->key_len, req->authorization + 7, (int64_t)time(NULL),
                                 claims, err, sizeof err);
        if (rc == -3) { /* not the client's fault */
            zd_reply_error(r, 500, "IOError: out of memory");
            return false;
        }
        if (rc != 0) {
            if (rc == -1)
                snprintf(msg, sizeof msg, "Token has expired.");
            else
                snprintf(msg, sizeof msg, "Invalid token: %s", err);
            zd_log("WARN", "refused %s %s: %s", req->method, req->path, msg);
            zd_reply_error(r, 401, msg);
            r->www_authenticate = true;
            return false;
        }
        if (g != ZD_GROUP_NONE && !claims->scope[g]) {
            snprintf(msg, sizeof msg,
                     "Token for user '%s' lacks required scope '%s'. Token scopes: [%s]",
                     claims->sub, zd_group_name(g), claims->scopes_text);
            zd_log("WARN", "refused %s %s: %s", req->method, req->path, msg);
            zd_reply_error(r, 403, msg);
            return false;
        }
        *authed = true;
    }
    if (g != ZD_GROUP_NONE && !peer_allowed(c, g, req)) {
        char who[96];
        if (req->has_peer)
            snprintf(msg, sizeof msg,
                     "User '%s' (uid %u) is not allowed to use API group '%s' on this server.",
                     user_name(req->uid, who, sizeof who), (unsigned)req->uid, zd_group_name(g));
        else
            snprintf(msg, sizeof msg,
                     "API group '%s' is limited to listed users on the Unix socket.",
                     zd_group_name(g));
        zd_log("WARN", "refused %s %s: %s", req->method, req->path, msg);
        zd_reply_error(r, 403, msg);
        return false;
    }
    return true;
}

/* ---- Routing ---- */

typedef enum { M_GET, M_POST } zd_method;
typedef enum {
    RT_DISCOVER,
    RT_TIME,
    RT_WHOAMI,
    RT_GPU_WRITE,
    RT_GPU_READ,
    RT_GPU_STREAM,
    RT_CPU_ENERGY,
    RT_CPU_POWER,
    RT_CPU_STREAM
} zd_route_kind;

static const struct {
    const char *path;
    zd_method method;
    zd_route_kind kind;
    int op;
} routes[] = {
    {"/discover", M_GET, RT_DISCOVER, 0},
    {"/time", M_GET, RT_TIME, 0},
    {"/auth/whoami", M_GET, RT_WHOAMI, 0},
    {"/gpu/set_persistence_mode", M_POST, RT_GPU_WRITE, W_PERSISTENCE},
    {"/gpu/set_power_limit", M_POST, RT_GPU_WRITE, W_POWER_LIMIT},
    {"/gpu/set_gpu_locked_clocks", M_POST, RT_GPU_WRITE, W_GPU_CLOCKS},
    {"/gpu/reset_gpu_locked_clocks", M_POST, RT_GPU_WRITE, W_RESET_GPU_CLOCKS},
    {"/gpu/set_mem_locked_clocks", M_POST, RT_GPU_WRITE, W_MEM_CLOCKS},
    {"/gpu/reset_mem_locked_clocks", M_POST, RT_GPU_WRITE, W_RESET_MEM_CLOCKS},
    {"/gpu/reset_locked_clocks", M_POST, RT_GPU_WRITE, W_RESET_CLOCKS},
    {"/gpu/get_cumulative_energy", M_GET, RT_GPU_READ, R_ENERGY},
    {"/gpu/get_power", M_GET, RT_GPU_READ, R_POWER},
    {"/gpu/get_power_limit", M_GET, RT_GPU_READ, R_LIMIT},
    {"/gpu/get_power_limit_constraints", M_GET, RT_GPU_READ, R_CONSTRAINTS},
    {"/gpu/get_persistence_mode", M_GET, RT_GPU_READ, R_PERSISTENCE},
    {"/gpu/stream_power", M_GET, RT_GPU_STREAM, 0},
    {"/cpu/get_cumulative_energy", M_GET, RT_CPU_ENERGY, 0},
    {"/cpu/get_power", M_GET, RT_CPU_POWER, 0},
    {"/cpu/stream_power", M_GET, RT_CPU_STREAM, 0},
};

static void handle(zd_server *s, const zd_request *req, zd_response *r);

/* The older route generation (legacy.c translates it into the current one). */
static bool legacy_route(zd_server *s, const zd_request *req, zd_response *r)
{
    zd_legacy l;
    char msg[160];
    int status = 0, t = zd_legacy_translate(req, &l, &status, msg, sizeof msg);
    if (t == 0)
        return false;
    if (t < 0) {
        zd_reply(r, status, status == 405 ? NULL : "text/plain; charset=utf-8",
                 status == 405 ? NULL : "%s", msg);
        return true;
    }
    if (l.dram_query) { /* {"dram_available": bool}: the CPU's entry of /discover */
        zd_claims claims;
        bool authed;
        if (!check_access(s, req, ZD_GROUP_CPU_READ, &claims, &authed, r))
            return true;
        unsigned index;
        zeus_cpu_info info;
        for (index = 0; index < s->cpu_count && s->cpu_ids[index] != l.id; index++)
            ;
        if (index >= s->cpu_count || zeus_cpu_get_info(s->devices, index, &info) != 0) {
            zd_reply_error(r, 400, "CPU not found");
            return true;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "dram_available", info.has_dram);
        zd_reply_json(r, o);
        return true;
    }
    handle(s, &l.req, r);
    if (l.cpu)
        zd_legacy_unwrap(r, l.id_text);
    return true;
}

void zd_handle(zd_server *s, const zd_request *req, zd_response *r)
{
    zd_json_track();
    handle(s, req, r);
    /* A body that could not be made (printing, formatting) or lost a part. */
    if (zd_json_out_of_memory() || (r->content_type && !r->body && !r->stream)) {
        free(r->body);
        r->status = 500;
        r->content_type = "application/json";
        r->stream = false;
        r->body = strdup("{\"error\":\"IOError: out of memory\"}"); /* NULL: an empty 500 */
    }
}

static void handle(zd_server *s, const zd_request *req, zd_response *r)
{
    memset(r, 0, sizeof *r);
    if (legacy_route(s, req, r))
        return;
    zd_group g = zd_path_group(req->path);
    zd_claims claims;
    bool authed;
    if (!check_access(s, req, g, &claims, &authed, r))
        return;
    if (strncmp(req->path, "/auth/", 6) == 0 && !s->config.key) {
        zd_reply_error(r, 404, "Authentication is not enabled on this server.");
        return;
    }
    size_t i;
    for (i = 0; i < sizeof routes / sizeof routes[0] && strcmp(routes[i].path, req->path); i++)
        ;
    if (i == sizeof routes / sizeof routes[0]) {
        zd_reply(r, 404, NULL, NULL);
        return;
    }
    const char *want = routes[i].method == M_GET ? "GET" : "POST";
    bool head = routes[i].method == M_GET && strcmp(req->method, "HEAD") == 0;
    if (strcmp(req->method, want) != 0 && !head) {
        zd_reply(r, 405, NULL, NULL);
        return;
    }
    switch (routes[i].kind) {
    case RT_DISCOVER:
        discover(s, r);
        break;
    case RT_TIME: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "timestamp_ms", (double)unix_ms());
        zd_reply_json(r, o);
        break;
    }
    case RT_WHOAMI: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "sub", claims.sub);
        zd_add_item(o, "scopes", cJSON_Parse(claims.scopes_json));
        if (claims.has_exp)
            cJSON_AddNumberToObject(o, "exp", (double)claims.exp);
        zd_reply_json(r, o);
        break;
    }
    case RT_GPU_WRITE:
        gpu_write(s, req, r, (zd_write)routes[i].op);
        break;
    case RT_GPU_READ:
        gpu_read(s, req, r, (zd_read)routes[i].op);
        break;
    case RT_GPU_STREAM:
        stream_power(s, req, r, false);
        break;
    case RT_CPU_ENERGY:
        cpu_energy(s, req, r);
        break;
    case RT_CPU_POWER:
        cpu_power(s, req, r);
        break;
    case RT_CPU_STREAM:
        stream_power(s, req, r, true);
        break;
    }
    if (authed && r->status < 300)
        zd_log("INFO", "%s %s by token user '%s'", req->method, req->path, claims.sub);
}
