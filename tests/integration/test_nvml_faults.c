/* A misbehaving NVML (the fake's "faults"): text without a terminating NUL is not read past its
 * buffer, and an impossible power-limit range is refused with a reason (issue 9, item 13). */
#include "test_support.h"

#include "zeus/device.h"

#include <stdlib.h>
#include <string.h>

static char warnings[4096];

static void collect(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    if (level <= ZEUS_LOG_WARN && strlen(warnings) + strlen(message) + 2 < sizeof warnings) {
        strcat(warnings, message);
        strcat(warnings, "\n");
    }
}

static void test_unterminated_strings(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"faults\": [\"unterminated_strings\"], \"driver_version\": "
                             "\"580.00-sim\", \"gpus\": [{\"name\": \"NVIDIA A100\", \"mig\": "
                             "[\"MIG-1111\"]}]}");
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_gpu_count(d), 1);
    zeus_gpu_info g;
    assert_int_equal(zeus_gpu_get_info(d, 0, &g), ZEUS_OK);
    /* Bounded by the buffer (ASan would report the over-read this used to be). */
    assert_true(strlen(g.name) < sizeof g.name);
    assert_true(strlen(g.uuid) < sizeof g.uuid);
    assert_int_equal(strncmp(g.name, "NVIDIA A100NVIDIA A100", 22), 0);
    zeus_backend_status s;
    zeus_devices_backend(d, 0, &s);
    assert_true(s.available);
    assert_contains(s.reason, "driver 580.00-sim580.00-sim");
    assert_true(strlen(s.reason) < sizeof s.reason);
    zeus_devices_close(d);
}

static void test_inverted_limits_refused(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"faults\": [\"inverted_limits\"], \"gpus\": [{\"name\": \"NVIDIA "
                             "A40\", \"min_power_limit_w\": 100, \"max_power_limit_w\": 300}]}");
    warnings[0] = '\0';
    zeus_set_log_callback(collect, NULL);
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    zeus_set_log_callback(NULL, NULL);
    zeus_gpu_info g;
    assert_int_equal(zeus_gpu_get_info(d, 0, &g), ZEUS_OK);
    assert_false(g.power_limit_valid); /* was shown as "range 300-100 W" */
    assert_contains(warnings, "impossible power-limit range (min 300 W, max 100 W");
    zeus_devices_close(d);
    /* The command refuses to change it, and says why. */
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "200", NULL), 1);
    assert_contains(err, "impossible power-limit range");
    assert_contains(err, "does not report a power-limit range");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unterminated_strings, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_inverted_limits_refused, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
