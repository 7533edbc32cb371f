/* Zeus job windows: one energy window for a whole distributed job (every rank, every host).
 *
 * The original's ZeusMonitor measures the GPUs of one process; in a data-parallel job each
 * rank measures its own, and the newest Zeus leaves summing them to the user. A job window
 * combines the ranks' windows: energy summed over *physical* GPUs, each counted once (ranks that
 * share a GPU or watch overlapping sets are deduplicated by the GPU's UUID, across hosts), time
 * as the slowest rank's, and the window's span across hosts with a bound on the error from the
 * hosts' clock offsets. The per-rank behaviour of zeus/monitor.h is unchanged.
 *
 * The collective is the caller's (MPI_Allgather, torch.distributed.all_gather_object, ...):
 *
 *   each rank:  zeus_monitor_end_window(monitor, "epoch", true, false, m);
 *               zeus_job_part part; zeus_job_part_readings readings (one per monitored GPU):
 *               zeus_job_part_from_measurement(monitor, m, rank, host, &part, readings, cap, &n);
 *               sync_before = wall clock; barrier(); barrier(); sync_after = wall clock;
 *               part.sync_before_s = ..., part.sync_after_s = ...;
 *               all-gather the parts and the readings;
 *               zeus_job_window_combine(parts, ranks, readings, total, &job);
 *
 * Clock skew: every rank reads its wall clock just before (t0) and just after (t1) a barrier
 * that all ranks reached together (a first barrier lines them up). The instant the last rank
 * entered lies inside [t0, t1] on every rank's clock, so any two hosts' clocks differ by at most
 * max(t1) - min(t0): clock_skew_bound_s. Spans compared across hosts are off by at most that.
 * Durations (time_s) are each measured on one host's monotonic clock and have no skew error.
 *
 * Thread safety: pure functions of their arguments.
 */
#ifndef ZEUS_JOB_WINDOW_H
#define ZEUS_JOB_WINDOW_H

#include "zeus/common.h"
#include "zeus/device.h"
#include "zeus/monitor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZEUS_JOB_HOST_LEN 64

/* One rank's window. Plain bytes (no pointers), so it can travel in an all-gather as is. */
typedef struct {
    unsigned rank;
    char host[ZEUS_JOB_HOST_LEN]; /* the host's name, for messages */
    double start_s;               /* wall clock (Unix s) when the window began on this rank */
    double time_s;                /* its duration on this rank's monotonic clock */
    double sync_before_s;         /* wall clock just before / after the clock barrier (above) */
    double sync_after_s;
} zeus_job_part;

/* One GPU's energy as one rank measured it. */
typedef struct {
    unsigned rank;
    char host[ZEUS_JOB_HOST_LEN];
    char uuid[ZEUS_GPU_UUID_LEN];
    double energy_j; /* NAN: the rank could not measure it */
} zeus_job_reading;

typedef struct {
    unsigned ranks;
    double time_s;             /* the slowest rank's window */
    double span_s;             /* last end - first start, across hosts (wall clocks) */
    double clock_skew_bound_s; /* |any two hosts' clock offset| <= this (so span_s is off by at
                                * most this much) */
    double total_energy_j;     /* every physical GPU once; NAN if one could not be measured */
    unsigned gpu_count;        /* physical GPUs */
    unsigned readings;         /* readings given */
    unsigned duplicates;       /* readings of a GPU another reading already counted */
    /* Largest difference between two readings of one GPU (ranks sharing it measured slightly
     * different intervals); the largest reading is the one counted. */
    double duplicate_spread_j;
} zeus_job_measurement;

/* Fills a rank's part (sync_* left 0) and one reading per monitored GPU (UUID from the
 * devices) from a window this rank ended. *count is how many readings there are (at most
 * capacity are written; ZEUS_ERANGE if capacity is too small). */
ZEUS_API int zeus_job_part_from_measurement(const zeus_monitor *monitor, const zeus_measurement *m,
                                            unsigned rank, const char *host, zeus_job_part *part,
                                            zeus_job_reading *readings, size_t capacity,
                                            size_t *count);

/* Combines every rank's part and readings. ZEUS_EINVAL: no part, a negative or non-finite time,
 * sync_after_s before sync_before_s, a reading with an empty UUID or from a rank without a part,
 * two parts for one rank, or one UUID reported by two different hosts (GPU UUIDs are unique: a
 * clone would be counted once and its energy lost). */
ZEUS_API int zeus_job_window_combine(const zeus_job_part *parts, size_t part_count,
                                     const zeus_job_reading *readings, size_t reading_count,
                                     zeus_job_measurement *out);

#ifdef __cplusplus
}
#endif
#endif
