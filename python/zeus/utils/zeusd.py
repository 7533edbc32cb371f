"""The newer Zeus's zeusd client API (``zeus.utils.zeusd``): where a daemon is (``ZeusdConfig``),
what it offers and allows (``ZeusdClient``: ``/discover``, ``/auth/whoami``), its typed calls,
and ``require_capabilities``.

HTTP goes through libzeus's zeusd client (``zeus/zeusd_client.h``): ``ZeusdConfig.make_client()``
returns an ``httpx.Client`` whose transport is ``LibzeusTransport``, so code written for the
original (which patches ``make_client`` or uses the client's ``get``/``post``/``stream``) works
unchanged, over the daemon's Unix socket or TCP. The device layer reaches zeusd through the same
client in C (``ZEUSD_SOCK_PATH`` / ``ZEUSD_HOST_PORT``)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Iterator

import httpx

from zeus import _zeus
from zeus.exception import ZeusBaseError

logger = logging.getLogger(__name__)


class ZeusdConnectionError(ZeusBaseError):
    """zeusd could not be reached (or answered ``/discover`` with an error)."""


class ZeusdAuthError(ZeusBaseError):
    """No token, or the daemon refused it."""


class ZeusdCapabilityError(ZeusBaseError):
    """The daemon does not offer, or the token does not allow, what the caller needs."""


@dataclass(frozen=True)
class GpuInfo:
    """A GPU of the daemon: its id in the daemon's routes and its model name."""

    id: int
    name: str
    pci_address: str = ""
    cumulative_energy_available: bool = False


@dataclass(frozen=True)
class CpuInfo:
    """A CPU package of the daemon (RAPL package id) and whether it reads DRAM energy."""

    id: int
    dram_available: bool


@dataclass(frozen=True)
class GpuPowerSnapshot:
    """GPU power (mW by GPU id) at the daemon's ``timestamp_ms``."""

    timestamp_ms: int
    power_mw: dict[int, int]


@dataclass(frozen=True)
class CpuDramPower:
    """One package's power and its DRAM's (None without DRAM readings), mW."""

    cpu_mw: int
    dram_mw: int | None


@dataclass(frozen=True)
class CpuPowerSnapshot:
    """CPU power by package id at the daemon's ``timestamp_ms``."""

    timestamp_ms: int
    power_mw: dict[int, CpuDramPower]


@dataclass(frozen=True)
class CpuEnergyResult:
    """Cumulative package and DRAM energy (uJ), None where not asked for or not available."""

    cpu_energy_uj: int | None
    dram_energy_uj: int | None


# ---- the transport: httpx over libzeus's zeusd client ----

# libzeus error names -> the httpx exception a transport raises for them.
_TRANSPORT_ERRORS: dict[str, type[httpx.TransportError]] = {
    "ZEUS_ENODEV": httpx.ConnectError,
    "ZEUS_ETIMEOUT": httpx.ReadTimeout,
    "ZEUS_EIO": httpx.ReadError,
    "ZEUS_EPARSE": httpx.RemoteProtocolError,
    "ZEUS_EINVAL": httpx.LocalProtocolError,
}
# Header lines libzeus writes itself (the request's framing).
_OWN_HEADERS = frozenset({"host", "connection", "content-length", "transfer-encoding"})


def _transport_error(e: Exception, request: httpx.Request) -> httpx.TransportError:
    name = getattr(e, "zeus_error", "")
    cls = _TRANSPORT_ERRORS.get(name, httpx.TransportError)
    if name == "ZEUS_ETIMEOUT" and "connecting" in str(e):
        cls = httpx.ConnectTimeout
    return cls(str(e), request=request)


def _timeout_s(request: httpx.Request, key: str) -> float | None:
    value = (request.extensions.get("timeout") or {}).get(key)
    return None if value is None else float(value)


