"""lowtime 0.3.0 against `zeus pipeline-frequency solve` on random pipelines.

  record SEED_FROM SEED_TO OUT.json.gz   run lowtime on the test profiles of those seeds and
                                         keep what it computed (the data of
                                         tests/python/test_pipeline_frequency.py)
  compare SEED_FROM SEED_TO [--bench]    run both live on seeds the recorded data has not seen
                                         and count agreements; --bench uses the bigger profiles
                                         and reports the speed ratio
  growth STAGES M1,M2,... [--lowtime-up-to M]
                                         solver time against microbatches on one random stage
                                         profile: lowtime's PhillipsDessouky loop and ours (the
                                         same curves: lowtime's fit passed to ours), same frontier

Run with build/python-venv/bin/python (lowtime is in its requirements), ZEUS_BUILD_DIR=build.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "python"))
import pipeline_frequency_oracle as oracle  # noqa: E402

TEST_FWD_RANGE = (0.006, 0.015)


def plan_digest(knobs) -> str:
    """A short digest of one frontier point's plan (every stage's knob list)."""
    return hashlib.sha1(json.dumps(knobs).encode()).hexdigest()[:12]


def lowtime_case(seed: int, fwd_range, workdir: str) -> dict:
    stages, mbs, rows = oracle.make_profile(seed, fwd_range=fwd_range)
    path = os.path.join(workdir, f"profile_{seed}.csv")
    oracle.write_profile(path, rows)
    case = {"seed": seed, "stages": stages, "mbs": mbs}
    start = time.process_time()
    try:
        r = oracle.run_lowtime(path, stages, mbs)
    except Exception as e:  # lowtime could not fit: zeus must refuse the same profile
        case["error"] = f"{type(e).__name__}: {e}"
        case["lowtime_s"] = time.process_time() - start
        return case
    case["lowtime_s"] = time.process_time() - start
    case["fits"] = [[s, inst, *coef] for (s, inst), coef in r["fits"].items()]
    case["frontier"] = [[int(q), float(c), float(cc)] for q, c, cc in r["frontier"]]
    case["plans"] = [plan_digest(p) for p in r["plans"]]
    return case


def growth(stages: int, mbs_list: list[int], lowtime_up_to: int) -> None:
    """Both solvers on the same pipeline shape with more and more microbatches."""
    build = os.environ.get("ZEUS_BUILD_DIR", "build")
    bench = os.path.join(build, "bench", "bench_pipeline_frequency")
    with tempfile.TemporaryDirectory() as tmp:
        seed = next(s for s in range(1, 1000)
                    if oracle.make_profile(s, max_stages=stages, max_mbs=2)[0] == stages)
        _, _, rows = oracle.make_profile(seed, max_stages=stages, max_mbs=2)
        path = os.path.join(tmp, "profile.csv")
        oracle.write_profile(path, rows)
        for mbs in mbs_list:
            out = {"stages": stages, "mbs": mbs}
            models = None
            if mbs <= lowtime_up_to:
                start = time.process_time()
                ref = oracle.run_lowtime(path, stages, mbs)
                out["lowtime_total_s"] = round(time.process_time() - start, 3)
                out["lowtime_solve_s"] = round(ref["solve_s"], 3)
                out["lowtime_points"] = len(ref["frontier"])
                models = os.path.join(tmp, f"models_{mbs}.csv")
                with open(models, "w") as f:
                    f.write("stage,instruction,a,b,c\n")
                    for (s, inst), (a, b, c) in ref["fits"].items():
                        f.write(f"{s},{inst},{a!r},{b!r},{c!r}\n")
            args = [bench, path, str(stages), str(mbs)] + ([models] if models else [])
            r = json.loads(subprocess.run(args, capture_output=True, text=True,
                                          check=True).stdout)
            out["zeus_points"] = r["points"]
            out["zeus_solve_s"] = r["solve_s"]
            out["zeus_total_s"] = round(r["solve_s"] + r["load_fit_s"], 6)
            if "lowtime_solve_s" in out:
                out["solve_ratio"] = round(out["lowtime_solve_s"] / r["solve_s"], 1)
                out["total_ratio"] = round(out["lowtime_total_s"] / out["zeus_total_s"], 1)
            print(json.dumps(out), flush=True)


def main() -> None:
    mode = sys.argv[1]
    if mode == "growth":
        upto = int(sys.argv[sys.argv.index("--lowtime-up-to") + 1]) \
            if "--lowtime-up-to" in sys.argv else 32
        growth(int(sys.argv[2]), [int(m) for m in sys.argv[3].split(",")], upto)
        return
    lo, hi = int(sys.argv[2]), int(sys.argv[3])
    if mode == "record":
        out = sys.argv[4]
        cases = []
        with tempfile.TemporaryDirectory() as tmp:
            for seed in range(lo, hi + 1):
                cases.append(lowtime_case(seed, TEST_FWD_RANGE, tmp))
                c = cases[-1]
                print(seed, c["stages"], c["mbs"], len(c.get("frontier", [])),
                      round(c["lowtime_s"], 1), c.get("error", ""), flush=True)
        doc = {"generator": "bench/python/pipeline_frequency_lowtime.py record",
               "lowtime": "0.3.0", "fwd_range": TEST_FWD_RANGE, "unit_time": 0.001,
               "p2p_power": 70.0, "noise_factor": 0.95, "cases": cases}
        with gzip.open(out, "wt") as f:
            json.dump(doc, f, separators=(",", ":"))
        return
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "python"))
    from test_pipeline_frequency import check_case  # noqa: E402

    bench = "--bench" in sys.argv
    fwd = (0.015, 0.045) if bench else TEST_FWD_RANGE
    agree = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(lo, hi + 1):
            case = lowtime_case(seed, fwd, tmp)
            problems, ours_s = check_case(case, fwd, tmp)
            differing = case.get("plans_differing", 0)
            total += 1
            agree += not problems and not differing
            ratio = case["lowtime_s"] / ours_s if ours_s else float("nan")
            print(json.dumps({"seed": seed, "stages": case["stages"], "mbs": case["mbs"],
                              "points": len(case.get("frontier", [])),
                              "lowtime_s": round(case["lowtime_s"], 3),
                              "zeus_solve_s": round(ours_s, 4), "ratio": round(ratio, 1),
                              "plans_differing": differing, "problems": problems[:3]}),
                  flush=True)
    print(f"{agree}/{total} pipelines: same frontier and plans as lowtime")


if __name__ == "__main__":
    main()
