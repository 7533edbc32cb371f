"""Choosing how long to measure and how long to cool down between measurements (the newer
Zeus's ``zeus.profile``): repeated trials of a target function measured with a ZeusMonitor
(libzeus), and sweeps that report which settings give a stable per-iteration energy.

Under torch.distributed each rank passes its own monitor; energies are summed and times maxed
across ranks (``zeus.utils.framework.all_reduce``), temperatures averaged."""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from zeus.device import get_gpus
from zeus.utils.framework import all_reduce, get_rank, get_world_size

logger = logging.getLogger(__name__)

_DEFAULT_RANGE = [float(s) for s in range(1, 11)]


@dataclass
class TrialResult:
    """One measured trial: per-iteration and total energy (J) and time (s), iterations, and the
    GPUs' average temperature (degrees C) before and after."""

    energy_per_iter: float
    time_per_iter: float
    total_energy: float
    total_time: float
    iterations: int
    temperature_before: float
    temperature_after: float


@dataclass
class SweepResult:
    """The trials of one setting and their statistics (``is_valid``: the per-iteration energy's
    coefficient of variation is below the threshold)."""

    measurement_duration: float
    cooldown_duration: float
    trials: list[TrialResult]
    energy_mean: float
    energy_std: float
    avg_temperature_before: float
    avg_temperature_after: float
    avg_total_time: float
    avg_total_energy: float
    is_valid: bool

    def __str__(self) -> str:
        return (
            f"measurement={self.measurement_duration:g}s cooldown={self.cooldown_duration:g}s: "
            f"energy/iter {self.energy_mean:.4g} J +- {self.energy_std:.3g} "
            f"({'valid' if self.is_valid else 'unstable'}), temperature "
            f"{self.avg_temperature_before:.1f} -> {self.avg_temperature_after:.1f} C"
        )


@dataclass
class SweepReport:
    """A sweep over one parameter with the other fixed."""

    sweep_param: tuple[str, list[float]]
    fixed_param: tuple[str, float]
    entries: list[SweepResult] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"Sweep of {self.sweep_param[0]} ({self.fixed_param[0]} = {self.fixed_param[1]:g})"
        return "\n".join([head, *(f"  {e}" for e in self.entries)])


def _temperature(monitor) -> float:
    gpus = get_gpus()
    temps = [gpus.get_gpu_temperature(i) for i in monitor.gpu_indices]
    local = sum(temps) / len(temps) if temps else math.nan
    return all_reduce([local], "sum")[0] / get_world_size()


def _calibrate(target_function: Callable[[], object], zeus_monitor, n: int) -> float:
    # A monitor window synchronises the GPUs at both ends, so queued work is counted.
    zeus_monitor.begin_window("__zeus_profile_calibrate")
    for _ in range(n):
        target_function()
    elapsed = zeus_monitor.end_window("__zeus_profile_calibrate").time
    return all_reduce([elapsed / max(n, 1)], "max")[0]


def measure(
    target_function: Callable[[], object],
    zeus_monitor,
    measurement_duration: float,
    cooldown_duration: float,
    num_warmup_iterations: int = 10,
    num_calibration_iterations: int = 100,
    warmup_settle_duration: float | None = None,
    iteration_duration: float | None = None,
) -> TrialResult:
    """One trial: warm up, calibrate the iteration time, run about ``measurement_duration``
    seconds of iterations in a monitor window, then cool down."""
    if warmup_settle_duration is not None and warmup_settle_duration < 0:
        raise ValueError("warmup_settle_duration must be non-negative")
    before = _temperature(zeus_monitor)
    for _ in range(num_warmup_iterations):
        target_function()
    if warmup_settle_duration:
        time.sleep(warmup_settle_duration)
    per_iter = iteration_duration or _calibrate(target_function, zeus_monitor, num_calibration_iterations)
    iterations = max(1, int(measurement_duration / per_iter)) if per_iter > 0 else 1
    zeus_monitor.begin_window("__zeus_profile_measure")
    for _ in range(iterations):
        target_function()
    m = zeus_monitor.end_window("__zeus_profile_measure")
    energy = all_reduce([sum(m.gpu_energy.values())], "sum")[0]
    elapsed = all_reduce([m.time], "max")[0]
    after = _temperature(zeus_monitor)
    if cooldown_duration > 0:
        time.sleep(cooldown_duration)
    return TrialResult(energy / iterations, elapsed / iterations, energy, elapsed, iterations, before, after)


