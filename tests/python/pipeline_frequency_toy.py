"""A pipeline-parallel toy on simulated GPUs, end to end through the pipeline frequency optimizer
(used by tests/python/test_pipeline_frequency_e2e.py and bench/python/pipeline_frequency_e2e.py).

Launched as STAGES processes (``python pipeline_frequency_toy.py RANK CONFIG_JSON``): one
torch.distributed (gloo) rank per pipeline stage, each driving its own simulated GPU (the sim
backend: a step takes longer and draws less at a locked SM clock), unequal stage work and
backward twice forward, synchronous 1F1B with isend/recv between stages. In one launch:

1. profile: ``PipelineFrequencyProfiler`` sweeps the clocks, one training step per clock;
   rank 0 writes the CSV;
2. rank 0 solves it (``zeus pipeline-frequency solve``) and serves the last frontier point
   (``zeus pipeline-frequency serve``); the ranks get the URL by broadcast, no restart;
3. ITERS iterations at the maximum clock, then ITERS with ``PipelineFrequencyOptimizer``.

With the mode "online" the server's Online scheduler does 1 and 2 instead: the ranks start
``PipelineFrequencyOptimizer`` at once and it profiles until the server sends the plan.

Time and energy are the simulated GPUs' own accounting, not the wall clock: every kernel costs
what the simulator's model gives at the clock locked when it is launched (``sim_step_cost``),
each rank carries its simulated time to the next stage in the tensors it sends, and a rank
waiting for its input draws the simulated idle power. The machine's load does not change the
numbers; only the clocks actually locked at each kernel's launch do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import socket
import tempfile
import time
from pathlib import Path

# the ranks import torch, torch.distributed as dist and zeus._zeus (see the end); the launcher
# needs none of them


class SimClock:
    """A rank's simulated time and energy."""

    def __init__(self, gpu: int) -> None:
        self.gpu = gpu
        self.t = 0.0
        self.energy = 0.0
        self.busy = (0.0, 0.0)  # (seconds, joules) of kernels so far

    def kernel(self) -> None:
        seconds, busy_w, _ = _zeus.sim_step_cost(self.gpu)
        _zeus.sim_launch_step(self.gpu)
        _zeus.sim_synchronize(self.gpu)
        self.t += seconds
        self.energy += busy_w * seconds
        self.busy = (self.busy[0] + seconds, self.busy[1] + busy_w * seconds)

    def wait_until(self, t: float) -> None:
        if t > self.t:
            self.energy += _zeus.sim_step_cost(self.gpu)[2] * (t - self.t)
            self.t = t


class SimMeasurement:
    """The profiler's measurement: an instruction's simulated kernel time and energy."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock

    def begin(self) -> None:
        self._start = self.clock.busy

    def end(self) -> tuple[float, float]:
        return self.clock.busy[0] - self._start[0], self.clock.busy[1] - self._start[1]


def order(stage: int, stages: int, mbs: int) -> list[str]:
    """The 1F1B order of one stage's instructions."""
    warm = min(stages - stage, mbs)
    seq = ["forward"] * warm
    f, b = warm, 0
    while f < mbs:
        seq += ["backward", "forward"]
        f, b = f + 1, b + 1
    return seq + ["backward"] * (mbs - b)


def iteration(rank: int, world: int, cfg: dict, clock: SimClock, hooks) -> tuple[float, float]:
    """One synchronous 1F1B iteration: (simulated seconds, joules of every GPU)."""
    start = torch.tensor([clock.t], dtype=torch.float64)
    dist.all_reduce(start, op=dist.ReduceOp.MAX)
    clock.wait_until(start.item())
    e0 = clock.energy
    kernels = cfg["fwd_steps"][rank]
    sends = []
    if hooks:
        hooks.on_step_begin()
    for kind in order(rank, world, cfg["mbs"]):
        peer = rank - 1 if kind == "forward" else rank + 1
        if 0 <= peer < world:
            buf = torch.zeros(1, dtype=torch.float64)
            dist.recv(buf, peer)
            clock.wait_until(buf.item())
        if hooks:
            hooks.on_instruction_begin(kind)
        for _ in range(kernels * (1 if kind == "forward" else 2)):
            clock.kernel()
        if hooks:
            hooks.on_instruction_end(kind)
        peer = rank + 1 if kind == "forward" else rank - 1
        if 0 <= peer < world:  # isend, as pipeline engines do: a blocking send deadlocks 1F1B
            sends.append(dist.isend(torch.tensor([clock.t], dtype=torch.float64), peer))
    for s in sends:
        s.wait()
    if hooks:
        hooks.on_step_end()
    end = torch.tensor([clock.t], dtype=torch.float64)
    dist.all_reduce(end, op=dist.ReduceOp.MAX)
    clock.wait_until(end.item())
    energy = torch.tensor([clock.energy - e0], dtype=torch.float64)
    dist.all_reduce(energy)
    return end.item() - start.item(), energy.item()


