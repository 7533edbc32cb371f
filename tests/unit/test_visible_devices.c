/* CUDA_VISIBLE_DEVICES parsing and resolution (pure logic). */
#include "test_support.h"

#include "core/internal.h"
#include "device/visible_devices.h"

#include <string.h>

static int parse(const char *text, zeus_cvd_entry *e, size_t *n)
{
    return zeus__cvd_parse(text, e, ZEUS_CVD_MAX, n);
}

static void test_integer_list(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n;
    assert_int_equal(parse("2,3", e, &n), ZEUS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].kind, ZEUS_CVD_INDEX);
    assert_int_equal(e[0].index, 2);
    assert_int_equal(e[1].index, 3);
    unsigned map[4];
    assert_int_equal(zeus__cvd_resolve(e, n, 4, NULL, 0, map), ZEUS_OK);
    assert_int_equal(map[0], 2); /* framework index 0 -> NVML 2 */
    assert_int_equal(map[1], 3);
}

static void test_spaces_are_trimmed(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n;
    assert_int_equal(parse(" 1 , 0", e, &n), ZEUS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].index, 1);
    assert_int_equal(e[1].index, 0);
}

static void test_empty_string_hides_all(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n = 99;
    assert_int_equal(parse("", e, &n), ZEUS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(parse("  ", e, &n), ZEUS_OK);
    assert_int_equal(n, 0);
}

static void test_negative_index_ends_list(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n;
    assert_int_equal(parse("-1", e, &n), ZEUS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(parse("1,-1,0", e, &n), ZEUS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].index, 1);
}

static void test_garbage_names_entry(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n;
    assert_int_equal(parse("0,abc", e, &n), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "entry 2 'abc'");
    assert_int_equal(parse("0,,1", e, &n), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "entry 2 is empty");
    assert_int_equal(parse("1.5", e, &n), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "'1.5'");
    assert_int_equal(parse("GPU-", e, &n), ZEUS_EINVAL);
}

static void test_index_out_of_range_and_duplicates(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n;
    unsigned map[8];
    assert_int_equal(parse("0,7", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 4, NULL, 0, map), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "'7' names device 7, but 4 devices exist");
    assert_int_equal(parse("1,1", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 4, NULL, 0, map), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "same device 1");
}

static const zeus_cvd_device uuids[] = {
    {"GPU-aaaa1111-0000", 0},
    {"GPU-aaaa2222-0000", 1},
    {"GPU-bbbb0000-0000", 2},
    {"MIG-cccc0000-0001", 2},
};

static void test_uuid_and_prefix(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n;
    unsigned map[4];
    assert_int_equal(parse("GPU-bbbb,GPU-aaaa2222-0000", e, &n), ZEUS_OK);
    assert_int_equal(e[0].kind, ZEUS_CVD_GPU_UUID);
    assert_int_equal(zeus__cvd_resolve(e, n, 3, uuids, 4, map), ZEUS_OK);
    assert_int_equal(map[0], 2);
    assert_int_equal(map[1], 1);
    assert_int_equal(parse("GPU-aaaa", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 3, uuids, 4, map), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "matches 2 devices");
    assert_int_equal(parse("GPU-ffff", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 3, uuids, 4, map), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "matches no device");
}

static void test_mig_forms(void **state)
{
    (void)state;
    zeus_cvd_entry e[ZEUS_CVD_MAX];
    size_t n;
    unsigned map[4];
    assert_int_equal(parse("MIG-cccc0000-0001", e, &n), ZEUS_OK);
    assert_int_equal(e[0].kind, ZEUS_CVD_MIG_UUID);
    assert_int_equal(zeus__cvd_resolve(e, n, 3, uuids, 4, map), ZEUS_OK);
    assert_int_equal(map[0], 2); /* a MIG instance is measured through its parent GPU */
    assert_int_equal(parse("MIG-GPU-bbbb0000-0000/1/0", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 3, uuids, 4, map), ZEUS_OK);
    assert_int_equal(map[0], 2);
    /* GPU 0 has no MIG instance: naming one of its instances used to select GPU 0. */
    assert_int_equal(parse("MIG-GPU-aaaa1111-0000/1/0", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 3, uuids, 4, map), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "names a MIG instance of device 0, which has none");
    /* Where the backend knows instance ids, the older name must be one of them. */
    static const zeus_cvd_device with_ids[] = {
        {"GPU-bbbb0000-0000", 0},
        {"MIG-cccc0000-0001", 0},
        {"MIG-GPU-bbbb0000-0000/7/0", 0},
    };
    assert_int_equal(parse("MIG-GPU-bbbb0000-0000/7/0", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 1, with_ids, 3, map), ZEUS_OK);
    assert_int_equal(map[0], 0);
    assert_int_equal(parse("MIG-GPU-bbbb0000-0000/1/0", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 1, with_ids, 3, map), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "names a MIG instance device 0 does not have");
    /* A new-form prefix never matches an older name. */
    assert_int_equal(parse("MIG-G", e, &n), ZEUS_OK);
    assert_int_equal(zeus__cvd_resolve(e, n, 1, with_ids, 3, map), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "matches no device");
    static const char *const malformed[] = {
        "MIG-GPU-bbbb0000-0000",     "MIG-GPU-bbbb0000-0000/1",    "MIG-GPU-bbbb0000-0000/1/",
        "MIG-GPU-bbbb0000-0000/1/x", "MIG-GPU-bbbb0000-0000/-1/0", "MIG-GPU-bbbb0000-0000/1/0/2"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        assert_int_equal(parse(malformed[i], e, &n), ZEUS_OK);
        assert_int_equal(zeus__cvd_resolve(e, n, 3, uuids, 4, map), ZEUS_EINVAL);
        assert_contains(zeus_last_error(), "is not MIG-GPU-<uuid>/<gi>/<ci>");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_list),
        cmocka_unit_test(test_spaces_are_trimmed),
        cmocka_unit_test(test_empty_string_hides_all),
        cmocka_unit_test(test_negative_index_ends_list),
        cmocka_unit_test(test_garbage_names_entry),
        cmocka_unit_test(test_index_out_of_range_and_duplicates),
        cmocka_unit_test(test_uuid_and_prefix),
        cmocka_unit_test(test_mig_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
