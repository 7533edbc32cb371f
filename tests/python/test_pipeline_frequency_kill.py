"""A rank killed with -9 while its frequency controller holds locked clocks (issue 21, item 3):
the lease journal lets the next `zeus power-limit recover` / `reset` or the next libzeus lease of
that GPU unlock them. Simulated GPUs share their locked clocks through the sim state file, so the
test reads what the "driver" holds there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()

RANK = r"""
import sys, time
from zeus.optimizer.pipeline_frequency.frequency_controller import FrequencyController
c = FrequencyController(0)
c.set_frequency(900, wait=True)
print("locked", flush=True)
time.sleep(120)
"""


def sim_env(tmp: Path) -> dict:
    sim = {"gpus": [{"count": 1, "step_time_ms": 1}]}
    return dict(os.environ, ZEUS_DEVICE="sim", ZEUS_SIM_CONFIG=json.dumps(sim),
                ZEUS_SIM_STATE=str(tmp / "sim-state"), ZEUS_LOCK_DIR=str(tmp / "locks"),
                PYTHONPATH=str(BUILD / "python"))


def killed_rank(tmp: Path, env: dict) -> None:
    """Starts a rank that locks GPU 0 at 900 MHz and kills it with -9 once it has."""
    p = subprocess.Popen([sys.executable, "-c", RANK], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked", p.stderr.read()
        assert "gpu_clocks_mhz 900 900" in (tmp / "sim-state").read_text()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert p.returncode == -signal.SIGKILL
    # nothing ran in the killed process: the clocks are still locked, the journal is there
    assert "gpu_clocks_mhz 900 900" in (tmp / "sim-state").read_text()
    assert list((tmp / "locks").glob("*.journal"))


@pytest.mark.parametrize("how", ["recover", "reset", "next lease"])
def test_clocks_unlocked_after_kill_9(tmp_path, how):
    env = sim_env(tmp_path)
    killed_rank(tmp_path, env)
    if how == "next lease":  # a new rank's controller: its lease puts the GPU back first
        cmd = [sys.executable, "-c",
               "from zeus.optimizer.pipeline_frequency.frequency_controller import "
               "FrequencyController as F\nc = F(0); print(c.state()); c.end()"]
    else:
        cmd = [str(BUILD / "zeus"), "power-limit", how]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "left it changed and is gone" in r.stderr, r.stderr
    state = (tmp_path / "sim-state").read_text()
    assert "gpu_clocks_mhz" not in state, state
    assert not list((tmp_path / "locks").glob("*.journal"))


def test_zeus08_frequency_controller_name(tmp_path):
    """0.8's ``zeus.optimizer.perseus`` controller takes the GPU as ``nvml_device_id``."""
    code = ("from zeus.optimizer.perseus.frequency_controller import FrequencyController as F\n"
            "c = F(nvml_device_id=0); c.set_frequency(900, wait=True); print(c.state()[1]); c.end()")
    p = subprocess.run([sys.executable, "-c", code], env=sim_env(tmp_path), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "900", p.stderr
