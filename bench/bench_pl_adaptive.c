/* Adaptive power-limit profiling against full profiling (docs/power-limit.md, "Adaptive
 * profiling"), both driving the real state machine (power_limit_fsm.c) over the same simulated
 * workloads, each run with its own noise draws:
 *
 *   1. the 12 recorded profile logs in data/profile_data x every selector (ZeusCost at eta 0,
 *      0.25, 0.5, 0.75, 1; Energy; Time; MaxSlowdown at 8 factors): replayed without noise,
 *      then with 2 % step-time noise (20 seeds each);
 *   2. 1,000 synthetic workloads (time flat above a power demand and growing below it, energy
 *      U-shaped, 1-4 GPUs, 150-400 W maxima) with 0.5-5 % step-time noise and a random selector.
 *
 * For each: how often adaptive chooses full profiling's limit (beside how often full profiling
 * agrees with itself under another draw, and with the noise-free optimum: the most any method
 * could agree), the steps it takes (warmup and profiling, from the first limit set to Done) as a
 * fraction of full's, where the choice differs the cost lost (the selector's objective under the
 * noise-free truth; energy for MaxSlowdown), and for both modes the cost regret against the true
 * optimum (ZeusCost, Energy, Time) and how often MaxSlowdown's bound is truly broken.
 *
 *   ./build/bench/bench_pl_adaptive [--workloads N] [--budget X] [--rel-tol X] [--z X]
 *       [--chunk N] [--pool-df N] [--margin X] [--screen X] [--revisit X] [--epsilon X] [--stride
 * N] (the options set adaptive profiling's internals; the defaults are the library's). */
#include "../tests/integration/pl_workload.h"
#include "../tests/integration/power_limit_cases.h"
#include "zeus/cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 20000

typedef struct {
    const char *name;
    size_t runs, same;
    size_t full_same;       /* full profiling agreeing with itself under another noise draw */
    size_t full_true;       /* full profiling choosing the noise-free truth's limit */
    double ratio[MAX_RUNS]; /* adaptive steps / full steps */
    double lost[MAX_RUNS];  /* where the choice differs: adaptive's objective over full's */
    size_t lost_count;
    /* ZeusCost, Energy, Time: the chosen limit's true cost over the true optimum's, - 1. */
    double regret_ad[MAX_RUNS], regret_full[MAX_RUNS];
    size_t cost_runs;
    /* MaxSlowdown: the chosen limit's true time breaks the constraint; its true energy over
     * the truth's choice's, - 1. */
    size_t slow_runs, broken_ad, broken_full;
    double slow_energy_ad, slow_energy_full;
} tally;

/* The adaptive configuration every run uses (the defaults, or what the options set). */
static zeus_pl_adaptive_config adaptive_cfg;
static bool adaptive_cfg_set;

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

static double mean_of(const double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return n ? sum / (double)n : NAN;
}

static const zeus_power_limit_measurement *at(const pl_workload *w, unsigned limit_w)
{
    for (size_t i = 0; i < w->count; i++)
        if (w->truth[i].power_limit_w == limit_w)
            return &w->truth[i];
    return NULL;
}

/* The selector's objective under the noise-free truth (energy for MaxSlowdown). */
static double objective(const zeus_pl_fsm_config *cfg, const pl_workload *w, unsigned limit_w)
{
    const zeus_optimum_selector *s = &cfg->selector;
    const zeus_power_limit_measurement *m = at(w, limit_w);
    double world = s->world_size > 0 ? s->world_size : 1;
    if (!m)
        return INFINITY;
    switch (s->kind) {
    case ZEUS_SELECTOR_ZEUS_COST:
        return zeus_cost(m->energy_j, m->time_s, s->eta_knob,
                         (double)(cfg->max_limit_mw / 1000) * world);
    case ZEUS_SELECTOR_TIME:
        return m->time_s;
    default:
        return m->energy_j;
    }
}

