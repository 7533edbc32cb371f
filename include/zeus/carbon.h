/* Carbon-aware power-limit selection (docs/carbon.md): the ZeusCost trade-off with the energy
 * weighted by the grid's carbon intensity in the hours being trained in,
 *   cost = eta * (I / I_ref) * E + (1 - eta) * MaxPower * T,
 * so a dirty hour (I > I_ref) weighs energy more and picks a lower limit, a clean hour picks a
 * faster one; at I == I_ref it is ZeusCost exactly. The intensity comes from the caller (a
 * callback: a live feed, a forecast, a recorded trace), read each time the selector runs, so a
 * recurring job whose runs load a saved profile shifts its limit as the grid changes.
 * Also: hourly intensity traces (CSV) for simulations, and (zeus/carbon_api.h, included here)
 * the ElectricityMaps client that gives live intensities.
 * Thread safety: the functions are pure; a zeus_carbon_cost_selector is used by one optimizer
 * at a time (the selection writes its last_* fields). */
#ifndef ZEUS_CARBON_H
#define ZEUS_CARBON_H

#include "zeus/carbon_api.h"
#include "zeus/common.h"
#include "zeus/power_limit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cost = zeus_cost((I / I_ref) * energy, time, eta, max power). NaN when an intensity is not
 * positive and finite. */
ZEUS_API double zeus_carbon_cost(double energy_j, double time_s, double eta_knob,
                                 double max_power_w, double g_per_kwh, double reference_g_per_kwh);

/* The intensity (gCO2eq/kWh) of the hours the job is about to train in: write it and return 0,
 * or return a negative ZEUS_E* code (the selection fails with it: no limit is chosen on a
 * guess). */
typedef int (*zeus_carbon_intensity_fn)(void *user, double *g_per_kwh);

typedef struct {
    double eta_knob;            /* 0 <= eta <= 1 */
    int world_size;             /* >= 1: MaxPower = max profiled limit x world_size */
    double reference_g_per_kwh; /* > 0: the intensity at which this is ZeusCost */
    zeus_carbon_intensity_fn intensity;
    void *user;
    /* Written by the selection: the intensity it used and the limit it chose. */
    double last_g_per_kwh;
    unsigned last_limit_w;
    char name[96]; /* "CarbonCost(eta_knob=0.5, reference=100.0)", set by _init */
} zeus_carbon_cost_selector;

/* Fills state and *out, a ZEUS_SELECTOR_CUSTOM selector over state (which must outlive every
 * use of *out). ZEUS_EINVAL naming the bad field (eta, world size, reference, no callback). */
ZEUS_API int zeus_selector_carbon_cost(zeus_carbon_cost_selector *state, double eta_knob,
                                       int world_size, double reference_g_per_kwh,
                                       zeus_carbon_intensity_fn intensity, void *user,
                                       zeus_optimum_selector *out);

/* ---- Intensity traces ------------------------------------------------------------------------
 * CSV with columns unix_s (interval start, Unix seconds, increasing by a constant period) and
 * carbon_intensity (gCO2eq/kWh, > 0); other columns (a readable datetime) are ignored. */
typedef struct {
    size_t count;
    double start_s, period_s; /* first interval's start, interval length */
    double *g_per_kwh;        /* count values, malloc'd */
} zeus_carbon_trace;

/* ZEUS_EPARSE naming the file and line for a bad value or an irregular period. */
ZEUS_API int zeus_carbon_trace_read(const char *path, zeus_carbon_trace *out);
ZEUS_API void zeus_carbon_trace_free(zeus_carbon_trace *trace);
/* The intensity at t, the trace repeated cyclically (a day's trace stands for every day). */
ZEUS_API double zeus_carbon_trace_at(const zeus_carbon_trace *trace, double unix_s);
/* The time-weighted mean intensity over [from, from + duration) (cyclic); duration 0: _at. */
ZEUS_API double zeus_carbon_trace_mean(const zeus_carbon_trace *trace, double from_s,
                                       double duration_s);

#ifdef __cplusplus
}
#endif

#endif
