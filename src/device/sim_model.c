/* The simulated GPU model and its JSON configuration (see sim_model.h). */
#include "device/sim_model.h"
#include "core/json.h"
#include "core/internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- model ---- */

static double capped_power_w(const zeus_sim_gpu *g)
{
    double limit_w = g->limit_mw / 1000.0;
    return limit_w < g->p.busy_w ? limit_w : g->p.busy_w;
}

unsigned zeus__sim_supported_clocks(const zeus_sim_gpu_params *p, zeus_clock_domain domain,
                                    unsigned *out, unsigned cap)
{
    if (domain == ZEUS_CLOCK_MEMORY) {
        for (unsigned i = 0; i < p->memory_clock_count && i < cap; i++)
            out[i] = p->memory_clocks_mhz[i];
        return p->memory_clock_count;
    }
    unsigned n = 0;
    for (long f = p->sm_clock_max_mhz; f >= (long)p->sm_clock_min_mhz;
         f -= p->sm_clock_step_mhz ? p->sm_clock_step_mhz : 1, n++)
        if (n < cap)
            out[n] = (unsigned)f;
    return n;
}

/* The locked SM clock as a fraction of the maximum (1 when not locked). */
static double locked_ratio(const zeus_sim_gpu *g)
{
    const zeus_sim_clocks *l = &g->locked[ZEUS_CLOCK_GPU];
    unsigned fmax = g->p.sm_clock_max_mhz;
    if (!l->max_mhz || !fmax || l->max_mhz >= fmax)
        return 1.0;
    unsigned step = g->p.sm_clock_step_mhz ? g->p.sm_clock_step_mhz : 1;
    unsigned f = l->max_mhz <= g->p.sm_clock_min_mhz
                     ? g->p.sm_clock_min_mhz
                     : fmax - ((fmax - l->max_mhz + step - 1) / step) * step;
    return (double)f / fmax;
}

/* The clock ratio the power limit allows: dynamic power scales with its cube. */
static double limit_ratio(const zeus_sim_gpu *g)
{
    double headroom = g->p.busy_w - g->p.static_w;
    double dynamic = capped_power_w(g) - g->p.static_w;
    if (dynamic < headroom * 0.01) /* a limit at or below static power: crawl, don't divide by 0 */
        dynamic = headroom * 0.01;
    return cbrt(dynamic / headroom);
}

double zeus__sim_gpu_sm_clock_mhz(const zeus_sim_gpu *g)
{
    double lock = locked_ratio(g), limit = limit_ratio(g);
    return g->p.sm_clock_max_mhz * (lock < limit ? lock : limit);
}

double zeus__sim_gpu_busy_power_w(const zeus_sim_gpu *g)
{
    double lock = locked_ratio(g);
    if (lock >= limit_ratio(g))
        return capped_power_w(g);
    return g->p.static_w + (g->p.busy_w - g->p.static_w) * lock * lock * lock;
}

double zeus__sim_gpu_step_time_s(const zeus_sim_gpu *g)
{
    double lock = locked_ratio(g), limit = limit_ratio(g);
    double r = lock < limit ? lock : limit;
    double c = g->p.compute_fraction;
    return g->p.step_time_s * ((1.0 - c) + c / r);
}

void zeus__sim_gpu_set_locked(zeus_sim_gpu *g, zeus_clock_domain domain, zeus_sim_clocks clocks,
                              int64_t now_ns)
{
    zeus__sim_gpu_advance(g, now_ns);
    g->locked[domain] = clocks;
}

double zeus__sim_gpu_background_power_w(const zeus_sim_gpu *g)
{
    return g->p.idle_w + g->p.load * (zeus__sim_gpu_busy_power_w(g) - g->p.idle_w);
}

/* Exact energy (µJ) drawn in [a, b], given the queued busy interval. */
static double integrate_uj(const zeus_sim_gpu *g, int64_t a, int64_t b)
{
    if (b <= a)
        return 0.0;
    double base = zeus__sim_gpu_background_power_w(g);
    double e = base * (double)(b - a) * 1e-3; /* W * ns = 1e-3 µJ */
    int64_t lo = a > g->busy_start_ns ? a : g->busy_start_ns;
    int64_t hi = b < g->busy_end_ns ? b : g->busy_end_ns;
    if (hi > lo)
        e += (zeus__sim_gpu_busy_power_w(g) - base) * (double)(hi - lo) * 1e-3;
    return e;
}

