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
