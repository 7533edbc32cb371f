"""`zeus pipeline-frequency solve` against lowtime 0.3.0 (PyPI), the solver of the original's
pipeline frequency optimizer (Perseus).

* The spec's reference case and two small random pipelines run through lowtime live here.
* data/pipeline_frequency/lowtime_cases.json.gz holds what lowtime computed for 110 random
  pipelines (2-8 stages, 2-32 microbatches; recorded by bench/python/pipeline_frequency_lowtime.py,
  which also compares both live on seeds the record has not seen): the profiles are regenerated
  from their seeds and our frontier and plans must equal lowtime's.

The solver is compared on identical cost curves (lowtime's fitted coefficients passed with
--cost-models, as the spec advises), times exactly and costs within 1e-9 relative; our own fit
is compared with lowtime's at 1e-4.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pipeline_frequency_oracle as oracle  # noqa: E402

ROOT = HERE.parents[1]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
ZEUS = BUILD / "zeus"
RECORDED = ROOT / "data" / "pipeline_frequency" / "lowtime_cases.json.gz"


def close(x: float, ref: float, rel: float) -> bool:
    return abs(x - ref) <= rel * max(abs(ref), 1e-12)


def plan_digest(knobs) -> str:
    return hashlib.sha1(json.dumps(knobs).encode()).hexdigest()[:12]


def solve(profile, out, stages, mbs, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([str(ZEUS), "pipeline-frequency", "solve", str(profile), "--out",
                           str(out), "--num-stages", str(stages), "--num-mbs", str(mbs), *extra],
                          capture_output=True, text=True, timeout=120)


def write_models(path, fits) -> None:
    with open(path, "w") as f:
        f.write("stage,instruction,a,b,c\n")
        for s, inst, a, b, c in fits:
            f.write(f"{s},{inst},{a!r},{b!r},{c!r}\n")


def read_frontier(out):
    with open(Path(out) / "frontier.csv") as f:
        return [(int(r["quant_time"]), float(r["cost"]), float(r["cost_change"]))
                for r in csv.DictReader(f)]


def compare_frontier(ours, ref, rel=1e-9) -> list[str]:
    problems = []
    if len(ours) != len(ref):
        problems.append(f"{len(ours)} frontier points, lowtime {len(ref)}")
    for k, (o, r) in enumerate(zip(ours, ref)):
        if o[0] != r[0] or not close(o[1], r[1], rel) or not close(o[2], r[2], rel):
            problems.append(f"point {k}: {o} != lowtime {tuple(r)}")
            break
    return problems


def check_case(case: dict, fwd_range, tmp, fit: bool = True) -> tuple[list[str], float]:
    """Our solver on a lowtime case; returns the differences and our solve time (s). fit: also
    compare our own fit with lowtime's."""
    stages, mbs, rows = oracle.make_profile(case["seed"], fwd_range=fwd_range)
    assert (stages, mbs) == (case["stages"], case["mbs"])
    work = Path(tempfile.mkdtemp(dir=tmp))
    profile = work / "profile.csv"
    oracle.write_profile(profile, rows)
    if "error" in case:  # lowtime could not fit: neither may we
        r = solve(profile, work / "fit", stages, mbs)
        return ([] if r.returncode == 1 and "fit" in r.stderr
                else [f"lowtime failed ({case['error']}) but zeus gave {r.returncode}"]), 0.0
    write_models(work / "models.csv", case["fits"])
    start = time.perf_counter()
    r = solve(profile, work / "out", stages, mbs, "--cost-models", str(work / "models.csv"),
              "--plans-jsonl")
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        return [f"zeus failed: {r.stderr}"], elapsed
    problems = compare_frontier(read_frontier(work / "out"), case["frontier"])
    with open(work / "out" / "plans.jsonl") as f:
        digests = [plan_digest(json.loads(line)) for line in f]
    case["plans_differing"] = sum(d != ref for d, ref in zip(digests, case["plans"]))
    if not fit:
        return problems, elapsed
    # Our own fit: the same curves within 1e-4.
    r = solve(profile, work / "fit", stages, mbs, "--plans-jsonl")
    if r.returncode != 0:
        problems.append(f"zeus could not fit: {r.stderr}")
    else:
        with open(work / "fit" / "cost_models.csv") as f:
            ours = {(int(x["stage"]), x["instruction"]): (float(x["a"]), float(x["b"]),
                                                         float(x["c"]))
                    for x in csv.DictReader(f)}
        for s, inst, *coef in case["fits"]:
            mine = ours[(s, inst)]
            if not all(abs(m - c) <= 1e-4 * max(abs(c), 1.0) for m, c in zip(mine, coef)):
                problems.append(f"fit of stage {s} {inst}: {mine} != lowtime {coef}")
    return problems, elapsed


