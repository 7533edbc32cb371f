/* `zeus simulate` run as a real process: the golden run's CSV byte for byte, the Alibaba
 * groups, the summary, and the usage and runtime errors with their exit codes. */
#include "test_support.h"

#include <stdio.h>
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

/* With beta < 1 no run may fit under the bound; the original retries such a submission forever
 * (the process never ends). Here it gives up after 1000 tries: the group fails, its runs so far
 * are in the CSV, and the command ends at once with status 1. */
static void test_alibaba_gives_up(void **state)
{
    (void)state;
    char *csv = zt_path(zt_dir, "alibaba_half.csv");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "alibaba", "--trace-dir", TRACE_DIR,
                             "--groups", GROUPS_CSV, "--beta", "0.5", "--csv", csv, NULL),
                     1);
    assert_contains(err, "squad): Job did not reach the target metric in 1000 tries. (its runs so "
                         "far are in the CSV)");
    assert_contains(out, "failed groups     24");
    assert_contains(out, "regret            unknown (no group completed)");
    char *text = zt_read(csv);
    assert_non_null(text);
    assert_contains(text, "\n04535c7ee40442206f9ae5d679148613,1,1,");
    assert_true(count_lines(text) > 24);
    free(text);
    free(out);
    free(err);
    free(csv);
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
        /* Bounded: every run is kept in memory (issue 9 item 15). */
        {"simulate", "single", "--num-recurrence", "1000001", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--seed", "18446744073709551616", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--seed", "-1", "--trace-dir", TRACE_DIR, NULL},
        {"simulate", "single", "--seed", "1x", "--trace-dir", TRACE_DIR, NULL},
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

/* A complete run where no (batch size, power limit) always reaches the target: the summary
 * without an oracle, exit 0 (issue 9 item 16; it exited 1 after the whole run). */
static void test_single_no_oracle(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR,
                             "--dataset", "squad", "--model", "bert_base_uncased", "--optimizer",
                             "adamw", "--target-metric", "84.5", "--max-epochs", "6", "--b0", "8",
                             NULL),
                     0);
    assert_contains(out, "runs              109 (11 stopped before the target)");
    /* The original's totals for this job (zeus 0.8, numpy 1.24.2, pandas 1.5.3, seed 1). */
    assert_contains(out, "energy            186211764.67733163 J");
    assert_contains(out, "time              991741.200714285 s");
    assert_contains(out, "most used         bs 8 @ 200 W (108 runs), bs 12 @ 200 W (1)");
    assert_contains(out, "oracle            none: no (batch size, power limit) always reaches the "
                         "target within 6 epochs");
    assert_contains(out, "default           bs 8 @ 250 W");
    assert_contains(out, "saved vs default  energy 909455 J (0.2526 kWh, 0.5 %)");
    assert_contains(out, "regret            unknown (no oracle)");
    assert_string_equal(err, "");
    free(out);
    free(err);
}

/* "did not reach the target metric in 20 tries": the runs made so far reach --csv first. The
 * crafted trace of test_simulate_trace's test_twenty_tries: two good runs of twenty. */
static void test_single_gives_up_writes_csv(void **state)
{
    (void)state;
    char train[4096];
    size_t o = (size_t)snprintf(train, sizeof train, "%s",
                                "dataset,network,batch_size,optimizer,learning_rate,run,"
                                "target_metric,target_epoch\n");
    for (int r = 0; r < 20; r++)
        o += (size_t)snprintf(train + o, sizeof train - o, "toy,net,8,sgd,0.1,%d,0.5,%s\n", r + 1,
                              r < 2 ? "1" : "nan");
    char *dir = zt_path(zt_dir, "toy_traces");
    free(zt_write(zt_dir, "toy_traces/summary_train.csv", train));
    free(zt_write(zt_dir, "toy_traces/summary_power_v100.csv",
                  "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,"
                  "average_power\ntoy,net,8,sgd,100,10.0,90.0\ntoy,net,8,sgd,200,8.0,150.0\n"));
    char *csv = zt_path(zt_dir, "gave_up.csv");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", dir, "--dataset",
                             "toy", "--model", "net", "--optimizer", "sgd", "--target-metric",
                             "0.5", "--max-epochs", "5", "--b0", "8", "--seed", "34",
                             "--num-recurrence", "10", "--csv", csv, NULL),
                     1);
    assert_contains(err, "Job did not reach the target metric in 20 tries.");
    assert_contains(err, "the runs made so far are in the CSV");
    char *text = zt_read(csv);
    assert_non_null(text);
    assert_contains(text, "recurrence,try,batch_size,power_limit,energy,time,reached,cost\n");
    size_t lines = count_lines(text);
    assert_true(lines >= 21);
    /* The last twenty rows are the twenty failed tries of one recurrence. */
    const char *p = text + strlen(text);
    for (int k = 20; k >= 1; k--) {
        p--; /* the newline ending the row */
        while (p > text && p[-1] != '\n')
            p--;
        char want[32];
        snprintf(want, sizeof want, ",%d,8,", k);
        assert_non_null(strstr(p, want));
        assert_non_null(strstr(p, ",False,"));
    }
    free(text);
    free(out);
    free(err);
    free(csv);
    free(dir);
}

