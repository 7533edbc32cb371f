/* Layouts of the batch-size policy objects, shared by their implementation files and the
 * state save/load code (not installed). */
#ifndef ZEUS_BATCH_SIZE_POLICY_INTERNAL_H
#define ZEUS_BATCH_SIZE_POLICY_INTERNAL_H

#include "zeus/batch_size.h"
#include "zeus/recurring.h"
#include "zeus/rng.h"

struct zeus_gts {
    zeus_gts_arm *arms;
    size_t n_arms;
    double prior_mean, prior_precision;
    int num_exploration;
    zeus_rng rng;
    size_t *order; /* scratch for the exploration permutation */
};

int zeus__gts_alloc(size_t n_arms, zeus_gts **out);
zeus_gts_arm *zeus__gts_find(const zeus_gts *gts, int arm);
/* The posterior of arm a after n rewards with the given sum and mean (the one formula both
 * zeus__gts_fit_one and the running moments use). */
void zeus__gts_fit_moments(const zeus_gts *gts, zeus_gts_arm *a, size_t n, double sum, double mean,
                           bool reset);
void zeus__gts_fit_one(const zeus_gts *gts, zeus_gts_arm *a, const double *rewards, size_t n,
                       bool reset);

/* The original explorer is a Python generator; this is the same control flow as an explicit
 * state machine. A reported result is processed lazily by the following next() call, exactly
 * where the generator resumes after its empty yield. */
typedef enum {
    ZEUS_PRUNING_START,    /* at the start of a round (or of exploration) */
    ZEUS_PRUNING_AWAIT,    /* handed out `expecting`, waiting for its result */
    ZEUS_PRUNING_REPORTED, /* result stored, processed by the next call */
    ZEUS_PRUNING_DONE,
    ZEUS_PRUNING_FAILED,
} zeus_pruning_phase;

struct zeus_pruning {
    int *sizes; /* current round's candidates; survivors once done */
    size_t n_sizes;
    int *down, *up, *good; /* the round's two walks and its survivors */
    size_t n_down, n_up, n_good, cap;
    int default_bs;
    int num_rounds, round;
    int dir;    /* 0: walking down, 1: walking up */
    size_t pos; /* index of the size handed out in the current walk */
    double best_cost;
    int expecting;
    zeus_pruning_phase phase;
    double reported_cost;
    bool reported_reached;
};

int zeus__pruning_alloc(size_t cap, zeus_pruning **out);

typedef struct {
    double *rewards;
    size_t n, cap;
    /* Running moments of rewards[0..n) (Welford): for ZEUS_BSO_MOMENTS_RUNNING. */
    double sum, mean, m2;
} zeus_reward_list;

/* The walk-ts policy (walk_ts.c): one walk down and up from the default batch size that stops a
 * direction at the first size that misses the target or costs more than WALK_STOP x the
 * cheapest so far, then Thompson sampling on each size's cost per reached run, its noise
 * pooled over the sizes (the relative spread of a run's cost is much the same at every size). */
typedef struct {
    unsigned runs, reached; /* runs observed (every one) and those that reached the target */
    double cost_sum;        /* every run's cost, reached or not (the renewal numerator) */
    double ok_mean, ok_m2;  /* Welford moments of the reached runs' costs */
    bool excluded;          /* missed the target during the walk: never sampled */
} zeus_walk_arm;

typedef enum { ZEUS_WALK_DOWN = 0, ZEUS_WALK_UP = 1, ZEUS_WALK_SAMPLE = 2 } zeus_walk_phase;

typedef struct zeus_walkts {
    size_t n;            /* the optimizer's sorted batch sizes */
    zeus_walk_arm *arms; /* per size */
    size_t start;        /* index of the default batch size */
    zeus_walk_phase phase;
    size_t pos;    /* index of the size handed out (or next) in the walk */
    bool awaiting; /* the walk's size was handed out and not yet reported */
    double best;   /* cheapest reached run seen so far (+inf before any) */
    zeus_rng rng;
} zeus_walkts;

int zeus__walkts_create(size_t n, size_t start, uint64_t seed, zeus_walkts **out);
void zeus__walkts_destroy(zeus_walkts *w);
/* The index of the next size to run. */
int zeus__walkts_predict(zeus_walkts *w, size_t *index);
/* Records a run of size index (cost, whether it reached the target: 1 yes, 0 no, -1 unknown). */
void zeus__walkts_observe(zeus_walkts *w, size_t index, double cost, int reached);
/* The early-stopping factor of a run of size index (the driver's beta, or less for a walk's
 * first run of a size). */
double zeus__walkts_bound(const zeus_walkts *w, size_t index, double beta);
/* The expected cost per reached run of a size and its standard error (sampling phase's model);
 * false when the size is not a candidate (never reached, or excluded). */
bool zeus__walkts_estimate(const zeus_walkts *w, size_t index, double *mean, double *sd);

struct zeus_bso {
    zeus_bso_config cfg;
    zeus_job job;
    int *batch_sizes;          /* registered, sorted */
    zeus_reward_list *history; /* per registered size, in time order */
    size_t n_batch_sizes;
    zeus_pruning *explorer;
    zeus_gts *mab;     /* NULL during pruning */
    zeus_walkts *walk; /* the walk-ts policy's state; NULL with pruning-gts */
    double *scratch;
    size_t scratch_cap;
};

int zeus__bso_alloc(size_t n_batch_sizes, zeus_bso **out);
int zeus__bso_append_reward(zeus_reward_list *list, double reward);
/* The index of batch_size among the sorted sizes (n_batch_sizes when absent). */
size_t zeus__bso_index(const zeus_bso *bso, int batch_size);

typedef struct {
    int batch_size, power_limit;
    double cost;
    unsigned observations;
} zeus_jit_entry;

struct zeus_jit_plo {
    zeus_jit_entry *entries;
    size_t n, cap;
};

/* The recurring-job driver (recurring.c; saved and loaded in bso_state.c). */
struct zeus_recurring {
    zeus_job job;
    double eta, beta;
    int max_power, max_tries, max_concurrent_tries;
    zeus_bso *bso;
    zeus_jit_plo *plo;
    double min_cost; /* cheapest recurrence (concurrent: cheapest single run) so far */
    int best_bs;     /* concurrent: the batch size of min_cost */
    size_t recurrence;
    int tries;       /* tries handed out in the current recurrence */
    double cost_acc; /* cost of the current recurrence's runs so far */
    bool pending;    /* a try awaits its report */
    bool over;       /* the job gave up */
    int pending_bs;
    bool verbose;
    char name[4 * ZEUS_JOB_NAME_MAX];
};

#endif
