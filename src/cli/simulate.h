/* What the zeus simulate subcommands share (cmd_simulate.c parses, simulate_compare.c runs
 * `zeus simulate compare`). */
#ifndef ZEUS_CLI_SIMULATE_H
#define ZEUS_CLI_SIMULATE_H

#include "cli/cli.h"

#include "zeus/plot.h"

#include <stdbool.h>
#include <stdint.h>

#define SIM_MAX_POLICIES 8

typedef struct {
    const char *trace_dir, *gpu, *csv, *groups, *plot;
    cli_plot_format plot_format;
    const char *dataset, *model, *optimizer;
    double eta, beta, target;
    long max_epochs, b0, num_recurrence, jobs;
    uint64_t seed;
    bool verbose, fast;
    int policy;                     /* single, alibaba: ZEUS_BSO_POLICY_* */
    int policies[SIM_MAX_POLICIES]; /* compare: the policies, the original's first */
    size_t n_policies;
    long seeds;     /* compare: seeds seed .. seed + seeds - 1 */
    bool all;       /* compare: the 24 paper-default configurations */
    bool job_given; /* a job or GPU flag was given (refused with --all) */
} sim_options;

/* zeus simulate compare, with parsed options. */
int cli_simulate_compare(const sim_options *o);

#endif
