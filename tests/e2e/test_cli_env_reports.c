/* What the commands report about the environment when GPUs cannot be used (issue 9, item 11):
 * CUDA_VISIBLE_DEVICES as set without NVML, and NVML's NO_PERMISSION named as a permission
 * problem rather than "no GPU". */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

static void test_cvd_shown_without_nvml(void **state)
{
    (void)state;
    setenv("ZEUS_DEVICE", "none", 1);
    setenv("CUDA_VISIBLE_DEVICES", "1,0", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "CUDA_VISIBLE_DEVICES: \"1,0\"");
    assert_null(strstr(out, "unset"));
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "show-env", "--json", NULL), 0);
    assert_contains(out, "\"1,0\"");
    free(out);
    free(err);
    /* NVML that fails to initialise: the same. */
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [], \"init_error\": \"DRIVER_NOT_LOADED\"}");
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "CUDA_VISIBLE_DEVICES: \"1,0\"");
    free(out);
    free(err);
}

static void test_nvml_no_permission_says_permission(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{}], \"init_error\": \"NO_PERMISSION\"}");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", NULL), 3);
    assert_contains(err, "no permission to use the GPUs");
    assert_contains(err, "NVML_ERROR_NO_PERMISSION");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--duration", "0.1", NULL), 3);
    assert_contains(err, "no permission to use the GPUs");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "no permission to use the GPUs");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cvd_shown_without_nvml, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_nvml_no_permission_says_permission, zt_setup,
                                        zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
