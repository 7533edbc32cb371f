"""Optimizers: ``GlobalPowerLimitOptimizer`` (and the rest in ``zeus.optimizer.power_limit``)."""

from typing import Any

from zeus.optimizer.power_limit import GlobalPowerLimitOptimizer

__all__ = ["GlobalPowerLimitOptimizer", "HFGlobalPowerLimitOptimizer"]


def __getattr__(name: str) -> Any:
    if name == "HFGlobalPowerLimitOptimizer":
        from zeus.optimizer import power_limit  # noqa: PLC0415

        return power_limit.HFGlobalPowerLimitOptimizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
