/* Optimum selectors (spec 4.4): formulas, validation messages, tie-breaking, the spec 11.2
 * table on the recorded profiles, and a caller's own selector. */
#include "test_support.h"

#include "../integration/power_limit_cases.h"
#include "zeus/batch_size.h"
#include "zeus/power_limit.h"

#include <math.h>
#include <string.h>

typedef zeus_power_limit_measurement meas;

static unsigned pick(zeus_optimum_selector s, const meas *m, size_t n)
{
    unsigned w = 0;
    int rc = zeus_selector_select(&s, m, n, &w);
    if (rc != ZEUS_OK)
        fprintf(stderr, "select: %s\n", zeus_last_error());
    assert_int_equal(rc, ZEUS_OK);
    return w;
}

static zeus_optimum_selector cost(double eta, int world)
{
    zeus_optimum_selector s;
    assert_int_equal(zeus_selector_zeus_cost(eta, world, &s), ZEUS_OK);
    return s;
}

static zeus_optimum_selector slowdown(double factor)
{
    zeus_optimum_selector s;
    assert_int_equal(zeus_selector_max_slowdown(factor, &s), ZEUS_OK);
    return s;
}

static void test_spec_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < PL_CASE_COUNT; c++) {
        const pl_case *pc = &pl_cases[c];
        meas m[16];
        size_t n = pl_case_read(pc, m, 16);
        assert_int_equal(n, (pc->max_w - pc->min_w) / 25 + 1);
        assert_int_equal(m[0].power_limit_w, pc->max_w);
        assert_int_equal(m[n - 1].power_limit_w, pc->min_w);
        for (size_t e = 0; e < PL_ETA_COUNT; e++) {
            unsigned got = pick(cost(pl_etas[e], (int)pc->gpus), m, n);
            if (got != pc->zeus[e])
                fprintf(stderr, "%s eta %g: %u\n", pc->file, pl_etas[e], got);
            assert_int_equal(got, pc->zeus[e]);
        }
        assert_int_equal(pick(zeus_selector_energy(), m, n), pc->energy);
        assert_int_equal(pick(zeus_selector_time(), m, n), pc->time);
        for (size_t f = 0; f < PL_FACTOR_COUNT; f++)
            assert_int_equal(pick(slowdown(pl_factors[f]), m, n), pc->slowdown[f]);
    }
}