static void ring_push(zeus_sim_gpu *g, int64_t t, double uj)
{
    g->ring_t[g->ring_head] = t;
    g->ring_uj[g->ring_head] = uj;
    g->ring_head = (g->ring_head + 1) % ZEUS_SIM_AVG_RING;
    if (g->ring_len < ZEUS_SIM_AVG_RING)
        g->ring_len++;
}

void zeus__sim_gpu_init(zeus_sim_gpu *g, const zeus_sim_gpu_params *p, int64_t now_ns)
{
    memset(g, 0, sizeof *g);
    g->p = *p;
    g->limit_mw = p->default_limit_mw;
    g->t_ns = now_ns;
    g->exact_uj = p->initial_energy_j * 1e6;
    g->busy_start_ns = g->busy_end_ns = now_ns;
    g->period_ns = (int64_t)(p->energy_update_ms * 1e6);
    if (g->period_ns < 1)
        g->period_ns = 1;
    g->published_k = now_ns / g->period_ns;
    g->published_uj = g->exact_uj;
    ring_push(g, now_ns, g->published_uj);
}

void zeus__sim_gpu_advance(zeus_sim_gpu *g, int64_t now_ns)
{
    if (now_ns <= g->t_ns)
        return;
    int64_t k = now_ns / g->period_ns;
    if (k > g->published_k) {
        int64_t boundary = k * g->period_ns; /* > t_ns because published_k == t_ns / period */
        g->published_uj = g->exact_uj + integrate_uj(g, g->t_ns, boundary);
        g->published_k = k;
        ring_push(g, boundary, g->published_uj);
    }
    g->exact_uj += integrate_uj(g, g->t_ns, now_ns);
    g->t_ns = now_ns;
}

void zeus__sim_gpu_set_limit(zeus_sim_gpu *g, unsigned limit_mw, int64_t now_ns)
{
    zeus__sim_gpu_advance(g, now_ns);
    g->limit_mw = limit_mw;
}

int64_t zeus__sim_gpu_launch_step(zeus_sim_gpu *g, int64_t now_ns)
{
    zeus__sim_gpu_advance(g, now_ns);
    int64_t duration = (int64_t)(zeus__sim_gpu_step_time_s(g) * 1e9);
    if (g->busy_end_ns > g->t_ns) {
        g->busy_end_ns += duration; /* queued behind the running step */
    } else {
        g->busy_start_ns = g->t_ns;
        g->busy_end_ns = g->t_ns + duration;
    }
    return g->busy_end_ns;
}

uint64_t zeus__sim_gpu_energy_mj(zeus_sim_gpu *g, int64_t now_ns)
{
    zeus__sim_gpu_advance(g, now_ns);
    return (uint64_t)(g->published_uj / 1000.0);
}

double zeus__sim_gpu_exact_uj(zeus_sim_gpu *g, int64_t now_ns)
{
    zeus__sim_gpu_advance(g, now_ns);
    return g->exact_uj;
}

unsigned zeus__sim_gpu_instant_mw(zeus_sim_gpu *g, int64_t now_ns)
{
    zeus__sim_gpu_advance(g, now_ns);
    bool busy = g->t_ns >= g->busy_start_ns && g->t_ns < g->busy_end_ns;
    double w = busy ? zeus__sim_gpu_busy_power_w(g) : zeus__sim_gpu_background_power_w(g);
    return (unsigned)lround(w * 1000.0);
}

unsigned zeus__sim_gpu_average_mw(zeus_sim_gpu *g, int64_t now_ns)
{
    zeus__sim_gpu_advance(g, now_ns);
    unsigned newest = (g->ring_head + ZEUS_SIM_AVG_RING - 1) % ZEUS_SIM_AVG_RING;
    unsigned oldest = newest;
    /* Walk back to the oldest published value no more than one second older than the newest. */
    for (unsigned i = 1; i < g->ring_len; i++) {
        unsigned j = (newest + ZEUS_SIM_AVG_RING - i) % ZEUS_SIM_AVG_RING;
        if (g->ring_t[newest] - g->ring_t[j] > 1000000000LL)
            break;
        oldest = j;
    }
    if (oldest == newest)
        return zeus__sim_gpu_instant_mw(g, now_ns);
    double dt_s = (double)(g->ring_t[newest] - g->ring_t[oldest]) * 1e-9;
    return (unsigned)lround((g->ring_uj[newest] - g->ring_uj[oldest]) / dt_s * 1e-3);
}

