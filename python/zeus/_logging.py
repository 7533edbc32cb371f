"""libzeus's log messages go to the ``logging`` module under the ``zeus`` logger.

libzeus calls back from whichever thread logs (the caller's, or its sampler and probe threads);
the extension takes the GIL for the call. The libzeus threshold follows the ``zeus`` logger's
effective level (unless ZEUS_LOG_LEVEL is set), so messages nobody would see are never built.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

from zeus import _zeus

logger = logging.getLogger("zeus")

# libzeus levels: 0 error, 1 warn, 2 info, 3 debug.
_TO_PY = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


def _handler(level: int, message: str) -> None:
    pylevel = _TO_PY.get(level, logging.INFO)
    if logger.hasHandlers():
        logger.log(pylevel, message)
    elif logger.isEnabledFor(pylevel) and pylevel >= logging.WARNING:
        # Nobody configured logging: Python's last-resort handler would print the bare message,
        # leaving the user to guess where it came from. Say it as the zeus command does.
        sys.stderr.write(f"zeus: {logging.getLevelName(pylevel).lower()}: {message}\n")


def sync_level() -> None:
    """Sets libzeus's threshold from the ``zeus`` logger (called when monitors are created)."""
    if os.environ.get("ZEUS_LOG_LEVEL"):
        return
    eff = logger.getEffectiveLevel()
    if eff <= logging.DEBUG:
        _zeus._set_log_level(3)
    elif eff <= logging.INFO:
        _zeus._set_log_level(2)
    elif eff <= logging.WARNING:
        _zeus._set_log_level(1)
    else:
        _zeus._set_log_level(0)


def _uninstall() -> None:
    # Messages logged after the interpreter is gone (exit-time restores) have nowhere to go.
    _zeus._set_log_handler(None)


def install() -> None:
    _zeus._set_log_handler(_handler)
    sync_level()
    atexit.register(_uninstall)
