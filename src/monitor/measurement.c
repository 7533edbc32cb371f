/* A window's result: accessors and the JSON form every face shares (see zeus/monitor.h). */
#include "core/internal.h"
#include "core/json.h"
#include "monitor/monitor_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *zeus_energy_method_name(zeus_energy_method method)
{
    static const char *const names[] = {"none", "counter", "sampled", "instant"};
    return (unsigned)method < ZEUS_ARRAY_LEN(names) ? names[method] : "?";
}

zeus_measurement *zeus_measurement_new(void)
{
    return calloc(1, sizeof(zeus_measurement));
}

void zeus_measurement_free(zeus_measurement *m)
{
    free(m);
}

void zeus__measurement_zero(zeus_measurement *m, const unsigned *gpus, unsigned gpu_count,
                            const unsigned *cpus, unsigned cpu_count)
{
    /* Only the entries in use: every reader stops at gpu_count / cpu_count, and clearing the
     * whole struct (room for 64 GPUs, 16 CPUs and 64 cross-checks) was a quarter of a 1-GPU
     * window pair's instructions (bench/window_instructions.sh). */
    memset(m, 0, offsetof(zeus_measurement, gpus)); /* the scalar fields before the arrays */
    m->gpu_count = gpu_count;
    memset(m->gpus, 0, gpu_count * sizeof m->gpus[0]);
    memset(m->checks, 0, gpu_count * sizeof m->checks[0]);
    for (unsigned i = 0; i < gpu_count; i++)
        m->gpus[i].index = gpus[i];
    m->cpu_count = cpu_count;
    memset(m->cpus, 0, cpu_count * sizeof m->cpus[0]);
    for (unsigned i = 0; i < cpu_count; i++)
        m->cpus[i].index = cpus[i];
}

void zeus__measurement_total(zeus_measurement *m)
{
    m->total_energy_j = 0.0;
    for (unsigned i = 0; i < m->gpu_count; i++)
        m->total_energy_j += m->gpus[i].energy_j;
}

zeus_cross_check_status zeus_measurement_gpu_cross_check(const zeus_measurement *m, unsigned i,
                                                         double *counter_j, double *sampled_j,
                                                         double *allowed_j)
{
    if (!m || i >= m->gpu_count)
        return ZEUS_CHECK_NONE;
    const zeus__gpu_check *c = &m->checks[i];
    if (counter_j)
        *counter_j = c->status != ZEUS_CHECK_NONE ? c->counter_j : NAN;
    if (sampled_j)
        *sampled_j = c->status != ZEUS_CHECK_NONE ? c->sampled_j : NAN;
    if (allowed_j)
        *allowed_j = c->status != ZEUS_CHECK_NONE ? c->allowed_j : NAN;
    return c->status;
}

double zeus_measurement_start_time_s(const zeus_measurement *m)
{
    return m->start_time_s;
}

double zeus_measurement_time_s(const zeus_measurement *m)
{
    return m->time_s;
}

double zeus_measurement_total_energy_j(const zeus_measurement *m)
{
    return m->total_energy_j;
}

bool zeus_measurement_cancelled(const zeus_measurement *m)
{
    return m->cancelled;
}

bool zeus_measurement_log_failed(const zeus_measurement *m)
{
    return m->log_failed;
}

unsigned zeus_measurement_gpu_count(const zeus_measurement *m)
{
    return m->gpu_count;
}

const zeus_gpu_measurement *zeus_measurement_gpu(const zeus_measurement *m, unsigned i)
{
    return i < m->gpu_count ? &m->gpus[i] : NULL;
}

unsigned zeus_measurement_cpu_count(const zeus_measurement *m)
{
    return m->cpu_count;
}

const zeus_cpu_measurement *zeus_measurement_cpu(const zeus_measurement *m, unsigned i)
{
    return i < m->cpu_count ? &m->cpus[i] : NULL;
}

