/* `zeus simulate --policy` and `zeus simulate compare` run as real processes: the policy reaches
 * the simulation (single and alibaba), the same seed gives the same runs, the comparison's table
 * and its regret curves as a chart whose series are the policies, and the usage errors. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_DIR ZEUS_DATA_DIR "/nsdi23-traces"
#define GROUPS_CSV ZEUS_DATA_DIR "/alibaba_groups_synth.csv"

/* check_chart.py on an SVG: its output (points per series), asserting it passed. */
static char *check_chart(const char *svg, const char *height, const char *panels,
                         const char *labels)
{
    char *argv[] = {"/usr/bin/python3", ZEUS_CHECK_CHART, (char *)svg,    "960",
                    (char *)height,     (char *)panels,   (char *)labels, NULL};
    char *out, *err;
    int rc = zt_run(argv, &out, &err, 30);
    if (rc != 0)
        fprintf(stderr, "check_chart: %s%s\n", out, err);
    assert_int_equal(rc, 0);
    free(err);
    return out;
}

/* --policy walk-ts: named in the summary, other runs than the default's, the same runs (byte
 * for byte) for the same seed; alibaba takes it too. */
static void test_single_policy(void **state)
{
    (void)state;
    char *a = zt_path(zt_dir, "walk1.csv"), *b = zt_path(zt_dir, "walk2.csv");
    char *c = zt_path(zt_dir, "default.csv");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--gpu",
                             "a40", "--policy", "walk-ts", "--csv", a, NULL),
                     0);
    assert_contains(out, "seed 1, policy walk-ts");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--gpu",
                             "a40", "--policy", "walk-ts", "--csv", b, NULL),
                     0);
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--gpu",
                             "a40", "--csv", c, NULL),
                     0);
    assert_contains(out, "policy pruning-gts");
    free(out);
    free(err);
    char *ta = zt_read(a), *tb = zt_read(b), *tc = zt_read(c);
    assert_string_equal(ta, tb);
    assert_true(strcmp(ta, tc) != 0);
    free(ta);
    free(tb);
    free(tc);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "alibaba", "--trace-dir", TRACE_DIR,
                             "--groups", GROUPS_CSV, "--policy", "walk-ts", "--jobs", "1", NULL),
                     0);
    assert_contains(out, "policy walk-ts");
    free(out);
    free(err);
    free(a);
    free(b);
    free(c);
}

/* One configuration: the table (both policies, the reference's ratio 1) and one panel of regret
 * curves, one series per policy with a point per recurrence. */
static void test_compare_one(void **state)
{
    (void)state;
    char *svg = zt_path(zt_dir, "compare.svg");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "compare", "--trace-dir", TRACE_DIR, "--gpu",
                             "a40", "--seeds", "2", "--plot", svg, NULL),
                     0);
    assert_contains(out, "1 configuration, seeds 1-2 (means)");
    assert_contains(out, "a40 Job(librispeech,deepspeech2,adamw,40.0,bs192~16), 108 recurrences");
    assert_contains(out, "pruning-gts  cumulative cost");
    assert_contains(out, "ratio 1.0000");
    assert_contains(out, "walk-ts      cumulative cost");
    assert_contains(out, "walk-ts: lower cumulative cost than pruning-gts on 1 of 1 configuration");
    free(out);
    free(err);
    out = check_chart(svg, "420", "pruning-gts,walk-ts", "recurrence");
    assert_contains(out, "pruning-gts=108 walk-ts=108");
    free(out);
    free(svg);
}

/* --all: the 24 configurations, a verdict over them, one panel per GPU. */
static void test_compare_all(void **state)
{
    (void)state;
    char *svg = zt_path(zt_dir, "compare_all.svg");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "compare", "--trace-dir", TRACE_DIR, "--all",
                             "--seeds", "1", "--policies", "walk-ts", "--plot", svg, NULL),
                     0);
    assert_contains(out, "24 configurations, seeds 1-1");
    assert_contains(out, "rtx6000 Job(sentiment140,");
    assert_contains(out, "of 24 configurations; ratio worst");
    free(out);
    free(err);
    out = check_chart(svg, "1380",
                      "pruning-gts,walk-ts;pruning-gts,walk-ts;pruning-gts,walk-ts;"
                      "pruning-gts,walk-ts",
                      "share of the recurrences, %|v100: regret, % of the oracle's cost");
    assert_contains(out, "pruning-gts=101");
    free(out);
    free(svg);
}

static void expect_usage(const char *message, char *out, char *err, int rc)
{
    assert_int_equal(rc, 2);
    assert_contains(err, message);
    free(out);
    free(err);
}

static void test_policy_errors(void **state)
{
    (void)state;
    char *out, *err;
    int rc = zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--policy",
                     "greedy", NULL);
    expect_usage("--policy: unknown batch-size policy 'greedy' (known: pruning-gts, walk-ts)", out,
                 err, rc);
    rc = zt_zeus(&out, &err, "simulate", "compare", "--trace-dir", TRACE_DIR, "--policies",
                 "walk-ts,nope", NULL);
    expect_usage("--policies: unknown batch-size policy 'nope'", out, err, rc);
    rc = zt_zeus(&out, &err, "simulate", "compare", "--trace-dir", TRACE_DIR, "--all", "--gpu",
                 "a40", NULL);
    expect_usage("--all runs the 24 paper-default configurations", out, err, rc);
    rc = zt_zeus(&out, &err, "simulate", "compare", "--trace-dir", TRACE_DIR, "--seeds", "0", NULL);
    expect_usage("--seeds must be an integer >= 1", out, err, rc);
    rc = zt_zeus(&out, &err, "simulate", "compare", "--trace-dir", TRACE_DIR, "--policy", "walk-ts",
                 NULL);
    expect_usage("option '--policy' belongs to 'simulate single' or 'simulate alibaba'", out, err,
                 rc);
    rc = zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--seeds", "3", NULL);
    expect_usage("option '--seeds' belongs to 'simulate compare'", out, err, rc);
    char *svg = zt_path(zt_dir, "no_oracle.svg");
    rc = zt_zeus(&out, &err, "simulate", "compare", "--trace-dir", TRACE_DIR, "--dataset", "squad",
                 "--model", "bert_base_uncased", "--optimizer", "adamw", "--target-metric", "84.5",
                 "--max-epochs", "6", "--b0", "8", "--seeds", "1", "--plot", svg, NULL);
    assert_int_equal(rc, 1);
    assert_contains(out, "regret         -");
    assert_contains(err, "--plot: the job has no oracle");
    free(out);
    free(err);
    free(svg);
    rc = zt_zeus(&out, &err, "simulate", "--help", NULL);
    assert_int_equal(rc, 0);
    assert_contains(out, "zeus simulate compare [--policies LIST]");
    assert_contains(out, "zeus simulate compare --all --seeds 5 --plot regret.svg");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_policy),
        cmocka_unit_test(test_compare_one),
        cmocka_unit_test(test_compare_all),
        cmocka_unit_test(test_policy_errors),
    };
    return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
