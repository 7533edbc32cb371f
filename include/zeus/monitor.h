/* Zeus energy monitor (the original's ZeusMonitor): time and energy of code windows on GPUs and
 * CPU packages.
 *
 *   zeus_monitor_options o;
 *   zeus_monitor_options_init(&o);             // all GPUs, no CPUs, no log file
 *   zeus_monitor *m;
 *   zeus_monitor_open(devices, &o, &m);
 *   zeus_monitor_begin_window(m, "epoch", true);
 *   ... work ...
 *   zeus_measurement *r = zeus_measurement_new();  // reusable for every window
 *   zeus_monitor_end_window(m, "epoch", true, false, r);
 *   zeus_measurement_time_s(r), zeus_measurement_gpu(r, i)->energy_j
 *   zeus_measurement_free(r);
 *
 * Windows are named, independent and may overlap or nest freely. Each GPU's energy comes from
 * its cumulative energy counter (Volta and newer), else from integrating sampled power (the
 * power sampler starts automatically for such GPUs), and each result says which method was
 * used and how trustworthy it is (see docs/measurement.md).
 *
 * Thread safety: after zeus_monitor_open() returns, begin/end/query functions may be called
 * from any thread concurrently (a window may be begun on one thread and ended on another);
 * zeus_monitor_close() must not race with them.
 *
 * fork() (PyTorch DataLoader workers): the monitor's threads -- its power sampler and the
 * background probe of counter update periods -- stay in the parent. The child's copy keeps
 * working on what it has: windows can be begun and ended (counter GPUs read their counters;
 * sampled GPUs integrate the samples taken before the fork), and zeus_monitor_close frees
 * without waiting for a thread. Fork handlers make sure no library thread holds a lock or is
 * inside a device call at the fork. On real GPUs NVIDIA does not support NVML handles in a
 * forked child: open devices and a monitor again there. See docs/power-limit.md (fork()).
 */
#ifndef ZEUS_MONITOR_H
#define ZEUS_MONITOR_H

#include "zeus/common.h"
#include "zeus/device.h"
#include "zeus/sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zeus_monitor zeus_monitor;

/* Waits for the work queued on a GPU (framework index) to finish: the Python face passes
 * torch.cuda.synchronize. Called once per monitored GPU when a window begins or ends with sync. */
typedef void (*zeus_sync_fn)(unsigned gpu, void *user);

typedef struct {
    /* GPUs to monitor, framework indices, in this order. gpu_count < 0 (the default) means all
     * GPUs; gpu_count == 0 monitors none. */
    const unsigned *gpu_indices;
    int gpu_count;
    /* CPU packages (RAPL) to monitor; default none, as the original. cpu_count < 0: all. */
    const unsigned *cpu_indices;
    int cpu_count;
    /* Replace an exact 0 J reading by instant power x duration (the original's option). */
    bool approx_instant_energy;
    /* CSV log in the original's format (NULL: none), written by the rules of zeus/output.h
     * (a FIFO or "-" in place; missing parent directories are created). */
    const char *log_file;
    zeus_sync_fn sync;
    void *sync_user;
    /* Clock for window timestamps, seconds. NULL: Unix time that never jumps (wall clock at
     * open plus monotonic time since). Tests inject their own. */
    zeus_clock_fn clock;
    void *clock_user;
    /* Measure each GPU model's energy-counter update period in the background (default true). */
    bool measure_update_period;
    /* Power sampler settings for GPUs without an energy counter (see sampler.h). */
    double sampler_period_s; /* 0: infer */
    size_t sampler_capacity; /* 0: default */
    /* Append to an existing log instead of truncating it (the original's ZeusMonitor truncates;
     * `zeus monitor energy --log-file` appends). The header is written only to a new or empty
     * file; an existing header must match this monitor's columns (ZEUS_EINVAL otherwise). */
    bool log_append;
} zeus_monitor_options;

ZEUS_API void zeus_monitor_options_init(zeus_monitor_options *options);

/* How a device's energy was obtained. */
typedef enum {
    ZEUS_METHOD_NONE = 0, /* not measured (error, or cancelled window) */
    ZEUS_METHOD_COUNTER,  /* difference of the cumulative energy counter */
    ZEUS_METHOD_SAMPLED,  /* trapezoidal integration of sampled power */
    ZEUS_METHOD_INSTANT,  /* instant power x duration (approx_instant_energy) */
} zeus_energy_method;

ZEUS_API const char *zeus_energy_method_name(zeus_energy_method method);

/* One GPU's result. energy_j is NAN when the energy is unavailable (error != 0): never a
 * real-looking 0 J. Read it through the pointer zeus_measurement_gpu() returns: later versions
 * may add fields at the end. */
