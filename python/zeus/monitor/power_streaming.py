"""``PowerStreamingClient`` (the newer Zeus's ``zeus.monitor.power_streaming``): live GPU and
CPU power from many zeusd daemons over their event-stream routes (``/gpu/stream_power``,
``/cpu/stream_power``), one reader thread per daemon and device kind, each event's daemon
timestamp moved onto this host's clock (the median offset of five ``/time`` round trips).

The streams are read by libzeus's zeusd client (``zeus.utils.zeusd.LibzeusTransport`` under the
``httpx.Client`` that ``ZeusdConfig.make_client()`` returns); ``stop()`` cancels a reader that
waits on a quiet stream instead of waiting for its next event."""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
import typing
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import httpx

from zeus.utils.zeusd import ZeusdCapabilityError, ZeusdClient, ZeusdConfig

logger = logging.getLogger(__name__)

_V = typing.TypeVar("_V")


@dataclass
class CpuPowerReading:
    """One CPU package's power and its DRAM's (None without DRAM readings), W."""

    cpu_w: float = 0.0
    dram_w: float | None = None


@dataclass
class PowerReadings:
    """One daemon's latest readings (W by device id) and the newest event's time (this host's
    clock, Unix s)."""

    timestamp_s: float = 0.0
    gpu_power_w: dict[int, float] = field(default_factory=dict)
    cpu_power_w: dict[int, CpuPowerReading] = field(default_factory=dict)


