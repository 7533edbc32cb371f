/* The cross-check of a window's counter energy against sampled power (zeus/monitor.h,
 * docs/measurement.md "Cross-check"). */
#include "core/internal.h"
#include "monitor/monitor_internal.h"

#include <math.h>
#include <stdlib.h>

/* A counter whose energy means more than this multiple of the maximum power limit is wrong. */
#define ZEUS_CHECK_MAX_POWER_FACTOR 1.5
/* Samples a stuck sensor must have repeated before it is called stuck. */
#define ZEUS_CHECK_STUCK_SAMPLES 4
#define ZEUS_CHECK_TIMELINE_MAX 256

const char *zeus_cross_check_status_name(zeus_cross_check_status status)
{
    switch (status) {
    case ZEUS_CHECK_NONE:
        return "none";
    case ZEUS_CHECK_AGREE:
        return "agree";
    case ZEUS_CHECK_DISAGREE:
        return "disagree";
    case ZEUS_CHECK_FELL_BACK:
        return "fell_back";
    }
    return "unknown";
}

bool zeus__cross_check_decide(const zeus__check_input *in, bool fallback, zeus__gpu_check *check)
{
    check->counter_j = in->counter_j;
    check->sampled_j = in->sampled_j;
    double larger = fmax(fabs(in->counter_j), fabs(in->sampled_j));
    check->allowed_j =
        in->counter_bound_j + in->sampled_bound_j + ZEUS_CROSS_CHECK_REL_TOL * larger;
    if (in->samples < 2 || !isfinite(in->counter_j) || !isfinite(in->sampled_j)) {
        check->status = ZEUS_CHECK_NONE;
        return false;
    }
    if (fabs(in->counter_j - in->sampled_j) <= check->allowed_j) {
        check->status = ZEUS_CHECK_AGREE;
        return false;
    }
    check->status = ZEUS_CHECK_DISAGREE;
    if (!fallback || (in->power_stuck && in->samples >= ZEUS_CHECK_STUCK_SAMPLES))
        return false; /* the power readings are the wrong ones: the counter stays */
    bool frozen = in->counter_j <= in->counter_bound_j && in->sampled_j > in->sampled_bound_j;
    bool too_fast = in->elapsed_s > 0 && in->max_power_w > 0 &&
                    in->counter_j > ZEUS_CHECK_MAX_POWER_FACTOR * in->max_power_w * in->elapsed_s +
                                        in->counter_bound_j;
    if (!frozen && !too_fast)
        return false; /* neither can be shown wrong: the counter stays, flagged */
    check->status = ZEUS_CHECK_FELL_BACK;
    return true;
}

/* Whether every sample of the column inside [start, end] read the same value (at least
 * ZEUS_CHECK_STUCK_SAMPLES of them). Only asked after a disagreement. */
static bool stuck(zeus_sampler *s, int column, double start, double end)
{
    unsigned cols = zeus_sampler_column_count(s);
    double *times = malloc(ZEUS_CHECK_TIMELINE_MAX * sizeof *times);
    double *power = malloc((size_t)ZEUS_CHECK_TIMELINE_MAX * cols * sizeof *power);
    size_t count = 0, inside = 0;
    bool same = true;
    if (times && power &&
        zeus_sampler_timeline(s, start, ZEUS_CHECK_TIMELINE_MAX, times, power, &count) == ZEUS_OK) {
        for (size_t k = 0; k < count && times[k] <= end; k++, inside++)
            same = same && power[k * cols + (unsigned)column] == power[(unsigned)column];
    }
    free(times);
    free(power);
    return same && inside >= ZEUS_CHECK_STUCK_SAMPLES;
}

void zeus__cross_check_window(const zeus__check_ctx *ctx, double start, double end,
                              zeus_measurement *out)
{
    double sampled_j[ZEUS_SAMPLER_MAX_COLUMNS];
    size_t samples = 0;
    if (zeus_sampler_get_energy(ctx->sampler, start, end, sampled_j, &samples) != ZEUS_OK)
        return; /* fewer than two samples: nothing to compare */
    double period = zeus_sampler_period_s(ctx->sampler);
    for (unsigned i = 0; i < out->gpu_count; i++) {
        zeus_gpu_measurement *g = &out->gpus[i];
        int col = ctx->column[i];
        if (col < 0 || g->error || g->method != ZEUS_METHOD_COUNTER)
            continue;
        zeus__check_input in = {.counter_j = g->energy_j,
                                .counter_bound_j = g->error_bound_j,
                                .sampled_j = sampled_j[col],
                                .sampled_bound_j = 2 * period * ctx->max_power_w[i],
                                .samples = samples,
                                .elapsed_s = out->time_s,
                                .max_power_w = ctx->max_power_w[i]};
        bool fallback = ctx->mode == ZEUS_CROSS_CHECK_FALLBACK;
        zeus__gpu_check *c = &out->checks[i];
        zeus__cross_check_decide(&in, false, c);
        if (c->status == ZEUS_CHECK_DISAGREE) {
            in.power_stuck = stuck(ctx->sampler, col, start, end);
            if (zeus__cross_check_decide(&in, fallback, c)) {
                g->energy_j = in.sampled_j;
                g->method = ZEUS_METHOD_SAMPLED;
                g->update_period_s = period;
                g->updates = (double)samples;
                g->error_bound_j = in.sampled_bound_j;
                g->below_resolution = false;
            }
            if (!atomic_exchange(&ctx->warned[i], true))
                ZEUS_WARN("GPU %u: the energy counter (%.3f J) and the integral of sampled power "
                          "(%.3f J) disagree by more than their bounds (%.3f J) over %.3f s%s "
                          "(warned once per GPU; see zeus_measurement_gpu_cross_check)",
                          g->index, in.counter_j, in.sampled_j, c->allowed_j, out->time_s,
                          c->status == ZEUS_CHECK_FELL_BACK
                              ? "; the counter is wrong, the sampled energy is used"
                          : in.power_stuck ? "; the power readings are stuck, the counter is used"
                                           : "; the counter's energy is kept");
        }
    }
}
