#include "device/symbols.h"
#include "core/internal.h"

void *zeus__resolve_versioned(zeus_symbol_lookup lookup, void *ctx, const char *base,
                              int max_version, char *used, size_t used_size)
{
    char name[128];
    for (int v = max_version; v >= 1; v--) {
        if (v >= 2)
            snprintf(name, sizeof name, "%s_v%d", base, v);
        else
            zeus__strlcpy(name, base, sizeof name);
        void *sym = lookup(ctx, name);
        if (sym) {
            if (used)
                zeus__strlcpy(used, name, used_size);
            return sym;
        }
    }
    return NULL;
}
