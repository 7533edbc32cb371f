/* The power-limit optimizer across ranks (see power_limit_dist.h and docs/power-limit.md,
 * "Distributed training"). The newest Zeus all-reduces energy (sum) and time (max) at the end
 * of each profiling window; it does nothing at creation, so ranks whose profile files differ
 * (some load, some profile) or one rank that failed to start leave the others waiting in a
 * collective forever. Here creation is collective too and every disagreement is an error on
 * every rank. */
#include "power_limit/power_limit_dist.h"

#include "core/internal.h"

#include <math.h>
#include <stdio.h>

static int reduce(const zeus_pl_dist *d, double *values, size_t count, zeus_reduce_op op,
                  const char *when)
{
    int rc = d->fn(values, count, op, d->user);
    if (rc > 0)
        rc = ZEUS_EIO; /* not a ZEUS_E* code: a failure all the same */
    if (rc != ZEUS_OK)
        return zeus__error(rc, "power-limit optimizer: the all-reduce %s failed (%s): %s", when,
                           zeus_strerror(rc), zeus_last_error());
    for (size_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return zeus__error(ZEUS_EIO,
                               "power-limit optimizer: the all-reduce %s returned %g; the "
                               "callback must reduce the values in place",
                               when, values[i]);
    return ZEUS_OK;
}

/* Runs the collective; this rank's own error wins over what the collective says. */
static int reduce_keeping(const zeus_pl_dist *d, int local_rc, double *values, size_t count,
                          zeus_reduce_op op, const char *when)
{
    char reason[ZEUS_ERROR_DETAIL_LEN];
    if (local_rc != ZEUS_OK)
        zeus__strlcpy(reason, zeus_last_error(), sizeof reason);
    int rc = reduce(d, values, count, op, when);
    if (local_rc != ZEUS_OK)
        return zeus__error(local_rc, "%s", reason);
    return rc;
}

int zeus__pl_dist_agree_start(const zeus_pl_dist *d, int local_rc, unsigned gpu_count,
                              bool has_profile, zeus_pl_dist_job *job)
{
    bool ok = local_rc == ZEUS_OK;
    double v[4] = {ok ? 1 : 0, 1, ok ? gpu_count : 0, ok && has_profile ? 1 : 0};
    int rc = reduce_keeping(d, local_rc, v, 4, ZEUS_REDUCE_SUM, "when the optimizers were created");
    if (rc != ZEUS_OK)
        return rc;
    unsigned ready = (unsigned)v[0], ranks = (unsigned)v[1], profiles = (unsigned)v[3];
    if (ready != ranks)
        return zeus__error(ZEUS_ESTATE,
                           "power-limit optimizer: %u of the job's %u ranks could not create "
                           "their optimizer (see their errors); none goes on",
                           ranks - ready, ranks);
    if (profiles != 0 && profiles != ranks)
        return zeus__error(ZEUS_EINVAL,
                           "power-limit optimizer: the profile file exists on %u of the job's %u "
                           "ranks: give every rank the same file (a shared file system), or none",
                           profiles, ranks);
    job->ranks = ranks;
    job->total_gpus = (unsigned)v[2];
    return ZEUS_OK;
}

int zeus__pl_dist_agree_end(const zeus_pl_dist *d, int local_rc)
{
    double v[2] = {local_rc == ZEUS_OK ? 1 : 0, 1};
    int rc = reduce_keeping(d, local_rc, v, 2, ZEUS_REDUCE_SUM, "when the optimizers were created");
    if (rc != ZEUS_OK)
        return rc;
    if (v[0] != v[1])
        return zeus__error(ZEUS_ESTATE,
                           "power-limit optimizer: %g of the job's %g ranks could not take their "
                           "GPUs (see their errors); none goes on",
                           v[1] - v[0], v[1]);
    return ZEUS_OK;
}

int zeus__pl_dist_window(const zeus_pl_dist *d, int local_rc, double *time_s, double *energy_j)
{
    char reason[ZEUS_ERROR_DETAIL_LEN];
    bool ok = local_rc == ZEUS_OK;
    bool empty = ok && !(*energy_j > 0 && isfinite(*energy_j) && *time_s > 0 && isfinite(*time_s));
    if (!ok)
        zeus__strlcpy(reason, zeus_last_error(), sizeof reason);
    /* Both collectives on every rank, whatever it measured, so they stay in step. */
    double sums[3] = {ok && !empty ? *energy_j : 0, ok ? 0 : 1, empty ? 1 : 0};
    double slowest[1] = {ok && !empty ? *time_s : 0};
    int rc = reduce(d, sums, 3, ZEUS_REDUCE_SUM, "of the profiling window");
    if (rc == ZEUS_OK)
        rc = reduce(d, slowest, 1, ZEUS_REDUCE_MAX, "of the profiling window");
    if (!ok)
        return zeus__error(local_rc, "%s", reason);
    if (rc != ZEUS_OK)
        return rc;
    if (sums[1] > 0)
        return zeus__error(ZEUS_EIO,
                           "power-limit optimizer: %g rank(s) could not measure this profiling "
                           "window (see their errors); every rank retries the limit",
                           sums[1]);
    /* A rank that read 0 J (its window was shorter than its counter's update period) makes
     * the window read 0 J on every rank, so that all of them take the state machine's retry
     * with a longer window together. */
    *energy_j = sums[2] > 0 ? 0 : sums[0];
    *time_s = slowest[0];
    if (sums[2] > 0)
        ZEUS_INFO("power-limit optimizer: %g rank(s) read no energy in this profiling window",
                  sums[2]);
    return ZEUS_OK;
}
