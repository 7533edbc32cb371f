"""The pipeline frequency optimizer end to end (issue 21, items 4 and 6): a 4-stage
torch.distributed (gloo) pipeline, one process and one simulated GPU per stage, profiled with
PipelineFrequencyProfiler, solved, served and replayed with PipelineFrequencyOptimizer, all in
one launch (tests/python/pipeline_frequency_toy.py). Times and energies are the simulated GPUs'
own accounting, so the goal is checked exactly: >= 10 % energy saved against the maximum clock
at <= 1 % longer iterations."""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_frequency_toy as toy  # noqa: E402

CLOCKS = list(range(1740, 1000, -60))


def test_profile_solve_serve_apply_meets_the_goal():
    r = toy.launch(BUILD, clocks=CLOCKS, iters=2, timeout=240)

    # the profiler's CSV: every stage, both instructions, every clock, slower at lower clocks
    rows = list(csv.DictReader(io.StringIO(r["profile_csv"])))
    assert len(rows) == 4 * 2 * len(CLOCKS)
    for stage in range(4):
        for inst in ("forward", "backward"):
            mine = [x for x in rows if x["stage"] == str(stage) and x["instruction"] == inst]
            assert [int(x["frequency"]) for x in mine] == CLOCKS
            times = [float(x["time"]) for x in mine]
            assert times == sorted(times) and times[-1] > times[0] * 1.2
    assert r["points"] > 1

    # the simulated model is deterministic: every iteration of a run costs the same
    for mode in ("max_clock", "planned"):
        t, e = r[mode]["times"], r[mode]["energies"]
        assert max(t) - min(t) < 1e-9 * max(t) and max(e) - min(e) < 1e-6 * max(e), r[mode]
    planned = r["planned"]
    assert planned["energy_saved_pct"] >= 10.0, r
    assert planned["time_change_pct"] <= 1.0, r


class CountingMeasurement:
    """Instruction n takes n seconds and 10 n joules."""

    def __init__(self) -> None:
        self.n = 0

    def begin(self) -> None:
        self.n += 1

    def end(self) -> tuple[float, float]:
        return float(self.n), 10.0 * self.n


def test_profiler_sweeps_averages_and_refuses_misuse(tmp_path):
    import pytest

    from zeus.optimizer.pipeline_frequency import PipelineFrequencyProfiler

    prof = PipelineFrequencyProfiler(2, 0, frequencies=[1200, 1740, 1200], warmup_steps=1,
                                     measurement=CountingMeasurement())
    assert prof.frequencies == [1740, 1200]
    with pytest.raises(ValueError, match="'bogus'"):
        prof.on_instruction_begin("bogus")
    while not prof.done:
        prof.on_step_begin()
        for kind in ("forward", "forward", "backward"):
            prof.on_instruction_begin(kind)
            prof.on_instruction_end(kind)
        prof.on_step_end()
    # warm-up step: instructions 1-3 unrecorded; 1740: 4, 5 forward, 6 backward; 1200: 7, 8, 9
    assert prof.rows() == [(2, "backward", 1740, 6.0, 60.0), (2, "backward", 1200, 9.0, 90.0),
                           (2, "forward", 1740, 4.5, 45.0), (2, "forward", 1200, 7.5, 75.0)]
    with pytest.raises(RuntimeError, match="sweep is over"):
        prof.on_step_begin()
    out = tmp_path / "profile.csv"
    other = [(3, "forward", 1740, 1.0, 2.0)]
    prof.write_csv(str(out), gather=lambda mine: [mine, other, [(3, "forward", 1740, 3.0, 4.0)]])
    lines = out.read_text().splitlines()
    assert lines[0] == "stage,instruction,frequency,time,energy"
    assert lines[1:] == ["2,backward,1740,6.0,60.0", "2,backward,1200,9.0,90.0",
                         "2,forward,1740,4.5,45.0", "2,forward,1200,7.5,75.0",
                         "3,forward,1740,2.0,3.0"]  # ranks of one stage averaged


def test_online_server_profiles_solves_and_serves_without_restart():
    # the server's Online scheduler: a profiling iteration per clock, then the solved plan
    r = toy.launch(BUILD, clocks=CLOCKS, iters=2, modes=("online",), timeout=240)
    assert r["profiling_iterations"] == len(CLOCKS)
    online = r["online"]
    assert online["energy_saved_pct"] >= 10.0, r
    assert online["time_change_pct"] <= 1.0, r


def test_online_scheduler_arguments_are_checked():
    import subprocess

    def serve(*args):
        return subprocess.run([str(BUILD / "zeus"), "pipeline-frequency", "serve", "--port", "0",
                               "--scheduler", "Online", *args], capture_output=True, text=True,
                              timeout=30)

    r = serve()
    assert r.returncode == 2 and "Online needs num_microbatches" in r.stderr
    r = serve("--scheduler-args", '{"num_microbatches": 0}')
    assert r.returncode == 2 and "bad value for 'num_microbatches'" in r.stderr
    r = serve("--scheduler-args", '{"num_microbatches": 4, "frequencies": []}')
    assert r.returncode == 2 and "bad value for 'frequencies'" in r.stderr
    r = serve("--scheduler-args", '{"num_microbatches": 4, "solution_path": "x.py"}')
    assert r.returncode == 2 and "unexpected argument 'solution_path'" in r.stderr
