/* The numpy-compatible generator against numpy 1.24 reference values (spec Appendix A plus
 * vectors produced with /usr/bin/python3 and numpy 1.24.2 for the paths Appendix A does not
 * cover: large seeds, 64-bit bounds, ziggurat tail draws, large-population choice). */
#include "test_support.h"

#include "zeus/rng.h"

#include <string.h>

static void test_raw_u64(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        uint64_t raw[3];
        int n;
    } cases[] = {
        {1, {0x8306bdf37922e4ffULL, 0xf35196bbc152a866ULL, 0x24e7a4f608ec18cdULL}, 3},
        {123456, {0xa2f290ab1932e2c7ULL, 0x6283046bd0d47d21ULL}, 2},
        {0, {0xa30febcfd9c2825fULL, 0x4510bdf882d9d721ULL}, 2},
        {(1ULL << 40) + 5, {0x01369aef039fedebULL, 0x5f61b40473314316ULL}, 2},
        {2283341909ULL, {0xdd0c7cb4728c4a58ULL, 0x71b0a685ad2a3efaULL}, 2},
        {UINT64_MAX, {0xae163a7a8c47568fULL, 0xd86659f5f3382359ULL}, 2},
        /* Either side of 2^63 (zeus simulate --seed takes up to 2^64 - 1): numpy 2.4.6's
         * default_rng(s).bit_generator.random_raw(2); SeedSequence is unchanged since 1.17. */
        {(1ULL << 63) - 1, {0x2ceb59116fb27514ULL, 0x784d3e7d390dc57cULL}, 2},
        {1ULL << 63, {0xcfb443e389167cfdULL, 0x98b11eb7647f71b8ULL}, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zeus_rng rng;
        zeus_rng_seed(&rng, cases[c].seed);
        for (int i = 0; i < cases[c].n; i++)
            assert_int_equal(zeus_rng_next_u64(&rng), cases[c].raw[i]);
    }
}

static void test_u32_halves(void **state)
{
    (void)state;
    zeus_rng rng;
    zeus_rng_seed(&rng, 1);
    assert_int_equal(zeus_rng_next_u32(&rng), 0x7922e4ffu); /* low half first */
    assert_int_equal(zeus_rng_next_u32(&rng), 0x8306bdf3u); /* then the high half */
    assert_int_equal(zeus_rng_next_u64(&rng), 0xf35196bbc152a866ULL);
}

static void test_bounded(void **state)
{
    (void)state;
    zeus_rng rng;
    /* numpy: default_rng(7).integers(0, 1000, 5, endpoint=True) */
    static const uint64_t small[] = {945, 625, 684, 898, 578};
    zeus_rng_seed(&rng, 7);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(zeus_rng_bounded(&rng, 1000), small[i]);
    /* numpy: default_rng(3).integers(0, 2**40, 3, endpoint=True) (64-bit Lemire) */
    static const uint64_t large[] = {94172255183ULL, 260375905582ULL, 881010591535ULL};
    zeus_rng_seed(&rng, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(zeus_rng_bounded(&rng, 1ULL << 40), large[i]);
    /* A zero range draws nothing. */
    zeus_rng_seed(&rng, 1);
    assert_int_equal(zeus_rng_bounded(&rng, 0), 0);
    assert_int_equal(zeus_rng_next_u64(&rng), 0x8306bdf37922e4ffULL);
}

static void test_choice(void **state)
{
    (void)state;
    zeus_rng rng;
    size_t out[7];
    static const int arms[] = {8, 16, 32, 64, 128, 256};
    static const int expect_arms[] = {16, 32, 256, 64, 128, 8};
    zeus_rng_seed(&rng, 1);
    assert_int_equal(zeus_rng_choice(&rng, 6, 6, out), ZEUS_OK);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(arms[out[i]], expect_arms[i]);

    /* pandas sample(n=1) on a 5-row frame picks position 2. */
    zeus_rng_seed(&rng, 1);
    assert_int_equal(zeus_rng_choice(&rng, 5, 1, out), ZEUS_OK);
    assert_int_equal(out[0], 2);

    /* default_rng(3): two successive choice(100, 7, replace=False). */
    static const size_t expect3[2][7] = {{86, 17, 22, 8, 79, 76, 97}, {11, 45, 25, 3, 71, 15, 67}};
    zeus_rng_seed(&rng, 3);
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(zeus_rng_choice(&rng, 100, 7, out), ZEUS_OK);
        for (size_t i = 0; i < 7; i++)
            assert_int_equal(out[i], expect3[k][i]);
    }

    assert_int_equal(zeus_rng_choice(&rng, 3, 4, out), ZEUS_EINVAL);
    assert_int_equal(zeus_rng_choice(&rng, 0, 0, out), ZEUS_OK);
}

