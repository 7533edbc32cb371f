"""The newer Zeus's zeusd client API (``zeus.utils.zeusd``): where a daemon is
(``ZeusdConfig``), what it offers (``ZeusdClient``: ``/discover``, ``/auth/whoami``) and its
typed calls, over HTTP/1.1 on a Unix socket or TCP (Python's ``http.client``; the original uses
httpx, which this package does not need).

The device layer does not go through this class: GPUs and CPUs reach zeusd through libzeus's
own client (``ZEUSD_SOCK_PATH`` / ``ZEUSD_HOST_PORT``). This is the API for programs that talk
to daemons themselves (and ``PowerStreamingClient``)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterator

from zeus.device.exception import ZeusdError
from zeus.exception import ZeusBaseError


class ZeusdConnectionError(ZeusBaseError):
    """zeusd could not be reached, or is too old."""


class ZeusdAuthError(ZeusBaseError):
    """The token was refused."""


class ZeusdCapabilityError(ZeusBaseError):
    """The daemon does not offer (or the token does not allow) what is needed."""


@dataclass(frozen=True)
class GpuInfo:
    id: int
    name: str
    pci_address: str
    cumulative_energy_available: bool


@dataclass(frozen=True)
class CpuInfo:
    id: int
    dram_available: bool


@dataclass(frozen=True)
class GpuPowerSnapshot:
    timestamp_ms: int
    power_mw: dict[int, int]


@dataclass(frozen=True)
class CpuDramPower:
    cpu_mw: int
    dram_mw: int | None


@dataclass(frozen=True)
class CpuPowerSnapshot:
    timestamp_ms: int
    power_mw: dict[int, CpuDramPower]


@dataclass(frozen=True)
class CpuEnergyResult:
    cpu_energy_uj: int | None
    dram_energy_uj: int | None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class _Response:
    def __init__(self, status: int, text: str) -> None:
        self.status_code = status
        self.text = text

    def json(self) -> Any:
        return json.loads(self.text)


class ZeusdHTTP:
    """A minimal HTTP client of one daemon (what ``ZeusdConfig.make_client`` returns)."""

    def __init__(self, config: ZeusdConfig, timeout: float | None = 10.0) -> None:
        self.config = config
        self.timeout = timeout

    def _conn(self, timeout: float | None) -> http.client.HTTPConnection:
        if self.config.socket_path:
            return _UnixConnection(self.config.socket_path, timeout)
        host, _, port = (self.config.host_port or "").rpartition(":")
        return http.client.HTTPConnection(host, int(port), timeout=timeout)

    def _headers(self) -> dict[str, str]:
        h = {"Host": "zeusd"}
        if self.config.token:
            h["Authorization"] = f"Bearer {self.config.token}"
        return h

    def request(self, method: str, path: str, params: dict[str, str] | None = None) -> _Response:
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        conn = self._conn(self.timeout)
        try:
            conn.request(method, target, headers=self._headers())
            resp = conn.getresponse()
            return _Response(resp.status, resp.read().decode(errors="replace"))
        finally:
            conn.close()

    def get(self, path: str, params: dict[str, str] | None = None) -> _Response:
        return self.request("GET", path, params)

    def post(self, path: str, params: dict[str, str] | None = None) -> _Response:
        return self.request("POST", path, params)

    def stream(self, path: str, params: dict[str, str] | None = None,
               on_open: Any = None) -> Iterator[str]:
        """The lines of a server-sent-event stream (no read timeout); raises ZeusdError with
        the status for a non-200 answer. ``on_open(conn)`` gets the connection (to close it
        from another thread)."""
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        conn = self._conn(None)
        if on_open is not None:
            on_open(conn)
        try:
            conn.request("GET", target, headers=self._headers())
            resp = conn.getresponse()
            if resp.status != 200:
                err = ZeusdError(f"{path}: {resp.status} {resp.read().decode(errors='replace')}")
                err.status_code = resp.status  # type: ignore[attr-defined]
                raise err
            while line := resp.readline():
                yield line.decode(errors="replace").rstrip("\r\n")
        finally:
            conn.close()


@dataclass(frozen=True)
class ZeusdConfig:
    """Where a zeusd is: ``socket_path`` or ``host_port``, an optional token, and the device
    indices a client wants (None: all)."""

    host_port: str | None = None
    socket_path: str | None = None
    token: str | None = None
    gpu_indices: list[int] | None = None
    cpu_indices: list[int] | None = None

    @classmethod
    def tcp(cls, host: str, port: int, *, token: str | None = None,
            gpu_indices: list[int] | None = None, cpu_indices: list[int] | None = None) -> ZeusdConfig:
        return cls(host_port=f"{host}:{port}", token=token, gpu_indices=gpu_indices, cpu_indices=cpu_indices)

    @classmethod
    def uds(cls, socket_path: str, *, token: str | None = None,
            gpu_indices: list[int] | None = None, cpu_indices: list[int] | None = None) -> ZeusdConfig:
        return cls(socket_path=socket_path, token=token, gpu_indices=gpu_indices, cpu_indices=cpu_indices)

    @classmethod
    def from_env(cls) -> ZeusdConfig | None:
        """``ZEUSD_SOCK_PATH`` (wins) or ``ZEUSD_HOST_PORT``, with ``ZEUSD_TOKEN``; None if unset."""
        token = os.environ.get("ZEUSD_TOKEN") or None
        if sock := os.environ.get("ZEUSD_SOCK_PATH"):
            return cls(socket_path=sock, token=token)
        if hp := os.environ.get("ZEUSD_HOST_PORT"):
            return cls(host_port=hp, token=token)
        return None

    @property
    def endpoint(self) -> str:
        if self.socket_path:
            return self.socket_path
        if self.host_port:
            return self.host_port
        raise ValueError("ZeusdConfig needs socket_path or host_port")

    def url(self, path: str) -> str:
        return f"http://localhost{path}" if self.socket_path else f"http://{self.host_port}{path}"

    def make_client(self) -> ZeusdHTTP:
        return ZeusdHTTP(self)


class ZeusdClient:
    """One daemon: what it offers (from ``/discover``) and its typed calls (non-200 answers
    raise ``ZeusdError("Failed to <op>: <body>")``)."""

    def __init__(self, config: ZeusdConfig | None = None) -> None:
        config = config or ZeusdConfig.from_env()
        if config is None:
            raise ZeusdConnectionError("No zeusd configured (set ZEUSD_SOCK_PATH or ZEUSD_HOST_PORT)")
        self.config = config
        self._http = config.make_client()
        try:
            resp = self._http.get("/discover")
        except OSError as e:
            raise ZeusdConnectionError(f"Cannot reach zeusd at {config.endpoint}: {e}") from None
        if resp.status_code != 200:
            raise ZeusdConnectionError(f"zeusd at {config.endpoint} answered /discover with {resp.status_code}: {resp.text}")
        d = resp.json()
        if "gpus" not in d or "enabled_api_groups" not in d:
            raise ZeusdConnectionError(f"zeusd at {config.endpoint} is too old (no device discovery): upgrade zeusd")
        self._gpus = [GpuInfo(g["id"], g.get("name", ""), g.get("pci_address", ""),
                              bool(g.get("cumulative_energy_available", False))) for g in d["gpus"]]
        self._cpus = [CpuInfo(c["id"], bool(c.get("dram_available", False))) for c in d.get("cpus", [])]
        self._groups = set(d.get("enabled_api_groups", []))
        self._auth_required = bool(d.get("auth_required", False))
        self._scopes: set[str] = set()
        self._auth_error: str | None = None
        if self._auth_required:
            who = self._http.get("/auth/whoami")
            if who.status_code == 200:
                self._scopes = set(who.json().get("scopes", []))
            else:
                self._auth_error = f"{who.status_code}: {who.text}"

    endpoint = property(lambda self: self.config.endpoint)
    gpus = property(lambda self: list(self._gpus))
    gpu_ids = property(lambda self: [g.id for g in self._gpus])
    cpus = property(lambda self: list(self._cpus))
    cpu_ids = property(lambda self: [c.id for c in self._cpus])
    dram_available = property(lambda self: {c.id: c.dram_available for c in self._cpus})
    auth_required = property(lambda self: self._auth_required)
    auth_error = property(lambda self: self._auth_error)
    granted_scopes = property(lambda self: set(self._scopes))

    def _can(self, group: str) -> bool:
        return group in self._groups and (not self._auth_required or group in self._scopes)

    can_read_gpu = property(lambda self: self._can("gpu-read"))
    can_control_gpu = property(lambda self: self._can("gpu-control"))
    can_read_cpu = property(lambda self: self._can("cpu-read"))

    def make_client(self) -> ZeusdHTTP:
        return self.config.make_client()

    def url(self, path: str) -> str:
        return self.config.url(path)

    def _call(self, method: str, path: str, op: str, params: dict[str, str]) -> Any:
        resp = self._http.request(method, path, params)
        if resp.status_code != 200:
            raise ZeusdError(f"Failed to {op}: {resp.text}")
        return resp.json() if resp.text else None

    @staticmethod
    def _gpu_params(gpu_ids: list[int] | None, **kw: Any) -> dict[str, str]:
        p = {} if gpu_ids is None else {"gpu_ids": ",".join(str(i) for i in gpu_ids)}
        p.update({k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in kw.items()})
        return p

    def get_gpu_energy(self, gpu_ids: list[int]) -> dict[int, int]:
        d = self._call("GET", "/gpu/get_cumulative_energy", "get GPU energy", self._gpu_params(gpu_ids))
        return {int(k): v["energy_mj"] for k, v in d.items()}

    def get_gpu_power(self, gpu_ids: list[int] | None = None) -> GpuPowerSnapshot:
        d = self._call("GET", "/gpu/get_power", "get GPU power", self._gpu_params(gpu_ids))
        return GpuPowerSnapshot(d["timestamp_ms"], {int(k): v for k, v in d["power_mw"].items()})

    def set_power_limit(self, gpu_ids: list[int], power_limit_mw: int, block: bool = True) -> None:
        self._call("POST", "/gpu/set_power_limit", "set power limit",
                   self._gpu_params(gpu_ids, power_limit_mw=power_limit_mw, block=block))

    def set_persistence_mode(self, gpu_ids: list[int], enabled: bool, block: bool = True) -> None:
        self._call("POST", "/gpu/set_persistence_mode", "set persistence mode",
                   self._gpu_params(gpu_ids, enabled=enabled, block=block))

    def get_persistence_mode(self, gpu_ids: list[int] | None = None) -> dict[int, bool]:
        d = self._call("GET", "/gpu/get_persistence_mode", "get persistence mode", self._gpu_params(gpu_ids))
        return {int(k): v["enabled"] for k, v in d.items()}

    def get_power_limit(self, gpu_ids: list[int] | None = None) -> dict[int, int]:
        d = self._call("GET", "/gpu/get_power_limit", "get power limit", self._gpu_params(gpu_ids))
        return {int(k): v["power_limit_mw"] for k, v in d.items()}

    def get_power_limit_constraints(self, gpu_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
        d = self._call("GET", "/gpu/get_power_limit_constraints", "get power limit constraints",
                       self._gpu_params(gpu_ids))
        return {int(k): (v["min_power_limit_mw"], v["max_power_limit_mw"]) for k, v in d.items()}

    def set_gpu_locked_clocks(self, gpu_ids: list[int], min_clock_mhz: int, max_clock_mhz: int,
                              block: bool = True) -> None:
        self._call("POST", "/gpu/set_gpu_locked_clocks", "set GPU locked clocks",
                   self._gpu_params(gpu_ids, min_clock_mhz=min_clock_mhz, max_clock_mhz=max_clock_mhz, block=block))

    def reset_gpu_locked_clocks(self, gpu_ids: list[int], block: bool = True) -> None:
        self._call("POST", "/gpu/reset_gpu_locked_clocks", "reset GPU locked clocks",
                   self._gpu_params(gpu_ids, block=block))

    def reset_locked_clocks(self, gpu_ids: list[int], block: bool = True) -> None:
        self._call("POST", "/gpu/reset_locked_clocks", "reset locked clocks", self._gpu_params(gpu_ids, block=block))

    def set_mem_locked_clocks(self, gpu_ids: list[int], min_clock_mhz: int, max_clock_mhz: int,
                              block: bool = True) -> None:
        self._call("POST", "/gpu/set_mem_locked_clocks", "set memory locked clocks",
                   self._gpu_params(gpu_ids, min_clock_mhz=min_clock_mhz, max_clock_mhz=max_clock_mhz, block=block))

    def reset_mem_locked_clocks(self, gpu_ids: list[int], block: bool = True) -> None:
        self._call("POST", "/gpu/reset_mem_locked_clocks", "reset memory locked clocks",
                   self._gpu_params(gpu_ids, block=block))

    def get_cpu_energy(self, cpu_ids: list[int] | None = None, cpu: bool = True,
                       dram: bool = True) -> dict[int, CpuEnergyResult]:
        p = {"cpu": "true" if cpu else "false", "dram": "true" if dram else "false"}
        if cpu_ids is not None:
            p["cpu_ids"] = ",".join(str(i) for i in cpu_ids)
        d = self._call("GET", "/cpu/get_cumulative_energy", "get CPU energy", p)
        return {int(k): CpuEnergyResult(v.get("cpu_energy_uj"), v.get("dram_energy_uj")) for k, v in d.items()}

    def get_cpu_power(self, cpu_ids: list[int] | None = None) -> CpuPowerSnapshot:
        p = {} if cpu_ids is None else {"cpu_ids": ",".join(str(i) for i in cpu_ids)}
        d = self._call("GET", "/cpu/get_power", "get CPU power", p)
        return CpuPowerSnapshot(d["timestamp_ms"], {int(k): CpuDramPower(v["cpu_mw"], v.get("dram_mw"))
                                                    for k, v in d["power_mw"].items()})

    def get_time(self) -> float:
        """The daemon's clock (Unix seconds)."""
        return self._call("GET", "/time", "get time", {})["timestamp_ms"] / 1000.0


