"""AMD GPUs (``zeus.device.gpu.amd``). This build has no AMD backend: the classes exist under
the original's names and refuse to be made, saying so."""

from __future__ import annotations

from zeus.device.exception import ZeusGPUInitError
from zeus.device.gpu.common import GPU, GPUs

_NO_BACKEND = "no AMD backend in this build (libzeus has no amdsmi backend yet)"


def amdsmi_is_available() -> bool:
    """False: this build cannot drive AMD GPUs."""
    return False


class AMDGPU(GPU):
    def __init__(self, gpu_index: int) -> None:
        raise ZeusGPUInitError(_NO_BACKEND)


class UnprivilegedAMDGPU(AMDGPU):
    pass


class ZeusdAMDGPU(AMDGPU):
    def __init__(self, gpu_index: int, client: object | None = None) -> None:
        raise ZeusGPUInitError(_NO_BACKEND)


class AMDGPUs(GPUs):
    def __init__(self, ensure_homogeneous: bool = False) -> None:
        raise ZeusGPUInitError(_NO_BACKEND)


__all__ = ["amdsmi_is_available", "AMDGPU", "UnprivilegedAMDGPU", "ZeusdAMDGPU", "AMDGPUs"]
