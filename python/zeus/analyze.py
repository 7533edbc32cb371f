"""Result analysis (Zeus 0.8's ``zeus.analyze``; ``energy``/``avg_power`` live in
``zeus.utils.metric`` in the newer Zeus): ``HistoryEntry`` and the energy and average power of
a power log (CSV with ``Time`` and ``Power`` in mW, its last line skipped as the original)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path


@dataclass
class HistoryEntry:
    """One run of a recurring job: batch size, power limit (W), energy (J), whether it reached
    the target, time (s)."""

    bs: int
    pl: int
    energy: float
    reached: bool
    time: float


def _read(logfile: Path | str) -> list[tuple[datetime, float]]:
    with open(logfile, newline="") as f:
        rows = list(csv.DictReader(f))[:-1]  # the last line may be partial (skipfooter=1)
    try:
        return [(datetime.fromisoformat(r["Time"].strip()), float(r["Power"]) / 1000.0) for r in rows]
    except (KeyError, ValueError) as e:
        raise ValueError(f"{logfile}: not a power log with Time and Power columns ({e})") from None


def _auc(samples: list[tuple[datetime, float]]) -> float:
    if len(samples) < 2:
        raise ValueError(
            f"At least 2 points are needed to compute area under curve, but x.shape = {len(samples)}"
        )
    area = 0.0
    for (t0, w0), (t1, w1) in zip(samples, samples[1:]):
        area += (t1.timestamp() - t0.timestamp()) * (w0 + w1) / 2.0
    return area


def energy(logfile: Path | str, start: float | None = None, end: float | None = None) -> float:
    """Energy (J) of the log between ``start`` and ``end`` seconds from its first sample (from
    its last when negative)."""
    samples = _read(logfile)
    if not samples:
        raise ValueError(f"{logfile}: no power samples")
    first, last = samples[0][0], samples[-1][0]
    if start is not None:
        lo = (first if start >= 0.0 else last) + timedelta(seconds=start)
        samples = [s for s in samples if s[0] >= lo]
    if end is not None:
        hi = (first if end >= 0.0 else last) + timedelta(seconds=end)
        samples = [s for s in samples if s[0] <= hi]
    return _auc(samples)


def avg_power(logfile: Path | str, start: float | None = None, end: float | None = None) -> float:
    """Average power (W) of the log between ``start`` and ``end`` seconds from its first sample.
    ValueError when the window holds fewer than two samples."""
    samples = _read(logfile)
    if not samples:
        raise ValueError(f"{logfile}: no power samples")
    first = samples[0][0]
    if start is not None:
        samples = [s for s in samples if s[0] >= first + timedelta(seconds=start)]
    if end is not None:
        samples = [s for s in samples if s[0] <= first + timedelta(seconds=end)]
    area = _auc(samples)
    return area / (samples[-1][0].timestamp() - samples[0][0].timestamp())


__all__ = ["HistoryEntry", "energy", "avg_power"]
