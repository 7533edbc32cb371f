"""The pipeline frequency optimizer end to end on simulated GPUs.

A 4-stage pipeline-parallel toy: 4 torch.distributed (gloo, CPU) processes, each driving its own
simulated GPU (the sim backend: steps that take longer and draw less at a locked SM clock), with
unequal stage work and backward about twice forward, running synchronous 1F1B. Steps:

1. profile: every rank sweeps SM clocks, timing and measuring its forward and backward (ZeusMonitor
   windows), and rank 0 writes the profile CSV;
2. solve: `zeus pipeline-frequency solve` (p2p power = the simulated idle power);
3. serve the last frontier point (the all-maximum-frequency time) with `zeus pipeline-frequency
   serve`;
4. train ITERS iterations at the maximum clock and ITERS with PipelineFrequencyOptimizer, and
   compare iteration time and the energy of all four GPUs.

  ZEUS_BUILD_DIR=build build/python-venv/bin/python bench/python/pipeline_frequency_e2e.py [ITERS]

Real time: the machine's load shows in the times (run it on an idle machine).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
STAGES, MBS = 4, 8
STEP_MS = 4.0
FWD_STEPS = [5, 7, 4, 6]  # stage work: forward = this many simulated steps, backward twice
CLOCKS = list(range(1740, 700, -60))

WORKER = r'''
import json, os, sys, time
import torch, torch.distributed as dist
from zeus import _zeus
from zeus.monitor import ZeusMonitor

rank, world, port, mode, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
cfg = json.loads(sys.argv[6])
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
fwd_steps = cfg["fwd_steps"][rank]
mon = ZeusMonitor(gpu_indices=[rank])

def compute(kind):
    # one simulated kernel at a time: a clock the controller locks mid-instruction applies from
    # the next kernel on, as on a real GPU (a queued kernel keeps the clock it was launched at)
    for _ in range(fwd_steps * (1 if kind == "forward" else 2)):
        _zeus.sim_launch_step(rank)
        _zeus.sim_synchronize(rank)

def order(stage, stages, mbs):
    warm = min(stages - stage, mbs)
    seq, f, b = [], 0, 0
    for _ in range(warm):
        seq.append(("forward", f)); f += 1
    while f < mbs:
        seq.append(("backward", b)); b += 1
        seq.append(("forward", f)); f += 1
    while b < mbs:
        seq.append(("backward", b)); b += 1
    return seq

def iteration(hooks):
    buf = torch.zeros(1)
    sends = []  # isend, as pipeline engines do: a blocking send would deadlock 1F1B
    if hooks: hooks.on_step_begin()
    for kind, m in order(rank, world, cfg["mbs"]):
        if kind == "forward" and rank > 0: dist.recv(buf, rank - 1)
        if kind == "backward" and rank < world - 1: dist.recv(buf, rank + 1)
        if hooks: hooks.on_instruction_begin(kind)
        compute(kind)
        if hooks: hooks.on_instruction_end(kind)
        if kind == "forward" and rank < world - 1: sends.append(dist.isend(torch.zeros(1), rank + 1))
        if kind == "backward" and rank > 0: sends.append(dist.isend(torch.zeros(1), rank - 1))
    for s in sends:
        s.wait()
    if hooks: hooks.on_step_end()

result = {}
if mode == "profile":
    start = time.perf_counter()
    rows = []
    for f in cfg["clocks"]:
        _zeus.gpu_set_locked_clocks(rank, 0, f, f)
        for kind in ("forward", "backward"):
            compute(kind)  # warm-up at this clock
            mon.begin_window("p", sync_execution=False)
            for _ in range(3):
                compute(kind)
            m = mon.end_window("p", sync_execution=False)
            rows.append([rank, kind, f, m.time / 3, m.energy[rank] / 3])
    _zeus.gpu_reset_locked_clocks(rank, 0)
    result = {"rows": rows, "seconds": time.perf_counter() - start}
else:
    hooks = None
    if mode == "pfo":
        from zeus.optimizer.pipeline_frequency import PipelineFrequencyOptimizer
        hooks = PipelineFrequencyOptimizer(rank, 0, rank, 0, rank, 1, world, 1, world, cfg["url"])
    iteration(hooks)  # warm-up
    dist.barrier()
    times, energies = [], []
    for _ in range(cfg["iters"]):
        mon.begin_window("it", sync_execution=False)
        iteration(hooks)
        m = mon.end_window("it", sync_execution=False)
        times.append(m.time); energies.append(m.energy[rank])
        dist.barrier()
    if hooks: hooks.close()
    result = {"times": times, "energies": energies}
gathered = [None] * world
dist.all_gather_object(gathered, result)
if rank == 0:
    with open(out, "w") as f:
        json.dump(gathered, f)
dist.destroy_process_group()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(tmp: Path, mode: str, cfg: dict, env: dict) -> list:
    out = tmp / f"{mode}.json"
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, str(tmp / "worker.py"), str(r), str(STAGES), port,
                               mode, str(out), json.dumps(cfg)], env=env)
             for r in range(STAGES)]
    for p in procs:
        if p.wait(timeout=1800) != 0:
            raise SystemExit(f"{mode}: a rank failed")
    return json.loads(out.read_text())


def main() -> None:
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "worker.py").write_text(WORKER)
        sim = {"gpus": [{"count": STAGES, "step_time_ms": STEP_MS, "energy_update_ms": 0.5}]}
        env = dict(os.environ, ZEUS_DEVICE="sim", ZEUS_SIM_CONFIG=json.dumps(sim),
                   ZEUS_SIM_STATE=str(tmp / "sim-state"), ZEUS_LOCK_DIR=str(tmp / "locks"),
                   PYTHONPATH=str(BUILD / "python"))
        cfg = {"fwd_steps": FWD_STEPS, "mbs": MBS, "clocks": CLOCKS, "iters": iters}
        start = time.perf_counter()
        prof = run(tmp, "profile", cfg, env)
        profile_s = time.perf_counter() - start
        csv = tmp / "profile.csv"
        with open(csv, "w") as f:
            f.write("stage,instruction,frequency,time,energy\n")
            for r in prof:
                for row in r["rows"]:
                    f.write(",".join(repr(x) if isinstance(x, float) else str(x) for x in row)
                            + "\n")
        idle_w = 30.0  # the default simulated GPU's idle draw: what a rank draws while blocked
        solve = subprocess.run([str(BUILD / "zeus"), "pipeline-frequency", "solve", str(csv),
                                "--out", str(tmp / "plans"), "--num-stages", str(STAGES),
                                "--num-mbs", str(MBS), "--p2p-power", str(idle_w)],
                               capture_output=True, text=True, check=True)
        plans = sorted((tmp / "plans").glob("freqs_pipeline_*.py"))
        server = subprocess.Popen([str(BUILD / "zeus"), "pipeline-frequency", "serve", "--port",
                                   "0", "--solution", str(plans[-1])], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True,
                                  env=dict(env, ZEUS_PFO_DUMP_DATA="false"))
        url = server.stdout.readline().split()[-1]
        try:
            base = run(tmp, "max", cfg, env)
            pfo = run(tmp, "pfo", dict(cfg, url=url), env)
        finally:
            server.terminate()
            server.wait()

        def summary(res):
            t = sum(max(r["times"][i] for r in res) for i in range(iters)) / iters
            e = sum(sum(r["energies"][i] for r in res) for i in range(iters)) / iters
            return t, e

        t0, e0 = summary(base)
        t1, e1 = summary(pfo)
        print(json.dumps({
            "stages": STAGES, "microbatches": MBS, "iterations": iters,
            "profile_s": round(profile_s, 2), "profile_rows": sum(len(r["rows"]) for r in prof),
            "frontier_points": len(plans), "solve": solve.stdout.strip(),
            "max_clock": {"iter_time_s": round(t0, 4), "energy_j": round(e0, 3)},
            "planned": {"iter_time_s": round(t1, 4), "energy_j": round(e1, 3)},
            "energy_saved_pct": round(100 * (1 - e1 / e0), 2),
            "time_change_pct": round(100 * (t1 / t0 - 1), 2),
        }, indent=1))


if __name__ == "__main__":
    main()
