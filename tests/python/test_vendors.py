"""The Python face's main flows on both vendors' fake libraries: one parametrised fixture runs
each test in a fresh interpreter on the fake NVML and on the fake libamd_smi (the same fake
hardware; libzeus's nvml or amdsmi backend), and on a fake Jetson sysfs tree.

These are the flows a user of either vendor needs; they run on both vendors in every pass, so
`make test-python-amd` does not repeat this file. What runs on AMD besides: test_monitor.py and
test_optimizer.py with ZEUS_TEST_VENDOR=amd (`make test-python-amd`; conftest.py deselects
their nvml_only tests there)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import BUILD, FAKE_NVML, run_python

FAKE_AMDSMI = BUILD / "tests" / "fakes" / "amdsmi" / "libamd_smi.so"
LOAD = json.dumps({"gpus": [{"count": 2, "load": 1.0}]})  # busy GPUs: power follows the limit


@pytest.fixture(params=["nvidia", "amd"])
def vendor(request, tmp_path):
    """The environment of a zeus process on that vendor's fake library."""
    env = {
        "ZEUS_FAKE_NVML_CONFIG": LOAD,
        "ZEUS_FAKE_NVML_STATE": str(tmp_path / "state"),
        "ZEUS_FAKE_NVML_LOG": str(tmp_path / "calls.log"),
        "ZEUS_LOCK_DIR": str(tmp_path / "locks"),
    }
    if request.param == "amd":
        env.update(
            {
                "ZEUS_DEVICE": "amdsmi",
                "ZEUS_AMDSMI_LIBRARY": str(FAKE_AMDSMI),
                "ZEUS_AMDSMI_CHECK_MS": "100",
            }
        )
    else:
        env.update({"ZEUS_DEVICE": "nvml", "ZEUS_NVML_LIBRARY": str(FAKE_NVML)})
    return request.param, env


