"""The pipeline frequency optimizer under its v0.8 name (``zeus.optimizer.perseus``)."""

from zeus.optimizer.perseus.optimizer import PerseusOptimizer

__all__ = ["PerseusOptimizer"]
