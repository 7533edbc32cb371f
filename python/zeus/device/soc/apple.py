"""Apple Silicon (``zeus.device.soc.apple``): macOS only. This package runs on Linux, where
``apple_silicon_is_available()`` is False and ``AppleSilicon`` refuses to be made, saying so."""

from __future__ import annotations

from dataclasses import dataclass

from zeus.device.soc.common import SoC, SoCMeasurement, ZeusSoCInitError

_NOT_HERE = "Apple Silicon energy is not supported on Linux (macOS only)"


class ZeusAppleInitError(ZeusSoCInitError):
    """Apple Silicon energy could not be initialised."""


def apple_silicon_is_available() -> bool:
    return False


@dataclass
class AppleSiliconMeasurement(SoCMeasurement):
    """Energy of an Apple chip's parts (mJ), None where not measured."""

    cpu_total_mj: int | None = None
    efficiency_cores_mj: list[int] | None = None
    performance_cores_mj: list[int] | None = None
    efficiency_core_manager_mj: int | None = None
    performance_core_manager_mj: int | None = None
    dram_mj: int | None = None
    gpu_mj: int | None = None
    gpu_sram_mj: int | None = None
    ane_mj: int | None = None


class AppleSilicon(SoC):
    def __new__(cls, *args, **kwargs):
        raise ZeusAppleInitError(_NOT_HERE)


__all__ = ["ZeusAppleInitError", "apple_silicon_is_available", "AppleSiliconMeasurement", "AppleSilicon"]
