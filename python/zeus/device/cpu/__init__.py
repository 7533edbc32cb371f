"""CPUs (``zeus.device.cpu``): ``get_cpus()`` over libzeus's RAPL backend."""

from __future__ import annotations

from zeus.device.cpu.common import CPUs, ZeusCPUInitError, get_current_cpu_index
from zeus.device.cpu.emi import emi_is_available
from zeus.device.cpu.rapl import RAPLCPUs, rapl_is_available

_cpus: CPUs | None = None


def get_cpus() -> CPUs:
    """The process-wide CPU packages; ZeusCPUInitError when neither EMI nor RAPL works."""
    global _cpus
    if _cpus is None:
        if emi_is_available():  # pragma: no cover - Windows only
            raise ZeusCPUInitError("EMI is Windows only")
        if not rapl_is_available():
            raise ZeusCPUInitError("No CPUs found. EMI and RAPL are unavailable.")
        _cpus = RAPLCPUs()
    return _cpus


__all__ = ["get_cpus", "get_current_cpu_index", "rapl_is_available", "emi_is_available"]
