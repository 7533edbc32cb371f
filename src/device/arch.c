/* GPU architecture names (Zeus's own values; each backend maps its vendor's codes). */
#include "core/internal.h"
#include "zeus/device.h"

#include <strings.h>

static const struct {
    zeus_gpu_arch arch;
    const char *name;
} arch_names[] = {
    {ZEUS_ARCH_KEPLER, "kepler"},
    {ZEUS_ARCH_MAXWELL, "maxwell"},
    {ZEUS_ARCH_PASCAL, "pascal"},
    {ZEUS_ARCH_VOLTA, "volta"},
    {ZEUS_ARCH_TURING, "turing"},
    {ZEUS_ARCH_AMPERE, "ampere"},
    {ZEUS_ARCH_ADA, "ada"},
    {ZEUS_ARCH_HOPPER, "hopper"},
    {ZEUS_ARCH_BLACKWELL, "blackwell"},
};

const char *zeus_gpu_arch_name(zeus_gpu_arch arch)
{
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(arch_names); i++)
        if (arch_names[i].arch == arch)
            return arch_names[i].name;
    return "unknown";
}

int zeus_gpu_arch_parse(const char *name, zeus_gpu_arch *out)
{
    for (size_t i = 0; name && i < ZEUS_ARRAY_LEN(arch_names); i++) {
        if (strcasecmp(name, arch_names[i].name) == 0) {
            *out = arch_names[i].arch;
            return ZEUS_OK;
        }
    }
    return zeus__error(ZEUS_EINVAL,
                       "unknown GPU architecture '%s' (expected one of kepler, "
                       "maxwell, pascal, volta, turing, ampere, ada, hopper, blackwell)",
                       name ? name : "(null)");
}
