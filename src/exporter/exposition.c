#include "exposition.h"

#include "zeus/metric.h"
#include "zeus/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void expo_free(expo_buf *b)
{
    free(b->text);
    *b = (expo_buf){0};
}

static bool reserve(expo_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *text = realloc(b->text, cap);
    if (!text) {
        b->failed = true;
        return false;
    }
    b->text = text;
    b->cap = cap;
    return true;
}

void expo_append(expo_buf *b, const char *text, size_t len)
{
    if (!reserve(b, len))
        return;
    memcpy(b->text + b->len, text, len);
    b->len += len;
    b->text[b->len] = '\0';
}

void expo_printf(expo_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->text + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void expo_family(expo_buf *b, const char *name, const char *type, const char *help)
{
    expo_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void expo_sample(expo_buf *b, const char *name, const char *labels, double value)
{
    char v[ZEUS_DOUBLE_BUF];
    zeus_metric_format_value(value, v, sizeof v);
    expo_printf(b, "%s%s %s\n", name, labels, v);
}

bool expo_labels(char *out, size_t size, size_t count, const char *const *keys,
                 const char *const *values)
{
    size_t n = 0;
    if (size == 0)
        return false;
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        int w = snprintf(out + n, size - n, "%s%s=\"", i ? "," : "{", keys[i]);
        if (w < 0 || (size_t)w >= size - n)
            return false;
        n += (size_t)w;
        size_t e = zeus_metric_escape_label(values[i], out + n, size - n);
        if (e >= size - n)
            return false;
        n += e;
        w = snprintf(out + n, size - n, "\"%s", i + 1 == count ? "}" : "");
        if (w < 0 || (size_t)w >= size - n)
            return false;
        n += (size_t)w;
    }
    return true;
}
