"""The frequency controller: a libzeus thread locks the GPU's SM clock for each instruction
(``zeus_pf_controller_*``). The original runs a separate process fed by a queue; here the
training thread only queues the frequency and returns, and the clocks are changed through a
lease, so they are unlocked when the controller ends, at exit, and on signals (with zeusd as the
knob backend, without root)."""

from __future__ import annotations

import atexit

from zeus import _zeus


class FrequencyController:
    """Sets the SM clock of GPU ``device_id`` (a framework index) without blocking the caller."""

    def __init__(self, device_id: int = 0) -> None:
        self.device_id = device_id
        self._handle = _zeus.pf_controller_start(device_id)
        atexit.register(self.end)

    def set_frequency(self, frequency: int, wait: bool = False) -> None:
        """Queues a frequency in MHz; 0 leaves the clock as it is, a repeat is skipped. With
        ``wait`` it returns once the clock is locked (the next kernel runs at it)."""
        if frequency == 0:
            return
        _zeus.pf_controller_set_frequency(self._handle, int(frequency))
        if wait:
            _zeus.pf_controller_wait(self._handle)

    def state(self) -> tuple[int, int, int]:
        """(highest MHz, MHz locked now, lock calls made)."""
        return _zeus.pf_controller_state(self._handle)

    def end(self) -> None:
        """Applies what is queued, stops, and unlocks the clocks (idempotent)."""
        _zeus.pf_controller_stop(self._handle)
        atexit.unregister(self.end)
