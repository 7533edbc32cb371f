/* Window metrics rendered for the Pushgateway: one window's gauges (zeus_push_measurement) and
 * the original's EnergyHistogram (zeus/metric.h). */
#include "core/array.h"
#include "core/internal.h"
#include "metric/metric_internal.h"
#include "monitor/monitor_internal.h"
#include "zeus/metric.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 32

char *zeus_metric_format_value(double v, char *buf, size_t size)
{
    if (isnan(v))
        zeus__strlcpy(buf, "NaN", size);
    else if (isinf(v))
        zeus__strlcpy(buf, v > 0 ? "+Inf" : "-Inf", size);
    else
        zeus_format_double(v, buf, size);
    return buf;
}

size_t zeus_metric_escape_label(const char *value, char *out, size_t size)
{
    size_t n = 0;
    for (; *value; value++) {
        char c = *value == '\n' ? 'n' : *value;
        bool escaped = *value == '\\' || *value == '"' || *value == '\n';
        if (escaped) {
            if (n + 1 < size)
                out[n] = '\\';
            n++;
        }
        if (n + 1 < size)
            out[n] = c;
        n++;
    }
    if (size > 0)
        out[n < size ? n : size - 1] = '\0';
    return n;
}

void zeus__prom_escape(FILE *f, const char *value)
{
    /* A character at a time: no allocation, however long the value. */
    for (; *value; value++) {
        char one[2] = {*value, '\0'}, escaped[3];
        zeus_metric_escape_label(one, escaped, sizeof escaped);
        fputs(escaped, f);
    }
}

