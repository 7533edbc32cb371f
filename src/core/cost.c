/* The cost metric (include/zeus/cost.h). */
#include "zeus/cost.h"

double zeus_cost(double energy_j, double time_s, double eta_knob, double max_power_w)
{
    return eta_knob * energy_j + (1 - eta_knob) * max_power_w * time_s;
}
