/* --plot FILE.svg|FILE.png. A PNG is libzeus's SVG rasterized by the zeus-svg2png.so module
 * (librsvg + cairo, src/cli/png/), loaded only when a .png is asked for, so that no other zeus
 * command loads librsvg's fifty-odd libraries. */
#include "cli/cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
/* fontconfig (which librsvg's text goes through) keeps its font caches for the life of the
 * process and frees them only in FcFini(), which may not run while pango holds fonts: not our
 * leaks. LeakSanitizer reads this hook from the executable; only sanitizer builds have it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}
#endif

/* Loads the rasterizer once; checked before sampling, so a missing one costs no run. */
static int load_rasterizer(const char *plot_path)
{
    char path[PATH_MAX];
    bool found = cli_find_helper(ZEUS_PLOT_PNG_MODULE, R_OK, path, sizeof path);
    if (zeus_plot_load_png_module(found ? path : NULL) != ZEUS_OK)
        return cli_error(CLI_FAIL, "--plot: '%s': %s", plot_path, zeus_last_error());
    return CLI_OK;
}

int cli_plot_format_of(const char *path, cli_plot_format *format)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (dot && (!slash || dot > slash)) {
        if (strcasecmp(dot, ".svg") == 0) {
            *format = CLI_PLOT_SVG;
            return CLI_OK;
        }
        if (strcasecmp(dot, ".png") == 0) {
            *format = CLI_PLOT_PNG;
            return load_rasterizer(path);
        }
    }
    return cli_error(CLI_USAGE, "--plot: '%s': name a .svg or .png file", path);
}

int cli_svg_to_png(const char *svg, unsigned width, unsigned height, unsigned char **png,
                   size_t *len)
{
    int rc = load_rasterizer("PNG");
    if (rc != CLI_OK)
        return rc;
    if (zeus_plot_svg_to_png(svg, width, height, png, len) != ZEUS_OK)
        return cli_error(CLI_FAIL, "--plot: %s", zeus_last_error());
    return CLI_OK;
}

int cli_write_chart(const zeus_plot_chart *chart, const char *path, cli_plot_format format)
{
    char *svg = NULL;
    unsigned char *png = NULL;
    size_t png_len = 0;
    int rc = zeus_plot_chart_svg(chart, &svg), result = CLI_FAIL;
    if (rc != ZEUS_OK) {
        result = cli_lib_error(CLI_FAIL, rc, "--plot");
        goto done;
    }
    if (format == CLI_PLOT_PNG &&
        cli_svg_to_png(svg, chart->width_px, chart->height_px, &png, &png_len) != CLI_OK)
        goto done; /* it said why */
    rc = png ? zeus_write_file(path, png, png_len) : zeus_write_file(path, svg, strlen(svg));
    result = rc == ZEUS_OK ? CLI_OK : cli_lib_error(CLI_FAIL, rc, "--plot");
done:
    zeus_free(png);
    zeus_free(svg);
    return result;
}
