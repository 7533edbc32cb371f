/* JSON glue (core/json.h). */
#include "core/json.h"

#include "core/internal.h"

#include <math.h>

cJSON *zeus__json_double(double value)
{
    if (!isfinite(value))
        return cJSON_CreateNull();
    char buf[ZEUS_DOUBLE_BUF];
    return cJSON_CreateRaw(zeus_format_double(value, buf, sizeof buf));
}
