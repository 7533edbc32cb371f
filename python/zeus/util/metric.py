"""The Zeus cost metric (``zeus.util.metric``)."""

from __future__ import annotations

from zeus import _zeus
from zeus.exception import ZeusBaseError


def zeus_cost(energy: float, time: float, eta_knob: float, max_power: float) -> float:
    """``eta_knob * energy + (1 - eta_knob) * max_power * time`` (J, s, W)."""
    return _zeus.zeus_cost(energy, time, eta_knob, max_power)


class ZeusCostThresholdExceededError(ZeusBaseError):
    """The next expected cost exceeds the cost threshold."""

    def __init__(
        self,
        time_consumed: float,
        energy_consumed: float,
        cost: float,
        next_cost: float,
        cost_thresh: float,
    ) -> None:
        super().__init__(
            f"Next expected cost {next_cost:.2f} exceeds cost threshold {cost_thresh:.2f}! "
            f"Stopping. Saved training results: time={time_consumed:.2f}, "
            f"energy={energy_consumed:.2f}, cost={cost:.2f}, reached=false"
        )
        self.time_consumed = time_consumed
        self.energy_consumed = energy_consumed
        self.cost = cost
        self.next_cost = next_cost
        self.cost_thresh = cost_thresh
