/* The simulator's trace index, shared by its source files (not installed).
 *
 * The original joins the two traces into one DataFrame and filters it on every simulated run.
 * Here the join is done once and indexed by (workload, target metric, batch size): a "cell"
 * holds the matching train rows (one per recorded training run, file order) and power rows
 * (one per power limit, file order). The join's rows for a cell are exactly the cross product,
 * runs outer and power rows inner, which is the order pandas' merge produces; the means the
 * original takes over those rows are precomputed in that order. */
#ifndef ZEUS_SIMULATE_SIM_INTERNAL_H
#define ZEUS_SIMULATE_SIM_INTERNAL_H

#include "zeus/simulate.h"

typedef struct {
    int pl;
    double tpe, ap, epe; /* epoch time (s), average power (W), epoch energy (J) */
} zeus_power_row;

typedef struct { /* the cell's power rows with one power limit */
    int pl;
    size_t count;             /* normally 1 */
    size_t *rows;             /* indices into the cell's power rows */
    double mean_ap, mean_tpe; /* pandas groupby(power_limit).mean() over the joined rows */
} zeus_pl_group;

typedef struct {
    int bs;
    double *target_epochs; /* per recorded run; NaN: never reached the target */
    size_t n_runs;
    zeus_power_row *power;
    size_t n_power;
    zeus_pl_group *groups; /* ascending power limit */
    size_t n_groups;
    int max_pl;
    double mean_epe, mean_tpe; /* numpy means over the joined rows (the profiling epoch) */
} zeus_cell;

typedef struct {
    const char *dataset, *network, *optimizer;
    int *batch_sizes; /* ascending, over every target metric */
    size_t n_bs;
} zeus_workload;

typedef struct {
    size_t workload;
    double target;
    zeus_cell *cells; /* ascending batch size */
    size_t n_cells;
    size_t n_pls; /* distinct power limits over the cells */
} zeus_job_table;

typedef struct {
    const char *dataset;
    int max_bs;
} zeus_power_dataset;

typedef struct zeus_arena_block zeus_arena_block;

struct zeus_trace {
    const char *train_path, *power_path;
    zeus_workload *workloads;
    size_t n_workloads;
    zeus_job_table *tables;
    size_t n_tables;
    zeus_power_dataset *power_datasets;
    size_t n_power_datasets;
    size_t rows;
    int max_power;
    zeus_arena_block *arena; /* owns everything above */
};

/* The original's epoch cost of a power limit during profiling (Equation 7):
 * (eta * mean power + (1 - eta) * the batch size's max limit) * mean epoch time. */
static inline double zeus__epoch_cost(const zeus_cell *cell, const zeus_pl_group *g, double eta)
{
    return (eta * g->mean_ap + (1 - eta) * cell->max_pl) * g->mean_tpe;
}

/* The power-limit profile of a cell, highest limit first: its first cap of cell->n_groups
 * entries. */
void zeus__cell_profile(const zeus_cell *cell, double eta, zeus_pl_cost *out, size_t cap);

/* The oracle (*found false when no knobs always reach the target) and the default choice. */
int zeus__trace_oracle(const zeus_trace *trace, const zeus_job *job, double eta_knob,
                       zeus_sim_choice *oracle, bool *found, zeus_sim_choice *default_choice);

/* The job's rows: ZEUS_ENOENT with a message naming the files when the workload or its target
 * metric is not in the join. */
int zeus__trace_find_job(const zeus_trace *trace, const zeus_job *job, const zeus_job_table **out);
const zeus_cell *zeus__table_cell(const zeus_job_table *table, int bs);
const zeus_pl_group *zeus__cell_group(const zeus_cell *cell, int pl);

#endif
