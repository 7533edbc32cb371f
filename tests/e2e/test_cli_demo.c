/* `zeus demo` run as a real process: the README's first command. It profiles every limit on
 * simulated GPUs, settles, and compares the remaining steps with the maximum limit.
 * In the vendor matrix (tests/CMakeLists.txt): every run here is on a machine whose own GPUs are
 * the vendor's fake library (the fake NVML, or the fake libamd_smi in "test_cli_demo[amd]"),
 * found by the zeus child's auto detection as a user's GPUs would be; the demo names them and
 * never touches them. */
#include "test_support.h"

#include "zeus/power_limit.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two GPUs of the vendor's fake library as the machine's own (auto detection, as on a user's
 * machine: the demo refuses a named real backend); set calls are logged to calls.log. */
static int machine_setup(void **state)
{
    zt_setup(state);
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"count\": 2}]}");
    zt_options.backend = NULL;
    if (zt_vendor_amd()) {
        /* an AMD machine: no NVML library, even where the test machine has one */
        char *none = zt_path(zt_dir, "no-nvml/libnvidia-ml.so.1");
        zt_options.nvml_library = zt_keep(none);
        free(none);
    }
    char *log = zt_path(zt_dir, "calls.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1);
    free(log);
    return 0;
}

static const char *machine_backend(void)
{
    return zt_vendor_amd() ? "amdsmi" : "nvml";
}

static double number(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_non_null(v);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

/* The full default run (JSON), saving the profile; then a second run loads it and does not
 * profile again. */
static void test_default_run_and_profile_reuse(void **state)
{
    (void)state;
    char *profile = zt_path(zt_dir, "demo/profile.json");
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "demo", "--json", "--profile", profile, NULL), 0);
    assert_contains(err, "profiling power limits");
    assert_contains(err, "profiled  100 W (9/9)");
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "simulated")));
    assert_int_equal((int)number(root, "gpus"), 1);
    assert_int_equal((int)number(root, "steps"), 600);
    const cJSON *prof = cJSON_GetObjectItemCaseSensitive(root, "profile");
    assert_int_equal(cJSON_GetArraySize(prof), 9);
    zeus_power_limit_measurement m[9];
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, prof)
    {
        m[i] = (zeus_power_limit_measurement){(unsigned)number(it, "power_limit_w"),
                                              number(it, "energy_j"), number(it, "time_s")};
        assert_int_equal(m[i].power_limit_w, 300 - 25 * i);
        assert_true(m[i].energy_j > 0 && m[i].time_s > 0);
        i++;
    }
    /* The chosen limit is what the demo's default selector picks from the printed profile. */
    zeus_optimum_selector s;
    assert_int_equal(zeus_selector_zeus_cost(0.5, 1, &s), ZEUS_OK);
    unsigned want;
    assert_int_equal(zeus_selector_select(&s, m, 9, &want), ZEUS_OK);
    assert_int_equal((unsigned)number(root, "optimal_power_limit_w"), want);
    /* 1 wait step + 9 x 50: settles at step 452, 149 steps remain. */
    assert_int_equal((int)number(root, "settled_at_step"), 452);
    assert_int_equal((int)number(root, "remaining_steps"), 149);
    /* Lower limits on these simulated GPUs spend less energy and more time. The comparison is
     * timed by the wall clock of sleeping simulated steps: on a loaded machine their overshoot
     * can hide a slowdown of a few per cent (seen once), so the time is only checked not to be
     * clearly faster; the model's slowdown itself is unit-tested (unit/test_device_math). */
    if (want < 300) {
        assert_true(number(root, "energy_change_percent") < 0);
        assert_true(number(root, "time_change_percent") > -5);
    }
    assert_true(number(root, "wall_time_s") < 60);
    cJSON_Delete(root);
    free(out);
    free(err);

    /* The profile is the original's format; a second run loads it and skips profiling. */
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_read(profile, &p), ZEUS_OK);
    assert_int_equal(p.count, 9);
    zeus_power_limit_profile_free(&p);
    assert_int_equal(zt_zeus(&out, &err, "demo", "--profile", profile, "--steps", "40", NULL), 0);
    assert_true(strstr(err, "profiled") == NULL);
    assert_contains(out, "(from the saved profile)");
    assert_contains(out, "The 40 steps after profiling:");
    free(out);
    free(err);
    free(profile);
}

/* --profiling adaptive: the same default selector settles well before full profiling's step 452,
 * on a limit that is in its (partial) profile; a bad mode is a usage error. */
static void test_adaptive(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "demo", "--json", "--profiling", "adaptive", NULL), 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "profiling")),
                        "adaptive");
    int settled = (int)number(root, "settled_at_step");
    assert_true(settled > 1 && settled * 10 < 452 * 5); /* under half of full profiling */
    unsigned chosen = (unsigned)number(root, "optimal_power_limit_w");
    const cJSON *it;
    bool found = false;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "profile"))
    {
        found |= (unsigned)number(it, "power_limit_w") == chosen;
    }
    assert_true(found);
    cJSON_Delete(root);
    free(out);
    free(err);
    /* --profiling-budget bounds the steps: at most 30 % of full profiling's 450 (+ a window
     * and the wait step). */
    assert_int_equal(zt_zeus(&out, &err, "demo", "--json", "--quiet", "--steps", "200",
                             "--profiling", "adaptive", "--profiling-budget", "0.3", NULL),
                     0);
    root = cJSON_Parse(out);
    assert_non_null(root);
    settled = (int)number(root, "settled_at_step");
    assert_true(settled > 1 && settled <= 135 + 4 + 2);
    cJSON_Delete(root);
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "demo", "--profiling", "fast", NULL), 2);
    assert_contains(err, "--profiling must be full or adaptive, not 'fast'");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "demo", "--profiling-budget", "0", NULL), 2);
    assert_contains(err, "--profiling-budget must be above 0 and at most 1, not '0'");
    free(out);
    free(err);
}

