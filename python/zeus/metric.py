"""Prometheus metrics pushed to a Pushgateway, as the newer Zeus's ``zeus.metric``.

``EnergyHistogram`` observes each window's energy per GPU, CPU package and DRAM in histograms;
``EnergyCumulativeCounter`` adds energy to counters every ``update_period`` seconds in a
background process while a window is open; ``PowerGauge`` sets a gauge to each GPU's power every
``update_period`` seconds in a background process. All push to ``pushgateway_url`` under
``job``. A background process that cannot make its monitor fails ``begin_window``
(RuntimeError with the reason); pushes that fail are counted and ``end_window`` warns. Metric names and labels are the original's:

* ``energy_monitor_{gpu,cpu,dram}_energy_joules`` (histogram or counter) labelled
  ``window``, ``index``;
* ``power_monitor_gpu_power_watts`` (gauge) labelled ``gpu_index`` (``<window>_<gpu>``).

Needs the ``prometheus_client`` package (``pip install prometheus-client``). The C library
offers the same without Python (``zeus/metric.h``: ``zeus_energy_histogram``,
``zeus_push_measurement``; docs/exporter.md).
"""

from __future__ import annotations

import abc
import multiprocessing as mp
import queue as queues
import time
import warnings
from dataclasses import dataclass
from typing import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, push_to_gateway

from zeus.device.cpu import get_cpus
from zeus.monitor.energy import ZeusMonitor
from zeus.monitor.power import PowerMonitor
from zeus.utils.framework import sync_execution as sync_execution_fn

__all__ = ["Metric", "EnergyHistogram", "EnergyCumulativeCounter", "PowerGauge"]


class Metric(abc.ABC):
    """A metric measured over named windows."""

    @abc.abstractmethod
    def begin_window(self, name: str, sync_execution: bool = True) -> None:
        """Starts measuring for the window ``name``."""

    @abc.abstractmethod
    def end_window(self, name: str, sync_execution: bool = True) -> None:
        """Stops measuring for the window ``name`` and pushes the result."""


def _energies(measurement, attribute: str) -> dict:
    """The measurement's ``gpu_energy``/``cpu_energy``/``dram_energy`` dict ({} if absent)."""
    return dict(getattr(measurement, attribute, None) or {})


class EnergyHistogram(Metric):
    """Histograms of window energy per GPU, CPU package and DRAM, pushed after each window."""

    def __init__(
        self,
        cpu_indices: list,
        gpu_indices: list,
        pushgateway_url: str,
        job: str,
        gpu_bucket_range: Sequence[float] = (50.0, 100.0, 200.0, 500.0, 1000.0),
        cpu_bucket_range: Sequence[float] = (10.0, 20.0, 50.0, 100.0, 200.0),
        dram_bucket_range: Sequence[float] = (5.0, 10.0, 20.0, 50.0, 150.0),
    ) -> None:
        if not gpu_bucket_range or not cpu_bucket_range or not dram_bucket_range:
            raise ValueError("bucket ranges must not be empty")
        self.cpu_indices = cpu_indices
        self.gpu_indices = gpu_indices
        self.pushgateway_url = pushgateway_url
        self.job = job
        self.gpu_bucket_range = list(gpu_bucket_range)
        self.cpu_bucket_range = list(cpu_bucket_range)
        self.dram_bucket_range = list(dram_bucket_range)
        self.registry = CollectorRegistry()
        labels = ["window", "index"]
        self.gpu_histograms = Histogram(
            "energy_monitor_gpu_energy_joules", "GPU energy consumption", labels,
            buckets=self.gpu_bucket_range, registry=self.registry,
        ) if gpu_indices else None
        self.cpu_histograms = Histogram(
            "energy_monitor_cpu_energy_joules", "CPU energy consumption", labels,
            buckets=self.cpu_bucket_range, registry=self.registry,
        ) if cpu_indices else None
        # DRAM histograms only where a CPU package measures its DRAM (as the original).
        self.dram_histograms = Histogram(
            "energy_monitor_dram_energy_joules", "DRAM energy consumption", labels,
            buckets=self.dram_bucket_range, registry=self.registry,
        ) if cpu_indices and any(
            cpu.supports_get_dram_energy_consumption() for cpu in get_cpus().cpus
        ) else None
        self.energy_monitor = ZeusMonitor(cpu_indices=cpu_indices, gpu_indices=gpu_indices)

    def begin_window(self, name: str, sync_execution: bool = True) -> None:
        self.energy_monitor.begin_window(f"__EnergyHistogram_{name}", sync_execution=sync_execution)

    def end_window(self, name: str, sync_execution: bool = True) -> None:
        measurement = self.energy_monitor.end_window(
            f"__EnergyHistogram_{name}", sync_execution=sync_execution
        )
        for attribute, histograms, buckets, what in (
            ("gpu_energy", self.gpu_histograms, self.gpu_bucket_range, "GPU"),
            ("cpu_energy", self.cpu_histograms, self.cpu_bucket_range, "CPU"),
            ("dram_energy", self.dram_histograms, self.dram_bucket_range, "DRAM"),
        ):
            if histograms is None:
                continue
            for index, energy in _energies(measurement, attribute).items():
                if energy is None or energy != energy:  # unavailable (NaN): not an observation
                    continue
                histograms.labels(window=name, index=index).observe(energy)
                if energy > max(buckets):
                    warnings.warn(
                        f"{what} {index} energy {energy} J of window '{name}' is above the "
                        f"largest bucket ({max(buckets)} J)",
                        stacklevel=2,
                    )
        push_to_gateway(self.pushgateway_url, job=self.job, registry=self.registry)


