/* Spec 11.3: every recorded profile in data/profile_data replayed through the real
 * optimizer (fake NVML with the file's limit range, the replay monitor) for every ZeusCost eta
 * and the four interruption modes; asserts the chosen limit and the exact sequence of
 * nvmlDeviceSetPowerManagementLimit calls the fake NVML received. Then optimizers built on
 * the saved profile with the other selectors start Done at the spec 11.2 limits. */
#include "test_support.h"

#include "power_limit_cases.h"
#include "power_limit_rig.h"
#include "zeus/zeus.h"
#include "zeus/power_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MODE_NONE, MODE_WARMUP, MODE_PROFILING, MODE_EVERY, MODE_COUNT };
static const char *const mode_names[] = {"no interruption", "during warmup", "during profiling",
                                         "every time"};

typedef struct {
    unsigned steps_per_epoch, epochs, completed_per_epoch;
} mode_plan;

static mode_plan plan(int mode, unsigned n)
{
    switch (mode) {
    case MODE_NONE:
        return (mode_plan){50 * n + 10, 3, n};
    case MODE_WARMUP:
        return (mode_plan){50 * (n / 2) + 5, 4, n / 2};
    case MODE_PROFILING:
        return (mode_plan){50 * (n / 3) + 15, 5, n / 3};
    default:
        return (mode_plan){100, n + 2, 1};
    }
}

/* The spec's rule: each epoch tries k+1 limits from the head of the remaining list; the run's
 * first call is the constructor's max; redundant sets are skipped; an interrupted last try is
 * followed by a set to max and goes back to the head; finally the optimum unless already set. */
static size_t expected_calls(const unsigned *pls, size_t n, size_t k, unsigned optimum_w,
                             unsigned *out)
{
    size_t count = 0, head = 0;
    unsigned max = pls[0], current = max;
    out[count++] = max;
    while (head < n) {
        size_t left = n - head;
        size_t tried = k + 1 < left ? k + 1 : left;
        size_t completed = k < left ? k : left;
        for (size_t i = 0; i < tried; i++) {
            if (pls[head + i] != current)
                out[count++] = current = pls[head + i];
        }
        if (tried > completed && current != max)
            out[count++] = current = max;
        head += completed;
    }
    if (optimum_w != current)
        out[count++] = optimum_w;
    return count;
}

static zeus_optimum_selector cost(double eta)
{
    zeus_optimum_selector s;
    assert_int_equal(zeus_selector_zeus_cost(eta, ZEUS_WORLD_SIZE_AUTO, &s), ZEUS_OK);
    return s;
}

/* The profile is loaded, the optimum set once per GPU in the constructor, nothing more during
 * an epoch; destroy puts the GPUs back to 300/250 W (their limit before). */
static void check_loaded(const pl_case *c, const char *profile, zeus_optimum_selector sel,
                         unsigned want_w)
{
    rig r;
    rig_open(&r, c, "loaded.log");
    zeus_power_limit_optimizer *plo = create(&r, sel, profile);
    zeus_power_limit_state st;
    zeus_power_limit_get_state(plo, &st);
    assert_int_equal(st.phase, ZEUS_PL_DONE);
    unsigned got = zeus_power_limit_optimal_mw(plo);
    if (got != want_w * 1000) {
        char buf[96];
        fprintf(stderr, "%s %s: %u W, want %u W\n", c->file,
                zeus_selector_describe(&sel, buf, sizeof buf), got / 1000, want_w);
    }
    assert_int_equal(got, want_w * 1000);
    train(plo, 1, 100, false);
    nvml_log l;
    read_log(r.log, &l);
    assert_calls(&l, 0, &want_w, 1, c->gpus, "loaded profile");
    zeus_power_limit_optimizer_destroy(plo);
    read_log(r.log, &l);
    unsigned restore = c->max_w;
    assert_calls(&l, c->gpus, &restore, want_w == c->max_w ? 0 : 1, c->gpus, "restore");
    rig_close(&r);
}

