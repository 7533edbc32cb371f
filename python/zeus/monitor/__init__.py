"""Time and energy measurement: ``ZeusMonitor``, ``Measurement``, ``PowerMonitor``."""

from zeus.monitor.energy import Measurement, Window, ZeusMonitor
from zeus.monitor.power import PowerMonitor

__all__ = ["ZeusMonitor", "Measurement", "PowerMonitor", "Window"]