# How long begin_window waits for the monitoring process to have its monitor (spawning a
# Python process and importing zeus takes a second or two).
_START_TIMEOUT_S = 60.0


@dataclass
class MonitoringProcessState:
    """The queue ("stop" is put on it at end_window) and the process of an open window."""

    queue: mp.Queue
    proc: mp.process.BaseProcess


def _status_queue():
    """In a metric's monitoring process: the queue its status goes back on (see _Looping)."""
    return getattr(mp.current_process(), "_zeus_status", None)


class _Looping(Metric):
    """A metric whose measuring loop runs in a spawned process while a window is open, one
    process per window name (``window_state``), as the original: the process is started with
    the original's arguments, ``(name, queue, ...)``, and stops when ``"stop"`` is put on the
    queue.

    Beyond the original, the process says whether its monitor could be made (begin_window
    raises RuntimeError with the reason if not, instead of the process dying unseen) and, when
    stopped, how many of its pushes failed (end_window warns). That status goes on a second
    queue carried by the process object itself (spawn pickles it with the process;
    ``mp.current_process()`` in the child), so that the target's arguments stay the
    original's."""

    def __init__(self) -> None:
        self.window_state: dict[str, MonitoringProcessState] = {}

    def _start(self, name: str, sync_execution: bool, target, args) -> None:
        if name in self.window_state:
            raise RuntimeError(f"{type(self).__name__}: a window named '{name}' is already open")
        if sync_execution:
            sync_execution_fn(self.gpu_indices)
        context = mp.get_context("spawn")
        queue = context.Queue()
        proc = context.Process(target=target, args=(name, queue, *args))
        proc.daemon = True
        proc._zeus_status = status = context.Queue()
        proc.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        error = None
        while True:
            try:
                message = status.get(timeout=0.1)
            except queues.Empty:
                if not proc.is_alive():
                    error = "the monitoring process ended before it started measuring"
                elif time.monotonic() > deadline:
                    error = f"the monitoring process did not start in {_START_TIMEOUT_S:g} s"
                else:
                    continue
                break
            if message[0] == "error":  # else ("ready", None): measuring
                error = message[1]
            break
        state = MonitoringProcessState(queue=queue, proc=proc)
        if error is not None:
            self._stop(state)
            raise RuntimeError(f"{type(self).__name__}: {error}")
        self.window_state[name] = state

    @staticmethod
    def _stop(state: MonitoringProcessState):
        """Stops the process; its last status message (None if it sent none)."""
        state.queue.put("stop")
        state.proc.join(timeout=20)
        if state.proc.is_alive():  # (multiprocessing reaps it at its next start or exit)
            state.proc.terminate()
        try:
            last = state.proc._zeus_status.get(timeout=1)
        except queues.Empty:
            return None
        return last if isinstance(last, tuple) else None

    def end_window(self, name: str, sync_execution: bool = False) -> None:
        if name not in self.window_state:
            raise RuntimeError(f"{type(self).__name__}: no window '{name}' is open")
        if sync_execution:
            sync_execution_fn(self.gpu_indices)
        last = self._stop(self.window_state.pop(name))
        if last and last[0] == "done" and last[1][0]:
            failed, pushes, error = last[1]
            warnings.warn(f"{type(self).__name__}: {failed} of {pushes} pushes to the "
                          f"Pushgateway failed (last: {error})", stacklevel=2)


def _monitor_or_report(status, make, **kwargs):
    """The monitor, with "ready" sent; None with the error sent if it cannot be made."""
    try:
        monitor = make(**kwargs)
    except Exception as e:  # noqa: BLE001 (any reason goes back to begin_window)
        if status is not None:
            status.put(("error", f"{type(e).__name__}: {e}"))
        return None
    if status is not None:
        status.put(("ready", None))
    return monitor


