"""Intel/AMD RAPL CPUs (``zeus.device.cpu.rapl``) through libzeus's RAPL backend (powercap
sysfs; ``ZEUS_SYSFS_ROOT`` moves the tree's root). libzeus reads the counters and counts their
wraparounds, so there is no poller process; through zeusd (``ZEUSD_SOCK_PATH``) the counters
are the daemon's."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from zeus import _zeus
from zeus.device.common import changes_through_zeusd
from zeus.device.cpu.common import CPU, CPUs, get_current_cpu_index
from zeus.device.exception import ZeusBaseCPUError

RAPL_DIR = "/sys/class/powercap/intel-rapl"
CONTAINER_RAPL_DIR = "/zeus_sys/class/powercap/intel-rapl"


class ZeusRAPLNotSupportedError(ZeusBaseCPUError):
    """RAPL is not supported on this CPU."""


class ZeusRAPLFileInitError(ZeusBaseCPUError):
    """A RAPL file could not be opened."""


class ZeusRAPLPermissionError(ZeusBaseCPUError):
    """No permission to read RAPL."""


@lru_cache(maxsize=1)
def rapl_is_available() -> bool:
    """Whether libzeus found RAPL packages."""
    return _zeus.cpu_count() > 0


def get_current_rapl_zone_id(pid: int | Literal["current"] = "current") -> int:
    """The RAPL zone (``intel-rapl:N``) of the package the process last ran on."""
    try:
        package = get_current_cpu_index(pid)
    except (OSError, ValueError, IndexError) as e:
        raise ZeusRAPLNotSupportedError(f"cannot find the CPU package of process {pid}: {e}") from None
    for i in range(_zeus.cpu_count()):
        if _zeus.cpu_info(i)["name"] in (f"package-{package}", f"package-{package}-die-0"):
            return i
    raise ZeusRAPLNotSupportedError(f"no RAPL zone for CPU package {package}")


class RAPLFile:
    """0.8/newer internal reader of one ``energy_uj`` file. libzeus reads the counters (and
    their wraparounds) itself: use ``RAPLCPU`` / ``get_cpus()``."""

    def __init__(self, path: str) -> None:
        raise ZeusRAPLFileInitError(
            f"{path}: RAPL files are read by libzeus; use zeus.device.cpu.get_cpus()"
        )


class RaplWraparoundTracker:
    """Not needed: libzeus counts RAPL wraparounds in-process (no poller process)."""

    def __init__(self, rapl_file_path: str, max_energy_uj: float) -> None:
        raise ZeusRAPLFileInitError(
            f"{rapl_file_path}: libzeus tracks RAPL wraparounds; use zeus.device.cpu.get_cpus()"
        )


def _polling_process(rapl_file_path: str, max_energy_uj: float, wraparound_counter) -> None:
    """The original's wraparound poller process (``RaplWraparoundTracker``'s target). Not
    needed: libzeus counts RAPL wraparounds in-process."""
    raise ZeusRAPLFileInitError(
        f"{rapl_file_path}: libzeus tracks RAPL wraparounds (no poller process); "
        "use zeus.device.cpu.get_cpus()"
    )


class RAPLCPU(CPU):
    """One RAPL package (``cpu_index``: position among the packages, sorted)."""

    def __init__(self, cpu_index: int, rapl_dir: str | None = None) -> None:
        super().__init__(cpu_index)
        self.rapl_dir = rapl_dir or RAPL_DIR


class ZeusdRAPLCPU(RAPLCPU):
    """A RAPL package read through zeusd (libzeus's zeusd-rapl backend)."""

    def __init__(self, cpu_index: int, client: object | None = None) -> None:
        super().__init__(cpu_index)
        self.client = client


class RAPLCPUs(CPUs):
    """Every RAPL package libzeus found."""

    def __init__(self) -> None:
        if not rapl_is_available():
            reasons = _zeus.backend_reasons()
            why = "; ".join(f"{n}: {w}" for n, (ok, w) in reasons.items() if "rapl" in n)
            raise ZeusRAPLNotSupportedError(
                f"RAPL is not supported on this CPU. ({why or 'no packages found'})"
            )
        super().__init__()

    def _make_cpu(self, index: int) -> CPU:
        return ZeusdRAPLCPU(index) if changes_through_zeusd() else RAPLCPU(index)


__all__ = [
    "RAPL_DIR",
    "rapl_is_available",
    "get_current_rapl_zone_id",
    "RAPLFile",
    "RaplWraparoundTracker",
    "RAPLCPU",
    "ZeusdRAPLCPU",
    "RAPLCPUs",
    "ZeusRAPLNotSupportedError",
    "ZeusRAPLFileInitError",
    "ZeusRAPLPermissionError",
]
