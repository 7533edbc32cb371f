"""NVIDIA Jetson (``zeus.device.soc.jetson``) through libzeus's jetson backends: the INA3221 power
rails under sysfs (``/sys/bus/i2c/drivers/ina3221x`` or ``ina3221``; ``ZEUS_SYSFS_ROOT`` is the
root of these paths), the rails the original maps to CPU, GPU and total, each integrated every
100 ms as the original's sampling process does (docs/devices.md). The GPU rail is also GPU 0
and the CPU rail CPU 0 of ZeusMonitor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zeus import _zeus
from zeus.device.soc.common import SoC, SoCMeasurement, ZeusSoCInitError


class ZeusJetsonInitError(ZeusSoCInitError):
    """Jetson power rails could not be initialised."""


def jetson_is_available() -> bool:
    """Whether libzeus found a Jetson's rails (and uses them as the GPU backend)."""
    return _zeus.gpu_backend() == "jetson"


class DirectPower:
    """A rail with a power file (read as mW, as the original does)."""

    def __init__(self, power_path: str | Path) -> None:
        self.power_path = Path(power_path)

    def read(self) -> float:
        return float(self.power_path.read_text().strip())


class VoltageCurrentProduct:
    """A rail with voltage (mV) and current (mA) files: mV x mA / 1000 = mW."""

    def __init__(self, voltage_path: str | Path, current_path: str | Path) -> None:
        self.voltage_path = Path(voltage_path)
        self.current_path = Path(current_path)

    def read(self) -> float:
        v = float(self.voltage_path.read_text().strip())
        i = float(self.current_path.read_text().strip())
        return v * i / 1000.0


@dataclass
class JetsonMeasurement(SoCMeasurement):
    """Energy of a Jetson's rails (mJ), None where the board has no such rail."""

    cpu_energy_mj: float | None = None
    gpu_energy_mj: float | None = None
    total_energy_mj: float | None = None


class Jetson(SoC):
    """A Jetson's cumulative rail energies and named windows over them."""

    def __init__(self) -> None:
        if not jetson_is_available():
            _, why = _zeus.backend_reasons().get("jetson", (False, "no jetson backend"))
            raise ZeusJetsonInitError(f"Jetson power rails are not available: {why}")
        self._windows: dict[str, JetsonMeasurement] = {}
        first = self.get_total_energy_consumption()
        self._metrics = {k for k, v in vars(first).items() if v is not None}

    def get_available_metrics(self) -> set[str]:
        return set(self._metrics)

    def get_total_energy_consumption(self, timeout: float = 15.0) -> JetsonMeasurement:
        """Energy since the devices were opened (mJ). ``timeout`` is the original's (its reads
        went through another process); here they are direct."""
        e = _zeus.soc_energy()
        return JetsonMeasurement(
            cpu_energy_mj=e["cpu_mj"], gpu_energy_mj=e["gpu_mj"], total_energy_mj=e["total_mj"]
        )

    def begin_window(self, key: str, restart: bool = False) -> None:
        if key in self._windows and not restart:
            raise KeyError(f"Measurement window '{key}' already exists")
        self._windows[key] = self.get_total_energy_consumption()

    def end_window(self, key: str) -> JetsonMeasurement:
        if key not in self._windows:
            raise KeyError(f"Measurement window '{key}' does not exist")
        start = self._windows.pop(key)
        return self.get_total_energy_consumption() - start


__all__ = [
    "ZeusJetsonInitError",
    "jetson_is_available",
    "DirectPower",
    "VoltageCurrentProduct",
    "JetsonMeasurement",
    "Jetson",
]
