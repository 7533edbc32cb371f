/* zeus simulate compare: batch-size policies side by side on the same configurations and seeds
 * (the original's pruning-gts always first, as the reference), with their regret curves as a
 * picture. */
#include "cli/simulate.h"

#include "zeus/simulate.h"
#include "zeus/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const all_gpus[] = {"v100", "a40", "p100", "rtx6000"};
static const char *const all_datasets[] = {"cifar100",    "imagenet",     "squad",
                                           "librispeech", "movielens-1m", "sentiment140"};
#define N_GPUS 4
#define N_DATASETS 6
#define CURVE_POINTS 101 /* --all: the share of recurrences, 0 to 100 % */

typedef struct {
    const char *gpu;
    zeus_job job;
    size_t n_rec;
    double oracle_cost;                   /* NaN: no oracle */
    double cost[SIM_MAX_POLICIES + 1];    /* mean cumulative cost over the seeds */
    double *regret[SIM_MAX_POLICIES + 1]; /* mean cumulative regret per recurrence */
} config;

typedef struct {
    const sim_options *o;
    int policies[SIM_MAX_POLICIES + 1]; /* pruning-gts, then the options' */
    size_t n_policies;
    zeus_trace *traces[N_GPUS];
    config *configs;
    size_t n_configs;
} compare;

static void compare_free(compare *c)
{
    for (size_t i = 0; i < c->n_configs; i++)
        for (size_t p = 0; p < c->n_policies; p++)
            free(c->configs[i].regret[p]);
    free(c->configs);
    for (size_t g = 0; g < N_GPUS; g++)
        zeus_trace_destroy(c->traces[g]);
}

static size_t gpu_index(const char *gpu)
{
    size_t g = 0;
    while (g < N_GPUS && strcmp(all_gpus[g], gpu) != 0)
        g++;
    return g;
}

/* The configurations: the options' one job, or the 24 paper defaults. */
static int make_configs(compare *c)
{
    const sim_options *o = c->o;
    size_t n = o->all ? N_GPUS * N_DATASETS : 1;
    c->configs = calloc(n, sizeof *c->configs);
    if (!c->configs)
        return cli_error(CLI_FAIL, "simulate compare: out of memory");
    for (size_t i = 0; i < n; i++) {
        config *cf = &c->configs[i];
        cf->gpu = o->all ? all_gpus[i / N_DATASETS] : o->gpu;
        size_t g = gpu_index(cf->gpu);
        int rc = ZEUS_OK;
        if (!c->traces[g] && (rc = zeus_trace_load_dir(o->trace_dir, cf->gpu, &c->traces[g])))
            return cli_lib_error(CLI_FAIL, rc, "cannot load the traces");
        if (o->all)
            rc = zeus_alibaba_job(c->traces[g], all_datasets[i % N_DATASETS], &cf->job);
        else
            rc = zeus_job_init(&cf->job, o->dataset, o->model, o->optimizer, o->target,
                               (int)o->max_epochs, (int)o->b0, NAN);
        if (rc != ZEUS_OK)
            return cli_lib_error(CLI_USAGE, rc, "simulate compare");
        c->n_configs = i + 1;
        size_t nb = 0, np = 0;
        rc = zeus_trace_job_space(c->traces[g], &cf->job, &nb, &np);
        if (rc != ZEUS_OK)
            return cli_lib_error(CLI_FAIL, rc, "simulate compare");
        cf->n_rec = o->num_recurrence >= 0 ? (size_t)o->num_recurrence : 2 * nb * np;
        zeus_sim_choice oracle, dflt;
        rc = zeus_trace_oracle(c->traces[g], &cf->job, o->eta, &oracle, &dflt);
        cf->oracle_cost = rc == ZEUS_OK ? oracle.cost : NAN;
    }
    return CLI_OK;
}

