"""Distributed power-limit profiling: what the ranks' all-reduce costs (docs/power-limit.md).

Runs the same job with torchrun (Gloo, CPU) as 1 rank and as N ranks (default 4), each rank with
its own fake-NVML GPU, and reports per rank:
  - the all-reduce overhead per profiling window (the two collectives at its end), and
  - the total profiling time (optimizer creation to Done).
A step is a sleep of STEP_MS (default 10 ms), not computation, so that ranks sharing this
machine's few cores do not slow each other: what differs between the runs is Zeus's own work.

    ZEUS_BUILD_DIR=build build/python-venv/bin/python bench/python/bench_distributed.py \
        [N] [STEP_MS] [WARMUP,PROFILE steps per limit; default 2,10]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()


def worker() -> None:
    local = int(os.environ["LOCAL_RANK"])
    out = Path(os.environ["BENCH_DIR"])
    os.environ["ZEUS_FAKE_NVML_CONFIG"] = str(out / f"gpu{local}.json")
    os.environ["ZEUS_FAKE_NVML_STATE"] = str(out / f"gpu{local}.state")
    import torch  # noqa: F401, PLC0415 - the optimizer looks for torch.distributed
    import torch.distributed as dist  # noqa: PLC0415

    from zeus.monitor import ZeusMonitor  # noqa: PLC0415
    from zeus.optimizer.power_limit import Done, GlobalPowerLimitOptimizer  # noqa: PLC0415
    from zeus.utils import framework  # noqa: PLC0415

    step_s = float(os.environ["BENCH_STEP_MS"]) / 1000
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    spent: list[float] = []
    reduce = framework.all_reduce

    def timed(values, op):
        t = time.perf_counter()
        r = reduce(values, op)
        spent.append(time.perf_counter() - t)
        return r

    framework.all_reduce = timed
    monitor = ZeusMonitor(gpu_indices=[0])
    dist.barrier()
    t0 = time.perf_counter()
    warmup, profile = (int(x) for x in os.environ["BENCH_STEPS"].split(","))
    plo = GlobalPowerLimitOptimizer(
        monitor, wait_steps=1, warmup_steps=warmup, profile_steps=profile
    )
    steps = 0
    while not isinstance(plo.state, Done):
        plo.on_step_begin()
        time.sleep(step_s)
        steps += 1
    total = time.perf_counter() - t0
    windows = len(plo.measurements)
    per_window = sum(spent[2:]) / windows  # the first two are the creation's
    (out / f"r{dist.get_rank()}.json").write_text(
        json.dumps({"total": total, "steps": steps, "windows": windows,
                    "per_window": per_window, "creation": sum(spent[:2])})
    )
    plo.close()
    dist.destroy_process_group()


def run(n: int, step_ms: float, steps: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as d:
        for r in range(n):
            gpu = {"name": "NVIDIA A40", "architecture": "ampere", "min_power_limit_w": 100,
                   "max_power_limit_w": 300, "uuid": f"GPU-bench{r:03d}-0000-4000-8000-000000000000",
                   "load": 0.5, "energy_update_ms": 1}
            Path(d, f"gpu{r}.json").write_text(json.dumps({"gpus": [gpu]}))
        env = dict(os.environ, BENCH_DIR=d, BENCH_STEP_MS=str(step_ms), OMP_NUM_THREADS="1",
                   BENCH_STEPS=steps,
                   ZEUS_DEVICE="nvml", ZEUS_LOCK_DIR=str(Path(d, "locks")),
                   ZEUS_NVML_LIBRARY=str(BUILD / "tests/fakes/nvml/libnvidia-ml.so.1"),
                   PYTHONPATH=str(BUILD / "python"))
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        f"--nproc_per_node={n}", __file__], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        return [json.loads(Path(d, f"r{r}.json").read_text()) for r in range(n)]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    step_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    steps = sys.argv[3] if len(sys.argv) > 3 else "2,10"  # warmup,profile steps per limit
    rows = []
    for ranks in (1, n, 1, n):  # interleaved: drift in the machine's load hits both alike
        res = run(ranks, step_ms, steps)
        total = max(r["total"] for r in res)
        rows.append((ranks, total, max(r["per_window"] for r in res),
                     max(r["creation"] for r in res), res[0]["steps"], res[0]["windows"]))
        print(f"{ranks} rank(s): profiling {total:.3f} s over {res[0]['steps']} steps "
              f"({res[0]['windows']} windows), all-reduce {rows[-1][2] * 1e3:.2f} ms per "
              f"window, creation collectives {rows[-1][3] * 1e3:.2f} ms", flush=True)
    one = min(r[1] for r in rows if r[0] == 1)
    many = min(r[1] for r in rows if r[0] == n)
    print(f"total profiling time, {n} ranks / 1 rank (best of 2 each): {many / one:.3f}")


if __name__ == "__main__":
    if "LOCAL_RANK" in os.environ:
        worker()
    else:
        main()
