"""``ZeusMonitor``: time and energy of named code windows (libzeus's monitor)."""

from __future__ import annotations

import atexit  # noqa: F401 - the original's name here (its tests patch atexit.register)
import importlib.util
import sys
import time as _time_module
from dataclasses import dataclass
from time import time
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from zeus import _logging, _zeus
from zeus._paths import fs_path
from zeus.monitor.power import PowerMonitor  # noqa: F401 - the original's name here

Measurement = _zeus.Measurement


@dataclass
class MeasurementState:
    """A window's start (the newer Zeus's bookkeeping record, importable as there): time (s)
    and energy counters (J) per GPU, CPU and DRAM."""

    time: float
    gpu_energy: dict[int, float]
    cpu_energy: Optional[dict[int, float]] = None
    dram_energy: Optional[dict[int, float]] = None

    def __getitem__(self, i: int) -> Any:
        """Zeus 0.8 kept a (time, energy) tuple: ``state[0]``, ``state[1]`` still work."""
        return (self.time, self.gpu_energy)[i]

    @property
    def total_energy(self) -> float:
        """Sum of the GPUs' counter readings at the window's start (J), as the newer Zeus's."""
        return sum(self.gpu_energy.values())


class MeasurementStates(Mapping[str, MeasurementState]):
    """``monitor.measurement_states``: the open windows' starts, looked up by name (libzeus
    keeps them; it lists no names, so this mapping is for lookups: ``states[name]``,
    ``name in states``)."""

    def __init__(self, monitor: "ZeusMonitor") -> None:
        self._monitor = monitor

    def __getitem__(self, key: str) -> MeasurementState:
        t, gpu_j, cpu_j, dram_j = self._monitor._window_start(key)
        cpus = self._monitor.cpu_indices
        return MeasurementState(
            time=t,
            gpu_energy={g: j for g, j in zip(self._monitor.gpu_indices, gpu_j) if j is not None},
            cpu_energy={c: j for c, j in zip(cpus, cpu_j)} if cpus else None,
            dram_energy={c: j for c, j in zip(cpus, dram_j) if j is not None} if cpus else None,
        )

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        raise TypeError("measurement_states lists no names: look a window up by its name")

    def __len__(self) -> int:
        raise TypeError("measurement_states lists no names: look a window up by its name")


def _patched_time() -> float:
    return time()  # this module's `time`, whatever it is now


def framework_sync(sync_execution_with: str = "torch") -> Optional[Callable[[int], None]]:
    """The function that waits for a GPU's queued work: ``torch.cuda.synchronize`` when PyTorch
    is installed and sees CUDA; for simulated GPUs (ZEUS_DEVICE=sim) their own synchronisation;
    else None (nothing to wait for, nothing is synchronised)."""
    if sync_execution_with != "torch":
        raise ValueError(
            f"sync_execution_with={sync_execution_with!r}: only 'torch' is supported"
        )
    if _zeus.gpu_backend() == "sim":
        return _zeus.sim_synchronize
    torch = sys.modules.get("torch")
    if torch is None:
        if importlib.util.find_spec("torch") is None:
            return None
        import torch  # noqa: PLC0415 - optional dependency, imported only when installed
    try:
        if torch.cuda.is_available():
            return torch.cuda.synchronize
    except Exception:  # noqa: BLE001 - a broken CUDA setup means nothing to synchronise
        return None
    return None


class Window:
    """``with monitor.window("step") as w: ...`` then ``w.measurement``.

    Leaving the block through an exception cancels the window (nothing is logged)."""

    __slots__ = ("_monitor", "_key", "_sync", "measurement")

    def __init__(self, monitor: "ZeusMonitor", key: str, sync_execution: bool) -> None:
        self._monitor = monitor
        self._key = key
        self._sync = sync_execution
        self.measurement: Optional[Measurement] = None

    def __enter__(self) -> "Window":
        self._monitor.begin_window(self._key, self._sync)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.measurement = self._monitor.end_window(
            self._key, self._sync, cancel=exc_type is not None
        )

    def __repr__(self) -> str:
        return f"Window({self._key!r}, measurement={self.measurement!r})"


