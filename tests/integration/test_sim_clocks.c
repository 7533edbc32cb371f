/* Simulated GPUs that respond to their SM clock (sim_model.h): the supported-clocks query through
 * the sim backend and the fake NVML, the model's time and power at a locked clock, and a lock set
 * by one device set reaching another through the shared state file (as between processes). */
#include "test_support.h"

#include "device/sim_model.h"
#include "zeus/sim.h"
#include "zeus/util.h"

#include <math.h>
#include <stdlib.h>

static void check_supported(zeus_devices *d)
{
    unsigned mem[8], n = 8;
    assert_int_equal(zeus_gpu_supported_clocks(d, 0, ZEUS_CLOCK_MEMORY, 0, mem, &n), ZEUS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(mem[0], 1593);
    unsigned gfx[200];
    n = 200;
    assert_int_equal(zeus_gpu_supported_clocks(d, 0, ZEUS_CLOCK_GPU, mem[0], gfx, &n), ZEUS_OK);
    assert_int_equal(n, 103); /* 1740 .. 210 in 15 MHz steps */
    assert_int_equal(gfx[0], 1740);
    assert_int_equal(gfx[1], 1725);
    assert_int_equal(gfx[102], 210);
    unsigned few[4];
    n = 4;
    assert_int_equal(zeus_gpu_supported_clocks(d, 0, ZEUS_CLOCK_GPU, mem[0], few, &n), ZEUS_ERANGE);
    assert_int_equal(n, 103);
    n = 200;
    assert_int_not_equal(zeus_gpu_supported_clocks(d, 0, ZEUS_CLOCK_GPU, 1234, gfx, &n), ZEUS_OK);
}

static void test_supported_clocks_sim(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zeus_devices *d = NULL;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    check_supported(d);
    zeus_devices_close(d);
}

static void test_supported_clocks_fake_nvml(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    zeus_devices *d = NULL;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    check_supported(d);
    zeus_devices_close(d);
}

static void test_model_time_and_power(void **state)
{
    (void)state;
    zeus_sim_config cfg;
    assert_int_equal(zeus__sim_config_parse(NULL, "default", &cfg), ZEUS_OK);
    zeus_sim_gpu g;
    zeus__sim_gpu_init(&g, &cfg.gpus[0], 0);
    double t_max = zeus__sim_gpu_step_time_s(&g), p_max = zeus__sim_gpu_busy_power_w(&g);
    assert_true(fabs(zeus__sim_gpu_sm_clock_mhz(&g) - 1740) < 1e-9);
    double c = cfg.gpus[0].compute_fraction, st = cfg.gpus[0].static_w, busy = cfg.gpus[0].busy_w;
    /* half the clock: the compute part takes twice as long, dynamic power an eighth */
    zeus__sim_gpu_set_locked(&g, ZEUS_CLOCK_GPU, (zeus_sim_clocks){870, 870}, 0);
    assert_true(fabs(zeus__sim_gpu_step_time_s(&g) - t_max * ((1 - c) + 2 * c)) < 1e-12);
    assert_true(fabs(zeus__sim_gpu_busy_power_w(&g) - (st + (busy - st) / 8)) < 1e-9);
    /* a lock between supported clocks runs at the one below it */
    zeus__sim_gpu_set_locked(&g, ZEUS_CLOCK_GPU, (zeus_sim_clocks){1000, 1000}, 0);
    assert_true(fabs(zeus__sim_gpu_sm_clock_mhz(&g) - 990) < 1e-9);
    /* energy per step has a minimum inside the range: below it time and energy both rise */
    double best = INFINITY;
    unsigned best_f = 0;
    for (unsigned f = 1740; f >= 210; f -= 15) {
        zeus__sim_gpu_set_locked(&g, ZEUS_CLOCK_GPU, (zeus_sim_clocks){f, f}, 0);
        double e = zeus__sim_gpu_step_time_s(&g) * zeus__sim_gpu_busy_power_w(&g);
        if (e < best) {
            best = e;
            best_f = f;
        }
    }
    assert_true(best_f > 210 && best_f < 1740);
    assert_true(best < t_max * p_max);
    /* a power limit below the locked clock's draw still caps the clock */
    zeus__sim_gpu_set_locked(&g, ZEUS_CLOCK_GPU, (zeus_sim_clocks){1700, 1700}, 0);
    zeus__sim_gpu_set_limit(&g, cfg.gpus[0].min_limit_mw, 0);
    assert_true(zeus__sim_gpu_sm_clock_mhz(&g) < 1700);
    assert_true(fabs(zeus__sim_gpu_busy_power_w(&g) - cfg.gpus[0].min_limit_mw / 1000.0) < 1e-9);
    /* energy of one step at a lock changed mid-way is integrated piecewise */
    zeus__sim_gpu_set_limit(&g, cfg.gpus[0].max_limit_mw, 0);
    zeus__sim_gpu_set_locked(&g, ZEUS_CLOCK_GPU, (zeus_sim_clocks){0, 0}, 0);
    int64_t end = zeus__sim_gpu_launch_step(&g, 1000000000);
    double e0 = zeus__sim_gpu_exact_uj(&g, 1000000000);
    zeus__sim_gpu_set_locked(&g, ZEUS_CLOCK_GPU, (zeus_sim_clocks){870, 870}, 1010000000);
    double e1 = zeus__sim_gpu_exact_uj(&g, end);
    double want = p_max * 0.010 + (st + (busy - st) / 8) * ((double)(end - 1010000000) / 1e9);
    assert_true(fabs((e1 - e0) / 1e6 - want) < 1e-6);
}

static void test_lock_shared_between_device_sets(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    char *state_path = zt_path(zt_dir, "sim-state");
    zt_options.sim_state = zt_keep(state_path);
    free(state_path);
    zeus_devices *a = NULL, *b = NULL;
    assert_int_equal(zt_open(&a), ZEUS_OK);
    assert_int_equal(zt_open(&b), ZEUS_OK);
    int64_t end, t0 = zeus_now_ns();
    assert_int_equal(zeus_sim_launch_step(b, 0, &end), ZEUS_OK);
    double d0 = (double)(end - t0) / 1e9;
    assert_int_equal(zeus_sim_synchronize(b, 0), ZEUS_OK);
    assert_int_equal(zeus_gpu_set_locked_clocks(a, 0, ZEUS_CLOCK_GPU, 870, 870), ZEUS_OK);
    t0 = zeus_now_ns();
    assert_int_equal(zeus_sim_launch_step(b, 0, &end), ZEUS_OK);
    double d1 = (double)(end - t0) / 1e9;
    assert_true(fabs(d1 / d0 - 1.6) < 0.05); /* (1 - 0.6) + 0.6 * 2 */
    /* the model's own cost of a step at the lock another device set made: exact */
    double secs, busy, idle, secs_max, busy_max;
    assert_int_equal(zeus_sim_step_cost(b, 0, &secs, &busy, &idle), ZEUS_OK);
    assert_true(fabs(secs - 0.025 * 1.6) < 1e-12);
    assert_true(fabs(busy - (90.0 + (279.0 - 90.0) / 8.0)) < 1e-9); /* dynamic power f^3 */
    assert_true(fabs(idle - 30.0) < 1e-12);
    assert_int_equal(zeus_sim_synchronize(b, 0), ZEUS_OK);
    assert_int_equal(zeus_gpu_reset_locked_clocks(a, 0, ZEUS_CLOCK_GPU), ZEUS_OK);
    t0 = zeus_now_ns();
    assert_int_equal(zeus_sim_launch_step(b, 0, &end), ZEUS_OK);
    assert_true(fabs((double)(end - t0) / 1e9 / d0 - 1.0) < 0.05);
    assert_int_equal(zeus_sim_step_cost(b, 0, &secs_max, &busy_max, NULL), ZEUS_OK);
    assert_true(fabs(secs_max - 0.025) < 1e-12 && fabs(busy_max - 279.0) < 1e-9);
    zeus_devices_close(a);
    zeus_devices_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_supported_clocks_sim, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_supported_clocks_fake_nvml, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_model_time_and_power, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_lock_shared_between_device_sets, zt_setup,
                                        zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
