/* Pushgateway internals shared by push.c and window.c (not installed). */
#ifndef ZEUS_METRIC_INTERNAL_H
#define ZEUS_METRIC_INTERNAL_H

#include "zeus/metric.h"

#include <stdio.h>

int zeus__push_parse_url(const char *url, char *host, size_t host_size, char *port,
                         size_t port_size, char *prefix, size_t prefix_size);
/* zeus_push_text with one more grouping label (extra_name NULL: none). */
int zeus__push(const zeus_push_target *t, const char *body, bool replace, const char *extra_name,
               const char *extra_value);
/* A deep copy of a target (URL, job, grouping strings), released by zeus__push_target_free. */
typedef struct {
    zeus_push_target target; /* points into the copies below */
    char *url, *job;
    char **grouping; /* NULL-terminated */
} zeus__push_copy;
int zeus__push_target_copy(const zeus_push_target *src, zeus__push_copy **out);
void zeus__push_target_free(zeus__push_copy *c);
/* Writes a label value with the exposition format's escapes (backslash, quote, newline). */
void zeus__prom_escape(FILE *f, const char *value);

#endif
