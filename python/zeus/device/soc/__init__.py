"""SoCs (``zeus.device.soc``): ``get_soc()``; Apple Silicon or Jetson when available."""

from __future__ import annotations

from zeus.device.soc.apple import AppleSilicon, apple_silicon_is_available
from zeus.device.soc.common import SoC, ZeusSoCInitError
from zeus.device.soc.jetson import Jetson, jetson_is_available

_soc: SoC | None = None


def get_soc() -> SoC:
    """The process-wide SoC; ZeusSoCInitError when there is none."""
    global _soc
    if _soc is None:
        if apple_silicon_is_available():
            _soc = AppleSilicon()
        elif jetson_is_available():
            _soc = Jetson()
        else:
            raise ZeusSoCInitError("No SoCs found. Apple Silicon and Jetson are unavailable.")
    return _soc


__all__ = ["get_soc"]
