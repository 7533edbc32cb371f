/* Measure the energy of a code window on every GPU. Runs anywhere: with no GPU, try
 *   ZEUS_DEVICE=sim ./build/example_monitor_window
 * Build against an installed Zeus: cc monitor_window.c $(pkg-config --cflags --libs zeus) */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <zeus/zeus.h>

#include <stdio.h>
#include <time.h>

int main(void)
{
    zeus_devices *devices;
    zeus_monitor *monitor;
    if (zeus_devices_open(&devices) != ZEUS_OK ||
        zeus_monitor_open(devices, NULL, &monitor) != ZEUS_OK) {
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
        return 1;
    }
    zeus_monitor_begin_window(monitor, "work", true);
    nanosleep(&(struct timespec){0, 500000000}, NULL); /* the work to measure */
    zeus_measurement *m = zeus_measurement_new();
    if (!m || zeus_monitor_end_window(monitor, "work", true, false, m) != ZEUS_OK) {
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
        return 1;
    }
    printf("%.3f s, %.2f J on %u GPU(s)\n", zeus_measurement_time_s(m),
           zeus_measurement_total_energy_j(m), zeus_measurement_gpu_count(m));
    for (unsigned i = 0; i < zeus_measurement_gpu_count(m); i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(m, i);
        printf("  GPU %u: %.2f J (%s)\n", g->index, g->energy_j,
               zeus_energy_method_name(g->method));
    }
    zeus_measurement_free(m);
    zeus_monitor_close(monitor);
    zeus_devices_close(devices);
    return 0;
}
