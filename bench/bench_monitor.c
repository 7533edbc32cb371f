/* Benchmark: monitor window overhead and power-sampler CPU cost, against the fake NVML.
 *
 *   ./build/bench/bench_monitor            (see bench/README.md)
 *
 * Window overhead is reported net of NVML's own time: the cost of the counter reads, measured
 * in the same run by calling zeus_gpu_energy_mj directly, is subtracted. */
#include "core/internal.h"
#include "zeus/zeus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    return (double)zeus_now_ns() * 1e-9;
}

static zeus_devices *open_fake(unsigned gpus, const char *dir)
{
    char path[512], config[256];
    snprintf(path, sizeof path, "%s/bench_nvml.json", dir);
    snprintf(config, sizeof config, "{\"gpus\": [{\"count\": %u}]}", gpus);
    FILE *f = fopen(path, "w");
    fputs(config, f);
    fclose(f);
    setenv("ZEUS_DEVICE", "nvml", 1);
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    setenv("ZEUS_FAKE_NVML_CONFIG", path, 1);
    unsetenv("ZEUS_FAKE_NVML_STATE");
    unsetenv("CUDA_VISIBLE_DEVICES");
    zeus_devices *d;
    if (zeus_devices_open(&d) != ZEUS_OK || zeus_gpu_count(d) != gpus) {
        fprintf(stderr, "cannot open the fake NVML: %s\n", zeus_last_error());
        exit(1);
    }
    return d;
}

/* Mean cost of one energy-counter read through the device layer (NVML's share), ns. */
static double counter_read_ns(zeus_devices *d, unsigned gpus, int iterations)
{
    uint64_t mj;
    double t0 = now_s();
    for (int i = 0; i < iterations; i++)
        for (unsigned g = 0; g < gpus; g++)
            zeus_gpu_energy_mj(d, g, &mj);
    return (now_s() - t0) * 1e9 / ((double)iterations * gpus);
}

/* A monitor of every GPU, without the background update-period measurement. */
static zeus_monitor *open_monitor(zeus_devices *d)
{
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    zeus_monitor *m;
    if (zeus_monitor_open(d, &o, &m) != ZEUS_OK) {
        fprintf(stderr, "monitor: %s\n", zeus_last_error());
        exit(1);
    }
    return m;
}

static void bench_windows(unsigned gpus, const char *dir)
{
    zeus_devices *d = open_fake(gpus, dir);
    zeus_monitor *m = open_monitor(d);
    const int iterations = 200000 / (int)gpus;
    static const int open_counts[] = {0, 16, 256};
    for (size_t k = 0; k < sizeof open_counts / sizeof open_counts[0]; k++) {
        char name[32];
        for (int w = 0; w < open_counts[k]; w++) {
            snprintf(name, sizeof name, "open-%d", w);
            zeus_monitor_begin_window(m, name, false);
        }
        double read_ns = counter_read_ns(d, gpus, iterations);
        zeus_measurement *r = zeus_measurement_new();
        double t0 = now_s();
        for (int i = 0; i < iterations; i++) {
            zeus_monitor_begin_window(m, "step", false);
            zeus_monitor_end_window(m, "step", false, false, r);
        }
        double pair_ns = (now_s() - t0) * 1e9 / iterations;
        double nvml_ns = 2.0 * gpus * read_ns;
        printf("windows  gpus=%u open=%-3d begin+end %8.0f ns  NVML reads %7.0f ns  "
               "overhead %6.0f ns (%.2fx the reads)\n",
               gpus, open_counts[k], pair_ns, nvml_ns, pair_ns - nvml_ns,
               (pair_ns - nvml_ns) / nvml_ns);
        for (int w = 0; w < open_counts[k]; w++) {
            snprintf(name, sizeof name, "open-%d", w);
            zeus_monitor_end_window(m, name, false, true, r);
        }
        zeus_measurement_free(r);
    }
    zeus_monitor_close(m);
    zeus_devices_close(d);
}

