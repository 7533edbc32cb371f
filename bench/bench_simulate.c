/* Benchmark of the trace-driven simulator.
 *
 *   bench_simulate [TRACE_DIR [GROUPS_CSV [SECONDS]]]
 *
 * 1. Loads the four GPU traces (timed).
 * 2. Simulates all 24 GPU x workload configurations with run_alibaba.py's default jobs,
 *    seed 1 and 2 x |B| x |P| recurrences (what run_single.py does per configuration),
 *    repeating the whole set for about SECONDS (default 2), and reports the time per
 *    simulated run against the original's 7.9 ms per run (about 22.7 s for the set).
 * 3. Simulates every group of the synthetic Alibaba-style trace on the four GPUs, on one
 *    thread and on one thread per CPU.
 * Every repetition is checked to produce the same histories. */
#include "core/internal.h"
#include "zeus/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORIGINAL_MS_PER_RUN 7.9

static const char *const gpus[] = {"v100", "a40", "p100", "rtx6000"};
static const char *const datasets[] = {"cifar100",    "imagenet",     "squad",
                                       "librispeech", "movielens-1m", "sentiment140"};

static double checksum(const zeus_sim_history *h)
{
    double s = 0;
    for (size_t i = 0; i < h->n; i++)
        s += h->runs[i].energy_j + h->runs[i].time_s + h->runs[i].batch_size;
    return s;
}

/* One pass over the 24 configurations; returns the number of runs. */
static size_t all_configurations(zeus_trace *const traces[4], double *sum)
{
    size_t runs = 0;
    *sum = 0;
    for (size_t g = 0; g < 4; g++) {
        for (size_t d = 0; d < 6; d++) {
            zeus_job job;
            size_t nb, np;
            if (zeus_alibaba_job(traces[g], datasets[d], &job) != ZEUS_OK ||
                zeus_trace_job_space(traces[g], &job, &nb, &np) != ZEUS_OK) {
                fprintf(stderr, "bench: %s\n", zeus_last_error());
                exit(1);
            }
            zeus_sim_params p;
            zeus_sim_params_default(&p);
            p.seed = p.bso.seed = 1;
            zeus_sim_history h = {0};
            if (zeus_simulate_one_job(traces[g], &job, 2 * nb * np, &p, &h) != ZEUS_OK) {
                fprintf(stderr, "bench: %s %s: %s\n", gpus[g], datasets[d], zeus_last_error());
                exit(1);
            }
            runs += h.n;
            *sum += checksum(&h);
            zeus_sim_history_free(&h);
        }
    }
    return runs;
}

static size_t all_groups(zeus_trace *const traces[4], const zeus_groups *groups, unsigned threads,
                         double *sum)
{
    size_t runs = 0, n = zeus_groups_count(groups);
    *sum = 0;
    for (size_t g = 0; g < 4; g++) {
        zeus_group_result *r;
        if (zeus_simulate_alibaba(traces[g], groups, 0.5, 2.0, threads, &r) != ZEUS_OK) {
            fprintf(stderr, "bench: %s\n", zeus_last_error());
            exit(1);
        }
        for (size_t i = 0; i < n; i++) {
            if (r[i].status != ZEUS_OK) {
                fprintf(stderr, "bench: group %zu: %s\n", i, r[i].error);
                exit(1);
            }
            runs += r[i].history.n;
            *sum += checksum(&r[i].history);
        }
        zeus_group_results_free(r, n);
    }
    return runs;
}

typedef size_t (*pass_fn)(zeus_trace *const traces[4], const zeus_groups *groups, unsigned threads,
                          double *sum);

static size_t configurations_pass(zeus_trace *const traces[4], const zeus_groups *groups,
                                  unsigned threads, double *sum)
{
    (void)groups;
    (void)threads;
    return all_configurations(traces, sum);
}