unsigned zeus__sim_gpu_temperature_c(zeus_sim_gpu *g, int64_t now_ns)
{
    return (unsigned)lround(25.0 + 0.2 * zeus__sim_gpu_average_mw(g, now_ns) / 1000.0);
}

/* ---- configuration ---- */

static void default_gpu(zeus_sim_gpu_params *p, unsigned index)
{
    memset(p, 0, sizeof *p);
    zeus__strlcpy(p->name, "NVIDIA A40", sizeof p->name);
    snprintf(p->uuid, sizeof p->uuid, "GPU-5eed0000-0000-4000-8000-%012x", index);
    p->arch = ZEUS_ARCH_AMPERE;
    p->min_limit_mw = 100000;
    p->max_limit_mw = 300000;
    p->energy_update_ms = 20.0;
    p->energy_counter_rate = 1.0;
    p->step_time_s = 0.025;
    p->compute_fraction = 0.6;
    p->sm_clock_max_mhz = 1740; /* A40: 1740 down to 210 MHz in 15 MHz steps */
    p->sm_clock_min_mhz = 210;
    p->sm_clock_step_mhz = 15;
    static const unsigned memory[] = {1593, 810, 405};
    p->memory_clock_count = ZEUS_ARRAY_LEN(memory);
    memcpy(p->memory_clocks_mhz, memory, sizeof memory);
}

/* Fills whatever the config left out from the limits it gave. */
static void derive_gpu(zeus_sim_gpu_params *p)
{
    double max_w = p->max_limit_mw / 1000.0;
    if (p->default_limit_mw == 0)
        p->default_limit_mw = p->max_limit_mw;
    if (p->idle_w <= 0)
        p->idle_w = 0.1 * max_w;
    if (p->busy_w <= 0)
        p->busy_w = 0.93 * max_w;
    if (p->static_w <= 0)
        p->static_w = 0.3 * max_w;
}

static const char *const gpu_keys[] = {"name",
                                       "uuid",
                                       "architecture",
                                       "min_power_limit_w",
                                       "max_power_limit_w",
                                       "default_power_limit_w",
                                       "idle_power_w",
                                       "busy_power_w",
                                       "static_power_w",
                                       "step_time_ms",
                                       "compute_fraction",
                                       "max_sm_clock_mhz",
                                       "min_sm_clock_mhz",
                                       "sm_clock_step_mhz",
                                       "load",
                                       "energy_update_ms",
                                       "initial_energy_j",
                                       "energy_per_read_mj",
                                       "energy_counter_rate",
                                       "stuck_power_w",
                                       "mig",
                                       "errors",
                                       "count"};

static int check_keys(const cJSON *obj, const char *const *keys, size_t n, const char *where,
                      const char *origin)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(it->string, keys[i]) == 0)
                break;
        if (i == n)
            return zeus__error(ZEUS_EPARSE, "%s: unknown key '%s' in %s", origin, it->string,
                               where);
    }
    return ZEUS_OK;
}

static int get_number(const cJSON *obj, const char *key, double lo, double hi, double *out,
                      const char *where, const char *origin)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return ZEUS_OK;
    if (!cJSON_IsNumber(v))
        return zeus__error(ZEUS_EPARSE, "%s: %s.%s must be a number", origin, where, key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return zeus__error(ZEUS_ERANGE, "%s: %s.%s = %g is outside [%g, %g]", origin, where, key,
                           v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return ZEUS_OK;
}

static int get_string(const cJSON *obj, const char *key, char *out, size_t size, const char *where,
                      const char *origin)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return ZEUS_OK;
    if (!cJSON_IsString(v) || !*v->valuestring)
        return zeus__error(ZEUS_EPARSE, "%s: %s.%s must be a non-empty string", origin, where, key);
    if (zeus__strlcpy(out, v->valuestring, size) >= size)
        return zeus__error(ZEUS_EPARSE, "%s: %s.%s is too long", origin, where, key);
    return ZEUS_OK;
}

