/* numpy / CPython floating-point reductions, operation for operation (see npstats.h). */
#include "core/npstats.h"

#include <math.h>

enum { PW_BLOCKSIZE = 128, NP_BUFSIZE = 8192 };

/* numpy's DOUBLE_pairwise_sum (numpy/core/src/umath/loops_utils.h.src). */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= PW_BLOCKSIZE) {
        double r[8];
        for (size_t k = 0; k < 8; k++)
            r[k] = a[k];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (size_t k = 0; k < 8; k++)
                r[k] += a[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double zeus__np_sum(const double *a, size_t n)
{
    /* The reduction starts from add's identity 0.0 and the iterator hands the inner loop at
     * most one buffer's worth of elements at a time. */
    double sum = 0.0;
    for (size_t start = 0; start < n; start += NP_BUFSIZE)
        sum += pairwise_sum(a + start, n - start < NP_BUFSIZE ? n - start : NP_BUFSIZE);
    return sum;
}

double zeus__np_mean(const double *a, size_t n)
{
    return zeus__np_sum(a, n) / (double)n;
}

double zeus__np_var(const double *a, size_t n, double *scratch)
{
    double mean = zeus__np_sum(a, n) / (double)n;
    for (size_t i = 0; i < n; i++) {
        scratch[i] = a[i] - mean;
        scratch[i] = scratch[i] * scratch[i];
    }
    return zeus__np_sum(scratch, n) / (double)n;
}

/* CPython's float_floor_div (Objects/floatobject.c, _float_div_mod). */
double zeus__py_floordiv(double vx, double wx)
{
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod) {
        if ((wx < 0) != (mod < 0))
            div -= 1.0;
    }
    double floordiv;
    if (div) {
        floordiv = floor(div);
        if (div - floordiv > 0.5)
            floordiv += 1.0;
    } else {
        floordiv = copysign(0.0, vx / wx);
    }
    return floordiv;
}
