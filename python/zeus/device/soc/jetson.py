"""NVIDIA Jetson (``zeus.device.soc.jetson``). This build has no Jetson backend: the classes
exist under the original's names and refuse to be made, saying so."""

from __future__ import annotations

from dataclasses import dataclass

from zeus.device.soc.common import SoC, SoCMeasurement, ZeusSoCInitError

_NO_BACKEND = "no Jetson backend in this build"


class ZeusJetsonInitError(ZeusSoCInitError):
    """Jetson power rails could not be initialised."""


def jetson_is_available() -> bool:
    return False


class DirectPower:
    """A rail with a power file (mW)."""

    def __init__(self, power_path) -> None:
        raise ZeusJetsonInitError(_NO_BACKEND)


class VoltageCurrentProduct:
    """A rail with voltage (mV) and current (mA) files."""

    def __init__(self, voltage_path, current_path) -> None:
        raise ZeusJetsonInitError(_NO_BACKEND)


@dataclass
class JetsonMeasurement(SoCMeasurement):
    """Energy of a Jetson's rails (mJ), None where not measured."""

    cpu_energy_mj: float | None = None
    gpu_energy_mj: float | None = None
    total_energy_mj: float | None = None


class Jetson(SoC):
    def __new__(cls, *args, **kwargs):
        raise ZeusJetsonInitError(_NO_BACKEND)


__all__ = [
    "ZeusJetsonInitError",
    "jetson_is_available",
    "DirectPower",
    "VoltageCurrentProduct",
    "JetsonMeasurement",
    "Jetson",
]
