/* Charts as SVG (zeus/plot.h): series over a numeric axis in stacked panels, for pictures of
 * the simulator and a recurring job's history. Pure: makes text. */
#include "core/internal.h"
#include "monitor/svg.h"
#include "zeus/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LEFT_PX 80.0
#define RIGHT_PX 24.0
#define TOP_PX 40.0
#define LEGEND_ROW_PX 18.0
#define LEGEND_PER_ROW 4

/* The unit that suits the largest magnitude of an axis, and the factor from the base unit. */
typedef struct {
    const char *name;
    double per_base;
} shown_unit;

static shown_unit unit_for(zeus_plot_unit unit, double largest)
{
    if (unit == ZEUS_PLOT_UNIT_JOULES)
        return largest >= 3.6e6 ? (shown_unit){"kWh", 1 / 3.6e6}
               : largest >= 1e4 ? (shown_unit){"kJ", 1e-3}
                                : (shown_unit){"J", 1};
    if (unit == ZEUS_PLOT_UNIT_SECONDS)
        return largest >= 7200  ? (shown_unit){"h", 1 / 3600.0}
               : largest >= 180 ? (shown_unit){"min", 1 / 60.0}
                                : (shown_unit){"s", 1};
    return (shown_unit){NULL, 1};
}

typedef struct {
    double x0, y0, w, h;           /* plot area in pixels */
    double xmin, xmax, ymin, ymax; /* data range, in shown units */
    shown_unit xu, yu;
} frame;

static double px(const frame *fr, double x)
{
    return fr->x0 + (x * fr->xu.per_base - fr->xmin) / (fr->xmax - fr->xmin) * fr->w;
}

static double py(const frame *fr, double y)
{
    return fr->y0 + fr->h - (y * fr->yu.per_base - fr->ymin) / (fr->ymax - fr->ymin) * fr->h;
}

/* The data range of a panel; false if it has no finite point. */
static bool panel_range(const zeus_plot_panel *p, frame *fr)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t s = 0; s < p->series_count; s++)
        for (size_t i = 0; i < p->series[s].count; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (!isfinite(x) || !isfinite(y))
                continue;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    if (!(xhi >= xlo))
        return false;
    fr->xu = unit_for(p->x_unit, fmax(fabs(xlo), fabs(xhi)));
    fr->yu = unit_for(p->y_unit, fmax(fabs(ylo), fabs(yhi)));
    fr->xmin = xlo * fr->xu.per_base, fr->xmax = xhi * fr->xu.per_base;
    if (!(fr->xmax > fr->xmin))
        fr->xmax = fr->xmin + 1;
    double lo = ylo * fr->yu.per_base, hi = yhi * fr->yu.per_base;
    if (lo >= 0) /* magnitudes: from 0, so bars of different heights are not exaggerated */
        lo = 0;
    if (!(hi > lo))
        hi = lo + 1;
    double step = zeus__svg_nice_step((hi - lo) * 1.05, 5);
    fr->ymin = floor(lo / step) * step;
    fr->ymax = ceil((hi + (hi - lo) * 0.05) / step) * step;
    return true;
}

static void axis_label(FILE *f, const char *label, const shown_unit *u)
{
    zeus__svg_put_escaped(f, label ? label : "");
    if (u->name)
        fprintf(f, " (%s)", u->name);
}

static void axes(FILE *f, const zeus_plot_panel *p, const frame *fr)
{
    double ystep = zeus__svg_nice_step(fr->ymax - fr->ymin, 5);
    double xstep = zeus__svg_nice_step(fr->xmax - fr->xmin, 8);
    double xfirst = ceil(fr->xmin / xstep) * xstep;
    fprintf(f, "<g class=\"axes\" stroke=\"#ccc\">\n");
    for (double y = fr->ymin; y <= fr->ymax + ystep / 2; y += ystep) {
        double yy = fr->y0 + fr->h - (y - fr->ymin) / (fr->ymax - fr->ymin) * fr->h;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", fr->x0,
                fr->x0 + fr->w, yy, yy);
    }
    fprintf(f, "</g>\n<g class=\"labels\" fill=\"#333\">\n");
    for (double y = fr->ymin; y <= fr->ymax + ystep / 2; y += ystep)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", fr->x0 - 6,
                fr->y0 + fr->h - (y - fr->ymin) / (fr->ymax - fr->ymin) * fr->h + 4,
                fabs(y) < ystep / 1e6 ? 0.0 : y);
    for (double x = xfirst; x <= fr->xmax + xstep / 1e6; x += xstep)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                fr->x0 + (x - fr->xmin) / (fr->xmax - fr->xmin) * fr->w, fr->y0 + fr->h + 16, x);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", fr->x0 + fr->w / 2,
            fr->y0 + fr->h + 32);
    axis_label(f, p->x_label, &fr->xu);
    fprintf(f,
            "</text>\n<text transform=\"translate(18 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            fr->y0 + fr->h / 2);
    axis_label(f, p->y_label, &fr->yu);
    fprintf(f,
            "</text>\n</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#333\"/>\n",
            fr->x0, fr->y0, fr->w, fr->h);
}

