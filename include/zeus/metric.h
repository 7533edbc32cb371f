/* Zeus window metrics for Prometheus, pushed to a Pushgateway (the newer Zeus's zeus.metric).
 *
 * A Pushgateway keeps the last push of each group (job plus grouping labels) for Prometheus to
 * scrape; batch work such as training windows reports there because it does not live long
 * enough to be scraped. The push is HTTP/1.1 over a plain TCP socket made here (libzeus links no
 * HTTP library): http:// URLs only, no TLS, no proxy, one request per connection.
 *
 * Metric names and labels (docs/exporter.md#pushgateway):
 *   zeus_push_measurement: one group per window (grouping label window=<name>), gauges
 *     zeus_window_duration_seconds, zeus_window_gpu_energy_joules{gpu},
 *     zeus_window_cpu_energy_joules{package}, zeus_window_dram_energy_joules{package},
 *     zeus_window_end_timestamp_seconds. A device whose energy is unavailable is left out.
 *   zeus_energy_histogram: the original's EnergyHistogram: histograms
 *     energy_monitor_{gpu,cpu,dram}_energy_joules{window,index} accumulated over every window
 *     observed, the whole set pushed after each.
 *
 * Thread safety: zeus_push_* may be called from any thread. A histogram is not to be used from
 * two threads at once. */
#ifndef ZEUS_METRIC_H
#define ZEUS_METRIC_H

#include "zeus/common.h"
#include "zeus/monitor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *url; /* "http://HOST[:PORT][/PREFIX]" (port 80 when left out); required */
    const char *job; /* the group's job label; required, non-empty */
    /* More grouping labels: name, value, name, value, ..., NULL (may be NULL). Values may hold
     * any bytes but NUL ('/' included): they travel base64url-encoded where needed. */
    const char *const *grouping;
    double timeout_s; /* for the whole request; 0: 10 s */
} zeus_push_target;

ZEUS_API void zeus_push_target_init(zeus_push_target *target);

/* Checks a target without contacting it (URL form, job, grouping label names): ZEUS_EINVAL
 * with the reason, as a push would fail. For checking a command line before the work. */
ZEUS_API int zeus_push_target_check(const zeus_push_target *target);

/* Sends body (Prometheus text exposition format) to the target's group: replace true is a PUT
 * (the group becomes exactly body), false a POST (only the metric names in body are replaced).
 * ZEUS_EINVAL for a bad target (the detail says what), ZEUS_EIO when the gateway cannot be
 * reached or answers other than 2xx (its status line and message in zeus_last_error()),
 * ZEUS_ETIMEOUT when it does not answer within timeout_s. */
ZEUS_API int zeus_push_text(const zeus_push_target *target, const char *body, bool replace);

/* Pushes a window's time and energy (see above) to the group {job, grouping..., window}; a PUT,
 * so the group holds this window's latest result. A cancelled window pushes nothing. */
ZEUS_API int zeus_push_measurement(const zeus_push_target *target, const char *window,
                                   const zeus_measurement *m);

/* Makes the monitor push every window it ends (not cancelled) as zeus_push_measurement does,
 * right after the window is measured and logged, on the thread that ends it; a push that fails
 * is logged as a warning and does not fail the window. The target is copied. NULL stops
 * pushing. Not to be called while another thread ends a window of this monitor. ZEUS_EINVAL
 * for a target without URL or job, ZEUS_ENOTSUP for a replay monitor. */
ZEUS_API int zeus_monitor_push_windows(zeus_monitor *monitor, const zeus_push_target *target);

/* ---- The text exposition format, for faces that write it (the exporter) ---- */
/* A sample value as Prometheus reads it: shortest round-trip digits ("10.0", "1e-07"), "+Inf",
 * "-Inf", "NaN". Returns buf (ZEUS_DOUBLE_BUF bytes are enough). */
ZEUS_API char *zeus_metric_format_value(double value, char *buf, size_t size);
/* A label value with the format's escapes (backslash, double quote, newline), NUL-terminated
 * in out when it fits. Returns the length the escaped text needs (without the NUL), as
 * snprintf does: a result >= size means out was too small. */
ZEUS_API size_t zeus_metric_escape_label(const char *value, char *out, size_t size);

/* ---- EnergyHistogram ---- */
typedef struct zeus_energy_histogram zeus_energy_histogram;

typedef struct {
    zeus_push_target target;
    /* Upper bounds in J, increasing, +Inf added; NULL/0: the original's defaults: GPU 50, 100,
     * 200, 500, 1000; CPU 10, 20, 50, 100, 200; DRAM 5, 10, 20, 50, 150. At most 32 each. */
    const double *gpu_buckets;
    size_t gpu_bucket_count;
    const double *cpu_buckets;
    size_t cpu_bucket_count;
    const double *dram_buckets;
    size_t dram_bucket_count;
} zeus_energy_histogram_options;

ZEUS_API void zeus_energy_histogram_options_init(zeus_energy_histogram_options *options);
/* Copies the options (the target's strings included). ZEUS_EINVAL for unsorted buckets. */
ZEUS_API int zeus_energy_histogram_new(const zeus_energy_histogram_options *options,
                                       zeus_energy_histogram **out);
ZEUS_API void zeus_energy_histogram_free(zeus_energy_histogram *h);
/* Observes each device's energy in m under window (unavailable energies skipped; an energy
 * above the largest bucket is logged as a warning, as the original does) and pushes every
 * histogram (a PUT to the target's group). The observation is kept even when the push fails,
 * so the next push carries it. */
ZEUS_API int zeus_energy_histogram_observe(zeus_energy_histogram *h, const char *window,
                                           const zeus_measurement *m);
/* The text the next push sends (malloc'd; release with zeus_free()). */
ZEUS_API int zeus_energy_histogram_text(const zeus_energy_histogram *h, char **out);

#ifdef __cplusplus
}
#endif
#endif