/* Every policy on every seed of one configuration: the means of the cost and regret curves. */
static int simulate_config(const compare *c, config *cf, double *cum, double *regret)
{
    const sim_options *o = c->o;
    const zeus_trace *trace = c->traces[gpu_index(cf->gpu)];
    char name[4 * ZEUS_JOB_NAME_MAX];
    for (size_t p = 0; p < c->n_policies; p++) {
        cf->regret[p] = calloc(cf->n_rec ? cf->n_rec : 1, sizeof *cf->regret[p]);
        if (!cf->regret[p])
            return cli_error(CLI_FAIL, "simulate compare: out of memory");
        for (long s = 0; s < o->seeds; s++) {
            zeus_sim_params params;
            zeus_sim_params_default(&params);
            params.eta_knob = o->eta;
            params.beta_knob = o->beta;
            params.seed = params.bso.seed = o->seed + (uint64_t)s;
            params.bso.policy = c->policies[p];
            if (o->fast && c->policies[p] == ZEUS_BSO_POLICY_PRUNING_GTS)
                params.bso.moments = ZEUS_BSO_MOMENTS_RUNNING;
            zeus_sim_history h = {0};
            int rc = zeus_simulate_one_job(trace, &cf->job, cf->n_rec, &params, &h);
            if (rc == ZEUS_OK)
                rc = zeus_sim_curves(&h, cf->n_rec, cf->oracle_cost, NULL, cum, regret, NULL);
            zeus_sim_history_free(&h);
            if (rc != ZEUS_OK)
                return cli_lib_error(CLI_FAIL, rc, zeus_job_format(&cf->job, name, sizeof name));
            cf->cost[p] += (cf->n_rec ? cum[cf->n_rec - 1] : 0) / (double)o->seeds;
            for (size_t r = 0; r < cf->n_rec; r++)
                cf->regret[p][r] += regret[r] / (double)o->seeds;
        }
    }
    return CLI_OK;
}

static int simulate_all(compare *c)
{
    size_t longest = 1;
    for (size_t i = 0; i < c->n_configs; i++)
        if (c->configs[i].n_rec > longest)
            longest = c->configs[i].n_rec;
    double *buf = malloc(2 * longest * sizeof *buf);
    if (!buf)
        return cli_error(CLI_FAIL, "simulate compare: out of memory");
    int rc = CLI_OK;
    for (size_t i = 0; i < c->n_configs && rc == CLI_OK; i++)
        rc = simulate_config(c, &c->configs[i], buf, buf + longest);
    free(buf);
    return rc;
}

/* ---- the table --------------------------------------------------------------------------------
 */

static void print_config(FILE *out, const compare *c, const config *cf)
{
    char name[4 * ZEUS_JOB_NAME_MAX];
    fprintf(out, "\n  %s %s, %zu recurrences\n", cf->gpu,
            zeus_job_format(&cf->job, name, sizeof name), cf->n_rec);
    for (size_t p = 0; p < c->n_policies; p++) {
        double oracle_total = (double)cf->n_rec * cf->oracle_cost;
        char cost[32];
        snprintf(cost, sizeof cost, "%.6g J", cf->cost[p]);
        fprintf(out, "    %-12s cumulative cost %-15s regret ",
                zeus_bso_policy_name(c->policies[p]), cost);
        if (isnan(cf->oracle_cost) || oracle_total <= 0)
            fprintf(out, "%9s", "-");
        else
            fprintf(out, "%7.2f %%", 100 * (cf->cost[p] - oracle_total) / oracle_total);
        fprintf(out, "  ratio %.4f\n", cf->cost[0] > 0 ? cf->cost[p] / cf->cost[0] : NAN);
    }
}

/* Per policy other than the reference: on how many configurations it costs less, the worst and
 * the geometric mean of its ratios. */
static void print_verdicts(FILE *out, const compare *c)
{
    for (size_t p = 1; p < c->n_policies; p++) {
        size_t lower = 0;
        double worst = 0, log_sum = 0;
        for (size_t i = 0; i < c->n_configs; i++) {
            const config *cf = &c->configs[i];
            double ratio = cf->cost[0] > 0 ? cf->cost[p] / cf->cost[0] : 1.0;
            lower += ratio < 1;
            worst = ratio > worst ? ratio : worst;
            log_sum += log(ratio);
        }
        fprintf(out,
                "  %s: lower cumulative cost than pruning-gts on %zu of %zu configuration%s; "
                "ratio worst %.4f, geometric mean %.4f\n",
                zeus_bso_policy_name(c->policies[p]), lower, c->n_configs,
                c->n_configs == 1 ? "" : "s", worst, exp(log_sum / (double)c->n_configs));
    }
}

/* ---- --plot -------------------------------------------------------------------------------- */

/* --all: per GPU and policy, the regret in % of the oracle's cumulative cost at each share of
 * the recurrences, averaged over the GPU's configurations that have an oracle. */
static void share_curve(const compare *c, size_t g, size_t p, double *y)
{
    for (size_t k = 0; k < CURVE_POINTS; k++) {
        double sum = 0;
        size_t n = 0;
        for (size_t i = 0; i < c->n_configs; i++) {
            const config *cf = &c->configs[i];
            if (gpu_index(cf->gpu) != g || isnan(cf->oracle_cost) || cf->oracle_cost <= 0 ||
                cf->n_rec == 0)
                continue;
            size_t r = (size_t)llround((double)k / (CURVE_POINTS - 1) * (double)(cf->n_rec - 1));
            sum += 100 * cf->regret[p][r] / ((double)(r + 1) * cf->oracle_cost);
            n++;
        }
        y[k] = n ? sum / (double)n : NAN;
    }
}

