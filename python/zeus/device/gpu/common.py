"""GPU classes (``zeus.device.gpu.common``): one ``GPU`` per device and the ``GPUs`` manager,
both over libzeus's device layer (NVML through its run-time loader, or simulated GPUs).

Indices are framework indices (after ``CUDA_VISIBLE_DEVICES``); power in mW, energy in mJ,
clocks in MHz, as NVML. Every method has its 0.8 camelCase name too.
"""

from __future__ import annotations

import functools
import warnings
from typing import Callable, TypeVar

from zeus import _zeus
from zeus.device import exception as _exc
from zeus.device.common import camel_aliases, has_sys_admin
from zeus.device.exception import *  # noqa: F401,F403 - the error classes live here too
from zeus.device.exception import ZeusBaseGPUError, ZeusGPUHeterogeneousError

T = TypeVar("T")
_CLOCK_GPU, _CLOCK_MEMORY = 0, 1  # zeus_clock_domain


def zeus_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Turns the extension's libzeus errors into the matching ZeusGPU*Error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except IndexError:
            raise
        except Exception as e:  # noqa: BLE001 - converted, never swallowed
            new = _exc.convert(e)
            if new is e:
                raise
            raise new from None

    return wrapper


_warned_sys_admin = False


def _warn_sys_admin() -> None:
    global _warned_sys_admin
    if not _warned_sys_admin and not has_sys_admin():
        _warned_sys_admin = True
        warnings.warn(
            "SYS_ADMIN capability is required to modify GPU settings. Using zeusd for GPU "
            "settings (ZEUSD_SOCK_PATH) is recommended.",
            stacklevel=3,
        )


@camel_aliases
class GPU:
    """One GPU (framework index ``gpu_index``), as the original's ``GPU`` classes."""

    def __init__(self, gpu_index: int) -> None:
        self.gpu_index = gpu_index

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.gpu_index})"

    @property
    def supports_nonblocking_setters(self) -> bool:
        return False

    @zeus_errors
    def get_name(self) -> str:
        return _zeus.gpu_info(self.gpu_index)["name"]

    @zeus_errors
    def get_power_management_limit_constraints(self) -> tuple[int, int]:
        info = _zeus.gpu_info(self.gpu_index)
        if not info["power_limit_valid"]:
            raise _exc.ZeusGPUNotSupportedError(
                f"GPU {self.gpu_index} does not report a power-limit range"
            )
        return info["min_power_limit_mw"], info["max_power_limit_mw"]

    @zeus_errors
    def get_power_management_limit(self) -> int:
        return _zeus.gpu_power_limit_mw(self.gpu_index)

    @zeus_errors
    def set_power_management_limit(self, power_limit_mw: int, block: bool = True) -> None:
        _zeus.gpu_set_power_limit_mw(self.gpu_index, int(power_limit_mw))

    @zeus_errors
    def reset_power_management_limit(self, block: bool = True) -> None:
        info = _zeus.gpu_info(self.gpu_index)
        _zeus.gpu_set_power_limit_mw(self.gpu_index, info["default_power_limit_mw"])

    @zeus_errors
    def set_persistence_mode(self, enabled: bool, block: bool = True) -> None:
        _zeus.gpu_set_persistence_mode(self.gpu_index, bool(enabled))

    @zeus_errors
    def get_persistence_mode(self) -> bool:
        return _zeus.gpu_persistence_mode(self.gpu_index)

    @zeus_errors
    def set_gpu_locked_clocks(
        self, min_clock_mhz: int, max_clock_mhz: int, block: bool = True
    ) -> None:
        _zeus.gpu_set_locked_clocks(self.gpu_index, _CLOCK_GPU, min_clock_mhz, max_clock_mhz)

    @zeus_errors
    def reset_gpu_locked_clocks(self, block: bool = True) -> None:
        _zeus.gpu_reset_locked_clocks(self.gpu_index, _CLOCK_GPU)

    @zeus_errors
    def set_memory_locked_clocks(
        self, min_clock_mhz: int, max_clock_mhz: int, block: bool = True
    ) -> None:
        _zeus.gpu_set_locked_clocks(self.gpu_index, _CLOCK_MEMORY, min_clock_mhz, max_clock_mhz)

    @zeus_errors
    def reset_memory_locked_clocks(self, block: bool = True) -> None:
        _zeus.gpu_reset_locked_clocks(self.gpu_index, _CLOCK_MEMORY)

    def reset_locked_clocks(self, block: bool = True) -> None:
        """Resets the GPU clocks, then the memory clocks."""
        self.reset_gpu_locked_clocks(block)
        self.reset_memory_locked_clocks(block)

    @zeus_errors
    def get_supported_memory_clocks(self) -> list[int]:
        """Supported memory clocks (MHz), highest first."""
        return list(_zeus.gpu_supported_clocks(self.gpu_index, 1, 0))

    @zeus_errors
    def get_supported_graphics_clocks(self, memory_clock_mhz: int | None = None) -> list[int]:
        """Supported graphics clocks (MHz) at a memory clock (default: the highest)."""
        if memory_clock_mhz is None:
            memory_clock_mhz = max(self.get_supported_memory_clocks())
        return list(_zeus.gpu_supported_clocks(self.gpu_index, 0, memory_clock_mhz))

    def get_average_memory_power_usage(self) -> int:
        """The newest Zeus reads NVML's memory power scope (documented by NVIDIA for H100 only);
        libzeus does not read it: ZeusGPUNotSupportedError."""
        raise _exc.ZeusGPUNotSupportedError(
            f"GPU {self.gpu_index}: average memory power is not read by this package"
        )

    @zeus_errors
    def get_instant_power_usage(self) -> int:
        p = _zeus.gpu_power(self.gpu_index)
        return p["instant_mw"] if p["instant_mw"] is not None else p["usage_mw"]

    @zeus_errors
    def get_average_power_usage(self) -> int:
        p = _zeus.gpu_power(self.gpu_index)
        return p["average_mw"] if p["average_mw"] is not None else p["usage_mw"]

    @zeus_errors
    def get_power_usage(self) -> int:
        """0.8's ``getPowerUsage`` (NVML's power usage, mW)."""
        return _zeus.gpu_power(self.gpu_index)["usage_mw"]

    @zeus_errors
    def supports_get_total_energy_consumption(self) -> bool:
        return bool(_zeus.gpu_info(self.gpu_index)["has_energy_counter"])

    @zeus_errors
    def get_total_energy_consumption(self) -> int:
        return _zeus.gpu_energy_mj(self.gpu_index)

    @zeus_errors
    def get_gpu_temperature(self) -> int:
        """GPU temperature (degrees C)."""
        return _zeus.gpu_temperature_c(self.gpu_index)