def _raise_no_gpu_backend() -> None:
    from zeus.device.exception import ZeusGPUInitError  # noqa: PLC0415 - only on this error

    reasons = "; ".join(
        f"{name}: {why}"
        for name, (ok, why) in _zeus.backend_reasons().items()
        if not ok and "rapl" not in name and not why.startswith("not requested")
    )
    raise ZeusGPUInitError(
        "ZeusMonitor: no GPU can be measured"
        + (f" ({reasons})" if reasons else "")
        + ". Pass gpu_indices=[] to measure CPUs only."
    )


class ZeusMonitor(_zeus.Monitor):
    """Measures the GPU time and energy of named windows, like the original ``ZeusMonitor``.

    Args:
        gpu_indices: GPUs to monitor (framework indices, i.e. after ``CUDA_VISIBLE_DEVICES``);
            None: all. An empty list monitors none.
        cpu_indices: CPU packages (RAPL) to monitor; None: none.
        approx_instant_energy: replace an exact 0 J reading (window shorter than the energy
            counter's update period) by instant power x time.
        log_file: CSV log in the original's format, truncated.
        sync_execution_with: framework to synchronise ("torch").

    The newer Zeus's argument order; Zeus 0.8's positional ``(gpu_indices,
    approx_instant_energy, log_file)`` is recognised by its bool second argument.
    ``begin_window(key, sync_execution=True, restart=False)`` / ``end_window(key,
    sync_execution=True, cancel=False)``; the 0.8 name ``sync_cuda=`` is accepted too.
    """

    def __init__(
        self,
        gpu_indices: Optional[Sequence[int]] = None,
        cpu_indices: Optional[Sequence[int]] = None,
        approx_instant_energy: bool = False,
        log_file: Optional[str] = None,
        sync_execution_with: str = "torch",
    ) -> None:
        if isinstance(cpu_indices, bool):  # Zeus 0.8's order: (gpu_indices, approx, log_file)
            log_file = approx_instant_energy if approx_instant_energy is not False else log_file
            cpu_indices, approx_instant_energy = None, cpu_indices
        _logging.sync_level()
        if gpu_indices is None or len(gpu_indices) > 0:
            if _zeus.gpu_backend() is None:
                # The original raises here (NVML's init fails); say why no GPU can be measured
                # rather than measure nothing. An explicit gpu_indices=[] measures CPUs only.
                _raise_no_gpu_backend()
            from zeus.device.gpu import get_gpus  # noqa: PLC0415 - as the original, per monitor

            get_gpus()  # (after `zeus.device.gpu._gpus = None` the devices are opened anew)
        # `zeus.monitor.energy.time` replaced (the original's tests count windows in ticks):
        # windows take their timestamps from it, and with no real time to measure it in, the
        # counters' update period is not measured.
        patched = time is not _time_module.time
        cpus = _python_cpus(cpu_indices)
        super().__init__(
            gpu_indices=None if gpu_indices is None else list(gpu_indices),
            cpu_indices=None if cpu_indices is None or cpus else list(cpu_indices),
            approx_instant_energy=approx_instant_energy,
            log_file=None if log_file is None else fs_path(log_file, "log_file"),
            sync=framework_sync(sync_execution_with),
            clock=_patched_time if patched else None,
            measure_update_period=not patched,
        )
        if cpus:
            self.__class__ = _ZeusMonitorOnPythonCPUs
            self._python_cpus = cpus
            self._python_cpu_indices = list(cpu_indices or [])
            self._cpu_starts: dict[str, dict[int, Any]] = {}

    @property
    def measurement_states(self) -> MeasurementStates:
        """The open windows' starts by name (the original's bookkeeping)."""
        return MeasurementStates(self)

    def end_job_window(self, key: str, sync_execution: bool = True, group: Any = None) -> Any:
        """Ends ``key`` for the whole distributed job (a collective: every rank calls it):
        energy over every physical GPU once, time as the slowest rank's. See
        ``zeus.monitor.job``; ``end_window`` stays this process's window, as in the original."""
        from zeus.monitor.job import end_job_window  # noqa: PLC0415 - keeps import light

        return end_job_window(self, key, sync_execution, group)

    def window(self, key: str, sync_execution: bool = True) -> Window:
        """A context manager for one window: ``with monitor.window("step") as w:``."""
        return Window(self, key, sync_execution)

    @property
    def cpus(self) -> Any:
        """The CPU packages (``zeus.device.cpu.get_cpus()``), as the original's attribute."""
        from zeus.device.cpu import get_cpus  # noqa: PLC0415 - only when asked

        return get_cpus()

    def __repr__(self) -> str:
        return f"ZeusMonitor(gpu_indices={self.gpu_indices!r}, cpu_indices={self.cpu_indices!r})"

    def __enter__(self) -> "ZeusMonitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _python_cpus(cpu_indices: Optional[Sequence[int]]) -> Any:
    """CPU objects of the user's own making in ``zeus.device.cpu._cpus`` (a ``CPUs`` subclass
    that is not libzeus's RAPL: another backend, or a test's mock), when CPUs are monitored;
    else None (libzeus reads RAPL itself)."""
    if not cpu_indices:
        return None
    import zeus.device.cpu as cpu_module  # noqa: PLC0415
    from zeus.device.cpu.rapl import RAPLCPUs  # noqa: PLC0415

    cpus = cpu_module._cpus
    return None if cpus is None or isinstance(cpus, RAPLCPUs) else cpus


