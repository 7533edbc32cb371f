/* `zeus simulate` run as a real process: the golden run's CSV byte for byte, the Alibaba
 * groups, the summary, and the usage and runtime errors with their exit codes. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#define TRACE_DIR ZEUS_DATA_DIR "/nsdi23-traces"
#define GROUPS_CSV ZEUS_DATA_DIR "/alibaba_groups_synth.csv"

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

static void test_single_golden_csv(void **state)
{
    (void)state;
    char *csv = zt_path(zt_dir, "single.csv");
    char *out, *err;
    assert_int_equal(
        zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--csv", csv, NULL), 0);
    assert_contains(out, "zeus simulate single: Job(librispeech,deepspeech2,adamw,40.0,bs192~16) "
                         "on v100");
    assert_contains(out, "210 (2 x 15 batch sizes x 7 power limits)");
    assert_contains(out, "211 (1 stopped before the target)");
    assert_contains(out, "1276354187.14576 J");
    assert_contains(out, "9887724.025714256 s");
    assert_contains(out, "bs 48 @ 150 W (182 runs), bs 32 @ 150 W (6), bs 96 @ 175 W (4)");
    assert_contains(out, "oracle            bs 48 @ 150 W");
    assert_contains(out, "default           bs 192 @ 250 W");
    assert_contains(out, "saved vs default");
    assert_contains(out, "regret");
    char *text = zt_read(csv);
    assert_non_null(text);
    /* Spec 11.7's golden prefix; costs are eta*E + (1-eta)*250*T. */
    assert_contains(text, "recurrence,try,batch_size,power_limit,energy,time,reached,cost\n"
                          "1,1,192,225,8495173.59414267,56443.485714285714,True,11303022.51135705\n"
                          "2,1,156,225,8303376.13265017,54796.6,True,");
    assert_contains(text, "\n13,1,8,125,10371196.797308967,88542.52857142857,False,");
    assert_contains(text, "\n13,2,48,150,5530821.134556254,43302.77,True,");
    assert_int_equal(count_lines(text), 212);
    free(text);
    free(out);
    free(err);

    /* The same run with the original script's flag spellings, CSV on stdout. */
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--b_0",
                             "192", "--eta_knob", "0.5", "--beta_knob", "2", "--target_metric",
                             "40", "--max_epochs", "16", "--num_recurrence", "5", "--csv", "-",
                             NULL),
                     0);
    assert_contains(out,
                    "1,1,192,225,8495173.59414267,56443.485714285714,True,11303022.51135705\n");
    assert_int_equal(count_lines(out), 6);
    assert_contains(err, "recurrences       5"); /* the summary moved to stderr */
    free(out);
    free(err);
    free(csv);
}

/* Without --trace-dir or ZEUS_TRACE_DIR the traces in the repository's data/ are used. */
static void test_single_default_traces(void **state)
{
    (void)state;
    char *out, *err;
    unsetenv("ZEUS_TRACE_DIR");
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", NULL), 0);
    assert_contains(out, "data/nsdi23-traces (23562 joined rows, max power 250 W)");
    assert_contains(out, "1276354187.14576 J");
    free(out);
    free(err);
}

static void test_single_other_gpu_and_env(void **state)
{
    (void)state;
    char *out, *err;
    setenv("ZEUS_TRACE_DIR", TRACE_DIR, 1);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--gpu", "a40", "--dataset",
                             "imagenet", "--model", "resnet50", "--optimizer", "adadelta",
                             "--target-metric", "0.65", "--max-epochs", "100", "--b0", "256", NULL),
                     0);
    unsetenv("ZEUS_TRACE_DIR");
    assert_contains(out, "Job(imagenet,resnet50,adadelta,0.65,bs256~100) on a40");
    assert_contains(out, "108 (2 x 6 batch sizes x 9 power limits)");
    assert_contains(out, "109 (1 stopped before the target)");
    assert_contains(out, "1820294312.9188673 J");
    free(out);
    free(err);
}