class _unless_stopped:
    """Swallows the RuntimeError of a client that stop() closed just before its request."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, value: BaseException | None, tb: typing.Any) -> bool:
        return kind is RuntimeError and self._stop.is_set()


class PowerStreamingClient:
    """Streams power from every daemon in ``servers`` (``ZeusdConfig``s; their
    ``gpu_indices``/``cpu_indices``: None all that the daemon has and the token may read, []
    none, a list exactly those or an error).

    ``get_power()`` -> {endpoint: PowerReadings}; ``for readings in client`` yields a snapshot
    after each update until ``stop()``; ``async for`` the same without blocking the loop.
    ``reconnect_delay_s``: the wait before reopening a stream that failed."""

    def __init__(self, servers: Sequence[ZeusdConfig], reconnect_delay_s: float = 1.0) -> None:
        self._servers = list(servers)
        self._reconnect_delay = reconnect_delay_s
        endpoints = [s.endpoint for s in self._servers]
        repeated = sorted({e for e in endpoints if endpoints.count(e) > 1})
        if repeated:
            raise ValueError(f"Duplicate server endpoints: {repeated}")
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._readings: dict[str, PowerReadings] = {}
        self._clock_offsets: dict[str, float] = {}
        self._daemon_clients: dict[str, ZeusdClient] = {}
        self._threads: list[threading.Thread] = []
        self._stop_event = threading.Event()
        self._open_clients: set[httpx.Client] = set()
        for server in self._servers:
            stream_gpu, stream_cpu = self._init_server(server)
            endpoint = server.endpoint
            self._clock_offsets[endpoint] = self._estimate_clock_offset(endpoint)
            for wanted, loop, kind in ((stream_gpu, self._gpu_stream_loop, "gpu"),
                                       (stream_cpu, self._cpu_stream_loop, "cpu")):
                if not wanted:
                    continue
                t = threading.Thread(target=loop, args=(server, endpoint), daemon=True,
                                     name=f"{kind}-power-stream-{endpoint}")
                t.start()
                self._threads.append(t)
                logger.info("Streaming %s power from %s", kind.upper(), endpoint)
        if not self._threads:
            logger.warning("No power stream was started: the daemons have none of the requested "
                           "devices, or the tokens may not read them.")

    # ---- the three ways to read ----

    def get_power(self) -> dict[str, PowerReadings]:
        """The latest readings of every daemon (copies)."""
        with self._lock:
            return {endpoint: PowerReadings(
                        timestamp_s=r.timestamp_s,
                        gpu_power_w=dict(r.gpu_power_w),
                        cpu_power_w={i: CpuPowerReading(c.cpu_w, c.dram_w) for i, c in r.cpu_power_w.items()})
                    for endpoint, r in self._readings.items()}

    def __iter__(self) -> Iterator[dict[str, PowerReadings]]:
        """A snapshot (as ``get_power()``) each time a reading arrives, until ``stop()``."""
        while not self._stop_event.is_set():
            updated = self._wait_for_update()
            if self._stop_event.is_set():
                return
            if updated:
                yield self.get_power()

    async def __aiter__(self) -> AsyncIterator[dict[str, PowerReadings]]:
        """As ``__iter__``, waiting in an executor thread so the event loop runs on."""
        import asyncio  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        while not self._stop_event.is_set():
            updated = await loop.run_in_executor(None, self._wait_for_update)
            if self._stop_event.is_set():
                return
            if updated:
                yield self.get_power()

    def _wait_for_update(self) -> bool:
        """Waits (1 s at most) for a reading; whether one came."""
        with self._condition:
            return self._condition.wait(timeout=1.0)

    def stop(self) -> None:
        """Stops the readers (a reader waiting on a quiet stream is woken) and the iterators."""
        self._stop_event.set()
        with self._condition:
            self._condition.notify_all()
        for http in list(getattr(self, "_open_clients", ())):
            http.close()
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads.clear()
        logger.info("Power streaming stopped")

    # ---- set-up ----

    def _init_server(self, server: ZeusdConfig) -> tuple[bool, bool]:
        """Discovers the daemon (ZeusdConnectionError if unreachable); whether to stream its GPUs
        and its CPUs."""
        client = ZeusdClient(server)
        endpoint = server.endpoint
        self._daemon_clients[endpoint] = client
        gpu = self._resolve_streaming(server.gpu_indices, set(client.gpu_ids), client.can_read_gpu,
                                      "gpu-read", "GPU", endpoint)
        cpu = self._resolve_streaming(server.cpu_indices, set(client.cpu_ids), client.can_read_cpu,
                                      "cpu-read", "CPU", endpoint)
        return gpu, cpu

    @staticmethod
    def _resolve_streaming(user_indices: list[int] | None, available_ids: set[int], has_permission: bool,
                           scope_name: str, device_type: str, endpoint: str) -> bool:
        """None: stream when there are devices and the scope (else skip quietly); []: never; a
        list: all must exist (ValueError) and the scope be granted (ZeusdCapabilityError)."""
        if user_indices is not None:
            if not user_indices:
                return False
            missing = set(user_indices) - available_ids
            if missing:
                raise ValueError(f"{device_type} indices {sorted(missing)} requested for {endpoint} "
                                 f"but only {sorted(available_ids)} are available")
            if not has_permission:
                raise ZeusdCapabilityError(f"Token for {endpoint} lacks required scope '{scope_name}' "
                                           f"(explicitly requested {device_type.lower()}_indices={user_indices})")
            return True
        if not available_ids:
            logger.info("%s has no %ss: not streaming their power", endpoint, device_type)
            return False
        if not has_permission:
            logger.info("The token for %s lacks '%s': not streaming %s power", endpoint, scope_name, device_type)
            return False
        return True

    def _estimate_clock_offset(self, endpoint: str, num_samples: int = 5) -> float:
        """This host's clock minus the daemon's (s): the median over ``num_samples`` ``/time``
        round trips, each against the round trip's midpoint."""
        client = self._daemon_clients[endpoint]
        url = client.url("/time")
        offsets = []
        with client.make_client() as http:
            for _ in range(num_samples):
                before = time.time()
                resp = http.get(url)
                after = time.time()
                resp.raise_for_status()
                offsets.append((before + after) / 2.0 - resp.json()["timestamp_ms"] / 1000.0)
        offset = statistics.median(offsets)
        logger.info("Clock offset of %s: %.4f s (median of %d)", endpoint, offset, num_samples)
        return offset

    # ---- the readers ----

    def _stream_url(self, endpoint: str, route: str, param: str, ids: list[int] | None) -> str:
        url = self._daemon_clients[endpoint].url(route)
        return url if ids is None else f"{url}?{param}={','.join(str(i) for i in ids)}"

    def _gpu_stream_loop(self, server: ZeusdConfig, endpoint: str) -> None:
        url = self._stream_url(endpoint, "/gpu/stream_power", "gpu_ids", server.gpu_indices)
        self._stream_loop(url, endpoint, self._process_gpu_event, "GPU")

    def _cpu_stream_loop(self, server: ZeusdConfig, endpoint: str) -> None:
        url = self._stream_url(endpoint, "/cpu/stream_power", "cpu_ids", server.cpu_indices)
        self._stream_loop(url, endpoint, self._process_cpu_event, "CPU")

    def _stream_loop(self, url: str, endpoint: str, process_fn: typing.Callable[[str, str], None],
                     label: str) -> None:
        """Reads the stream, reopening it after ``reconnect_delay_s`` when it fails, until
        ``stop()``; a refused token (401/403) ends the reader."""
        while not self._stop_event.is_set():
            try:
                self._connect_and_stream(url, endpoint, process_fn)
                continue  # the daemon ended the stream: reopen it
            except httpx.HTTPStatusError as e:
                if e.response.status_code in (401, 403):
                    logger.error("%s power stream of %s refused (HTTP %d): %s", label, endpoint,
                                 e.response.status_code, e.response.text)
                    return
                problem = f"refused (HTTP {e.response.status_code}: {e.response.text})"
            except httpx.RequestError as e:
                problem = f"lost ({e})"
            if not self._stop_event.is_set():
                logger.warning("%s power stream of %s %s; reconnecting in %.1f s", label, endpoint,
                               problem, self._reconnect_delay)
                self._stop_event.wait(timeout=self._reconnect_delay)

    def _connect_and_stream(self, url: str, endpoint: str,
                            process_fn: typing.Callable[[str, str], None]) -> None:
        client = self._daemon_clients[endpoint]
        with client.make_client() as http:
            self._open_clients.add(http)  # stop() closes it, which ends a wait for an event
            try:
                if self._stop_event.is_set():
                    return
                with _unless_stopped(self._stop_event), http.stream("GET", url, timeout=None) as response:
                    if response.status_code != 200:
                        response.read()
                    response.raise_for_status()
                    if self._stop_event.is_set():
                        return
                    pending = ""
                    for chunk in response.iter_text():
                        if self._stop_event.is_set():
                            return
                        pending += chunk
                        while "\n\n" in pending:
                            event, pending = pending.split("\n\n", 1)
                            process_fn(event, endpoint)
            finally:
                self._open_clients.discard(http)

    # ---- events ----

    def _iter_event_data(self, event_text: str, endpoint: str,
                         device: str) -> Iterator[tuple[str, dict[str, typing.Any]]]:
        """The (text, parsed JSON) of each ``data:`` line of an event; bad JSON is logged."""
        for line in event_text.strip().split("\n"):
            if not line.startswith("data: "):
                continue
            text = line[len("data: "):]
            try:
                yield text, json.loads(text)
            except json.JSONDecodeError:
                logger.warning("Bad JSON in a %s power event of %s: %s", device, endpoint, text[:100])

    def _store_reading(self, endpoint: str, timestamp_s: float,
                       device_dict: typing.Callable[[PowerReadings], dict[int, _V]], device_id: int,
                       value: _V) -> None:
        """Sets one device's reading, moves the daemon's time forward, wakes the iterators."""
        with self._condition:
            readings = self._readings.get(endpoint)
            if readings is None:
                readings = self._readings[endpoint] = PowerReadings(timestamp_s=timestamp_s)
            else:
                readings.timestamp_s = max(readings.timestamp_s, timestamp_s)
            device_dict(readings)[device_id] = value
            self._condition.notify_all()

    def _event_time(self, data: dict[str, typing.Any], endpoint: str) -> float:
        return float(data["timestamp_ms"]) / 1000.0 + self._clock_offsets[endpoint]

    def _process_gpu_event(self, event_text: str, endpoint: str) -> None:
        """``{"timestamp_ms", "gpu_id", "power_mw"}`` events: one GPU's power."""
        for text, data in self._iter_event_data(event_text, endpoint, "GPU"):
            try:
                if data.get("gpu_id") is None or data.get("power_mw") is None:
                    raise ValueError("missing gpu_id or power_mw")
                gpu, watts = int(data["gpu_id"]), float(data["power_mw"]) / 1000.0
                when = self._event_time(data, endpoint)
            except (KeyError, TypeError, ValueError):
                logger.warning("Malformed GPU power event of %s: %s", endpoint, text[:100])
                continue
            self._store_reading(endpoint, when, lambda r: r.gpu_power_w, gpu, watts)

    def _process_cpu_event(self, event_text: str, endpoint: str) -> None:
        """``{"timestamp_ms", "cpu_id", "cpu_mw", "dram_mw"}`` events: one package's power."""
        for text, data in self._iter_event_data(event_text, endpoint, "CPU"):
            try:
                if data.get("cpu_id") is None or data.get("cpu_mw") is None:
                    raise ValueError("missing cpu_id or cpu_mw")
                dram = data.get("dram_mw")
                cpu = int(data["cpu_id"])
                reading = CpuPowerReading(float(data["cpu_mw"]) / 1000.0,
                                          None if dram is None else float(dram) / 1000.0)
                when = self._event_time(data, endpoint)
            except (KeyError, TypeError, ValueError):
                logger.warning("Malformed CPU power event of %s: %s", endpoint, text[:100])
                continue
            self._store_reading(endpoint, when, lambda r: r.cpu_power_w, cpu, reading)


__all__ = ["CpuPowerReading", "PowerReadings", "PowerStreamingClient"]