static void test_validation_messages(void **state)
{
    (void)state;
    zeus_optimum_selector s;
    assert_int_equal(zeus_selector_zeus_cost(-0.1, 1, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "eta_knob must be between 0 and 1, inclusive both sides.");
    assert_int_equal(zeus_selector_zeus_cost(1.5, 1, &s), ZEUS_EINVAL);
    assert_int_equal(zeus_selector_zeus_cost(NAN, 1, &s), ZEUS_EINVAL);
    assert_int_equal(zeus_selector_zeus_cost(0.5, -1, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "world_size must be greater than or equal to 1.");
    assert_int_equal(zeus_selector_zeus_cost(0.0, 1, &s), ZEUS_OK);
    assert_int_equal(zeus_selector_zeus_cost(1.0, ZEUS_WORLD_SIZE_AUTO, &s), ZEUS_OK);
    assert_int_equal(zeus_selector_max_slowdown(0.9, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(),
                    "max_slowdown_factor must be greater than or equal to 1.0. Got 0.9.");
    assert_int_equal(zeus_selector_max_slowdown(NAN, &s), ZEUS_EINVAL);
    assert_int_equal(zeus_selector_max_slowdown(1.0, &s), ZEUS_OK);
    /* A hand-built invalid selector is refused at use. */
    zeus_optimum_selector bad = {.kind = ZEUS_SELECTOR_ZEUS_COST, .eta_knob = 2};
    meas m[1] = {{300, 10, 1}};
    unsigned w;
    assert_int_equal(zeus_selector_select(&bad, m, 1, &w), ZEUS_EINVAL);
    zeus_optimum_selector e = zeus_selector_energy();
    assert_int_equal(zeus_selector_select(&e, m, 0, &w), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "no measurements");
    bad = (zeus_optimum_selector){.kind = ZEUS_SELECTOR_CUSTOM};
    assert_int_equal(zeus_selector_validate(&bad), ZEUS_EINVAL);
}

static void test_formulas_and_ties(void **state)
{
    (void)state;
    /* Ties go to the first (the higher limit). */
    meas tie[] = {{300, 100, 10}, {250, 100, 10}, {200, 120, 12}};
    assert_int_equal(pick(zeus_selector_energy(), tie, 3), 300);
    assert_int_equal(pick(zeus_selector_time(), tie, 3), 300);
    assert_int_equal(pick(cost(0.5, 1), tie, 3), 300);
    /* ZeusCost: MaxPower = max limit x world size. eta 0: time only. world size changes the
     * balance: 300 W x 1 prefers 250 (cost 0.5*80 + 0.5*300*11 = 1690 vs 0.5*100+0.5*300*10 =
     * 1550)... */
    meas m[] = {{300, 100, 10}, {250, 80, 11}};
    assert_int_equal(pick(cost(0.0, 1), m, 2), 300);
    assert_int_equal(pick(cost(1.0, 1), m, 2), 250);
    assert_int_equal(pick(cost(0.5, 1), m, 2), 300);
    /* ... while eta 0.99 with world 1: 0.99*80 + 0.01*300*11 = 112.2 < 0.99*100 + 0.01*3000 =
     * 129; with world 100 time weighs 100 times more: 300 wins. */
    assert_int_equal(pick(cost(0.99, 1), m, 2), 250);
    assert_int_equal(pick(cost(0.99, 100), m, 2), 300);
    /* A later measurement of the same limit overwrites its cost but keeps its position. */
    meas dup[] = {{300, 100, 10}, {250, 90, 10}, {300, 80, 10}};
    assert_int_equal(pick(cost(1.0, 1), dup, 3), 300);
    assert_int_equal(pick(zeus_selector_energy(), dup, 3), 300);
    meas dup2[] = {{300, 70, 10}, {250, 90, 10}, {300, 95, 10}};
    assert_int_equal(pick(cost(1.0, 1), dup2, 3), 250);
    assert_int_equal(pick(zeus_selector_energy(), dup2, 3), 300);
    /* MaxSlowdown: the reference is the max limit's time, not the shortest time. */
    meas sl[] = {{300, 100, 10}, {250, 90, 9}, {200, 80, 10.5}, {150, 70, 12}};
    assert_int_equal(pick(slowdown(1.0), sl, 4), 250);
    assert_int_equal(pick(slowdown(1.05), sl, 4), 200);
    assert_int_equal(pick(slowdown(1.2), sl, 4), 150);
    /* Profiling order need not be sorted. */
    meas unsorted[] = {{200, 80, 10.5}, {300, 100, 10}, {150, 70, 20}};
    assert_int_equal(pick(slowdown(1.1), unsorted, 3), 200);
    assert_int_equal(zeus_cost(100, 10, 0.5, 300), 1550);
}

static int my_selector(const meas *m, size_t n, void *user, unsigned *out)
{
    unsigned *calls = user;
    (*calls)++;
    if (n < 2)
        return ZEUS_EINVAL;
    *out = m[n - 1].power_limit_w; /* the last one profiled */
    return ZEUS_OK;
}

static void test_custom(void **state)
{
    (void)state;
    unsigned calls = 0;
    zeus_optimum_selector s = zeus_selector_custom(my_selector, &calls, "Last()");
    meas m[] = {{300, 100, 10}, {250, 80, 11}};
    assert_int_equal(pick(s, m, 2), 250);
    assert_int_equal(calls, 1);
    unsigned w;
    assert_int_equal(zeus_selector_select(&s, m, 1, &w), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "Last()");
    char buf[128];
    assert_string_equal(zeus_selector_describe(&s, buf, sizeof buf), "Last()");
}

static void test_describe_and_parse(void **state)
{
    (void)state;
    char buf[128];
    zeus_optimum_selector s = cost(0.5, 4);
    assert_string_equal(zeus_selector_describe(&s, buf, sizeof buf),
                        "ZeusCost(eta_knob=0.5, world_size=4)");
    s = slowdown(1.1);
    assert_string_equal(zeus_selector_describe(&s, buf, sizeof buf),
                        "MaxSlowdownConstraint(factor=1.1)");
    s = zeus_selector_energy();
    assert_string_equal(zeus_selector_describe(&s, buf, sizeof buf), "Energy()");
    s = zeus_selector_time();
    assert_string_equal(zeus_selector_describe(&s, buf, sizeof buf), "Time()");
    assert_int_equal(zeus_selector_parse("energy", 0.5, 1.1, &s), ZEUS_OK);
    assert_int_equal(s.kind, ZEUS_SELECTOR_ENERGY);
    assert_int_equal(zeus_selector_parse("zeus-cost", 0.25, 1.1, &s), ZEUS_OK);
    assert_int_equal(s.kind, ZEUS_SELECTOR_ZEUS_COST);
    assert_true(s.eta_knob == 0.25 && s.world_size == ZEUS_WORLD_SIZE_AUTO);
    assert_int_equal(zeus_selector_parse("max-slowdown", 0.5, 1.3, &s), ZEUS_OK);
    assert_true(s.factor == 1.3);
    assert_int_equal(zeus_selector_parse("time", 0.5, 1.1, &s), ZEUS_OK);
    assert_int_equal(zeus_selector_parse("fastest", 0.5, 1.1, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "unknown selector 'fastest'");
    assert_int_equal(zeus_selector_parse("cost", 7, 1.1, &s), ZEUS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_table),         cmocka_unit_test(test_validation_messages),
        cmocka_unit_test(test_formulas_and_ties),  cmocka_unit_test(test_custom),
        cmocka_unit_test(test_describe_and_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