static int parse_errors(const cJSON *errs, zeus_sim_gpu_params *p, const char *where,
                        const char *origin)
{
    if (!cJSON_IsObject(errs))
        return zeus__error(ZEUS_EPARSE,
                           "%s: %s.errors must be an object {\"nvmlFunction\": {\"code\": "
                           "\"GPU_IS_LOST\", \"after\": N}}",
                           origin, where);
    for (const cJSON *e = errs->child; e; e = e->next) {
        if (p->error_count == ZEUS_SIM_MAX_ERRORS)
            return zeus__error(ZEUS_EPARSE, "%s: %s.errors has more than %d entries", origin, where,
                               ZEUS_SIM_MAX_ERRORS);
        zeus_sim_error *err = &p->errors[p->error_count++];
        zeus__strlcpy(err->function, e->string, sizeof err->function);
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(e, "after");
        if (cJSON_IsString(e)) {
            code = e;
            after = NULL;
        } else if (!cJSON_IsObject(e) || !cJSON_IsString(code)) {
            return zeus__error(ZEUS_EPARSE, "%s: %s.errors.%s needs a \"code\" string", origin,
                               where, e->string);
        }
        zeus__strlcpy(err->code, code->valuestring, sizeof err->code);
        if (after && (!cJSON_IsNumber(after) || after->valuedouble < 0))
            return zeus__error(ZEUS_EPARSE, "%s: %s.errors.%s.after must be a count >= 0", origin,
                               where, e->string);
        err->after = after ? (long)after->valuedouble : 0;
        const cJSON *delay =
            cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "delay_ms") : NULL;
        if (delay &&
            (!cJSON_IsNumber(delay) || delay->valuedouble < 0 || delay->valuedouble > 600000))
            return zeus__error(ZEUS_EPARSE, "%s: %s.errors.%s.delay_ms must be 0 to 600000", origin,
                               where, e->string);
        err->delay_ms = delay ? (long)delay->valuedouble : 0;
    }
    return ZEUS_OK;
}

