/* Floating-point reductions done in exactly numpy's / CPython's order of operations, so that
 * results match the original Zeus to the last bit (not installed; used by the batch-size
 * policies and the simulator). */
#ifndef ZEUS_CORE_NPSTATS_H
#define ZEUS_CORE_NPSTATS_H

#include <stddef.h>

/* numpy.add.reduce on a contiguous float64 array: pairwise summation (8-way unrolled blocks of
 * up to 128 elements) within chunks of numpy's 8192-element buffer, chunks added in order. */
double zeus__np_sum(const double *a, size_t n);
/* numpy mean: sum / n. */
double zeus__np_mean(const double *a, size_t n);
/* numpy var (ddof 0): mean, then the sum of squared deviations / n. scratch holds n doubles. */
double zeus__np_var(const double *a, size_t n, double *scratch);
/* CPython float floor division a // b (fmod-based, with its snapping rules); b must not be 0. */
double zeus__py_floordiv(double a, double b);

/* pandas groupby().mean() accumulator: Kahan-compensated sum, mean = sum / count. */
typedef struct {
    double sum, compensation;
    size_t count;
} zeus_kahan;
static inline void zeus__kahan_add(zeus_kahan *k, double value)
{
    double y = value - k->compensation;
    double t = k->sum + y;
    k->compensation = t - k->sum - y;
    k->sum = t;
    k->count++;
}
static inline double zeus__kahan_mean(const zeus_kahan *k)
{
    return k->sum / (double)k->count;
}

#endif
