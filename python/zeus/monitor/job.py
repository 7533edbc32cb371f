"""Job windows: one energy window for a whole distributed job (libzeus's zeus/job_window.h).

``ZeusMonitor.end_window`` measures this process's GPUs, as the original does. In a
``torch.distributed`` job, ``end_job_window`` ends the window on every rank and combines them:
energy summed over *physical* GPUs, each counted once (ranks that share a GPU or watch
overlapping sets are deduplicated by GPU UUID, across hosts), time as the slowest rank's, and
the window's span across hosts with a bound on the error from the hosts' clock offsets.

Every rank must call it (it is a collective: two barriers and an ``all_gather_object``), after
beginning the window with ``monitor.begin_window(key)`` as usual.
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from zeus import _zeus


@dataclass(frozen=True)
class JobMeasurement:
    """A window of the whole job.

    Attributes:
        time: the slowest rank's window (s), each measured on its own host's monotonic clock.
        total_energy: J over every physical GPU of the job, each once; None if a GPU could not
            be measured by any rank.
        gpu_energy: {GPU UUID: J} (the largest reading where ranks share a GPU).
        ranks, gpu_count: ranks that took part, physical GPUs counted.
        duplicates: readings of a GPU that another reading already counted.
        duplicate_spread: the largest difference between two ranks' readings of one GPU (J).
        span: last end minus first start across hosts (s), by the hosts' wall clocks.
        clock_skew_bound: any two hosts' clocks differ by at most this (s), so ``span`` is off
            by at most this much.
        rank_measurement: this rank's own ``Measurement`` (what ``end_window`` returns).
    """

    time: float
    total_energy: Optional[float]
    gpu_energy: dict[str, float]
    ranks: int
    gpu_count: int
    duplicates: int
    duplicate_spread: float
    span: float
    clock_skew_bound: float
    rank_measurement: Any = field(repr=False)


def _dist() -> Any:
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None) if torch is not None else None
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def end_job_window(
    monitor: Any, key: str, sync_execution: bool = True, group: Any = None
) -> JobMeasurement:
    """Ends ``key`` on this rank and combines every rank's window (collective over ``group``,
    default the whole job). Without ``torch.distributed`` it is this process's window alone."""
    m = monitor.end_window(key, sync_execution)
    dist = _dist()
    rank = dist.get_rank() if dist is not None else 0
    host = socket.gethostname()
    readings = []
    for index, energy in m.gpu_energy.items():
        uuid = _zeus.gpu_info(index)["uuid"]
        readings.append((rank, host, uuid, None if energy is None else float(energy)))
    if dist is not None:
        # The clock barrier (zeus/job_window.h): a first barrier lines the ranks up, so the
        # second one is short; the instant the last rank entered it is inside [t0, t1] on
        # every host's clock.
        dist.barrier(group=group)
        t0 = time.time()
        dist.barrier(group=group)
        t1 = time.time()
    else:
        t0 = t1 = time.time()
    mine = ((rank, host, float(m.start_time), float(m.time), t0, t1), readings)
    if dist is not None:
        gathered: list[Any] = [None] * dist.get_world_size(group=group)
        dist.all_gather_object(gathered, mine, group=group)
    else:
        gathered = [mine]
    parts = [tuple(g[0]) for g in gathered]
    all_readings = [tuple(r) for g in gathered for r in g[1]]
    c = _zeus.job_window_combine(parts, all_readings)
    per_gpu: dict[str, float] = {}
    for _rank, _host, uuid, energy in all_readings:
        if energy is not None:
            per_gpu[uuid] = max(per_gpu.get(uuid, energy), energy)
    return JobMeasurement(
        time=c["time"],
        total_energy=c["total_energy"],
        gpu_energy=per_gpu,
        ranks=c["ranks"],
        gpu_count=c["gpu_count"],
        duplicates=c["duplicates"],
        duplicate_spread=c["duplicate_spread"],
        span=c["span"],
        clock_skew_bound=c["clock_skew_bound"],
        rank_measurement=m,
    )


__all__ = ["JobMeasurement", "end_job_window"]
