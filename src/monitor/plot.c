/* Power timelines as SVG (zeus/plot.h). */
#include "core/csv.h"
#include "core/internal.h"
#include "monitor/svg.h"
#include "zeus/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double x0, y0, w, h; /* plot area in pixels */
    double t0, t1, p1;   /* data ranges: time and power (from 0) */
} frame;

static double px(const frame *fr, double t)
{
    return fr->x0 + (t - fr->t0) / (fr->t1 - fr->t0) * fr->w;
}

static double py(const frame *fr, double p)
{
    return fr->y0 + fr->h - p / fr->p1 * fr->h;
}

static void polyline(FILE *f, const zeus_power_plot *pl, const frame *fr, unsigned col)
{
    fprintf(f, "<polyline class=\"series\" data-column=\"");
    zeus__svg_put_escaped(f,
                          pl->column_names && pl->column_names[col] ? pl->column_names[col] : "");
    fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
            zeus__svg_color(col));
    /* Per pixel column, the minimum and maximum in time order: peaks survive downsampling. */
    size_t i = 0;
    bool first = true;
    while (i < pl->count) {
        long column = lround(px(fr, pl->times_s[i]));
        size_t lo = SIZE_MAX, hi = SIZE_MAX, j = i;
        for (; j < pl->count && lround(px(fr, pl->times_s[j])) == column; j++) {
            double v = pl->power_w[j * pl->column_count + col];
            if (isnan(v))
                continue;
            if (lo == SIZE_MAX || v < pl->power_w[lo * pl->column_count + col])
                lo = j;
            if (hi == SIZE_MAX || v > pl->power_w[hi * pl->column_count + col])
                hi = j;
        }
        size_t pick[2] = {lo < hi ? lo : hi, lo < hi ? hi : lo};
        for (int k = 0; k < 2; k++) {
            if (pick[k] == SIZE_MAX || (k == 1 && pick[1] == pick[0]))
                continue;
            double v = pl->power_w[pick[k] * pl->column_count + col];
            fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(fr, pl->times_s[pick[k]]),
                    py(fr, v < 0 ? 0 : v));
            first = false;
        }
        i = j;
    }
    fprintf(f, "\"/>\n");
}

int zeus_plot_power_svg(const zeus_power_plot *pl, char **svg)
{
    *svg = NULL;
    if (!pl || pl->count == 0 || pl->column_count == 0 || !pl->times_s || !pl->power_w)
        return zeus__error(ZEUS_EINVAL, "a power plot needs samples and at least one column");
    double W = pl->width_px ? pl->width_px : 960, H = pl->height_px ? pl->height_px : 540;
    if (W < 200 || H < 150 || W > 20000 || H > 20000)
        return zeus__error(ZEUS_EINVAL, "plot size %gx%g: between 200x150 and 20000x20000", W, H);
    frame fr = {.x0 = 64, .y0 = 40, .w = W - 64 - 24, .h = H - 40 - 48 - 18 * 1.0};
    fr.t0 = pl->times_s[0];
    fr.t1 = pl->times_s[pl->count - 1];
    if (!(fr.t1 > fr.t0))
        fr.t1 = fr.t0 + 1;
    double pmax = 0;
    for (size_t i = 0; i < pl->count * pl->column_count; i++)
        if (pl->power_w[i] > pmax)
            pmax = pl->power_w[i];
    double ystep = zeus__svg_nice_step(pmax > 0 ? pmax * 1.05 : 1, 5);
    fr.p1 = ceil((pmax > 0 ? pmax * 1.05 : 1) / ystep) * ystep;
    fr.h -= 18.0 * ((pl->column_count + 5) / 6); /* legend rows */

    size_t size = 0;
    FILE *f = open_memstream(svg, &size);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    zeus__svg_begin(f, W, H, pl->title ? pl->title : "Power");
    /* Windows under the lines. */
    for (size_t i = 0; i < pl->window_count; i++) {
        const zeus_plot_window *w = &pl->windows[i];
        double a = fmax(w->start_s, fr.t0), b = fmin(w->end_s, fr.t1);
        if (!(b >= a))
            continue;
        fprintf(f,
                "<rect class=\"window\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"#888\" fill-opacity=\"0.15\" stroke=\"#888\" stroke-dasharray=\"4 2\"/>\n"
                "<text class=\"window-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"10\">",
                px(&fr, a), fr.y0, px(&fr, b) - px(&fr, a), fr.h, px(&fr, a) + 2, fr.y0 + 11);
        zeus__svg_put_escaped(f, w->name ? w->name : "");
        fprintf(f, "</text>\n");
    }
    /* Axes, grid and ticks. */
    fprintf(f, "<g class=\"axes\" stroke=\"#ccc\">\n");
    for (double p = 0; p <= fr.p1 + ystep / 2; p += ystep)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", fr.x0, fr.x0 + fr.w,
                py(&fr, p), py(&fr, p));
    double span = fr.t1 - fr.t0, xstep = zeus__svg_nice_step(span, 8);
    for (double t = 0; t <= span + xstep / 1e6; t += xstep)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", px(&fr, fr.t0 + t),
                px(&fr, fr.t0 + t), fr.y0, fr.y0 + fr.h);
    fprintf(f, "</g>\n<g class=\"labels\" fill=\"#333\">\n");
    for (double p = 0; p <= fr.p1 + ystep / 2; p += ystep)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", fr.x0 - 6,
                py(&fr, p) + 4, p);
    for (double t = 0; t <= span + xstep / 1e6; t += xstep)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                px(&fr, fr.t0 + t), fr.y0 + fr.h + 16, t);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time (s)</text>\n"
            "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">"
            "power (W)</text>\n</g>\n",
            fr.x0 + fr.w / 2, fr.y0 + fr.h + 32, fr.y0 + fr.h / 2);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            fr.x0, fr.y0, fr.w, fr.h);
    for (unsigned c = 0; c < pl->column_count; c++)
        polyline(f, pl, &fr, c);
    /* Legend: up to six entries per row under the time axis. */
    for (unsigned c = 0; c < pl->column_count; c++) {
        double x = fr.x0 + (c % 6) * (fr.w / 6), y = fr.y0 + fr.h + 50 + 18 * (c / 6);
        fprintf(f,
                "<line class=\"legend\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\" stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\">",
                x, x + 20, y - 4, y - 4, zeus__svg_color(c), x + 26, y);
        zeus__svg_put_escaped(f,
                              pl->column_names && pl->column_names[c] ? pl->column_names[c] : "");
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        free(*svg);
        *svg = NULL;
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    return ZEUS_OK;
}

