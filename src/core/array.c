/* Growable arrays (see array.h). */
#include "core/array.h"

#include "core/internal.h"

#include <stdlib.h>

int zeus__array_reserve(void **items, size_t *cap, size_t n, size_t elem_size, size_t initial)
{
    if (n < *cap)
        return ZEUS_OK;
    size_t c = *cap ? 2 * *cap : initial;
    if (c <= n)
        c = n + 1;
    void *p = realloc(*items, c * elem_size);
    if (!p)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    *items = p;
    *cap = c;
    return ZEUS_OK;
}
