/* Pure counter arithmetic shared by the backends and the monitor. */
#ifndef ZEUS_DEVICE_COUNTER_H
#define ZEUS_DEVICE_COUNTER_H

#include <stdint.h>

/* Increase of a counter that wraps to 0 after reaching max_range (RAPL's max_energy_range_uj:
 * values run 0..max_range, so the modulus is max_range + 1). At most one wrap between two
 * reads is assumed; the caller must read often enough for that to hold. */
static inline uint64_t zeus_wrap_delta(uint64_t previous, uint64_t current, uint64_t max_range)
{
    if (current >= previous)
        return current - previous;
    return (max_range - previous) + current + 1;
}

#endif
