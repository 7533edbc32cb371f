/* Trace and group-trace loading: every kind of bad input gets a clear error naming the file
 * (and line); the CSV dialect pandas accepts is accepted; numbers are read the way pandas reads
 * them; and a crafted trace drives the simulator into its 20-tries error. */
#include "test_support.h"

#include "core/csv.h"
#include "simulate/sim_internal.h"
#include "zeus/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRAIN_HEADER                                                                               \
    "dataset,network,batch_size,optimizer,learning_rate,run,target_metric,target_epoch\n"
#define POWER_HEADER                                                                               \
    "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power\n"
#define GOOD_TRAIN                                                                                 \
    TRAIN_HEADER "toy,net,8,sgd,0.1,1,0.5,3\n"                                                     \
                 "toy,net,8,sgd,0.1,2,0.5,nan\n"                                                   \
                 "toy,net,16,sgd,0.1,1,0.5,2\n"
#define GOOD_POWER                                                                                 \
    POWER_HEADER "toy,net,8,sgd,100,10.0,90.0\n"                                                   \
                 "toy,net,8,sgd,200,8.0,150.0\n"                                                   \
                 "toy,net,16,sgd,100,6.0,95.0\n"

/* Writes the two files, loads them, and returns the status; *msg gets the error detail. */
static int load(const char *train, const char *power, zeus_trace **trace)
{
    char *tp = zt_write(zt_dir, "summary_train.csv", train);
    char *pp = zt_write(zt_dir, "summary_power_toy.csv", power);
    zeus_trace *t = NULL;
    int rc = zeus_trace_load(tp, pp, &t);
    free(tp);
    free(pp);
    if (trace)
        *trace = t;
    else
        zeus_trace_destroy(t);
    return rc;
}

static void expect_error(const char *train, const char *power, int code, const char *where,
                         const char *what)
{
    assert_int_equal(load(train, power, NULL), code);
    assert_contains(zeus_last_error(), where);
    assert_contains(zeus_last_error(), what);
}

static void test_missing_and_empty_files(void **state)
{
    (void)state;
    zeus_trace *t;
    assert_int_not_equal(
        zeus_trace_load("/nonexistent/summary_train.csv", "/nonexistent/p.csv", &t), ZEUS_OK);
    assert_contains(zeus_last_error(), "/nonexistent/summary_train.csv");
    assert_int_not_equal(zeus_trace_load_dir("/nonexistent", "v100", &t), ZEUS_OK);
    expect_error("", GOOD_POWER, ZEUS_EPARSE, "summary_train.csv", "empty file");
    expect_error("\n\n", GOOD_POWER, ZEUS_EPARSE, "summary_train.csv", "empty file");
    expect_error(TRAIN_HEADER, GOOD_POWER, ZEUS_EPARSE, "summary_train.csv", "no data rows");
    expect_error(GOOD_TRAIN, POWER_HEADER, ZEUS_EPARSE, "summary_power_toy.csv", "no data rows");
}

static void test_missing_columns(void **state)
{
    (void)state;
    expect_error("dataset,network,batch_size,optimizer,target_metric\ntoy,net,8,sgd,0.5\n",
                 GOOD_POWER, ZEUS_EPARSE, "summary_train.csv", "missing column 'target_epoch'");
    expect_error("dataset,network,optimizer,target_metric,target_epoch\ntoy,net,sgd,0.5,3\n",
                 GOOD_POWER, ZEUS_EPARSE, "summary_train.csv", "missing column 'batch_size'");
    expect_error(GOOD_TRAIN,
                 "dataset,network,batch_size,optimizer,power_limit,time_per_epoch\n"
                 "toy,net,8,sgd,100,10.0\n",
                 ZEUS_EPARSE, "summary_power_toy.csv", "missing column 'average_power'");
    /* A column both files have would silently become a join key in the original. */
    expect_error(
        GOOD_TRAIN,
        "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power,run\n"
        "toy,net,8,sgd,100,10.0,90.0,1\n",
        ZEUS_EPARSE, "summary_power_toy.csv", "column 'run' also appears in");
}

