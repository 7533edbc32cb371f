/* Zeus power sampler (the original's PowerMonitor): one background thread per sampler polls
 * the power of chosen GPUs and CPU packages into a bounded ring buffer, and answers energy and
 * power queries from it. Polling RAPL also keeps its wraparound counted.
 *
 * The table's columns: every sampled GPU first, then per CPU package its package power and,
 * where it has one, its DRAM power. A GPU's value is its power reading; a CPU column's is the
 * RAPL energy over the sampling interval divided by its length (RAPL has no power reading).
 *
 * Unlike the original (a helper process writing a temp CSV, and a period inference that
 * busy-loops), this is a thread in the caller's process, sleeping on absolute deadlines; the
 * caller never waits for it except for a short lock while copying samples.
 *
 * Memory: capacity rows of (timestamp + one float per device), default 65536 rows (about 3.6
 * hours at 5 Hz, 11 minutes at 100 Hz); older rows are overwritten. With 8 GPUs that is
 * 65536 x (8 + 8 x 4) bytes = 2.6 MB.
 *
 * Thread safety: every function may be called from any thread; zeus_sampler_stop must not race
 * with the others.
 *
 * fork(): the sampling thread stays in the parent. In the child the sampler keeps the samples
 * taken before the fork and answers queries from them (no new ones); zeus_sampler_stop frees it
 * without waiting for a thread. Fork handlers hold the sampler's lock across fork() and the
 * thread never is inside a device call during one, so the child cannot inherit a lock that
 * nobody will release (PyTorch DataLoader workers fork a process that samples).
 */
#ifndef ZEUS_SAMPLER_H
#define ZEUS_SAMPLER_H

#include "zeus/common.h"
#include "zeus/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zeus_sampler zeus_sampler;

#define ZEUS_SAMPLER_MAX_COLUMNS (ZEUS_MAX_GPUS + 2 * ZEUS_MAX_CPUS)

/* A clock in seconds. */
typedef double (*zeus_clock_fn)(void *user);

#define ZEUS_SAMPLER_DEFAULT_CAPACITY 65536

/* Called on the sampling thread after each sample is stored: its time and one value per column
 * (NaN for a failed reading). For streaming samples out as they come (`zeus monitor power
 * --csv`); it delays the next sample by as long as it takes. */
typedef void (*zeus_sample_fn)(const zeus_sampler *sampler, double time_s, const double *power_w,
                               void *user);

typedef struct {
    const unsigned *gpu_indices; /* framework indices; gpu_count < 0: all GPUs */
    int gpu_count;
    const unsigned *cpu_indices; /* CPU packages; cpu_count < 0: all, 0: none (default) */
    int cpu_count;
    /* Polling period. 0: infer it as the original intended: for each GPU model, the shortest
     * interval between changes of its power reading, halved, at most 0.1 s. */
    double period_s;
    size_t capacity;     /* rows kept; 0: ZEUS_SAMPLER_DEFAULT_CAPACITY */
    zeus_clock_fn clock; /* NULL: the steady Unix-time clock (zeus_steady_time_s) */
    void *clock_user;
    zeus_sample_fn on_sample; /* NULL: none */
    void *on_sample_user;
} zeus_sampler_options;

ZEUS_API void zeus_sampler_options_init(zeus_sampler_options *options);

/* Unix time in seconds that never jumps: wall clock at first use plus monotonic time since. */
ZEUS_API double zeus_steady_time_s(void *unused);

/* Starts the sampling thread. ZEUS_EINVAL when there is nothing to sample (an explicitly empty
 * GPU list and no CPU package, as the original refuses an empty GPU list).
 * Period inference runs on the sampling thread, so starting does not wait for it: the thread
 * samples every millisecond for up to 2 s (zeus_sampler_period_s() says 0.001 meanwhile) while
 * it watches each GPU model's power reading change; a model whose reading never changes (a
 * flat, idle sensor) contributes nothing, and with no change at all the period falls back to
 * the 0.1 s cap with a warning. A period of 10^9 s or more means one sample at the start. */
ZEUS_API int zeus_sampler_start(zeus_devices *devices, const zeus_sampler_options *options,
                                zeus_sampler **out);
ZEUS_API void zeus_sampler_stop(zeus_sampler *sampler);

ZEUS_API double zeus_sampler_period_s(const zeus_sampler *sampler);
ZEUS_API unsigned zeus_sampler_gpu_count(const zeus_sampler *sampler);
ZEUS_API unsigned zeus_sampler_gpu_index(const zeus_sampler *sampler, unsigned i);
/* Columns of the table (GPUs first, then CPU package and DRAM columns) and their names:
 * "gpu<i>", "cpu<i>", "dram<i>" with framework / package indices. */
ZEUS_API unsigned zeus_sampler_column_count(const zeus_sampler *sampler);
ZEUS_API const char *zeus_sampler_column_name(const zeus_sampler *sampler, unsigned column);
ZEUS_API size_t zeus_sampler_sample_count(const zeus_sampler *sampler);
/* CPU time the sampling thread has used so far, seconds (for overhead reports). */
ZEUS_API double zeus_sampler_cpu_time_s(const zeus_sampler *sampler);

/* Energy per column (energy_j[i], column_count values) between start and end: the
 * trapezoidal integral of the samples inside the range and the nearest one on each side,
 * interpolated linearly to exactly start and end (held flat beyond the outermost sample).
 * *samples receives how many samples were used. ZEUS_ENOENT with fewer than two. */
ZEUS_API int zeus_sampler_get_energy(zeus_sampler *sampler, double start, double end,
                                     double *energy_j, size_t *samples);
/* Energy per column from the sampler's start (*start_s, optional, receives that time) to end,
 * integrated over every sample taken, however many the ring has dropped since: trapezoids
 * between samples, the first reading held back to the start and the last held to end. Memory
 * stays flat however long the sampler runs. NaN once a reading has failed. ZEUS_ENOENT with no
 * sample yet. */
ZEUS_API int zeus_sampler_total_energy(zeus_sampler *sampler, double end, double *energy_j,
                                       double *start_s);
/* Power per column at time t: the first sample at or after t (the last one if t is later
 * than all); t = NAN: the latest. *time_s (optional) receives the sample's timestamp.
 * ZEUS_ENOENT if there is no sample yet. */
ZEUS_API int zeus_sampler_get_power(zeus_sampler *sampler, double t, double *power_w,
                                    double *time_s);
/* Copies up to max samples at or after since (oldest first): times[k] and
 * power_w[k * column_count + i]. Returns the number copied through *count. */
ZEUS_API int zeus_sampler_timeline(zeus_sampler *sampler, double since, size_t max, double *times,
                                   double *power_w, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
