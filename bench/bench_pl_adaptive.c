/* Adaptive power-limit profiling against full profiling (docs/power-limit.md, "Adaptive
 * profiling"), both driving the real state machine (power_limit_fsm.c) over the same simulated
 * workloads, the same noise draws (one seed per pair):
 *
 *   1. the 12 recorded profile logs in data/profile_data x every selector (ZeusCost at eta 0,
 *      0.25, 0.5, 0.75, 1; Energy; Time; MaxSlowdown at 8 factors): replayed without noise,
 *      then with 2 % step-time noise (20 seeds each);
 *   2. 1,000 synthetic workloads (time flat above a power demand and growing below it, energy
 *      U-shaped, 1-4 GPUs, 150-400 W maxima) with 0.5-5 % step-time noise and a random selector.
 *
 * For each: how often adaptive chooses full profiling's limit, the steps it takes (warmup and
 * profiling, from the first limit set to Done) as a fraction of full's, and where the choice
 * differs, the cost lost (the selector's objective under the noise-free truth; energy for
 * MaxSlowdown).
 *
 *   ./build/bench/bench_pl_adaptive [--workloads N] */
#include "../tests/integration/pl_workload.h"
#include "../tests/integration/power_limit_cases.h"
#include "zeus/cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_RUNS 20000

typedef struct {
    const char *name;
    size_t runs, same;
    size_t full_same;       /* full profiling agreeing with itself under another noise draw */
    double ratio[MAX_RUNS]; /* adaptive steps / full steps */
    double lost[MAX_RUNS];  /* where the choice differs */
    size_t lost_count;
} tally;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i];
}

static const zeus_power_limit_measurement *at(const pl_workload *w, unsigned limit_w)
{
    for (size_t i = 0; i < w->count; i++)
        if (w->truth[i].power_limit_w == limit_w)
            return &w->truth[i];
    return NULL;
}

static double objective(const zeus_optimum_selector *s, const pl_workload *w, unsigned limit_w,
                        double max_power)
{
    const zeus_power_limit_measurement *m = at(w, limit_w);
    if (!m)
        return NAN;
    switch (s->kind) {
    case ZEUS_SELECTOR_ZEUS_COST:
        return zeus_cost(m->energy_j, m->time_s, s->eta_knob, max_power);
    case ZEUS_SELECTOR_TIME:
        return m->time_s;
    default:
        return m->energy_j;
    }
}

static void one(tally *t, pl_workload *w, zeus_pl_fsm_config cfg, uint64_t seed)
{
    long full_steps = 0, ad_steps = 0;
    cfg.adaptive = false;
    unsigned full = pl_wl_run(w, &cfg, seed, 1000000, &full_steps);
    if (getenv("DBG") && !full)
        fprintf(stderr, "full failed: %s (max %u)\n", zeus_last_error(), cfg.max_limit_mw);
    cfg.adaptive = true;
    cfg.adaptive_cfg = zeus__pl_adaptive_defaults(cfg.profile_steps);
    unsigned ad = pl_wl_run(w, &cfg, seed, 1000000, &ad_steps);
    if (t->runs >= MAX_RUNS)
        return;
    long again_steps = 0;
    cfg.adaptive = false;
    t->full_same += pl_wl_run(w, &cfg, seed + 1000000007u, 1000000, &again_steps) == full;
    t->ratio[t->runs++] = full_steps > 0 ? (double)ad_steps / (double)full_steps : NAN;
    if (getenv("DBG") && w->noise == 0 && ad != full) {
        char b[128];
        fprintf(stderr, "differs: %s limits %zu full %u adaptive %u\n",
                zeus_selector_describe(&cfg.selector, b, sizeof b), w->count, full, ad);
    }
    if (ad == full && full != 0) {
        t->same++;
        return;
    }
    double world = cfg.selector.world_size > 0 ? cfg.selector.world_size : 1;
    double mp = (double)(cfg.max_limit_mw / 1000) * world;
    double a = objective(&cfg.selector, w, ad, mp), f = objective(&cfg.selector, w, full, mp);
    t->lost[t->lost_count++] = ad == 0 ? INFINITY : (a - f) / f;
}

static void report(tally *t)
{
    double mean = 0;
    for (size_t i = 0; i < t->runs; i++)
        mean += t->ratio[i];
    mean /= (double)t->runs;
    printf("%-34s %6zu runs  same limit %6.2f %%  steps vs full: mean %5.1f %%  "
           "p10 %5.1f  p50 %5.1f  p90 %5.1f  max %5.1f %%\n",
           t->name, t->runs, 100.0 * (double)t->same / (double)t->runs, 100 * mean,
           100 * pct(t->ratio, t->runs, 0.1), 100 * pct(t->ratio, t->runs, 0.5),
           100 * pct(t->ratio, t->runs, 0.9), 100 * pct(t->ratio, t->runs, 1.0));
    printf("%-34s full profiling agrees with itself (another noise draw) in %.2f %%\n", "",
           100.0 * (double)t->full_same / (double)t->runs);
    if (t->lost_count)
        printf("%-34s where different (%zu): cost lost p50 %+.2f %%  p90 %+.2f %%  max %+.2f %%\n",
               "", t->lost_count, 100 * pct(t->lost, t->lost_count, 0.5),
               100 * pct(t->lost, t->lost_count, 0.9), 100 * pct(t->lost, t->lost_count, 1.0));
}