typedef struct {
    unsigned index; /* framework index */
    double energy_j;
    zeus_energy_method method;
    int error; /* 0, or the ZEUS_E* code with which this GPU failed in this window */
    /* Trust. update_period_s: the counter's (or the sampler's) period, measured; 0 if not yet
     * known. updates: counter updates (or power samples) expected inside the window.
     * below_resolution: the window is shorter than one update period, or read exactly 0 J:
     * the energy is not to be trusted. error_bound_j: worst-case error from quantisation. */
    double update_period_s;
    double updates;
    bool below_resolution;
    double error_bound_j;
} zeus_gpu_measurement;

/* One CPU package's result; package_j and dram_j are NAN when unavailable. */
typedef struct {
    unsigned index;
    double package_j;
    bool dram_valid;
    double dram_j;
    int error;
} zeus_cpu_measurement;

/* A window's result. Opaque, so that it holds any number of devices and can grow without
 * breaking callers: make one with zeus_measurement_new(), let zeus_monitor_end_window() fill
 * it (reuse it for every window: no allocation per window), read it with the accessors below,
 * and free it with zeus_measurement_free(). Not shared between threads while being filled. */
typedef struct zeus_measurement zeus_measurement;

ZEUS_API zeus_measurement *zeus_measurement_new(void); /* NULL when out of memory */
ZEUS_API void zeus_measurement_free(zeus_measurement *m);
ZEUS_API double zeus_measurement_start_time_s(const zeus_measurement *m); /* clock at begin */
ZEUS_API double zeus_measurement_time_s(const zeus_measurement *m);       /* elapsed */
/* Sum over GPUs, as the original's total_energy; NAN if any GPU's energy is unavailable. */
ZEUS_API double zeus_measurement_total_energy_j(const zeus_measurement *m);
ZEUS_API bool zeus_measurement_cancelled(const zeus_measurement *m);
/* The CSV row could not be written (a warning was logged). */
ZEUS_API bool zeus_measurement_log_failed(const zeus_measurement *m);
/* GPUs and CPU packages in monitored order; NULL past the end. */
ZEUS_API unsigned zeus_measurement_gpu_count(const zeus_measurement *m);
ZEUS_API const zeus_gpu_measurement *zeus_measurement_gpu(const zeus_measurement *m, unsigned i);
ZEUS_API unsigned zeus_measurement_cpu_count(const zeus_measurement *m);
ZEUS_API const zeus_cpu_measurement *zeus_measurement_cpu(const zeus_measurement *m, unsigned i);
/* Looks up a GPU's energy in a measurement by framework index; NAN if not monitored. */
ZEUS_API double zeus_measurement_gpu_energy(const zeus_measurement *m, unsigned gpu);

/* The measurement as one line of JSON (malloc'd; release with zeus_free()), the form every face
 * shares: {"start_time_s", "time_s", "total_energy_j", "cancelled", "gpus": [{"index",
 * "energy_j", "method", "update_period_s", "updates", "below_resolution", "error_bound_j"
 * [, "error"] [, "cross_check": {"status", "counter_j", "sampled_j", "allowed_j"}]}], "cpus":
 * [{"index", "package_j" [, "dram_j"] [, "error"]}]}. An unavailable
 * value (NAN) is null, and the device then carries "error" (zeus_strerror of its code). */
ZEUS_API int zeus_measurement_to_json(const zeus_measurement *m, char **out);

ZEUS_API int zeus_monitor_open(zeus_devices *devices, const zeus_monitor_options *options,
                               zeus_monitor **out);
ZEUS_API void zeus_monitor_close(zeus_monitor *monitor);

/* Monitored GPUs (framework indices) and CPU packages, in order. */
ZEUS_API unsigned zeus_monitor_gpu_count(const zeus_monitor *monitor);
ZEUS_API unsigned zeus_monitor_gpu_index(const zeus_monitor *monitor, unsigned i);
ZEUS_API unsigned zeus_monitor_cpu_count(const zeus_monitor *monitor);
ZEUS_API zeus_devices *zeus_monitor_devices(const zeus_monitor *monitor);
/* The power sampler the monitor runs for GPUs without a counter and to keep monitored CPUs'
 * RAPL wraparound counted (NULL if neither is needed). */
ZEUS_API zeus_sampler *zeus_monitor_sampler(const zeus_monitor *monitor);
/* Measured energy-counter update period of a monitored GPU (framework index); 0 if unknown
 * yet (measurement runs in the background for about a second after open). */
ZEUS_API double zeus_monitor_update_period_s(const zeus_monitor *monitor, unsigned gpu);
/* Blocks until the background update-period measurement is done (tests, the CLI). */
ZEUS_API void zeus_monitor_wait_update_period(zeus_monitor *monitor);

/* ZEUS_EEXIST if a window of that name is open. A GPU whose counter cannot be read does not
 * fail the call: the error is reported for that GPU when the window ends. */
