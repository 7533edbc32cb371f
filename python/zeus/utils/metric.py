"""The Zeus cost metric and power-log analysis (the newer Zeus's ``zeus.utils.metric``)."""

from zeus.analyze import avg_power, energy
from zeus.util.metric import ZeusCostThresholdExceededError, zeus_cost

__all__ = ["zeus_cost", "energy", "avg_power", "ZeusCostThresholdExceededError"]
