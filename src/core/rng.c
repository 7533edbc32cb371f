/* numpy-compatible random generation: SeedSequence -> PCG64, Lemire bounded integers, choice
 * without replacement, ziggurat normals. Every step mirrors numpy's C code
 * (numpy/random/bit_generator.pyx, src/pcg64/pcg64.h, src/distributions/distributions.c,
 * _generator.pyx) so that the streams are bit-identical. */
#include "zeus/rng.h"

#include "core/internal.h"
#include "core/ziggurat_tables.h"

#include <math.h>
#include <stdlib.h>

/* ---- 128-bit arithmetic ------------------------------------------------------------------ */

#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 u128;
#define U128(hi, lo) (((u128)(hi) << 64) | (u128)(lo))
#define U128_HI(x) ((uint64_t)((x) >> 64))
#define U128_LO(x) ((uint64_t)(x))

static void mul_64_128(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    u128 m = (u128)a * b;
    *hi = U128_HI(m);
    *lo = U128_LO(m);
}
#else
static void mul_64_128(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
    uint64_t mid = (p0 >> 32) + (uint32_t)p1 + (uint32_t)p2;
    *lo = (mid << 32) | (uint32_t)p0;
    *hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
}
#endif

/* state = state * multiplier + inc (mod 2^128). */
static void pcg_step(zeus_rng *rng)
{
    static const uint64_t mul_hi = 2549297995355413924ULL, mul_lo = 4865540595714422341ULL;
    uint64_t hi, lo;
    mul_64_128(rng->state_lo, mul_lo, &hi, &lo);
    hi += rng->state_hi * mul_lo + rng->state_lo * mul_hi;
    uint64_t new_lo = lo + rng->inc_lo;
    hi += rng->inc_hi + (new_lo < lo);
    rng->state_hi = hi;
    rng->state_lo = new_lo;
}

static void state_add(zeus_rng *rng, uint64_t hi, uint64_t lo)
{
    uint64_t new_lo = rng->state_lo + lo;
    rng->state_hi += hi + (new_lo < lo);
    rng->state_lo = new_lo;
}

/* ---- SeedSequence ------------------------------------------------------------------------ */

enum { POOL_SIZE = 4 };
#define INIT_A 0x43b0d7e5u
#define MULT_A 0x931e8875u
#define INIT_B 0x8b51f9ddu
#define MULT_B 0x58f38dedu
#define MIX_MULT_L 0xca01f9ddu
#define MIX_MULT_R 0x4973f715u
#define XSHIFT 16

static uint32_t hashmix(uint32_t value, uint32_t *hash_const)
{
    value ^= *hash_const;
    *hash_const *= MULT_A;
    value *= *hash_const;
    value ^= value >> XSHIFT;
    return value;
}

static uint32_t mix(uint32_t x, uint32_t y)
{
    uint32_t result = MIX_MULT_L * x - MIX_MULT_R * y;
    result ^= result >> XSHIFT;
    return result;
}

