/* Shared between the live monitor (monitor.c) and the replay monitor (replay.c). */
#ifndef ZEUS_MONITOR_INTERNAL_H
#define ZEUS_MONITOR_INTERNAL_H

#include "zeus/monitor.h"

#include <stdatomic.h>
#include <stdint.h>

/* The result behind the opaque zeus_measurement. Fixed arrays here are an implementation detail:
 * callers see only accessors, so this can change without breaking them. */
/* One GPU's cross-check in a window (cross_check.c). */
typedef struct {
    zeus_cross_check_status status;
    double counter_j, sampled_j, allowed_j;
} zeus__gpu_check;

/* zeus__measurement_zero clears the scalar fields (all before gpus) and the entries in use: a
 * new scalar field goes before gpus. */
struct zeus_measurement {
    double start_time_s;
    double time_s;
    double total_energy_j;
    bool cancelled;
    bool log_failed;
    unsigned gpu_count;
    unsigned cpu_count;
    zeus_gpu_measurement gpus[ZEUS_MAX_GPUS];
    zeus_cpu_measurement cpus[ZEUS_MAX_CPUS];
    zeus__gpu_check checks[ZEUS_MAX_GPUS];
};

typedef struct zeus_replay zeus_replay;

int zeus__replay_open(const char *log_file, bool match_window_name, zeus_replay **out,
                      unsigned *gpus, unsigned *gpu_count);
void zeus__replay_close(zeus_replay *r);
int zeus__replay_begin(zeus_replay *r, const char *name);
/* Forgets every ongoing window (zeus_monitor_reset_windows). */
void zeus__replay_reset(zeus_replay *r);
int zeus__replay_end(zeus_replay *r, const char *name, bool cancel, const unsigned *gpus,
                     unsigned gpu_count, zeus_measurement *out);

/* Polls a reading every poll_ns and returns (through gaps, in seconds) the intervals between
 * its changes: at most max_gaps, within limit_ns, until *stop (may be NULL) or a failed read. */
typedef int (*zeus_reading_fn)(void *ctx, uint64_t *value);
typedef struct {
    zeus_devices *devices;
    unsigned gpu;
} zeus_gpu_ref; /* the ctx of a reading of one GPU */
int zeus__change_intervals(zeus_reading_fn read, void *ctx, int64_t poll_ns, int64_t limit_ns,
                           const atomic_bool *stop, double *gaps, int max_gaps);

/* Fills a cancelled (all-zero) measurement for the monitored GPUs and CPUs; a live window
 * then fills in what it measured. */
void zeus__measurement_zero(zeus_measurement *m, const unsigned *gpus, unsigned gpu_count,
                            const unsigned *cpus, unsigned cpu_count);
/* The "on window end" hook: called after a window (not a cancelled one) is measured and logged,
 * on the thread that ends it, outside the monitor's lock. The metric code gives one to push
 * each window to a Pushgateway, so the monitor knows nothing of metrics. A new hook replaces
 * (and frees, through free_user) the last; fn NULL removes it; the monitor frees it at close.
 * Not to be called while another thread ends a window. ZEUS_ENOTSUP for a replay monitor. */
typedef void (*zeus__window_end_fn)(void *user, const char *window, const zeus_measurement *m);
int zeus__monitor_on_window_end(zeus_monitor *m, zeus__window_end_fn fn, void *user,
                                void (*free_user)(void *user));

/* Sums the GPUs' energy into total_energy_j (NAN if one is unavailable, as each GPU's is). */
void zeus__measurement_total(zeus_measurement *m);

/* The cross-check's decision, pure: a counter GPU's window against the sampled integral. */
typedef struct {
    double counter_j, counter_bound_j;
    double sampled_j, sampled_bound_j;
    size_t samples;     /* power samples used by the integral */
    bool power_stuck;   /* every sample in the window read the same value */
    double elapsed_s;   /* window length */
    double max_power_w; /* the GPU's maximum power limit */
} zeus__check_input;
/* Fills check; returns true when the window should take the sampled energy (fallback). */
bool zeus__cross_check_decide(const zeus__check_input *in, bool fallback, zeus__gpu_check *check);

/* Everything the monitor knows that the per-window cross-check needs. */
typedef struct {
    zeus_sampler *sampler;
    zeus_cross_check_mode mode;
    const int *column;         /* per monitored GPU: the sampler's column, -1 if not sampled */
    const double *max_power_w; /* per monitored GPU */
    atomic_bool *warned;       /* per monitored GPU: the disagreement warning was given */
} zeus__check_ctx;
/* Cross-checks every counter GPU of a window [start, end]; may replace their energy. */
void zeus__cross_check_window(const zeus__check_ctx *ctx, double start, double end,
                              zeus_measurement *out);

#endif
