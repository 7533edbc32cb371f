"""The newer Zeus's ``zeus.utils.testing``: ``ReplayZeusMonitor`` with that version's signature
(``monitor_exec`` dropped, ``ignore_sync_cuda`` renamed ``ignore_sync_execution``,
``approx_instant_energy`` accepted); the replay is the 0.8 class's (``zeus.util.testing``)."""

from __future__ import annotations

from typing import Optional, Sequence

from zeus.util import testing as _v08


class ReplayZeusMonitor(_v08.ReplayZeusMonitor):
    """Each ``end_window`` returns the log's next row; GPU indices come from the header."""

    def __init__(
        self,
        gpu_indices: Optional[Sequence[int]] = None,
        approx_instant_energy: bool = False,
        log_file: Optional[str] = None,
        ignore_sync_execution: bool = False,
        match_window_name: bool = True,
    ) -> None:
        super().__init__(
            gpu_indices=gpu_indices,
            log_file=log_file,
            ignore_sync_cuda=ignore_sync_execution,
            match_window_name=match_window_name,
        )
        self.approx_instant_energy = approx_instant_energy
        self.ignore_sync_execution = ignore_sync_execution


__all__ = ["ReplayZeusMonitor"]
