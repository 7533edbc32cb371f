/* The carbon-aware power-limit selector against ZeusCost on a recorded day of grid intensity.
 *
 *   bench_carbon [TRACE_DIR [INTENSITY_CSV [ETA]]]
 *
 * For each of the 24 GPU x workload configurations of the NSDI'23 traces (the simulator's
 * expected run of the workload's default job at its default batch size, per power limit) a
 * recurring job starts once an hour through the intensity trace's day (the trace repeats
 * cyclically, so a run longer than a day keeps going through it). ZeusCost(eta) picks one limit
 * for every run. CarbonCost(eta, I_ref) picks a limit per run from the intensity of the hours
 * the run is expected to train in (the trace's mean over the run's length at the maximum
 * limit: a perfect forecast). Each run's grams are its energy times the trace's mean intensity
 * over the hours it actually runs. I_ref is swept (log grid); reported: the I_ref with the
 * fewest grams whose total time is within ZeusCost's (the same time budget), and the plain
 * choice I_ref = the day's mean intensity. Last, the fair comparison: ZeusCost's frontier over
 * eta against CarbonCost's (I_ref = the day's mean) at equal total time. */
#include "zeus/batch_size.h"
#include "zeus/carbon.h"
#include "zeus/recurring.h"
#include "zeus/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const gpus[] = {"v100", "a40", "p100", "rtx6000"};
static const char *const datasets[] = {"cifar100",    "imagenet",     "squad",
                                       "librispeech", "movielens-1m", "sentiment140"};

#define MAX_LIMITS 32
#define RUNS 24

typedef struct {
    const zeus_carbon_trace *trace;
    double from_s, duration_s;
} forecast;

static int forecast_intensity(void *user, double *g_per_kwh)
{
    forecast *f = user;
    *g_per_kwh = zeus_carbon_trace_mean(f->trace, f->from_s, f->duration_s);
    return ZEUS_OK;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_carbon: %s: %s\n", what, zeus_last_error());
    exit(1);
}

static const zeus_power_limit_measurement *find(const zeus_power_limit_measurement *m, size_t n,
                                                unsigned w)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].power_limit_w == w)
            return &m[i];
    return NULL;
}

typedef struct {
    double grams, time_s;
    unsigned limits_used; /* distinct limits chosen over the day */
} outcome;

/* 24 hourly runs; reference <= 0: ZeusCost. */
static outcome run_day(const zeus_carbon_trace *trace, const zeus_power_limit_measurement *m,
                       size_t n, double eta, double reference)
{
    outcome o = {0, 0, 0};
    unsigned seen[RUNS];
    const zeus_power_limit_measurement *top = &m[0]; /* the profile starts at the maximum */
    for (size_t h = 0; h < RUNS; h++) {
        double start = trace->start_s + (double)h * 3600;
        forecast f = {trace, start, top->time_s};
        zeus_optimum_selector s;
        zeus_carbon_cost_selector st;
        unsigned w;
        if (reference > 0) {
            if (zeus_selector_carbon_cost(&st, eta, 1, reference, forecast_intensity, &f, &s))
                die("selector");
        } else if (zeus_selector_zeus_cost(eta, 1, &s)) {
            die("selector");
        }
        if (zeus_selector_select(&s, m, n, &w))
            die("select");
        const zeus_power_limit_measurement *r = find(m, n, w);
        o.grams += r->energy_j / 3.6e6 * zeus_carbon_trace_mean(trace, start, r->time_s);
        o.time_s += r->time_s;
        bool repeated = false;
        for (unsigned k = 0; k < o.limits_used; k++)
            repeated |= seen[k] == w;
        if (!repeated)
            seen[o.limits_used++] = w;
    }
    return o;
}

/* The frontiers: ZeusCost(eta) for eta = 0, 0.01, ..., 1 against CarbonCost(eta', I_ref = day
 * mean) for eta' = 0, 0.01, ..., 1: for each ZeusCost point, the CarbonCost point with the fewest
 * grams among those no slower in total. Adds to *zc_g, *cc_g the grams of the points where one
 * exists, counts the points where none does. */
