/* Every --gpu-indices/--cpu-indices goes through zeus_parse_index_list: no wrap-around, an empty
 * list is an error everywhere, duplicates and a repeated option are refused, and nothing is
 * changed when the list is bad (issue 9, item 7). Run as real processes over the fake NVML. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *log_path;

static void use_fake(void)
{
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 2}]}");
    free(log_path);
    log_path = zt_path(zt_dir, "nvml.log");
    unlink(log_path);
    setenv("ZEUS_FAKE_NVML_LOG", log_path, 1);
}

/* Runs zeus with the arguments, expects usage error 2 with `needle` in stderr and no NVML
 * change. */
#define EXPECT_USAGE(needle, ...)                                                                  \
    do {                                                                                           \
        char *out_, *err_;                                                                         \
        assert_int_equal(zt_zeus(&out_, &err_, __VA_ARGS__, NULL), 2);                             \
        assert_contains(err_, needle);                                                             \
        free(out_);                                                                                \
        free(err_);                                                                                \
        char *log_ = zt_read(log_path);                                                            \
        assert_true(log_ == NULL || *log_ == '\0');                                                \
        free(log_);                                                                                \
    } while (0)

static void test_no_wraparound(void **state)
{
    (void)state;
    use_fake();
    /* 4294967297 = 2^32 + 1 used to select GPU 1 and change it. */
    EXPECT_USAGE("above", "power-limit", "set", "200", "--gpu-indices", "4294967297");
    EXPECT_USAGE("above", "power-limit", "set", "200", "--gpu-indices", "0,18446744073709551617");
    EXPECT_USAGE("above", "monitor", "power", "--gpu-indices", "4294967296", "--duration", "0.1");
    EXPECT_USAGE("above", "monitor", "energy", "--cpu-indices", "99999999999", "--", "true");
}

static void test_empty_list_is_an_error_everywhere(void **state)
{
    (void)state;
    use_fake();
    /* "" used to mean every GPU for power-limit and none for monitor. */
    EXPECT_USAGE("empty index list", "power-limit", "set", "200", "--gpu-indices", "");
    EXPECT_USAGE("empty index list", "power-limit", "get", "--gpu-indices", "");
    EXPECT_USAGE("empty index list", "monitor", "energy", "--gpu-indices", "", "--", "true");
    EXPECT_USAGE("empty index list", "monitor", "power", "--gpu-indices", "", "--duration", "0.1");
    EXPECT_USAGE("not a list of indices", "power-limit", "set", "200", "--gpu-indices", "0,");
    EXPECT_USAGE("not a list of indices", "power-limit", "set", "200", "--gpu-indices", "0,,1");
    EXPECT_USAGE("not a list of indices", "power-limit", "set", "200", "--gpu-indices", "-1");
    EXPECT_USAGE("not a list of indices", "power-limit", "set", "200", "--gpu-indices", " 1");
}

static void test_duplicates_and_repeats_refused(void **state)
{
    (void)state;
    use_fake();
    EXPECT_USAGE("listed twice", "power-limit", "set", "200", "--gpu-indices", "1,1");
    EXPECT_USAGE("listed twice", "power-limit", "set", "200", "--gpu-indices", "1", "0,1");
    /* A repeated option used to keep the last list silently. */
    EXPECT_USAGE("--gpu-indices given twice", "power-limit", "set", "200", "--gpu-indices", "0",
                 "--json", "--gpu-indices", "1");
    EXPECT_USAGE("--gpu-indices given twice", "monitor", "energy", "--gpu-indices", "0",
                 "--gpu-indices", "1", "--", "true");
    EXPECT_USAGE("--cpu-indices given twice", "monitor", "power", "--cpu-indices", "0",
                 "--cpu-indices", "0", "--duration", "0.1");
}

static void test_good_lists_still_work(void **state)
{
    (void)state;
    use_fake();
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", "--gpu-indices", "1", "0", NULL), 0);
    const char *row1 = "\n1    1      0000:02:00.0  NVIDIA A40", *row0 = "\n0    0      0000:01";
    assert_non_null(strstr(out, row1));
    assert_non_null(strstr(out, row0));
    assert_true(strstr(out, row1) < strstr(out, row0)); /* given order */
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", "--gpu-indices", "0,1", NULL), 0);
    free(out);
    free(err);
    /* In range for the parser, out of range for the machine: exit 3 as before. */
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", "--gpu-indices", "7", NULL), 3);
    assert_contains(err, "GPU 7 does not exist");
    free(out);
    free(err);
}

static int teardown(void **state)
{
    free(log_path);
    log_path = NULL;
    return zt_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_wraparound, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_list_is_an_error_everywhere, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_and_repeats_refused, zt_setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_lists_still_work, zt_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
