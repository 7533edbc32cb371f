/* The library's text parsers at their edges (issue 9): trace numbers that cannot be represented
 * or summed, the index-list parser, the power-limit profile reader. */
#include "test_support.h"

#include "core/csv.h"
#include "zeus/power_limit.h"
#include "zeus/simulate.h"
#include "zeus/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRAIN_HEADER                                                                               \
    "dataset,network,batch_size,optimizer,learning_rate,run,target_metric,target_epoch\n"
#define POWER_HEADER                                                                               \
    "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power\n"
#define GOOD_TRAIN TRAIN_HEADER "toy,net,8,sgd,0.1,1,0.5,3\n"
#define GOOD_POWER POWER_HEADER "toy,net,8,sgd,100,10.0,90.0\n"

static int load(const char *train, const char *power)
{
    char *tp = zt_write(zt_dir, "summary_train.csv", train);
    char *pp = zt_write(zt_dir, "summary_power_toy.csv", power);
    zeus_trace *t = NULL;
    int rc = zeus_trace_load(tp, pp, &t);
    zeus_trace_destroy(t);
    free(tp);
    free(pp);
    return rc;
}

static void expect_power_cell(const char *cell, const char *what)
{
    char power[2048];
    snprintf(power, sizeof power, POWER_HEADER "toy,net,8,sgd,100,%s,90.0\n", cell);
    assert_int_equal(load(GOOD_TRAIN, power), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "summary_power_toy.csv:2:");
    assert_contains(zeus_last_error(), "column 'time_per_epoch'");
    assert_contains(zeus_last_error(), what);
}

static void test_trace_numbers_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(load(GOOD_TRAIN, GOOD_POWER), ZEUS_OK);
    /* An exponent that overflowed an int (UBSan abort) or wrapped around (read as 100). */
    expect_power_cell("1e99999999999", "not a finite number");
    expect_power_cell("1e4294967298", "not a finite number");
    expect_power_cell("1e-4294967298", "is not positive"); /* underflows to 0, as pandas */
    expect_power_cell("1e99999999999999999", "not a finite number"); /* 17 exponent digits */
    /* Many mantissa digits push the exponent too. */
    char big[1200] = "1";
    memset(big + 1, '0', 1000);
    expect_power_cell(big, "not a finite number");
    /* Finite, but the simulator's sums would be inf J and nan %. */
    expect_power_cell("1e308", "out of range");
    expect_power_cell("1e16", "out of range");
    expect_power_cell("1e-300", "out of range");
    expect_power_cell("4.9e-324", "out of range");
    /* The edges of the range are fine, and 0 is a number (though not a positive time). */
    char power[256];
    snprintf(power, sizeof power, POWER_HEADER "toy,net,8,sgd,100,1e15,1e-15\n");
    assert_int_equal(load(GOOD_TRAIN, power), ZEUS_OK);
    expect_power_cell("0", "is not positive");
    /* The train file's numbers and the group file's too. */
    assert_int_equal(load(TRAIN_HEADER "toy,net,8,sgd,0.1,1,0.5,1e300\n", GOOD_POWER), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "summary_train.csv:2: column 'target_epoch': '1e300'");
    char *gp = zt_write(zt_dir, "groups.csv",
                        "group,start_time,end_time,dataset,runtime_ratio\n"
                        "g,0,10,cifar100,1\n"
                        "g,0,10,cifar100,1e308\n");
    zeus_groups *g = NULL;
    assert_int_equal(zeus_groups_load(gp, &g), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "groups.csv:3: column 'runtime_ratio': '1e308'");
    free(gp);
}

static void test_trace_nan_is_named(void **state)
{
    (void)state;
    expect_power_cell("nan", "'nan' is NaN");
    expect_power_cell("NULL", "'NULL' is NaN");
    expect_power_cell("", "is empty");
    assert_int_equal(load(TRAIN_HEADER "toy,net,8,sgd,0.1,1,NaN,3\n", GOOD_POWER), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "column 'target_metric': 'NaN' is NaN");
}