class _ZeusMonitorOnPythonCPUs(ZeusMonitor):
    """A ZeusMonitor whose CPU packages are Python objects (see ``_python_cpus``): libzeus
    measures time and GPUs; each window reads the CPU objects once at begin and once at end."""

    @property
    def cpu_indices(self) -> list[int]:  # type: ignore[override]
        return list(self._python_cpu_indices)

    @property
    def cpus(self) -> Any:
        return self._python_cpus

    def _read_cpus(self) -> dict[int, Any]:
        return {i: self._python_cpus.get_total_energy_consumption(i) for i in self.cpu_indices}

    def begin_window(
        self, key: str, sync_execution: bool = True, restart: bool = False, **kw: Any
    ) -> None:
        super().begin_window(key, sync_execution, restart, **kw)
        self._cpu_starts[key] = self._read_cpus()

    def reset_windows(self) -> None:
        super().reset_windows()
        self._cpu_starts.clear()

    def end_window(self, key: str, sync_execution: bool = True, cancel: bool = False, **kw: Any):
        m = super().end_window(key, sync_execution, cancel, **kw)
        start, end = self._cpu_starts.pop(key), self._read_cpus()
        cpu = {i: (end[i].cpu_mj - start[i].cpu_mj) / 1000.0 for i in start}
        dram = {
            i: (end[i].dram_mj - start[i].dram_mj) / 1000.0
            for i in start
            if start[i].dram_mj is not None and end[i].dram_mj is not None
        }
        return Measurement(m.time, m.gpu_energy, cpu, dram or None)

    @property
    def measurement_states(self) -> MeasurementStates:
        return _PythonCpuStates(self)


class _PythonCpuStates(MeasurementStates):
    def __getitem__(self, key: str) -> MeasurementState:
        state = super().__getitem__(key)
        start = self._monitor._cpu_starts[key]
        state.cpu_energy = {i: e.cpu_mj / 1000.0 for i, e in start.items()}
        state.dram_energy = {i: e.dram_mj / 1000.0 for i, e in start.items() if e.dram_mj is not None}
        return state