/* How the two modes' choices compare with the truth (the selector on the noise-free costs). */
static void score(tally *t, const zeus_pl_fsm_config *cfg, const pl_workload *w, unsigned full,
                  unsigned ad)
{
    unsigned truth = 0;
    if (zeus_selector_select(&cfg->selector, w->truth, w->count, &truth) != ZEUS_OK)
        return;
    t->full_true += full == truth;
    double best = objective(cfg, w, truth);
    double rf = objective(cfg, w, full) / best - 1, ra = objective(cfg, w, ad) / best - 1;
    if (cfg->selector.kind != ZEUS_SELECTOR_MAX_SLOWDOWN) {
        t->regret_full[t->cost_runs] = rf;
        t->regret_ad[t->cost_runs++] = ra;
        return;
    }
    double bound = cfg->selector.factor * w->truth[0].time_s * (1 + 1e-9);
    t->slow_runs++;
    t->broken_full += !at(w, full) || at(w, full)->time_s > bound;
    t->broken_ad += !at(w, ad) || at(w, ad)->time_s > bound;
    t->slow_energy_full += rf;
    t->slow_energy_ad += ra;
}

/* One workload and selector: full profiling, adaptive profiling and full profiling again, each
 * with its own noise draws (sharing them would make two runs agree more than they can). */
static void one(tally *t, pl_workload *w, zeus_pl_fsm_config cfg, uint64_t seed)
{
    if (t->runs >= MAX_RUNS)
        return;
    long full_steps = 0, ad_steps = 0, again_steps = 0;
    cfg.adaptive = false;
    unsigned full = pl_wl_run(w, &cfg, seed, 1000000, &full_steps);
    t->full_same += pl_wl_run(w, &cfg, seed + 1000000007u, 1000000, &again_steps) == full;
    cfg.adaptive = true;
    cfg.adaptive_cfg =
        adaptive_cfg_set ? adaptive_cfg : zeus__pl_adaptive_defaults(cfg.profile_steps);
    unsigned ad = pl_wl_run(w, &cfg, seed + 2000000011u, 1000000, &ad_steps);
    t->ratio[t->runs++] = full_steps > 0 ? (double)ad_steps / (double)full_steps : NAN;
    score(t, &cfg, w, full, ad);
    if (ad == full && full != 0) {
        t->same++;
        return;
    }
    double a = objective(&cfg, w, ad), f = objective(&cfg, w, full);
    t->lost[t->lost_count++] = (a - f) / f;
}

static void report_regret(const char *mode, double *r, size_t n)
{
    size_t over = 0;
    for (size_t i = 0; i < n; i++)
        over += r[i] > 0.01;
    double mean = mean_of(r, n);
    printf("%-6s cost regret (ZeusCost/Energy/Time, %zu runs): mean %6.3f %%  p90 %6.3f  "
           "p99 %6.3f  max %6.2f %%; over 1 %% in %5.2f %% of runs\n",
           mode, n, 100 * mean, 100 * pct(r, n, 0.9), 100 * pct(r, n, 0.99), 100 * pct(r, n, 1.0),
           100.0 * (double)over / (double)n);
}

