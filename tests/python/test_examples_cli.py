"""examples/python and `python -m zeus.monitor`, run as a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_python


def test_pytorch_sim_example():
    p = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "pytorch_sim.py")],
        env=dict(os.environ, ZEUS_DEVICE="sim"), capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "chosen: Done(optimal_power_limit=" in p.stdout
    # Every limit was profiled. Which one wins is measured in real time, so on a loaded machine
    # Python's own pace shows in it (it chose 300 W under load): no figure here (docs/testing.md);
    # the model's interior optimum is checked exactly in tests/unit/test_device_math.c.
    for watts in range(300, 99, -25):
        assert f"  {watts} W: " in p.stdout, p.stdout


def _interrupt(args, wait_for=None):
    p = subprocess.Popen([sys.executable, "-m", "zeus.monitor", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if wait_for:
        first = p.stdout.readline()
    else:  # energy: measuring once it says so on stderr (importing PyTorch may take seconds)
        first = p.stderr.readline()
        wait_for = "Ctrl-C"
    if wait_for not in first:
        p.kill()
    assert wait_for in first, first + p.stderr.read()
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    finally:  # a command that did not stop is killed, never left behind
        if p.poll() is None:
            p.kill()
            p.communicate()
    return p.returncode, (first if wait_for != "Ctrl-C" else "") + out, err


def test_python_m_zeus_monitor_energy():
    rc, out, err = _interrupt(["energy", "--gpu-indices", "0", "1"])
    assert rc == 0, err
    assert "Total energy (J):" in out and "Measurement(time=" in out and "1: " in out


def test_python_m_zeus_monitor_power():
    rc, out, err = _interrupt(["power", "--update-period", "0.2"], wait_for="'GPU0'")
    assert rc == 0, err
    assert "Total time (s):" in out and "Total energy (J): {'GPU0'" in out


def test_python_m_zeus_monitor_needs_a_mode():
    p = run_python("import runpy, sys; sys.argv=['x']; runpy.run_module('zeus.monitor', run_name='__main__')")
    assert p.returncode == 2 and "required" in p.stderr
