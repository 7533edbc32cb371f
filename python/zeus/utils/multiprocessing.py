"""Multiprocessing helpers (``zeus.utils.multiprocessing``)."""

from __future__ import annotations

import inspect
import warnings


def warn_if_global_in_subprocess(self: object) -> None:
    """Warns (UserWarning) when ``self`` is being made by module-level code of a spawned
    child (``__name__ == "__mp_main__"``): the object would be made again in every child."""
    frame = inspect.currentframe()
    try:
        caller = frame.f_back if frame is not None else None
        while caller is not None:
            if caller.f_code.co_name == "<module>":
                if caller.f_globals.get("__name__") == "__mp_main__":
                    warnings.warn(
                        f"{type(self).__name__} was instantiated at the global scope of a "
                        "subprocess's main module (every spawned child makes another one). "
                        "Create it under `if __name__ == '__main__':` instead.",
                        stacklevel=2,
                    )
                return
            caller = caller.f_back
    finally:
        del frame


__all__ = ["warn_if_global_in_subprocess"]
