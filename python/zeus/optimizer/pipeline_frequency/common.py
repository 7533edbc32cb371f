"""What the pipeline frequency optimizer's client and server exchange (the original's
``zeus.optimizer.pipeline_frequency.common``): route paths and the JSON models."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Optional

GET_SERVER_INFO_URL = "/info"
REGISTER_JOB_URL = "/register_job"
REGISTER_RANK_URL = "/register_rank/{job_id}"
GET_FREQUENCY_SCHEDULE_URL = "/schedule/{job_id}"
REPORT_PROFILING_RESULT_URL = "/result/{job_id}"


class _Model:
    def dict(self) -> dict:
        return asdict(self)

    def json(self) -> str:
        return json.dumps(self.dict())


@dataclass
class JobInfo(_Model):
    """A job registered by rank 0; the server makes ``job_id``."""

    pp_degree: int
    dp_degree: int
    tp_degree: int
    world_size: int
    job_id: str = ""
    job_metadata: Optional[str] = None

    def __post_init__(self) -> None:
        if self.job_id:
            raise ValueError("job_id should be empty for job registration")
        for name in ("pp_degree", "dp_degree", "tp_degree", "world_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.dp_degree * self.tp_degree * self.pp_degree != self.world_size:
            raise ValueError("world_size != dp_degree * tp_degree * pp_degree")


@dataclass
class RankInfo(_Model):
    """One rank of a job and the SM clocks its GPU supports."""

    rank: int
    dp_rank: int
    pp_rank: int
    tp_rank: int
    available_frequencies: list[int]


@dataclass
class FrequencySchedule(_Model):
    """One rank's plan: ``(instruction, MHz)`` pairs in execution order."""

    rank: int
    frequencies: list[tuple[str, int]]
    # ours (the Online scheduler): measure this iteration and report it with POST /result
    profiling: bool = False

    @classmethod
    def parse_raw(cls, text: str) -> "FrequencySchedule":
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("rank"), int):
            raise ValueError(f"not a FrequencySchedule: {text[:200]}")
        pairs = data.get("frequencies")
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int)
            for p in pairs
        ):
            raise ValueError(f"not a FrequencySchedule: {text[:200]}")
        return cls(rank=data["rank"], frequencies=[(p[0], p[1]) for p in pairs],
                   profiling=data.get("profiling") is True)


@dataclass
class ProfilingResult(_Model):
    """What a rank measured over its profiling window (for online schedulers)."""

    rank: int
    iter_time: list[float]
    iter_energy: list[float]
    time_breakdown: dict[str, list[list[float]]] = field(default_factory=dict)
    energy_breakdown: dict[str, list[list[float]]] = field(default_factory=dict)


@dataclass
class OfflineProfilingResult(_Model):
    """One rank's offline profile (the original's model, used by no route): per SM clock
    (MHz), the mean time (s) and energy (J) of its forward and backward instructions."""

    rank: int
    dp_rank: int
    pp_rank: int
    tp_rank: int
    forward_time: dict[int, float]
    forward_energy: dict[int, float]
    backward_time: dict[int, float]
    backward_energy: dict[int, float]

    def __post_init__(self) -> None:
        for name in ("rank", "dp_rank", "pp_rank", "tp_rank"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be at least 0")


@dataclass
class InstructionProfilingResult(_Model):
    """Every rank's ``OfflineProfilingResult``, written as the original's CSV."""

    __root__: list[OfflineProfilingResult]

    def to_csv(self, filepath: str) -> None:
        """Columns rank, dp_rank, pp_rank, tp_rank, stage (= pp_rank), instruction ("forward"
        or "backward"), frequency, time, energy; one row per rank, instruction and clock."""
        import csv  # noqa: PLC0415 - only here

        if not filepath.endswith(".csv"):
            raise ValueError("Filepath does not end with '.csv'")
        with open(filepath, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["rank", "dp_rank", "pp_rank", "tp_rank", "stage", "instruction",
                          "frequency", "time", "energy"])  # fmt: skip
            for r in self.__root__:
                prefix = [r.rank, r.dp_rank, r.pp_rank, r.tp_rank, r.pp_rank]
                for kind, times, energies in (("forward", r.forward_time, r.forward_energy),
                                              ("backward", r.backward_time, r.backward_energy)):  # fmt: skip
                    for freq, t in times.items():
                        out.writerow([*prefix, kind, freq, t, energies[freq]])