class _EventStream(httpx.SyncByteStream):
    """An event-stream body: each event (its lines and the blank line that ends it) as one
    chunk, read by libzeus; ``cancel()`` (from any thread) ends the iteration."""

    def __init__(self, stream: Any, request: httpx.Request, read_timeout_s: float | None,
                 streams: set[_EventStream]) -> None:
        self._stream = stream
        self._streams = streams
        streams.add(self)
        self._request = request
        self._timeout = -1.0 if read_timeout_s is None else read_timeout_s
        self._cancelled = False

    def __iter__(self) -> Iterator[bytes]:
        while not self._cancelled:
            try:
                event = self._stream.next(self._timeout)
            except ZeusBaseError as e:
                if getattr(e, "zeus_error", "") == "ZEUS_ESTATE" or self._cancelled:
                    return  # cancelled: the stream ends
                raise _transport_error(e, self._request) from None
            if event is None:
                return
            yield event + b"\n\n"

    def cancel(self) -> None:
        self._cancelled = True
        self._stream.cancel()

    def close(self) -> None:
        self._streams.discard(self)
        self._stream.close()


class LibzeusTransport(httpx.BaseTransport):
    """An ``httpx`` transport over libzeus's zeusd client: requests to a daemon's Unix socket
    (``uds``) or to the URL's host and port over TCP. An answer that is an event stream
    (``text/event-stream``) stays open and is read event by event; any other is read whole.
    ``timeout_s``: the default when a request carries no timeout. ``close()`` (the client's,
    from any thread) ends the event streams still open."""

    def __init__(self, uds: str | None = None, timeout_s: float = 5.0) -> None:
        self.uds = uds
        self.timeout_s = timeout_s
        self._streams: set[_EventStream] = set()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        for stream in list(self._streams):
            stream.cancel()

    def _connection(self, request: httpx.Request) -> Any:
        timeout = _timeout_s(request, "read")
        connect = _timeout_s(request, "connect")
        limit = max(t for t in (timeout, connect, 0.0) if t is not None) or self.timeout_s
        if self.uds is not None:
            return _zeus.ZeusdConnection(socket_path=self.uds, timeout_s=limit)
        host = request.url.host
        if ":" in host:
            host = f"[{host}]"
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        return _zeus.ZeusdConnection(host_port=f"{host}:{port}", timeout_s=limit)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"zeusd is reached over http://, not {request.url}",
                                            request=request)
        headers = "".join(f"{k}: {v}\r\n" for k, v in request.headers.multi_items()
                          if k.lower() not in _OWN_HEADERS)
        body = request.read()
        try:
            conn = self._connection(request)
            status, head, content, stream = conn.open(request.method, request.url.raw_path.decode("ascii"),
                                                      headers, body)
        except ZeusBaseError as e:
            raise _transport_error(e, request) from None
        response_headers = [tuple(line.split(":", 1)) for line in head.split("\r\n") if ":" in line]
        response_headers = [(k.strip(), v.strip()) for k, v in response_headers
                            if k.strip().lower() != "transfer-encoding"]  # libzeus decoded it
        if stream is not None:
            body_stream = _EventStream(stream, request, _timeout_s(request, "read"), self._streams)
            if self._closed:  # closed (from another thread) while the stream was opening
                body_stream.cancel()
            return httpx.Response(status, headers=response_headers, stream=body_stream,
                                  request=request)
        return httpx.Response(status, headers=response_headers, content=content, request=request)


# ---- where a daemon is ----


