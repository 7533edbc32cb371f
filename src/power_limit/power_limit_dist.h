/* The power-limit optimizer across ranks (distributed training): what the ranks exchange, as
 * pure logic over the caller's all-reduce (zeus_all_reduce_fn), so unit tests drive it with
 * simulated ranks and no device. */
#ifndef ZEUS_POWER_LIMIT_POWER_LIMIT_DIST_H
#define ZEUS_POWER_LIMIT_POWER_LIMIT_DIST_H

#include "zeus/power_limit.h"

typedef struct {
    zeus_all_reduce_fn fn;
    void *user;
} zeus_pl_dist;

/* What every rank learns when the optimizers are created. */
typedef struct {
    unsigned ranks;      /* processes in the job */
    unsigned total_gpus; /* GPUs over every rank */
} zeus_pl_dist_job;

/* The first collective of creation, which every rank reaches whatever happened before it:
 * local_rc is this rank's result so far (its message in zeus_last_error()), gpu_count its GPUs,
 * has_profile whether its profile file exists. Returns local_rc (message kept) when this rank
 * failed; ZEUS_ESTATE when another rank failed; ZEUS_EINVAL when the profile file exists on
 * some ranks but not on others (some would profile while others load: the collectives would go
 * out of step); the collective's error when it failed. */
int zeus__pl_dist_agree_start(const zeus_pl_dist *d, int local_rc, unsigned gpu_count,
                              bool has_profile, zeus_pl_dist_job *job);
/* The last collective of creation: every rank learns whether all of them are ready (local_rc as
 * above). ZEUS_ESTATE on a ready rank when another one failed. */
int zeus__pl_dist_agree_end(const zeus_pl_dist *d, int local_rc);

/* The end of a profiling window on every rank: local_rc is this rank's result of ending its
 * window (ZEUS_OK with time_s and energy_j, or its error). On success *time_s becomes the
 * slowest rank's time and *energy_j the sum over every rank, or 0 when a rank read no energy
 * (its window was shorter than its counter's update period), so that every rank's state machine
 * retries the limit with a longer window. Every rank gets an error when one could not measure
 * (ZEUS_EIO, or this rank's own error), so that all of them retry the limit. */
int zeus__pl_dist_window(const zeus_pl_dist *d, int local_rc, double *time_s, double *energy_j);

#endif