static void test_alibaba(void **state)
{
    (void)state;
    char *csv = zt_path(zt_dir, "alibaba.csv");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "alibaba", "--trace-dir", TRACE_DIR,
                             "--groups", GROUPS_CSV, "--jobs", "2", "--csv", csv, NULL),
                     0);
    assert_contains(out, "zeus simulate alibaba: 24 groups, 952 jobs");
    assert_contains(out, "00e3aba8800784f36620d04b94f50f1e librispeech     55    56");
    assert_contains(out, "979 (");
    char *text = zt_read(csv);
    assert_non_null(text);
    assert_contains(text, "group,recurrence,try,batch_size,power_limit,energy,time,reached,cost\n"
                          "00e3aba8800784f36620d04b94f50f1e,1,1,192,225,4998314.676387,"
                          "33209.71607062562,True,");
    assert_int_equal(count_lines(text), 980);
    free(out);
    free(err);
    /* One thread gives the same file. */
    char *csv1 = zt_path(zt_dir, "alibaba1.csv");
    assert_int_equal(zt_zeus(&out, &err, "simulate", "alibaba", "--trace-dir", TRACE_DIR,
                             "--groups", GROUPS_CSV, "--jobs", "1", "--csv", csv1, NULL),
                     0);
    char *text1 = zt_read(csv1);
    assert_string_equal(text1, text);
    free(text1);
    free(text);
    free(csv1);
    free(csv);
    free(out);
    free(err);
}

static void test_usage_errors(void **state)
{
    (void)state;
    static const char *const cases[][8] = {
        {"simulate", NULL},
        {"simulate", "replay", NULL},
        {"simulate", "single", "--gpu", "k80", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--eta", "1.5", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--beta", "0", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--b0", "abc", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--bogus", NULL},
        {"simulate", "alibaba", "--trace-dir", TRACE_DIR, NULL}, /* no --groups */
        {"simulate", "alibaba", "--seed", "3", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--groups", GROUPS_CSV, "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "extra", "--trace-dir", TRACE_DIR, NULL},
    };
    unsetenv("ZEUS_TRACE_DIR");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[10] = {(char *)ZEUS_CLI_PATH};
        for (size_t k = 0; cases[i][k]; k++)
            argv[k + 1] = (char *)cases[i][k];
        char *out, *err;
        int rc = zt_run(argv, &out, &err, 30);
        if (rc != 2)
            fail_msg("case %zu exited %d: %s", i, rc, err);
        if (i > 0)
            assert_contains(err, "zeus: error: ");
        free(out);
        free(err);
    }
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "--help", NULL), 0);
    assert_contains(out, "zeus simulate single");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "alibaba", "--help", NULL), 0);
    assert_contains(out, "--groups FILE");
    free(out);
    free(err);
}

static void test_runtime_errors(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", "/nonexistent", NULL),
                     1);
    assert_contains(err, "/nonexistent/summary_train.csv");
    free(out);
    free(err);
    /* A CSV that cannot be written is an error naming it, and leaves nothing half-written. */
    char *blocker = zt_write(zt_dir, "file", "x");
    char *csv_path = zt_path(zt_dir, "file/runs.csv");
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR,
                             "--num-recurrence", "3", "--csv", csv_path, NULL),
                     1);
    assert_contains(err, "file/runs.csv");
    free(out);
    free(err);
    free(blocker);
    free(csv_path);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--model",
                             "resnet18", NULL),
                     1);
    assert_contains(err, "no rows for workload librispeech/resnet18/adamw");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR,
                             "--max-epochs", "1", NULL),
                     1);
    assert_contains(err, "The default batch size 192 did not converge.");
    free(out);
    free(err);
    char *bad = zt_write(zt_dir, "bad_groups.csv",
                         "group,start_time,end_time,dataset,runtime_ratio\na,0,1,mnist,1\n");
    assert_int_equal(
        zt_zeus(&out, &err, "simulate", "alibaba", "--trace-dir", TRACE_DIR, "--groups", bad, NULL),
        1);
    assert_contains(err, "bad_groups.csv:2: unknown dataset 'mnist'");
    free(out);
    free(err);
    free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_golden_csv),
        cmocka_unit_test(test_single_other_gpu_and_env),
        cmocka_unit_test(test_single_default_traces),
        cmocka_unit_test(test_alibaba),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_runtime_errors),
    };
    return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
