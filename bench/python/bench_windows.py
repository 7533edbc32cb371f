#!/usr/bin/env python3
"""Benchmark (not a test): the Python face's per-call costs on the project's fake NVML.

  make bench-python      (or: ZEUS_BUILD_DIR=build build/python-venv/bin/python bench/python/bench_windows.py)

Reports, for 1 and 8 fake GPUs: begin_window + end_window per pair from Python at the default
logging settings (nothing configured, as a user gets it) beside the original in the same run,
and with the zeus logger at ERROR (with and without
the default synchronisation, which is a no-op without CUDA), the same through ``with
monitor.window()``, and the optimizer's hooks per training step (on_step_begin + on_step_end)
once it is done and while it is warming up; beside them the C API's figure from
bench/bench_monitor in the same run. ZEUS_ORIGINAL_PYTHON (default: build/zeus-ml-venv, made by
scripts/zeus-ml-env.sh, when it exists) names a Python that has the original zeus-ml and
nvidia-ml-py installed: its ZeusMonitor is timed on the same fake library.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
FAKE = BUILD / "tests" / "fakes" / "nvml" / "libnvidia-ml.so.1"

CHILD = r"""
import json, logging, sys, time, tempfile, os
from zeus.monitor import ZeusMonitor
from zeus.optimizer import GlobalPowerLimitOptimizer
from zeus.optimizer.power_limit import Energy
n = int(sys.argv[1])
m = ZeusMonitor(gpu_indices=list(range(n)))
m.wait_update_period()
def per(fn, N):
    fn(1000)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter(); fn(N); best = min(best, (time.perf_counter() - t) / N)
    return best * 1e9
def pairs(N):
    b, e = m.begin_window, m.end_window
    for _ in range(N):
        b("x", False); e("x", False)
def pairs_sync(N):
    b, e = m.begin_window, m.end_window
    for _ in range(N):
        b("x"); e("x")
def ctx(N):
    w = m.window
    for _ in range(N):
        with w("x"):
            pass
# First at the default logging settings (nothing configured: what a user gets; the monitor warns
# once per window name about 0 J windows), then with the zeus logger at ERROR.
res = {"pair_default_ns": per(pairs, 100000), "pair_sync_default_ns": per(pairs_sync, 100000)}
logging.getLogger("zeus").setLevel(logging.ERROR)
res |= {"pair_ns": per(pairs, 100000), "pair_sync_ns": per(pairs_sync, 100000), "with_ns": per(ctx, 50000)}
prof = os.path.join(tempfile.mkdtemp(), "p.json")
json.dump({"measurements": [{"power_limit": 300, "energy": 2.0, "time": 1.0}]}, open(prof, "w"))
plo = GlobalPowerLimitOptimizer(m, Energy(), profile_path=prof)
def steps(N):
    b, e = plo.on_step_begin, plo.on_step_end
    for _ in range(N):
        b(); e()
res["hooks_done_ns"] = per(steps, 200000)
plo.close()
plo = GlobalPowerLimitOptimizer(m, warmup_steps=10**9)
plo.on_step_begin(); plo.on_step_end(); plo.on_step_begin()
res["hooks_warmup_ns"] = per(steps, 200000)
plo.close()
# Distributed training: the optimizer with an all-reduce (one rank: the identity); it runs only
# at the end of a profiling window, never in these steps.
from zeus import _zeus
plo = _zeus.Optimizer(m, warmup_steps=10**9, all_reduce=lambda values, op: values)
plo.on_step_begin(); plo.on_step_end(); plo.on_step_begin()
res["hooks_warmup_dist_ns"] = per(steps, 200000)
plo.close()
print(json.dumps(res))
"""

ORIGINAL = r"""
import json, sys, time
from zeus.monitor import ZeusMonitor
n = int(sys.argv[1])
m = ZeusMonitor(gpu_indices=list(range(n)))
def pairs(N):
    for _ in range(N):
        m.begin_window("x", sync_cuda=False) if "sync_cuda" in ZeusMonitor.begin_window.__code__.co_varnames else m.begin_window("x", sync_execution=False)
        m.end_window("x", sync_cuda=False) if "sync_cuda" in ZeusMonitor.end_window.__code__.co_varnames else m.end_window("x", sync_execution=False)
