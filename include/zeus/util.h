/* Zeus in C: small utilities every face needs to speak the original's formats (clocks, Python-
 * compatible number formatting, strict number parsing). Pure and thread-safe. */
#ifndef ZEUS_UTIL_H
#define ZEUS_UTIL_H

#include "zeus/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks. Monotonic nanoseconds for intervals; wall-clock seconds (Unix epoch) for the
 * timestamps the original writes into its files. */
ZEUS_API int64_t zeus_now_ns(void);
ZEUS_API double zeus_wall_s(void);
ZEUS_API void zeus_sleep_ns(int64_t ns);

/* Formats a double the way Python's repr() does (shortest round-trip digits, "10.0", "1e-07",
 * "inf", "nan"), so files we share with the original compare byte for byte. Returns buf, which
 * should hold ZEUS_DOUBLE_BUF bytes. */
#define ZEUS_DOUBLE_BUF 32
ZEUS_API char *zeus_format_double(double value, char *buf, size_t size);

/* Strict number parsing: the whole string must be a number (surrounding spaces allowed).
 * ZEUS_EPARSE for anything else, ZEUS_ERANGE when it does not fit. */
ZEUS_API int zeus_parse_double(const char *text, double *out);
ZEUS_API int zeus_parse_long(const char *text, long *out);

/* Parses a device index list such as "0,2,3" (decimal digits separated by single commas, no
 * spaces) and appends its indices to out[*count .. max-1], advancing *count; call it again to
 * add a second list ("0 2" given as two arguments). Every face reads --gpu-indices and
 * --cpu-indices with it, so they all mean the same thing:
 *   ZEUS_EPARSE  empty text (an empty list is an error, never "all" or "none"), an empty
 *                element ("0,,1", "1,"), anything but digits and commas
 *   ZEUS_ERANGE  an index above ZEUS_MAX_INDEX (no wrap-around: 4294967297 is not 1)
 *   ZEUS_EINVAL  an index listed twice (also against out[0 .. *count-1]), more than max indices
 * On error *count is unchanged; the detail (zeus_last_error) quotes the text. */
#define ZEUS_MAX_INDEX 65535u
ZEUS_API int zeus_parse_index_list(const char *text, unsigned *out, size_t max, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