/* numpy's default_rng takes seeds up to 2^64 - 1 and beyond; ours up to 2^64 - 1, exactly as
 * numpy seeds them (the generator's vectors for 2^63 and 2^64 - 1 are in test_rng). Reference
 * totals: the original (zeus 0.8 Simulator, numpy 1.24.2, pandas 1.5.3) run on these traces
 * with run_single.py's defaults and these seeds. */
static void test_single_large_seed(void **state)
{
    (void)state;
    static const struct {
        const char *seed, *runs, *energy, *time;
    } cases[] = {
        {"9223372036854775808", "211 (1 stopped", "1312327044.2623672 J", "10046787.215714231 s"},
        {"18446744073709551615", "212 (2 stopped", "1288615039.028059 J", "10001588.424285688 s"},
    };
    char *out, *err;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR,
                                 "--seed", cases[i].seed, NULL),
                         0);
        assert_contains(out, cases[i].seed);
        assert_contains(out, cases[i].runs);
        assert_contains(out, cases[i].energy);
        assert_contains(out, cases[i].time);
        free(out);
        free(err);
    }
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--seed",
                             "18446744073709551616", NULL),
                     2);
    assert_contains(err, "--seed must be an integer from 0 to 2^64 - 1");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR,
                             "--num-recurrence", "1000001", NULL),
                     2);
    assert_contains(err, "--num-recurrence must be at most 1000000");
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

/* --plot: the run as a picture (cost and regret against the oracle, batch sizes), as SVG and,
 * with the rasterizer module, PNG; refused for alibaba and for an unknown extension before any
 * work. */
static void test_single_plot(void **state)
{
    (void)state;
    char *svg = zt_path(zt_dir, "run.svg");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR,
                             "--num-recurrence", "40", "--plot", svg, NULL),
                     0);
    free(out);
    free(err);
    char *argv[] = {"/usr/bin/python3",
                    ZEUS_CHECK_CHART,
                    svg,
                    "960",
                    "1000",
                    "Zeus (simulated),oracle,default batch size;regret against the oracle;"
                    "chosen (last try),oracle",
                    "cumulative cost (kWh)|cumulative regret (kWh)|batch size|recurrence",
                    NULL};
    int rc = zt_run(argv, &out, &err, 30);
    if (rc != 0)
        fprintf(stderr, "check_chart: %s%s\n", out, err);
    assert_int_equal(rc, 0);
    assert_contains(out, "Zeus (simulated)=40");
    free(out);
    free(err);
#if ZEUS_TEST_CLI_PNG
    char *png = zt_path(zt_dir, "run.png");
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR,
                             "--num-recurrence", "10", "--plot", png, NULL),
                     0);
    free(out);
    free(err);
    char *bytes = zt_read(png);
    assert_non_null(bytes);
    assert_memory_equal(bytes, "\x89PNG\r\n\x1a\n", 8);
    free(bytes);
    free(png);
#endif
    assert_int_equal(zt_zeus(&out, &err, "simulate", "single", "--trace-dir", TRACE_DIR, "--plot",
                             "run.gif", NULL),
                     2);
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "simulate", "alibaba", "--trace-dir", TRACE_DIR,
                             "--groups", "g.csv", "--plot", svg, NULL),
                     2);
    assert_contains(err, "--plot draws a single job's run");
    free(out);
    free(err);
    free(svg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_golden_csv),
        cmocka_unit_test(test_single_other_gpu_and_env),
        cmocka_unit_test(test_single_default_traces),
        cmocka_unit_test(test_alibaba),
        cmocka_unit_test(test_alibaba_gives_up),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_single_no_oracle),
        cmocka_unit_test(test_single_plot),
        cmocka_unit_test(test_single_gives_up_writes_csv),
        cmocka_unit_test(test_single_large_seed),
    };
    return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