static int parse_gpu(const cJSON *g, unsigned index, zeus_sim_gpu_params *p, const char *origin)
{
    char where[32];
    snprintf(where, sizeof where, "gpus[%u]", index);
    int rc;
    if (!cJSON_IsObject(g))
        return zeus__error(ZEUS_EPARSE, "%s: %s must be an object", origin, where);
    if ((rc = check_keys(g, gpu_keys, ZEUS_ARRAY_LEN(gpu_keys), where, origin)) != ZEUS_OK)
        return rc;
    default_gpu(p, index);
    double min_w = p->min_limit_mw / 1000.0, max_w = p->max_limit_mw / 1000.0, def_w = 0;
    double step_ms = p->step_time_s * 1000.0;
    double fmax = p->sm_clock_max_mhz, fmin = p->sm_clock_min_mhz, fstep = p->sm_clock_step_mhz;
    char arch[32] = "";
    if ((rc = get_string(g, "name", p->name, sizeof p->name, where, origin)) ||
        (rc = get_string(g, "uuid", p->uuid, sizeof p->uuid, where, origin)) ||
        (rc = get_string(g, "architecture", arch, sizeof arch, where, origin)) ||
        (rc = get_number(g, "min_power_limit_w", 1, 5000, &min_w, where, origin)) ||
        (rc = get_number(g, "max_power_limit_w", 1, 5000, &max_w, where, origin)) ||
        (rc = get_number(g, "default_power_limit_w", 1, 5000, &def_w, where, origin)) ||
        (rc = get_number(g, "idle_power_w", 0, 5000, &p->idle_w, where, origin)) ||
        (rc = get_number(g, "busy_power_w", 0, 5000, &p->busy_w, where, origin)) ||
        (rc = get_number(g, "static_power_w", 0, 5000, &p->static_w, where, origin)) ||
        (rc = get_number(g, "step_time_ms", 0.001, 3.6e6, &step_ms, where, origin)) ||
        (rc = get_number(g, "compute_fraction", 0, 1, &p->compute_fraction, where, origin)) ||
        (rc = get_number(g, "max_sm_clock_mhz", 1, 100000, &fmax, where, origin)) ||
        (rc = get_number(g, "min_sm_clock_mhz", 1, 100000, &fmin, where, origin)) ||
        (rc = get_number(g, "sm_clock_step_mhz", 1, 100000, &fstep, where, origin)) ||
        (rc = get_number(g, "load", 0, 1, &p->load, where, origin)) ||
        (rc = get_number(g, "energy_update_ms", 0.001, 60000, &p->energy_update_ms, where,
                         origin)) ||
        (rc = get_number(g, "initial_energy_j", 0, 1e15, &p->initial_energy_j, where, origin)) ||
        (rc = get_number(g, "energy_per_read_mj", -1e9, 1e9, &p->energy_per_read_mj, where,
                         origin)) ||
        (rc = get_number(g, "energy_counter_rate", 0, 1000, &p->energy_counter_rate, where,
                         origin)) ||
        (rc = get_number(g, "stuck_power_w", 0, 5000, &p->stuck_power_w, where, origin)))
        return rc;
    if (*arch && zeus_gpu_arch_parse(arch, &p->arch) != ZEUS_OK)
        return zeus__error(ZEUS_EPARSE, "%s: %s.architecture: %s", origin, where,
                           zeus_last_error());
    if (min_w > max_w)
        return zeus__error(ZEUS_ERANGE,
                           "%s: %s: min_power_limit_w %g is above max_power_limit_w %g", origin,
                           where, min_w, max_w);
    if (def_w && (def_w < min_w || def_w > max_w))
        return zeus__error(ZEUS_ERANGE, "%s: %s: default_power_limit_w %g is outside [%g, %g]",
                           origin, where, def_w, min_w, max_w);
    p->min_limit_mw = (unsigned)lround(min_w * 1000);
    p->max_limit_mw = (unsigned)lround(max_w * 1000);
    p->default_limit_mw = (unsigned)lround(def_w * 1000);
    p->step_time_s = step_ms / 1000.0;
    if (fmin > fmax)
        return zeus__error(ZEUS_ERANGE, "%s: %s: min_sm_clock_mhz %g is above max_sm_clock_mhz %g",
                           origin, where, fmin, fmax);
    p->sm_clock_max_mhz = (unsigned)lround(fmax);
    p->sm_clock_min_mhz = (unsigned)lround(fmin);
    p->sm_clock_step_mhz = (unsigned)lround(fstep);
    derive_gpu(p);
    if (p->static_w >= p->busy_w)
        return zeus__error(ZEUS_ERANGE, "%s: %s: static_power_w must be below busy_power_w", origin,
                           where);
    const cJSON *mig = cJSON_GetObjectItemCaseSensitive(g, "mig");
    if (mig) {
        if (!cJSON_IsArray(mig) || cJSON_GetArraySize(mig) > ZEUS_SIM_MAX_MIG)
            return zeus__error(ZEUS_EPARSE, "%s: %s.mig must be an array of at most %d UUIDs",
                               origin, where, ZEUS_SIM_MAX_MIG);
        const cJSON *u;
        cJSON_ArrayForEach(u, mig)
        {
            if (!cJSON_IsString(u))
                return zeus__error(ZEUS_EPARSE, "%s: %s.mig entries must be strings", origin,
                                   where);
            zeus__strlcpy(p->mig_uuids[p->mig_count++], u->valuestring, sizeof p->mig_uuids[0]);
        }
    }
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(g, "errors");
    if (errs && (rc = parse_errors(errs, p, where, origin)) != ZEUS_OK)
        return rc;
    return ZEUS_OK;
}

static void default_config(zeus_sim_config *out)
{
    memset(out, 0, sizeof *out);
    out->gpu_count = 4;
    for (unsigned i = 0; i < out->gpu_count; i++) {
        default_gpu(&out->gpus[i], i);
        derive_gpu(&out->gpus[i]);
    }
    zeus__strlcpy(out->driver_version, "580.00-sim", sizeof out->driver_version);
}

static int parse_faults(const cJSON *faults, unsigned *out, const char *origin)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {{"unterminated_strings", ZEUS_SIM_FAULT_UNTERMINATED},
                 {"inverted_limits", ZEUS_SIM_FAULT_INVERTED_LIMITS}};
    *out = 0;
    if (!faults)
        return ZEUS_OK;
    const cJSON *f;
    if (!cJSON_IsArray(faults))
        goto bad;
    cJSON_ArrayForEach(f, faults)
    {
        size_t i = 0;
        while (i < ZEUS_ARRAY_LEN(known) &&
               !(cJSON_IsString(f) && strcmp(f->valuestring, known[i].name) == 0))
            i++;
        if (i == ZEUS_ARRAY_LEN(known))
            goto bad;
        *out |= known[i].bit;
    }
    return ZEUS_OK;
