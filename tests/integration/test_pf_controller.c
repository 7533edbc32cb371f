/* The pipeline frequency controller (zeus_pf_controller_*) on the fake NVML: the start-up the
 * original's FrequencyController does (default power limit, memory clock locked at its highest,
 * SM clock at its highest), queued frequencies applied in order with repeats and 0 skipped, and
 * the clocks unlocked when it stops. */
#include "test_support.h"

#include "zeus/lease.h"
#include "zeus/pipeline_frequency.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_controller_applies_deduplicated_frequencies(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    char *log = zt_path(zt_dir, "nvml.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1);
    zeus_devices *d = NULL;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 0, 200000), ZEUS_OK);
    zeus_pf_controller *c = NULL;
    assert_int_equal(zeus_pf_controller_start(d, 0, &c), ZEUS_OK);
    unsigned fmax, cur;
    unsigned long locks;
    zeus_pf_controller_state(c, &fmax, &cur, &locks);
    assert_int_equal(fmax, 1740);
    assert_int_equal(cur, 1740);
    static const unsigned plan[] = {1740, 1410, 1410, 0, 1200, 1200, 900, 1740};
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++)
        assert_int_equal(zeus_pf_controller_set_frequency(c, plan[i]), ZEUS_OK);
    for (int i = 0; i < 200; i++) { /* the thread applies them on its own */
        zeus_pf_controller_state(c, NULL, &cur, &locks);
        if (locks == 5)
            break;
        usleep(10000);
    }
    assert_int_equal(locks, 5); /* 1740 at start, then 1410, 1200, 900, 1740 */
    unsigned limit;
    assert_int_equal(zeus_gpu_power_limit_mw(d, 0, &limit), ZEUS_OK);
    assert_int_equal(limit, 300000); /* back to the default while it runs */
    zeus_pf_controller_stop(c);
    assert_int_equal(zeus_gpu_power_limit_mw(d, 0, &limit), ZEUS_OK);
    assert_int_equal(limit, 200000); /* the lease put the limit back */
    char *text = zt_read(log);
    assert_non_null(text);
    const char *want[] = {
        "nvmlDeviceSetMemoryLockedClocks 0 1593", "nvmlDeviceSetGpuLockedClocks 0 1740",
        "nvmlDeviceSetGpuLockedClocks 0 1410",    "nvmlDeviceSetGpuLockedClocks 0 1200",
        "nvmlDeviceSetGpuLockedClocks 0 900",     "nvmlDeviceSetGpuLockedClocks 0 1740",
        "nvmlDeviceResetGpuLockedClocks 0",       "nvmlDeviceResetMemoryLockedClocks 0"};
    const char *p = text;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(p, want[i]);
        if (!hit)
            fail_msg("missing '%s' (in order) in:\n%s", want[i], text);
        p = hit + strlen(want[i]);
    }
    free(text);
    assert_int_equal(zeus_pf_controller_set_frequency(NULL, 1), ZEUS_EINVAL);
    zeus_pf_controller_wait(NULL); /* a no-op */
    zeus_devices_close(d);
    unsetenv("ZEUS_FAKE_NVML_LOG");
    free(log);
}

/* zeus_pf_controller_wait returns only once the queued clock is locked: the next kernel runs
 * at it (PipelineFrequencyOptimizer's wait_for_frequency). */
static void test_wait_returns_with_the_clock_locked(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    zeus_devices *d = NULL;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    zeus_pf_controller *c = NULL;
    assert_int_equal(zeus_pf_controller_start(d, 0, &c), ZEUS_OK);
    static const unsigned plan[] = {1410, 1200, 1200, 900, 1740, 1005};
    unsigned long before, after;
    zeus_pf_controller_state(c, NULL, NULL, &before);
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        assert_int_equal(zeus_pf_controller_set_frequency(c, plan[i]), ZEUS_OK);
        zeus_pf_controller_wait(c);
        unsigned cur;
        zeus_pf_controller_state(c, NULL, &cur, NULL);
        assert_int_equal(cur, plan[i]); /* no polling: it is locked when wait returns */
    }
    zeus_pf_controller_wait(c); /* nothing queued: returns at once */
    zeus_pf_controller_state(c, NULL, NULL, &after);
    assert_int_equal(after - before, 5); /* the repeated 1200 was skipped */
    zeus_pf_controller_stop(c);
    zeus_devices_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_controller_applies_deduplicated_frequencies, zt_setup,
                                        zt_teardown),
        cmocka_unit_test_setup_teardown(test_wait_returns_with_the_clock_locked, zt_setup,
                                        zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
