"""``get_env``: typed environment variables (the original's ``zeus.util.env``)."""

from __future__ import annotations

import os
from typing import Optional, Type, TypeVar, cast

T = TypeVar("T")


def get_env(name: str, valtype: Type[T], default: Optional[T] = None) -> T:
    """The variable converted to ``valtype``; ``default`` when unset.

    Booleans must be ``true`` or ``false`` (any case). Raises ValueError when the variable is
    unset and there is no default, or cannot be converted."""
    if valtype is bool:
        val = os.environ.get(name)
        if val is not None:
            low = val.lower()
            if low == "true":
                return cast(T, True)
            if low == "false":
                return cast(T, False)
            raise ValueError(f"Strange boolean environment variable value '{val}'")
    elif name in os.environ:
        return valtype(os.environ[name])  # type: ignore[call-arg]
    if default is not None:
        return default
    raise ValueError(f"Missing environment variable '{name}'")


def resolve_gpu_indices(requested_gpu_indices: Optional[list[int]]) -> tuple[list[int], list[int]]:
    """(framework indices, NVML indices) of the requested GPUs (None: every GPU visible under
    ``CUDA_VISIBLE_DEVICES``), in the same order; libzeus's device layer applies
    ``CUDA_VISIBLE_DEVICES`` (the one owner of that mapping)."""
    from zeus import _zeus  # noqa: PLC0415 - the C extension, only when asked

    if requested_gpu_indices is not None and not requested_gpu_indices:
        raise ValueError("`requested_gpu_indices` must be None or non-empty.")
    framework = (
        list(range(_zeus.gpu_count())) if requested_gpu_indices is None
        else list(requested_gpu_indices)
    )  # fmt: skip
    return framework, [_zeus.gpu_info(i)["device_index"] for i in framework]
