"""ZeusMaster (zeus.run.master) drives real job processes (tests/python/recurring_job.py, with
ZeusDataLoader on simulated GPUs): batch sizes from libzeus's pruning + Thompson sampling, power
limits profiled by the job and chosen by libzeus's JIT policy, one HistoryEntry per run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import run_python

HERE = Path(__file__).parent


def test_zeus_master_runs_recurrences_of_a_real_job(tmp_path):
    code = f"""
import json, sys
from zeus.job import Job
from zeus.policy import PruningGTSBatchSizeOptimizer
from zeus.run.master import ZeusMaster
master = ZeusMaster(PruningGTSBatchSizeOptimizer(seed=1, verbose=False), {str(tmp_path)!r},
                    "/usr/bin/true", profile_warmup_iters=1, profile_measure_iters=2)
job = Job("synthetic", "counter", "sgd", 0.9, 4, default_bs=32, default_lr=0.1,
          command=[sys.executable, {str(HERE / "recurring_job.py")!r}, "{{bs}}", "{{lr}}", "{{seed}}"])
history = master.run(job, 3, [8, 16, 32], beta_knob=2.0, eta_knob=0.5)
print(json.dumps([h.__dict__ for h in history]))
try:
    ZeusMaster(master.bso, "relative/logs", "/usr/bin/true")
except ValueError as e:
    print("VALUE", e)
"""
    sim = json.dumps({"gpus": [{"count": 1, "step_time_ms": 1}]})  # short steps: a fast test
    r = run_python(code, env={"ZEUS_DEVICE": "sim", "ZEUS_SIM_CONFIG": sim}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "VALUE log_base must be specified as an absolute path"
    history = json.loads(lines[-2])
    assert history[0]["bs"] == 32 and history[0]["reached"]
    assert sum(h["reached"] for h in history) == 3  # three recurrences, each ends on a reached run
    assert [h["bs"] for h in history][:3] == [32, 16, 8]  # pruning walks down from the default
    assert all(100 <= h["pl"] <= 300 and h["energy"] > 0 and h["time"] > 0 for h in history)
    assert not history[2]["reached"]  # 8 never converges: the recurrence is retried
    logdirs = list(tmp_path.iterdir())
    assert len(logdirs) == 1 and logdirs[0].name.startswith("synthetic+counter+bs32+sgd+lr0.1+tm0.9+me4+x3+eta0.5+beta2.0+")
    assert (logdirs[0] / "bs32.power.json").exists() and (logdirs[0] / "rec01+try01+bs32.train.json").exists()
