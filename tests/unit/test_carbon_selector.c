/* The carbon-aware selector (zeus/carbon.h): ZeusCost exactly at the reference intensity, lower
 * limits in dirty hours and faster ones in clean hours on a recorded profile, validation and a
 * failing intensity feed, and the intensity traces (the shipped GB day, bad files). */
#include "test_support.h"

#include "../integration/power_limit_cases.h"
#include "zeus/carbon.h"
#include "zeus/cost.h"

#include <math.h>
#include <string.h>

typedef zeus_power_limit_measurement meas;

typedef struct {
    double value;
    int rc;
} feed;

static int read_feed(void *user, double *g_per_kwh)
{
    feed *f = user;
    *g_per_kwh = f->value;
    return f->rc;
}

static unsigned pick(zeus_optimum_selector *s, const meas *m, size_t n)
{
    unsigned w = 0;
    int rc = zeus_selector_select(s, m, n, &w);
    if (rc != ZEUS_OK)
        fprintf(stderr, "select: %s\n", zeus_last_error());
    assert_int_equal(rc, ZEUS_OK);
    return w;
}

/* At I == I_ref it is ZeusCost on every recorded profile and eta of spec 11.2. */
static void test_reference_is_zeus_cost(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof pl_cases / sizeof pl_cases[0]; c++) {
        meas m[16];
        size_t n = pl_case_read(&pl_cases[c], m, 16);
        assert_true(n > 0);
        for (size_t e = 0; e < PL_ETA_COUNT; e++) {
            feed f = {123.0, ZEUS_OK};
            zeus_carbon_cost_selector st;
            zeus_optimum_selector s;
            assert_int_equal(zeus_selector_carbon_cost(&st, pl_etas[e], (int)pl_cases[c].gpus,
                                                       123.0, read_feed, &f, &s),
                             ZEUS_OK);
            assert_int_equal(pick(&s, m, n), pl_cases[c].zeus[e]);
            assert_true(st.last_g_per_kwh == 123.0 && st.last_limit_w == pl_cases[c].zeus[e]);
        }
    }
}

/* A dirty hour never picks a higher limit than a clean one, and on this profile they differ. */
static void test_limit_follows_the_grid(void **state)
{
    (void)state;
    meas m[16];
    size_t n = pl_case_read(&pl_cases[0], m, 16); /* A40 bert: ZeusCost(0.5) picks 275 W */
    assert_true(n > 0);
    feed f = {100.0, ZEUS_OK};
    zeus_carbon_cost_selector st;
    zeus_optimum_selector s;
    assert_int_equal(zeus_selector_carbon_cost(&st, 0.5, 1, 100.0, read_feed, &f, &s), ZEUS_OK);
    assert_string_equal(st.name, "CarbonCost(eta_knob=0.5, reference=100.0)");
    unsigned previous = UINT32_MAX;
    unsigned clean = 0, dirty = 0;
    for (double i = 10; i <= 1000; i *= 1.5) {
        f.value = i;
        unsigned w = pick(&s, m, n);
        assert_true(w <= previous);
        previous = w;
        if (i == 10)
            clean = w;
        dirty = w;
        /* The choice is the argmin of zeus_carbon_cost over the profile. */
        double max_power = 300, best = INFINITY;
        for (size_t k = 0; k < n; k++)
            best =
                fmin(best, zeus_carbon_cost(m[k].energy_j, m[k].time_s, 0.5, max_power, i, 100.0));
        for (size_t k = 0; k < n; k++)
            if (m[k].power_limit_w == w)
                assert_true(zeus_carbon_cost(m[k].energy_j, m[k].time_s, 0.5, max_power, i,
                                             100.0) <= best * (1 + 1e-12));
    }
    assert_true(clean > dirty);
    assert_int_equal(dirty, pl_cases[0].energy); /* energy dominates: Energy()'s choice */
}

