def zeus_cost(energy, time, eta_knob, max_power):
    return eta_knob * energy + (1 - eta_knob) * max_power * time


class ZeusCostThresholdExceededError(Exception):
    def __init__(self, time_consumed, energy_consumed, cost, next_cost, cost_thresh):
        super().__init__(f"Next expected cost {next_cost:.2f} exceeds cost threshold "
                         f"{cost_thresh:.2f}! Stopping.")
