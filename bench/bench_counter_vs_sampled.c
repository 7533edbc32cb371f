/* Measures one command's GPU energy two ways at once: the energy counter (a monitor window)
 * and 100 Hz power sampling integrated over the same interval; prints both, their difference
 * and the counter's measured update period.
 *
 *   ./build/bench/bench_counter_vs_sampled [--period S] -- COMMAND [ARG ...]
 *
 * On a real GPU this is the validation the monitor issue asks for (docs/validation/). */
#include "core/internal.h"
#include "zeus/zeus.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    double period = 0.01;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--period") == 0) {
        period = atof(argv[i + 1]);
        i += 2;
    }
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc || period <= 0) {
        fprintf(stderr, "usage: bench_counter_vs_sampled [--period S] -- COMMAND [ARG ...]\n");
        return 2;
    }
    zeus_devices *d;
    zeus_monitor *m;
    zeus_sampler *s;
    if (zeus_devices_open(&d) != ZEUS_OK || zeus_monitor_open(d, NULL, &m) != ZEUS_OK) {
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
        return 1;
    }
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.period_s = period;
    if (zeus_sampler_start(d, &so, &s) != ZEUS_OK) {
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
        return 1;
    }
    zeus_monitor_wait_update_period(m);
    usleep((useconds_t)(3 * period * 1e6)); /* samples on both sides of the window */
    zeus_monitor_begin_window(m, "command", false);
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    zeus_measurement *r = zeus_measurement_new();
    zeus_monitor_end_window(m, "command", false, false, r);
    double start = zeus_measurement_start_time_s(r), time_s = zeus_measurement_time_s(r);
    usleep((useconds_t)(3 * period * 1e6));
    double sampled[ZEUS_MAX_GPUS];
    size_t samples = 0;
    int rc = zeus_sampler_get_energy(s, start, start + time_s, sampled, &samples);
    printf("command exit status %d, %.3f s\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           time_s);
    for (unsigned g = 0; g < zeus_measurement_gpu_count(r); g++) {
        const zeus_gpu_measurement *c = zeus_measurement_gpu(r, g);
        printf("GPU %u: counter %.3f J (update period %.2f ms, %.0f updates)", c->index,
               c->energy_j, c->update_period_s * 1e3, c->updates);
        if (rc == ZEUS_OK)
            printf(", sampled at %.0f Hz %.3f J (%zu samples), difference %+.2f%%", 1.0 / period,
                   sampled[g], samples, 100.0 * (sampled[g] - c->energy_j) / c->energy_j);
        printf(", mean power %.1f W\n", c->energy_j / time_s);
    }
    zeus_measurement_free(r);
    zeus_sampler_stop(s);
    zeus_monitor_close(m);
    zeus_devices_close(d);
    return 0;
}
