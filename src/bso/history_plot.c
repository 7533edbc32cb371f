/* `zeus history JOB --plot F.svg|F.png`: the job's trials as a picture through libzeus's chart
 * API (zeus/plot.h): the cost of each trial beside the early-stop threshold (beta_knob times the
 * lowest cost of a trial that reached the target before it), and the batch size of each trial
 * over time. A PNG is the SVG rasterized by the zeus-svg2png.so module, which sits beside
 * zeus-bso (the build tree; libexec/zeus when installed) and is loaded only for a .png. */
#include "history.h"

#include "zeus/common.h"
#include "zeus/output.h"
#include "zeus/plot.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define WIDTH_PX 960
#define HEIGHT_PX 700

#ifdef __SANITIZE_ADDRESS__
/* fontconfig (librsvg's text) keeps its caches for the life of the process: not our leaks. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}
#endif

/* Loads the rasterizer beside this executable (it is installed beside zeus-bso, in
 * libexec/zeus); false, having said why on stderr, if it cannot. */
static bool load_rasterizer(const char *plot)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    char *slash = n > 0 ? (path[n] = '\0', strrchr(path, '/')) : NULL;
    bool fits = slash && (size_t)(slash - path) + sizeof "/" ZEUS_PLOT_PNG_MODULE <= sizeof path;
    if (fits)
        memcpy(slash + 1, ZEUS_PLOT_PNG_MODULE, sizeof ZEUS_PLOT_PNG_MODULE);
    if (zeus_plot_load_png_module(fits ? path : NULL) != ZEUS_OK) {
        fprintf(stderr, "zeus history: error: --plot %s: %s\n", plot, zeus_last_error());
        return false;
    }
    return true;
}

int bso_history_plot_format(const char *path, bool *png)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (dot && (!slash || dot > slash) &&
        (strcasecmp(dot, ".svg") == 0 || strcasecmp(dot, ".png") == 0)) {
        *png = strcasecmp(dot, ".png") == 0;
        return 0;
    }
    fprintf(stderr, "zeus history: error: --plot '%s': name a .svg or .png file\n", path);
    return -1;
}

static int write_chart(const zeus_plot_chart *chart, const char *path, bool as_png)
{
    char *svg = NULL;
    unsigned char *png = NULL;
    size_t png_len = 0;
    int rc = zeus_plot_chart_svg(chart, &svg), result = -1;
    if (rc != ZEUS_OK) {
        fprintf(stderr, "zeus history: error: --plot %s: %s\n", path, zeus_last_error());
        goto done;
    }
    if (as_png) {
        if (!load_rasterizer(path))
            goto done;
        if (zeus_plot_svg_to_png(svg, chart->width_px, chart->height_px, &png, &png_len) !=
            ZEUS_OK) {
            fprintf(stderr, "zeus history: error: --plot %s: %s\n", path, zeus_last_error());
            goto done;
        }
    }
    rc = png ? zeus_write_file(path, png, png_len) : zeus_write_file(path, svg, strlen(svg));
    if (rc != ZEUS_OK)
        fprintf(stderr, "zeus history: error: --plot %s: %s\n", path, zeus_last_error());
    result = rc == ZEUS_OK ? 0 : -1;
done:
    zeus_free(png);
    zeus_free(svg);
    return result;
}

int bso_history_plot(const char *path, bool as_png, const char *job, const bso_history_trial *t,
                     size_t n, double beta_knob)
{
    if (n == 0) {
        fprintf(stderr, "zeus history: error: --plot %s: job '%s' has no trials to draw\n", path,
                job);
        return -1;
    }
    double *buf = malloc(5 * n * sizeof *buf);
    if (!buf) {
        fprintf(stderr, "zeus history: error: out of memory\n");
        return -1;
    }
    double *x = buf, *cost = x + n, *threshold = cost + n, *when = threshold + n, *bs = when + n;
    double best = INFINITY, t0 = INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(t[i].start_s) && t[i].start_s < t0)
            t0 = t[i].start_s;
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)t[i].trial_number;
        cost[i] = t[i].cost;
        /* The threshold a trial ran under: beta times the best cost reached before it. */
        threshold[i] = isfinite(best) && isfinite(beta_knob) ? beta_knob * best : NAN;
        if (t[i].reached && isfinite(t[i].cost) && t[i].cost < best)
            best = t[i].cost;
        when[i] = isfinite(t[i].start_s) ? t[i].start_s - t0 : NAN;
        bs[i] = (double)t[i].batch_size;
    }
    /* Trials without a start time (an old store) are drawn by trial number instead. */
    bool timed = isfinite(t0);
    zeus_plot_series costs[] = {{"cost per trial", x, cost, n, true, false},
                                {"early-stop threshold", x, threshold, n, false, true}};
    zeus_plot_series sizes[] = {{"batch size", timed ? when : x, bs, n, true, false}};
    bool has_threshold = false;
    for (size_t i = 0; i < n; i++)
        has_threshold = has_threshold || isfinite(threshold[i]);
    zeus_plot_panel panels[] = {
        {"trial", "cost", ZEUS_PLOT_UNIT_NONE, ZEUS_PLOT_UNIT_JOULES, costs, has_threshold ? 2 : 1},
        {timed ? "time since the first trial" : "trial", "batch size",
         timed ? ZEUS_PLOT_UNIT_SECONDS : ZEUS_PLOT_UNIT_NONE, ZEUS_PLOT_UNIT_NONE, sizes, 1}};
    char title[512];
    snprintf(title, sizeof title, "zeus history: %s", job);
    zeus_plot_chart chart = {title, panels, 2, WIDTH_PX, HEIGHT_PX};
    int rc = write_chart(&chart, path, as_png);
    free(buf);
    return rc;
}