/* The cross-check's cost on a window (zeus_monitor_cross_check, docs/measurement.md): windows of
 * 10 ms beside a 100 Hz sampler, the begin + end calls timed, alternating rounds without and
 * with the check so that the spread between rounds of one mode is the noise. */
static void bench_cross_check(unsigned gpus, const char *dir)
{
    zeus_devices *d = open_fake(gpus, dir);
    zeus_monitor *m = open_monitor(d);
    zeus_sampler *s;
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.period_s = 0.01;
    if (zeus_sampler_start(d, &so, &s) != ZEUS_OK) {
        fprintf(stderr, "cross-check: %s\n", zeus_last_error());
        exit(1);
    }
    zeus_measurement *r = zeus_measurement_new();
    enum { ROUNDS = 6, WINDOWS = 40 };
    double best[2] = {1e30, 1e30}, worst[2] = {0, 0}, sum[2] = {0, 0};
    for (int round = 0; round < 2 * ROUNDS; round++) {
        int mode = round % 2; /* 0: off, 1: flag */
        zeus_monitor_cross_check(m, mode ? s : NULL, ZEUS_CROSS_CHECK_FLAG);
        double spent = 0;
        for (int i = 0; i < WINDOWS; i++) {
            double t0 = now_s();
            zeus_monitor_begin_window(m, "step", false);
            spent += now_s() - t0;
            usleep(10000);
            t0 = now_s();
            zeus_monitor_end_window(m, "step", false, false, r);
            spent += now_s() - t0;
        }
        double per = spent * 1e9 / WINDOWS;
        sum[mode] += per;
        best[mode] = per < best[mode] ? per : best[mode];
        worst[mode] = per > worst[mode] ? per : worst[mode];
    }
    printf("cross-check gpus=%u begin+end of a 10 ms window: off %7.0f ns (rounds %.0f-%.0f)  "
           "flag %7.0f ns (rounds %.0f-%.0f)  difference %+.0f ns\n",
           gpus, sum[0] / ROUNDS, best[0], worst[0], sum[1] / ROUNDS, best[1], worst[1],
           (sum[1] - sum[0]) / ROUNDS);
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    zeus_sampler_stop(s);
    zeus_devices_close(d);
}

static void bench_sampler(unsigned gpus, double hz, double seconds, const char *dir)
{
    zeus_devices *d = open_fake(gpus, dir);
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.period_s = 1.0 / hz;
    zeus_sampler *s;
    if (zeus_sampler_start(d, &so, &s) != ZEUS_OK) {
        fprintf(stderr, "sampler: %s\n", zeus_last_error());
        exit(1);
    }
    double t0 = now_s();
    usleep((useconds_t)(seconds * 1e6));
    double cpu = zeus_sampler_cpu_time_s(s), wall = now_s() - t0;
    size_t n = zeus_sampler_sample_count(s);
    printf("sampler  gpus=%u %6.0f Hz  %6zu samples in %.2f s (%.0f/s)  CPU %.3f%% of one core  "
           "(%.1f us per sample)\n",
           gpus, hz, n, wall, n / wall, 100.0 * cpu / wall, cpu / (double)n * 1e6);
    zeus_sampler_stop(s);
    zeus_devices_close(d);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    char dir[] = "/tmp/zeus-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    printf("# monitor benchmark (fake NVML; %s)\n", zeus_version());
    bench_windows(1, dir);
    bench_windows(8, dir);
    bench_cross_check(1, dir);
    bench_cross_check(8, dir);
    bench_sampler(8, 10, seconds, dir);
    bench_sampler(8, 100, seconds, dir);
    bench_sampler(8, 1000, seconds, dir);
    bench_sampler(1, 100, seconds, dir);
    char path[600];
    snprintf(path, sizeof path, "%s/bench_nvml.json", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
