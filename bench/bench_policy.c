/* Benchmark of the batch-size policies: walk-ts against the original's pruning + Gaussian
 * Thompson sampling (pruning-gts) on the same traces, jobs and seeds.
 *
 *   bench_policy [TRACE_DIR [GROUPS_CSV [SEEDS [MORE_SEEDS]]]]
 *
 * 1. The 24 paper-default configurations (every GPU with run_alibaba.py's default job of each
 *    dataset, 2 x |B| x |P| recurrences), seeds 1..SEEDS (5): per configuration the mean
 *    cumulative cost of each policy, its regret above the oracle and the ratio walk-ts /
 *    pruning-gts; the goal is a ratio below 1 on >= 22 of 24 and never above 1.02.
 * 2. The same verdict over seeds 1..MORE_SEEDS (20), to see that it is not the luck of 5.
 * 3. The synthetic Alibaba-style groups on each GPU (concurrent submissions): total regret.
 * 4. Time per simulated run of each policy (the 24 configurations, seed 1). */
#include "zeus/simulate.h"
#include "zeus/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const gpus[] = {"v100", "a40", "p100", "rtx6000"};
static const char *const datasets[] = {"cifar100",    "imagenet",     "squad",
                                       "librispeech", "movielens-1m", "sentiment140"};
static const int policies[] = {ZEUS_BSO_POLICY_PRUNING_GTS, ZEUS_BSO_POLICY_WALK_TS};

static void die(const char *what)
{
    fprintf(stderr, "bench_policy: %s: %s\n", what, zeus_last_error());
    exit(1);
}

/* Cumulative cost of one simulation; *runs += its runs. */
static double simulate(const zeus_trace *t, const zeus_job *job, size_t n, int policy,
                       uint64_t seed, size_t *runs)
{
    zeus_sim_params p;
    zeus_sim_params_default(&p);
    p.seed = p.bso.seed = seed;
    p.bso.policy = policy;
    zeus_sim_history h = {0};
    if (zeus_simulate_one_job(t, job, n, &p, &h) != ZEUS_OK)
        die(job->dataset);
    double cost = 0;
    for (size_t i = 0; i < h.n; i++)
        cost += h.runs[i].cost;
    *runs += h.n;
    zeus_sim_history_free(&h);
    return cost;
}

typedef struct {
    size_t lower;
    double worst, log_sum;
} verdict;

/* Every configuration over seeds 1..seeds; prints the table when print. */
static verdict configurations(zeus_trace *const traces[4], unsigned seeds, bool print)
{
    verdict v = {0, 0, 0};
    if (print)
        printf("%-8s %-13s %5s %14s %8s %14s %8s %7s\n", "gpu", "dataset", "recur", "pruning-gts J",
               "regret", "walk-ts J", "regret", "ratio");
    for (size_t c = 0; c < 24; c++) {
        const zeus_trace *t = traces[c / 6];
        zeus_job job;
        size_t nb, np, runs = 0;
        zeus_sim_choice oracle, dflt;
        if (zeus_alibaba_job(t, datasets[c % 6], &job) != ZEUS_OK ||
            zeus_trace_job_space(t, &job, &nb, &np) != ZEUS_OK ||
            zeus_trace_oracle(t, &job, 0.5, &oracle, &dflt) != ZEUS_OK)
            die(datasets[c % 6]);
        size_t n = 2 * nb * np;
        double cost[2] = {0, 0};
        for (size_t k = 0; k < 2; k++)
            for (unsigned s = 1; s <= seeds; s++)
                cost[k] += simulate(t, &job, n, policies[k], s, &runs) / seeds;
        double ratio = cost[1] / cost[0], base = (double)n * oracle.cost;
        v.lower += ratio < 1;
        v.worst = fmax(v.worst, ratio);
        v.log_sum += log(ratio);
        if (print)
            printf("%-8s %-13s %5zu %14.6g %7.2f%% %14.6g %7.2f%% %7.4f\n", gpus[c / 6],
                   datasets[c % 6], n, cost[0], 100 * (cost[0] - base) / base, cost[1],
                   100 * (cost[1] - base) / base, ratio);
    }
    return v;
}

