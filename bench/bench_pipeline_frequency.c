/* The pipeline frequency solver alone: PROFILE.csv STAGES MICROBATCHES [COST_MODELS.csv]
 * -> frontier points and seconds for the whole Phillips-Dessouky loop, reading every point's
 * plan of every stage (what lowtime's loop does when run_optimization.py reads the knobs), no
 * files written; CPU seconds. bench/python/pipeline_frequency_lowtime.py runs it beside lowtime
 * 0.3.0. */
#include "zeus/pipeline_frequency.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* CPU time of this process: the shared machine's load does not count (the Python side uses
 * time.process_time the same way). */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PROFILE.csv STAGES MICROBATCHES [COST_MODELS.csv]\n", argv[0]);
        return 2;
    }
    int stages = atoi(argv[2]), mbs = atoi(argv[3]);
    zeus_pf_profile_options opts;
    zeus_pf_profile_options_init(&opts);
    opts.no_fit = argc > 4;
    zeus_pf_spec *specs = NULL;
    double t0 = now();
    if (zeus_pf_profile_load(argv[1], stages, &opts, &specs) < 0 ||
        (argc > 4 && zeus_pf_cost_models_load(argv[4], stages, specs) < 0)) {
        fprintf(stderr, "%s\n", zeus_last_error());
        return 1;
    }
    double t1 = now();
    zeus_pf_solver *s = NULL;
    if (zeus_pf_solver_create(stages, mbs, specs, opts.unit_time_s, &s) < 0) {
        fprintf(stderr, "%s\n", zeus_last_error());
        return 1;
    }
    zeus_pf_step *plan = calloc((size_t)mbs * 2, sizeof *plan);
    zeus_pf_result r;
    long points = 0, knob_sum = 0;
    int rc;
    while ((rc = zeus_pf_solver_step(s, &r)) == 1) {
        points++;
        for (int st = 0; st < stages; st++) {
            zeus_pf_solver_plan(s, st, plan);
            knob_sum += plan[0].knob_mhz;
        }
    }
    double t2 = now();
    if (rc < 0) {
        fprintf(stderr, "%s\n", zeus_last_error());
        return 1;
    }
    printf("{\"points\": %ld, \"load_fit_s\": %.6f, \"solve_s\": %.6f, \"knob_sum\": %ld}\n",
           points, t1 - t0, t2 - t1, knob_sum);
    free(plan);
    zeus_pf_solver_destroy(s);
    zeus_pf_specs_free(specs, stages);
    return 0;
}
