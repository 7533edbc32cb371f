/* The older route generation of zeusd (zeus-ml up to 0.11.0.post1: ZeusdNVIDIAGPU,
 * ZeusdRAPLCPU): one device in the path and the arguments as a JSON body, e.g.
 * POST /gpu/{id}/set_power_limit {"power_limit_mw": ..., "block": true},
 * POST /cpu/{id}/get_index_energy {"cpu": true, "dram": true}, GET /cpu/{id}/supports_dram_energy.
 * Each is translated into the current route with the id and the body's members as query values
 * (docs/zeusd.md lists both generations), so leases, scopes, logging and errors are the same. */
#include "zeusd.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *old_name; /* after /gpu/{id}/ or /cpu/{id}/ */
    bool cpu;
    const char *path; /* the current route; NULL: supports_dram_energy (from /discover) */
    const char *method;
} legacy_routes[] = {
    {"set_power_limit", false, "/gpu/set_power_limit", "POST"},
    {"set_persistence_mode", false, "/gpu/set_persistence_mode", "POST"},
    {"set_persistent_mode", false, "/gpu/set_persistence_mode", "POST"}, /* zeusd 0.10 */
    {"set_gpu_locked_clocks", false, "/gpu/set_gpu_locked_clocks", "POST"},
    {"reset_gpu_locked_clocks", false, "/gpu/reset_gpu_locked_clocks", "POST"},
    {"set_mem_locked_clocks", false, "/gpu/set_mem_locked_clocks", "POST"},
    {"reset_mem_locked_clocks", false, "/gpu/reset_mem_locked_clocks", "POST"},
    {"get_index_energy", true, "/cpu/get_cumulative_energy", "POST"},
    {"supports_dram_energy", true, NULL, "GET"},
};
#define N_ROUTES (sizeof legacy_routes / sizeof legacy_routes[0])

static int bad(int *status, int code, char *msg, size_t size, const char *text, const char *field)
{
    *status = code;
    snprintf(msg, size, text, field);
    return -1;
}

int zd_legacy_translate(const zd_request *req, zd_legacy *l, int *status, char *msg, size_t size)
{
    char kind[4], name[40];
    int end = 0;
    memset(l, 0, sizeof *l);
    if (sscanf(req->path, "/%3[a-z]/%u/%39[a-z_]%n", kind, &l->id, name, &end) != 3 ||
        req->path[end] != '\0' || (strcmp(kind, "gpu") != 0 && strcmp(kind, "cpu") != 0))
        return 0;
    l->cpu = kind[0] == 'c';
    size_t i;
    for (i = 0; i < N_ROUTES; i++)
        if (legacy_routes[i].cpu == l->cpu && strcmp(legacy_routes[i].old_name, name) == 0)
            break;
    if (i == N_ROUTES)
        return 0;
    if (strcmp(req->method, legacy_routes[i].method) != 0)
        return bad(status, 405, msg, size, "%s", "");
    snprintf(l->id_text, sizeof l->id_text, "%u", l->id);
    l->dram_query = legacy_routes[i].path == NULL;
    l->args[0] = (zd_arg){l->cpu ? "cpu_ids" : "gpu_ids", l->id_text};
    size_t n = 1;
    if (!l->dram_query) {
        cJSON *body = req->body ? cJSON_Parse(req->body) : NULL, *m;
        if (!cJSON_IsObject(body)) {
            cJSON_Delete(body);
            return bad(status, 400, msg, size, "Json deserialize error: %s",
                       "the body must be a JSON object");
        }
        cJSON_ArrayForEach(m, body)
        {
            double v = m->valuedouble;
            if (n > ZD_LEGACY_MAX_ARGS || strlen(m->string) >= sizeof l->names[0]) {
                cJSON_Delete(body);
                return bad(status, 400, msg, size, "Json deserialize error: %s", "too many fields");
            }
            if (cJSON_IsBool(m))
                snprintf(l->values[n - 1], sizeof l->values[0], "%s",
                         cJSON_IsTrue(m) ? "true" : "false");
            else if (cJSON_IsNumber(m) && v >= 0 && v < 4294967296.0 &&
                     v == (double)(unsigned long long)v)
                snprintf(l->values[n - 1], sizeof l->values[0], "%llu", (unsigned long long)v);
            else {
                snprintf(l->names[0], sizeof l->names[0], "%s", m->string);
                cJSON_Delete(body);
                return bad(status, 400, msg, size,
                           "Json deserialize error: invalid value for field `%s`", l->names[0]);
            }
            snprintf(l->names[n - 1], sizeof l->names[0], "%s", m->string);
            l->args[n] = (zd_arg){l->names[n - 1], l->values[n - 1]};
            n++;
        }
        cJSON_Delete(body);
    }
    l->req = *req;
    l->req.path = l->dram_query ? "/discover" : legacy_routes[i].path;
    /* the CPU energy read is a GET now */
    l->req.method = l->cpu ? "GET" : "POST";
    l->req.args = l->args;
    l->req.arg_count = n;
    l->req.body = NULL;
    return 1;
}

void zd_legacy_unwrap(zd_response *r, const char *key)
{
    if (r->status != 200 || !r->body)
        return;
    cJSON *all = cJSON_Parse(r->body);
    cJSON *one = all ? cJSON_DetachItemFromObject(all, key) : NULL;
    char *text = one ? cJSON_PrintUnformatted(one) : NULL;
    if (text) {
        free(r->body);
        r->body = text;
    }
    cJSON_Delete(one);
    cJSON_Delete(all);
}
