"""``TemperatureMonitor`` (the newer Zeus's ``zeus.monitor.temperature``): GPU temperature
(degrees C) read through libzeus every ``update_period`` seconds by a background thread,
keeping a sample only when a GPU's temperature changed."""

from __future__ import annotations

import bisect
import collections
import logging
import threading
import time as _time
from dataclasses import dataclass
from typing import Optional, Sequence

from zeus import _zeus
from zeus.device import get_gpus
from zeus.device.exception import ZeusGPUNotSupportedError, convert

logger = logging.getLogger(__name__)


@dataclass
class TemperatureSample:
    """One reading: Unix time (s), GPU (framework index), temperature (degrees C)."""

    timestamp: float
    gpu_index: int
    temperature_c: int


class TemperatureMonitor:
    """Samples GPU temperatures in a daemon thread (the original uses a spawned process; a
    thread reading libzeus is enough and needs no pickling). ``stop()`` ends it."""

    def __init__(
        self,
        gpu_indices: Optional[Sequence[int]] = None,
        update_period: float = 1.0,
        max_samples_per_gpu: Optional[int] = None,
    ) -> None:
        gpus = get_gpus(ensure_homogeneous=True)
        if gpu_indices is not None and len(gpu_indices) == 0:
            raise ValueError("gpu_indices must not be an empty list.")
        if update_period <= 0:
            raise ValueError("update_period must be positive.")
        self.gpu_indices = list(range(len(gpus)) if gpu_indices is None else gpu_indices)
        self.update_period = update_period
        self.max_samples_per_gpu = max_samples_per_gpu
        self._samples: dict[int, collections.deque[tuple[float, int]]] = {
            i: collections.deque(maxlen=max_samples_per_gpu) for i in self.gpu_indices
        }
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="zeus-temperature-monitor", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10.0):
            logger.warning("Temperature monitor did not start within 10 s.")

    def _read(self, gpu: int) -> int:
        try:
            return _zeus.gpu_temperature_c(gpu)
        except Exception as e:  # noqa: BLE001 - converted
            raise convert(e) from None

    def _run(self) -> None:
        last: dict[int, int] = {}
        try:
            while True:
                now = _time.time()
                for gpu in self.gpu_indices:
                    try:
                        temp = self._read(gpu)
                    except ZeusGPUNotSupportedError as e:
                        logger.info("GPU %d temperature not supported: %s", gpu, e)
                        break
                    if last.get(gpu) != temp:
                        last[gpu] = temp
                        with self._lock:
                            self._samples[gpu].append((now, temp))
                self._ready.set()
                if self._stop.wait(self.update_period):
                    return
        except Exception:  # noqa: BLE001 - the thread ends; the reason is logged
            logger.exception("Temperature monitor stopped")
        finally:
            self._ready.set()

    def stop(self) -> None:
        """Stops sampling (idempotent)."""
        self._stop.set()
        self._thread.join(2.0)

    def __del__(self) -> None:
        stop = getattr(self, "_stop", None)  # absent when __init__ failed
        if stop is not None:
            stop.set()

    def get_temperature_timeline(
        self,
        gpu_index: Optional[int] = None,
        start_time: Optional[float] = None,
        end_time: Optional[float] = None,
    ) -> dict[int, list[tuple[float, int]]]:
        """``{gpu: [(time, degC), ...]}`` of the samples between the times (both included)."""
        gpus = self.gpu_indices if gpu_index is None else [gpu_index]
        out = {}
        with self._lock:
            for gpu in gpus:
                out[gpu] = [
                    (t, c)
                    for t, c in sorted(self._samples.get(gpu, ()))
                    if (start_time is None or t >= start_time) and (end_time is None or t <= end_time)
                ]
        return out

    def get_temperature(self, time: Optional[float] = None) -> Optional[dict[int, int]]:
        """Latest temperature per GPU, or the sample nearest ``time`` (ties: the earlier one);
        None if a GPU has no sample yet."""
        out = {}
        with self._lock:
            for gpu in self.gpu_indices:
                samples = list(self._samples[gpu])
                if not samples:
                    return None
                if time is None:
                    out[gpu] = samples[-1][1]
                    continue
                times = [t for t, _ in samples]
                i = bisect.bisect_left(times, time)
                if i == 0:
                    out[gpu] = samples[0][1]
                elif i == len(samples):
                    out[gpu] = samples[-1][1]
                else:
                    before, after = samples[i - 1], samples[i]
                    near = before if time - before[0] <= after[0] - time else after
                    out[gpu] = near[1]
        return out


__all__ = ["TemperatureSample", "TemperatureMonitor"]
