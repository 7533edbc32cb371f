"""Windows Energy Meter Interface CPUs (``zeus.device.cpu.emi``). EMI exists only on Windows;
this package runs on Linux, where ``emi_is_available()`` is False and the classes refuse to be
made, saying so."""

from __future__ import annotations

from zeus.device.cpu.common import CPU, CPUs
from zeus.device.exception import ZeusBaseCPUError

_NOT_HERE = "the Windows Energy Meter Interface exists only on Windows (this is Linux: use RAPL)"


class ZeusEMINotSupportedError(ZeusBaseCPUError):
    """EMI is not supported here."""


class ZeusEMIInitError(ZeusBaseCPUError):
    """EMI could not be initialised."""


def emi_is_available() -> bool:
    return False


def get_current_emi_cpu_index() -> int:
    raise ZeusEMINotSupportedError(_NOT_HERE)


class EMIFile:
    def __init__(self, *args, **kwargs) -> None:
        raise ZeusEMIInitError(_NOT_HERE)


class EMICPU(CPU):
    def __init__(self, *args, **kwargs) -> None:
        raise ZeusEMIInitError(_NOT_HERE)


class EMICPUs(CPUs):
    def __init__(self, *args, **kwargs) -> None:
        raise ZeusEMIInitError(_NOT_HERE)


__all__ = [
    "emi_is_available",
    "get_current_emi_cpu_index",
    "EMIFile",
    "EMICPU",
    "EMICPUs",
    "ZeusEMINotSupportedError",
    "ZeusEMIInitError",
]