def test_recorded_lowtime_cases(tmp_path):
    with gzip.open(RECORDED, "rt") as f:
        doc = json.load(f)
    assert doc["lowtime"] == "0.3.0"
    cases = doc["cases"]
    solved = [c for c in cases if "error" not in c]
    assert len(solved) >= 100
    failures = {}
    for i, case in enumerate(cases):  # the fit (a second run) on every fourth case
        problems, _ = check_case(case, tuple(doc["fwd_range"]), tmp_path, fit=i % 4 == 0)
        if problems:
            failures[case["seed"]] = problems
    assert not failures, failures
    # Plans: identical at every point, also where two instructions of the same kind and stage
    # at the same duration are equally good to shorten: our min cut replays lowtime's (the same
    # f64 flows of pathfinding's Edmonds-Karp, docs/pipeline-frequency.md), so it shortens the
    # one lowtime shortens (an exact minimal cut differed at 120 of these points).
    points = sum(len(c["frontier"]) for c in solved)
    differing = {c["seed"]: c["plans_differing"] for c in solved if c["plans_differing"]}
    print(f"{len(solved)} pipelines, {points} frontier points, {sum(differing.values())} plans "
          "differ")
    assert not differing, differing
    # they really are 2-8 stages and 2-32 microbatches, with long frontiers
    assert {c["stages"] for c in cases} == set(range(2, 9))
    assert min(c["mbs"] for c in cases) <= 4 and max(c["mbs"] for c in cases) >= 30
    assert sum(len(c["frontier"]) for c in solved) > 10000


def reference_profile(path):
    """Spec 5.9: S=2, M=3, real_time = base (0.3 + 0.7 * 1400 / f), cost of the i-th knob
    100 - 10 i (no P2P power, unit time 1)."""
    with open(path, "w") as f:
        f.write("stage,instruction,frequency,time,energy\n")
        for s, inst, base in ((0, "forward", 10), (0, "backward", 20), (1, "forward", 8),
                              (1, "backward", 16)):
            for i, knob in enumerate((1400, 1200, 1000, 800)):
                f.write(f"{s},{inst},{knob},{base * (0.3 + 0.7 * 1400 / knob)!r},{100 - 10 * i}\n")


def test_reference_case_live_and_plan_files(tmp_path):
    profile = tmp_path / "ref.csv"
    reference_profile(profile)
    models = {(0, "forward"): (20.0, -0.2, 0.0), (0, "backward"): (40.0, -0.1, 0.0),
              (1, "forward"): (16.0, -0.25, 0.0), (1, "backward"): (32.0, -0.125, 0.0)}
    write_models(tmp_path / "m.csv", [(s, i, *v) for (s, i), v in models.items()])
    ref = oracle.run_lowtime(profile, 2, 3, unit_time=1.0, p2p_power=0.0, fixed_models=models)
    assert len(ref["frontier"]) == 54
    assert close(ref["frontier"][0][1], 16.340456, 1e-6)
    r = solve(profile, tmp_path / "out", 2, 3, "--unit-time", "1", "--p2p-power", "0",
              "--cost-models", str(tmp_path / "m.csv"))
    assert r.returncode == 0, r.stderr
    assert compare_frontier(read_frontier(tmp_path / "out"), ref["frontier"]) == []
    # The plan files as run_optimization.py writes them.
    for i, knobs in enumerate(ref["plans"]):
        text = (tmp_path / "out" / f"freqs_pipeline_{i:05d}.py").read_text()
        lines = text.split("\n")
        names = [["forward", "forward", "backward", "forward", "backward", "backward"],
                 ["forward", "backward", "forward", "backward", "forward", "backward"]]
        want = ["["] + [f"{list(zip(n, k))}," for n, k in zip(names, knobs)] + ["]"]
        assert lines[:4] == want
        assert ast.literal_eval("\n".join(lines[:4])) == [list(zip(n, k))
                                                           for n, k in zip(names, knobs)]
        q, cost, change = ref["frontier"][i]
        assert lines[4].startswith(f"# Iteration {i} cost change: ")
        assert close(float(lines[4].split(": ")[1]), change, 1e-12)
        assert close(float(lines[5].split(": ")[1]), cost, 1e-12)
        assert lines[6].startswith(f"# Iteration {i} total cost with P2P: ")
    # An existing output folder is refused (the original's mkdir(exist_ok=False)).
    r = solve(profile, tmp_path / "out", 2, 3)
    assert r.returncode == 1 and "must not exist" in r.stderr


