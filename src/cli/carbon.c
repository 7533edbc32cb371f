/* `zeus monitor energy --carbon`: the window's energy split by UTC hour, each hour's share
 * converted with that hour's carbon intensity (zeus/carbon.h: the ElectricityMaps client and the
 * disk cache the Python client shares), and a cost at a flat price. Each finished hour is looked
 * up at the next boundary, before it leaves the API's 24-hour history. docs/carbon.md. */
#include "cli/carbon.h"

#include "cli/cli.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_WINDOW "zeus.monitor.energy.carbon-hour"
#define HOUR_S 3600.0

typedef struct {
    double start_s;
    double g_per_kwh; /* the hour's intensity once looked up (rated) */
    bool rated;
    double gpu_j[ZEUS_MAX_GPUS];
    unsigned gpu_index[ZEUS_MAX_GPUS];
    unsigned gpus;
} hour_part;

struct cli_carbon {
    zeus_monitor *m;
    zeus_carbon_api_options o;
    double period_s; /* 3600; ZEUS_CARBON_TEST_PERIOD_S shortens it for tests */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, started;
    double current_start;
    hour_part *parts;
    size_t n, cap;
    int error; /* a failed interval read: ends the split, the totals still come */
};

static double floor_to(double t, double period)
{
    return floor(t / period) * period;
}

/* Ends the interval window and records it, the lock held. */
static void close_part(cli_carbon *c, double next_start, bool reopen)
{
    zeus_measurement *r = zeus_measurement_new();
    int rc = r ? zeus_monitor_end_window(c->m, HOUR_WINDOW, false, false, r) : ZEUS_ENOMEM;
    if (rc == ZEUS_OK && c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        hour_part *grown = realloc(c->parts, cap * sizeof *grown);
        if (grown) {
            c->parts = grown;
            c->cap = cap;
        } else {
            rc = ZEUS_ENOMEM;
        }
    }
    if (rc == ZEUS_OK) {
        hour_part *p = &c->parts[c->n++];
        p->start_s = c->current_start;
        p->rated = false;
        p->gpus = zeus_measurement_gpu_count(r);
        for (unsigned i = 0; i < p->gpus && i < ZEUS_MAX_GPUS; i++) {
            const zeus_gpu_measurement *g = zeus_measurement_gpu(r, i);
            p->gpu_index[i] = g->index;
            p->gpu_j[i] = g->error || !isfinite(g->energy_j) ? 0 : g->energy_j;
        }
    } else {
        c->error = rc;
    }
    zeus_measurement_free(r);
    c->current_start = next_start;
    if (reopen && c->error == 0 &&
        (rc = zeus_monitor_begin_window(c->m, HOUR_WINDOW, false)) != ZEUS_OK)
        c->error = rc;
}

/* The intensity of each finished hour not yet had, looked up at the boundary after it (the lock
 * held, released during each request; only this thread adds parts while it runs): the API's
 * history holds the last 24 hours only, so a run longer than a day must not wait for its end.
 * An hour the API does not have (now) is passed over; a provider that cannot be asked ends the
 * round. What is missing is asked again at the next boundary and at the end. */
static void rate_parts(cli_carbon *c)
{
    for (size_t i = 0; i < c->n && !c->stop; i++) {
        if (c->parts[i].rated)
            continue;
        double start = c->parts[i].start_s, v = NAN;
        pthread_mutex_unlock(&c->lock);
        int rc = zeus_carbon_api_intensity(&c->o, start, &v);
        pthread_mutex_lock(&c->lock);
        if (rc == ZEUS_OK) {
            c->parts[i].g_per_kwh = v;
            c->parts[i].rated = true;
        } else if (rc != ZEUS_ENOENT) {
            break;
        }
    }
}

static void *roll(void *arg)
{
    cli_carbon *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop && c->error == 0) {
        double boundary = c->current_start + c->period_s;
        double now = zeus_wall_s();
        if (now < boundary) {
            struct timespec until = {.tv_sec = (time_t)boundary,
                                     .tv_nsec = (long)((boundary - floor(boundary)) * 1e9)};
            pthread_cond_timedwait(&c->wake, &c->lock, &until);
            continue;
        }
        double next = floor_to(now, c->period_s);
        close_part(c, next > boundary ? next : boundary, true);
        if (c->error == 0)
            rate_parts(c);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int cli_carbon_start(zeus_monitor *m, const cli_carbon_args *a, cli_carbon **out)
{
    cli_carbon *c = calloc(1, sizeof *c);
    if (!c)
        return cli_error(CLI_FAIL, "out of memory");
    c->m = m;
    zeus_carbon_api_options_init(&c->o);
    if (zeus_carbon_api_options_env(&c->o) != ZEUS_OK) {
        free(c);
        return cli_error(CLI_USAGE, "--carbon: %s", zeus_last_error());
    }
    if (a->location)
        c->o.location = a->location;
    if (a->api_url)
        c->o.api_url = a->api_url;
    c->period_s = c->o.period_s;
    c->current_start = floor_to(zeus_wall_s(), c->period_s);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr); /* CLOCK_REALTIME: the boundaries are wall-clock hours */
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    int rc = zeus_monitor_begin_window(m, HOUR_WINDOW, false);
    if (rc != ZEUS_OK) {
        cli_carbon_free(c);
        return cli_lib_error(CLI_FAIL, rc, "--carbon: cannot begin the hourly window");
    }
    if (pthread_create(&c->thread, NULL, roll, c) != 0) {
        zeus_monitor_end_window(m, HOUR_WINDOW, false, true, NULL);
        cli_carbon_free(c);
        return cli_error(CLI_FAIL, "--carbon: cannot start its thread");
    }
    c->started = true;
    *out = c;
    return CLI_OK;
}