def require_capabilities(client: ZeusdClient, *, read_gpu: bool = False, control_gpu: bool = False,
                         read_cpu: bool = False, gpu_ids: list[int] | None = None,
                         cpu_ids: list[int] | None = None) -> None:
    """ZeusdAuthError if the token was refused; ZeusdCapabilityError listing every group, scope
    or device id that is missing."""
    if client.auth_error:
        raise ZeusdAuthError(f"zeusd at {client.endpoint} refused the token: {client.auth_error}")
    problems = []
    for wanted, group, ok in ((read_gpu, "gpu-read", client.can_read_gpu),
                              (control_gpu, "gpu-control", client.can_control_gpu),
                              (read_cpu, "cpu-read", client.can_read_cpu)):
        if wanted and not ok:
            problems.append(f"'{group}' is not available (API group disabled or scope not granted)")
    for ids, known, what in ((gpu_ids, client.gpu_ids, "GPU"), (cpu_ids, client.cpu_ids, "CPU")):
        missing = [i for i in ids or [] if i not in known]
        if missing:
            problems.append(f"{what} ids {missing} not on the daemon (it has {known})")
    if problems:
        raise ZeusdCapabilityError(f"zeusd at {client.endpoint}: " + "; ".join(problems))


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
    "ZeusdConfig",
    "ZeusdClient",
    "require_capabilities",
]
