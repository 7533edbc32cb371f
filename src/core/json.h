/* JSON glue shared by the parts of libzeus that write JSON (not installed). */
#ifndef ZEUS_CORE_JSON_H
#define ZEUS_CORE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* A double as a JSON number that reads back bit for bit: Python repr() digits, as json.dumps
 * writes them (cJSON's own printing keeps 15 significant digits whenever they read back
 * "close enough", which loses the last bits). A non-finite value, not a JSON number, is null. */
cJSON *zeus__json_double(double value);

/* cJSON_ParseWithOpts (whole: nothing but white space may follow the value) that says
 * why it failed, which cJSON does not: NULL with *error = ZEUS_ENOMEM (valid text, cJSON ran out
 * of memory; zeus_last_error() says so) or ZEUS_EPARSE (the caller reports it, with *error_at,
 * when not NULL, where cJSON stopped). */
cJSON *zeus__json_parse(const char *text, bool whole, int *error, const char **error_at);
/* Whether text[0..length) is one JSON value (RFC 8259, cJSON's nesting limit, no lone UTF-16
 * surrogates), followed by white space only when whole. Allocates nothing. */
bool zeus__json_valid(const char *text, size_t length, bool whole);

#endif
