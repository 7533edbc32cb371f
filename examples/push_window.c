/* Measure a window and push its energy to a Prometheus Pushgateway, as a gauge set and as the
 * original's EnergyHistogram:
 *   ZEUS_DEVICE=sim ./build/example_push_window http://127.0.0.1:9091 training step [SECONDS]
 * Prints the measurement as JSON. Build against an installed Zeus:
 *   cc push_window.c $(pkg-config --cflags --libs zeus) */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <zeus/zeus.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL JOB WINDOW [SECONDS]\n", argv[0]);
        return 2;
    }
    double seconds = argc > 4 ? atof(argv[4]) : 0.5;
    zeus_devices *devices = NULL;
    zeus_monitor *monitor = NULL;
    zeus_measurement *m = zeus_measurement_new();
    zeus_energy_histogram *histogram = NULL;
    char *json = NULL;
    int code = 1;
    zeus_monitor_options options;
    zeus_monitor_options_init(&options);
    options.cpu_count = -1; /* every CPU package too */
    zeus_energy_histogram_options hopt;
    zeus_energy_histogram_options_init(&hopt);
    zeus_push_target_init(&hopt.target);
    hopt.target.url = argv[1];
    hopt.target.job = argv[2];
    if (!m || zeus_devices_open(&devices) != ZEUS_OK ||
        zeus_monitor_open(devices, &options, &monitor) != ZEUS_OK ||
        zeus_energy_histogram_new(&hopt, &histogram) != ZEUS_OK ||
        zeus_monitor_begin_window(monitor, argv[3], true) != ZEUS_OK)
        goto fail;
    nanosleep(&(struct timespec){(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)},
              NULL); /* the work to measure */
    if (zeus_monitor_end_window(monitor, argv[3], true, false, m) != ZEUS_OK ||
        zeus_push_measurement(&hopt.target, argv[3], m) != ZEUS_OK ||
        zeus_energy_histogram_observe(histogram, argv[3], m) != ZEUS_OK ||
        zeus_measurement_to_json(m, &json) != ZEUS_OK)
        goto fail;
    printf("%s\n", json);
    code = 0;
fail:
    if (code != 0)
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
    zeus_free(json);
    zeus_energy_histogram_free(histogram);
    zeus_measurement_free(m);
    zeus_monitor_close(monitor);
    zeus_devices_close(devices);
    return code;
}
