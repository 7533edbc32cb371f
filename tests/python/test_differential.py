"""Differential test against the original Zeus (zeus-ml 0.8.2 from PyPI, in its own virtual
environment made by scripts/zeus-ml-env.sh: both packages are named zeus). The same script runs
under both on the fake NVML (which NVIDIA's Python binding, the original's, loads too): the same
windows give the same joules, the same profiling picks the same limit with the same limit
changes, and each one's profile file is loaded by the other. Skipped, saying why, when the
original cannot be installed (no network and no cached environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import BUILD, DATA, FAKE_NVML, ROOT

SCRIPT = r"""
import json, os, sys
from zeus.monitor import ZeusMonitor
from zeus.util.testing import ReplayZeusMonitor
from zeus.optimizer.power_limit import GlobalPowerLimitOptimizer, ZeusCost, Energy
csv_path, prof, other = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
m = ZeusMonitor(gpu_indices=[1, 0])
getattr(m, "wait_update_period", lambda: None)()   # ours probes the counters in the background
windows = []
for k in range(3):
    m.begin_window("w%d" % k, sync_cuda=False)
    r = m.end_window("w%d" % k, sync_cuda=False)
    windows.append([[g, r.energy[g]] for g in sorted(r.energy)])
out["windows"] = windows
mon = ReplayZeusMonitor(log_file=csv_path, ignore_sync_cuda=True, match_window_name=False)
plo = GlobalPowerLimitOptimizer(mon, ZeusCost(0.5, len(mon.gpu_indices)), profile_path=prof)
for epoch in range(3):
    plo.on_epoch_begin()
    for step in range(50 * 9 + 10):
        plo.on_step_begin()
        plo.on_step_end()
    plo.on_epoch_end()
out["optimal"] = plo.state.optimal_power_limit
getattr(plo, "close", lambda: None)()  # ours: two optimizers of one process exclude each other
if other and os.path.exists(other):
    again = GlobalPowerLimitOptimizer(mon, Energy(), profile_path=other)
    out["loaded_other"] = again.state.optimal_power_limit
print("RESULT " + json.dumps(out))
"""


def _original_python() -> str:
    p = subprocess.run([str(ROOT / "scripts" / "zeus-ml-env.sh"), str(BUILD)],
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        pytest.skip("the original zeus-ml could not be installed: " + p.stderr.strip()[-300:])
    return p.stdout.strip().splitlines()[-1]


def _run(python, tmp_path, tag, extra_env, other=""):
    config = {"gpus": [{"count": 4, "energy_per_read_mj": 7}]}
    env = dict(os.environ)
    env.update(extra_env)
    env.update({
        "ZEUS_FAKE_NVML_CONFIG": json.dumps(config),
        "ZEUS_FAKE_NVML_LOG": str(tmp_path / f"{tag}.log"),
        "ZEUS_FAKE_NVML_NOISE_W": "1",
        "LD_LIBRARY_PATH": str(FAKE_NVML.parent),
    })
    prof = tmp_path / f"{tag}.json"
    p = subprocess.run(
        [python, "-c", SCRIPT, str(DATA / "profile_data" / "A40+resnet50+gpu0.csv"), str(prof), other],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert p.returncode == 0, f"{tag}: {p.stderr[-3000:]}"
    line = next(l for l in p.stdout.splitlines() if l.startswith("RESULT "))
    sets = [l for l in (tmp_path / f"{tag}.log").read_text().splitlines()
            if l.startswith("nvmlDeviceSetPowerManagementLimit")]
    return json.loads(line[7:]), prof, sets


def test_same_joules_same_limit_interchangeable_profiles(tmp_path):
    original = _original_python()
    orig_env = {"PYTHONPATH": ""}
    theirs, their_prof, their_sets = _run(original, tmp_path, "original", orig_env)
    ours, our_prof, our_sets = _run(sys.executable, tmp_path, "ours", {}, other=str(their_prof))
    # Same joules (to rounding: the original subtracts counters already divided by 1000).
    for a, b in zip(ours["windows"], theirs["windows"]):
        assert [g for g, _ in a] == [g for g, _ in b]
        assert [j for _, j in a] == pytest.approx([j for _, j in b], rel=1e-12)
    assert ours["optimal"] == theirs["optimal"] == 200000
    assert ours["loaded_other"] == 175000  # the original's profile, Energy() over it
    assert our_prof.read_bytes() == their_prof.read_bytes()
    # Limit changes while profiling are the same (ours also puts the original limit back at exit).
    n = len(their_sets)
    assert our_sets[:n] == their_sets[:n]
    theirs2, _, _ = _run(original, tmp_path, "original2", orig_env, other=str(our_prof))
    assert theirs2["loaded_other"] == 175000