static void test_bad_cells(void **state)
{
    (void)state;
    expect_error(TRAIN_HEADER "toy,net,8,sgd,0.1,1,0.5,3\ntoy,net,8,sgd,0.1,1,abc,3\n", GOOD_POWER,
                 ZEUS_EPARSE,
                 "summary_train.csv:3:", "column 'target_metric': 'abc' is not a finite number");
    expect_error(TRAIN_HEADER "toy,net,12.5,sgd,0.1,1,0.5,3\n", GOOD_POWER, ZEUS_EPARSE,
                 "summary_train.csv:2:", "column 'batch_size': '12.5' is not an integer");
    expect_error(TRAIN_HEADER "toy,net,8,sgd,0.1,1,0.5\n", GOOD_POWER, ZEUS_EPARSE,
                 "summary_train.csv:2:", "expected 8 fields, found 7");
    expect_error(TRAIN_HEADER "toy,net,8,sgd,0.1,1,0.5,0\n", GOOD_POWER, ZEUS_EPARSE,
                 "summary_train.csv:2:", "not a positive epoch count");
    expect_error(TRAIN_HEADER "toy,net,8,sgd,0.1,1,,3\n", GOOD_POWER, ZEUS_EPARSE,
                 "summary_train.csv:2:", "column 'target_metric' is empty");
    expect_error(TRAIN_HEADER "toy,,8,sgd,0.1,1,0.5,3\n", GOOD_POWER, ZEUS_EPARSE,
                 "summary_train.csv:2:", "column 'network' is empty");
    expect_error(GOOD_TRAIN, POWER_HEADER "toy,net,8,sgd,100,10.0,\n", ZEUS_EPARSE,
                 "summary_power_toy.csv:2:", "column 'average_power' is empty");
    expect_error(GOOD_TRAIN, POWER_HEADER "toy,net,8,sgd,100,inf,90\n", ZEUS_EPARSE,
                 "summary_power_toy.csv:2:", "'inf' is not a finite number");
    expect_error(GOOD_TRAIN, POWER_HEADER "toy,net,8,sgd,100,-1.5,90\n", ZEUS_EPARSE,
                 "summary_power_toy.csv:2:", "'time_per_epoch' is not positive");
    expect_error(GOOD_TRAIN, POWER_HEADER "toy,net,8,sgd,100W,10,90\n", ZEUS_EPARSE,
                 "summary_power_toy.csv:2:", "column 'power_limit': '100W' is not an integer");
    expect_error(GOOD_TRAIN, POWER_HEADER "\"toy,net,8,sgd,100,10,90\n", ZEUS_EPARSE,
                 "summary_power_toy.csv:2:", "unterminated quoted field");
    expect_error(GOOD_TRAIN, POWER_HEADER "\"toy\"x,net,8,sgd,100,10,90\n", ZEUS_EPARSE,
                 "summary_power_toy.csv:2:", "text after a closing quote");
    /* Line numbers count blank lines and quoted newlines. */
    expect_error(TRAIN_HEADER "\n\"to\ny\",net,8,sgd,0.1,1,0.5,3\ntoy,net,8,sgd,0.1,1,0.5,x\n",
                 GOOD_POWER, ZEUS_EPARSE, "summary_train.csv:5:", "'x' is not a finite number");
}

static void test_empty_join(void **state)
{
    (void)state;
    expect_error(GOOD_TRAIN, POWER_HEADER "toy,net,32,sgd,100,10.0,90.0\n", ZEUS_EPARSE,
                 "summary_train.csv and", "the join is empty");
    expect_error(GOOD_TRAIN, POWER_HEADER "toy,net,8,adam,100,10.0,90.0\n", ZEUS_EPARSE,
                 "summary_power_toy.csv have no rows in common", "the join is empty");
}