@dataclass(frozen=True)
class ZeusdConfig:
    """Where a zeusd is (``socket_path`` or ``host_port``), its token, and for
    ``PowerStreamingClient`` the device indices to stream (None all, [] none). Build it with
    ``tcp``, ``uds`` or ``from_env``."""

    host_port: str | None = None
    socket_path: str | None = None
    token: str | None = None
    gpu_indices: list[int] | None = None
    cpu_indices: list[int] | None = None

    @classmethod
    def tcp(cls, host: str, port: int, *, token: str | None = None,
            gpu_indices: list[int] | None = None, cpu_indices: list[int] | None = None) -> ZeusdConfig:
        """A daemon listening on ``host:port``."""
        return cls(host_port=f"{host}:{port}", token=token, gpu_indices=gpu_indices, cpu_indices=cpu_indices)

    @classmethod
    def uds(cls, socket_path: str, *, token: str | None = None,
            gpu_indices: list[int] | None = None, cpu_indices: list[int] | None = None) -> ZeusdConfig:
        """A daemon on a Unix socket."""
        return cls(socket_path=socket_path, token=token, gpu_indices=gpu_indices, cpu_indices=cpu_indices)

    @classmethod
    def from_env(cls) -> ZeusdConfig | None:
        """``ZEUSD_SOCK_PATH`` (first) or ``ZEUSD_HOST_PORT``, with ``ZEUSD_TOKEN``; None when
        neither is set."""
        token = os.environ.get("ZEUSD_TOKEN")
        socket_path = os.environ.get("ZEUSD_SOCK_PATH")
        if socket_path is not None:
            return cls.uds(socket_path, token=token)
        host_port = os.environ.get("ZEUSD_HOST_PORT")
        if host_port is not None:
            return cls(host_port=host_port, token=token)
        return None

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def make_client(self) -> httpx.Client:
        """An ``httpx.Client`` to this daemon over libzeus (``LibzeusTransport``), with the
        token's ``Authorization`` header."""
        transport = LibzeusTransport(uds=self.socket_path)
        return httpx.Client(transport=transport, base_url=self.url(""), headers=self._auth_headers())

    def url(self, path: str) -> str:
        """The URL of a route (``http://localhost/...`` over the Unix socket)."""
        return f"http://localhost{path}" if self.socket_path is not None else f"http://{self.host_port}{path}"

    @property
    def endpoint(self) -> str:
        """The socket path or ``host:port``: the daemon's name in messages and results."""
        if self.socket_path is not None:
            return self.socket_path
        if self.host_port is not None:
            return self.host_port
        raise ValueError("ZeusdConfig needs socket_path or host_port")


# ---- one daemon ----


