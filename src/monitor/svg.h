/* What the SVG pictures of zeus/plot.h share: colours, text escaping, tick steps. */
#ifndef ZEUS_MONITOR_SVG_H
#define ZEUS_MONITOR_SVG_H

#include <stddef.h>
#include <stdio.h>

/* Tableau-like colours, distinguishable in print and for most colour-blind readers. */
const char *zeus__svg_color(size_t i);
/* Writes s with XML's special characters escaped and control characters left out. */
void zeus__svg_put_escaped(FILE *f, const char *s);
/* A "nice" tick step (1, 2 or 5 times a power of ten) for about `ticks` ticks over span. */
double zeus__svg_nice_step(double span, int ticks);
/* The XML prolog, the <svg> element and a white background; then the title, centred. */
void zeus__svg_begin(FILE *f, double width, double height, const char *title);

#endif
