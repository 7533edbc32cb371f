/* Shared between the files of the pipeline frequency solver (not installed). */
#ifndef ZEUS_PF_INTERNAL_H
#define ZEUS_PF_INTERNAL_H

/* CPython's float floor division a // b (lowtime rounds with it). */
double zeus__pf_floordiv(double a, double b);

#endif
