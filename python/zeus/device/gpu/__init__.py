"""GPUs (``zeus.device.gpu``: ``get_gpus`` and the classes of both the 0.8 module and the
newer package), through libzeus's device layer (NVML or simulated GPUs)."""

from __future__ import annotations

from zeus import _zeus
from zeus.device.exception import *  # noqa: F401,F403 - 0.8 exposed the error classes here
from zeus.device.exception import ZeusGPUInitError
from zeus.device.gpu.amd import AMDGPU, AMDGPUs, UnprivilegedAMDGPU, amdsmi_is_available
from zeus.device.gpu.common import GPU, GPUs, EmptyGPUs
from zeus.device.gpu.nvidia import NVIDIAGPU, NVIDIAGPUs, UnprivilegedNVIDIAGPU, nvml_is_available

_gpus: GPUs | None = None
_made_once = False  # a GPUs object was made in this process (so a reset opens the devices again)


def get_gpus(ensure_homogeneous: bool = False) -> GPUs:
    """The process-wide GPUs. Raises ZeusGPUInitError when no GPU backend is available.

    Unlike the original, ``ensure_homogeneous`` is checked on every call (the original checks
    only on the first, constructing call: spec 6 quirk 1)."""
    global _gpus, _made_once
    if _gpus is None:
        if _made_once:  # `_gpus = None` (the original's tests do it): see the devices anew
            _zeus._reopen_devices()
        try:
            backend = _zeus.gpu_backend()
        except Exception as e:  # noqa: BLE001
            raise ZeusGPUInitError(str(e)) from None
        if backend is None:
            reasons = "; ".join(
                f"{name}: {why}" for name, (ok, why) in _zeus.backend_reasons().items() if not ok
            )
            raise ZeusGPUInitError(
                "NVML and AMDSMI unavailable. Failed to initialize GPU management library."
                + (f" ({reasons})" if reasons else "")
            )
        try:
            _gpus = (
                NVIDIAGPUs()
                if backend == "nvml"
                else AMDGPUs()
                if backend == "amdsmi"
                else GPUs()
            )
        except Exception as e:  # noqa: BLE001
            raise ZeusGPUInitError(str(e)) from None
        _made_once = True
    if ensure_homogeneous:
        _gpus._ensure_homogeneous()  # ZeusGPUHeterogeneousError (a ZeusBaseGPUError)
    return _gpus


__all__ = [
    "get_gpus",
    "GPU",
    "GPUs",
    "EmptyGPUs",
    "NVIDIAGPU",
    "NVIDIAGPUs",
    "UnprivilegedNVIDIAGPU",
    "AMDGPU",
    "AMDGPUs",
    "UnprivilegedAMDGPU",
    "nvml_is_available",
    "amdsmi_is_available",
]
