"""``EarlyStopController`` (Zeus 0.8's ``zeus.controller``): stops training when the next
epoch would push the energy-time cost over a threshold, after ``max_epochs`` epochs, or when the
target metric is reached. Measurement is the monitor's (libzeus); the cost is libzeus's."""

from __future__ import annotations

import logging

from zeus.callback import Callback
from zeus.device import get_gpus
from zeus.util.metric import zeus_cost

logger = logging.getLogger(__name__)


class EarlyStopController(Callback):
    """Set ``should_training_stop`` (it stays True once set) from epoch costs and the metric.

    Args:
        monitor: a ZeusMonitor, needed with ``cost_threshold``.
        eta_knob: energy/time trade-off of the cost.
        cost_threshold: stop when the cost so far plus an average epoch's would reach it.
        max_epochs: stop after this many epochs.
        target_metric: stop when ``on_evaluate`` sees it reached (with ``higher_is_better``).
    """

    def __init__(
        self,
        monitor=None,
        eta_knob: float = 0.5,
        cost_threshold: float | None = None,
        max_epochs: int | None = None,
        target_metric: float | None = None,
        higher_is_better: bool | None = None,
    ) -> None:
        if max_epochs is not None and max_epochs <= 0:
            raise ValueError("max_epochs must be positive")
        if cost_threshold is not None and cost_threshold <= 0:
            raise ValueError("cost_threshold must be positive")
        if (cost_threshold is None) ^ (monitor is None):
            raise ValueError("cost_threshold and monitor must be given together")
        if (target_metric is None) ^ (higher_is_better is None):
            raise ValueError("target_metric and higher_is_better must be given together")
        self.monitor = monitor
        self.eta_knob = eta_knob
        self.cost_threshold = cost_threshold
        self.max_epochs = max_epochs
        self.target_metric = target_metric
        self.higher_is_better = higher_is_better
        self.should_training_stop = False
        self.epochs_trained = 0
        self.epoch_costs: list[float] = []
        self.max_power: dict[int, float] = {}
        if monitor is not None:
            gpus = get_gpus()
            for i in monitor.gpu_indices:
                self.max_power[i] = gpus.get_power_management_limit_constraints(i)[1] / 1000

    def _stop(self, why: str) -> None:
        if not self.should_training_stop:
            logger.info("Stopping training: %s", why)
        self.should_training_stop = True

    def on_epoch_begin(self) -> None:
        if self.monitor is not None:
            self.monitor.begin_window("__EarlyStopController_epoch")

    def on_epoch_end(self) -> None:
        self.epochs_trained += 1
        if self.monitor is not None:
            m = self.monitor.end_window("__EarlyStopController_epoch")
            cost = sum(
                zeus_cost(m.gpu_energy[i], m.time, self.eta_knob, self.max_power[i])
                for i in self.monitor.gpu_indices
            )
            self.epoch_costs.append(cost)
            spent = sum(self.epoch_costs)
            nxt = spent + spent / len(self.epoch_costs)
            if self.cost_threshold is not None and nxt >= self.cost_threshold:
                self._stop(f"next expected cost {nxt:.2f} reaches the threshold {self.cost_threshold:.2f}")
        if self.max_epochs is not None and self.epochs_trained >= self.max_epochs:
            self._stop(f"{self.epochs_trained} epochs (max_epochs)")

    def on_evaluate(self, metric: float) -> None:
        if self.target_metric is None:
            return
        reached = metric >= self.target_metric if self.higher_is_better else metric <= self.target_metric
        if reached:
            self._stop(f"target metric {self.target_metric} reached ({metric})")


__all__ = ["EarlyStopController"]
