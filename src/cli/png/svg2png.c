/* zeus-svg2png.so: libzeus's SVG picture rasterized by librsvg + cairo, so that a PNG and an SVG
 * come from one drawing code. A module the zeus command loads (dlopen) only when a .png is asked
 * for: linking librsvg into zeus itself made every zeus command load some fifty libraries
 * (6.4 ms instead of 0.9 ms to start). Built only where librsvg2-dev is installed. */
#include <cairo.h>
#include <librsvg/rsvg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zeus_cli_svg_to_png(const char *svg, unsigned width, unsigned height, unsigned char **png,
                        size_t *len, char *err, size_t err_size);

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

int zeus_cli_svg_to_png(const char *svg, unsigned width, unsigned height, unsigned char **png,
                        size_t *len, char *err, size_t err_size)
{
    *png = NULL;
    *len = 0;
    GError *error = NULL;
    RsvgHandle *handle = rsvg_handle_new_from_data((const guint8 *)svg, strlen(svg), &error);
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;
    png_buffer b = {0};
    int rc = -1;
    if (!handle)
        goto fail;
    surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)width, (int)height);
    cr = cairo_create(surface);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        snprintf(err, err_size, "cannot draw a %ux%u picture: %s", width, height,
                 cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    RsvgRectangle viewport = {0, 0, width, height};
    if (!rsvg_handle_render_document(handle, cr, &viewport, &error))
        goto fail;
    cairo_status_t st = cairo_surface_write_to_png_stream(surface, append, &b);
    if (st != CAIRO_STATUS_SUCCESS) {
        snprintf(err, err_size, "cannot encode the PNG: %s", cairo_status_to_string(st));
        goto done;
    }
    *png = b.data;
    *len = b.len;
    b.data = NULL;
    rc = 0;
    goto done;
fail:
    snprintf(err, err_size, "cannot rasterize the picture: %s",
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
