/* `zeus history JOB --plot F.svg|F.png`: the job's trials as a picture through libzeus's chart
 * API (zeus/plot.h): the cost of each trial beside the early-stop threshold (beta_knob times the
 * lowest cost of a trial that reached the target before it), and the batch size of each trial
 * over time. A PNG is the SVG rasterized by the zeus-svg2png.so module, which sits beside
 * zeus-bso (the build tree; libexec/zeus when installed) and is loaded only for a .png. */
#include "history.h"

#include "zeus/common.h"
#include "zeus/output.h"
#include "zeus/plot.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SVG2PNG_MODULE "zeus-svg2png.so"
#define WIDTH_PX 960
#define HEIGHT_PX 700

typedef int (*svg_to_png_fn)(const char *svg, unsigned width, unsigned height, unsigned char **png,
                             size_t *len, char *err, size_t err_size);

#ifdef __SANITIZE_ADDRESS__
/* fontconfig (librsvg's text) keeps its caches for the life of the process: not our leaks. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}
#endif

/* The rasterizer beside this executable, or NULL (and why, on stderr). */
static svg_to_png_fn load_rasterizer(const char *plot)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    char *slash = n > 0 ? (path[n] = '\0', strrchr(path, '/')) : NULL;
    if (!slash || (size_t)(slash - path) + sizeof "/" SVG2PNG_MODULE > sizeof path) {
        fprintf(stderr, "zeus history: error: --plot %s: cannot tell where zeus-bso is\n", plot);
        return NULL;
    }
    strcpy(slash + 1, SVG2PNG_MODULE);
    if (access(path, R_OK) != 0) {
        fprintf(stderr,
                "zeus history: error: --plot %s: a PNG needs %s, which is built where librsvg "
                "(Debian librsvg2-dev) is installed; this zeus has none, so it draws only .svg\n",
                plot, SVG2PNG_MODULE);
        return NULL;
    }
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    svg_to_png_fn fn =
        module ? (svg_to_png_fn)(uintptr_t)dlsym(module, "zeus_cli_svg_to_png") : NULL;
    if (!fn)
        fprintf(stderr, "zeus history: error: --plot %s: cannot load %s: %s\n", plot, path,
                dlerror());
    return fn; /* kept loaded for the life of the command */
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
    char err[512] = "";
    int rc = zeus_plot_chart_svg(chart, &svg), result = -1;
    if (rc != ZEUS_OK) {
        fprintf(stderr, "zeus history: error: --plot %s: %s\n", path, zeus_last_error());
        goto done;
    }
    if (as_png) {
        svg_to_png_fn to_png = load_rasterizer(path);
        if (!to_png)
            goto done;
        if (to_png(svg, chart->width_px, chart->height_px, &png, &png_len, err, sizeof err) != 0) {
            fprintf(stderr, "zeus history: error: --plot %s: %s\n", path, err);
            goto done;
        }
    }
    rc = png ? zeus_write_file(path, png, png_len) : zeus_write_file(path, svg, strlen(svg));
    if (rc != ZEUS_OK)
        fprintf(stderr, "zeus history: error: --plot %s: %s\n", path, zeus_last_error());
    result = rc == ZEUS_OK ? 0 : -1;
done:
    free(png);
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