def serve(cfg: dict, *args: str) -> tuple[subprocess.Popen, str]:
    """Rank 0: starts `zeus pipeline-frequency serve` on a free port; (server, URL)."""
    server = subprocess.Popen(
        [cfg["zeus"], "pipeline-frequency", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, ZEUS_PFO_DUMP_DATA="false"))
    return server, server.stdout.readline().split()[-1]


def solve_and_serve(cfg: dict, csv: str) -> tuple[subprocess.Popen, dict]:
    """Rank 0: solves the profile and serves the last frontier point."""
    out = cfg["tmp"] + "/plans"
    solve = subprocess.run(
        [cfg["zeus"], "pipeline-frequency", "solve", csv, "--out", out,
         "--num-stages", str(cfg["stages"]), "--num-mbs", str(cfg["mbs"]),
         "--p2p-power", repr(_zeus.sim_step_cost(0)[2]), "--unit-time", repr(cfg["unit_time"])],
        capture_output=True, text=True, check=True)
    plans = sorted(Path(out).glob("freqs_pipeline_*.py"))
    server, url = serve(cfg, "--solution", str(plans[-1]))
    return server, {"url": url, "points": len(plans), "solve": solve.stdout.strip()}


def measure(rank: int, world: int, cfg: dict, clock: SimClock, hooks) -> dict:
    """A warm-up iteration, then ITERS measured ones."""
    iteration(rank, world, cfg, clock, hooks)
    times, energies = [], []
    for _ in range(cfg["iters"]):
        t, e = iteration(rank, world, cfg, clock, hooks)
        times.append(t)
        energies.append(e)
    return {"times": times, "energies": energies}


def offline(rank: int, world: int, cfg: dict, clock: SimClock) -> dict:
    """Profiler, then rank 0 solves and serves; the ranks replay the plan."""
    from zeus.optimizer.pipeline_frequency import (  # noqa: PLC0415
        PipelineFrequencyOptimizer, PipelineFrequencyProfiler)

    result: dict = {}
    wall = time.perf_counter()
    prof = PipelineFrequencyProfiler(rank, rank, frequencies=cfg["clocks"], warmup_steps=0,
                                     measurement=SimMeasurement(clock))
    while not prof.done:
        iteration(rank, world, cfg, clock, prof)
    csv = cfg["tmp"] + "/profile.csv"
    prof.write_csv(csv)
    result["profile_wall_s"] = time.perf_counter() - wall
    server = None
    info = [None]
    try:
        if rank == 0:
            server, info[0] = solve_and_serve(cfg, csv)
        dist.broadcast_object_list(info, src=0)
        result.update(info[0])
        for mode in ["max_clock"] + cfg["modes"]:
            # "planned": the clock locked before each instruction's first kernel;
            # "planned_async": the original's asynchronous switch
            hooks = None if mode == "max_clock" else PipelineFrequencyOptimizer(
                rank, 0, rank, 0, rank, 1, world, 1, world, info[0]["url"],
                job_metadata=f"toy+{mode}", wait_for_frequency=mode == "planned")
            result[mode] = measure(rank, world, cfg, clock, hooks)
            if hooks:
                hooks.close()
        dist.barrier()
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    return result


