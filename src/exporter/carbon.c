/* The exporter's carbon metrics (exporter/carbon.h). A GPU's energy between two polls belongs to
 * the hour of the later poll (a 1 s poll misplaces at most a second of energy at an hour's
 * edge). Energy whose hour has no intensity yet (no network, a refused key, a rate limit) is
 * kept pending per hour, never counted as 0 g, and converted once the API or the cache has that
 * hour; after a failed lookup the API is not asked again for a minute. */
#include "carbon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PENDING 48  /* hours kept waiting for their intensity (the API's history is 24) */
#define RETRY_S 60.0    /* after a failed lookup */
#define REFRESH_S 600.0 /* the current hour's intensity is looked up again this often */

typedef struct {
    double start_s;
    double joules[ZEUS_MAX_GPUS];
} pending_hour;

struct exp_carbon {
    zeus_carbon_api_options o;
    unsigned gpus;
    bool quiet, failing;
    double last_j[ZEUS_MAX_GPUS];
    bool have_last[ZEUS_MAX_GPUS];
    double grams[ZEUS_MAX_GPUS];
    double intensity, intensity_hour, intensity_at; /* NAN until known */
    double retry_at;
    unsigned long long errors;
    pending_hour pending[MAX_PENDING];
    size_t n_pending;
};

exp_carbon *exp_carbon_new(const zeus_carbon_api_options *options, unsigned gpus, bool quiet)
{
    exp_carbon *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->o = *options;
    if (options->cache_dir == options->cache_dir_storage) /* into the copy */
        c->o.cache_dir = c->o.cache_dir_storage;
    c->gpus = gpus > ZEUS_MAX_GPUS ? ZEUS_MAX_GPUS : gpus;
    c->quiet = quiet;
    c->intensity = c->intensity_hour = NAN;
    return c;
}

void exp_carbon_free(exp_carbon *c)
{
    free(c);
}

static double hour_of(const exp_carbon *c, double t)
{
    double p = c->o.period_s > 0 ? c->o.period_s : 3600.0;
    return floor(t / p) * p;
}

/* The intensity of an hour, or NAN (counted, said once per run of failures, retried later). */
static double lookup(exp_carbon *c, double now_s, double hour)
{
    if (now_s < c->retry_at)
        return NAN;
    double v = NAN;
    int rc = zeus_carbon_api_intensity(&c->o, hour, &v);
    if (rc == ZEUS_OK) {
        c->failing = false;
        return v;
    }
    c->errors++;
    c->retry_at = now_s + RETRY_S;
    if (!c->failing && !c->quiet)
        fprintf(stderr,
                "zeus exporter: warning: carbon intensity: %s; the energy waits in "
                "zeus_gpu_carbon_pending_joules (retrying every %.0f s)\n",
                zeus_last_error(), RETRY_S);
    c->failing = true;
    return NAN;
}

static pending_hour *pending_for(exp_carbon *c, double hour)
{
    for (size_t i = 0; i < c->n_pending; i++)
        if (c->pending[i].start_s == hour)
            return &c->pending[i];
    if (c->n_pending == MAX_PENDING) { /* the oldest cannot be had any more: dropped, said */
        if (!c->quiet)
            fprintf(stderr,
                    "zeus exporter: warning: carbon: no intensity for the hour starting "
                    "%.0f after %d hours; its energy is left out of the grams\n",
                    c->pending[0].start_s, MAX_PENDING);
        memmove(&c->pending[0], &c->pending[1], (MAX_PENDING - 1) * sizeof c->pending[0]);
        c->n_pending--;
    }
    pending_hour *p = &c->pending[c->n_pending++];
    memset(p, 0, sizeof *p);
    p->start_s = hour;
    return p;
}

void exp_carbon_update(exp_carbon *c, double now_s, const double *energy_j, const bool *ok)
{
    double hour = hour_of(c, now_s);
    if (c->intensity_hour != hour || now_s - c->intensity_at >= REFRESH_S || isnan(c->intensity)) {
        double v = lookup(c, now_s, hour);
        if (!isnan(v) || c->intensity_hour != hour) {
            c->intensity = v;
            c->intensity_hour = hour;
            c->intensity_at = now_s;
        }
    }
    pending_hour *p = NULL;
    for (unsigned g = 0; g < c->gpus; g++) {
        if (!ok[g])
            continue;
        double delta = c->have_last[g] ? energy_j[g] - c->last_j[g] : 0;
        c->last_j[g] = energy_j[g];
        c->have_last[g] = true;
        if (!(delta > 0))
            continue; /* the first reading, or a counter reset */
        if (!isnan(c->intensity)) {
            c->grams[g] += delta / 3.6e6 * c->intensity;
        } else {
            if (!p)
                p = pending_for(c, hour);
            p->joules[g] += delta;
        }
    }
    /* Earlier hours waiting for their intensity (the current hour's is c->intensity). */
    for (size_t i = 0; i < c->n_pending;) {
        pending_hour *w = &c->pending[i];
        double v = w->start_s == hour ? c->intensity : lookup(c, now_s, w->start_s);
        if (isnan(v)) {
            i++;
            continue;
        }
        for (unsigned g = 0; g < c->gpus; g++)
            c->grams[g] += w->joules[g] / 3.6e6 * v;
        memmove(w, w + 1, (c->n_pending - i - 1) * sizeof *w);
        c->n_pending--;
    }
}

void exp_carbon_render(const exp_carbon *c, expo_buf *b, const char *const *labels)
{
    expo_family(b, "zeus_grid_carbon_intensity_grams_per_kwh", "gauge",
                "Carbon intensity of the grid this hour (gCO2eq/kWh; absent while unknown).");
    if (!isnan(c->intensity))
        expo_sample(b, "zeus_grid_carbon_intensity_grams_per_kwh", "", c->intensity);
    expo_family(b, "zeus_gpu_carbon_grams_total", "counter",
                "CO2eq of the GPU's energy since the exporter started, each hour at its "
                "intensity (g).");
    for (unsigned g = 0; g < c->gpus; g++)
        expo_sample(b, "zeus_gpu_carbon_grams_total", labels[g], c->grams[g]);
    expo_family(b, "zeus_gpu_carbon_pending_joules", "gauge",
                "GPU energy whose hour's carbon intensity is not known yet (J).");
    for (unsigned g = 0; g < c->gpus; g++) {
        double j = 0;
        for (size_t i = 0; i < c->n_pending; i++)
            j += c->pending[i].joules[g];
        expo_sample(b, "zeus_gpu_carbon_pending_joules", labels[g], j);
    }
    expo_family(b, "zeus_carbon_lookup_errors_total", "counter",
                "Carbon-intensity lookups that failed (the API and the cache had no value).");
    expo_sample(b, "zeus_carbon_lookup_errors_total", "", (double)c->errors);
}
