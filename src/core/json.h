/* JSON glue shared by the parts of libzeus that write JSON (not installed). */
#ifndef ZEUS_CORE_JSON_H
#define ZEUS_CORE_JSON_H

#include <cjson/cJSON.h>

/* A double as a JSON number that reads back bit for bit: Python repr() digits, as json.dumps
 * writes them (cJSON's own printing keeps 15 significant digits whenever they read back
 * "close enough", which loses the last bits). A non-finite value, not a JSON number, is null. */
cJSON *zeus__json_double(double value);

#endif
