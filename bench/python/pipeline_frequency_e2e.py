"""The pipeline frequency optimizer end to end on simulated GPUs (docs/pipeline-frequency.md).

A 4-stage pipeline-parallel toy (tests/python/pipeline_frequency_toy.py): 4 torch.distributed
(gloo, CPU) processes, each driving its own simulated GPU, unequal stage work (forward 5, 7, 4,
6 kernels, backward twice that), 1F1B over 8 microbatches. In one launch: PipelineFrequencyProfiler
sweeps 18 clocks (1740-720 MHz), rank 0 solves the profile and serves the last frontier point,
then ITERS iterations run at the maximum clock, ITERS with PipelineFrequencyOptimizer switching
the clock before each instruction's first kernel (wait_for_frequency=True), and ITERS with the
original's asynchronous switch; then, in a second launch, the server's Online scheduler
profiles and solves by itself and the ranks keep the plan it sends. Times and energies are the simulated GPUs' own accounting
(deterministic; the machine's load does not enter), the profiling wall time is real.

  ZEUS_BUILD_DIR=build build/python-venv/bin/python bench/python/pipeline_frequency_e2e.py [ITERS]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
sys.path.insert(0, str(ROOT / "tests" / "python"))
import pipeline_frequency_toy as toy  # noqa: E402


def main() -> None:
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    shape = dict(mbs=8, fwd_steps=(5, 7, 4, 6), step_ms=4.0, clocks=range(1740, 700, -60),
                 unit_time=1e-4, iters=iters, timeout=1800)
    r = toy.launch(BUILD, modes=("planned", "planned_async"), **shape)
    online = toy.launch(BUILD, modes=("online",), **shape)  # the server profiles and solves

    def point(res):
        return {"iter_time_s": round(sum(res["times"]) / iters, 5),
                "energy_j": round(sum(res["energies"]) / iters, 3)}

    out = {"stages": 4, "microbatches": 8, "iterations": iters,
           "profile_wall_s": round(r["profile_wall_s"], 2),
           "profile_rows": len(r["profile_csv"].splitlines()) - 1,
           "frontier_points": r["points"], "max_clock": point(r["max_clock"])}
    for mode in ("planned", "planned_async"):
        out[mode] = dict(point(r[mode]), energy_saved_pct=round(r[mode]["energy_saved_pct"], 2),
                         time_change_pct=round(r[mode]["time_change_pct"], 3))
    out["online"] = dict(point(online["online"]),
                         energy_saved_pct=round(online["online"]["energy_saved_pct"], 2),
                         time_change_pct=round(online["online"]["time_change_pct"], 3),
                         profiling_iterations=online["profiling_iterations"],
                         profile_wall_s=round(online["profile_wall_s"], 2))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
