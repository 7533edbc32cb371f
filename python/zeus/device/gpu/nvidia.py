"""NVIDIA GPUs (``zeus.device.gpu.nvidia``) through libzeus's NVML backend (NVML loaded at run
time; no pynvml needed). With ZEUSD_SOCK_PATH / ZEUSD_HOST_PORT set, libzeus sends the
changes (power limit, persistence mode, clocks) to zeusd and reads stay local, as the newer
Zeus's ``ZeusdNVIDIAGPU`` does."""

from __future__ import annotations

from functools import lru_cache

from zeus import _zeus
from zeus.device.common import ZeusdDevice, changes_through_zeusd
from zeus.device.gpu.common import GPU, GPUs


@lru_cache(maxsize=1)
def nvml_is_available() -> bool:
    """Whether libzeus could load and initialise NVML."""
    ok, _ = _zeus.backend_reasons().get("nvml", (False, ""))
    return bool(ok)


class NVIDIAGPU(GPU):
    """One NVIDIA GPU (framework index)."""


class UnprivilegedNVIDIAGPU(NVIDIAGPU):
    """0.8's name for a GPU without SYS_ADMIN: the same class (changes fail with
    ZeusGPUNoPermissionError unless a zeusd is configured)."""


class ZeusdNVIDIAGPU(ZeusdDevice, NVIDIAGPU):
    """An NVIDIA GPU whose changes go through zeusd (libzeus's zeusd knob backend)."""


class NVIDIAGPUs(GPUs):
    """Every NVIDIA GPU this process sees (``CUDA_VISIBLE_DEVICES`` applied by libzeus)."""

    def _make_gpu(self, index: int) -> GPU:
        return ZeusdNVIDIAGPU(index) if changes_through_zeusd() else NVIDIAGPU(index)


__all__ = ["nvml_is_available", "NVIDIAGPU", "UnprivilegedNVIDIAGPU", "ZeusdNVIDIAGPU", "NVIDIAGPUs"]