ZEUS_API int zeus_monitor_begin_window(zeus_monitor *monitor, const char *name, bool sync);
/* An open window's start, as the original's `measurement_states` keeps it: the clock at begin
 * (*time_s) and what each monitored device's counter read then, in J: gpu_j[i] for the i-th
 * monitored GPU (NAN without a counter or when the read failed), cpu_j / dram_j for each CPU
 * package (NAN likewise; dram NAN without DRAM). Arrays may be NULL; at most gpu_n / cpu_n are
 * written. ZEUS_ENOENT if no window of that name is open. */
ZEUS_API int zeus_monitor_window_start(zeus_monitor *monitor, const char *name, double *time_s,
                                       double *gpu_j, unsigned gpu_n, double *cpu_j, double *dram_j,
                                       unsigned cpu_n);
/* Cancels every open window (nothing is logged): the newer Zeus's reset_windows. */
ZEUS_API void zeus_monitor_reset_windows(zeus_monitor *monitor);
/* ZEUS_ENOENT if no window of that name is open. cancel: returns zeros and logs nothing. */
ZEUS_API int zeus_monitor_end_window(zeus_monitor *monitor, const char *name, bool sync,
                                     bool cancel, zeus_measurement *out);

/* ---- Cross-check: counter against sampled power (docs/measurement.md, "Cross-check") ----
 * With a power sampler running beside the monitor (PowerMonitor, the exporter, `zeus monitor`),
 * every window of a counter GPU that the sampler also samples compares the counter's energy with
 * the integral of the sampled power. They disagree when they differ by more than both methods'
 * error bounds (error_bound_j: one counter update period, two sampling periods, at the maximum
 * power) plus ZEUS_CROSS_CHECK_REL_TOL of the larger (the sensors' own accuracy). A disagreement
 * is flagged in the measurement (zeus_measurement_gpu_cross_check) and warned once per GPU per
 * monitor. With ZEUS_CROSS_CHECK_FALLBACK the window then takes the sampled energy when the
 * counter is the one that is wrong: it did not move while power was drawn (frozen), or its
 * energy means more than 1.5 x the maximum power limit (wrong rate). When the power readings
 * are the wrong ones (one value throughout a window of several samples: a stuck sensor), or
 * when neither can be shown wrong, the counter's energy stays. */
typedef enum {
    ZEUS_CROSS_CHECK_OFF = 0,  /* default: no comparison */
    ZEUS_CROSS_CHECK_FLAG,     /* compare, flag and warn */
    ZEUS_CROSS_CHECK_FALLBACK, /* also take the trustworthy method's energy */
} zeus_cross_check_mode;

typedef enum {
    ZEUS_CHECK_NONE = 0,  /* not compared (off, not sampled, fewer than two samples, error) */
    ZEUS_CHECK_AGREE,     /* within the bounds */
    ZEUS_CHECK_DISAGREE,  /* beyond the bounds; energy_j is still the counter's */
    ZEUS_CHECK_FELL_BACK, /* beyond the bounds; energy_j is the sampled energy (method SAMPLED) */
} zeus_cross_check_status;

#define ZEUS_CROSS_CHECK_REL_TOL 0.1

ZEUS_API const char *zeus_cross_check_status_name(zeus_cross_check_status status);
/* Attaches a running sampler (NULL detaches; the caller keeps it running while attached and
 * stops it after detaching or closing the monitor). ZEUS_EINVAL for an unknown mode, or a
 * sampler that samples none of the monitor's GPUs. */
ZEUS_API int zeus_monitor_cross_check(zeus_monitor *monitor, zeus_sampler *sampler,
                                      zeus_cross_check_mode mode);
/* The cross-check of GPU i (monitored order) in a measurement: its status and, when compared
 * (any pointer may be NULL), the counter's energy, the sampled energy and the allowed
 * difference. */
ZEUS_API zeus_cross_check_status zeus_measurement_gpu_cross_check(const zeus_measurement *m,
                                                                  unsigned i, double *counter_j,
                                                                  double *sampled_j,
                                                                  double *allowed_j);

/* ---- Replay (the original's ReplayZeusMonitor, for tests of code that consumes windows) ----
 * Plays back a monitor CSV log: each end_window returns the next row. GPU indices come from the
 * header. match_window_name: a row must carry the ended window's name. devices (may be NULL) is
 * what zeus_monitor_devices() returns, for code that also changes GPU settings. Errors, like the
 * original's: a duplicate begin is ZEUS_EEXIST ("Window <name> is already ongoing."), an unknown
 * end ZEUS_ENOENT ("... is not ongoing."), running out of rows ZEUS_ENOENT ("No more lines in
 * the log file."), a name mismatch ZEUS_ESTATE ("Was expecting <row>, not <name>."). */
ZEUS_API int zeus_monitor_open_replay(zeus_devices *devices, const char *log_file,
                                      bool match_window_name, zeus_monitor **out);

#ifdef __cplusplus
}
#endif
#endif
