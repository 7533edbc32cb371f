"""Logging helpers (``zeus.utils.logging``; 0.8's ``zeus.util.logging`` adds ``get_logger``)."""

from __future__ import annotations

import sys
from pathlib import Path


class FileAndConsole:
    """A file-like object that writes to both a file and the console (stdout)."""

    def __init__(self, filepath: str | Path) -> None:
        self.file = open(filepath, "w")  # noqa: SIM115 - closed with the object
        self.stdout = sys.stdout

    def write(self, message: str) -> None:
        self.file.write(message)
        self.stdout.write(message)

    def flush(self) -> None:
        self.file.flush()
        self.stdout.flush()

    def close(self) -> None:
        self.file.close()


__all__ = ["FileAndConsole"]
