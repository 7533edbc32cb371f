/* Power timelines as pictures: an SVG line chart of power per device over time, with windows
 * marked as shaded bands (`zeus monitor power --plot`). Written by our own code: no plotting
 * library. Pure: makes text; write it with zeus_write_file (zeus/output.h).
 *
 * The picture: width x height pixels; one <polyline class="series"> per column (its name in
 * data-column and in the legend; a NaN sample is skipped, so a gap is drawn as a straight line);
 * one <rect class="window"> per window with its name above; time axis in seconds from the first
 * sample, power axis in watts from 0. Long timelines keep each pixel column's minimum and
 * maximum, so peaks survive however many samples there are. */
#ifndef ZEUS_PLOT_H
#define ZEUS_PLOT_H

#include "zeus/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;
    double start_s, end_s; /* same clock as the samples' times */
} zeus_plot_window;

typedef struct {
    const double *times_s; /* count sample times, increasing */
    const double *power_w; /* count x column_count values, row by row */
    size_t count;
    unsigned column_count;
    const char *const *column_names; /* "gpu0", "cpu0", ... */
    const zeus_plot_window *windows; /* may be NULL */
    size_t window_count;
    unsigned width_px, height_px; /* 0: 960 x 540; at least 200 x 150 */
    const char *title;            /* NULL: "Power" */
} zeus_power_plot;

/* The SVG text (malloc'd; release with zeus_free()). ZEUS_EINVAL without samples or columns. */
ZEUS_API int zeus_plot_power_svg(const zeus_power_plot *plot, char **svg);

/* Reads the windows of a ZeusMonitor log (`zeus monitor energy --log-file`: start_time,
 * window_name, elapsed_time, ...). *windows and their names are one allocation: release with
 * zeus_free(). Errors name the file and line. */
ZEUS_API int zeus_plot_read_windows(const char *log_file, zeus_plot_window **windows,
                                    size_t *count);

#ifdef __cplusplus
}
#endif
#endif