static void test_choice_large_population(void **state)
{
    (void)state;
    zeus_rng rng;
    size_t *out = test_malloc(5000 * sizeof *out);
    /* default_rng(9): choice(20000, 500) takes the tail-shuffle path, then choice(20000, 10)
     * Floyd's; a fresh default_rng(9).choice(20000, 5000) the tail shuffle again. */
    static const size_t first[] = {10394, 18789, 15237, 9248, 5984};
    static const size_t floyd[] = {8731,  19899, 10796, 11451, 12404,
                                   17997, 4791,  4423,  15813, 6071};
    static const size_t tail[] = {1607, 17197, 16557, 13725, 3035};
    zeus_rng_seed(&rng, 9);
    assert_int_equal(zeus_rng_choice(&rng, 20000, 500, out), ZEUS_OK);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(out[i], first[i]);
    assert_int_equal(zeus_rng_choice(&rng, 20000, 10, out), ZEUS_OK);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(out[i], floyd[i]);
    zeus_rng_seed(&rng, 9);
    assert_int_equal(zeus_rng_choice(&rng, 20000, 5000, out), ZEUS_OK);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(out[i], tail[i]);
    test_free(out);
}

static void test_normal(void **state)
{
    (void)state;
    zeus_rng rng;
    static const double expect[] = {0.345584192064786, 0.8216181435011584, 0.33043707618338714};
    zeus_rng_seed(&rng, 1);
    for (size_t i = 0; i < 3; i++)
        assert_true(zeus_rng_standard_normal(&rng) == expect[i]);
    zeus_rng_seed(&rng, 1);
    assert_true(zeus_rng_normal(&rng, 10, 2.0) == 10.691168384129572);
    /* Zero spread returns the mean but still consumes a draw, as numpy does. */
    zeus_rng_seed(&rng, 1);
    assert_true(zeus_rng_normal(&rng, -3.5, 0.0) == -3.5);
    assert_true(zeus_rng_standard_normal(&rng) == expect[1]);
}

static void test_normal_stream(void **state)
{
    (void)state;
    /* default_rng(7).standard_normal(100000): 26 draws fall in the tail beyond r, the extremes
     * are at 4657 and 33110, and the sequential sum is exact to the last bit. */
    zeus_rng rng;
    zeus_rng_seed(&rng, 7);
    double sum = 0.0, z = 0.0;
    int tail = 0;
    for (int i = 0; i < 100000; i++) {
        z = zeus_rng_standard_normal(&rng);
        sum += z;
        tail += z > 3.6541528853610088 || z < -3.6541528853610088;
        if (i == 4657)
            assert_true(z == 4.06160631065189);
        if (i == 33110)
            assert_true(z == -4.502222241099144);
    }
    assert_true(z == 0.8518898525107713);
    assert_true(sum == -132.63190873851516);
    assert_int_equal(tail, 26);
}

static void test_copy_forks_stream(void **state)
{
    (void)state;
    zeus_rng a, b;
    zeus_rng_seed(&a, 42);
    (void)zeus_rng_next_u32(&a); /* leave a buffered half behind */
    b = a;
    for (int i = 0; i < 10; i++)
        assert_true(zeus_rng_standard_normal(&a) == zeus_rng_standard_normal(&b));
    assert_int_equal(zeus_rng_next_u32(&a), zeus_rng_next_u32(&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_u64),
        cmocka_unit_test(test_u32_halves),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_choice_large_population),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_normal_stream),
        cmocka_unit_test(test_copy_forks_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
