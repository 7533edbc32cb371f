"""Paths the package is given: ``str`` or ``os.PathLike`` only, as the original's type hints say.

``str(value)`` on anything else made ``log_file=123`` a file named ``123`` and
``log_file=b"/path"`` a file named ``b'/path'`` in the current directory (nothing at /path)."""

from __future__ import annotations

import os


def fs_path(value: object, name: str) -> str:
    """The path value names, or TypeError naming the argument and what it got."""
    path = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(path, str):
        raise TypeError(
            f"`{name}` must be a str or an os.PathLike path, not {type(value).__name__} "
            f"({value!r})"
        )
    return path