static void test_dialect_and_index(void **state)
{
    (void)state;
    /* BOM, CRLF, quoted fields, blank lines, NA spellings for a target never reached. */
    zeus_trace *t;
    assert_int_equal(load("\xEF\xBB\xBF" TRAIN_HEADER "\"toy\",net,8,sgd,0.1,1,0.5,3\r\n"
                          "\r\n"
                          "toy,\"net\",8,sgd,0.1,2,0.5,\r\n"
                          "toy,net,8,sgd,0.1,3,0.5,NaN\r\n"
                          "toy,net,16,sgd,0.1,1,0.5,2\r\n"
                          "toy,net,16,sgd,0.1,1,0.75,4\r\n",
                          GOOD_POWER "toy,net,8,sgd,150,9.216666666666667,120.0\n"
                                     "other,net,64,sgd,150,1.0,1.0\n",
                          &t),
                     ZEUS_OK);
    assert_int_equal(zeus_trace_rows(t), 3 * 3 + 1 * 1 + 1 * 1);
    assert_int_equal(zeus_trace_max_power(t), 200);
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "toy", "net", "sgd", 0.5, 5, 8, NAN), ZEUS_OK);
    const zeus_job_table *table;
    assert_int_equal(zeus__trace_find_job(t, &job, &table), ZEUS_OK);
    assert_int_equal(table->n_cells, 2);
    assert_int_equal(table->n_pls, 3);
    const zeus_cell *cell = zeus__table_cell(table, 8);
    assert_int_equal(cell->n_runs, 3);
    assert_true(cell->target_epochs[0] == 3);
    assert_true(isnan(cell->target_epochs[1]) && isnan(cell->target_epochs[2]));
    assert_int_equal(cell->n_power, 3);
    assert_int_equal(cell->max_pl, 200);
    /* pandas reads 9.216666666666667 as 9.216666666666669 (strtod: ...667). */
    const zeus_pl_group *g = zeus__cell_group(cell, 150);
    assert_true(cell->power[g->rows[0]].tpe == 9.216666666666669);
    size_t nb, np;
    assert_int_equal(zeus_trace_job_space(t, &job, &nb, &np), ZEUS_OK);
    assert_int_equal(nb, 2);
    assert_int_equal(np, 3);
    int bmax;
    assert_int_equal(zeus_trace_max_batch_size(t, "other", &bmax), ZEUS_OK);
    assert_int_equal(bmax, 64);
    /* The expected run and the oracle. */
    zeus_sim_choice e, oracle, deflt;
    assert_int_equal(zeus_trace_expected_run(t, &job, 8, 100, 0.5, &e), ZEUS_OK);
    assert_true(e.reach_rate == 1.0 / 3.0);
    assert_true(e.time_s == (10.0 * 3 + 10.0 * 5 + 10.0 * 5) / 3);
    assert_int_equal(zeus_trace_oracle(t, &job, 0.5, &oracle, &deflt), ZEUS_OK);
    assert_int_equal(oracle.batch_size, 16);
    assert_int_equal(oracle.power_limit, 100);
    assert_int_equal(deflt.batch_size, 8);
    assert_int_equal(deflt.power_limit, 200);
    zeus_trace_destroy(t);
}

static void test_pandas_numbers(void **state)
{
    (void)state;
    /* Values pandas 1.5.3 read_csv gives (default float_precision). */
    static const struct {
        const char *text;
        double value;
    } cases[] = {
        {"9.216666666666667", 9.216666666666669},
        {"0.1", 0.1},
        {"1e-1", 0.1},
        {"1.06e-04", 0.000106},
        {"123456789012345678901", 1.2345678901234568e+20},
        {"0.000000000000000000001234", 0.0},
        {"1.7976931348623157e308", 1.7976931348623157e+308},
        {"+3.5", 3.5},
        {"-0.5", -0.5},
        {"1.5E+3", 1500.0},
        {"27.130000000000003", 27.130000000000003},
        {"2.3567920625646557", 2.356792062564656},
        {"0.037843313478809995", 0.0378433134788099},
        {"4.9e-324", 5e-324},
        {"1e-320", 1e-320},
        {" 7.25 ", 7.25},
    };
    char text[1024] = "x\n";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strcat(text, cases[i].text);
        strcat(text, "\n");
    }
    strcat(text, "NA\n1e\n");
    char *path = zt_write(zt_dir, "numbers.csv", text);
    zeus_csv csv;
    assert_int_equal(zeus__csv_open(&csv, path), ZEUS_OK);
    bool eof, missing;
    double v;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(zeus__csv_next(&csv, &eof), ZEUS_OK);
        assert_int_equal(zeus__csv_double(&csv, 0, &v, &missing), ZEUS_OK);
        if (v != cases[i].value)
            fail_msg("'%s' read as %.17g, pandas gives %.17g", cases[i].text, v, cases[i].value);
        assert_false(missing);
    }
    assert_int_equal(zeus__csv_next(&csv, &eof), ZEUS_OK);
    assert_int_equal(zeus__csv_double(&csv, 0, &v, &missing), ZEUS_OK);
    assert_true(missing && isnan(v));
    assert_int_equal(zeus__csv_next(&csv, &eof), ZEUS_OK);
    assert_int_equal(zeus__csv_double(&csv, 0, &v, &missing), ZEUS_EPARSE);
    assert_int_equal(zeus__csv_next(&csv, &eof), ZEUS_OK);
    assert_true(eof);
    zeus__csv_close(&csv);
    free(path);
}

