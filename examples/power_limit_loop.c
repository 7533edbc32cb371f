/* The power-limit optimizer in a training loop: it profiles every limit during the first steps
 * and then keeps the best one; the GPUs get their limit back when it is destroyed, at exit, or
 * on Ctrl-C / SIGTERM / SIGHUP (this program asks for that with zeus_install_signal_handlers();
 * the library installs no handler by itself). Needs root or CAP_SYS_ADMIN on real GPUs.
 * Without a GPU, try
 *   ZEUS_DEVICE=sim ./build/example_power_limit_loop
 * Build against an installed Zeus: cc power_limit_loop.c $(pkg-config --cflags --libs zeus) */
#include <zeus/zeus.h>

#include <stdio.h>

/* Your training step; here, one simulated step on every GPU (a no-op on real GPUs). */
static void train_one_step(zeus_devices *devices)
{
    for (unsigned g = 0; g < zeus_gpu_count(devices); g++)
        zeus_sim_launch_step(devices, g, NULL);
    for (unsigned g = 0; g < zeus_gpu_count(devices); g++)
        zeus_sim_synchronize(devices, g);
}

int main(void)
{
    zeus_devices *devices;
    zeus_monitor *monitor;
    zeus_power_limit_optimizer *plo;
    if (zeus_install_signal_handlers() != ZEUS_OK || zeus_devices_open(&devices) != ZEUS_OK ||
        zeus_monitor_open(devices, NULL, &monitor) != ZEUS_OK ||
        zeus_power_limit_optimizer_create(monitor, NULL, &plo) != ZEUS_OK) {
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
        return 1;
    }
    for (int epoch = 0; epoch < 2; epoch++) {
        for (int step = 0; step < 300; step++) {
            if (zeus_power_limit_on_step_begin(plo) != ZEUS_OK)
                fprintf(stderr, "zeus: %s\n", zeus_last_error());
            train_one_step(devices);
            zeus_power_limit_on_step_end(plo);
        }
        zeus_power_limit_on_epoch_end(plo);
    }
    printf("optimal power limit: %u W\n", zeus_power_limit_optimal_mw(plo) / 1000);
    zeus_power_limit_optimizer_destroy(plo); /* the GPUs go back to their limits */
    zeus_monitor_close(monitor);
    zeus_devices_close(devices);
    return 0;
}
