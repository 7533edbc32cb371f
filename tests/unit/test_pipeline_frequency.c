/* The pipeline frequency solver (zeus/pipeline_frequency.h) on the hand-checkable reference case
 * of pipeline-frequency-api.md 5.9 (values computed there with lowtime 0.3.0), plus the pieces:
 * Python's floor division, the candidate filter, the knob choice, the 1F1B order, the fit. */
#include "test_support.h"

#include "zeus/pipeline_frequency.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static const long KNOBS[4] = {1400, 1200, 1000, 800};
static const double BASE[4] = {10, 20, 8,
                               16}; /* s0 forward, s0 backward, s1 forward, s1 backward */

/* Builds the reference specs: real_time = base * (0.3 + 0.7 * 1400 / f), cost 100 - 10 i,
 * cost model 2 base exp(-(2 / base) q). */
static zeus_pf_spec *reference_specs(void)
{
    zeus_pf_spec *specs = calloc(4, sizeof *specs);
    assert_non_null(specs);
    for (int i = 0; i < 4; i++) {
        zeus_pf_option opts[4];
        for (int k = 0; k < 4; k++) {
            opts[k].real_time_s = BASE[i] * (0.3 + 0.7 * 1400.0 / (double)KNOBS[k]);
            opts[k].cost_j = 100.0 - 10.0 * k;
            opts[k].knob_mhz = KNOBS[k];
            opts[k].quant_time = zeus_pf_quantize(opts[k].real_time_s, 1.0);
        }
        specs[i].options = calloc(4, sizeof(zeus_pf_option));
        specs[i].n_options = zeus_pf_candidates(opts, 4, 1.0, specs[i].options);
        specs[i].model = (zeus_pf_cost_model){2 * BASE[i], -2.0 / BASE[i], 0.0};
    }
    return specs;
}

static void test_quantize_is_python_floor_division(void **state)
{
    (void)state;
    assert_int_equal(zeus_pf_quantize(0.094, 0.001), 93); /* 0.094 / 0.001 == 94.0 */
    assert_int_equal(zeus_pf_quantize(0.0937, 0.001), 93);
    assert_int_equal(zeus_pf_quantize(2.0, 1.0), 2);
    assert_int_equal(zeus_pf_quantize(0.3, 0.1), 2); /* Python: 0.3 // 0.1 == 2.0 */
}

static void test_reference_candidates(void **state)
{
    (void)state;
    zeus_pf_spec *specs = reference_specs();
    static const long want[4][4][2] = {
        {{15, 800}, {12, 1000}, {11, 1200}, {10, 1400}},
        {{30, 800}, {25, 1000}, {22, 1200}, {20, 1400}},
        {{12, 800}, {10, 1000}, {8, 1400}, {0, 0}}, /* 1200 deduplicated into q = 8 */
        {{24, 800}, {20, 1000}, {17, 1200}, {16, 1400}},
    };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(specs[i].n_options, i == 2 ? 3 : 4);
        for (size_t k = 0; k < specs[i].n_options; k++) {
            assert_int_equal(specs[i].options[k].quant_time, want[i][k][0]);
            assert_int_equal(specs[i].options[k].knob_mhz, want[i][k][1]);
        }
    }
    zeus_pf_specs_free(specs, 2);
}

static void test_pareto_filter_and_noise_factor(void **state)
{
    (void)state;
    /* 2 is dominated by 1 and 4 by 0 (faster and cheaper); with a 0.95 noise factor 4 is
     * within 5 % of 0 and stays. */
    zeus_pf_option in[5] = {
        {0.100, 10.0, 1400, 100}, {0.150, 8.0, 1200, 150},  {0.160, 9.0, 1100, 160},
        {0.200, 6.0, 1000, 200},  {0.101, 10.2, 1390, 101},
    };
    zeus_pf_option out[5];
    size_t n = zeus_pf_candidates(in, 5, 1.0, out);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].knob_mhz, 1000);
    assert_int_equal(out[1].knob_mhz, 1200);
    assert_int_equal(out[2].knob_mhz, 1400);
    n = zeus_pf_candidates(in, 5, 0.95, out);
    assert_int_equal(n, 4);
    assert_int_equal(out[2].knob_mhz, 1390);
    /* equal quant_time: the higher cost stays (its q is closest to its real time) */
    zeus_pf_option same[2] = {{0.1009, 10.0, 1400, 100}, {0.1002, 10.5, 1395, 100}};
    assert_int_equal(zeus_pf_candidates(same, 2, 1.0, out), 1);
    assert_int_equal(out[0].knob_mhz, 1395);
}

static void test_1f1b_order(void **state)
{
    (void)state;
    zeus_pf_instruction kinds[12];
    int mbs[12];
    assert_int_equal(zeus_pf_1f1b(4, 6, 0, kinds, mbs), 0);
    const char *want0 = "F0F1F2F3B0F4B1F5B2B3B4B5";
    char got[64] = "";
    for (int k = 0; k < 12; k++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%c%d",
                 kinds[k] == ZEUS_PF_FORWARD ? 'F' : 'B', mbs[k]);
    assert_string_equal(got, want0);
    assert_int_equal(zeus_pf_1f1b(4, 6, 3, kinds, mbs), 0);
    for (int k = 0; k < 12; k++) {
        assert_int_equal(kinds[k], k % 2 ? ZEUS_PF_BACKWARD : ZEUS_PF_FORWARD);
        assert_int_equal(mbs[k], k / 2);
    }
    assert_int_equal(zeus_pf_1f1b(4, 6, 4, kinds, mbs), ZEUS_EINVAL);
}

