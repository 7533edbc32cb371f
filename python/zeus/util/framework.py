"""Framework helpers of Zeus 0.8 (``zeus.util.framework``); the newer names are in
``zeus.utils.framework`` and are re-exported here too."""

from __future__ import annotations

from functools import lru_cache

from zeus.utils import framework as _new
from zeus.utils.framework import (  # noqa: F401 - the newer names, also reachable here
    MODULE_CACHE,
    all_reduce,
    get_rank,
    get_world_size,
    is_distributed,
    sync_execution,
)


@lru_cache(maxsize=1)
def torch_is_available() -> bool:
    """Whether PyTorch is importable; AssertionError when it is but has no CUDA (as 0.8)."""
    try:
        available = _new.torch_is_available(ensure_cuda=False)
    except RuntimeError:  # pragma: no cover - ensure_cuda=False never raises
        available = False
    if available:
        assert MODULE_CACHE["torch"].cuda.is_available(), (
            "PyTorch is available but does not have CUDA support."
        )
    return available


def cuda_sync(device: int | None = None) -> None:
    """Wait for the work queued on ``device`` (the current device when None)."""
    if _new._sim_gpus():
        _new.sync_execution([device if device is not None else 0])
        return
    if torch_is_available():
        MODULE_CACHE["torch"].cuda.synchronize(device)
        return
    raise RuntimeError("No frameworks are available.")


__all__ = ["torch_is_available", "cuda_sync"]
