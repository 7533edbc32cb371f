"""SoC classes (``zeus.device.soc.common``): integrated CPU-GPU chips (Apple Silicon, Jetson)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, fields

from zeus.device.common import camel_aliases
from zeus.device.exception import ZeusBaseSoCError


class ZeusSoCInitError(ZeusBaseSoCError):
    """The SoC's energy interface could not be initialised."""


@camel_aliases
@dataclass
class SoCMeasurement:
    """Energy of a SoC's parts (mJ); subclasses list the parts as fields."""

    def __sub__(self, other: SoCMeasurement) -> SoCMeasurement:
        if type(self) is not type(other):
            raise TypeError("Subtraction is only supported between measurements of one SoC")
        values = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            values[f.name] = None if a is None or b is None else a - b
        return type(self)(**values)

    def zero_all_fields(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) is not None:
                setattr(self, f.name, 0)


@camel_aliases
class SoC(abc.ABC):
    """A SoC's energy counters and windows."""

    @abc.abstractmethod
    def get_available_metrics(self) -> set[str]: ...

    @abc.abstractmethod
    def get_total_energy_consumption(self) -> SoCMeasurement: ...

    @abc.abstractmethod
    def begin_window(self, key: str, restart: bool = False) -> None: ...

    @abc.abstractmethod
    def end_window(self, key: str) -> SoCMeasurement: ...


class EmptySoC(SoC):
    """No SoC: no metrics, every other operation raises ValueError."""

    def get_available_metrics(self) -> set[str]:
        return set()

    def get_total_energy_consumption(self) -> SoCMeasurement:
        raise ValueError("No SoC is available.")

    def begin_window(self, key: str, restart: bool = False) -> None:
        raise ValueError("No SoC is available.")

    def end_window(self, key: str) -> SoCMeasurement:
        raise ValueError("No SoC is available.")


__all__ = ["ZeusSoCInitError", "SoCMeasurement", "SoC", "EmptySoC"]