bad:
    return zeus__error(ZEUS_EPARSE,
                       "%s: \"faults\" must be an array of \"unterminated_strings\", "
                       "\"inverted_limits\"",
                       origin);
}

int zeus__sim_config_parse(const char *json, const char *origin, zeus_sim_config *out)
{
    static const char *const top_keys[] = {"gpus", "init_error", "driver_version", "faults"};
    int rc = ZEUS_OK;
    default_config(out);
    if (!json)
        return ZEUS_OK;
    int error;
    const char *at = NULL;
    cJSON *root = zeus__json_parse(json, false, &error, &at);
    if (!root) {
        if (error == ZEUS_ENOMEM)
            return error;
        int line = 1;
        for (const char *c = json; at && c < at; c++)
            line += *c == '\n';
        return zeus__error(ZEUS_EPARSE, "%s:%d: not valid JSON", origin, line);
    }
    if (!cJSON_IsObject(root)) {
        rc = zeus__error(ZEUS_EPARSE, "%s: the top level must be an object with \"gpus\"", origin);
        goto done;
    }
    if ((rc = check_keys(root, top_keys, ZEUS_ARRAY_LEN(top_keys), "the top level", origin)))
        goto done;
    if ((rc = get_string(root, "init_error", out->init_error, sizeof out->init_error, "config",
                         origin)) ||
        (rc = get_string(root, "driver_version", out->driver_version, sizeof out->driver_version,
                         "config", origin)))
        goto done;
    if ((rc = parse_faults(cJSON_GetObjectItemCaseSensitive(root, "faults"), &out->faults, origin)))
        goto done;
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(root, "gpus");
    if (!gpus) {
        rc = zeus__error(ZEUS_EPARSE, "%s: missing \"gpus\" (an array, may be empty)", origin);
        goto done;
    }
    if (!cJSON_IsArray(gpus)) {
        rc = zeus__error(ZEUS_EPARSE, "%s: \"gpus\" must be an array", origin);
        goto done;
    }
    out->gpu_count = 0;
    unsigned entry = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, gpus)
    {
        zeus_sim_gpu_params p;
        if ((rc = parse_gpu(g, out->gpu_count, &p, origin)) != ZEUS_OK)
            goto done;
        double count = 1;
        char where[32];
        snprintf(where, sizeof where, "gpus[%u]", entry++);
        if ((rc = get_number(g, "count", 1, ZEUS_SIM_MAX_GPUS, &count, where, origin)))
            goto done;
        for (unsigned c = 0; c < (unsigned)count; c++) {
            if (out->gpu_count == ZEUS_SIM_MAX_GPUS) {
                rc = zeus__error(ZEUS_ERANGE, "%s: more than %d GPUs", origin, ZEUS_SIM_MAX_GPUS);
                goto done;
            }
            zeus_sim_gpu_params *dst = &out->gpus[out->gpu_count];
            *dst = p;
            if (c > 0 || !cJSON_GetObjectItemCaseSensitive(g, "uuid"))
                snprintf(dst->uuid, sizeof dst->uuid, "GPU-5eed0000-0000-4000-8000-%012x",
                         out->gpu_count);
            out->gpu_count++;
        }
    }
done:
    cJSON_Delete(root);
    return rc;
}

int zeus__sim_config_load(const char *path, const char *label, zeus_sim_config *out)
{
    if (!path || !*path)
        return zeus__sim_config_parse(NULL, "default", out);
    /* The value may be the JSON itself rather than a file's name. */
    if (path[strspn(path, " \t\n")] == '{')
        return zeus__sim_config_parse(path, label, out);
    char *text = NULL;
    int rc = zeus__read_file(path, &text, NULL);
    if (rc != ZEUS_OK)
        return zeus__error(rc, "%s: %s", label, zeus_last_error());
    rc = zeus__sim_config_parse(text, path, out);
    free(text);
    return rc;
}
