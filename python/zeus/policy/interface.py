"""Interfaces of the recurring-job policies (Zeus 0.8's ``zeus.policy.interface``)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from zeus.job import Job


class BatchSizeOptimizer(ABC):
    """Picks a recurring job's batch size from the costs of its past runs."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Name of the batch-size optimizer."""

    @abstractmethod
    def register_job(self, job: Job, batch_sizes: list[int]) -> None:
        """Prepares to optimize ``job`` over ``batch_sizes``."""

    @abstractmethod
    def predict(self, job: Job) -> int:
        """The batch size for the job's next run."""

    @abstractmethod
    def observe(self, job: Job, batch_size: int, cost: float, converged: bool | None = None) -> None:
        """Learns from a run's cost (and whether it reached the target)."""


class PowerLimitOptimizer(ABC):
    """Picks a power limit for a job's batch size."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Name of the power-limit optimizer."""

    @abstractmethod
    def predict(self, job: Job, batch_size: int) -> int | None:
        """The power limit (W) for the batch size; None when it must be profiled."""

    @abstractmethod
    def observe(self, job: Job, batch_size: int, power_limit: int, cost: float) -> None:
        """Learns from a profiled power limit's cost."""


__all__ = ["BatchSizeOptimizer", "PowerLimitOptimizer"]
