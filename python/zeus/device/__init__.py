"""GPUs (``zeus.device.get_gpus()``), through libzeus's device layer (NVML or simulated GPUs).

Indices are framework indices (after ``CUDA_VISIBLE_DEVICES``). Methods exist in the original
0.8's camelCase and the newer snake_case; power in mW, energy in mJ, as NVML.
"""

from __future__ import annotations

from zeus import _zeus
from zeus.device import exception as _exc
from zeus.device.exception import ZeusBaseGPUError, ZeusGPUInitError

__all__ = ["get_gpus", "GPUs", "ZeusBaseGPUError", "ZeusGPUInitError"]

_CLOCK_GPU, _CLOCK_MEMORY = 0, 1  # zeus_clock_domain


class GPUs:
    """The GPUs this process sees (a process-wide singleton; see ``get_gpus``)."""

    def __init__(self) -> None:
        self._count = _zeus.gpu_count()
        self.backend = _zeus.gpu_backend()

    def __len__(self) -> int:
        return self._count

    @property
    def gpus(self) -> list[int]:
        return list(range(self._count))

    def __repr__(self) -> str:
        names = [self.get_name(i) for i in range(self._count)]
        return f"GPUs(backend={self.backend!r}, gpus={names!r})"

    # ---- snake_case (newer releases) ----
    def get_name(self, index: int) -> str:
        return _zeus.gpu_info(index)["name"]

    def get_info(self, index: int) -> dict:
        """Everything libzeus knows about the GPU (name, uuid, architecture, limits...)."""
        return _zeus.gpu_info(index)

    def get_power_management_limit_constraints(self, index: int) -> tuple[int, int]:
        info = _zeus.gpu_info(index)
        if not info["power_limit_valid"]:
            raise _exc.ZeusGPUNotSupportedError(f"GPU {index} does not report a power-limit range")
        return info["min_power_limit_mw"], info["max_power_limit_mw"]

    def get_power_management_limit(self, index: int) -> int:
        return _zeus.gpu_power_limit_mw(index)

    def set_power_management_limit(self, index: int, value: int, block: bool = True) -> None:
        _zeus.gpu_set_power_limit_mw(index, int(value))

    def reset_power_management_limit(self, index: int, block: bool = True) -> None:
        _zeus.gpu_set_power_limit_mw(index, _zeus.gpu_info(index)["default_power_limit_mw"])

    def set_persistence_mode(self, index: int, enabled: bool, block: bool = True) -> None:
        _zeus.gpu_set_persistence_mode(index, bool(enabled))

    # Locked clocks (MHz). Like the power limit, they need root or a zeusd (ZEUSD_SOCK_PATH).
    def set_gpu_locked_clocks(self, index: int, min_clock_mhz: int, max_clock_mhz: int,
                              block: bool = True) -> None:
        _zeus.gpu_set_locked_clocks(index, _CLOCK_GPU, min_clock_mhz, max_clock_mhz)

    def reset_gpu_locked_clocks(self, index: int, block: bool = True) -> None:
        _zeus.gpu_reset_locked_clocks(index, _CLOCK_GPU)

    def set_memory_locked_clocks(self, index: int, min_clock_mhz: int, max_clock_mhz: int,
                                 block: bool = True) -> None:
        _zeus.gpu_set_locked_clocks(index, _CLOCK_MEMORY, min_clock_mhz, max_clock_mhz)

    def reset_memory_locked_clocks(self, index: int, block: bool = True) -> None:
        _zeus.gpu_reset_locked_clocks(index, _CLOCK_MEMORY)

    def get_instant_power_usage(self, index: int) -> int:
        p = _zeus.gpu_power(index)
        return p["instant_mw"] if p["instant_mw"] is not None else p["usage_mw"]

    def get_average_power_usage(self, index: int) -> int:
        p = _zeus.gpu_power(index)
        return p["average_mw"] if p["average_mw"] is not None else p["usage_mw"]

    def get_power_usage(self, index: int) -> int:
        return _zeus.gpu_power(index)["usage_mw"]

    def supports_get_total_energy_consumption(self, index: int) -> bool:
        return bool(_zeus.gpu_info(index)["has_energy_counter"])

    def get_total_energy_consumption(self, index: int) -> int:
        return _zeus.gpu_energy_mj(index)

    # ---- camelCase (0.8) ----
    getName = get_name
    getPowerManagementLimitConstraints = get_power_management_limit_constraints
    setPowerManagementLimit = set_power_management_limit
    resetPowerManagementLimit = reset_power_management_limit
    setPersistenceMode = set_persistence_mode
    setGpuLockedClocks = set_gpu_locked_clocks
    resetGpuLockedClocks = reset_gpu_locked_clocks
    setMemoryLockedClocks = set_memory_locked_clocks
    resetMemoryLockedClocks = reset_memory_locked_clocks
    getPowerUsage = get_power_usage
    supportsGetTotalEnergyConsumption = supports_get_total_energy_consumption
    getTotalEnergyConsumption = get_total_energy_consumption


_gpus: GPUs | None = None


def get_gpus(ensure_homogeneous: bool = False) -> GPUs:
    """The process-wide GPUs. Raises ZeusGPUInitError when no GPU backend is available.

    Unlike the original, ``ensure_homogeneous`` is checked on every call.
    """
    global _gpus
    if _gpus is None:
        try:
            gpus = GPUs()
        except Exception as e:  # noqa: BLE001
            raise ZeusGPUInitError(str(e)) from None
        if gpus.backend is None:
            reasons = "; ".join(
                f"{name}: {why}" for name, (ok, why) in _zeus.backend_reasons().items() if not ok
            )
            raise ZeusGPUInitError(
                "NVML and AMDSMI unavailable. Failed to initialize GPU management library."
                + (f" ({reasons})" if reasons else "")
            )
        _gpus = gpus
    if ensure_homogeneous:
        _zeus.check_homogeneous()  # ZeusGPUHeterogeneousError, a ZeusBaseGPUError as in 0.8
    return _gpus


def simulate_step(index: int) -> None:
    """Simulated GPUs (``ZEUS_DEVICE=sim``) only: queues one training step on GPU ``index``, as
    a kernel launch would; windows and the optimizer then see its time and energy. Examples and
    tests use it to train on a CPU while the power limit matters."""
    _zeus.sim_launch_step(index)