static int plot(const compare *c)
{
    const sim_options *o = c->o;
    bool shares = c->n_configs > 1;
    if (!shares && isnan(c->configs[0].oracle_cost))
        return cli_error(CLI_FAIL, "--plot: the job has no oracle (no batch size and power limit "
                                   "always reaches the target), so no regret to draw");
    size_t n_panels = shares ? N_GPUS : 1;
    size_t len = shares ? CURVE_POINTS : (c->configs[0].n_rec ? c->configs[0].n_rec : 1);
    double *buf = calloc(len * (1 + n_panels * c->n_policies), sizeof *buf);
    zeus_plot_series series[N_GPUS][SIM_MAX_POLICIES + 1];
    zeus_plot_panel panels[N_GPUS];
    char titles[N_GPUS][64];
    if (!buf)
        return cli_error(CLI_FAIL, "simulate compare: out of memory");
    double *x = buf;
    for (size_t k = 0; k < len; k++)
        x[k] = shares ? (double)k * 100 / (CURVE_POINTS - 1) : (double)k + 1;
    for (size_t g = 0; g < n_panels; g++) {
        for (size_t p = 0; p < c->n_policies; p++) {
            double *y = buf + len * (1 + g * c->n_policies + p);
            if (shares)
                share_curve(c, g, p, y);
            else
                memcpy(y, c->configs[0].regret[p], c->configs[0].n_rec * sizeof *y);
            series[g][p] =
                (zeus_plot_series){zeus_bso_policy_name(c->policies[p]), x, y, len, false, p == 0};
        }
        snprintf(titles[g], sizeof titles[g], "%s: regret, %% of the oracle's cost",
                 shares ? all_gpus[g] : c->configs[0].gpu);
        panels[g] = (zeus_plot_panel){shares ? "share of the recurrences, %" : "recurrence",
                                      shares ? titles[g] : "cumulative regret",
                                      ZEUS_PLOT_UNIT_NONE,
                                      shares ? ZEUS_PLOT_UNIT_NONE : ZEUS_PLOT_UNIT_JOULES,
                                      series[g],
                                      c->n_policies};
    }
    char title[512], name[4 * ZEUS_JOB_NAME_MAX];
    snprintf(title, sizeof title, "zeus simulate compare: %s, eta %g, %ld seed%s",
             shares ? "the 24 paper-default configurations"
                    : zeus_job_format(&c->configs[0].job, name, sizeof name),
             o->eta, o->seeds, o->seeds == 1 ? "" : "s");
    /* An explicit height: the PNG rasterizer needs the size */
    zeus_plot_chart chart = {title, panels, n_panels, 960, (unsigned)(100 + 320 * n_panels)};
    int rc = cli_write_chart(&chart, o->plot, o->plot_format);
    free(buf);
    return rc;
}

int cli_simulate_compare(const sim_options *o)
{
    compare c = {.o = o, .policies = {ZEUS_BSO_POLICY_PRUNING_GTS}, .n_policies = 1};
    for (size_t i = 0; i < o->n_policies; i++)
        c.policies[c.n_policies++] = o->policies[i];
    int rc = make_configs(&c);
    if (rc == CLI_OK)
        rc = simulate_all(&c);
    if (rc == CLI_OK) {
        char num[ZEUS_DOUBLE_BUF];
        printf("zeus simulate compare: %zu configuration%s, seeds %" PRIu64 "-%" PRIu64
               " (means), eta %g, beta %s\n",
               c.n_configs, c.n_configs == 1 ? "" : "s", o->seed, o->seed + (uint64_t)o->seeds - 1,
               o->eta, zeus_format_double(o->beta, num, sizeof num));
        printf("  (regret: cost above the oracle knobs' expected cost, in %% of it; ratio: "
               "cumulative cost / pruning-gts's)\n");
        for (size_t i = 0; i < c.n_configs; i++)
            print_config(stdout, &c, &c.configs[i]);
        printf("\n");
        print_verdicts(stdout, &c);
        if (fflush(stdout) != 0 || ferror(stdout))
            rc = cli_error(CLI_FAIL, "simulate compare: error writing the table");
    }
    if (rc == CLI_OK && o->plot)
        rc = plot(&c);
    compare_free(&c);
    return rc;
}