/* Text output with epochs that interrupt profiling, and a run too short to finish it. */
static void test_text_epochs_short(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "demo", "--steps", "150", "--epochs", "3", "--gpus", "2",
                             "--selector", "energy", NULL),
                     0);
    assert_contains(out, "SIMULATED");
    assert_contains(out, "GPUs: 2 x NVIDIA A40 (simulated, 100-300 W)");
    assert_contains(out, "Selector: Energy(); 150 steps in 3 epochs");
    /* 50-step epochs can never hold a limit's 51 steps: more --steps would not help. */
    assert_contains(out, "Profiling can never finish: an epoch has 50 steps but a limit takes 51");
    assert_contains(out, "use fewer --epochs (at most 2 for 150 --steps)");
    assert_contains(err, "the epoch ended during the profiling of 300 W; it is retried");
    free(out);
    free(err);
    /* Long enough epochs but too few steps in all: then more --steps is the advice. */
    assert_int_equal(
        zt_zeus(&out, &err, "demo", "--steps", "120", "--epochs", "2", "--gpus", "1", NULL), 0);
    assert_contains(out, "Profiling did not finish in 120 steps");
    assert_contains(out, "run more --steps");
    free(out);
    free(err);
}

static void test_usage(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "demo", "--help", NULL), 0);
    assert_contains(out, "usage: zeus demo");
    free(out);
    free(err);
    struct {
        const char *a, *b;
        const char *message;
    } bad[] = {
        {"--eta", "1.5", "eta_knob must be between 0 and 1, inclusive both sides."},
        {"--selector", "fastest", "unknown selector 'fastest'"},
        {"--selector", "max-slowdown", NULL}, /* paired with --factor below */
        {"--steps", "0", "--steps must be a positive count"},
        {"--gpus", "99", "--gpus must be between 1 and 16"},
        {"--bogus", NULL, "unknown or incomplete option '--bogus'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!bad[i].message)
            continue;
        assert_int_equal(zt_zeus(&out, &err, "demo", bad[i].a, bad[i].b, NULL), 2);
        assert_contains(err, bad[i].message);
        free(out);
        free(err);
    }
    assert_int_equal(
        zt_zeus(&out, &err, "demo", "--selector", "max-slowdown", "--factor", "0.5", NULL), 2);
    assert_contains(err, "max_slowdown_factor must be greater than or equal to 1.0. Got 0.5.");
    free(out);
    free(err);
    /* Never on a real backend (the vendor's), and the message says what to do. */
    setenv("ZEUS_DEVICE", machine_backend(), 1);
    assert_int_equal(zt_zeus(&out, &err, "demo", NULL), 2);
    char want[160];
    snprintf(want, sizeof want,
             "demo: it runs on simulated GPUs only (ZEUS_DEVICE=%s was asked for); unset "
             "ZEUS_DEVICE or set it to sim",
             machine_backend());
    assert_contains(err, want);
    free(out);
    free(err);
    unsetenv("ZEUS_DEVICE");
}

/* The machine's GPUs are named (count and backend) and untouched: a power cap set on one before
 * stays, the fake's state file is byte for byte the same, and no set call reached the library. */
static void test_machine_gpus_untouched(void **state)
{
    (void)state;
    zt_options.backend = machine_backend();
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 1, 250000), ZEUS_OK);
    zeus_devices_close(d);
    zt_options.backend = NULL;
    char *fake_state = zt_path(zt_dir, "fake_nvml.state"), *log = zt_path(zt_dir, "calls.log");
    char *before = zt_read(fake_state);
    assert_non_null(before);
    assert_int_equal(unlink(log), 0); /* the set above was logged */

    char *out, *err, want[128];
    assert_int_equal(zt_zeus(&out, &err, "demo", "--steps", "60", "--quiet", NULL), 0);
    snprintf(want, sizeof want,
             "  GPUs: 1 x NVIDIA A40 (simulated, 100-300 W); this machine's 2 real GPUs (%s) "
             "were not touched\n",
             machine_backend());
    assert_contains(out, want);
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "demo", "--steps", "60", "--json", "--gpus", "2", NULL),
                     0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "simulated")));
    assert_int_equal((int)number(root, "real_gpus_untouched"), 2);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "real_gpus_backend")),
        machine_backend());
    cJSON_Delete(root);
    free(out);
    free(err);

    char *after = zt_read(fake_state);
    assert_non_null(after);
    assert_string_equal(after, before);
    assert_null(zt_read(log)); /* no set call at all */
    zt_options.backend = machine_backend();
    assert_int_equal(zt_open(&d), ZEUS_OK);
    unsigned mw[2];
    assert_int_equal(zeus_gpu_power_limit_mw(d, 0, &mw[0]), ZEUS_OK);
    assert_int_equal(zeus_gpu_power_limit_mw(d, 1, &mw[1]), ZEUS_OK);
    assert_int_equal(mw[0], 300000);
    assert_int_equal(mw[1], 250000);
    zeus_devices_close(d);
    free(before);
    free(after);
    free(fake_state);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_run_and_profile_reuse, machine_setup,
                                        zt_teardown),
        cmocka_unit_test_setup_teardown(test_text_epochs_short, machine_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_adaptive, machine_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_usage, machine_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_machine_gpus_untouched, machine_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