static void test_twenty_tries(void **state)
{
    (void)state;
    /* One batch size, two runs that reach the target in one epoch and eighteen that never do.
     * With seed 34 the first two picks are the good runs (so pruning keeps 8), and a later
     * recurrence draws twenty bad runs in a row; the original raises the same error. */
    char train[4096];
    size_t o = (size_t)snprintf(train, sizeof train, "%s", TRAIN_HEADER);
    for (int r = 0; r < 20; r++)
        o += (size_t)snprintf(train + o, sizeof train - o, "toy,net,8,sgd,0.1,%d,0.5,%s\n", r + 1,
                              r < 2 ? "1" : "nan");
    zeus_trace *t;
    assert_int_equal(load(train,
                          POWER_HEADER "toy,net,8,sgd,100,10.0,90.0\n"
                                       "toy,net,8,sgd,200,8.0,150.0\n",
                          &t),
                     ZEUS_OK);
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "toy", "net", "sgd", 0.5, 5, 8, NAN), ZEUS_OK);
    zeus_sim_params p;
    zeus_sim_params_default(&p);
    p.seed = p.bso.seed = 34;
    zeus_sim_history h = {0};
    assert_int_equal(zeus_simulate_one_job(t, &job, 10, &p, &h), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "Job did not reach the target metric in 20 tries.");
    assert_true(h.n >= 20);
    for (size_t i = h.n - 20; i < h.n; i++) {
        assert_false(h.runs[i].reached);
        assert_int_equal(h.runs[i].try_index, (int)(i - (h.n - 20)) + 1);
    }
    zeus_sim_history_free(&h);
    zeus_trace_destroy(t);
}

/* ---- group traces
 * -------------------------------------------------------------------------------- */

#define GROUP_HEADER "group,start_time,end_time,dataset,runtime_ratio\n"

static void expect_group_error(const char *text, const char *where, const char *what)
{
    char *path = zt_write(zt_dir, "groups.csv", text);
    zeus_groups *g = NULL;
    assert_int_equal(zeus_groups_load(path, &g), ZEUS_EPARSE);
    assert_null(g);
    assert_contains(zeus_last_error(), where);
    assert_contains(zeus_last_error(), what);
    free(path);
}

static void test_group_errors(void **state)
{
    (void)state;
    expect_group_error("group,start_time,end_time,dataset\nb,0,1,squad\n", "groups.csv",
                       "missing column 'runtime_ratio'");
    expect_group_error(GROUP_HEADER "a,0,1,squad,1.0\na,2,3,mnist,1.0\n",
                       "groups.csv:3:", "unknown dataset 'mnist'");
    expect_group_error(GROUP_HEADER "a,0,1,squad,1.0\nb,0,1,squad,1.0\na,2,3,imagenet,1.0\n",
                       "groups.csv:4:", "group a mixes datasets squad (line 2) and imagenet");
    expect_group_error(GROUP_HEADER "a,5,1,squad,1.0\n",
                       "groups.csv:2:", "end_time is before start_time");
    expect_group_error(GROUP_HEADER "a,0,1,squad,0\n",
                       "groups.csv:2:", "runtime_ratio is not positive");
    expect_group_error(GROUP_HEADER "a,zero,1,squad,1.0\n",
                       "groups.csv:2:", "column 'start_time': 'zero' is not a finite number");
    expect_group_error(GROUP_HEADER "a,0,,squad,1.0\n",
                       "groups.csv:2:", "column 'end_time' is empty");
    expect_group_error(GROUP_HEADER, "groups.csv", "no data rows");
    zeus_groups *g;
    assert_int_not_equal(zeus_groups_load("/nonexistent/groups.csv", &g), ZEUS_OK);
    assert_contains(zeus_last_error(), "/nonexistent/groups.csv");
}

static void test_groups_sorted(void **state)
{
    (void)state;
    char *path = zt_write(zt_dir, "groups.csv",
                          GROUP_HEADER "b,10,20,squad,1.5\r\n"
                                       "a,0,100,imagenet,0.5\r\n"
                                       "b,5,8,squad,2.0\r\n");
    zeus_groups *groups;
    assert_int_equal(zeus_groups_load(path, &groups), ZEUS_OK);
    assert_int_equal(zeus_groups_count(groups), 2);
    zeus_group g;
    zeus_groups_get(groups, 0, &g);
    assert_string_equal(g.id, "a");
    assert_string_equal(g.dataset, "imagenet");
    assert_int_equal(g.n_rows, 1);
    zeus_groups_get(groups, 1, &g);
    assert_string_equal(g.id, "b");
    assert_int_equal(g.n_rows, 2);
    assert_true(g.rows[0].start_time == 10 && g.rows[1].runtime_ratio == 2.0); /* file order */
    zeus_groups_destroy(groups);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_and_empty_files),
        cmocka_unit_test(test_missing_columns),
        cmocka_unit_test(test_bad_cells),
        cmocka_unit_test(test_empty_join),
        cmocka_unit_test(test_dialect_and_index),
        cmocka_unit_test(test_pandas_numbers),
        cmocka_unit_test(test_twenty_tries),
        cmocka_unit_test(test_group_errors),
        cmocka_unit_test(test_groups_sorted),
    };
    return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
