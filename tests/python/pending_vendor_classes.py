"""Tests of zeus.device.gpu.amd and zeus.device.soc.jetson, waiting for the dropin branch's
zeus.device tree (zeus.device.gpu.common, zeus.device.soc.common), on which those two modules are
built. Not collected by pytest (no test_ prefix) until then. When that tree is on main:
append these functions to tests/python/test_vendors.py (they use its ``vendor`` fixture), make
zeus.device.gpu.get_gpus return AMDGPUs() for the amdsmi backend, and let
test_dropin_devices.py expect "AMD SMI is not available" / "Jetson power rails are not
available" instead of the placeholders' "no AMD backend" / "no Jetson backend". All three were
run against the dropin branch merged with this one (3 passed, with test_vendors.py: 10)."""

from __future__ import annotations

from conftest import run_python  # noqa: F401


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
