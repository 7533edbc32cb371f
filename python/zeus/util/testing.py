"""``ReplayZeusMonitor``: plays a ZeusMonitor CSV log back (for tests of code that uses windows)."""

from __future__ import annotations

from typing import Optional, Sequence

from zeus import _zeus
from zeus._paths import fs_path


class ReplayZeusMonitor(_zeus.Monitor):
    """Each ``end_window`` returns the log's next row; GPU indices come from the header.

    Errors, like the original's: RuntimeError for a window already ongoing, one not ongoing,
    no more lines, or (``match_window_name``) a row for another window."""

    def __init__(
        self,
        gpu_indices: Optional[Sequence[int]] = None,
        monitor_exec: str = "zeus_monitor",
        log_file: Optional[str] = None,
        ignore_sync_cuda: bool = False,
        match_window_name: bool = True,
    ) -> None:
        if log_file is None:
            raise ValueError("`log_file` is mandatory for `ReplayZeusMonitor`.")
        log_file = fs_path(log_file, "log_file")
        super().__init__(replay_log=log_file, match_window_name=match_window_name)
        self.log_file = log_file
        self.monitor_exec = monitor_exec
        self.ignore_sync_cuda = ignore_sync_cuda
        self.match_window_name = match_window_name

    def __repr__(self) -> str:
        return f"ReplayZeusMonitor(log_file={self.log_file!r}, gpu_indices={self.gpu_indices!r})"
