/* Zeus in C: a random generator that makes exactly the draws numpy makes.
 *
 * The original Zeus takes every random decision (Thompson sampling, exploration order, which
 * recorded training run a simulated job follows) from numpy.random.default_rng(seed). This is
 * the same generator: PCG64 (128-bit LCG, XSL-RR output) seeded through numpy's SeedSequence,
 * with numpy's bounded integers (Lemire), choice without replacement (Floyd's algorithm plus a
 * shuffle, or a tail shuffle for large populations) and normal draws (the 256-layer ziggurat
 * with numpy's tables). Given the same seed it returns bit-identical values to numpy 1.17+
 * (checked against numpy 1.24), so a C run with seed s makes the decisions the original makes.
 *
 * zeus_rng is a plain value: its whole state is in the struct, so copying the struct forks the
 * stream and saving its fields saves the generator.
 *
 * Thread safety: a zeus_rng must not be used by two threads at once; distinct generators are
 * independent. */
#ifndef ZEUS_RNG_H
#define ZEUS_RNG_H

#include "zeus/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zeus_rng {
    uint64_t state_hi, state_lo; /* 128-bit LCG state */
    uint64_t inc_hi, inc_lo;     /* 128-bit increment (odd) */
    uint32_t buffered;           /* high half of the last 64-bit draw, when has_buffered */
    int has_buffered;
} zeus_rng;

/* numpy.random.default_rng(seed) for a non-negative integer seed. */
ZEUS_API void zeus_rng_seed(zeus_rng *rng, uint64_t seed);

/* Raw draws: 64 bits; 32 bits (low half of a 64-bit draw, then its high half); a double in
 * [0, 1) with 53 random bits. */
ZEUS_API uint64_t zeus_rng_next_u64(zeus_rng *rng);
ZEUS_API uint32_t zeus_rng_next_u32(zeus_rng *rng);
ZEUS_API double zeus_rng_next_double(zeus_rng *rng);

/* Uniform integer in [0, max] (numpy's random_bounded_uint64, unmasked Lemire). */
ZEUS_API uint64_t zeus_rng_bounded(zeus_rng *rng, uint64_t max);

/* Generator.choice(population, size, replace=False): writes size distinct indices in
 * [0, population) to out, in numpy's order. ZEUS_EINVAL if size > population. May allocate
 * (ZEUS_ENOMEM); small draws use the stack. */
ZEUS_API int zeus_rng_choice(zeus_rng *rng, size_t population, size_t size, size_t *out);

/* Generator.standard_normal() and Generator.normal(mean, sd) (= mean + sd * z). */
ZEUS_API double zeus_rng_standard_normal(zeus_rng *rng);
ZEUS_API double zeus_rng_normal(zeus_rng *rng, double mean, double sd);

#ifdef __cplusplus
}
#endif
#endif
