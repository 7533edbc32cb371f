"""A carbon-aware optimum selector for ``GlobalPowerLimitOptimizer`` (ours; docs/carbon.md).

``CarbonCost`` is ZeusCost with the energy weighted by the grid's carbon intensity of the hours
being trained in, relative to a reference intensity::

    cost = eta * (I / I_ref) * E + (1 - eta) * MaxPower * T

A dirty hour (I > I_ref) weighs energy more and picks a lower limit; a clean one picks a faster
limit; at I == I_ref it is ZeusCost. The intensity is read each time the optimizer selects: when
profiling ends, and when a saved profile is loaded, so a recurring job whose runs reuse one
profile (``profile_path=``) shifts its limit as the grid changes. libzeus's C selector is the
same formula (``zeus_selector_carbon_cost`` in ``zeus/carbon.h``).
"""

from __future__ import annotations

import logging
from typing import Callable, Optional, Union

from zeus.monitor.carbon import CarbonIntensityProvider
from zeus.optimizer.power_limit import OptimumSelector, PowerLimitMeasurement, ZeusCost

logger = logging.getLogger(__name__)

IntensitySource = Union[CarbonIntensityProvider, Callable[[], float], float]


class CarbonCost(OptimumSelector):
    """Minimum ``eta*(I/I_ref)*E + (1-eta)*MaxPower*T``.

    Args:
        eta_knob: as ZeusCost's (0: time only, 1: carbon only).
        carbon_intensity: where I comes from: a provider (``ElectrictyMapsClient``: its current
            intensity), a function returning gCO2eq/kWh (a forecast of the hours the job will
            run in), or a number.
        reference: I_ref in gCO2eq/kWh; None: the mean of the provider's recent history (the
            last 24 hours), so "dirty" means dirtier than today's average.
        world_size: as ZeusCost's.
        fallback: when the intensity cannot be had, select as ZeusCost (I = I_ref) and log a
            warning (``last_error`` says why); False: raise.
    """

    def __init__(
        self,
        eta_knob: float,
        carbon_intensity: IntensitySource,
        reference: Optional[float] = None,
        world_size: int = 1,
        fallback: bool = True,
    ) -> None:
        self._cost = ZeusCost(eta_knob, world_size)  # validates eta and world size
        if reference is not None and not reference > 0:
            raise ValueError(f"reference={reference!r}: must be a positive gCO2eq/kWh")
        if reference is None and not isinstance(carbon_intensity, CarbonIntensityProvider):
            raise ValueError("reference=None needs a CarbonIntensityProvider (its history)")
        self.eta_knob = eta_knob
        self.world_size = world_size
        self.carbon_intensity = carbon_intensity
        self.reference = reference
        self.fallback = fallback
        self.last_intensity: Optional[float] = None
        self.last_error: Optional[str] = None

    def _intensity(self) -> tuple[float, float]:
        source = self.carbon_intensity
        if isinstance(source, CarbonIntensityProvider):
            now = float(source.get_current_carbon_intensity())
        elif callable(source):
            now = float(source())
        else:
            now = float(source)
        reference = self.reference
        if reference is None:
            history = list(self.carbon_intensity.get_recent_carbon_intensity().values())
            if not history:
                raise ValueError("the provider's recent history is empty: no reference")
            reference = sum(history) / len(history)
        if not (now > 0 and reference > 0):
            raise ValueError(f"carbon intensity {now!r} / reference {reference!r}: not positive")
        return now, reference

    def select(self, measurements: list[PowerLimitMeasurement]) -> int:
        try:
            now, reference = self._intensity()
            self.last_error = None
        except Exception as e:  # noqa: BLE001 - a feed failure: ZeusCost, or raise
            self.last_error = f"{type(e).__name__}: {e}"
            if not self.fallback:
                raise
            logger.warning("CarbonCost: no carbon intensity (%s); selecting as ZeusCost", e)
            self.last_intensity = None
            return self._cost.select(measurements)
        self.last_intensity = now
        scaled = [
            PowerLimitMeasurement(m.power_limit, m.energy * now / reference, m.time)
            for m in measurements
        ]
        return self._cost.select(scaled)

    def __repr__(self) -> str:
        return (
            f"CarbonCost(eta_knob={self.eta_knob!r}, reference={self.reference!r}, "
            f"world_size={self.world_size!r})"
        )


__all__ = ["CarbonCost"]