pairs(100)
best = float("inf")
for _ in range(5):
    t = time.perf_counter(); pairs(20000); best = min(best, (time.perf_counter() - t) / 20000)
print(json.dumps({"pair_ns": best * 1e9}))
"""


def env_for(n: int) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "ZEUS_DEVICE": "nvml",
            "ZEUS_NVML_LIBRARY": str(FAKE),
            "ZEUS_FAKE_NVML_CONFIG": json.dumps({"gpus": [{"count": n}]}),
            "PYTHONPATH": str(BUILD / "python"),
            "ZEUS_LOCK_DIR": "/tmp/zeus-bench-locks",
            "LD_LIBRARY_PATH": str(FAKE.parent),  # where the original's pynvml finds libnvidia-ml
        }
    )
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def c_figures() -> dict:
    exe = BUILD / "bench" / "bench_monitor"
    if not exe.exists():
        return {}
    out = {}
    try:
        p = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True, env=env_for(1))
        for line in p.stdout:
            m = re.match(r"windows\s+gpus=(\d+)\s+open=0\s+begin\+end\s+(\d+) ns", line)
            if m:
                out[int(m.group(1))] = int(m.group(2))
            if line.startswith("sampler"):
                break
        p.kill()
        p.wait()
    except OSError:
        pass
    return out


def main() -> int:
    default_original = BUILD / "zeus-ml-venv" / "bin" / "python"
    if "ZEUS_ORIGINAL_PYTHON" not in os.environ and default_original.exists():
        os.environ["ZEUS_ORIGINAL_PYTHON"] = str(default_original)
    c = c_figures()
    print("# Python face benchmark (fake NVML; best of 5 runs; ns per call pair or step)")
    for n in (1, 8):
        r = subprocess.run(
            [sys.executable, "-c", CHILD, str(n)], env=env_for(n), capture_output=True, text=True
        )
        if r.returncode != 0:
            print(r.stderr[-2000:])
            return 1
        res = json.loads(r.stdout.strip().splitlines()[-1])
        orig, ratio = "", ""
        if os.environ.get("ZEUS_ORIGINAL_PYTHON"):
            env = env_for(n)
            env["PYTHONPATH"] = ""
            o = subprocess.run(
                [os.environ["ZEUS_ORIGINAL_PYTHON"], "-c", ORIGINAL, str(n)],
                env=env, capture_output=True, text=True,
            )
            if o.returncode == 0:
                o_ns = json.loads(o.stdout.strip().splitlines()[-1])["pair_ns"]
                orig = f"  original zeus-ml {o_ns:7.0f}"
                ratio = f"  ({o_ns / res['pair_default_ns']:.1f}x faster than the original)"
            else:
                orig = f"  original zeus-ml failed: {o.stderr.strip().splitlines()[-1:]}"
        print(
            f"gpus={n}  default logging: begin+end {res['pair_default_ns']:6.0f}"
            f" (default sync {res['pair_sync_default_ns']:6.0f}){orig}{ratio}"
        )
        print(
            f"gpus={n}  zeus logger at ERROR: begin+end {res['pair_ns']:6.0f}"
            f" (default sync {res['pair_sync_ns']:6.0f})"
            f"  with window() {res['with_ns']:6.0f}  C API {c.get(n, float('nan')):6.0f}"
        )
        print(
            f"gpus={n}  optimizer hooks per step: done {res['hooks_done_ns']:5.0f}"
            f"  warming up {res['hooks_warmup_ns']:5.0f}"
            f"  warming up with an all-reduce set {res['hooks_warmup_dist_ns']:5.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
