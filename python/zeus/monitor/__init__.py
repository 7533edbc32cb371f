"""Time and energy measurement: ``ZeusMonitor``, ``Measurement``, ``PowerMonitor``,
``TemperatureMonitor``."""

from zeus.monitor.energy import Measurement, Window, ZeusMonitor
from zeus.monitor.power import PowerMonitor
from zeus.monitor.temperature import TemperatureMonitor

__all__ = ["ZeusMonitor", "Measurement", "PowerMonitor", "TemperatureMonitor", "Window"]