void cli_carbon_stop(cli_carbon *c)
{
    if (!c || !c->started)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    c->started = false;
    if (c->error == 0)
        close_part(c, c->current_start, false);
    else
        zeus_monitor_end_window(c->m, HOUR_WINDOW, false, true, NULL);
}

void cli_carbon_free(cli_carbon *c)
{
    if (!c)
        return;
    cli_carbon_stop(c);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c->parts);
    free(c);
}

/* One GPU's energy in hour part i, scaled so the parts add up to the window's total. */
static double share(const cli_carbon *c, size_t i, unsigned index, double total_j)
{
    double sum = 0, mine = 0;
    for (size_t k = 0; k < c->n; k++)
        for (unsigned g = 0; g < c->parts[k].gpus; g++)
            if (c->parts[k].gpu_index[g] == index) {
                sum += c->parts[k].gpu_j[g];
                if (k == i)
                    mine = c->parts[k].gpu_j[g];
            }
    return sum > 0 ? total_j * mine / sum : total_j / (double)c->n;
}

int cli_carbon_report(cli_carbon *c, const cli_carbon_args *a, const zeus_measurement *r, bool json,
                      char **out)
{
    *out = NULL;
    cli_carbon_stop(c);
    double price = a->price_per_kwh;
    unsigned gpus = zeus_measurement_gpu_count(r);
    double grams[ZEUS_MAX_GPUS] = {0}, total_g = 0, kwh = 0;
    char why[512] = "";
    int result = CLI_OK;
    if (c->error)
        snprintf(why, sizeof why, "the hourly split failed: %s", zeus_strerror(c->error));
    double *rates = calloc(c->n ? c->n : 1, sizeof *rates);
    for (size_t i = 0; !*why && i < c->n; i++) {
        if (c->parts[i].rated) { /* looked up at the boundary after it */
            rates[i] = c->parts[i].g_per_kwh;
            continue;
        }
        int rc = zeus_carbon_api_intensity(&c->o, c->parts[i].start_s, &rates[i]);
        if (rc != ZEUS_OK)
            snprintf(why, sizeof why, "%s", zeus_last_error());
    }
    for (unsigned g = 0; g < gpus; g++) {
        const zeus_gpu_measurement *m = zeus_measurement_gpu(r, g);
        kwh += (isfinite(m->energy_j) ? m->energy_j : 0) / 3.6e6;
        for (size_t i = 0; !*why && i < c->n; i++)
            grams[g] += share(c, i, m->index, m->energy_j) / 3.6e6 * rates[i];
        total_g += grams[g];
    }
    char num[ZEUS_DOUBLE_BUF];
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f) {
        free(rates);
        return cli_error(CLI_FAIL, "out of memory");
    }
    if (json) {
        fprintf(f, "\"carbon\":{\"intervals\":[");
        for (size_t i = 0; i < c->n; i++)
            fprintf(f, "%s{\"start\":%.0f,\"g_per_kwh\":%s}", i ? "," : "", c->parts[i].start_s,
                    *why ? "null" : zeus_format_double(rates[i], num, sizeof num));
        fprintf(f, "],\"gpus\":{");
        for (unsigned g = 0; g < gpus; g++)
            fprintf(f, "%s\"%u\":%s", g ? "," : "", zeus_measurement_gpu(r, g)->index,
                    *why ? "null" : zeus_format_double(grams[g], num, sizeof num));
        fprintf(f, "},\"total_g\":%s,",
                *why ? "null" : zeus_format_double(total_g, num, sizeof num));
        fprintf(f, "\"kwh\":%s,", zeus_format_double(kwh, num, sizeof num));
        fprintf(f, "\"cost\":%s,\"error\":",
                price > 0 ? zeus_format_double(kwh * price, num, sizeof num) : "null");
        if (*why) {
            fputc('"', f);
            for (const char *p = why; *p; p++) {
                if (*p == '"' || *p == '\\')
                    fputc('\\', f);
                fputc((unsigned char)*p < 0x20 ? ' ' : *p, f);
            }
            fputc('"', f);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, "}");
    } else if (*why) {
        fprintf(f, "Carbon: not known (%s); the energy above is measured all the same\n", why);
    } else {
        fprintf(f, "Carbon: %.3f gCO2eq over %zu hour%s (", total_g, c->n, c->n == 1 ? "" : "s");
        for (size_t i = 0; i < c->n; i++)
            fprintf(f, "%s%s g/kWh", i ? ", " : "", zeus_format_double(rates[i], num, sizeof num));
        fprintf(f, ")\n");
        for (unsigned g = 0; g < gpus; g++)
            fprintf(f, "  GPU %u: %.3f gCO2eq\n", zeus_measurement_gpu(r, g)->index, grams[g]);
    }
    if (!json && price > 0)
        fprintf(f, "Cost: %.6f at %s per kWh (%.6f kWh)\n", kwh * price,
                zeus_format_double(price, num, sizeof num), kwh);
    fclose(f);
    if (*why) {
        result = cli_error(CLI_FAIL, "--carbon: %s", why);
    }
    free(rates);
    return result;
}