static void put_value(FILE *f, double v)
{
    char buf[ZEUS_DOUBLE_BUF];
    fputs(zeus_metric_format_value(v, buf, sizeof buf), f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int zeus_push_measurement(const zeus_push_target *t, const char *window, const zeus_measurement *m)
{
    if (!window || !m)
        return zeus__error(ZEUS_EINVAL, "zeus_push_measurement: NULL window or measurement");
    if (zeus_measurement_cancelled(m))
        return ZEUS_OK;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    family(f, "zeus_window_duration_seconds", "gauge", "Duration of the window's latest run.");
    fputs("zeus_window_duration_seconds ", f);
    put_value(f, zeus_measurement_time_s(m));
    fputc('\n', f);
    family(f, "zeus_window_end_timestamp_seconds", "gauge",
           "Unix time at which the window's latest run ended.");
    fputs("zeus_window_end_timestamp_seconds ", f);
    put_value(f, zeus_measurement_start_time_s(m) + zeus_measurement_time_s(m));
    fputc('\n', f);
    family(f, "zeus_window_gpu_energy_joules", "gauge", "GPU energy of the window's latest run.");
    for (unsigned i = 0; i < zeus_measurement_gpu_count(m); i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(m, i);
        if (isnan(g->energy_j))
            continue;
        fprintf(f, "zeus_window_gpu_energy_joules{gpu=\"%u\"} ", g->index);
        put_value(f, g->energy_j);
        fputc('\n', f);
    }
    family(f, "zeus_window_cpu_energy_joules", "gauge",
           "CPU package energy of the window's latest run.");
    for (unsigned i = 0; i < zeus_measurement_cpu_count(m); i++) {
        const zeus_cpu_measurement *c = zeus_measurement_cpu(m, i);
        if (isnan(c->package_j))
            continue;
        fprintf(f, "zeus_window_cpu_energy_joules{package=\"%u\"} ", c->index);
        put_value(f, c->package_j);
        fputc('\n', f);
    }
    family(f, "zeus_window_dram_energy_joules", "gauge", "DRAM energy of the window's latest run.");
    for (unsigned i = 0; i < zeus_measurement_cpu_count(m); i++) {
        const zeus_cpu_measurement *c = zeus_measurement_cpu(m, i);
        if (!c->dram_valid || isnan(c->dram_j))
            continue;
        fprintf(f, "zeus_window_dram_energy_joules{package=\"%u\"} ", c->index);
        put_value(f, c->dram_j);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        free(text);
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    int rc = zeus__push(t, text, true, "window", window);
    free(text);
    return rc;
}

int zeus__push_target_copy(const zeus_push_target *src, zeus__push_copy **out)
{
    *out = NULL;
    if (!src || !src->url || !src->job || !*src->job)
        return zeus__error(ZEUS_EINVAL, "a Pushgateway target needs a URL and a job");
    zeus__push_copy *c = calloc(1, sizeof *c);
    size_t n = 0;
    for (const char *const *g = src->grouping; g && g[0] && g[1]; g += 2)
        n += 2;
    if (!c || !(c->url = strdup(src->url)) || !(c->job = strdup(src->job)) ||
        !(c->grouping = calloc(n + 1, sizeof *c->grouping)))
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (!(c->grouping[i] = strdup(src->grouping[i])))
            goto oom;
    c->target = *src;
    c->target.url = c->url;
    c->target.job = c->job;
    c->target.grouping = (const char *const *)c->grouping;
    *out = c;
    return ZEUS_OK;
oom:
    zeus__push_target_free(c);
    return zeus__error(ZEUS_ENOMEM, "out of memory");
}

void zeus__push_target_free(zeus__push_copy *c)
{
    if (!c)
        return;
    for (char **g = c->grouping; g && *g; g++)
        free(*g);
    free(c->grouping);
    free(c->url);
    free(c->job);
    free(c);
}

/* ---- A monitor's windows pushed as they end (zeus_monitor_push_windows) ---- */
static void push_window(void *user, const char *window, const zeus_measurement *m)
{
    zeus__push_copy *c = user;
    if (zeus_push_measurement(&c->target, window, m) != ZEUS_OK)
        ZEUS_WARN("window '%s' was not pushed: %s", window, zeus_last_error());
}

static void push_window_free(void *user)
{
    zeus__push_target_free(user);
}

int zeus_monitor_push_windows(zeus_monitor *m, const zeus_push_target *target)
{
    if (!m)
        return zeus__error(ZEUS_EINVAL, "zeus_monitor_push_windows: monitor is NULL");
    zeus__push_copy *copy = NULL;
    int rc = target ? zeus__push_target_copy(target, &copy) : ZEUS_OK;
    if (rc != ZEUS_OK)
        return rc;
    rc = zeus__monitor_on_window_end(m, copy ? push_window : NULL, copy,
                                     copy ? push_window_free : NULL);
    if (rc != ZEUS_OK) {
        zeus__push_target_free(copy);
        if (rc == ZEUS_ENOTSUP)
            zeus__error(rc, "a replay monitor measures nothing to push");
    }
    return rc;
}

/* ---- EnergyHistogram ---- */

typedef struct {
    char *window;
    int kind; /* 0 GPU, 1 CPU, 2 DRAM */
    unsigned index;
    unsigned long long counts[MAX_BUCKETS + 1]; /* cumulative at render time; per bucket here */
    unsigned long long count;
    double sum;
} series;

struct zeus_energy_histogram {
    zeus__push_copy *push;
    double buckets[3][MAX_BUCKETS];
    size_t bucket_count[3];
    series *series;
    size_t series_count, series_cap;
};

static const char *const kind_names[3] = {"gpu", "cpu", "dram"};
static const char *const kind_help[3] = {"GPU energy of windows", "CPU package energy of windows",
                                         "DRAM energy of windows"};

void zeus_energy_histogram_options_init(zeus_energy_histogram_options *o)
{
    memset(o, 0, sizeof *o);
}

void zeus_energy_histogram_free(zeus_energy_histogram *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->series_count; i++)
        free(h->series[i].window);
    free(h->series);
    zeus__push_target_free(h->push);
    free(h);
}

static int set_buckets(zeus_energy_histogram *h, int kind, const double *b, size_t n,
                       const double *def, size_t def_n)
{
    if (!b || n == 0) {
        b = def;
        n = def_n;
    }
    if (n > MAX_BUCKETS)
        return zeus__error(ZEUS_EINVAL, "%s histogram: at most %d buckets", kind_names[kind],
                           MAX_BUCKETS);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(b[i]) || (i > 0 && !(b[i] > b[i - 1])))
            return zeus__error(ZEUS_EINVAL, "%s histogram: buckets must be finite and increasing",
                               kind_names[kind]);
    memcpy(h->buckets[kind], b, n * sizeof *b);
    h->bucket_count[kind] = n;
    return ZEUS_OK;
}

int zeus_energy_histogram_new(const zeus_energy_histogram_options *o, zeus_energy_histogram **out)
{
    static const double gpu[] = {50, 100, 200, 500, 1000}, cpu[] = {10, 20, 50, 100, 200},
                        dram[] = {5, 10, 20, 50, 150};
    *out = NULL;
    if (!o || !o->target.url || !o->target.job || !*o->target.job)
        return zeus__error(ZEUS_EINVAL, "an energy histogram needs a Pushgateway URL and a job");
    zeus_energy_histogram *h = calloc(1, sizeof *h);
    if (!h)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    int rc;
    if ((rc = set_buckets(h, 0, o->gpu_buckets, o->gpu_bucket_count, gpu, 5)) != ZEUS_OK ||
        (rc = set_buckets(h, 1, o->cpu_buckets, o->cpu_bucket_count, cpu, 5)) != ZEUS_OK ||
        (rc = set_buckets(h, 2, o->dram_buckets, o->dram_bucket_count, dram, 5)) != ZEUS_OK)
        goto fail;
    if ((rc = zeus__push_target_copy(&o->target, &h->push)) != ZEUS_OK)
        goto fail;
    *out = h;
    return ZEUS_OK;
fail:
    zeus_energy_histogram_free(h);
    return rc;
}

static int observe(zeus_energy_histogram *h, const char *window, int kind, unsigned index, double j)
{
    if (isnan(j))
        return ZEUS_OK;
    series *s = NULL;
    for (size_t i = 0; i < h->series_count && !s; i++)
        if (h->series[i].kind == kind && h->series[i].index == index &&
            strcmp(h->series[i].window, window) == 0)
            s = &h->series[i];
    if (!s) {
        void *items = h->series;
        int rc = zeus__array_reserve(&items, &h->series_cap, h->series_count, sizeof *s, 8);
        if (rc != ZEUS_OK)
            return rc;
        h->series = items;
        s = &h->series[h->series_count];
        memset(s, 0, sizeof *s);
        if (!(s->window = strdup(window)))
            return zeus__error(ZEUS_ENOMEM, "out of memory");
        s->kind = kind;
        s->index = index;
        h->series_count++;
    }
    size_t b = 0, nb = h->bucket_count[kind];
    while (b < nb && j > h->buckets[kind][b])
        b++;
    if (b == nb)
        ZEUS_WARN("%s energy %.3f J of window '%s' (index %u) is above the largest histogram "
                  "bucket (%g J)",
                  kind_names[kind], j, window, index, h->buckets[kind][nb - 1]);
    s->counts[b]++;
    s->count++;
    s->sum += j;
    return ZEUS_OK;
}

int zeus_energy_histogram_text(const zeus_energy_histogram *h, char **out)
{
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    for (int kind = 0; kind < 3; kind++) {
        char name[64];
        snprintf(name, sizeof name, "energy_monitor_%s_energy_joules", kind_names[kind]);
        family(f, name, "histogram", kind_help[kind]);
        for (size_t i = 0; i < h->series_count; i++) {
            const series *s = &h->series[i];
            if (s->kind != kind)
                continue;
            unsigned long long cumulative = 0;
            for (size_t b = 0; b <= h->bucket_count[kind]; b++) {
                cumulative += s->counts[b];
                fprintf(f, "%s_bucket{window=\"", name);
                zeus__prom_escape(f, s->window);
                fprintf(f, "\",index=\"%u\",le=\"", s->index);
                put_value(f, b < h->bucket_count[kind] ? h->buckets[kind][b] : INFINITY);
                fprintf(f, "\"} %llu\n", cumulative);
            }
            const char *suffix[2] = {"sum", "count"};
            for (int k = 0; k < 2; k++) {
                fprintf(f, "%s_%s{window=\"", name, suffix[k]);
                zeus__prom_escape(f, s->window);
                fprintf(f, "\",index=\"%u\"} ", s->index);
                put_value(f, k == 0 ? s->sum : (double)s->count);
                fputc('\n', f);
            }
        }
    }
    if (fclose(f) != 0) {
        free(*out);
        *out = NULL;
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    return ZEUS_OK;
}

int zeus_energy_histogram_observe(zeus_energy_histogram *h, const char *window,
                                  const zeus_measurement *m)
{
    if (!h || !window || !m)
        return zeus__error(ZEUS_EINVAL, "zeus_energy_histogram_observe: NULL argument");
    if (zeus_measurement_cancelled(m))
        return ZEUS_OK;
    int rc = ZEUS_OK;
    for (unsigned i = 0; i < zeus_measurement_gpu_count(m) && rc == ZEUS_OK; i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(m, i);
        rc = observe(h, window, 0, g->index, g->energy_j);
    }
    for (unsigned i = 0; i < zeus_measurement_cpu_count(m) && rc == ZEUS_OK; i++) {
        const zeus_cpu_measurement *c = zeus_measurement_cpu(m, i);
        rc = observe(h, window, 1, c->index, c->package_j);
        if (rc == ZEUS_OK && c->dram_valid)
            rc = observe(h, window, 2, c->index, c->dram_j);
    }
    if (rc != ZEUS_OK)
        return rc;
    char *text = NULL;
    if ((rc = zeus_energy_histogram_text(h, &text)) != ZEUS_OK)
        return rc;
    rc = zeus_push_text(&h->push->target, text, true);
    free(text);
    return rc;
}