class _Pushes:
    """Pushes that fail are counted, not fatal: the loop measures on and end_window warns."""

    def __init__(self) -> None:
        self.count = self.failed = 0
        self.error = None

    def push(self, url: str, job: str, registry) -> None:
        self.count += 1
        try:
            push_to_gateway(url, job=job, registry=registry)
        except Exception as e:  # noqa: BLE001
            self.failed += 1
            self.error = f"{type(e).__name__}: {e}"

    def report(self, status) -> None:
        if status is not None:
            status.put(("done", (self.failed, self.count, self.error)))


class EnergyCumulativeCounter(_Looping):
    """Counters of energy per GPU, CPU package and DRAM, increased and pushed every
    ``update_period`` seconds while a window is open."""

    def __init__(self, cpu_indices: list, gpu_indices: list, update_period: float,
                 pushgateway_url: str, job: str) -> None:
        super().__init__()
        self.cpu_indices = cpu_indices
        self.gpu_indices = gpu_indices
        self.update_period = update_period
        self.pushgateway_url = pushgateway_url
        self.job = job

    def begin_window(self, name: str, sync_execution: bool = False) -> None:
        self._start(name, sync_execution, energy_monitoring_loop,
                    (self.cpu_indices, self.gpu_indices, self.update_period,
                     self.pushgateway_url, self.job))


def energy_monitoring_loop(name: str, pipe, cpu_indices: list, gpu_indices: list,
                           update_period: float, pushgateway_url: str, job: str) -> None:
    """EnergyCumulativeCounter's process: one window per period, added to the counters, until
    ``"stop"`` is put on ``pipe``."""
    registry = CollectorRegistry()
    status = _status_queue()
    monitor = _monitor_or_report(status, ZeusMonitor, cpu_indices=cpu_indices,
                                 gpu_indices=gpu_indices)
    if monitor is None:
        return
    pushes = _Pushes()
    labels = ["window", "index"]
    counters = {
        "gpu_energy": Counter("energy_monitor_gpu_energy_joules", "GPU energy consumption",
                              labels, registry=registry) if gpu_indices else None,
        "cpu_energy": Counter("energy_monitor_cpu_energy_joules", "CPU energy consumption",
                              labels, registry=registry) if cpu_indices else None,
        "dram_energy": Counter("energy_monitor_dram_energy_joules", "DRAM energy consumption",
                               labels, registry=registry) if cpu_indices else None,
    }
    window = f"__EnergyCumulativeCounter_{name}"
    while pipe.empty():
        monitor.begin_window(window, sync_execution=False)
        time.sleep(update_period)
        measurement = monitor.end_window(window, sync_execution=False)
        for attribute, counter in counters.items():
            if counter is None:
                continue
            for index, energy in _energies(measurement, attribute).items():
                if energy is not None and energy == energy and energy >= 0:
                    counter.labels(window=window, index=index).inc(energy)
        pushes.push(pushgateway_url, job, registry)
    pushes.report(status)


class PowerGauge(_Looping):
    """A gauge of each GPU's power, set and pushed every ``update_period`` seconds while a
    window is open."""

    def __init__(self, gpu_indices: list, update_period: float, pushgateway_url: str,
                 job: str) -> None:
        super().__init__()
        self.gpu_indices = gpu_indices
        self.update_period = update_period
        self.pushgateway_url = pushgateway_url
        self.job = job

    def begin_window(self, name: str, sync_execution: bool = False) -> None:
        self._start(name, sync_execution, power_monitoring_loop,
                    (self.gpu_indices, self.update_period, self.pushgateway_url, self.job))


def power_monitoring_loop(name: str, pipe, gpu_indices: list, update_period: float,
                          pushgateway_url: str, job: str) -> None:
    """PowerGauge's process: the latest power of every GPU each period, until ``"stop"`` is
    put on ``pipe``."""
    registry = CollectorRegistry()
    status = _status_queue()
    monitor = _monitor_or_report(status, PowerMonitor, gpu_indices=gpu_indices)
    if monitor is None:
        return
    pushes = _Pushes()
    gauge = Gauge("power_monitor_gpu_power_watts", "Records power consumption for GPU over time",
                  ["gpu_index"], registry=registry)
    while pipe.empty():
        power = monitor.get_power()
        if power:
            for gpu_index, watts in power.items():
                gauge.labels(gpu_index=f"{name}_{gpu_index}").set(watts)
        pushes.push(pushgateway_url, job, registry)
        time.sleep(update_period)
    pushes.report(status)
