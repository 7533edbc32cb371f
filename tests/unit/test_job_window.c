/* Job windows (zeus/job_window.h): the ranks' windows combined, every physical GPU once. */
#include "test_support.h"

#include "zeus/zeus.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static zeus_job_part part(unsigned rank, const char *host, double start, double time, double t0,
                          double t1)
{
    zeus_job_part p = {.rank = rank, .start_s = start, .time_s = time};
    snprintf(p.host, sizeof p.host, "%s", host);
    p.sync_before_s = t0;
    p.sync_after_s = t1;
    return p;
}

static zeus_job_reading reading(unsigned rank, const char *host, const char *uuid, double j)
{
    zeus_job_reading r = {.rank = rank, .energy_j = j};
    snprintf(r.host, sizeof r.host, "%s", host);
    snprintf(r.uuid, sizeof r.uuid, "%s", uuid);
    return r;
}

static void test_each_gpu_once_across_hosts(void **state)
{
    (void)state;
    /* Host a: ranks 0 and 1 share GPU-a0, rank 1 also watches GPU-a1 (overlapping sets).
     * Host b: ranks 2 and 3, one GPU each; host b's clock runs 0.2 s ahead. */
    zeus_job_part parts[] = {
        part(0, "a", 1000.0, 10.0, 2000.00, 2000.01),
        part(1, "a", 1000.1, 10.5, 2000.00, 2000.01),
        part(2, "b", 1000.3, 9.0, 2000.20, 2000.21),
        part(3, "b", 1000.2, 9.5, 2000.20, 2000.22),
    };
    zeus_job_reading readings[] = {
        reading(0, "a", "GPU-a0", 100.0), reading(1, "a", "GPU-a0", 101.5),
        reading(1, "a", "GPU-a1", 50.0),  reading(2, "b", "GPU-b0", 70.0),
        reading(3, "b", "GPU-b1", 80.0),
    };
    zeus_job_measurement m;
    assert_int_equal(zeus_job_window_combine(parts, 4, readings, 5, &m), ZEUS_OK);
    assert_int_equal(m.ranks, 4);
    assert_int_equal(m.gpu_count, 4);
    assert_int_equal(m.readings, 5);
    assert_int_equal(m.duplicates, 1);
    assert_float_equal(m.total_energy_j, 101.5 + 50 + 70 + 80, 1e-9);
    assert_float_equal(m.duplicate_spread_j, 1.5, 1e-9);
    assert_float_equal(m.time_s, 10.5, 0);
    assert_true(fabs(m.span_s - 10.6) < 1e-9);
    assert_true(fabs(m.clock_skew_bound_s - 0.22) < 1e-9);
}

static void test_bad_input(void **state)
{
    (void)state;
    zeus_job_measurement m;
    zeus_job_part parts[] = {part(0, "a", 1, 1, 5, 5.1), part(1, "b", 1, 1, 5, 5.1)};
    /* The same UUID from two hosts: a clone, refused rather than counted once. */
    zeus_job_reading clone[] = {reading(0, "a", "GPU-x", 1), reading(1, "b", "GPU-x", 1)};
    assert_int_equal(zeus_job_window_combine(parts, 2, clone, 2, &m), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "GPU-x is reported by host a (rank 0) and by host b");
    zeus_job_reading orphan[] = {reading(7, "a", "GPU-x", 1)};
    assert_int_equal(zeus_job_window_combine(parts, 2, orphan, 1, &m), ZEUS_EINVAL);
    zeus_job_reading no_uuid[] = {reading(0, "a", "", 1)};
    assert_int_equal(zeus_job_window_combine(parts, 2, no_uuid, 1, &m), ZEUS_EINVAL);
    zeus_job_part twice[] = {part(0, "a", 1, 1, 5, 5.1), part(0, "a", 1, 1, 5, 5.1)};
    assert_int_equal(zeus_job_window_combine(twice, 2, NULL, 0, &m), ZEUS_EINVAL);
    zeus_job_part backwards[] = {part(0, "a", 1, 1, 5, 4)};
    assert_int_equal(zeus_job_window_combine(backwards, 1, NULL, 0, &m), ZEUS_EINVAL);
    assert_int_equal(zeus_job_window_combine(NULL, 0, NULL, 0, &m), ZEUS_EINVAL);
    /* A GPU nobody could measure makes the total unknown, never a smaller number. */
    zeus_job_reading lost[] = {reading(0, "a", "GPU-x", NAN), reading(1, "b", "GPU-y", 3)};
    assert_int_equal(zeus_job_window_combine(parts, 2, lost, 2, &m), ZEUS_OK);
    assert_true(isnan(m.total_energy_j));
    /* ... unless another rank measured it. */
    zeus_job_reading shared[] = {reading(0, "a", "GPU-x", NAN), reading(0, "a", "GPU-x", 4)};
    assert_int_equal(zeus_job_window_combine(parts, 2, shared, 2, &m), ZEUS_OK);
    assert_float_equal(m.total_energy_j, 4, 0);
}

static void test_part_from_a_real_window(void **state)
{
    (void)state;
    zeus_device_options d;
    zeus_device_options_init(&d);
    d.backend = "sim";
    d.allowed_backends = "sim";
    zeus_devices *devices;
    assert_int_equal(zeus_devices_open_with(&d, &devices), ZEUS_OK);
    unsigned gpus[] = {2, 3};
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.gpu_indices = gpus;
    o.gpu_count = 2;
    o.measure_update_period = false;
    zeus_monitor *monitor;
    assert_int_equal(zeus_monitor_open(devices, &o, &monitor), ZEUS_OK);
    zeus_measurement *m = zeus_measurement_new();
    assert_int_equal(zeus_monitor_begin_window(monitor, "w", false), ZEUS_OK);
    zeus_sim_launch_step(devices, 2, NULL);
    zeus_sim_synchronize(devices, 2);
    assert_int_equal(zeus_monitor_end_window(monitor, "w", false, false, m), ZEUS_OK);
    zeus_job_part p;
    zeus_job_reading r[2];
    size_t n = 0;
    assert_int_equal(zeus_job_part_from_measurement(monitor, m, 5, "h", &p, r, 1, &n), ZEUS_ERANGE);
    assert_int_equal(n, 2);
    assert_int_equal(zeus_job_part_from_measurement(monitor, m, 5, "h", &p, r, 2, &n), ZEUS_OK);
    assert_int_equal(p.rank, 5);
    assert_float_equal(p.time_s, zeus_measurement_time_s(m), 0);
    assert_float_equal(p.start_s, zeus_measurement_start_time_s(m), 0);
    for (unsigned i = 0; i < 2; i++) {
        zeus_gpu_info info;
        assert_int_equal(zeus_gpu_get_info(devices, gpus[i], &info), ZEUS_OK);
        assert_string_equal(r[i].uuid, info.uuid);
        assert_string_equal(r[i].host, "h");
        assert_float_equal(r[i].energy_j, zeus_measurement_gpu_energy(m, gpus[i]), 0);
    }
    p.sync_before_s = p.sync_after_s = 1;
    zeus_job_measurement job;
    assert_int_equal(zeus_job_window_combine(&p, 1, r, 2, &job), ZEUS_OK);
    assert_float_equal(job.total_energy_j, zeus_measurement_total_energy_j(m), 1e-9);
    zeus_measurement_free(m);
    zeus_monitor_close(monitor);
    zeus_devices_close(devices);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_gpu_once_across_hosts),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_part_from_a_real_window),
    };
    return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
