"""Recurring-job policies (Zeus 0.8's ``zeus.policy``) over libzeus's batch-size code."""

from zeus.policy.interface import BatchSizeOptimizer, PowerLimitOptimizer
from zeus.policy.optimizer import JITPowerLimitOptimizer, PruningGTSBatchSizeOptimizer

__all__ = [
    "BatchSizeOptimizer",
    "PowerLimitOptimizer",
    "JITPowerLimitOptimizer",
    "PruningGTSBatchSizeOptimizer",
]
