"""Windows whose energy is split by interval (an hour of the grid's carbon intensity or of the
electricity tariff), what ``CarbonEmissionMonitor`` and ``EnergyCostMonitor`` share.

A window is one libzeus ``ZeusMonitor`` window (its time and energy are the result, exactly what
``ZeusMonitor`` would report) plus an internal *interval window* that a timer thread closes and
reopens at every interval boundary (UTC hour starts for a 1 h period). The interval windows'
energies say how the window's energy splits over the intervals; each interval's share of the
window's energy is then priced with that interval's intensity or rate. No helper process (the
original spawns one per monitor); the timer thread sleeps until the next boundary.

At each boundary the timer thread also hands the intervals that have closed without a rate to
``_rate_closed`` (outside the lock): the carbon monitor looks their intensity up then, while the
provider's history (the last 24 hours) still holds them, so a window of any length gets its
grams; what fails then is asked again at the next boundary and at the window's end.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Sequence

from zeus.monitor._provider import floor_time
from zeus.monitor.energy import ZeusMonitor

logger = logging.getLogger("zeus.monitor.carbon")


@dataclass
class Interval:
    """One interval of a window: its UTC start, the energy (J) spent in it per device, and its
    rate (intensity or price) once looked up (None: not yet)."""

    start: datetime
    gpu_energy: dict[int, float]
    cpu_energy: Optional[dict[int, float]]
    dram_energy: Optional[dict[int, float]]
    rate: Optional[float] = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Open:
    __slots__ = ("start", "intervals")

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.intervals: list[Interval] = []


class IntervalMonitor:
    """Begin/end windows; ``_finish(key, measurement, intervals)`` makes the result."""

    def __init__(
        self,
        period: timedelta,
        gpu_indices: Optional[Sequence[int]],
        cpu_indices: Optional[Sequence[int]],
        sync_execution_with: str,
        approx_instant_energy: bool = False,
    ) -> None:
        if period.total_seconds() <= 0:
            raise ValueError(f"update period {period}: must be positive")
        self._period = period
        self.zeus_monitor = ZeusMonitor(
            gpu_indices=gpu_indices,
            cpu_indices=cpu_indices,
            approx_instant_energy=approx_instant_energy,
            sync_execution_with=sync_execution_with,
        )
        self.gpu_indices = self.zeus_monitor.gpu_indices
        self.cpu_indices = self.zeus_monitor.cpu_indices
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: Optional[threading.Thread] = None

    @staticmethod
    def _sub(key: str) -> str:
        return f"__zeus_interval__/{key}"

    def begin_window(self, key: str, sync_execution: bool = True) -> None:
        with self._lock:
            if key in self._open:
                raise ValueError(f"Measurement window '{key}' already exists")
            self.zeus_monitor.begin_window(key, sync_execution)
            self.zeus_monitor.begin_window(self._sub(key), False)
            self._open[key] = _Open(floor_time(_now(), self._period))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._roll, name="zeus-interval", daemon=True
                )
                self._thread.start()
            self._wake.notify_all()

    def _close_interval(self, key: str, window: _Open, until: datetime) -> None:
        """Ends the key's interval window (the lock is held), records it, reopens it when the
        window goes on (``until`` is the new interval's start)."""
        m = self.zeus_monitor.end_window(self._sub(key), False)
        window.intervals.append(
            Interval(window.start, dict(m.gpu_energy), _opt(m.cpu_energy), _opt(m.dram_energy))
        )
        window.start = until

    def _roll(self) -> None:
        with self._lock:
            while self._open:
                # The next boundary after the oldest open interval: woken early (a window began
                # or ended) or late, the interval that was open is still the one closed.
                boundary = min(w.start for w in self._open.values()) + self._period
                wait = (boundary - _now()).total_seconds()
                if wait > 0:
                    self._wake.wait(timeout=wait)
                    continue
                until = max(boundary, floor_time(_now(), self._period))
                for key, window in self._open.items():
                    if window.start < boundary:
                        self._close_interval(key, window, until)
                        self.zeus_monitor.begin_window(self._sub(key), False)
                pending = [i for w in self._open.values() for i in w.intervals if i.rate is None]
                if pending:  # (the lookups may wait on the network: windows go on meanwhile)
                    self._lock.release()
                    try:
                        self._rate_closed(pending)
                    except Exception:  # noqa: BLE001 - asked again at the next boundary / the end
                        logger.debug("interval rates: lookup failed", exc_info=True)
                    finally:
                        self._lock.acquire()
            self._thread = None

    def _rate_closed(self, intervals: list[Interval]) -> None:
        """Sets the rate of closed intervals that have none yet, where it can (the timer thread,
        at a boundary, without the lock); the rest are looked up at the window's end."""

    def end_window(self, key: str, sync_execution: bool = True) -> Any:
        with self._lock:
            window = self._open.pop(key, None)
            if window is None:
                raise ValueError(f"Measurement window '{key}' does not exist")
            measurement = self.zeus_monitor.end_window(key, sync_execution)
            self._close_interval(key, window, window.start)
            self._wake.notify_all()
        return self._finish(key, measurement, _scaled(measurement, window.intervals))

    def _finish(self, key: str, measurement: Any, intervals: list[Interval]) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Cancels open windows and releases the monitor (also done when it is collected)."""
        with self._lock:
            for key in list(self._open):
                self.zeus_monitor.end_window(self._sub(key), False, cancel=True)
                self.zeus_monitor.end_window(key, False, cancel=True)
            self._open.clear()
            self._wake.notify_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _opt(d: Optional[dict[int, float]]) -> Optional[dict[int, float]]:
    return None if not d else dict(d)


def _scale_one(
    total: Optional[dict[int, float]], parts: list[Optional[dict[int, float]]]
) -> list[Optional[dict[int, float]]]:
    """Each interval's share of the window's energy: the interval windows' energies rescaled so
    that they add up to exactly what the window reports (the two differ by the microseconds
    between their reads). A device that read 0 J in every interval splits by time instead."""
    if not total:
        return [None for _ in parts]
    out: list[dict[int, float]] = [dict() for _ in parts]
    for device, energy in total.items():
        seen = [(p or {}).get(device, 0.0) for p in parts]
        seen = [0.0 if (s is None or math.isnan(s)) else s for s in seen]
        whole = sum(seen)
        for i in range(len(parts)):
            share = seen[i] / whole if whole > 0 else 1.0 / len(parts)
            out[i][device] = energy * share
    return list(out)


def _scaled(measurement: Any, intervals: list[Interval]) -> list[Interval]:
    gpu = _scale_one(measurement.gpu_energy, [i.gpu_energy for i in intervals])
    cpu = _scale_one(measurement.cpu_energy, [i.cpu_energy for i in intervals])
    dram = _scale_one(measurement.dram_energy, [i.dram_energy for i in intervals])
    return [
        Interval(interval.start, gpu[n] or {}, cpu[n], dram[n], interval.rate)
        for n, interval in enumerate(intervals)
    ]