static void run_case(const pl_case *c, size_t eta_index, int mode)
{
    unsigned pls[16];
    size_t n = 0;
    for (unsigned w = c->max_w; w >= c->min_w && w <= c->max_w; w -= 25)
        pls[n++] = w;
    mode_plan p = plan(mode, (unsigned)n);
    char *profile = zt_path(zt_dir, "profile.json");
    unlink(profile);

    rig r;
    rig_open(&r, c, "nvml.log");
    zeus_power_limit_optimizer *plo = create(&r, cost(pl_etas[eta_index]), profile);
    unsigned limits[16];
    assert_int_equal(zeus_power_limit_limits(plo, limits, 16), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(limits[i], pls[i] * 1000);
    train(plo, p.epochs, p.steps_per_epoch, true);

    zeus_power_limit_state st;
    zeus_power_limit_get_state(plo, &st);
    assert_int_equal(st.phase, ZEUS_PL_DONE);
    unsigned want = c->zeus[eta_index];
    if (zeus_power_limit_optimal_mw(plo) != want * 1000)
        fprintf(stderr, "%s eta %g %s: chose %u W, want %u W\n", c->file, pl_etas[eta_index],
                mode_names[mode], zeus_power_limit_optimal_mw(plo) / 1000, want);
    assert_int_equal(zeus_power_limit_optimal_mw(plo), want * 1000);

    unsigned calls[128];
    size_t count = expected_calls(pls, n, p.completed_per_epoch, want, calls);
    nvml_log l;
    read_log(r.log, &l);
    char what[256];
    snprintf(what, sizeof what, "%s eta %g %s", c->file, pl_etas[eta_index], mode_names[mode]);
    assert_calls(&l, 0, calls, count, c->gpus, what);
    /* Persistence mode on, once per monitored GPU, before any limit. */
    assert_int_equal(l.persistence_count, c->gpus);
    assert_int_equal(l.persistence_after_limit, 0);
    for (unsigned g = 0; g < c->gpus; g++)
        assert_int_equal(l.persistence[g], g * 10 + 1);

    /* Destroying puts the GPUs back to the limit they had (the maximum, the fake's default). */
    zeus_power_limit_optimizer_destroy(plo);
    size_t before = l.limits;
    read_log(r.log, &l);
    unsigned restore = c->max_w;
    assert_calls(&l, before, &restore, want == c->max_w ? 0 : 1, c->gpus, "restore at destroy");
    rig_close(&r);

    /* The profile was saved with every limit, in profiling order. */
    zeus_power_limit_profile prof;
    assert_int_equal(zeus_power_limit_profile_read(profile, &prof), ZEUS_OK);
    assert_int_equal(prof.count, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(prof.measurements[i].power_limit_w, pls[i]);
    zeus_power_limit_profile_free(&prof);

    /* Once per file: every other selector on the saved profile (spec 11.3). */
    if (eta_index == 2 && mode == MODE_NONE) {
        check_loaded(c, profile, zeus_selector_energy(), c->energy);
        check_loaded(c, profile, zeus_selector_time(), c->time);
        for (size_t f = 0; f < PL_FACTOR_COUNT; f++) {
            zeus_optimum_selector s;
            assert_int_equal(zeus_selector_max_slowdown(pl_factors[f], &s), ZEUS_OK);
            check_loaded(c, profile, s, c->slowdown[f]);
        }
    }
    if (mode == MODE_NONE)
        check_loaded(c, profile, cost(pl_etas[eta_index]), want);
    free(profile);
}

static void test_expected_call_rule(void **state)
{
    (void)state;
    /* The spec's two worked examples (A40 resnet18 gpu0, eta 0.5, optimum 175 W). */
    unsigned pls[9] = {300, 275, 250, 225, 200, 175, 150, 125, 100}, calls[64];
    size_t n = expected_calls(pls, 9, 9, 175, calls);
    unsigned mode0[] = {300, 275, 250, 225, 200, 175, 150, 125, 100, 175};
    assert_int_equal(n, 10);
    assert_memory_equal(calls, mode0, sizeof mode0);
    n = expected_calls(pls, 9, 1, 175, calls);
    unsigned every[] = {300, 275, 300, 275, 250, 300, 250, 225, 300, 225, 200, 300, 200,
                        175, 300, 175, 150, 300, 150, 125, 300, 125, 100, 300, 100, 175};
    assert_int_equal(n, sizeof every / sizeof every[0]);
    assert_memory_equal(calls, every, sizeof every);
}

static void run_file(size_t file)
{
    for (size_t e = 0; e < PL_ETA_COUNT; e++)
        for (int mode = 0; mode < MODE_COUNT; mode++)
            run_case(&pl_cases[file], e, mode);
}

#define FILE_TEST(i)                                                                               \
    static void test_file_##i(void **state)                                                        \
    {                                                                                              \
        (void)state;                                                                               \
        run_file(i);                                                                               \
    }
FILE_TEST(0)
FILE_TEST(1)
FILE_TEST(2)
FILE_TEST(3)
FILE_TEST(4)
FILE_TEST(5)
FILE_TEST(6)
FILE_TEST(7)
FILE_TEST(8)
FILE_TEST(9)
FILE_TEST(10)
FILE_TEST(11)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_call_rule),
        cmocka_unit_test_setup_teardown(test_file_0, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_1, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_2, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_3, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_4, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_5, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_6, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_7, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_8, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_9, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_10, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_file_11, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
