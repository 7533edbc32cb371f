/* zeus_free: the one way to release what the library allocated for the caller (docs/abi.md). */
#include "core/internal.h"

#include <stdlib.h>

void zeus_free(void *ptr)
{
    free(ptr);
}