static void expect_plan(zeus_pf_solver *s, int stage, const char *want)
{
    zeus_pf_step steps[6];
    assert_int_equal(zeus_pf_solver_plan(s, stage, steps), 0);
    char got[256] = "";
    for (int k = 0; k < 6; k++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%c%d %ld@%ld", k ? ", " : "",
                 steps[k].instruction == ZEUS_PF_FORWARD ? 'F' : 'B', steps[k].microbatch,
                 steps[k].duration, steps[k].knob_mhz);
    assert_string_equal(got, want);
}

static void test_reference_frontier(void **state)
{
    (void)state;
    zeus_pf_spec *specs = reference_specs();
    zeus_pf_solver *s = NULL;
    assert_int_equal(zeus_pf_solver_create(2, 3, specs, 1.0, &s), 0);
    zeus_pf_specs_free(specs, 2);
    assert_int_equal(zeus_pf_solver_max_time(s), 162);
    assert_int_equal(zeus_pf_solver_min_time(s), 108);
    static const double want[3][3] = {
        {161, 16.340456, 0.209446}, {160, 16.549902, 0.209446}, {159, 16.762033, 0.212130}};
    zeus_pf_result r, last = {0};
    int n = 0, rc;
    while ((rc = zeus_pf_solver_step(s, &r)) == 1) {
        n++;
        if (n == 1) {
            expect_plan(s, 0, "F0 15@800, F1 15@800, B0 29@1000, F2 15@800, B1 30@800, B2 30@800");
            expect_plan(s, 1, "F0 12@800, B0 24@800, F1 12@800, B1 24@800, F2 12@800, B2 24@800");
            char *text = NULL;
            assert_int_equal(zeus_pf_solver_format_plan(s, 0, &r, 70.0, &text), 0);
            assert_non_null(strstr(text, "[\n[('forward', 800), ('forward', 800), ('backward', "
                                         "1000), ('forward', 800), ('backward', 800), "
                                         "('backward', 800)],\n[('forward', 800), "));
            assert_non_null(strstr(text, "]\n# Iteration 0 cost change: 0.2094"));
            assert_non_null(strstr(text, "\n# Iteration 0 total cost with P2P: "));
            zeus_free(text);
        }
        if (n <= 3) {
            assert_int_equal(r.iteration, n);
            assert_int_equal(r.quant_time, (long)want[n - 1][0]);
            assert_true(fabs(r.cost - want[n - 1][1]) < 1e-6);
            assert_true(fabs(r.cost_change - want[n - 1][2]) < 1e-6);
            assert_true(r.real_time_s == (double)r.quant_time);
        }
        last = r;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 54);
    assert_int_equal(last.quant_time, 108);
    assert_true(fabs(last.cost - 37.796961) < 1e-6);
    assert_true(fabs(last.cost_change - 0.854192) < 1e-6);
    expect_plan(s, 0, "F0 10@1400, F1 15@800, B0 20@1400, F2 10@1400, B1 24@1200, B2 20@1400");
    expect_plan(s, 1, "F0 8@1400, B0 16@1400, F1 10@1000, B1 20@1000, F2 8@1400, B2 16@1400");
    assert_int_equal(zeus_pf_solver_step(s, &r), 0); /* stays ended */
    zeus_pf_solver_destroy(s);
}

static void test_fit_recovers_a_known_curve(void **state)
{
    (void)state;
    zeus_pf_option pts[6];
    for (int i = 0; i < 6; i++) {
        pts[i].quant_time = 200 - 20 * i;
        pts[i].cost_j = 30.0 * exp(-0.02 * (double)pts[i].quant_time) + 5.0;
        pts[i].knob_mhz = 800 + 100 * i;
    }
    zeus_pf_cost_model m;
    assert_int_equal(zeus_pf_fit_exponential(pts, 6, &m), 0);
    assert_true(fabs(m.a - 30.0) < 1e-4 * 30.0);
    assert_true(fabs(m.b + 0.02) < 1e-6);
    assert_true(fabs(m.c - 5.0) < 1e-4);
    assert_int_equal(zeus_pf_fit_exponential(pts, 3, &m), ZEUS_EINVAL);
    assert_non_null(strstr(zeus_last_error(), "at least 4"));
}

static void test_profile_errors_name_the_place(void **state)
{
    (void)state;
    char dir[] = "/tmp/zeus-pf-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/profile.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(
        "stage,instruction,frequency,time,energy\n0,forward,1400,0.1,10\n0,sideways,1400,0.1,10\n",
        f);
    fclose(f);
    zeus_pf_spec *specs = NULL;
    assert_int_equal(zeus_pf_profile_load(path, 1, NULL, &specs), ZEUS_EPARSE);
    assert_non_null(strstr(zeus_last_error(), "profile.csv:3"));
    assert_non_null(strstr(zeus_last_error(), "sideways"));
    f = fopen(path, "w");
    fputs("stage,instruction,frequency,time,energy\n0,forward,1400,0.1,10\n", f);
    fclose(f);
    assert_int_equal(zeus_pf_profile_load(path, 1, NULL, &specs), ZEUS_EINVAL);
    assert_non_null(strstr(zeus_last_error(), "stage 0 forward"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_is_python_floor_division),
        cmocka_unit_test(test_reference_candidates),
        cmocka_unit_test(test_pareto_filter_and_noise_factor),
        cmocka_unit_test(test_1f1b_order),
        cmocka_unit_test(test_reference_frontier),
        cmocka_unit_test(test_fit_recovers_a_known_curve),
        cmocka_unit_test(test_profile_errors_name_the_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
