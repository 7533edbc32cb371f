"""The trace-driven simulator of recurring jobs (Zeus 0.8's ``zeus.simulate``;
``zeus._legacy.simulate`` in the newer) over libzeus's simulator (``zeus/simulate.h``): the same
runs, decisions and numbers as the original for the same seeds."""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

from zeus import _recurring
from zeus.analyze import HistoryEntry
from zeus.job import Job
from zeus.policy.optimizer import JITPowerLimitOptimizer, PruningGTSBatchSizeOptimizer


def _csv_path(table: Any, tmp: list[str]) -> str:
    if isinstance(table, (str, os.PathLike)):
        return os.fspath(table)
    if hasattr(table, "to_csv"):  # a pandas DataFrame, as the original accepts
        fd, path = tempfile.mkstemp(suffix=".csv", prefix="zeus-trace-")
        os.close(fd)
        table.to_csv(path, index=False)
        tmp.append(path)
        return path
    raise TypeError(f"expected a CSV path or a pandas DataFrame, got {type(table).__name__}")


class Simulator:
    """Replays recurring jobs on the NSDI'23 traces (``summary_train``: when each run reached
    each target; ``summary_power``: epoch time and power per limit), choosing batch sizes with
    ``batch_size_optimizer`` and power limits with ``power_limit_optimizer``.

    The policies must be this package's ``PruningGTSBatchSizeOptimizer`` and
    ``JITPowerLimitOptimizer`` (their settings are used; libzeus runs them). Every simulation
    starts from fresh policies, as the original deep-copies them."""

    def __init__(
        self,
        summary_train: str | Any,
        summary_power: str | Any,
        batch_size_optimizer: PruningGTSBatchSizeOptimizer,
        power_limit_optimizer: JITPowerLimitOptimizer,
        seed: int = 123456,
        verbose: bool = True,
    ) -> None:
        if not isinstance(batch_size_optimizer, PruningGTSBatchSizeOptimizer):
            raise TypeError(
                "Simulator runs libzeus's batch-size optimizer: pass a "
                "zeus.policy.PruningGTSBatchSizeOptimizer (its settings are used)"
            )
        if not isinstance(power_limit_optimizer, JITPowerLimitOptimizer):
            raise TypeError("Simulator runs libzeus's JIT power-limit policy: pass a "
                            "zeus.policy.JITPowerLimitOptimizer")
        tmp: list[str] = []
        try:
            self._trace = _recurring.trace_load(
                _csv_path(summary_train, tmp), _csv_path(summary_power, tmp)
            )
        finally:
            for path in tmp:
                os.unlink(path)
        self.bso = batch_size_optimizer
        self.plo = power_limit_optimizer
        self.seed = seed
        self.verbose = verbose

    def _args(self, job: Job, beta_knob: float, eta_knob: float) -> tuple:
        beta = math.inf if beta_knob is None or beta_knob <= 0 else float(beta_knob)
        return (job._c_job(), beta, float(eta_knob), self.seed, self.bso._config())

    def simulate_one_job(
        self, job: Job, num_recurrence: int, beta_knob: float, eta_knob: float
    ) -> list[HistoryEntry]:
        """``num_recurrence`` recurrences of ``job``; one entry per run (a recurrence retries
        until a run reaches the target, up to 20 times). ``beta_knob`` <= 0 or None: no early
        stopping."""
        c_job, beta, eta, seed, cfg = self._args(job, beta_knob, eta_knob)
        runs = _recurring.simulate_one_job(self._trace, c_job, int(num_recurrence), beta, eta, seed, cfg)
        return [HistoryEntry(*r) for r in runs]

    def simulate_one_alibaba_group(
        self, job: Job, group_df: Any, beta_knob: float, eta_knob: float
    ) -> list[HistoryEntry]:
        """One Alibaba-style group: ``group_df`` rows (a DataFrame, or dicts) with
        ``start_time``, ``end_time`` and ``runtime_ratio``; submissions that overlap in time use
        the best-known batch size."""
        if hasattr(group_df, "to_dict"):
            group_df = group_df.to_dict("records")
        rows = sorted(
            (float(r["start_time"]), float(r["end_time"]), float(r["runtime_ratio"])) for r in group_df
        )
        c_job, beta, eta, seed, cfg = self._args(job, beta_knob, eta_knob)
        runs = _recurring.simulate_one_group(self._trace, c_job, rows, beta, eta, seed, cfg)
        return [HistoryEntry(*r) for r in runs]

    def batch_sizes(self, job: Job) -> list[int]:
        """The job's batch sizes in the trace."""
        return _recurring.trace_batch_sizes(self._trace, job._c_job())


__all__ = ["Simulator", "HistoryEntry"]
