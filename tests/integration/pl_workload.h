/* A simulated training workload for the power-limit state machine (power_limit_fsm.h): every
 * step at limit p takes truth(p).time / 40 seconds and truth(p).energy / 40 joules, each with
 * multiplicative Gaussian noise; windows sum what their steps took. Shared by the adaptive
 * profiling test (tests/unit/test_pl_adaptive.c) and its benchmark (bench/bench_pl_adaptive.c). */
#ifndef ZEUS_TEST_PL_WORKLOAD_H
#define ZEUS_TEST_PL_WORKLOAD_H

#include "power_limit/power_limit_fsm.h"
#include "zeus/rng.h"

#include <string.h>

#define PL_WL_MAX_LIMITS 64
#define PL_WL_RECORDED_STEPS 40.0 /* the steps the recorded logs' windows span */

typedef struct {
    zeus_power_limit_measurement truth[PL_WL_MAX_LIMITS];
    size_t count;
    double noise; /* relative standard deviation of one step's time (power: half of it) */
    zeus_rng rng;
    unsigned limit_w;
    bool open;
    double acc_t, acc_e;
    unsigned windows; /* windows opened */
    /* What the last run profiled (pl_wl_run copies the state machine's measurements). */
    zeus_power_limit_measurement got[PL_WL_MAX_LIMITS];
    size_t got_count;
} pl_workload;

static int pl_wl_set(void *ctx, unsigned mw)
{
    ((pl_workload *)ctx)->limit_w = mw / 1000;
    return ZEUS_OK;
}

static int pl_wl_begin(void *ctx, const char *name)
{
    pl_workload *w = ctx;
    (void)name;
    w->open = true;
    w->acc_t = w->acc_e = 0;
    w->windows++;
    return ZEUS_OK;
}

static int pl_wl_end(void *ctx, const char *name, bool cancel, double *t, double *e)
{
    pl_workload *w = ctx;
    (void)name;
    (void)cancel;
    w->open = false;
    *t = w->acc_t;
    *e = w->acc_e;
    return ZEUS_OK;
}

static const zeus_pl_fsm_ops pl_wl_ops = {
    .set_limit = pl_wl_set, .begin_window = pl_wl_begin, .end_window = pl_wl_end};

/* One training step at the current limit. */
static inline void pl_wl_step(pl_workload *w)
{
    if (!w->open)
        return;
    const zeus_power_limit_measurement *m = NULL;
    for (size_t i = 0; i < w->count; i++)
        if (w->truth[i].power_limit_w == w->limit_w)
            m = &w->truth[i];
    if (!m)
        return;
    double t = m->time_s / PL_WL_RECORDED_STEPS, p = m->energy_j / m->time_s;
    t *= 1.0 + w->noise * zeus_rng_standard_normal(&w->rng);
    p *= 1.0 + 0.5 * w->noise * zeus_rng_standard_normal(&w->rng);
    w->acc_t += t > 0 ? t : 0;
    w->acc_e += t > 0 && p > 0 ? t * p : 0;
}

/* Runs the state machine over the workload until Done (or max_steps); returns the chosen limit
 * in W (0 if it never finished) and the steps from the first limit set to Done. */
static inline unsigned pl_wl_run(pl_workload *w, const zeus_pl_fsm_config *cfg, uint64_t seed,
                                 long max_steps, long *profiling_steps)
{
    zeus_pl_fsm fsm;
    zeus_rng_seed(&w->rng, seed);
    w->open = false;
    w->windows = 0;
    w->got_count = 0;
    if (zeus__pl_fsm_init(&fsm, cfg, &pl_wl_ops, w) != ZEUS_OK)
        return 0;
    unsigned chosen = 0;
    if (zeus__pl_fsm_start(&fsm) == ZEUS_OK) {
        for (long s = 0; s < max_steps && fsm.phase != ZEUS_PL_DONE; s++) {
            if (zeus__pl_fsm_on_step_begin(&fsm) != ZEUS_OK)
                break;
            pl_wl_step(w);
        }
        if (fsm.phase == ZEUS_PL_DONE)
            chosen = fsm.limit_mw / 1000;
    }
    *profiling_steps = fsm.profiling_steps;
    w->got_count =
        fsm.measurement_count < PL_WL_MAX_LIMITS ? fsm.measurement_count : PL_WL_MAX_LIMITS;
    memcpy(w->got, fsm.measurements, w->got_count * sizeof *w->got);
    zeus__pl_fsm_free(&fsm);
    return chosen;
}

#endif
