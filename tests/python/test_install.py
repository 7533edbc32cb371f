"""`pip install .` works offline (--no-build-isolation): the wheel builds libzeus and the
extension together and the installed package measures on the fake NVML."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_pip_wheel_builds_and_installs(tmp_path):
    env = dict(os.environ, PIP_NO_INDEX="1")  # offline: nothing may be downloaded
    wheel_dir = tmp_path / "wheels"
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q",
         "-w", str(wheel_dir), str(ROOT)],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    wheels = list(wheel_dir.glob("zeus-*.whl"))
    assert len(wheels) == 1
    site = tmp_path / "site"
    p = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheels[0])],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert (site / "zeus" / "py.typed").exists() and (site / "zeus" / "_zeus.pyi").exists()
    code = (
        "import time, zeus; from zeus.monitor import ZeusMonitor\n"
        "assert zeus.__file__.startswith(%r), zeus.__file__\n"
        "m = ZeusMonitor(gpu_indices=[0]); m.begin_window('a'); time.sleep(0.05)\n"
        "print('J', m.end_window('a').energy[0])\n" % str(site)
    )
    p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(site)),
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0 and "J " in p.stdout, p.stderr[-2000:]