/* SeedSequence(seed).generate_state(4, uint64). */
static void seed_sequence_state(uint64_t seed, uint64_t out[4])
{
    /* The integer's little-endian 32-bit words (at least one, so 0 -> [0]). */
    uint32_t entropy[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    size_t n_entropy = (seed >> 32) ? 2 : 1;

    uint32_t pool[POOL_SIZE];
    uint32_t hash_const = INIT_A;
    for (size_t i = 0; i < POOL_SIZE; i++)
        pool[i] = hashmix(i < n_entropy ? entropy[i] : 0, &hash_const);
    for (size_t src = 0; src < POOL_SIZE; src++)
        for (size_t dst = 0; dst < POOL_SIZE; dst++)
            if (src != dst)
                pool[dst] = mix(pool[dst], hashmix(pool[src], &hash_const));
    /* (No entropy words beyond the pool size for a 64-bit seed.) */

    uint32_t words[8];
    uint32_t hash_b = INIT_B;
    for (size_t i = 0; i < 8; i++) {
        uint32_t v = pool[i % POOL_SIZE];
        v ^= hash_b;
        hash_b *= MULT_B;
        v *= hash_b;
        v ^= v >> XSHIFT;
        words[i] = v;
    }
    for (size_t i = 0; i < 4; i++)
        out[i] = (uint64_t)words[2 * i] | ((uint64_t)words[2 * i + 1] << 32);
}

void zeus_rng_seed(zeus_rng *rng, uint64_t seed)
{
    uint64_t s[4];
    seed_sequence_state(seed, s);
    /* pcg_setseq_128_srandom_r(initstate = s0:s1, initseq = s2:s3) */
    rng->state_hi = 0;
    rng->state_lo = 0;
    rng->inc_hi = (s[2] << 1) | (s[3] >> 63);
    rng->inc_lo = (s[3] << 1) | 1u;
    pcg_step(rng);
    state_add(rng, s[0], s[1]);
    pcg_step(rng);
    rng->has_buffered = 0;
    rng->buffered = 0;
}

/* ---- raw draws --------------------------------------------------------------------------- */

uint64_t zeus_rng_next_u64(zeus_rng *rng)
{
    pcg_step(rng);
    /* XSL-RR: rotate (hi ^ lo) right by the top 6 bits of the state. */
    uint64_t x = rng->state_hi ^ rng->state_lo;
    unsigned rot = (unsigned)(rng->state_hi >> 58);
    return (x >> rot) | (x << ((64 - rot) & 63));
}

uint32_t zeus_rng_next_u32(zeus_rng *rng)
{
    if (rng->has_buffered) {
        rng->has_buffered = 0;
        return rng->buffered;
    }
    uint64_t next = zeus_rng_next_u64(rng);
    rng->has_buffered = 1;
    rng->buffered = (uint32_t)(next >> 32);
    return (uint32_t)next;
}

double zeus_rng_next_double(zeus_rng *rng)
{
    return (double)(zeus_rng_next_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- bounded integers -------------------------------------------------------------------- */

static uint32_t bounded_lemire_u32(zeus_rng *rng, uint32_t max)
{
    const uint32_t range = max + 1;
    uint64_t m = (uint64_t)zeus_rng_next_u32(rng) * range;
    uint32_t leftover = (uint32_t)m;
    if (leftover < range) {
        const uint32_t threshold = (UINT32_MAX - max) % range;
        while (leftover < threshold) {
            m = (uint64_t)zeus_rng_next_u32(rng) * range;
            leftover = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static uint64_t bounded_lemire_u64(zeus_rng *rng, uint64_t max)
{
    const uint64_t range = max + 1;
    uint64_t hi, lo;
    mul_64_128(zeus_rng_next_u64(rng), range, &hi, &lo);
    if (lo < range) {
        const uint64_t threshold = (UINT64_MAX - max) % range;
        while (lo < threshold)
            mul_64_128(zeus_rng_next_u64(rng), range, &hi, &lo);
    }
    return hi;
}

uint64_t zeus_rng_bounded(zeus_rng *rng, uint64_t max)
{
    if (max == 0)
        return 0;
    if (max <= UINT32_MAX) {
        if (max == UINT32_MAX)
            return zeus_rng_next_u32(rng);
        return bounded_lemire_u32(rng, (uint32_t)max);
    }
    if (max == UINT64_MAX)
        return zeus_rng_next_u64(rng);
    return bounded_lemire_u64(rng, max);
}

/* ---- choice without replacement ---------------------------------------------------------- */

/* numpy's _shuffle_int: Fisher-Yates over positions n-1 .. first. */
static void shuffle_tail(zeus_rng *rng, size_t n, size_t first, size_t *data)
{
    for (size_t i = n; i-- > first;) {
        size_t j = (size_t)zeus_rng_bounded(rng, i);
        size_t tmp = data[j];
        data[j] = data[i];
        data[i] = tmp;
    }
}

/* Smallest all-ones mask >= value (numpy's _gen_mask). */
static uint64_t gen_mask(uint64_t value)
{
    uint64_t mask = value;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    return mask;
}

int zeus_rng_choice(zeus_rng *rng, size_t population, size_t size, size_t *out)
{
    if (size > population)
        return zeus__error(ZEUS_EINVAL,
                           "cannot take a larger sample (%zu) than the population (%zu) "
                           "without replacement",
                           size, population);
    if (size == 0)
        return ZEUS_OK;
    if (population > 10000 && size > population / 50) {
        /* Tail shuffle of the whole index range; the sample is its last size entries. */
        size_t *idx = malloc(population * sizeof *idx);
        if (!idx)
            return zeus__error(ZEUS_ENOMEM, "choice: out of memory");
        for (size_t i = 0; i < population; i++)
            idx[i] = i;
        shuffle_tail(rng, population, population - size > 1 ? population - size : 1, idx);
        for (size_t i = 0; i < size; i++)
            out[i] = idx[population - size + i];
        free(idx);
        return ZEUS_OK;
    }

    /* Floyd's algorithm with an open-addressing set of 2^k slots (k: smallest with
     * 2^k - 1 >= int(1.2 * size)); then a shuffle of the output. */
    uint64_t mask = gen_mask((uint64_t)(1.2 * (double)size));
    size_t slots = (size_t)mask + 1;
    uint64_t stack_set[64];
    uint64_t *set = slots <= ZEUS_ARRAY_LEN(stack_set) ? stack_set : malloc(slots * sizeof *set);
    if (!set)
        return zeus__error(ZEUS_ENOMEM, "choice: out of memory");
    for (size_t i = 0; i < slots; i++)
        set[i] = UINT64_MAX;
    for (size_t j = population - size; j < population; j++) {
        uint64_t val = zeus_rng_bounded(rng, j);
        uint64_t loc = val & mask;
        while (set[loc] != UINT64_MAX && set[loc] != val)
            loc = (loc + 1) & mask;
        if (set[loc] == UINT64_MAX) {
            set[loc] = val;
            out[j - population + size] = (size_t)val;
        } else {
            loc = j & mask;
            while (set[loc] != UINT64_MAX)
                loc = (loc + 1) & mask;
            set[loc] = j;
            out[j - population + size] = j;
        }
    }
    if (set != stack_set)
        free(set);
    shuffle_tail(rng, size, 1, out);
    return ZEUS_OK;
}

/* ---- normals ----------------------------------------------------------------------------- */

double zeus_rng_standard_normal(zeus_rng *rng)
{
    for (;;) {
        uint64_t r = zeus_rng_next_u64(rng);
        int idx = (int)(r & 0xff);
        r >>= 8;
        int sign = (int)(r & 0x1);
        uint64_t rabs = (r >> 1) & 0x000fffffffffffffULL;
        double x = (double)rabs * zeus_wi_double[idx];
        if (sign & 0x1)
            x = -x;
        if (rabs < zeus_ki_double[idx])
            return x; /* about 99.3% of draws end here */
        if (idx == 0) {
            /* Tail beyond r: Marsaglia's method, with 1 - U to avoid log(0). */
            for (;;) {
                double xx = -ZEUS_ZIGGURAT_NOR_INV_R * log1p(-zeus_rng_next_double(rng));
                double yy = -log1p(-zeus_rng_next_double(rng));
                if (yy + yy > xx * xx)
                    return ((rabs >> 8) & 0x1) ? -(ZEUS_ZIGGURAT_NOR_R + xx)
                                               : ZEUS_ZIGGURAT_NOR_R + xx;
            }
        } else {
            if (((zeus_fi_double[idx - 1] - zeus_fi_double[idx]) * zeus_rng_next_double(rng) +
                 zeus_fi_double[idx]) < exp(-0.5 * x * x))
                return x;
        }
    }
}

double zeus_rng_normal(zeus_rng *rng, double mean, double sd)
{
    return mean + sd * zeus_rng_standard_normal(rng);
}
