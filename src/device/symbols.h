/* Versioned-symbol resolution, pure logic (the lookup function is passed in, so unit tests
 * resolve against a table instead of a real library). */
#ifndef ZEUS_SYMBOLS_H
#define ZEUS_SYMBOLS_H

#include <stddef.h>

typedef void *(*zeus_symbol_lookup)(void *ctx, const char *name);

/* Looks up base_v<max_version>, ..., base_v2, then base. Returns NULL if none exists; the name
 * that resolved is written to used (when given). */
void *zeus__resolve_versioned(zeus_symbol_lookup lookup, void *ctx, const char *base,
                              int max_version, char *used, size_t used_size);

#endif