int zeus_plot_read_windows(const char *log_file, zeus_plot_window **windows, size_t *count)
{
    *windows = NULL;
    *count = 0;
    zeus_csv csv;
    int rc = zeus__csv_open(&csv, log_file);
    if (rc != ZEUS_OK)
        return rc;
    size_t start_col, name_col, elapsed_col, n = 0, cap = 0, names = 0;
    zeus_plot_window *w = NULL;
    char *block = NULL;
    if ((rc = zeus__csv_column(&csv, "start_time", &start_col)) != ZEUS_OK ||
        (rc = zeus__csv_column(&csv, "window_name", &name_col)) != ZEUS_OK ||
        (rc = zeus__csv_column(&csv, "elapsed_time", &elapsed_col)) != ZEUS_OK)
        goto done;
    for (;;) {
        bool eof, missing;
        if ((rc = zeus__csv_next(&csv, &eof)) != ZEUS_OK || eof)
            break;
        double start, elapsed;
        if ((rc = zeus__csv_double(&csv, start_col, &start, &missing)) != ZEUS_OK ||
            (rc = zeus__csv_double(&csv, elapsed_col, &elapsed, &missing)) != ZEUS_OK)
            break;
        if (isnan(start) || isnan(elapsed)) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: a window needs start_time and elapsed_time",
                             log_file, csv.line);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            zeus_plot_window *grown = realloc(w, cap * sizeof *w);
            if (!grown) {
                rc = zeus__error(ZEUS_ENOMEM, "out of memory");
                break;
            }
            w = grown;
        }
        /* The name points into the CSV's buffer for now; copied below. */
        w[n++] = (zeus_plot_window){csv.fields[name_col], start, start + elapsed};
        names += strlen(csv.fields[name_col]) + 1;
    }
    if (rc != ZEUS_OK)
        goto done;
    /* One allocation: the array, then the names. */
    block = malloc(n * sizeof *w + names + 1);
    if (!block) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory");
        goto done;
    }
    char *p = block + n * sizeof *w;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(w[i].name) + 1;
        memcpy(p, w[i].name, len);
        w[i].name = p;
        p += len;
    }
    if (n)
        memcpy(block, w, n * sizeof *w);
    *windows = (zeus_plot_window *)(void *)block;
    *count = n;
done:
    free(w);
    zeus__csv_close(&csv);
    return rc;
}
