"""``PowerStreamingClient`` (the newer Zeus's ``zeus.monitor.power_streaming``): live GPU and
CPU power from many zeusd daemons over their streaming routes (``/gpu/stream_power``,
``/cpu/stream_power``), one reader thread per daemon and device kind, timestamps moved onto
this host's clock."""

from __future__ import annotations

import copy
import json
import logging
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Iterator, Sequence

from zeus.device.exception import ZeusdError
from zeus.utils.zeusd import (
    ZeusdCapabilityError,
    ZeusdClient,
    ZeusdConfig,
)

logger = logging.getLogger(__name__)


@dataclass
class CpuPowerReading:
    cpu_w: float = 0.0
    dram_w: float | None = None


@dataclass
class PowerReadings:
    """One daemon's latest readings (W) and the newest event's time (this host's clock, s)."""

    timestamp_s: float = 0.0
    gpu_power_w: dict[int, float] = field(default_factory=dict)
    cpu_power_w: dict[int, CpuPowerReading] = field(default_factory=dict)


def _clock_offset(client: ZeusdClient, rounds: int = 5) -> float:
    offsets = []
    for _ in range(rounds):
        t0 = time.time()
        daemon = client.get_time()
        t1 = time.time()
        offsets.append((t0 + t1) / 2 - daemon)
    return statistics.median(offsets)


class PowerStreamingClient:
    """Streams power from every daemon in ``servers`` (``ZeusdConfig``s; their
    ``gpu_indices``/``cpu_indices``: None all, [] none, a list exactly those).

    ``get_power()`` -> {endpoint: PowerReadings}; ``for readings in client`` yields a snapshot
    after each update until ``stop()``; ``async for`` as well."""

    def __init__(self, servers: Sequence[ZeusdConfig], reconnect_delay_s: float = 1.0) -> None:
        endpoints = [s.endpoint for s in servers]
        if len(set(endpoints)) != len(endpoints):
            raise ValueError(f"Duplicate zeusd endpoints: {endpoints}")
        self.reconnect_delay_s = reconnect_delay_s
        self._readings = {e: PowerReadings() for e in endpoints}
        self._cond = threading.Condition()
        self._version = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set = set()
        plans = []
        for config in servers:
            client = ZeusdClient(config)
            for cpu, wanted, available, usable, scope in (
                (False, config.gpu_indices, client.gpu_ids, client.can_read_gpu, "gpu-read"),
                (True, config.cpu_indices, client.cpu_ids, client.can_read_cpu, "cpu-read"),
            ):
                if wanted is None:
                    if available and usable:
                        plans.append((config, client, cpu, None))
                    else:
                        logger.info("%s: not streaming %s power", config.endpoint, "CPU" if cpu else "GPU")
                    continue
                if not wanted:
                    continue
                missing = [i for i in wanted if i not in available]
                if missing:
                    raise ValueError(f"{config.endpoint}: {'CPU' if cpu else 'GPU'} indices {missing} "
                                     f"not available (it has {available})")
                if not usable:
                    raise ZeusdCapabilityError(f"{config.endpoint}: '{scope}' is not available")
                plans.append((config, client, cpu, list(wanted)))
        for config, client, cpu, ids in plans:
            offset = _clock_offset(client)
            t = threading.Thread(target=self._run, args=(config, client, cpu, ids, offset),
                                 name=f"zeus-power-stream-{config.endpoint}-{'cpu' if cpu else 'gpu'}",
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def _store(self, endpoint: str, event: dict, cpu: bool, offset: float) -> None:
        ts = event["timestamp_ms"] / 1000.0 + offset
        with self._cond:
            r = self._readings[endpoint]
            if cpu:
                dram = event.get("dram_mw")
                r.cpu_power_w[int(event["cpu_id"])] = CpuPowerReading(
                    event["cpu_mw"] / 1000.0, None if dram is None else dram / 1000.0)
            else:
                r.gpu_power_w[int(event["gpu_id"])] = event["power_mw"] / 1000.0
            r.timestamp_s = max(r.timestamp_s, ts)
            self._version += 1
            self._cond.notify_all()

    def _run(self, config: ZeusdConfig, client: ZeusdClient, cpu: bool, ids: list[int] | None,
             offset: float) -> None:
        path = "/cpu/stream_power" if cpu else "/gpu/stream_power"
        params = None if ids is None else {("cpu_ids" if cpu else "gpu_ids"): ",".join(map(str, ids))}
        http = client.make_client()
        while not self._stop.is_set():
            try:
                for line in http.stream(path, params, on_open=self._conns.add):
                    if self._stop.is_set():
                        return
                    if not line.startswith("data: "):
                        continue
                    try:
                        self._store(config.endpoint, json.loads(line[6:]), cpu, offset)
                    except (ValueError, KeyError, TypeError) as e:
                        logger.warning("%s: bad event %r: %s", config.endpoint, line, e)
                continue  # the daemon closed the stream: reopen at once
            except ZeusdError as e:
                if getattr(e, "status_code", 0) in (401, 403):
                    logger.error("%s: %s", config.endpoint, e)
                    return
                logger.warning("%s: %s; reconnecting", config.endpoint, e)
            except OSError as e:
                logger.warning("%s: %s; reconnecting", config.endpoint, e)
            self._stop.wait(self.reconnect_delay_s)

    def get_power(self) -> dict[str, PowerReadings]:
        with self._cond:
            return copy.deepcopy(self._readings)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for conn in list(self._conns):  # wakes readers blocked on a quiet stream
            try:
                if conn.sock is not None:
                    conn.sock.shutdown(2)
            except OSError:
                pass
        for t in self._threads:
            t.join(5.0)

    def __iter__(self) -> Iterator[dict[str, PowerReadings]]:
        seen = -1
        while not self._stop.is_set():
            with self._cond:
                if self._version == seen:
                    self._cond.wait(1.0)
                if self._version == seen:
                    continue
                seen = self._version
                snapshot = copy.deepcopy(self._readings)
            yield snapshot

    async def __aiter__(self) -> AsyncIterator[dict[str, PowerReadings]]:
        import asyncio  # noqa: PLC0415

        it = iter(self)
        loop = asyncio.get_running_loop()
        while True:
            snapshot = await loop.run_in_executor(None, next, it, None)
            if snapshot is None:
                return
            yield snapshot


__all__ = ["CpuPowerReading", "PowerReadings", "PowerStreamingClient"]