def _ids(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def _flag(value: bool) -> str:
    return "true" if value else "false"


class ZeusdClient:
    """One daemon: ``/discover`` (its GPUs, CPUs and API groups), ``/auth/whoami`` when it wants
    a token (a problem is kept in ``auth_error``, not raised), and a typed method per route; a
    non-200 answer raises ``ZeusdError("Failed to <method>: <body>")``.

    ``config``: None reads ``ZEUSD_SOCK_PATH`` / ``ZEUSD_HOST_PORT`` / ``ZEUSD_TOKEN``.
    ZeusdConnectionError when no daemon is configured, it cannot be reached (the message names
    the socket or address and why) or ``/discover`` fails."""

    def __init__(self, config: ZeusdConfig | None = None) -> None:
        if config is None:
            config = ZeusdConfig.from_env()
        if config is None:
            raise ZeusdConnectionError("No Zeusd connection configured: set ZEUSD_SOCK_PATH or "
                                       "ZEUSD_HOST_PORT, or pass a ZeusdConfig.")
        self._config = config
        self._client = config.make_client()
        try:
            resp = self._client.get(config.url("/discover"))
        except httpx.RequestError as e:
            raise ZeusdConnectionError(f"Cannot reach Zeusd at {config.endpoint}: {e}") from e
        if resp.status_code != 200:
            raise ZeusdConnectionError(f"Zeusd at {config.endpoint} returned HTTP {resp.status_code} "
                                       f"on /discover: {resp.text}")
        found = resp.json()
        if "gpus" not in found or "enabled_api_groups" not in found:
            raise ZeusdConnectionError(f"Zeusd at {config.endpoint} answered /discover without its "
                                       "devices: upgrade zeusd")
        self._gpus = [GpuInfo(g["id"], g["name"], g.get("pci_address", ""),
                              bool(g.get("cumulative_energy_available", False))) for g in found["gpus"]]
        self._cpus = [CpuInfo(c["id"], c["dram_available"]) for c in found.get("cpus", [])]
        self._gpu_ids = [g.id for g in self._gpus]
        self._cpu_ids = [c.id for c in self._cpus]
        self._dram_available = [c.dram_available for c in self._cpus]
        self._enabled_api_groups: set[str] = set(found["enabled_api_groups"])
        self._auth_required = bool(found.get("auth_required", False))
        self._auth_error: str | None = None
        self._granted_scopes: frozenset[str] = frozenset()
        self._whoami_sub: str | None = None
        self._whoami_exp: int | None = None
        if self._auth_required:
            self._authenticate()

    def _authenticate(self) -> None:
        endpoint = self._config.endpoint
        if not self._config.token:
            self._auth_error = (f"Zeusd at {endpoint} requires authentication but no token was "
                                "provided: set ZEUSD_TOKEN or pass token= in the ZeusdConfig.")
        else:
            resp = self._client.get(self._config.url("/auth/whoami"))
            if resp.status_code == 401:
                self._auth_error = f"Token rejected by Zeusd at {endpoint}: {resp.text}"
            elif resp.status_code != 200:
                self._auth_error = (f"Unexpected answer from /auth/whoami at {endpoint} "
                                    f"(HTTP {resp.status_code}): {resp.text}")
            else:
                who = resp.json()
                self._granted_scopes = frozenset(who.get("scopes", []))
                self._whoami_sub = who.get("sub")
                self._whoami_exp = who.get("exp")
                logger.info("Authenticated with Zeusd at %s as '%s' (scopes: %s)", endpoint,
                            self._whoami_sub, sorted(self._granted_scopes))
        if self._auth_error:
            logger.warning("Zeusd at %s: %s", endpoint, self._auth_error)

    endpoint = property(lambda self: self._config.endpoint, doc="The daemon's socket or host:port.")
    gpus = property(lambda self: list(self._gpus), doc="The daemon's GPUs (GpuInfo).")
    gpu_ids = property(lambda self: list(self._gpu_ids), doc="Their ids.")
    cpus = property(lambda self: list(self._cpus), doc="The daemon's CPU packages (CpuInfo).")
    cpu_ids = property(lambda self: list(self._cpu_ids), doc="Their ids.")
    dram_available = property(lambda self: list(self._dram_available),
                              doc="Whether each CPU (in cpu_ids' order) reads DRAM energy.")
    auth_required = property(lambda self: self._auth_required, doc="Whether the daemon wants a token.")
    auth_error = property(lambda self: self._auth_error, doc="Why authentication failed, or None.")
    granted_scopes = property(lambda self: self._granted_scopes, doc="The token's scopes.")

    def _can(self, group: str) -> bool:
        return group in self._enabled_api_groups and (not self._auth_required or group in self._granted_scopes)

    can_read_gpu = property(lambda self: self._can("gpu-read"), doc="gpu-read enabled and allowed.")
    can_control_gpu = property(lambda self: self._can("gpu-control"), doc="gpu-control enabled and allowed.")
    can_read_cpu = property(lambda self: self._can("cpu-read"), doc="cpu-read enabled and allowed.")

    def make_client(self) -> httpx.Client:
        """A new ``httpx.Client`` to the daemon (for a long-lived stream)."""
        return self._config.make_client()

    def url(self, path: str) -> str:
        """The URL of a route, for ``make_client()``'s client."""
        return self._config.url(path)

    def _call(self, method: str, path: str, operation: str, params: dict[str, str] | None = None) -> Any:
        resp = self._client.request(method, self._config.url(path), params=params or None)
        if resp.status_code != 200:
            from zeus.device.exception import ZeusdError  # noqa: PLC0415 (it imports zeus.utils)

            raise ZeusdError(f"Failed to {operation}: {resp.text}")
        return resp.json() if resp.content and method == "GET" else None

    @staticmethod
    def _gpu_params(gpu_ids: list[int] | None, **extra: str) -> dict[str, str]:
        params = {} if gpu_ids is None else {"gpu_ids": _ids(gpu_ids)}
        params.update(extra)
        return params

    def get_gpu_energy(self, gpu_ids: list[int]) -> dict[int, int]:
        """Cumulative energy (mJ) by GPU id."""
        found = self._call("GET", "/gpu/get_cumulative_energy", "get_gpu_energy", self._gpu_params(gpu_ids))
        return {int(k): v["energy_mj"] for k, v in found.items()}

    def get_gpu_power(self, gpu_ids: list[int] | None = None) -> GpuPowerSnapshot:
        """Power (mW) of the GPUs (None: all)."""
        found = self._call("GET", "/gpu/get_power", "get_gpu_power", self._gpu_params(gpu_ids))
        return GpuPowerSnapshot(found["timestamp_ms"], {int(k): v for k, v in found["power_mw"].items()})

    def set_power_limit(self, gpu_ids: list[int], power_limit_mw: int, block: bool = True) -> None:
        """Sets the GPUs' power limit."""
        self._call("POST", "/gpu/set_power_limit", "set_power_limit",
                   self._gpu_params(gpu_ids, power_limit_mw=str(power_limit_mw), block=_flag(block)))

    def set_persistence_mode(self, gpu_ids: list[int], enabled: bool, block: bool = True) -> None:
        """Turns persistence mode on or off."""
        self._call("POST", "/gpu/set_persistence_mode", "set_persistence_mode",
                   self._gpu_params(gpu_ids, enabled=_flag(enabled), block=_flag(block)))

    def get_persistence_mode(self, gpu_ids: list[int] | None = None) -> dict[int, bool]:
        """Persistence mode by GPU id."""
        found = self._call("GET", "/gpu/get_persistence_mode", "get_persistence_mode", self._gpu_params(gpu_ids))
        return {int(k): v["enabled"] for k, v in found.items()}

    def get_power_limit(self, gpu_ids: list[int] | None = None) -> dict[int, int]:
        """Power limit (mW) by GPU id."""
        found = self._call("GET", "/gpu/get_power_limit", "get_power_limit", self._gpu_params(gpu_ids))
        return {int(k): v["power_limit_mw"] for k, v in found.items()}

    def get_power_limit_constraints(self, gpu_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
        """(min, max) power limit (mW) by GPU id."""
        found = self._call("GET", "/gpu/get_power_limit_constraints", "get_power_limit_constraints",
                           self._gpu_params(gpu_ids))
        return {int(k): (v["min_power_limit_mw"], v["max_power_limit_mw"]) for k, v in found.items()}

    def set_gpu_locked_clocks(self, gpu_ids: list[int], min_clock_mhz: int, max_clock_mhz: int,
                              block: bool = True) -> None:
        """Locks the GPU clock to [min, max] MHz."""
        self._call("POST", "/gpu/set_gpu_locked_clocks", "set_gpu_locked_clocks",
                   self._gpu_params(gpu_ids, min_clock_mhz=str(min_clock_mhz),
                                    max_clock_mhz=str(max_clock_mhz), block=_flag(block)))

    def reset_gpu_locked_clocks(self, gpu_ids: list[int], block: bool = True) -> None:
        """Unlocks the GPU clock."""
        self._call("POST", "/gpu/reset_gpu_locked_clocks", "reset_gpu_locked_clocks",
                   self._gpu_params(gpu_ids, block=_flag(block)))

    def reset_locked_clocks(self, gpu_ids: list[int], block: bool = True) -> None:
        """Unlocks the GPU and memory clocks (an older route name, kept)."""
        self._call("POST", "/gpu/reset_locked_clocks", "reset_locked_clocks",
                   self._gpu_params(gpu_ids, block=_flag(block)))

    def set_mem_locked_clocks(self, gpu_ids: list[int], min_clock_mhz: int, max_clock_mhz: int,
                              block: bool = True) -> None:
        """Locks the memory clock to [min, max] MHz."""
        self._call("POST", "/gpu/set_mem_locked_clocks", "set_mem_locked_clocks",
                   self._gpu_params(gpu_ids, min_clock_mhz=str(min_clock_mhz),
                                    max_clock_mhz=str(max_clock_mhz), block=_flag(block)))

    def reset_mem_locked_clocks(self, gpu_ids: list[int], block: bool = True) -> None:
        """Unlocks the memory clock."""
        self._call("POST", "/gpu/reset_mem_locked_clocks", "reset_mem_locked_clocks",
                   self._gpu_params(gpu_ids, block=_flag(block)))

    def get_cpu_energy(self, cpu_ids: list[int] | None = None, cpu: bool = True,
                       dram: bool = True) -> dict[int, CpuEnergyResult]:
        """Cumulative package and DRAM energy (uJ) by CPU id."""
        params = {"cpu": _flag(cpu), "dram": _flag(dram)}
        if cpu_ids is not None:
            params["cpu_ids"] = _ids(cpu_ids)
        found = self._call("GET", "/cpu/get_cumulative_energy", "get_cpu_energy", params)
        return {int(k): CpuEnergyResult(v.get("cpu_energy_uj"), v.get("dram_energy_uj")) for k, v in found.items()}

    def get_cpu_power(self, cpu_ids: list[int] | None = None) -> CpuPowerSnapshot:
        """Package and DRAM power (mW) by CPU id."""
        params = {} if cpu_ids is None else {"cpu_ids": _ids(cpu_ids)}
        found = self._call("GET", "/cpu/get_power", "get_cpu_power", params)
        return CpuPowerSnapshot(found["timestamp_ms"], {int(k): CpuDramPower(v["cpu_mw"], v.get("dram_mw"))
                                                        for k, v in found["power_mw"].items()})

    def get_time(self) -> float:
        """The daemon's clock, Unix seconds."""
        return self._call("GET", "/time", "get_time")["timestamp_ms"] / 1000.0


def _missing_group(client: ZeusdClient, group: str) -> str:
    if group not in client._enabled_api_groups:
        return f"API group '{group}' is not enabled on this server"
    if client.auth_required and group not in client.granted_scopes:
        return f"Token lacks required scope '{group}' (granted: {sorted(client.granted_scopes)})"
    return f"'{group}' is not available"


def require_capabilities(client: ZeusdClient, *, read_gpu: bool = False, control_gpu: bool = False,
                         read_cpu: bool = False, gpu_ids: list[int] | None = None,
                         cpu_ids: list[int] | None = None) -> None:
    """Fails early: ZeusdAuthError when authentication failed; ZeusdCapabilityError naming every
    API group, scope and device id the caller needs and the daemon does not give."""
    if client.auth_error:
        raise ZeusdAuthError(client.auth_error)
    problems = [_missing_group(client, group)
                for wanted, group, ok in ((read_gpu, "gpu-read", client.can_read_gpu),
                                          (control_gpu, "gpu-control", client.can_control_gpu),
                                          (read_cpu, "cpu-read", client.can_read_cpu))
                if wanted and not ok]
    for ids, have, what in ((gpu_ids, client.gpu_ids, "GPU"), (cpu_ids, client.cpu_ids, "CPU")):
        missing = set(ids or ()) - set(have)
        if missing:
            problems.append(f"{what} indices {sorted(missing)} not available (available: {sorted(have)})")
    if problems:
        raise ZeusdCapabilityError(f"Zeusd at {client.endpoint}: " + "; ".join(problems))


__all__ = [
    "ZeusdConnectionError",
    "ZeusdAuthError",
    "ZeusdCapabilityError",
    "GpuInfo",
    "CpuInfo",
    "GpuPowerSnapshot",
    "CpuDramPower",
    "CpuPowerSnapshot",
    "CpuEnergyResult",
    "LibzeusTransport",
    "ZeusdConfig",
    "ZeusdClient",
    "require_capabilities",
]
