/* The exporter's carbon metrics (--carbon): the grid's current intensity and a cumulative CO2eq
 * counter per GPU (src/exporter/carbon.c, docs/exporter.md#carbon). */
#ifndef ZEUS_EXPORTER_CARBON_H
#define ZEUS_EXPORTER_CARBON_H

#include "exposition.h"
#include "zeus/carbon.h"

typedef struct exp_carbon exp_carbon;

/* Options copied (their strings must outlive the tracker). NULL on out of memory. */
exp_carbon *exp_carbon_new(const zeus_carbon_api_options *options, unsigned gpus, bool quiet);
void exp_carbon_free(exp_carbon *c);
/* One poll's GPU energy counters (J; ok[g] false: no reading this poll) at wall time now_s:
 * each GPU's energy since the previous poll is converted at the intensity of its hour, or kept
 * pending until that hour's intensity is had. Poller thread only. */
void exp_carbon_update(exp_carbon *c, double now_s, const double *energy_j, const bool *ok);
/* zeus_grid_carbon_intensity_grams_per_kwh, zeus_gpu_carbon_grams_total,
 * zeus_gpu_carbon_pending_joules, zeus_carbon_lookup_errors_total; labels[g] are the GPU's. */
void exp_carbon_render(const exp_carbon *c, expo_buf *b, const char *const *labels);

#endif