static void test_validation_and_feed_errors(void **state)
{
    (void)state;
    zeus_carbon_cost_selector st;
    zeus_optimum_selector s;
    feed f = {100, ZEUS_OK};
    assert_int_equal(zeus_selector_carbon_cost(&st, 1.5, 1, 100, read_feed, &f, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "eta_knob must be between 0 and 1");
    assert_int_equal(zeus_selector_carbon_cost(&st, 0.5, 0, 100, read_feed, &f, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "world_size must be >= 1");
    assert_int_equal(zeus_selector_carbon_cost(&st, 0.5, 1, 0, read_feed, &f, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "reference intensity must be positive (got 0.0)");
    assert_int_equal(zeus_selector_carbon_cost(&st, 0.5, 1, 100, NULL, &f, &s), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "no carbon intensity callback");
    assert_true(isnan(zeus_carbon_cost(1, 1, 0.5, 300, -1, 100)));

    assert_int_equal(zeus_selector_carbon_cost(&st, 0.5, 1, 100, read_feed, &f, &s), ZEUS_OK);
    meas m[2] = {{300, 10, 1}, {200, 8, 1.2}};
    unsigned w = 7;
    f.rc = ZEUS_EIO; /* a feed that fails: no limit is chosen on a guess */
    assert_int_equal(zeus_selector_select(&s, m, 2, &w), ZEUS_EIO);
    assert_contains(zeus_last_error(), "CarbonCost(eta_knob=0.5, reference=100.0): no carbon");
    assert_int_equal(w, 7);
    f.rc = ZEUS_OK;
    f.value = NAN;
    assert_int_equal(zeus_selector_select(&s, m, 2, &w), ZEUS_ERANGE);
    assert_contains(zeus_last_error(), "carbon intensity nan gCO2eq/kWh is not positive");
}

static void test_traces(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/carbon/gb-2020-05-22.csv", ZEUS_DATA_DIR);
    zeus_carbon_trace t;
    assert_int_equal(zeus_carbon_trace_read(path, &t), ZEUS_OK);
    assert_int_equal(t.count, 24);
    assert_true(t.period_s == 3600 && t.start_s == 1590094800);
    assert_true(zeus_carbon_trace_at(&t, 1590094800) == 169);
    assert_true(zeus_carbon_trace_at(&t, 1590094800 + 3599) == 169);
    assert_true(zeus_carbon_trace_at(&t, 1590094800 + 3600) == 135.5);
    assert_true(zeus_carbon_trace_at(&t, 1590094800 + 86400) == 169);  /* the next day */
    assert_true(zeus_carbon_trace_at(&t, 1590094800 - 3600) == 68);    /* the day before */
    double mean = zeus_carbon_trace_mean(&t, 1590094800 + 1800, 3600); /* half and half */
    assert_true(fabs(mean - (169 + 135.5) / 2) < 1e-9);
    assert_true(fabs(zeus_carbon_trace_mean(&t, 0, 86400 * 3) - 77.854166666666667) < 1e-6);
    zeus_carbon_trace_free(&t);

    char *bad = zt_write(zt_dir, "bad.csv", "unix_s,carbon_intensity\n0,100\n3600,-5\n");
    assert_int_equal(zeus_carbon_trace_read(bad, &t), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), ":3: carbon_intensity must be positive");
    free(bad);
    char *gap = zt_write(zt_dir, "gap.csv", "unix_s,carbon_intensity\n0,1\n3600,2\n9000,3\n");
    assert_int_equal(zeus_carbon_trace_read(gap, &t), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), ":4: unix_s must increase by one constant period");
    free(gap);
    char *col = zt_write(zt_dir, "col.csv", "time,carbon_intensity\n0,1\n3600,2\n");
    assert_int_equal(zeus_carbon_trace_read(col, &t), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "missing column 'unix_s'");
    free(col);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_is_zeus_cost),
        cmocka_unit_test(test_limit_follows_the_grid),
        cmocka_unit_test(test_validation_and_feed_errors),
        cmocka_unit_test_setup_teardown(test_traces, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
