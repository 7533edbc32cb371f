/* The Prometheus text exposition format (version 0.0.4): a growing text buffer, metric
 * families (HELP and TYPE lines) and samples with escaped label values. Pure; no I/O. */
#ifndef ZEUS_EXPORTER_EXPOSITION_H
#define ZEUS_EXPORTER_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct {
    char *text; /* NUL-terminated; NULL until something is written */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed: the text is incomplete and must not be served */
} expo_buf;

void expo_free(expo_buf *b);
void expo_append(expo_buf *b, const char *text, size_t len);
void expo_printf(expo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "# HELP name help\n# TYPE name type\n" (type: counter, gauge, summary, untyped). */
void expo_family(expo_buf *b, const char *name, const char *type, const char *help);
/* "name{labels} value\n"; labels is a set made by expo_labels (or "" for none). */
void expo_sample(expo_buf *b, const char *name, const char *labels, double value);
/* Formats {k1="v1",k2="v2"} from count key/value pairs into out, the values escaped by
 * zeus_metric_escape_label (zeus/metric.h). Returns false if it does not fit. */
bool expo_labels(char *out, size_t size, size_t count, const char *const *keys,
                 const char *const *values);

#endif
