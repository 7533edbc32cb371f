"""AMD GPUs (``zeus.device.gpu.amd``) through libzeus's amdsmi backend: ROCm's libamd_smi loaded
at run time (ROCm >= 6.3; no Python ``amdsmi`` package needed), GPUs numbered as HIP numbers them
with ``HIP_VISIBLE_DEVICES`` (else ``CUDA_VISIBLE_DEVICES``) applied, each GPU's energy counter
checked against its power when the devices are opened (docs/devices.md). With ZEUSD_SOCK_PATH /
ZEUSD_HOST_PORT set, libzeus sends the changes to zeusd and reads stay local, as the newer
Zeus's ``ZeusdAMDGPU`` does."""

from __future__ import annotations

from functools import lru_cache

from zeus import _zeus
from zeus.device.exception import (
    ZeusGPUInitError,
    ZeusGPUNotFoundError,
    ZeusGPUNotSupportedError,
)
from zeus.device.common import ZeusdDevice, changes_through_zeusd
from zeus.device.gpu.common import GPU, GPUs, zeus_errors


@lru_cache(maxsize=1)
def amdsmi_is_available() -> bool:
    """Whether libzeus loaded AMD SMI and is using it (``ZEUS_DEVICE=amdsmi``, or auto on a node
    without NVIDIA GPUs)."""
    ok, _ = _zeus.backend_reasons().get("amdsmi", (False, ""))
    return bool(ok)


class AMDGPU(GPU):
    """One AMD GPU (framework index = position among the visible HIP devices)."""

    # AMD GPUs have no persistence mode (the driver keeps them initialised): libzeus refuses,
    # as the original's AMDGPU raises ZeusGPUNotSupportedError.

    def __init__(self, gpu_index: int) -> None:
        super().__init__(gpu_index)
        count = _zeus.gpu_count()
        if not 0 <= gpu_index < count:
            hip = sorted(_zeus.gpu_info(i)["device_index"] for i in range(count))
            raise ZeusGPUNotFoundError(
                f"no AMD GPU at index {gpu_index} (HIP index {gpu_index} without "
                f"HIP_VISIBLE_DEVICES): the visible GPUs have HIP indices {hip}"
                + ("" if _zeus.gpu_backend() == "amdsmi" else f" ({_zeus.gpu_backend()} GPUs)")
            )

    @property
    def handle(self):
        """This GPU's processor handle in ROCm's ``amdsmi`` Python package, for calls of your
        own through that package (after its ``amdsmi_init()``). libzeus decides which GPU this
        is (HIP's numbering, ``HIP_VISIBLE_DEVICES``); the handle is the one of the same PCI
        address."""
        try:
            import amdsmi  # noqa: PLC0415 - only for this handle
        except ImportError as e:
            raise ImportError(
                "AMDGPU.handle is a handle of ROCm's amdsmi Python package, which is not "
                f"installed ({e}); this package measures without it"
            ) from None
        address = _zeus.gpu_pci_address(self.gpu_index)
        for handle in amdsmi.amdsmi_get_processor_handles():
            if str(amdsmi.amdsmi_get_gpu_device_bdf(handle)).lower() == address:
                return handle
        raise ZeusGPUNotFoundError(
            f"AMD GPU {self.gpu_index} (PCI {address}) is not among amdsmi's processor handles"
        )

    def reset_gpu_locked_clocks(self, block: bool = True) -> None:
        raise ZeusGPUNotSupportedError(
            "AMD GPUs cannot reset a single clock domain; use reset_locked_clocks()"
        )

    def reset_memory_locked_clocks(self, block: bool = True) -> None:
        raise ZeusGPUNotSupportedError(
            "AMD GPUs cannot reset a single clock domain; use reset_locked_clocks()"
        )

    @zeus_errors
    def reset_locked_clocks(self, block: bool = True) -> None:
        """Both domains back to the driver's control (AMD SMI's performance level "auto")."""
        _zeus.gpu_reset_locked_clocks(self.gpu_index, 0)
        _zeus.gpu_reset_locked_clocks(self.gpu_index, 1)

    def get_average_memory_power_usage(self) -> int:
        raise ZeusGPUNotSupportedError("AMD GPUs do not report memory power")


class UnprivilegedAMDGPU(AMDGPU):
    """0.8's name: the same class (changes fail with ZeusGPUNoPermissionError unless a zeusd is
    configured)."""


class ZeusdAMDGPU(ZeusdDevice, AMDGPU):
    """An AMD GPU whose changes go through zeusd (libzeus's zeusd knob backend)."""


class AMDGPUs(GPUs):
    """Every AMD GPU this process sees."""

    def __init__(self, ensure_homogeneous: bool = False) -> None:
        if _zeus.gpu_backend() != "amdsmi":
            _, why = _zeus.backend_reasons().get("amdsmi", (False, "no amdsmi backend"))
            raise ZeusGPUInitError(f"AMD SMI is not available: {why}")
        super().__init__(ensure_homogeneous)

    def _make_gpu(self, index: int) -> GPU:
        return ZeusdAMDGPU(index) if changes_through_zeusd() else AMDGPU(index)


__all__ = ["amdsmi_is_available", "AMDGPU", "UnprivilegedAMDGPU", "ZeusdAMDGPU", "AMDGPUs"]
