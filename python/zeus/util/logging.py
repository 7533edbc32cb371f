"""0.8's logging helpers (``zeus.util.logging``): ``FileAndConsole`` and ``get_logger``."""

from __future__ import annotations

import logging
import os
import sys

from zeus.utils.logging import FileAndConsole


def get_logger(name: str, level: int = logging.INFO, propagate: bool = False) -> logging.Logger:
    """A logger printing ``[time] [name](file:line) message`` to stdout; the level comes from
    ``ZEUS_LOG_LEVEL`` when set."""
    logger = logging.getLogger(name)
    logger.propagate = propagate
    env_level = os.environ.get("ZEUS_LOG_LEVEL")
    logger.setLevel(env_level.upper() if env_level else level)
    if not any(getattr(h, "_zeus_handler", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler._zeus_handler = True  # type: ignore[attr-defined]
        handler.setFormatter(
            logging.Formatter("[%(asctime)s] [%(name)s](%(filename)s:%(lineno)d) %(message)s")
        )
        logger.addHandler(handler)
    return logger


__all__ = ["FileAndConsole", "get_logger"]