def _sweep(
    target_function, zeus_monitor, name: str, values: Sequence[float], fixed: tuple[str, float],
    num_trials: int, num_warmup_trials: int, threshold: float, warmup_iters: int,
    calibration_iters: int, iteration_duration: float | None,
) -> SweepReport:
    report = SweepReport((name, list(values)), fixed)
    for v in values:
        durations = {"measurement_duration": v, "cooldown_duration": v, fixed[0]: fixed[1]}
        durations[name] = v
        trials = []
        for t in range(num_warmup_trials + num_trials):
            r = measure(target_function, zeus_monitor, durations["measurement_duration"],
                        durations["cooldown_duration"], warmup_iters, calibration_iters,
                        iteration_duration=iteration_duration)
            if t >= num_warmup_trials:
                trials.append(r)
        energies = [r.energy_per_iter for r in trials]
        mean = statistics.fmean(energies)
        std = statistics.pstdev(energies) if len(energies) > 1 else 0.0
        entry = SweepResult(
            durations["measurement_duration"], durations["cooldown_duration"], trials, mean, std,
            statistics.fmean(r.temperature_before for r in trials),
            statistics.fmean(r.temperature_after for r in trials),
            statistics.fmean(r.total_time for r in trials),
            statistics.fmean(r.total_energy for r in trials),
            mean > 0 and std / mean < threshold,
        )
        if get_rank() == 0:
            logger.info("%s", entry)
        report.entries.append(entry)
    return report


def profile_measurement_duration(
    target_function, zeus_monitor, measurement_duration_search_range: Sequence[float] | None = None,
    cooldown_duration: float = 10.0, num_trials: int = 10, num_warmup_trials: int = 2,
    trial_stddev_threshold: float = 0.01, num_warmup_iterations: int = 10,
    num_calibration_iterations: int = 100, iteration_duration: float | None = None,
) -> SweepReport:
    """Sweeps the measurement duration (default 1..10 s) at a fixed cooldown."""
    return _sweep(target_function, zeus_monitor, "measurement_duration",
                  measurement_duration_search_range or _DEFAULT_RANGE,
                  ("cooldown_duration", cooldown_duration), num_trials, num_warmup_trials,
                  trial_stddev_threshold, num_warmup_iterations, num_calibration_iterations,
                  iteration_duration)


def profile_cooldown_duration(
    target_function, zeus_monitor, cooldown_duration_search_range: Sequence[float] | None = None,
    measurement_duration: float = 10.0, num_trials: int = 10, num_warmup_trials: int = 2,
    trial_stddev_threshold: float = 0.01, num_warmup_iterations: int = 10,
    num_calibration_iterations: int = 100, iteration_duration: float | None = None,
) -> SweepReport:
    """Sweeps the cooldown (default 1..10 s) at a fixed measurement duration."""
    return _sweep(target_function, zeus_monitor, "cooldown_duration",
                  cooldown_duration_search_range or _DEFAULT_RANGE,
                  ("measurement_duration", measurement_duration), num_trials, num_warmup_trials,
                  trial_stddev_threshold, num_warmup_iterations, num_calibration_iterations,
                  iteration_duration)


def profile_parameters(
    target_function, zeus_monitor, measurement_duration_search_range: Sequence[float] | None = None,
    cooldown_duration_search_range: Sequence[float] | None = None, num_trials: int = 10,
    num_warmup_trials: int = 2, trial_stddev_threshold: float = 0.01,
    num_warmup_iterations: int = 10, num_calibration_iterations: int = 100,
) -> tuple[SweepReport, SweepReport]:
    """Sweeps the measurement duration (cooldown at the range's largest), then the cooldown at
    the shortest valid measurement duration (the largest when none is valid)."""
    m_range = list(measurement_duration_search_range or _DEFAULT_RANGE)
    c_range = list(cooldown_duration_search_range or _DEFAULT_RANGE)
    common = dict(num_trials=num_trials, num_warmup_trials=num_warmup_trials,
                  trial_stddev_threshold=trial_stddev_threshold,
                  num_warmup_iterations=num_warmup_iterations,
                  num_calibration_iterations=num_calibration_iterations)
    m_report = profile_measurement_duration(target_function, zeus_monitor, m_range, max(c_range), **common)
    valid = [e.measurement_duration for e in m_report.entries if e.is_valid]
    chosen = min(valid) if valid else max(m_range)
    c_report = profile_cooldown_duration(target_function, zeus_monitor, c_range, chosen, **common)
    return m_report, c_report


__all__ = [
    "TrialResult",
    "SweepResult",
    "SweepReport",
    "profile_measurement_duration",
    "profile_cooldown_duration",
    "profile_parameters",
    "measure",
]
