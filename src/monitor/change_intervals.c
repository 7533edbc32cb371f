/* Intervals between changes of a polled reading: how the power sampler infers its period and the
 * monitor measures the energy counter's update period. */
#include "core/internal.h"
#include "monitor/monitor_internal.h"

int zeus__change_intervals(zeus_reading_fn read, void *ctx, int64_t poll_ns, int64_t limit_ns,
                           const atomic_bool *stop, double *gaps, int max_gaps)
{
    int64_t start = zeus_now_ns(), last_change = 0;
    uint64_t last = 0;
    bool have_last = false;
    int count = 0;
    while (count < max_gaps && zeus_now_ns() - start < limit_ns && !(stop && atomic_load(stop))) {
        uint64_t value;
        if (read(ctx, &value) != ZEUS_OK)
            break;
        int64_t now = zeus_now_ns();
        if (!have_last) {
            have_last = true;
            last = value;
        } else if (value != last) {
            if (last_change > 0)
                gaps[count++] = (double)(now - last_change) * 1e-9;
            last_change = now;
            last = value;
        }
        zeus_sleep_ns(poll_ns);
    }
    return count;
}