static void test_index_list(void **state)
{
    (void)state;
    unsigned out[4];
    size_t n = 0;
    assert_int_equal(zeus_parse_index_list("3,0", out, 4, &n), ZEUS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 0);
    assert_int_equal(zeus_parse_index_list("1", out, 4, &n), ZEUS_OK); /* appends */
    assert_int_equal(n, 3);
    assert_int_equal(out[2], 1);
    /* Duplicates, also against what came before; n does not move on errors. */
    assert_int_equal(zeus_parse_index_list("2,2", out, 4, &n), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "index 2 listed twice");
    assert_int_equal(zeus_parse_index_list("3", out, 4, &n), ZEUS_EINVAL);
    assert_int_equal(n, 3);
    assert_int_equal(zeus_parse_index_list("5,6", out, 4, &n), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "more than 4 indices");
    assert_int_equal(n, 3);
    n = 0;
    static const char *const bad[] = {"",   ",",  "0,",  ",0",  "0,,1", "-1", "+1",
                                      " 1", "1 ", "1;2", "0x1", "1.0",  "a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(zeus_parse_index_list(bad[i], out, 4, &n), ZEUS_EPARSE);
        assert_int_equal(n, 0);
    }
    assert_contains((zeus_parse_index_list("", out, 4, &n), zeus_last_error()), "empty");
    /* No wrap-around, however many digits. */
    static const char *const huge[] = {"65536", "4294967296", "4294967297", "18446744073709551617",
                                       "999999999999999999999999999"};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++)
        assert_int_equal(zeus_parse_index_list(huge[i], out, 4, &n), ZEUS_ERANGE);
    assert_int_equal(zeus_parse_index_list("65535,00", out, 4, &n), ZEUS_OK);
    assert_int_equal(out[0], 65535);
    assert_int_equal(out[1], 0);
    assert_int_equal(zeus_parse_index_list(NULL, out, 4, &n), ZEUS_EINVAL);
}

#define ONE "{\"power_limit\": 300, \"energy\": 10, \"time\": 2}"

static void expect_profile_error(const char *text, const char *needle)
{
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_parse(text, "p.json", &p), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "p.json");
    assert_contains(zeus_last_error(), needle);
    assert_null(p.measurements);
}

static void test_profile_reader_as_json_load(void **state)
{
    (void)state;
    /* json.load refuses trailing garbage and a BOM; white space after the object is fine. */
    expect_profile_error("{\"measurements\": [" ONE "]} x", "not valid JSON");
    expect_profile_error("{\"measurements\": [" ONE "]}{}", "not valid JSON");
    expect_profile_error("\xEF\xBB\xBF{\"measurements\": [" ONE "]}", "byte order mark");
    expect_profile_error("{\"measurements\": [" ONE "], \"gpu_model\": \"A\xff\"}", "not UTF-8");
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_parse("{\"measurements\": [" ONE "]} \n\t ", "p", &p),
                     ZEUS_OK);
    zeus_power_limit_profile_free(&p);
    /* Duplicate keys: the last one counts, at every level. */
    assert_int_equal(zeus_power_limit_profile_parse(
                         "{\"measurements\": [], \"measurements\": [{\"power_limit\": 100, "
                         "\"energy\": 1, \"time\": 1, \"power_limit\": 250}], \"gpu_model\": "
                         "\"A\", \"gpu_model\": \"B\"}",
                         "p", &p),
                     ZEUS_OK);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.measurements[0].power_limit_w, 250);
    assert_string_equal(p.gpu_model, "B");
    zeus_power_limit_profile_free(&p);
    /* NaN is named as NaN, a huge limit as out of range (not "a whole number"). */
    expect_profile_error("{\"measurements\": [{\"power_limit\": 300, \"energy\": \"nan\", "
                         "\"time\": 2}]}",
                         "energy must be a positive number (it is nan)");
    expect_profile_error("{\"measurements\": [{\"power_limit\": 300, \"energy\": 1, "
                         "\"time\": \"inf\"}]}",
                         "time must be a finite number (it is inf)");
    expect_profile_error("{\"measurements\": [{\"power_limit\": 1e300, \"energy\": 1, "
                         "\"time\": 2}]}",
                         "power_limit 1e+300 W is out of range");
    expect_profile_error("{\"measurements\": [{\"power_limit\": 250.5, \"energy\": 1, "
                         "\"time\": 2}]}",
                         "whole number of watts");
}

/* A GPU model outside ASCII is written as json.dumps writes it and reads back the same. */
static void test_profile_non_ascii_round_trip(void **state)
{
    (void)state;
    zeus_power_limit_measurement m[] = {{300, 10.0, 2.0}};
    const char *model = "A\xc3\xa9\xf0\x9f\x98\x80\x7f\"\\";
    char *text = NULL;
    assert_int_equal(zeus_power_limit_profile_format(m, 1, model, &text), ZEUS_OK);
    assert_contains(text, "\"gpu_model\": \"A\\u00e9\\ud83d\\ude00\\u007f\\\"\\\\\"");
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_parse(text, "p", &p), ZEUS_OK);
    assert_string_equal(p.gpu_model, model);
    zeus_power_limit_profile_free(&p);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trace_numbers_out_of_range, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_trace_nan_is_named, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_index_list, zt_setup, zt_teardown),
        cmocka_unit_test(test_profile_reader_as_json_load),
        cmocka_unit_test(test_profile_non_ascii_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