double zeus_measurement_gpu_energy(const zeus_measurement *m, unsigned gpu)
{
    for (unsigned i = 0; i < m->gpu_count; i++)
        if (m->gpus[i].index == gpu)
            return m->gpus[i].energy_j;
    return NAN;
}

/* ---- JSON ---- */

/* Every add below says whether it was made: cJSON drops an item it could not allocate without
 * a word, and a JSON object with a field missing is worse than an error. */

/* A number that reads back exactly, or null when it is not one (unavailable). */
static bool add_number(cJSON *o, const char *key, double value)
{
    cJSON *v = zeus__json_double(value);
    if (cJSON_AddItemToObject(o, key, v))
        return true;
    cJSON_Delete(v);
    return false;
}

/* Takes item (NULL: a failed one) into array. */
static bool add_to_array(cJSON *array, cJSON *item)
{
    if (item && cJSON_AddItemToArray(array, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool add_check(cJSON *j, const zeus__gpu_check *c)
{
    cJSON *x = cJSON_AddObjectToObject(j, "cross_check");
    return x && cJSON_AddStringToObject(x, "status", zeus_cross_check_status_name(c->status)) &&
           add_number(x, "counter_j", c->counter_j) && add_number(x, "sampled_j", c->sampled_j) &&
           add_number(x, "allowed_j", c->allowed_j);
}

static cJSON *gpu_json(const zeus_gpu_measurement *g, const zeus__gpu_check *c)
{
    cJSON *j = cJSON_CreateObject();
    if (j && cJSON_AddNumberToObject(j, "index", g->index) &&
        add_number(j, "energy_j", g->energy_j) &&
        cJSON_AddStringToObject(j, "method", zeus_energy_method_name(g->method)) &&
        add_number(j, "update_period_s", g->update_period_s) &&
        cJSON_AddNumberToObject(j, "updates", g->updates) &&
        cJSON_AddBoolToObject(j, "below_resolution", g->below_resolution) &&
        add_number(j, "error_bound_j", g->error_bound_j) &&
        (!g->error || cJSON_AddStringToObject(j, "error", zeus_strerror(g->error))) &&
        (c->status == ZEUS_CHECK_NONE || add_check(j, c))) /* only with zeus_monitor_cross_check */
        return j;
    cJSON_Delete(j);
    return NULL;
}

static cJSON *cpu_json(const zeus_cpu_measurement *c)
{
    cJSON *j = cJSON_CreateObject();
    if (j && cJSON_AddNumberToObject(j, "index", c->index) &&
        add_number(j, "package_j", c->package_j) &&
        (!(c->dram_valid || c->error) ||
         add_number(j, "dram_j", c->dram_valid ? c->dram_j : NAN)) &&
        (!c->error || cJSON_AddStringToObject(j, "error", zeus_strerror(c->error))))
        return j;
    cJSON_Delete(j);
    return NULL;
}

int zeus_measurement_to_json(const zeus_measurement *m, char **out)
{
    *out = NULL;
    cJSON *o = cJSON_CreateObject(), *gpus = NULL, *cpus = NULL;
    bool ok =
        o && add_number(o, "start_time_s", m->start_time_s) && add_number(o, "time_s", m->time_s) &&
        add_number(o, "total_energy_j", m->total_energy_j) &&
        cJSON_AddBoolToObject(o, "cancelled", m->cancelled) &&
        (gpus = cJSON_AddArrayToObject(o, "gpus")) && (cpus = cJSON_AddArrayToObject(o, "cpus"));
    for (unsigned i = 0; ok && i < m->gpu_count; i++)
        ok = add_to_array(gpus, gpu_json(&m->gpus[i], &m->checks[i]));
    for (unsigned i = 0; ok && i < m->cpu_count; i++)
        ok = add_to_array(cpus, cpu_json(&m->cpus[i]));
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    /* cJSON allocates with malloc (no hooks installed), so zeus_free() can release it. */
    *out = text;
    return ZEUS_OK;
}
