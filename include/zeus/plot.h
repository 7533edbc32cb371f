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

/* ---- PNG: a picture's SVG rasterized by the zeus-svg2png.so module (librsvg + cairo) ------- */

/* The module is never linked into libzeus or a face: it is loaded only when a PNG is asked for,
 * so nothing else loads librsvg's fifty-odd libraries. Built only where librsvg2-dev is. */
#define ZEUS_PLOT_PNG_MODULE "zeus-svg2png.so"

/* Loads the module at module_path once per process (faces pass where they keep it: the zeus
 * command beside itself or in libexec/zeus, zeus-bso beside itself). ZEUS_ENOENT, saying what
 * to install, when it is missing (module_path NULL: not found); ZEUS_ELIB when it does not
 * load. Thread-safe. */
ZEUS_API int zeus_plot_load_png_module(const char *module_path);
/* The SVG text rasterized to a width x height PNG (*png malloc'd, release with zeus_free()).
 * ZEUS_ESTATE before zeus_plot_load_png_module succeeded; ZEUS_EIO with the module's reason. */
ZEUS_API int zeus_plot_svg_to_png(const char *svg, unsigned width, unsigned height,
                                  unsigned char **png, size_t *len);

/* ---- Charts: series over a numeric axis, in panels stacked top to bottom ------------------ */

/* The unit of an axis: values are given in the base unit (J, s) and shown in the unit that
 * suits their magnitude (J, kJ, MJ, kWh; s, min, h), named in the axis label. */
typedef enum {
    ZEUS_PLOT_UNIT_NONE = 0, /* plain numbers */
    ZEUS_PLOT_UNIT_JOULES,
    ZEUS_PLOT_UNIT_SECONDS,
} zeus_plot_unit;

typedef struct {
    const char *name;    /* legend entry (data-series in the SVG) */
    const double *x, *y; /* count points, x increasing; a NaN y is left out */
    size_t count;
    bool points; /* a marker at each point instead of a line */
    bool dashed; /* a dashed line (a reference: a threshold, an oracle) */
} zeus_plot_series;

typedef struct {
    const char *x_label, *y_label; /* e.g. "recurrence", "cost"; the unit is appended */
    zeus_plot_unit x_unit, y_unit;
    const zeus_plot_series *series;
    size_t series_count;
} zeus_plot_panel;

typedef struct {
    const char *title;
    const zeus_plot_panel *panels;
    size_t panel_count;
    unsigned width_px, height_px; /* 0: 960 wide, 320 per panel */
} zeus_plot_chart;

/* The chart as SVG text (malloc'd; release with zeus_free()): per panel a <g class="panel">
 * with one <polyline class="series"> (or <g class="series"> of circles) per series, carrying
 * data-series; axes from the data's range (y from 0 when all values are positive). ZEUS_EINVAL
 * without panels, or a panel without any finite point. */
ZEUS_API int zeus_plot_chart_svg(const zeus_plot_chart *chart, char **svg);

#ifdef __cplusplus
}
#endif
#endif