/* Repeats a pass for about `seconds`; prints the times and returns ms per pass. */
static double measure(const char *what, pass_fn pass, zeus_trace *const traces[4],
                      const zeus_groups *groups, unsigned threads, double seconds)
{
    double first_sum = 0, sum;
    size_t runs_per_pass = pass(traces, groups, threads, &first_sum); /* warm-up */
    size_t passes = 0;
    int64_t t0 = zeus_now_ns(), elapsed;
    do {
        size_t runs = pass(traces, groups, threads, &sum);
        if (runs != runs_per_pass || sum != first_sum) {
            fprintf(stderr, "bench: %s: results changed between repetitions\n", what);
            exit(1);
        }
        passes++;
        elapsed = zeus_now_ns() - t0;
    } while (elapsed < (int64_t)(seconds * 1e9));
    double ms_per_pass = elapsed / 1e6 / (double)passes;
    double ms_per_run = ms_per_pass / (double)runs_per_pass;
    printf("%-44s %6zu runs/pass  %9.3f ms/pass  %8.3f us/run  %8.0fx vs 7.9 ms/run\n", what,
           runs_per_pass, ms_per_pass, ms_per_run * 1e3, ORIGINAL_MS_PER_RUN / ms_per_run);
    return ms_per_pass;
}

/* Microseconds per simulated run of v100 librispeech over n recurrences, exact (numpy's variance
 * over the whole history at every update, as the original) or with running moments (--fast). */
static double us_per_run(zeus_trace *trace, size_t n, int moments)
{
    zeus_job job;
    if (zeus_alibaba_job(trace, "librispeech", &job) != ZEUS_OK)
        return NAN;
    zeus_sim_params p;
    zeus_sim_params_default(&p);
    p.seed = p.bso.seed = 1;
    p.bso.moments = moments;
    zeus_sim_history h = {0};
    int64_t t0 = zeus_now_ns();
    int rc = zeus_simulate_one_job(trace, &job, n, &p, &h);
    double us = (zeus_now_ns() - t0) / 1e3 / (double)(h.n ? h.n : 1);
    zeus_sim_history_free(&h);
    return rc == ZEUS_OK ? us : NAN;
}

static void moments_scaling(zeus_trace *v100)
{
    printf("\nexact vs running moments (--fast), v100 librispeech, seed 1 (us per run):\n");
    printf("  %12s %12s %12s %8s\n", "recurrences", "exact", "fast", "ratio");
    static const size_t sizes[] = {1000, 10000, 30000, 100000, 1000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        /* The exact mode is quadratic: past 30,000 recurrences it would take minutes. */
        double exact = sizes[i] <= 30000 ? us_per_run(v100, sizes[i], ZEUS_BSO_MOMENTS_EXACT) : NAN;
        double fast = us_per_run(v100, sizes[i], ZEUS_BSO_MOMENTS_RUNNING);
        printf("  %12zu %12.2f %12.2f %8.1f   (fast: %.2f s in all)\n", sizes[i], exact, fast,
               exact / fast, fast * (double)sizes[i] / 1e6);
    }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ZEUS_DATA_DIR "/nsdi23-traces";
    const char *groups_csv = argc > 2 ? argv[2] : ZEUS_DATA_DIR "/alibaba_groups_synth.csv";
    double seconds = argc > 3 ? atof(argv[3]) : 2.0;
    if (!(seconds > 0))
        seconds = 2.0;

    zeus_trace *traces[4];
    int64_t t0 = zeus_now_ns();
    for (size_t g = 0; g < 4; g++) {
        if (zeus_trace_load_dir(dir, gpus[g], &traces[g]) != ZEUS_OK) {
            fprintf(stderr, "bench: %s\n", zeus_last_error());
            return 1;
        }
    }
    double load_ms = (zeus_now_ns() - t0) / 1e6;
    zeus_groups *groups;
    if (zeus_groups_load(groups_csv, &groups) != ZEUS_OK) {
        fprintf(stderr, "bench: %s\n", zeus_last_error());
        return 1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("zeus %s, %ld CPUs; trace loading (4 GPUs, parse + join + index): %.2f ms\n",
           zeus_version(), cpus, load_ms);

    double single_pass = measure("24 configurations (run_single, seed 1)", configurations_pass,
                                 traces, groups, 1, seconds);
    measure("synthetic Alibaba groups x 4 GPUs, 1 thread", all_groups, traces, groups, 1, seconds);
    char label[64];
    snprintf(label, sizeof label, "synthetic Alibaba groups x 4 GPUs, %ld threads", cpus);
    measure(label, all_groups, traces, groups, 0, seconds);
    printf("24 configurations end to end, loading included: %.2f ms (original: about 22.7 s)\n",
           single_pass + load_ms);

    moments_scaling(traces[0]);

    zeus_groups_destroy(groups);
    for (size_t g = 0; g < 4; g++)
        zeus_trace_destroy(traces[g]);
    return 0;
}
