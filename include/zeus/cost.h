/* Zeus in C: the cost metric that trades energy against time (docs/architecture.md; the
 * original's zeus.util.metric.zeus_cost). Used by the ZeusCost power-limit selector, the
 * batch-size optimizer and the simulator. Pure, thread-safe. */
#ifndef ZEUS_COST_H
#define ZEUS_COST_H

#include "zeus/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* eta_knob * energy_j + (1 - eta_knob) * max_power_w * time_s, evaluated in the original's
 * order so results match it bit for bit. */
ZEUS_API double zeus_cost(double energy_j, double time_s, double eta_knob, double max_power_w);

#ifdef __cplusplus
}
#endif
#endif