def test_random_pipelines_live(tmp_path):
    """Two small pipelines through lowtime's whole path (its own fit) here and now."""
    for seed in (7, 11):
        stages, mbs, rows = oracle.make_profile(seed, max_stages=3, max_mbs=4,
                                                fwd_range=(0.006, 0.015))
        oracle.write_profile(tmp_path / f"p{seed}.csv", rows)
        ref = oracle.run_lowtime(tmp_path / f"p{seed}.csv", stages, mbs)
        work = tmp_path / f"w{seed}"
        work.mkdir()
        write_models(work / "m.csv", [[s, i, *c] for (s, i), c in ref["fits"].items()])
        r = solve(tmp_path / f"p{seed}.csv", work / "out", stages, mbs, "--cost-models",
                  str(work / "m.csv"), "--plans-jsonl")
        assert r.returncode == 0, r.stderr
        assert compare_frontier(read_frontier(work / "out"), ref["frontier"]) == []
        with open(work / "out" / "plans.jsonl") as f:
            assert [json.loads(line) for line in f] == ref["plans"]
        # our own fit end to end: same frontier length and times, costs within 1e-4
        r = solve(tmp_path / f"p{seed}.csv", work / "fit", stages, mbs, "--plans-jsonl")
        assert r.returncode == 0, r.stderr
        assert compare_frontier(read_frontier(work / "fit"), ref["frontier"], rel=1e-4) == []


def test_bad_profiles_are_refused_with_the_place(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("stage,instruction,frequency,time,energy\n0,forward,1410,0.01,2\n"
                 "0,forward,1380,abc,2\n")
    r = solve(p, tmp_path / "o1", 1, 2)
    assert r.returncode == 1 and "bad.csv:3" in r.stderr
    p.write_text("stage,instruction,frequency,time\n0,forward,1410,0.01\n")
    r = solve(p, tmp_path / "o2", 1, 2)
    assert r.returncode == 1 and "energy" in r.stderr
    r = solve(p, tmp_path / "o3", 1, 0)
    assert r.returncode == 2 and "--num-mbs" in r.stderr


def test_offline_profiling_result_csv(tmp_path):
    """The original's offline-profiling models and their CSV (the pandas-written columns)."""
    import pandas as pd
    import pytest

    from zeus.optimizer.pipeline_frequency.common import (
        InstructionProfilingResult,
        OfflineProfilingResult,
    )

    one = OfflineProfilingResult(rank=1, dp_rank=0, pp_rank=1, tp_rank=0,
                                 forward_time={1410: 0.5, 1200: 0.6},
                                 forward_energy={1410: 100.0, 1200: 90.0},
                                 backward_time={1410: 1.0}, backward_energy={1410: 200.0})
    with pytest.raises(ValueError, match="rank must be at least 0"):
        OfflineProfilingResult(-1, 0, 0, 0, {}, {}, {}, {})
    result = InstructionProfilingResult([one])
    with pytest.raises(ValueError, match="does not end with '.csv'"):
        result.to_csv(str(tmp_path / "p.txt"))
    result.to_csv(str(tmp_path / "p.csv"))
    df = pd.read_csv(tmp_path / "p.csv")
    assert list(df.columns) == ["rank", "dp_rank", "pp_rank", "tp_rank", "stage", "instruction",
                                "frequency", "time", "energy"]
    assert df.values.tolist() == [[1, 0, 1, 0, 1, "forward", 1410, 0.5, 100.0],
                                  [1, 0, 1, 0, 1, "forward", 1200, 0.6, 90.0],
                                  [1, 0, 1, 0, 1, "backward", 1410, 1.0, 200.0]]
