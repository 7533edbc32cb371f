/* Small shared utilities: clocks, strings, number formatting and parsing, reading files. */
#include "core/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t zeus_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double zeus_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void zeus_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

size_t zeus__strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

/* A struct_size beyond this is not a size: the options were never initialized. */
#define OPTIONS_SIZE_SANITY 4096

int zeus__options_copy(const void *in, void *out, size_t out_size, const char *name,
                       const char *init)
{
    size_t size;
    memcpy(&size, in, sizeof size);
    if (size < sizeof size || size > OPTIONS_SIZE_SANITY)
        return zeus__error(ZEUS_EINVAL, "%s.struct_size is %zu: initialize the options with %s()",
                           name, size, init);
    memcpy(out, in, size < out_size ? size : out_size);
    memcpy(out, &out_size, sizeof out_size);
    for (size_t i = out_size; i < size; i++)
        if (((const unsigned char *)in)[i] != 0)
            return zeus__error(ZEUS_ENOTSUP,
                               "%s from a newer Zeus (%zu bytes, this library knows %zu) set "
                               "fields this library does not have",
                               name, size, out_size);
    return ZEUS_OK;
}

char *zeus_format_double(double value, char *buf, size_t size)
{
    if (isnan(value)) {
        snprintf(buf, size, "nan");
        return buf;
    }
    if (isinf(value)) {
        snprintf(buf, size, value < 0 ? "-inf" : "inf");
        return buf;
    }
    /* Shortest precision whose %e form parses back to the same double. */
    char digits[40];
    int precision;
    for (precision = 0; precision < 17; precision++) {
        snprintf(digits, sizeof digits, "%.*e", precision, value);
        if (strtod(digits, NULL) == value)
            break;
    }
    snprintf(digits, sizeof digits, "%.*e", precision, value);
    /* digits is "-d.ddde[+-]XX"; split mantissa digits and exponent. */
    const char *p = digits;
    int negative = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    char mant[24];
    size_t nm = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            mant[nm++] = *p;
    mant[nm] = '\0';
    int exp10 = atoi(p + 1);
    while (nm > 1 && mant[nm - 1] == '0') /* trailing zeros carry no information */
        mant[--nm] = '\0';

    char out[48];
    size_t o = 0;
    if (negative)
        out[o++] = '-';
    if (exp10 >= 16 || exp10 < -4) {
        /* Python repr: scientific with at least two exponent digits: 1e-07, 1.5e+16. */
        out[o++] = mant[0];
        if (nm > 1) {
            out[o++] = '.';
            memcpy(out + o, mant + 1, nm - 1);
            o += nm - 1;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+',
                              exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = -1; i > exp10; i--)
            out[o++] = '0';
        memcpy(out + o, mant, nm);
        o += nm;
    } else {
        size_t int_digits = (size_t)exp10 + 1;
        for (size_t i = 0; i < int_digits; i++)
            out[o++] = i < nm ? mant[i] : '0';
        out[o++] = '.';
        if (nm > int_digits) {
            memcpy(out + o, mant + int_digits, nm - int_digits);
            o += nm - int_digits;
        } else {
            out[o++] = '0';
        }
    }
    out[o] = '\0';
    zeus__strlcpy(buf, out, size);
    return buf;
}

static int only_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return *p == '\0';
}

int zeus_parse_double(const char *text, double *out)
{
    if (!text)
        return ZEUS_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || !only_space(end) || errno == ERANGE)
        return zeus__error(ZEUS_EPARSE, "'%s' is not a number", text);
    *out = v;
    return ZEUS_OK;
}

int zeus_parse_long(const char *text, long *out)
{
    if (!text)
        return ZEUS_EINVAL;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || !only_space(end) || errno == ERANGE)
        return zeus__error(ZEUS_EPARSE, "'%s' is not an integer", text);
    *out = v;
    return ZEUS_OK;
}

int zeus_parse_index_list(const char *text, unsigned *out, size_t max, size_t *count)
{
    if (!text || !out || !count || *count > max)
        return zeus__error(ZEUS_EINVAL, "index list: NULL argument or count above max");
    if (!*text)
        return zeus__error(ZEUS_EPARSE, "empty index list (give at least one index)");
    size_t n = *count;
    for (const char *p = text;;) {
        if (*p < '0' || *p > '9')
            return zeus__error(ZEUS_EPARSE,
                               "'%s' is not a list of indices (digits separated by commas)", text);
        unsigned long v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            v = v * 10 + (unsigned long)(*p - '0');
            if (v > ZEUS_MAX_INDEX) /* checked per digit, so nothing can wrap */
                return zeus__error(ZEUS_ERANGE, "index list '%s': an index is above %u", text,
                                   ZEUS_MAX_INDEX);
        }
        for (size_t i = 0; i < n; i++)
            if (out[i] == v)
                return zeus__error(ZEUS_EINVAL, "index list '%s': index %lu listed twice", text, v);
        if (n == max)
            return zeus__error(ZEUS_EINVAL, "index list '%s': more than %zu indices", text, max);
        out[n++] = (unsigned)v;
        if (!*p)
            break;
        if (*p != ',')
            return zeus__error(ZEUS_EPARSE,
                               "'%s' is not a list of indices (digits separated by commas)", text);
        p++;
    }
    *count = n;
    return ZEUS_OK;
}

int zeus__read_file(const char *path, char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return zeus__error(errno == EACCES   ? ZEUS_EPERM
                           : errno == ENOENT ? ZEUS_ENOENT
                                             : ZEUS_EIO,
                           "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = ZEUS_OK;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(buf, cap);
            if (!grown) {
                rc = zeus__error(ZEUS_ENOMEM, "out of memory reading %s", path);
                goto fail;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                rc = zeus__error(ZEUS_EIO, "cannot read %s: %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    buf[len] = '\0';
    *data = buf;
    if (size)
        *size = len;
    return ZEUS_OK;
fail:
    fclose(f);
    free(buf);
    return rc;
}

void zeus_free(void *p)
{
    free(p);
}
