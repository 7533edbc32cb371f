"""``PowerMonitor``: GPU power sampled in the background (a libzeus sampler thread)."""

from __future__ import annotations

from typing import Optional, Sequence

from zeus import _zeus


class PowerMonitor(_zeus.Sampler):
    """Samples GPU power in a background thread, like the original ``PowerMonitor``.

    Args:
        gpu_indices: GPUs to sample (None: all; an empty list is a ValueError).
        update_period: sampling period (s); None: inferred from how often each GPU model's
            power reading changes, halved, at most 0.1 s.

    ``get_energy(start, end)`` -> {gpu: J} or None; ``get_power(time=None)`` -> {gpu: W} or None.
    """

    def __init__(
        self, gpu_indices: Optional[Sequence[int]] = None, update_period: Optional[float] = None
    ) -> None:
        super().__init__(
            gpu_indices=None if gpu_indices is None else list(gpu_indices),
            update_period=update_period,
        )

    def __repr__(self) -> str:
        return f"PowerMonitor(gpu_indices={self.gpu_indices!r}, update_period={self.update_period!r})"
