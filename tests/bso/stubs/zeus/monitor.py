"""ZeusMonitor over the simulated GPUs of zeus.device."""
from zeus.device import SIM


class Measurement:
    def __init__(self, time, energy):
        self.time = time
        self.gpu_energy = {0: energy}
        self.total_energy = energy


class ZeusMonitor:
    def __init__(self, gpu_indices=None, **kwargs):
        self.gpu_indices = gpu_indices or [0]
        self.windows = {}

    def begin_window(self, key, sync_execution=True):
        assert key not in self.windows, key
        self.windows[key] = (SIM.t, SIM.e)

    def end_window(self, key, sync_execution=True, cancel=False):
        t, e = self.windows.pop(key)
        return Measurement(SIM.t - t, SIM.e - e)