def online(rank: int, world: int, cfg: dict, clock: SimClock) -> dict:
    """The server's Online scheduler profiles, solves and serves; the ranks never restart."""
    from zeus.optimizer.pipeline_frequency import PipelineFrequencyOptimizer  # noqa: PLC0415

    result: dict = {}
    server = None
    info = [None]
    try:
        if rank == 0:
            args = {"num_microbatches": cfg["mbs"], "frequencies": cfg["clocks"],
                    "p2p_power": _zeus.sim_step_cost(0)[2], "unit_time": cfg["unit_time"]}
            server, url = serve(cfg, "--scheduler", "Online", "--scheduler-args",
                                json.dumps(args))
            info[0] = {"url": url}
        dist.broadcast_object_list(info, src=0)
        result["max_clock"] = measure(rank, world, cfg, clock, None)
        wall = time.perf_counter()
        hooks = PipelineFrequencyOptimizer(rank, 0, rank, 0, rank, 1, world, 1, world,
                                           info[0]["url"], job_metadata="toy+online",
                                           wait_for_frequency=True,
                                           measurement=SimMeasurement(clock))
        n = 0
        while hooks.profiling:
            iteration(rank, world, cfg, clock, hooks)
            n += 1
        result["profile_wall_s"] = time.perf_counter() - wall
        result["profiling_iterations"] = n
        result["online"] = measure(rank, world, cfg, clock, hooks)
        hooks.close()
        dist.barrier()
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    return result


def main() -> None:
    rank, cfg = int(sys.argv[1]), json.loads(sys.argv[2])
    world = cfg["stages"]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{cfg['port']}", rank=rank,
                            world_size=world)
    clock = SimClock(rank)
    result = (online if "online" in cfg["modes"] else offline)(rank, world, cfg, clock)
    if rank == 0:
        with open(cfg["tmp"] + "/result.json", "w") as f:
            json.dump(result, f)
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(build: Path, *, stages: int = 4, mbs: int = 4, fwd_steps=(3, 4, 2, 3),
           step_ms: float = 1.0, clocks=tuple(range(1740, 1000, -60)), unit_time: float = 1e-4,
           iters: int = 2, modes=("planned",), timeout: float = 300) -> dict:
    """Runs the toy (STAGES processes) and returns rank 0's result with the summary added."""
    with tempfile.TemporaryDirectory(prefix="zeus-pfo-toy-") as d:
        sim = {"gpus": [{"count": stages, "step_time_ms": step_ms, "energy_update_ms": 0.5}]}
        env = dict(os.environ, ZEUS_DEVICE="sim", ZEUS_SIM_CONFIG=json.dumps(sim),
                   ZEUS_SIM_STATE=d + "/sim-state", ZEUS_LOCK_DIR=d + "/locks",
                   PYTHONPATH=str(build / "python"))
        cfg = {"stages": stages, "mbs": mbs, "fwd_steps": list(fwd_steps), "clocks": list(clocks),
               "unit_time": unit_time, "iters": iters, "modes": list(modes), "tmp": d,
               "zeus": str(build / "zeus"), "port": free_port()}
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, __file__, str(r), json.dumps(cfg)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for r in range(stages)]
        try:
            errors = []
            for r, p in enumerate(procs):
                out, err = p.communicate(timeout=max(1.0, timeout - (time.perf_counter() - start)))
                if p.returncode != 0:
                    errors.append(f"rank {r} exited {p.returncode}: {err[-3000:]}")
            if errors:
                raise RuntimeError("\n".join(errors))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        result = json.loads(Path(d, "result.json").read_text())
        if Path(d, "profile.csv").exists():
            result["profile_csv"] = Path(d, "profile.csv").read_text()
        result["wall_s"] = time.perf_counter() - start
    base = result["max_clock"]
    t0, e0 = sum(base["times"]) / iters, sum(base["energies"]) / iters
    for mode in modes:
        t, e = sum(result[mode]["times"]) / iters, sum(result[mode]["energies"]) / iters
        result[mode]["energy_saved_pct"] = 100 * (1 - e / e0)
        result[mode]["time_change_pct"] = 100 * (t / t0 - 1)
    return result


if __name__ == "__main__":
    import torch
    import torch.distributed as dist

    from zeus import _zeus

    main()
