"""Same as ``zeus.util.metric``."""

from zeus.util.metric import ZeusCostThresholdExceededError, zeus_cost

__all__ = ["zeus_cost", "ZeusCostThresholdExceededError"]
