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


def _bso_server(tmp_path):
    """A real `zeus bso serve` on a free loopback port with a SQLite store in tmp_path."""
    from conftest import BUILD  # noqa: PLC0415

    p = subprocess.Popen(
        [str(BUILD / "zeus-bso"), "serve", "--port", "0", "--db", str(tmp_path / "bso.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    line = p.stdout.readline()
    if "listening on " not in line:
        p.kill()
        raise AssertionError(line + p.stdout.read())
    return p, line.split("listening on ", 1)[1].split()[0]


def test_bso_client_loop_example(tmp_path):
    """Issue 24 item 13: docs/bso.md's client loop (examples/python/bso_client_loop.py) runs
    against a real service, recurrence after recurrence; misuse gets a clear error, not the
    monitor's 'window already exists'."""
    server, url = _bso_server(tmp_path)
    try:
        env = dict(os.environ, ZEUS_DEVICE="sim")
        sizes = []
        for _ in range(3):
            p = subprocess.run([sys.executable, str(ROOT / "examples" / "python" /
                                                    "bso_client_loop.py"), url],
                               env=env, capture_output=True, text=True, timeout=120)
            assert p.returncode in (0, 1), p.stdout + p.stderr
            assert "training with batch size " in p.stdout, p.stdout + p.stderr
            sizes.append(p.stdout.split("training with batch size ", 1)[1].split()[0])
        assert sizes[0] == "64", sizes  # the default batch size goes first
        misuse = r"""
import sys
from zeus.monitor import ZeusMonitor
from zeus.optimizer.batch_size import BatchSizeOptimizer, JobSpec, ZeusBSOOperationOrderError
job = JobSpec(job_id_prefix="misuse", batch_sizes=[32, 64], default_batch_size=64,
              target_metric=0.9, max_epochs=3)
bso = BatchSizeOptimizer(ZeusMonitor(), sys.argv[1], job)
for call in (bso.on_train_begin, lambda: bso.on_evaluate(0.5)):
    try:
        call()
    except ZeusBSOOperationOrderError as e:
        print("ORDER", e)
bso.get_batch_size()
bso.on_train_begin()
try:
    bso.on_train_begin()
except ZeusBSOOperationOrderError as e:
    print("TWICE", e)
"""
        p = subprocess.run([sys.executable, "-c", misuse, url], env=env, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "ORDER Call get_batch_size before on_train_begin" in p.stdout, p.stdout
        assert "TWICE on_train_begin was called twice" in p.stdout, p.stdout
        assert "already exists" not in p.stdout + p.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