class GPUs:
    """The GPUs this process sees (a process-wide singleton; see ``get_gpus``). Methods take
    the framework index first and forward to ``gpus[index]``."""

    def __init__(self, ensure_homogeneous: bool = False) -> None:
        self._count = _zeus.gpu_count()
        self.backend = _zeus.gpu_backend()
        self._gpus = [self._make_gpu(i) for i in range(self._count)]
        if ensure_homogeneous:
            self._ensure_homogeneous()

    def _make_gpu(self, index: int) -> GPU:
        return GPU(index)

    def _ensure_homogeneous(self) -> None:
        try:
            _zeus.check_homogeneous()
        except Exception as e:  # noqa: BLE001
            raise ZeusGPUHeterogeneousError(str(e)) from None

    def __len__(self) -> int:
        return self._count

    @property
    def gpus(self) -> list[GPU]:
        return list(self._gpus)

    def __repr__(self) -> str:
        names = [self.get_name(i) for i in range(self._count)]
        return f"{type(self).__name__}(backend={self.backend!r}, gpus={names!r})"

    def _gpu(self, index: int) -> GPU:
        if 0 <= index < self._count:
            return self._gpus[index]
        # libzeus reports the bad index (IndexError, as the original's list of GPUs), whatever
        # the vendor: a vendor's class may refuse the index in its own way when constructed.
        return GPU(index)

    @zeus_errors
    def get_info(self, gpu_index: int) -> dict:
        """Everything libzeus knows about the GPU (name, uuid, architecture, limits...)."""
        return _zeus.gpu_info(gpu_index)

    def get_name(self, gpu_index: int) -> str:
        return self._gpu(gpu_index).get_name()

    def get_power_management_limit_constraints(self, gpu_index: int) -> tuple[int, int]:
        return self._gpu(gpu_index).get_power_management_limit_constraints()

    def get_power_management_limit(self, gpu_index: int) -> int:
        return self._gpu(gpu_index).get_power_management_limit()

    def set_power_management_limit(self, gpu_index: int, power_limit_mw: int, block: bool = True) -> None:
        self._gpu(gpu_index).set_power_management_limit(power_limit_mw, block)

    def reset_power_management_limit(self, gpu_index: int, block: bool = True) -> None:
        self._gpu(gpu_index).reset_power_management_limit(block)

    def set_persistence_mode(self, gpu_index: int, enabled: bool, block: bool = True) -> None:
        self._gpu(gpu_index).set_persistence_mode(enabled, block)

    def get_persistence_mode(self, gpu_index: int) -> bool:
        return self._gpu(gpu_index).get_persistence_mode()

    # Locked clocks (MHz). Like the power limit, they need root or a zeusd (ZEUSD_SOCK_PATH).
    def set_gpu_locked_clocks(self, gpu_index: int, min_clock_mhz: int, max_clock_mhz: int, block: bool = True
    ) -> None:
        self._gpu(gpu_index).set_gpu_locked_clocks(min_clock_mhz, max_clock_mhz, block)

    def reset_gpu_locked_clocks(self, gpu_index: int, block: bool = True) -> None:
        self._gpu(gpu_index).reset_gpu_locked_clocks(block)

    def set_memory_locked_clocks(self, gpu_index: int, min_clock_mhz: int, max_clock_mhz: int, block: bool = True
    ) -> None:
        self._gpu(gpu_index).set_memory_locked_clocks(min_clock_mhz, max_clock_mhz, block)

    def reset_memory_locked_clocks(self, gpu_index: int, block: bool = True) -> None:
        self._gpu(gpu_index).reset_memory_locked_clocks(block)

    def reset_locked_clocks(self, gpu_index: int, block: bool = True) -> None:
        self._gpu(gpu_index).reset_locked_clocks(block)

    def get_supported_memory_clocks(self, gpu_index: int) -> list[int]:
        return self._gpu(gpu_index).get_supported_memory_clocks()

    def get_supported_graphics_clocks(
        self, gpu_index: int, memory_clock_mhz: int | None = None
    ) -> list[int]:
        return self._gpu(gpu_index).get_supported_graphics_clocks(memory_clock_mhz)

    def get_average_memory_power_usage(self, gpu_index: int) -> int:
        return self._gpu(gpu_index).get_average_memory_power_usage()

    def get_instant_power_usage(self, gpu_index: int) -> int:
        return self._gpu(gpu_index).get_instant_power_usage()

    def get_average_power_usage(self, gpu_index: int) -> int:
        return self._gpu(gpu_index).get_average_power_usage()

    def get_power_usage(self, gpu_index: int) -> int:
        return self._gpu(gpu_index).get_power_usage()

    def supports_get_total_energy_consumption(self, gpu_index: int) -> bool:
        return self._gpu(gpu_index).supports_get_total_energy_consumption()

    def get_total_energy_consumption(self, gpu_index: int) -> int:
        return self._gpu(gpu_index).get_total_energy_consumption()

    def get_gpu_temperature(self, gpu_index: int) -> int:
        return self._gpu(gpu_index).get_gpu_temperature()

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
    getInstantPowerUsage = get_instant_power_usage
    getAveragePowerUsage = get_average_power_usage
    supportsGetTotalEnergyConsumption = supports_get_total_energy_consumption
    getTotalEnergyConsumption = get_total_energy_consumption
    getGpuTemperature = get_gpu_temperature


class EmptyGPUs(GPUs):
    """No GPUs (what ZeusMonitor uses when no GPU library works): every operation raises
    ValueError("No GPUs available.")."""

    def __init__(self, ensure_homogeneous: bool = False) -> None:
        self._count = 0
        self.backend = None
        self._gpus = []

    def __repr__(self) -> str:
        return "EmptyGPUs()"

    def _gpu(self, gpu_index: int) -> GPU:
        raise ValueError("No GPUs available.")

    def get_info(self, gpu_index: int) -> dict:
        raise ValueError("No GPUs available.")
