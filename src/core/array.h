/* Growable arrays (not installed). */
#ifndef ZEUS_CORE_ARRAY_H
#define ZEUS_CORE_ARRAY_H

#include <stddef.h>

/* Makes room for element n of *items (capacity *cap, elements of elem_size bytes), doubling the
 * capacity from `initial`. ZEUS_ENOMEM (with detail) when memory runs out; *items is then
 * unchanged. */
int zeus__array_reserve(void **items, size_t *cap, size_t n, size_t elem_size, size_t initial);

#endif
