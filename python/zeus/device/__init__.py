"""Devices (``zeus.device``): ``get_gpus()``, ``get_cpus()``, ``get_soc()`` and the GPU error
classes, through libzeus's device layer (NVML or simulated GPUs, RAPL).

Indices are framework indices (after ``CUDA_VISIBLE_DEVICES``). Methods exist in the original
0.8's camelCase and the newer snake_case; power in mW, energy in mJ, as NVML.
"""

from __future__ import annotations

from zeus import _zeus
from zeus.device.cpu import get_cpus
from zeus.device.exception import *  # noqa: F401,F403 - 0.8 re-exported the 20 error classes
from zeus.device.exception import ZeusBaseGPUError, ZeusGPUInitError
from zeus.device.gpu import get_gpus
from zeus.device.gpu.common import GPUs
from zeus.device.soc import get_soc

__all__ = ["get_gpus", "get_cpus", "get_soc", "GPUs", "ZeusBaseGPUError", "ZeusGPUInitError"]


def simulate_step(index: int) -> None:
    """Simulated GPUs (``ZEUS_DEVICE=sim``) only: queues one training step on GPU ``index``, as
    a kernel launch would; windows and the optimizer then see its time and energy. Examples and
    tests use it to train on a CPU while the power limit matters."""
    _zeus.sim_launch_step(index)
