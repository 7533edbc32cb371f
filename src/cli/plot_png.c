/* --plot FILE.png: libzeus's SVG picture rasterized by librsvg + cairo, so the PNG and the SVG
 * come from one drawing code. Linked into the zeus command only, never into libzeus; built
 * without librsvg (ZEUS_CLI_PNG undefined), only .svg is offered. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef ZEUS_CLI_PNG
#include <cairo.h>
#include <librsvg/rsvg.h>
#endif

int cli_plot_format_of(const char *path, cli_plot_format *format)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (dot && (!slash || dot > slash)) {
        if (strcasecmp(dot, ".svg") == 0) {
            *format = CLI_PLOT_SVG;
            return CLI_OK;
        }
        if (strcasecmp(dot, ".png") == 0) {
#ifdef ZEUS_CLI_PNG
            *format = CLI_PLOT_PNG;
            return CLI_OK;
#else
            return cli_error(CLI_FAIL,
                             "--plot: '%s': this zeus was built without librsvg (Debian "
                             "librsvg2-dev), so it draws only .svg pictures",
                             path);
#endif
        }
    }
    return cli_error(CLI_USAGE, "--plot: '%s': name a .svg or .png file", path);
}

#ifdef ZEUS_CLI_PNG
#ifdef __SANITIZE_ADDRESS__
/* fontconfig (which librsvg's text goes through) keeps its font caches for the life of the
 * process and frees them only in FcFini(), which may not run while pango holds fonts: not our
 * leaks. LeakSanitizer reads this hook; only sanitizer builds have it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}
#endif

typedef struct {
    unsigned char *data;
    size_t len, cap;
} png_buffer;

static cairo_status_t append(void *closure, const unsigned char *data, unsigned int length)
{
    png_buffer *b = closure;
    if (b->len + length > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + length)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (!grown)
            return CAIRO_STATUS_NO_MEMORY;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, length);
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

int cli_svg_to_png(const char *svg, unsigned width, unsigned height, unsigned char **png,
                   size_t *len)
{
    *png = NULL;
    *len = 0;
    GError *error = NULL;
    RsvgHandle *handle = rsvg_handle_new_from_data((const guint8 *)svg, strlen(svg), &error);
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;
    png_buffer b = {0};
    int rc = CLI_FAIL;
    if (!handle)
        goto fail;
    surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)width, (int)height);
    cr = cairo_create(surface);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        cli_error(CLI_FAIL, "--plot: cannot draw a %ux%u picture: %s", width, height,
                  cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    RsvgRectangle viewport = {0, 0, width, height};
    if (!rsvg_handle_render_document(handle, cr, &viewport, &error))
        goto fail;
    cairo_status_t st = cairo_surface_write_to_png_stream(surface, append, &b);
    if (st != CAIRO_STATUS_SUCCESS) {
        cli_error(CLI_FAIL, "--plot: cannot encode the PNG: %s", cairo_status_to_string(st));
        goto done;
    }
    *png = b.data;
    *len = b.len;
    b.data = NULL;
    rc = CLI_OK;
    goto done;
fail:
    cli_error(CLI_FAIL, "--plot: cannot rasterize the picture: %s",
              error ? error->message : "librsvg failed");
done:
    free(b.data);
    if (error)
        g_error_free(error);
    if (cr)
        cairo_destroy(cr);
    if (surface)
        cairo_surface_destroy(surface);
    if (handle)
        g_object_unref(handle);
    return rc;
}
#else
int cli_svg_to_png(const char *svg, unsigned width, unsigned height, unsigned char **png,
                   size_t *len)
{
    (void)svg, (void)width, (void)height;
    *png = NULL;
    *len = 0;
    return cli_error(CLI_FAIL, "--plot: this zeus was built without librsvg: only .svg");
}
#endif
