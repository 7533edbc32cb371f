"""Utilities (the original 0.8 package name; ``zeus.utils`` is the newer one)."""

from zeus.util.env import get_env
from zeus.util.logging import FileAndConsole
from zeus.util.lr_scaler import LinearScaler, SquareRootScaler
from zeus.util.metric import ZeusCostThresholdExceededError, zeus_cost

__all__ = [
    "get_env",
    "FileAndConsole",
    "LinearScaler",
    "SquareRootScaler",
    "zeus_cost",
    "ZeusCostThresholdExceededError",
]
