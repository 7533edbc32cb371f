/* PNG pictures (zeus/plot.h): libzeus's SVG rasterized by the zeus-svg2png.so module, loaded
 * only when a PNG is asked for (the faces used to load it each with their own copy of this). */
#include "core/internal.h"
#include "zeus/plot.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

typedef int (*svg_to_png_fn)(const char *svg, unsigned width, unsigned height, unsigned char **png,
                             size_t *len, char *err, size_t err_size);

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static svg_to_png_fn svg_to_png; /* kept loaded for the life of the process */

int zeus_plot_load_png_module(const char *module_path)
{
    int rc = ZEUS_OK;
    pthread_mutex_lock(&module_lock);
    if (svg_to_png)
        goto done;
    if (!module_path || access(module_path, R_OK) != 0) {
        rc = zeus__error(ZEUS_ENOENT,
                         "a PNG needs %s, which is built where librsvg (Debian librsvg2-dev) is "
                         "installed; this installation has none, so it draws only .svg",
                         ZEUS_PLOT_PNG_MODULE);
        goto done;
    }
    void *module = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
    if (module)
        svg_to_png = (svg_to_png_fn)(uintptr_t)dlsym(module, "zeus_cli_svg_to_png");
    if (!svg_to_png)
        rc = zeus__error(ZEUS_ELIB, "cannot load %s: %s", module_path, dlerror());
done:
    pthread_mutex_unlock(&module_lock);
    return rc;
}

int zeus_plot_svg_to_png(const char *svg, unsigned width, unsigned height, unsigned char **png,
                         size_t *len)
{
    pthread_mutex_lock(&module_lock);
    svg_to_png_fn fn = svg_to_png;
    pthread_mutex_unlock(&module_lock);
    if (!fn)
        return zeus__error(ZEUS_ESTATE, "the PNG module is not loaded (zeus_plot_load_png_module)");
    char err[512] = "";
    if (fn(svg, width, height, png, len, err, sizeof err) != 0)
        return zeus__error(ZEUS_EIO, "%s", err);
    return ZEUS_OK;
}