def test_monitor_windows(vendor):
    name, env = vendor
    p = run_python(
        """
import time
from zeus import _zeus
from zeus.monitor import ZeusMonitor
print("BACKEND", _zeus.gpu_backend())
m = ZeusMonitor(gpu_indices=[0, 1])
m.begin_window("w")
time.sleep(0.5)
r = m.end_window("w")
print("ENERGY", r.gpu_energy[0] / r.time, r.gpu_energy[1] / r.time)
""",
        env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    lines = dict(l.split(" ", 1) for l in p.stdout.splitlines())
    assert lines["BACKEND"] == ("amdsmi" if name == "amd" else "nvml")
    w0, w1 = map(float, lines["ENERGY"].split())
    # load 1.0 at the 300 W limit: busy power 0.93 x 300 W, by either vendor's counter
    assert abs(w0 - 279) < 15 and abs(w1 - 279) < 15, (w0, w1)


def test_power_limit_optimizer_settles_and_restores(vendor):
    name, env = vendor
    p = run_python(
        """
import time
from zeus.monitor import ZeusMonitor
from zeus.optimizer.power_limit import GlobalPowerLimitOptimizer, Energy, Done
m = ZeusMonitor(gpu_indices=[0, 1])
plo = GlobalPowerLimitOptimizer(m, Energy(), wait_steps=1, warmup_steps=1, profile_steps=2,
                                pl_step=100)
for _ in range(1 + 3 * 3 + 2):
    plo.on_step_begin()
    time.sleep(0.02)
    plo.on_step_end()
print("STATE", plo.state)
plo.close()
""",
        env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout
    assert "STATE Done(optimal_power_limit=" in out, out
    sets = [l.split() for l in Path(env["ZEUS_FAKE_NVML_LOG"]).read_text().splitlines()]
    call = "amdsmi_set_power_cap" if name == "amd" else "nvmlDeviceSetPowerManagementLimit"
    assert sets and all(s[0] in (call, "nvmlDeviceSetPersistenceMode") for s in sets), sets
    assert {s[1] for s in sets if s[0] == call} == {"0", "1"}


def test_zeus_command_power_limit(vendor):
    """`zeus power-limit set|reset`, unchanged, on either vendor."""
    name, env = vendor
    zeus = str(BUILD / "zeus")
    full = dict(os.environ, **env)
    import subprocess  # noqa: PLC0415

    r = subprocess.run([zeus, "power-limit", "set", "200"], env=full, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    label = "AMDSMI" if name == "amd" else "NVML"
    assert f"GPU 1 (NVIDIA A40, {label} 1, 0000:02:00.0): 300 W -> 200 W" in r.stdout, r.stdout
    r = subprocess.run([zeus, "power-limit", "reset"], env=full, capture_output=True, text=True)
    assert r.returncode == 0 and "-> 300 W (default)" in r.stdout, r.stdout


def test_jetson_energy_windows(tmp_path):
    """A fake Jetson (INA3221 rails under a sysfs root): GPU and CPU energy in ZeusMonitor windows,
    power-limit control refused."""
    hw = tmp_path / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1"
    hw.mkdir(parents=True)
    for f, v in {"in1_label": "GPU", "in1_input": "5000", "curr1_input": "2000",
                 "in2_label": "CPU", "power2_input": "4000", "in3_label": "VDD_IN",
                 "power3_input": "20000"}.items():
        (hw / f).write_text(v + "\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nv_tegra_release").write_text("# R36\n")
    env = {"ZEUS_DEVICE": "jetson", "ZEUS_SYSFS_ROOT": str(tmp_path)}
    p = run_python(
        """
import time
from zeus import _zeus
from zeus.monitor import ZeusMonitor
m = ZeusMonitor(gpu_indices=[0], cpu_indices=[0])
s0 = _zeus.soc_energy()
m.begin_window("w")
time.sleep(0.5)
r = m.end_window("w")
s1 = _zeus.soc_energy()
print("W", r.gpu_energy[0] / r.time, r.cpu_energy[0] / r.time,
      (s1["total_mj"] - s0["total_mj"]) / 1000 / r.time)
try:
    from zeus.device import get_gpus
    get_gpus().setPowerManagementLimit(0, 5000)
except Exception as e:
    print("REFUSED", type(e).__name__, e)
""",
        env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    lines = dict(l.split(" ", 1) for l in p.stdout.splitlines())
    gpu, cpu, total = map(float, lines["W"].split())
    assert abs(gpu - 10) < 1 and abs(cpu - 4) < 0.5 and abs(total - 20) < 2, (gpu, cpu, total)
    assert "power-limit control is not supported" in lines["REFUSED"], lines

def test_amd_classes_as_the_original(vendor):
    """zeus.device.gpu.amd over libzeus: get_gpus() gives AMDGPUs on AMD, the original's
    behaviour where AMD differs (no persistence mode, no one-domain clock reset)."""
    name, env = vendor
    if name != "amd":
        env = dict(env, ZEUS_FAKE_AMDSMI_FAULTS="")
    p = run_python(
        """
from zeus.device import get_gpus
from zeus.device.gpu import amd
from zeus.device.gpu.common import ZeusGPUNotSupportedError
g = get_gpus()
print("CLASS", type(g).__name__, type(g.gpus[0]).__name__, amd.amdsmi_is_available())
if isinstance(g, amd.AMDGPUs):
    gpu = g.gpus[1]
    print("NAME", gpu.get_name(), gpu.get_power_management_limit_constraints())
    gpu.set_power_management_limit(150000)
    print("LIMIT", gpu.get_power_management_limit())
    gpu.reset_power_management_limit()
    print("RESET", gpu.get_power_management_limit())
    for call in (lambda: gpu.set_persistence_mode(True), gpu.reset_gpu_locked_clocks,
                 gpu.reset_memory_locked_clocks):
        try:
            call()
        except ZeusGPUNotSupportedError as e:
            print("NOTSUP", e)
    gpu.set_gpu_locked_clocks(600, 1500)
    gpu.reset_locked_clocks()
    print("ENERGY", gpu.supports_get_total_energy_consumption(),
          [x.supports_get_total_energy_consumption() for x in g.gpus])
""",
        dict(env, ZEUS_FAKE_AMDSMI_FAULTS="frozen_counter@0"),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout
    if name == "nvidia":
        assert "CLASS NVIDIAGPUs NVIDIAGPU False" in out, out
        return
    assert "CLASS AMDGPUs AMDGPU True" in out, out
    assert "NAME NVIDIA A40 (100000, 300000)" in out
    assert "LIMIT 150000" in out and "RESET 300000" in out
    assert out.count("NOTSUP") == 3 and "persistence mode is not supported on AMD GPUs" in out
    assert "ENERGY True [False, True]" in out, out  # GPU 0's frozen counter is not trusted


def test_jetson_and_apple_classes(tmp_path):
    hw = tmp_path / "sys/bus/i2c/drivers/ina3221x/1-0040/iio:device0"
    hw.mkdir(parents=True)
    for f, v in {"rail_name_0": "GPU", "in_power0_input": "8000", "rail_name_1": "CPU",
                 "in_voltage1_input": "5000", "in_current1_input": "600"}.items():
        (hw / f).write_text(v + "\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nv_tegra_release").write_text("# R35\n")
    p = run_python(
        f"""
import time
from zeus.device.soc import get_soc
from zeus.device.soc import jetson, apple
s = get_soc()
print("SOC", type(s).__name__, jetson.jetson_is_available(), sorted(s.get_available_metrics()))
s.begin_window("w")
time.sleep(0.3)
m = s.end_window("w")
print("MEAS", type(m).__name__, m.total_energy_mj)
print("RATES", m.gpu_energy_mj / 0.3 / 1000, m.cpu_energy_mj / 0.3 / 1000)
print("DIRECT", jetson.DirectPower("{hw}/in_power0_input").read(),
      jetson.VoltageCurrentProduct("{hw}/in_voltage1_input", "{hw}/in_current1_input").read())
try:
    apple.AppleSilicon()
except apple.ZeusAppleInitError as e:
    print("APPLE", e)
""",
        {"ZEUS_DEVICE": "jetson", "ZEUS_SYSFS_ROOT": str(tmp_path)},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    lines = dict(l.split(" ", 1) for l in p.stdout.splitlines())
    assert lines["SOC"] == "Jetson True ['cpu_energy_mj', 'gpu_energy_mj']", lines
    assert lines["MEAS"] == "JetsonMeasurement None"  # no total rail on this board
    gpu, cpu = map(float, lines["RATES"].split())
    assert abs(gpu - 8) < 1 and abs(cpu - 3) < 0.4, (gpu, cpu)
    assert lines["DIRECT"] == "8000.0 3000.0"
    assert "not supported on Linux" in lines["APPLE"]
