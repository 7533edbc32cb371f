"""CPU classes (``zeus.device.cpu.common``): energy of CPU packages and their DRAM, in mJ."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from zeus import _zeus
from zeus.device.common import camel_aliases
from zeus.device.exception import ZeusBaseCPUError


def get_current_cpu_index(pid: int | Literal["current"] = "current") -> int:
    """The CPU package (socket, ``physical_package_id``) of the core the process last ran on
    (field 39 of ``/proc/<pid>/stat``). Linux may move a process between packages: pin it
    (``taskset``) to measure one package. OSError/ValueError where /proc or sysfs says no."""
    if pid == "current":
        pid = os.getpid()
    with open(f"/proc/{int(pid)}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # (the command name may hold spaces)
    core = int(fields[36])
    with open(f"/sys/devices/system/cpu/cpu{core}/topology/physical_package_id") as f:
        return int(f.read().strip())


class ZeusCPUInitError(ZeusBaseCPUError):
    """The CPU energy interface could not be initialised."""


class ZeusCPUNoPermissionError(ZeusBaseCPUError):
    """No permission to read the CPU energy counters."""


class ZeusCPUNotFoundError(ZeusBaseCPUError):
    """No such CPU."""


@dataclass
class CpuDramMeasurement:
    """Energy of one CPU package and its DRAM (mJ; ``dram_mj`` None when not measured)."""

    cpu_mj: float
    dram_mj: float | None = None

    def __sub__(self, other: CpuDramMeasurement) -> CpuDramMeasurement:
        dram = None
        if self.dram_mj is not None and other.dram_mj is not None:
            dram = self.dram_mj - other.dram_mj
        elif self.dram_mj is not None:
            dram = self.dram_mj
        return CpuDramMeasurement(self.cpu_mj - other.cpu_mj, dram)

    def __truediv__(self, other: int | float) -> CpuDramMeasurement:
        if not isinstance(other, (int, float)):
            raise TypeError("Division is only supported with int or float")
        if other == 0:
            raise ZeroDivisionError("Division by zero is not allowed")
        dram = self.dram_mj / other if self.dram_mj is not None else None
        return CpuDramMeasurement(self.cpu_mj / other, dram)


def _convert(e: Exception) -> Exception:
    code = getattr(e, "zeus_error", None)
    if code == "ZEUS_EPERM":
        return ZeusCPUNoPermissionError(str(e))
    if code in ("ZEUS_ENODEV", "ZEUS_EINVAL", "ZEUS_ERANGE"):
        return ZeusCPUNotFoundError(str(e))
    return e


@camel_aliases
class CPU:
    """One CPU package (its position among the packages libzeus found)."""

    def __init__(self, cpu_index: int) -> None:
        self.cpu_index = cpu_index

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cpu_index})"

    def get_total_energy_consumption(self) -> CpuDramMeasurement:
        """Energy since the device set was opened (libzeus counts the counter's wraparounds)."""
        try:
            e = _zeus.cpu_energy(self.cpu_index)
        except Exception as exc:  # noqa: BLE001
            new = _convert(exc)
            if new is exc:
                raise
            raise new from None
        dram = e["dram_uj"] / 1000.0 if e["dram_uj"] is not None else None
        return CpuDramMeasurement(e["package_uj"] / 1000.0, dram)

    def supports_get_dram_energy_consumption(self) -> bool:
        return bool(_zeus.cpu_info(self.cpu_index)["has_dram"])


class CPUs:
    """The CPU packages this process sees; methods take the package index first."""

    def __init__(self) -> None:
        self._cpus = [self._make_cpu(i) for i in range(_zeus.cpu_count())]

    def _make_cpu(self, index: int) -> CPU:
        return CPU(index)

    @property
    def cpus(self) -> list[CPU]:
        return list(self._cpus)

    def __len__(self) -> int:
        return len(self._cpus)

    def _cpu(self, index: int) -> CPU:
        if not 0 <= index < len(self._cpus):
            raise ZeusCPUNotFoundError(
                f"CPU index {index} out of range ({len(self._cpus)} CPU packages)"
            )
        return self._cpus[index]

    def get_total_energy_consumption(self, index: int) -> CpuDramMeasurement:
        return self._cpu(index).get_total_energy_consumption()

    def supports_get_dram_energy_consumption(self, index: int) -> bool:
        return self._cpu(index).supports_get_dram_energy_consumption()

    getTotalEnergyConsumption = get_total_energy_consumption
    supportsGetDramEnergyConsumption = supports_get_dram_energy_consumption


class EmptyCPUs(CPUs):
    """No CPUs: every operation raises ValueError."""

    def __init__(self) -> None:
        self._cpus = []

    def _cpu(self, index: int) -> CPU:
        raise ValueError("No CPUs available.")


__all__ = [
    "CpuDramMeasurement",
    "ZeusCPUInitError",
    "ZeusCPUNoPermissionError",
    "ZeusCPUNotFoundError",
    "CPU",
    "CPUs",
    "EmptyCPUs",
]
