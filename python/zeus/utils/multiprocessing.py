"""Multiprocessing helpers (``zeus.utils.multiprocessing``)."""

from __future__ import annotations

import inspect
import warnings


def _is_global_in_spawned_child() -> bool:
    """Whether the caller runs, somewhere up its stack, in module-level code of a spawned
    child's main script (re-imported by spawn as ``__mp_main__``), directly or through modules
    that script imports. Module-level frames of multiprocessing's own start-up code
    (``<string>``, ``<frozen ...>``) do not count."""
    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None
    del frame
    while caller is not None:
        code = caller.f_code
        if (
            code.co_name == "<module>"
            and code.co_filename != "<string>"
            and not code.co_filename.startswith("<frozen")
            and caller.f_globals.get("__name__") == "__mp_main__"
        ):
            return True
        caller = caller.f_back
    return False


def warn_if_global_in_subprocess(self: object) -> None:
    """Warns (UserWarning) when ``self`` is being made while a spawned child re-imports its
    parent's main script (a monitor made as a global: every spawned child makes another one,
    and runs the rest of the script's global code, a model load for instance, again)."""
    if not _is_global_in_spawned_child():
        return
    warnings.warn(
        f"{type(self).__name__} was instantiated during module import in a spawned subprocess: "
        "it is probably a global of the main script, which every spawned child imports again "
        "(running its global code again). Create it under "
        '`if __name__ == "__main__":` or inside a function instead.',
        stacklevel=3,
    )


__all__ = ["warn_if_global_in_subprocess"]
