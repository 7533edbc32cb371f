"""``ZeusMonitor``: time and energy of named code windows (libzeus's monitor)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from zeus import _logging, _zeus
from zeus._paths import fs_path

Measurement = _zeus.Measurement


@dataclass
class MeasurementState:
    """A window's start (the newer Zeus's bookkeeping record, importable as there): time (s)
    and energy counters (J) per GPU, CPU and DRAM."""

    time: float
    gpu_energy: dict[int, float]
    cpu_energy: Optional[dict[int, float]] = None
    dram_energy: Optional[dict[int, float]] = None


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
        approx_instant_energy: replace an exact 0 J reading (window shorter than the energy
            counter's update period) by instant power x time.
        log_file: CSV log in the original's format, truncated.
        cpu_indices: CPU packages (RAPL) to monitor; None: none.
        sync_execution_with: framework to synchronise ("torch").

    ``begin_window(key, sync_execution=True)`` / ``end_window(key, sync_execution=True,
    cancel=False)``; the 0.8 name ``sync_cuda=`` is accepted too.
    """

    def __init__(
        self,
        gpu_indices: Optional[Sequence[int]] = None,
        approx_instant_energy: bool = False,
        log_file: Optional[str] = None,
        cpu_indices: Optional[Sequence[int]] = None,
        sync_execution_with: str = "torch",
    ) -> None:
        _logging.sync_level()
        if (gpu_indices is None or len(gpu_indices) > 0) and _zeus.gpu_backend() is None:
            # The original raises here (NVML's init fails); say why no GPU can be measured
            # rather than measure nothing. An explicit gpu_indices=[] measures CPUs only.
            _raise_no_gpu_backend()
        super().__init__(
            gpu_indices=None if gpu_indices is None else list(gpu_indices),
            cpu_indices=None if cpu_indices is None else list(cpu_indices),
            approx_instant_energy=approx_instant_energy,
            log_file=None if log_file is None else fs_path(log_file, "log_file"),
            sync=framework_sync(sync_execution_with),
        )

    def end_job_window(self, key: str, sync_execution: bool = True, group: Any = None) -> Any:
        """Ends ``key`` for the whole distributed job (a collective: every rank calls it):
        energy over every physical GPU once, time as the slowest rank's. See
        ``zeus.monitor.job``; ``end_window`` stays this process's window, as in the original."""
        from zeus.monitor.job import end_job_window  # noqa: PLC0415 - keeps import light

        return end_job_window(self, key, sync_execution, group)

    def window(self, key: str, sync_execution: bool = True) -> Window:
        """A context manager for one window: ``with monitor.window("step") as w:``."""
        return Window(self, key, sync_execution)

    def __repr__(self) -> str:
        return f"ZeusMonitor(gpu_indices={self.gpu_indices!r}, cpu_indices={self.cpu_indices!r})"

    def __enter__(self) -> "ZeusMonitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