static size_t selectors(unsigned world, zeus_optimum_selector *out)
{
    size_t n = 0;
    for (int i = 0; i < PL_ETA_COUNT; i++)
        zeus_selector_zeus_cost(pl_etas[i], (int)world, &out[n++]);
    out[n++] = zeus_selector_energy();
    out[n++] = zeus_selector_time();
    for (int i = 0; i < PL_FACTOR_COUNT; i++)
        zeus_selector_max_slowdown(pl_factors[i], &out[n++]);
    return n;
}

static zeus_pl_fsm_config base_cfg(unsigned min_w, unsigned max_w)
{
    return (zeus_pl_fsm_config){.wait_steps = 1,
                                .warmup_steps = 10,
                                .profile_steps = 40,
                                .pl_step_w = 25,
                                .min_limit_mw = min_w * 1000,
                                .max_limit_mw = max_w * 1000};
}

/* Time flat above the demand d, (d / p)^alpha below; power min(p, d) x busy + idle. */
static void synthesize(pl_workload *w, zeus_rng *r, unsigned *max_w, unsigned *world)
{
    static const unsigned maxima[] = {150, 250, 300, 400};
    static const unsigned worlds[] = {1, 2, 4};
    *max_w = maxima[zeus_rng_bounded(r, 2)];
    *world = worlds[zeus_rng_bounded(r, 2)];
    double t0 = 0.05 + 0.5 * zeus_rng_next_double(r);
    double d = (0.5 + 0.55 * zeus_rng_next_double(r)) * *max_w;
    double alpha = 0.4 + 0.9 * zeus_rng_next_double(r);
    double busy = 0.8 + 0.2 * zeus_rng_next_double(r);
    double idle = (0.05 + 0.25 * zeus_rng_next_double(r)) * *max_w;
    w->count = 0;
    for (unsigned p = *max_w; p >= 100; p -= 25) {
        double t = t0 * (p >= d ? 1.0 : pow(d / p, alpha));
        double power = (p < d ? p : d) * busy + idle;
        w->truth[w->count++] = (zeus_power_limit_measurement){
            .power_limit_w = p, .time_s = 40 * t, .energy_j = 40 * t * power * *world};
    }
    w->noise = 0.005 + 0.045 * zeus_rng_next_double(r);
}

int main(int argc, char **argv)
{
    int workloads = 1000;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--workloads") == 0 && i + 1 < argc)
            workloads = atoi(argv[++i]);
    static pl_workload w;
    static tally rec0 = {.name = "recorded logs, no noise"},
                 rec2 = {.name = "recorded logs, 2 % step noise"},
                 syn = {.name = "synthetic workloads"}, all = {.name = "all"};
    zeus_optimum_selector sel[32];
    for (size_t c = 0; c < PL_CASE_COUNT; c++) {
        w.count = pl_case_read(&pl_cases[c], w.truth, PL_WL_MAX_LIMITS);
        size_t ns = selectors(pl_cases[c].gpus, sel);
        for (size_t s = 0; s < ns; s++) {
            zeus_pl_fsm_config cfg = base_cfg(pl_cases[c].min_w, pl_cases[c].max_w);
            cfg.selector = sel[s];
            w.noise = 0;
            one(&rec0, &w, cfg, 1);
            one(&all, &w, cfg, 1);
            w.noise = 0.02;
            for (uint64_t seed = 1; seed <= 20; seed++) {
                one(&rec2, &w, cfg, seed * 7919 + c * 131 + s);
                one(&all, &w, cfg, seed * 7919 + c * 131 + s);
            }
        }
    }
    zeus_rng r;
    zeus_rng_seed(&r, 2026);
    for (int i = 0; i < workloads; i++) {
        unsigned max_w, world;
        synthesize(&w, &r, &max_w, &world);
        selectors(world, sel);
        zeus_pl_fsm_config cfg = base_cfg(100, max_w);
        cfg.selector = sel[zeus_rng_bounded(&r, 14)];
        one(&syn, &w, cfg, 100000 + (uint64_t)i);
        one(&all, &w, cfg, 100000 + (uint64_t)i);
    }
    printf("adaptive vs full power-limit profiling (warmup 10, profile 40, 25 W steps)\n");
    report(&rec0);
    report(&rec2);
    report(&syn);
    report(&all);
    return 0;
}
