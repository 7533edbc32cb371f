"""``PipelineFrequencyOptimizer``: each rank of a pipeline-parallel job gets its per-instruction
SM frequency plan from the pipeline frequency server and replays it every iteration (the
original's ``zeus.optimizer.pipeline_frequency.optimizer``; docs/pipeline-frequency.md).

Unlike the original v0.8 client this one stores ``device_id`` (v0.8 raised AttributeError on the
first instruction) and finds the supported clocks through libzeus (v0.8's device calls returned
None)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Optional

from zeus import _zeus
from zeus.callback import Callback
from zeus.monitor.energy import framework_sync
from zeus.optimizer.pipeline_frequency.common import (
    GET_FREQUENCY_SCHEDULE_URL,
    REGISTER_JOB_URL,
    REPORT_PROFILING_RESULT_URL,
    REGISTER_RANK_URL,
    FrequencySchedule,
    JobInfo,
    ProfilingResult,
    RankInfo,
)
from zeus.optimizer.pipeline_frequency.frequency_controller import FrequencyController

_SERVER = "Pipeline frequency server"


def _http(method: str, url: str, body: Optional[dict], timeout: Optional[float]) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


class PipelineFrequencyOptimizer(Callback):
    """Replays the server's frequency plan, instruction by instruction.

    Create it on every rank after ``torch.distributed.init_process_group``; call
    ``on_step_begin``, then ``on_instruction_begin/end("forward"|"backward")`` around each
    forward and backward in the order the pipeline schedule runs them, then ``on_step_end``.

    ``wait_for_frequency`` (ours, keyword only): ``on_instruction_begin`` returns only once the
    instruction's clock is locked, so its first kernel runs at the planned clock rather than at
    the previous instruction's (the original's asynchronous switch); the step then waits for
    the driver whenever the clock changes (a few ms with NVML, well under one with zeusd or
    simulated GPUs).

    With the server's Online scheduler the first schedules are profiling iterations (one clock
    each): the optimizer measures every instruction (``measurement``: an object with
    ``begin()`` / ``end() -> (seconds, joules)``, default a ZeusMonitor window), reports it
    with ``POST /result`` and asks for the next schedule at the end of each iteration, until
    the server has solved the profile and sends the plan, which it then keeps.
    """

    def __init__(
        self,
        rank: int,
        dp_rank: int,
        pp_rank: int,
        tp_rank: int,
        device_id: int,
        dp_degree: int,
        pp_degree: int,
        tp_degree: int,
        world_size: int,
        server_url: str,
        job_metadata: Optional[str] = None,
        *,
        wait_for_frequency: bool = False,
        measurement=None,
    ) -> None:
        import torch  # noqa: PLC0415 - the client needs torch.distributed, the package does not
        import torch.distributed as dist  # noqa: PLC0415

        if not dist.is_initialized():
            raise RuntimeError(
                "Instantiate `PipelineFrequencyOptimizer` after `init_process_group`."
            )
        self.server_url = server_url
        self.rank = rank
        self.dp_rank = dp_rank
        self.pp_rank = pp_rank
        self.tp_rank = tp_rank
        self.device_id = device_id
        self.wait_for_frequency = wait_for_frequency
        if torch.cuda.is_available():
            torch.cuda.set_device(device_id)
        self._sync = framework_sync("torch")

        job_id = None
        if rank == 0:
            info = JobInfo(pp_degree=pp_degree, dp_degree=dp_degree, tp_degree=tp_degree,
                           world_size=world_size, job_metadata=job_metadata)
            code, text = _http("POST", server_url + REGISTER_JOB_URL, info.dict(), 5.0)
            if code != 200:
                raise RuntimeError(f"{_SERVER} returned status code {code}: {text}")
            job_id = json.loads(text)
            if not isinstance(job_id, str):
                raise RuntimeError(f"{_SERVER} returned a strange job ID: {job_id=}")
        objects = [job_id]
        dist.broadcast_object_list(objects, src=0)
        self.job_id = objects[0]
        if self.job_id is None:
            raise RuntimeError("Failed to broadcast job ID to all ranks")

        memory = max(_zeus.gpu_supported_clocks(device_id, 1, 0))
        freqs = sorted(_zeus.gpu_supported_clocks(device_id, 0, memory), reverse=True)
        rank_info = RankInfo(rank=rank, dp_rank=dp_rank, pp_rank=pp_rank, tp_rank=tp_rank,
                             available_frequencies=freqs)
        code, text = _http("POST", server_url + REGISTER_RANK_URL.format(job_id=self.job_id),
                           rank_info.dict(), 5.0)
        if code != 200:
            raise RuntimeError(f"{_SERVER} returned status code {code}: {text}")

        self.frequency_controller = FrequencyController(device_id)
        self._measurement = measurement
        self._breakdown: dict[str, dict[str, list[float]]] = {}
        self.freq_schedule = self._get_frequency_schedule()
        self._cursor = 0

    def _get_frequency_schedule(self) -> list[tuple[str, int]]:
        """Asks once for this rank's plan; the server answers when every rank has asked."""
        url = (self.server_url + GET_FREQUENCY_SCHEDULE_URL.format(job_id=self.job_id)
               + f"?rank={self.rank}")
        code, text = _http("GET", url, None, None)
        if code != 200:
            raise RuntimeError(f"{_SERVER} returned status code {code}: {text}")
        schedule = FrequencySchedule.parse_raw(text)
        if schedule.rank != self.rank:
            raise RuntimeError(
                f"{_SERVER} returned a schedule for rank {schedule.rank} to rank {self.rank}"
            )
        self.profiling = schedule.profiling
        if self.profiling and self._measurement is None:
            from zeus.optimizer.pipeline_frequency.profiler import (  # noqa: PLC0415
                MonitorMeasurement,
            )

            self._measurement = MonitorMeasurement(self.device_id)
        self._breakdown = {"time": {}, "energy": {}}
        return schedule.frequencies

    def _report_profile(self) -> None:
        """Online: posts this iteration's measurements, then waits for the next schedule."""
        times, energies = self._breakdown["time"], self._breakdown["energy"]
        result = ProfilingResult(
            rank=self.rank,
            iter_time=[sum(sum(v) for v in times.values())],
            iter_energy=[sum(sum(v) for v in energies.values())],
            time_breakdown={k: [v] for k, v in times.items()},
            energy_breakdown={k: [v] for k, v in energies.items()},
        )
        code, text = _http("POST", self.server_url
                           + REPORT_PROFILING_RESULT_URL.format(job_id=self.job_id),
                           result.dict(), 30.0)
        if code != 200:
            raise RuntimeError(f"{_SERVER} returned status code {code}: {text}")
        self.freq_schedule = self._get_frequency_schedule()

    def on_step_begin(self) -> None:
        """Nothing to do: the plan is replayed from its start."""

    def on_step_end(self) -> None:
        """Checks that every planned instruction ran, then rewinds the plan."""
        if self._cursor != len(self.freq_schedule):
            raise RuntimeError(
                f"{_SERVER} returned more frequencies than expected. "
                f"Next expected instruction and frequency is {self.freq_schedule[self._cursor]}"
            )
        self._cursor = 0
        if self.profiling:
            self._report_profile()

    def on_instruction_begin(self, name: str) -> None:
        """Waits for the previous instruction's GPU work, then queues this one's frequency."""
        if self._sync is not None:
            self._sync(self.device_id)
        if self._cursor >= len(self.freq_schedule):
            raise RuntimeError(f"{_SERVER} returned fewer frequencies than expected")
        inst, freq = self.freq_schedule[self._cursor]
        self._cursor += 1
        if inst != name:
            raise RuntimeError(
                f"The next expected instruction is {inst!r}, but {name!r} was called"
            )
        self.frequency_controller.set_frequency(
            freq, wait=self.wait_for_frequency or self.profiling)
        if self.profiling:
            self._measurement.begin()

    def on_instruction_end(self, name: str) -> None:
        """Records the instruction's time and energy while the server profiles."""
        if self.profiling:
            seconds, joules = self._measurement.end()
            self._breakdown["time"].setdefault(name, []).append(seconds)
            self._breakdown["energy"].setdefault(name, []).append(joules)

    def close(self) -> None:
        """Stops the frequency controller (the clocks are unlocked)."""
        self.frequency_controller.end()