static void report(tally *t)
{
    printf("\n%s: %zu runs\n", t->name, t->runs);
    printf("same limit as full: %6.2f %%   (full vs full under another noise draw: %.2f %%; "
           "full vs the noise-free optimum, the most a method that knew the true costs would "
           "agree: %.2f %%)\n",
           100.0 * (double)t->same / (double)t->runs,
           100.0 * (double)t->full_same / (double)t->runs,
           100.0 * (double)t->full_true / (double)t->runs);
    printf("steps vs full: mean %5.1f %%  p10 %5.1f  p50 %5.1f  p90 %5.1f  max %5.1f %%\n",
           100 * mean_of(t->ratio, t->runs), 100 * pct(t->ratio, t->runs, 0.1),
           100 * pct(t->ratio, t->runs, 0.5), 100 * pct(t->ratio, t->runs, 0.9),
           100 * pct(t->ratio, t->runs, 1.0));
    if (t->lost_count)
        printf("where different (%zu): adaptive's objective vs full's p10 %+.2f %%  p50 %+.2f %%  "
               "p90 %+.2f %%  max %+.2f %%\n",
               t->lost_count, 100 * pct(t->lost, t->lost_count, 0.1),
               100 * pct(t->lost, t->lost_count, 0.5), 100 * pct(t->lost, t->lost_count, 0.9),
               100 * pct(t->lost, t->lost_count, 1.0));
    report_regret("full", t->regret_full, t->cost_runs);
    report_regret("adapt.", t->regret_ad, t->cost_runs);
    if (t->slow_runs)
        printf("MaxSlowdown (%zu runs): constraint broken (true time) full %.2f %%, adaptive "
               "%.2f %%; energy vs the true choice's: full %+.3f %%, adaptive %+.3f %%\n",
               t->slow_runs, 100.0 * (double)t->broken_full / (double)t->slow_runs,
               100.0 * (double)t->broken_ad / (double)t->slow_runs,
               100 * t->slow_energy_full / (double)t->slow_runs,
               100 * t->slow_energy_ad / (double)t->slow_runs);
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
    *max_w = maxima[zeus_rng_bounded(r, 3)];
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

/* --workloads N and the adaptive configuration's knobs (the library's defaults otherwise). */
static int parse_options(int argc, char **argv, int *workloads)
{
    adaptive_cfg = zeus__pl_adaptive_defaults(40);
    zeus_pl_adaptive_config *c = &adaptive_cfg;
    const struct {
        const char *flag;
        double *real;
        int *count;
    } knobs[] = {{"--workloads", NULL, workloads},
                 {"--rel-tol", &c->rel_tol, NULL},
                 {"--z", &c->z, NULL},
                 {"--budget", &c->budget, NULL},
                 {"--chunk", NULL, &c->chunk_steps},
                 {"--pool-df", NULL, &c->pool_df},
                 {"--margin", &c->stop_margin, NULL},
                 {"--screen", &c->screen, NULL},
                 {"--revisit", &c->revisit_factor, NULL},
                 {"--epsilon", &c->epsilon, NULL},
                 {"--stride", NULL, &c->stride}};
    size_t n = sizeof knobs / sizeof knobs[0];
    for (int i = 1; i < argc; i += 2) {
        size_t k = 0;
        while (k < n && strcmp(argv[i], knobs[k].flag) != 0)
            k++;
        if (k == n || i + 1 >= argc) {
            fprintf(stderr, "usage: bench_pl_adaptive [--workloads N] [--rel-tol X] [--z X] "
                            "[--budget X] [--chunk N] [--pool-df N] [--margin X] [--screen X] "
                            "[--revisit X] [--epsilon X] [--stride N]\n");
            return -1;
        }
        if (knobs[k].real)
            *knobs[k].real = atof(argv[i + 1]);
        else
            *knobs[k].count = atoi(argv[i + 1]);
        adaptive_cfg_set = adaptive_cfg_set || k > 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int workloads = 1000;
    if (parse_options(argc, argv, &workloads) != 0)
        return 2;
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
    zeus_pl_adaptive_config d = adaptive_cfg_set ? adaptive_cfg : zeus__pl_adaptive_defaults(40);
    printf("adaptive: chunk %d, rel_tol %g, z %g, stride %d, pool_df %d, screen %g, revisits to "
           "%g x, budget %g, epsilon %g, stop margin %g\n",
           d.chunk_steps, d.rel_tol, d.z, d.stride, d.pool_df, d.screen, d.revisit_factor, d.budget,
           d.epsilon, d.stop_margin);
    report(&rec0);
    report(&rec2);
    report(&syn);
    report(&all);
    return 0;
}
