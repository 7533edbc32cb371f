"""asyncio helpers (``zeus.utils.async_utils``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")
default_logger = logging.getLogger(__name__)


def create_task(
    coroutine: Coroutine[Any, Any, T], logger: logging.Logger | None = None
) -> asyncio.Task[T]:
    """``asyncio.create_task`` that logs the task's exception when it fails (a cancelled task
    is not logged)."""
    task = asyncio.create_task(coroutine)
    task.add_done_callback(lambda t: _log_exception(t, logger or default_logger))
    return task


def _log_exception(task: asyncio.Task, logger: logging.Logger) -> None:
    try:
        task.result()
    except asyncio.CancelledError:
        pass
    except Exception:  # noqa: BLE001 - logged, as the original does
        logger.exception("Exception raised by task %r", task)


__all__ = ["create_task"]
