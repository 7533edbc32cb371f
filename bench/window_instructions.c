/* The window pair that bench/window_instructions.sh counts instructions of under callgrind:
 *
 *   window_instructions GPUS OPEN PAIRS [reads]
 *
 * opens GPUS fake-NVML GPUs through the environment (ZEUS_DEVICE=nvml, ZEUS_NVML_LIBRARY,
 * ZEUS_FAKE_NVML_CONFIG, set by the script), a monitor of all of them, OPEN windows left open,
 * makes 100 begin+end pairs to warm up, then PAIRS pairs inside measured() (the function the
 * script has callgrind count, --toggle-collect). With "reads", measured() instead makes the
 * 2 x GPUS energy-counter reads a pair makes through the device layer, PAIRS times: NVML's share.
 * Public API only, so that one source builds against any version of libzeus (a "before" tree). */
#include "zeus/zeus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static int run_pairs(zeus_monitor *m, zeus_measurement *r, long pairs)
{
    int rc = 0;
    for (long i = 0; i < pairs; i++) {
        rc |= zeus_monitor_begin_window(m, "step", false);
        rc |= zeus_monitor_end_window(m, "step", false, false, r);
    }
    return rc;
}

__attribute__((noinline)) static int run_reads(zeus_devices *d, unsigned gpus, long pairs)
{
    int rc = 0;
    uint64_t mj;
    for (long i = 0; i < pairs; i++)
        for (unsigned g = 0; g < 2 * gpus; g++)
            rc |= zeus_gpu_energy_mj(d, g % gpus, &mj);
    return rc;
}

/* What callgrind counts. */
__attribute__((noinline)) static int measured(zeus_devices *d, zeus_monitor *m, zeus_measurement *r,
                                              unsigned gpus, long pairs, bool reads)
{
    return reads ? run_reads(d, gpus, pairs) : run_pairs(m, r, pairs);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: window_instructions GPUS OPEN PAIRS [reads]\n");
        return 2;
    }
    unsigned gpus = (unsigned)atoi(argv[1]);
    int open = atoi(argv[2]);
    long pairs = atol(argv[3]);
    bool reads = argc > 4 && strcmp(argv[4], "reads") == 0;
    zeus_devices *d;
    if (zeus_devices_open(&d) != ZEUS_OK || zeus_gpu_count(d) != gpus) {
        fprintf(stderr, "window_instructions: cannot open %u fake GPUs: %s\n", gpus,
                zeus_last_error());
        return 1;
    }
    zeus_monitor_options o;
    zeus_monitor_options_init(&o);
    o.measure_update_period = false;
    zeus_monitor *m;
    if (zeus_monitor_open(d, &o, &m) != ZEUS_OK) {
        fprintf(stderr, "window_instructions: monitor: %s\n", zeus_last_error());
        return 1;
    }
    zeus_measurement *r = zeus_measurement_new();
    char name[32];
    for (int w = 0; w < open; w++) {
        snprintf(name, sizeof name, "open-%d", w);
        zeus_monitor_begin_window(m, name, false);
    }
    int rc = run_pairs(m, r, 100);
    rc |= measured(d, m, r, gpus, pairs, reads);
    if (rc != 0)
        fprintf(stderr, "window_instructions: a call failed: %s\n", zeus_last_error());
    zeus_measurement_free(r);
    zeus_monitor_close(m);
    zeus_devices_close(d);
    return rc != 0;
}
