"""The fake NVML is faithful enough for NVIDIA's own Python binding (nvidia-ml-py), which the
original Zeus and most GPU tools use: init through nvmlInitWithFlags, clock locking, and sensor
noise (ZEUS_FAKE_NVML_NOISE_W) so that a steady load does not read one constant value."""

from __future__ import annotations

import json

import pytest

from conftest import FAKE_NVML, run_python

CODE = r"""
import json, time, pynvml
pynvml.nvmlInit()
n = pynvml.nvmlDeviceGetCount()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
name = pynvml.nvmlDeviceGetName(h)
readings = set()
t = time.time()
while time.time() - t < 0.3:
    readings.add(pynvml.nvmlDeviceGetPowerUsage(h))
e = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
pynvml.nvmlDeviceSetGpuLockedClocks(h, 900, 1500)
pynvml.nvmlDeviceResetGpuLockedClocks(h)
pynvml.nvmlDeviceSetMemoryLockedClocks(h, 810, 810)
pynvml.nvmlDeviceResetMemoryLockedClocks(h)
mem = pynvml.nvmlDeviceGetSupportedMemoryClocks(h)
gfx = pynvml.nvmlDeviceGetSupportedGraphicsClocks(h, mem[0])
try:
    pynvml.nvmlDeviceSetGpuLockedClocks(h, 1500, 900)
    bad = "accepted"
except pynvml.NVMLError as err:
    bad = str(err)
pynvml.nvmlShutdown()
print(json.dumps({"n": n, "name": name, "distinct": len(readings), "energy": e, "mem": mem,
                  "gfx": gfx, "bad": bad}))
"""


@pytest.mark.parametrize("noise,distinct_min", [("2", 10), ("0", 1)])
def test_pynvml_runs_on_the_fake(tmp_path, noise, distinct_min):
    pytest.importorskip("pynvml")
    env = {
        "LD_LIBRARY_PATH": str(FAKE_NVML.parent),
        "ZEUS_FAKE_NVML_NOISE_W": noise,
        "ZEUS_FAKE_NVML_CONFIG": json.dumps({"gpus": [{"count": 2, "load": 1.0}]}),
        "ZEUS_FAKE_NVML_LOG": str(tmp_path / "log"),
    }
    p = run_python(CODE, env)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["n"] == 2 and r["name"] == "NVIDIA A40" and r["energy"] > 0
    if noise == "0":
        assert r["distinct"] <= 2  # exact readings: at most one change of the 1 s average
    else:
        assert r["distinct"] >= distinct_min
    assert r["mem"] == [1593, 810, 405] and 1740 in r["gfx"]
    assert "Invalid Argument" in r["bad"]
    log = (tmp_path / "log").read_text().split("\n")
    assert "nvmlDeviceSetGpuLockedClocks 0 900" in log
    assert "nvmlDeviceResetMemoryLockedClocks 0 0" in log
