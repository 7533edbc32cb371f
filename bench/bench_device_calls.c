/* Cost of the device layer's reads and how often the energy counter changes.
 *
 *   ./build/bench/bench_device_calls [calls]      (default 10000)
 *
 * Uses whatever `zeus show-env` would use (set ZEUS_DEVICE / ZEUS_NVML_LIBRARY to choose); on
 * a real GPU this is the validation the device-layer issue asks for. For each GPU: mean cost of
 * an energy-counter read, a power read (usage + instant/average fields) and a single sampling
 * read; then the counter is polled back to back for two seconds and the intervals between its
 * changes are summarised. */
#include "core/internal.h"
#include "zeus/zeus.h"

#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int calls = argc > 1 ? atoi(argv[1]) : 10000;
    zeus_devices *d;
    if (calls <= 0 || zeus_devices_open(&d) != ZEUS_OK) {
        fprintf(stderr, "bench_device_calls: %s\n", calls <= 0 ? "bad count" : zeus_last_error());
        return 1;
    }
    printf("# device read costs, %d calls each (backend %s)\n", calls,
           zeus_devices_gpu_backend(d) ? zeus_devices_gpu_backend(d) : "none");
    enum { MAX_CHANGES = 100000 };
    double *changes = malloc(MAX_CHANGES * sizeof *changes);
    for (unsigned g = 0; g < zeus_gpu_count(d); g++) {
        zeus_gpu_info info;
        zeus_gpu_get_info(d, g, &info);
        uint64_t mj;
        zeus_gpu_power p;
        unsigned mw;
        int64_t t0 = zeus_now_ns();
        int ok = 0;
        for (int i = 0; i < calls; i++)
            ok += info.has_energy_counter && zeus_gpu_energy_mj(d, g, &mj) == ZEUS_OK;
        double energy_ns = (double)(zeus_now_ns() - t0) / calls;
        t0 = zeus_now_ns();
        for (int i = 0; i < calls; i++)
            zeus_gpu_read_power(d, g, &p);
        double power_ns = (double)(zeus_now_ns() - t0) / calls;
        t0 = zeus_now_ns();
        for (int i = 0; i < calls; i++)
            zeus_gpu_power_mw(d, g, &mw);
        double sample_ns = (double)(zeus_now_ns() - t0) / calls;
        printf("GPU %u (%s): energy read %.2f us%s, power read %.2f us, sampling read %.2f us\n", g,
               info.name, energy_ns / 1e3, info.has_energy_counter ? "" : " (no counter)",
               power_ns / 1e3, sample_ns / 1e3);
        printf("  power now: usage %u mW, instant %s%u mW, average %s%u mW\n", p.usage_mw,
               p.instant_valid ? "" : "(n/a) ", p.instant_mw, p.average_valid ? "" : "(n/a) ",
               p.average_mw);
        if (!info.has_energy_counter || ok == 0)
            continue;
        /* Poll back to back and record when the value changes. */
        uint64_t last;
        zeus_gpu_energy_mj(d, g, &last);
        int64_t last_change = 0, start = zeus_now_ns();
        int n = 0;
        long reads = 0;
        while (zeus_now_ns() - start < 2000000000LL && n < MAX_CHANGES) {
            zeus_gpu_energy_mj(d, g, &mj);
            reads++;
            if (mj != last) {
                int64_t now = zeus_now_ns();
                if (last_change)
                    changes[n++] = (double)(now - last_change) * 1e-6;
                last_change = now;
                last = mj;
            }
        }
        double span_ms = (double)(zeus_now_ns() - start) * 1e-6;
        if (n == 0) {
            printf("  counter: no change in %ld reads over %.1f ms\n", reads, span_ms);
            continue;
        }
        qsort(changes, (size_t)n, sizeof *changes, compare);
        printf("  counter: %d changes in %ld reads over %.1f ms; interval min %.2f / median %.2f / "
               "max %.2f ms\n",
               n + 1, reads, span_ms, changes[0], changes[n / 2], changes[n - 1]);
    }
    free(changes);
    zeus_devices_close(d);
    return 0;
}