static void series(FILE *f, const zeus_plot_series *s, const frame *fr, size_t index)
{
    const char *color = zeus__svg_color(index);
    if (s->points) {
        fprintf(f, "<g class=\"series\" data-series=\"");
        zeus__svg_put_escaped(f, s->name ? s->name : "");
        fprintf(f, "\" fill=\"%s\">\n", color);
        for (size_t i = 0; i < s->count; i++)
            if (isfinite(s->x[i]) && isfinite(s->y[i]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n", px(fr, s->x[i]),
                        py(fr, s->y[i]));
        fprintf(f, "</g>\n");
        return;
    }
    fprintf(f, "<polyline class=\"series\" data-series=\"");
    zeus__svg_put_escaped(f, s->name ? s->name : "");
    fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"", color,
            s->dashed ? " stroke-dasharray=\"6 3\"" : "");
    bool first = true;
    for (size_t i = 0; i < s->count; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i]))
            continue;
        fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(fr, s->x[i]), py(fr, s->y[i]));
        first = false;
    }
    fprintf(f, "\"/>\n");
}

static void legend(FILE *f, const zeus_plot_panel *p, const frame *fr, size_t first_color)
{
    for (size_t s = 0; s < p->series_count; s++) {
        double x = fr->x0 + (double)(s % LEGEND_PER_ROW) * (fr->w / LEGEND_PER_ROW);
        double y = fr->y0 + fr->h + 52 + LEGEND_ROW_PX * (double)(s / LEGEND_PER_ROW);
        fprintf(f,
                "<line class=\"legend\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\" stroke-width=\"3\"%s/>\n<text x=\"%.1f\" y=\"%.1f\">",
                x, x + 20, y - 4, y - 4, zeus__svg_color(first_color + s),
                p->series[s].dashed ? " stroke-dasharray=\"6 3\"" : "", x + 26, y);
        zeus__svg_put_escaped(f, p->series[s].name ? p->series[s].name : "");
        fprintf(f, "</text>\n");
    }
}

int zeus_plot_chart_svg(const zeus_plot_chart *chart, char **svg)
{
    *svg = NULL;
    if (!chart || !chart->panels || chart->panel_count == 0)
        return zeus__error(ZEUS_EINVAL, "a chart needs at least one panel");
    double W = chart->width_px ? chart->width_px : 960;
    double H = chart->height_px ? chart->height_px : 320.0 * (double)chart->panel_count + TOP_PX;
    if (W < 200 || H < 150 || W > 20000 || H > 20000)
        return zeus__error(ZEUS_EINVAL, "chart size %gx%g: between 200x150 and 20000x20000", W, H);
    frame frames[16];
    if (chart->panel_count > ZEUS_ARRAY_LEN(frames))
        return zeus__error(ZEUS_EINVAL, "a chart has at most %zu panels", ZEUS_ARRAY_LEN(frames));
    double panel_h = (H - TOP_PX) / (double)chart->panel_count;
    for (size_t i = 0; i < chart->panel_count; i++) {
        const zeus_plot_panel *p = &chart->panels[i];
        if (!panel_range(p, &frames[i]))
            return zeus__error(ZEUS_EINVAL, "chart panel %zu (%s) has no finite point", i + 1,
                               p->y_label ? p->y_label : "unnamed");
        double rows = ceil((double)p->series_count / LEGEND_PER_ROW);
        frames[i].x0 = LEFT_PX;
        frames[i].w = W - LEFT_PX - RIGHT_PX;
        frames[i].y0 = TOP_PX + panel_h * (double)i + 8;
        frames[i].h = panel_h - 8 - 44 - LEGEND_ROW_PX * rows;
        if (frames[i].h < 40)
            return zeus__error(ZEUS_EINVAL, "chart too small for %zu panels", chart->panel_count);
    }
    size_t size = 0;
    FILE *f = open_memstream(svg, &size);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    zeus__svg_begin(f, W, H, chart->title ? chart->title : "");
    size_t color = 0;
    for (size_t i = 0; i < chart->panel_count; i++) {
        const zeus_plot_panel *p = &chart->panels[i];
        fprintf(f, "<g class=\"panel\">\n");
        axes(f, p, &frames[i]);
        for (size_t s = 0; s < p->series_count; s++)
            series(f, &p->series[s], &frames[i], color + s);
        legend(f, p, &frames[i], color);
        color += p->series_count;
        fprintf(f, "</g>\n");
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        free(*svg);
        *svg = NULL;
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    return ZEUS_OK;
}
