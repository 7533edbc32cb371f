"""``PipelineFrequencyProfiler``: the profiling mode the original has only inside Merak.

It takes the same hooks as ``PipelineFrequencyOptimizer`` in a plain ``torch.distributed``
pipeline: each profiled training step runs every instruction of the rank at one SM clock, the
clocks swept from the highest down, and each forward and backward is measured (time and GPU
energy). When the sweep is done, ``write_csv`` gathers every rank's averages and rank 0 writes
the CSV ``zeus pipeline-frequency solve`` reads (``stage,instruction,frequency,time,energy``).
docs/pipeline-frequency.md shows the whole loop.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol, Sequence

from zeus import _zeus
from zeus.callback import Callback
from zeus.optimizer.pipeline_frequency.frequency_controller import FrequencyController

INSTRUCTIONS = ("forward", "backward")


class Measurement(Protocol):
    """What the profiler times an instruction with."""

    def begin(self) -> None:
        """Starts measuring (the GPU's earlier work is done)."""

    def end(self) -> tuple[float, float]:
        """Stops, after the instruction's GPU work: (seconds, joules)."""


class MonitorMeasurement:
    """The default: a ZeusMonitor window on the rank's GPU, synchronised with the framework."""

    def __init__(self, device_id: int) -> None:
        from zeus.monitor import ZeusMonitor  # noqa: PLC0415 - only the default needs it

        self.device_id = device_id
        self._monitor = ZeusMonitor(gpu_indices=[device_id], sync_execution_with="torch")

    def begin(self) -> None:
        self._monitor.begin_window("pfo-profile", sync_execution=True)

    def end(self) -> tuple[float, float]:
        m = self._monitor.end_window("pfo-profile", sync_execution=True)
        return m.time, m.energy[self.device_id]


class PipelineFrequencyProfiler(Callback):
    """Sweeps SM clocks over training steps and records each instruction's time and energy.

    ``frequencies``: the clocks to profile (MHz; default: every supported clock down to
    ``min_frequency``); ``warmup_steps`` steps at the highest clock are run unmeasured first;
    ``measurement``: how instructions are measured (default ``MonitorMeasurement``).
    ``done`` is true once every clock has been profiled; the clocks are then unlocked.
    """

    def __init__(
        self,
        pp_rank: int,
        device_id: int,
        frequencies: Optional[Sequence[int]] = None,
        min_frequency: int = 0,
        warmup_steps: int = 1,
        measurement: Optional[Measurement] = None,
    ) -> None:
        self.pp_rank = pp_rank
        self.device_id = device_id
        if frequencies is None:
            memory = max(_zeus.gpu_supported_clocks(device_id, 1, 0))
            frequencies = [
                f for f in _zeus.gpu_supported_clocks(device_id, 0, memory) if f >= min_frequency
            ]
        self.frequencies = sorted({int(f) for f in frequencies}, reverse=True)
        if not self.frequencies:
            raise ValueError("PipelineFrequencyProfiler: no frequency to profile")
        if warmup_steps < 0:
            raise ValueError(f"PipelineFrequencyProfiler: warmup_steps={warmup_steps} < 0")
        self._warmup = warmup_steps
        self._measure = measurement if measurement is not None else MonitorMeasurement(device_id)
        self._controller: Optional[FrequencyController] = FrequencyController(device_id)
        self._step = 0
        self._current: Optional[str] = None
        # (instruction, MHz) -> [seconds, joules, count]
        self._sums: dict[tuple[str, int], list[float]] = {}

    @property
    def done(self) -> bool:
        return self._step >= self._warmup + len(self.frequencies)

    def _frequency(self) -> Optional[int]:
        if self._step < self._warmup:
            return None
        return self.frequencies[self._step - self._warmup]

    def on_step_begin(self) -> None:
        """Locks this step's clock (and waits until it is locked)."""
        if self.done or self._controller is None:
            raise RuntimeError("PipelineFrequencyProfiler: the sweep is over")
        f = self._frequency()
        self._controller.set_frequency(self.frequencies[0] if f is None else f, wait=True)

    def on_instruction_begin(self, name: str) -> None:
        if name not in INSTRUCTIONS:
            raise ValueError(f"instruction {name!r}: expected 'forward' or 'backward'")
        self._current = name
        self._measure.begin()

    def on_instruction_end(self, name: str) -> None:
        if name != self._current:
            raise RuntimeError(f"on_instruction_end({name!r}) after on_instruction_begin({self._current!r})")
        seconds, joules = self._measure.end()
        self._current = None
        f = self._frequency()
        if f is not None:
            s = self._sums.setdefault((name, f), [0.0, 0.0, 0])
            s[0] += seconds
            s[1] += joules
            s[2] += 1

    def on_step_end(self) -> None:
        """Moves on to the next clock; unlocks the clocks after the last."""
        self._step += 1
        if self.done:
            self.close()

    def close(self) -> None:
        if self._controller is not None:
            self._controller.end()
            self._controller = None

    def rows(self) -> list[tuple[int, str, int, float, float]]:
        """This rank's profile: (stage, instruction, MHz, mean seconds, mean joules)."""
        return [
            (self.pp_rank, inst, f, s[0] / s[2], s[1] / s[2])
            for (inst, f), s in sorted(self._sums.items(), key=lambda kv: (kv[0][0], -kv[0][1]))
        ]

    def write_csv(self, path: str, gather: Optional[Callable[[list], list]] = None) -> None:
        """Gathers every rank's rows (``torch.distributed.all_gather_object``; a collective) and
        writes the CSV on rank 0. Ranks of the same stage (data or tensor parallel) are
        averaged per row."""
        if not self.done:
            raise RuntimeError("PipelineFrequencyProfiler: write_csv before the sweep finished")
        mine = self.rows()
        if gather is None:
            import torch.distributed as dist  # noqa: PLC0415

            everyone: list = [None] * dist.get_world_size()
            dist.all_gather_object(everyone, mine)
            if dist.get_rank() != 0:
                return
        else:
            everyone = gather(mine)
            if everyone is None:
                return
        merged: dict[tuple[int, str, int], list[float]] = {}
        for rows in everyone:
            for stage, inst, f, t, e in rows:
                m = merged.setdefault((stage, inst, f), [0.0, 0.0, 0])
                m[0] += t
                m[1] += e
                m[2] += 1
        with open(path, "w") as out:
            out.write("stage,instruction,frequency,time,energy\n")
            for (stage, inst, f), m in sorted(merged.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
                out.write(f"{stage},{inst},{f},{m[0] / m[2]!r},{m[1] / m[2]!r}\n")