static void print_verdict(const char *what, verdict v)
{
    printf("%s: walk-ts lower on %zu of 24, worst ratio %.4f, geometric mean %.4f\n", what, v.lower,
           v.worst, exp(v.log_sum / 24));
}

static void groups(zeus_trace *const traces[4], const zeus_groups *g)
{
    size_t n = zeus_groups_count(g);
    printf(
        "\nAlibaba-style groups (%zu groups, concurrent submissions): regret above the oracles\n",
        n);
    for (size_t i = 0; i < 4; i++) {
        printf("  %-8s", gpus[i]);
        for (size_t k = 0; k < 2; k++) {
            zeus_group_result *r;
            zeus_sim_summary total, *per = calloc(n, sizeof *per);
            if (!per ||
                zeus_simulate_alibaba_policy(traces[i], g, 0.5, 2.0, policies[k], 0, &r) !=
                    ZEUS_OK ||
                zeus_sim_summarize_alibaba(traces[i], g, r, 0.5, per, &total) != ZEUS_OK)
                die("groups");
            printf("  %s %.2f %%", zeus_bso_policy_name(policies[k]), total.regret_pct);
            zeus_group_results_free(r, n);
            free(per);
        }
        printf("\n");
    }
}

static void timing(zeus_trace *const traces[4])
{
    printf("\ntime per simulated run (24 configurations, seed 1, 20 passes):");
    for (size_t k = 0; k < 2; k++) {
        size_t runs = 0;
        int64_t t0 = zeus_now_ns();
        for (int pass = 0; pass < 20; pass++) {
            for (size_t c = 0; c < 24; c++) {
                zeus_job job;
                size_t nb, np;
                if (zeus_alibaba_job(traces[c / 6], datasets[c % 6], &job) != ZEUS_OK ||
                    zeus_trace_job_space(traces[c / 6], &job, &nb, &np) != ZEUS_OK)
                    die("timing");
                simulate(traces[c / 6], &job, 2 * nb * np, policies[k], 1, &runs);
            }
        }
        printf("  %s %.2f us", zeus_bso_policy_name(policies[k]),
               (double)(zeus_now_ns() - t0) / 1e3 / (double)runs);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ZEUS_DATA_DIR "/nsdi23-traces";
    const char *groups_csv = argc > 2 ? argv[2] : ZEUS_DATA_DIR "/alibaba_groups_synth.csv";
    unsigned seeds = argc > 3 ? (unsigned)atoi(argv[3]) : 5;
    unsigned more = argc > 4 ? (unsigned)atoi(argv[4]) : 20;
    if (seeds < 1 || more < 1) {
        fprintf(stderr, "usage: bench_policy [TRACE_DIR [GROUPS_CSV [SEEDS [MORE_SEEDS]]]]\n");
        return 2;
    }
    zeus_trace *traces[4];
    zeus_groups *g;
    for (size_t i = 0; i < 4; i++)
        if (zeus_trace_load_dir(dir, gpus[i], &traces[i]) != ZEUS_OK)
            die(dir);
    if (zeus_groups_load(groups_csv, &g) != ZEUS_OK)
        die(groups_csv);
    printf("walk-ts against pruning-gts: mean cumulative cost over seeds 1-%u, eta 0.5, beta 2\n",
           seeds);
    char what[64];
    snprintf(what, sizeof what, "seeds 1-%u", seeds);
    print_verdict(what, configurations(traces, seeds, true));
    snprintf(what, sizeof what, "seeds 1-%u", more);
    print_verdict(what, configurations(traces, more, false));
    groups(traces, g);
    timing(traces);
    zeus_groups_destroy(g);
    for (size_t i = 0; i < 4; i++)
        zeus_trace_destroy(traces[i]);
    return 0;
}