static void frontier(const zeus_carbon_trace *trace, const zeus_power_limit_measurement *m,
                     size_t n, double reference, double *zc_g, double *cc_g, unsigned *matched,
                     unsigned *unmatched)
{
    outcome carbon[101];
    for (int k = 0; k <= 100; k++)
        carbon[k] = run_day(trace, m, n, k / 100.0, reference);
    for (int k = 0; k <= 100; k++) {
        outcome z = run_day(trace, m, n, k / 100.0, 0);
        double best = INFINITY;
        for (int j = 0; j <= 100; j++)
            if (carbon[j].time_s <= z.time_s * (1 + 1e-9) && carbon[j].grams < best)
                best = carbon[j].grams;
        if (isinf(best)) {
            (*unmatched)++;
            continue;
        }
        (*matched)++;
        *zc_g += z.grams;
        *cc_g += best;
    }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ZEUS_DATA_DIR "/nsdi23-traces";
    const char *csv = argc > 2 ? argv[2] : ZEUS_DATA_DIR "/carbon/gb-2020-05-22.csv";
    double eta = argc > 3 ? atof(argv[3]) : 0.5;
    zeus_carbon_trace trace;
    if (zeus_carbon_trace_read(csv, &trace))
        die(csv);
    double day_mean = zeus_carbon_trace_mean(&trace, trace.start_s, 86400);
    printf("intensity trace %s: %zu x %g s, mean %.1f gCO2eq/kWh; eta %g; %d runs, one an hour\n",
           csv, trace.count, trace.period_s, day_mean, eta, RUNS);
    printf("%-8s %-13s %12s %12s %9s %9s %12s %9s %9s %5s\n", "gpu", "workload", "ZeusCost g",
           "best ref", "saved %", "time %", "ref=mean g", "saved %", "time %", "PLs");
    double total_zc = 0, total_best = 0, total_mean = 0, time_zc = 0, time_best = 0, time_mean = 0,
           front_zc = 0, front_cc = 0;
    unsigned matched = 0, unmatched = 0;
    for (size_t g = 0; g < 4; g++) {
        zeus_trace *t;
        if (zeus_trace_load_dir(dir, gpus[g], &t))
            die(dir);
        for (size_t d = 0; d < 6; d++) {
            zeus_job job;
            zeus_pl_cost pls[MAX_LIMITS];
            size_t n;
            if (zeus_alibaba_job(t, datasets[d], &job) ||
                zeus_trace_profile_power_limit(t, &job, job.default_bs, eta, pls, MAX_LIMITS, &n))
                die(datasets[d]);
            zeus_power_limit_measurement m[MAX_LIMITS];
            for (size_t i = 0; i < n; i++) {
                zeus_sim_choice c;
                if (zeus_trace_expected_run(t, &job, job.default_bs, pls[i].power_limit, eta, &c))
                    die("expected run");
                m[i] = (zeus_power_limit_measurement){(unsigned)pls[i].power_limit, c.energy_j,
                                                      c.time_s};
            }
            outcome zc = run_day(&trace, m, n, eta, 0);
            outcome best = zc, at_mean = run_day(&trace, m, n, eta, day_mean);
            double best_ref = NAN;
            for (double ref = 5; ref < 5000; ref *= 1.02) {
                outcome o = run_day(&trace, m, n, eta, ref);
                if (o.time_s <= zc.time_s * (1 + 1e-9) && o.grams < best.grams) {
                    best = o;
                    best_ref = ref;
                }
            }
            printf("%-8s %-13s %12.1f %12.1f %9.2f %9.2f %12.1f %9.2f %9.2f %5u\n", gpus[g],
                   datasets[d], zc.grams, best_ref, 100 * (1 - best.grams / zc.grams),
                   100 * (best.time_s / zc.time_s - 1), at_mean.grams,
                   100 * (1 - at_mean.grams / zc.grams), 100 * (at_mean.time_s / zc.time_s - 1),
                   at_mean.limits_used);
            frontier(&trace, m, n, day_mean, &front_zc, &front_cc, &matched, &unmatched);
            total_zc += zc.grams;
            total_best += best.grams;
            total_mean += at_mean.grams;
            time_zc += zc.time_s;
            time_best += best.time_s;
            time_mean += at_mean.time_s;
        }
        zeus_trace_destroy(t);
    }
    printf("all 24 configurations: ZeusCost %.0f g; CarbonCost at the same time budget %.0f g "
           "(%.2f %% less, time %+.2f %%); CarbonCost with I_ref = day mean %.0f g (%.2f %% "
           "less, time %+.2f %%)\n",
           total_zc, total_best, 100 * (1 - total_best / total_zc), 100 * (time_best / time_zc - 1),
           total_mean, 100 * (1 - total_mean / total_zc), 100 * (time_mean / time_zc - 1));
    printf("frontiers (ZeusCost over eta 0..1 against CarbonCost(I_ref = day mean) over eta "
           "0..1, each ZeusCost point against the CarbonCost point with the fewest grams no "
           "slower in total): %u points matched, %u without a CarbonCost point as fast; "
           "ZeusCost %.0f g, CarbonCost %.0f g (%.2f %% less at the same or less time)\n",
           matched, unmatched, front_zc, front_cc, 100 * (1 - front_cc / front_zc));
    zeus_carbon_trace_free(&trace);
    return 0;
}
