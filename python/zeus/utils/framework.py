"""Framework helpers (the newer Zeus's ``zeus.utils.framework``): which framework is installed,
waiting for a GPU's queued work, and the collectives the distributed optimizers use.

Only the framework's own calls are made here (``torch.cuda.synchronize``,
``torch.distributed.all_reduce``); on simulated GPUs (``ZEUS_DEVICE=sim``) ``sync_execution``
waits through libzeus, as the monitor does.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Literal

from zeus import _zeus

logger = logging.getLogger(__name__)

MODULE_CACHE: dict[str, Any] = {}


@lru_cache(maxsize=None)
def torch_is_available(ensure_available: bool = False, ensure_cuda: bool = True) -> bool:
    """Whether PyTorch is importable (and, with ``ensure_cuda``, sees CUDA: else RuntimeError).

    ``ensure_available`` turns a missing PyTorch into a RuntimeError instead of False."""
    try:
        import torch  # noqa: PLC0415 - optional dependency
    except ImportError as e:
        logger.info("PyTorch is not available.")
        if ensure_available:
            raise RuntimeError("Failed to import Pytorch") from e
        return False
    if ensure_cuda and not torch.cuda.is_available():
        raise RuntimeError("PyTorch is available but does not have CUDA support.")
    MODULE_CACHE["torch"] = torch
    logger.info("PyTorch %s is available.", "with CUDA support" if ensure_cuda else "")
    return True


@lru_cache(maxsize=None)
def jax_is_available(ensure_available: bool = False, ensure_cuda: bool = True) -> bool:
    """Whether JAX is importable (and, with ``ensure_cuda``, has a GPU backend: else RuntimeError)."""
    try:
        import jax  # noqa: PLC0415 - optional dependency
    except ImportError as e:
        logger.info("JAX is not available.")
        if ensure_available:
            raise RuntimeError("Failed to import JAX") from e
        return False
    if ensure_cuda and not any(d.platform == "gpu" for d in jax.devices()):
        raise RuntimeError("JAX is available but does not have CUDA support.")
    MODULE_CACHE["jax"] = jax
    return True


@lru_cache(maxsize=None)
def cupy_is_available(ensure_available: bool = False) -> bool:
    """Whether CuPy is importable (``ensure_available``: RuntimeError instead of False)."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency
    except ImportError as e:
        logger.info("CuPy is not available.")
        if ensure_available:
            raise RuntimeError("Failed to import CuPy") from e
        return False
    MODULE_CACHE["cupy"] = cupy
    return True


def _sim_gpus() -> bool:
    return _zeus.gpu_backend() == "sim"


def sync_execution(
    gpu_devices: list[int], sync_with: Literal["torch", "jax", "cupy"] = "torch"
) -> None:
    """Block until the work queued on each GPU in ``gpu_devices`` (framework indices) is done.

    Raises RuntimeError("No framework is available.") when ``sync_with`` is not installed."""
    if _sim_gpus():
        # Simulated GPUs queue their steps in libzeus: wait there, as a CUDA sync would.
        for device in gpu_devices:
            _zeus.sim_synchronize(device)
        return
    if sync_with == "torch" and torch_is_available(ensure_cuda=False):
        torch = MODULE_CACHE["torch"]
        for device in gpu_devices:
            torch.cuda.synchronize(device)
        return
    if sync_with == "jax" and jax_is_available(ensure_cuda=False):
        jax = MODULE_CACHE["jax"]
        futures = [jax.device_put(0.0, device=jax.devices("gpu")[d]) + 0 for d in gpu_devices]
        futures.append(jax.device_put(0.0, device=jax.devices("cpu")[0]) + 0)
        jax.block_until_ready(futures)
        return
    if sync_with == "cupy" and cupy_is_available():
        cupy = MODULE_CACHE["cupy"]
        for device in gpu_devices:
            cupy.cuda.Device(device).synchronize()
        return
    raise RuntimeError("No framework is available.")


def _torch_dist():
    if not torch_is_available(ensure_cuda=False):
        return None
    dist = MODULE_CACHE["torch"].distributed
    if not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def all_reduce(
    object: list[int] | list[float], operation: Literal["sum", "max"]
) -> list[int] | list[float]:
    """Element-wise sum or max of ``object`` across all ranks (every rank must call it with a
    list of the same length). Not distributed: the input list itself is returned.

    The original reduces a float32 CUDA tensor; we reduce float64 (joule totals of long jobs lose
    digits in float32) and keep the tensor on the CPU when the process group's backend is not
    NCCL (gloo reduces CPU tensors), so it also works for CPU-only groups."""
    if operation not in ("sum", "max"):
        raise ValueError(f"all_reduce unsupported operation: {operation}")
    dist = _torch_dist()
    if dist is not None:
        torch = MODULE_CACHE["torch"]
        tensor = torch.tensor(object, dtype=torch.float64)
        if dist.get_backend() == "nccl":
            tensor = tensor.cuda()
        op = dist.ReduceOp.SUM if operation == "sum" else dist.ReduceOp.MAX
        dist.all_reduce(tensor, op=op)
        return tensor.cpu().tolist()
    if not torch_is_available(ensure_cuda=False) and jax_is_available(ensure_cuda=False):
        jax = MODULE_CACHE["jax"]
        if jax.device_count() == 1:
            return object
        raise NotImplementedError("JAX distributed is not supported yet.")
    return object


def is_distributed() -> bool:
    """Whether this process is one rank of several (torch.distributed initialised, or JAX with
    more than one device)."""
    if torch_is_available(ensure_cuda=False):
        return _torch_dist() is not None
    if jax_is_available(ensure_cuda=False):
        return MODULE_CACHE["jax"].device_count() > 1
    return False


def get_rank() -> int:
    """This process's rank (0 when not distributed)."""
    dist = _torch_dist()
    if dist is not None:
        return dist.get_rank()
    if not torch_is_available(ensure_cuda=False) and jax_is_available(ensure_cuda=False):
        return MODULE_CACHE["jax"].process_index()
    return 0


def get_world_size() -> int:
    """How many ranks there are (1 when not distributed)."""
    dist = _torch_dist()
    if dist is not None:
        return dist.get_world_size()
    if not torch_is_available(ensure_cuda=False) and jax_is_available(ensure_cuda=False):
        return MODULE_CACHE["jax"].process_count()
    return 1


__all__ = [
    "torch_is_available",
    "jax_is_available",
    "cupy_is_available",
    "sync_execution",
    "all_reduce",
    "is_distributed",
    "get_rank",
    "get_world_size",
]
