"""The rest of the drop-in surface through the public API on the fake NVML / simulated GPUs:
zeus.show_env (python -m), __version__, zeus.profile, TemperatureMonitor, EarlyStopController,
PowerMonitor's newer arguments, the zeus.util(s) helpers, and the import-surface count of both
versions (scripts/python-surface.py, >= 95 %)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_python


def test_show_env_and_version():
    import zeus

    assert zeus.__version__ == f"0.16.0+libzeus.{zeus.__libzeus_version__}"
    r = run_python("import runpy; runpy.run_module('zeus.show_env', run_name='__main__')")
    assert r.returncode == 0, r.stderr
    assert "GPU backend: nvml, 4 GPU(s)" in r.stdout and "[3] NVIDIA A40" in r.stdout
    assert "zeusd: not configured" in r.stdout and f"Zeus: {zeus.__version__}" in r.stdout


def test_import_surface_of_both_versions():
    script = str(ROOT / "scripts" / "python-surface.py")
    r = subprocess.run([sys.executable, script, "--list", "--min", "1.0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "zeus 0.8: 120 of 120 names importable" in r.stdout, r.stdout
    assert "newest zeus: 239 of 239 names importable" in r.stdout, r.stdout


def test_profile_on_simulated_gpus():
    r = run_python(
        "from zeus.device import simulate_step\n"
        "from zeus.monitor import ZeusMonitor\n"
        "from zeus.profile import measure, profile_measurement_duration\n"
        "m = ZeusMonitor(gpu_indices=[0])\n"
        "step = lambda: simulate_step(0)\n"
        "t = measure(step, m, 0.05, 0.0, num_warmup_iterations=1, num_calibration_iterations=2)\n"
        "print('TRIAL', t.iterations > 0, t.total_energy > 0, abs(t.energy_per_iter * t.iterations - t.total_energy) < 1e-6, 10 < t.temperature_before < 110)\n"
        "rep = profile_measurement_duration(step, m, [0.02, 0.04], cooldown_duration=0.0, num_trials=2,\n"
        "    num_warmup_trials=0, num_warmup_iterations=1, num_calibration_iterations=2, trial_stddev_threshold=0.5)\n"
        "print('SWEEP', rep.sweep_param, rep.fixed_param, len(rep.entries), [len(e.trials) for e in rep.entries])\n"
        "print(rep)\n"
        "try:\n    measure(step, m, 0.01, 0.0, warmup_settle_duration=-1)\nexcept ValueError as e:\n    print('VALUE', e)\n",
        env={"ZEUS_DEVICE": "sim", "ZEUS_SIM_CONFIG": json.dumps({"gpus": [{"count": 1, "step_time_ms": 2}]})},
    )
    assert r.returncode == 0, r.stderr
    assert "TRIAL True True True True" in r.stdout
    assert "SWEEP ('measurement_duration', [0.02, 0.04]) ('cooldown_duration', 0.0) 2 [2, 2]" in r.stdout
    assert "Sweep of measurement_duration" in r.stdout and "VALUE warmup_settle_duration" in r.stdout


def test_temperature_monitor_and_power_monitor_arguments():
    from zeus.monitor import PowerMonitor, TemperatureMonitor
    from zeus.monitor.power import PowerDomain, PowerSample, infer_counter_update_period

    tm = TemperatureMonitor(gpu_indices=[0, 1], update_period=0.05)
    try:
        time.sleep(0.2)
        now = tm.get_temperature()
        assert set(now) == {0, 1} and all(10 <= c <= 110 for c in now.values())
        timeline = tm.get_temperature_timeline(gpu_index=1)
        assert list(timeline) == [1] and timeline[1] and all(isinstance(c, int) for _, c in timeline[1])
        assert tm.get_temperature(time=timeline[1][0][0])[1] == timeline[1][0][1]
    finally:
        tm.stop()
    with pytest.raises(ValueError):
        TemperatureMonitor(gpu_indices=[])
    assert 0 < infer_counter_update_period([0, 1]) <= 0.1
    assert PowerSample(1.0, 0, 5.0).power_mw == 5.0 and PowerDomain("memory_average") is PowerDomain.MEMORY_AVERAGE
    with pytest.raises(ValueError, match="memory_average is not supported"):
        PowerMonitor(gpu_indices=[0], power_domains=[PowerDomain.MEMORY_AVERAGE])
    with pytest.raises(ValueError):
        PowerMonitor(gpu_indices=[0], power_domains=["no_such_domain"])
    pm = PowerMonitor(gpu_indices=[0], update_period=0.05, power_domains=["device_instant"])
    try:
        assert pm.power_domains == [PowerDomain.DEVICE_INSTANT]
    finally:
        pm.stop()


def test_early_stop_controller():
    r = run_python(
        "from zeus.controller import EarlyStopController\n"
        "from zeus.monitor import ZeusMonitor\n"
        "import time\n"
        "c = EarlyStopController(max_epochs=2, target_metric=0.9, higher_is_better=True)\n"
        "c.on_epoch_begin(); c.on_epoch_end(); c.on_evaluate(0.5)\n"
        "print('A', c.should_training_stop)\n"
        "c.on_epoch_begin(); c.on_epoch_end()\n"
        "print('B', c.should_training_stop)\n"
        "c = EarlyStopController(target_metric=0.1, higher_is_better=False); c.on_evaluate(0.05)\n"
        "print('C', c.should_training_stop)\n"
        "m = ZeusMonitor(gpu_indices=[0])\n"
        "c = EarlyStopController(monitor=m, eta_knob=0.5, cost_threshold=1e9)\n"
        "c.on_epoch_begin(); time.sleep(0.05); c.on_epoch_end()\n"
        "print('D', c.should_training_stop, c.epoch_costs[0] > 0)\n"
        "c = EarlyStopController(monitor=m, eta_knob=0.5, cost_threshold=1e-3)\n"
        "c.on_epoch_begin(); time.sleep(0.05); c.on_epoch_end()\n"
        "print('E', c.should_training_stop)\n"
        "for kw in ({'max_epochs': 0}, {'cost_threshold': 5.0}, {'target_metric': 1.0}):\n"
        "    try:\n        EarlyStopController(**kw)\n    except ValueError as e:\n        print('VALUE', e)\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:5] == ["A False", "B True", "C True", "D False True", "E True"]
    assert r.stdout.count("VALUE") == 3


def test_util_helpers(tmp_path, capsys):
    from zeus.monitor.energy import MeasurementState
    from zeus.util import FileAndConsole, LinearScaler, SquareRootScaler, get_env
    from zeus.util.logging import get_logger
    from zeus.utils.async_utils import create_task
    from zeus.utils.multiprocessing import warn_if_global_in_subprocess

    assert SquareRootScaler(bs=32, lr=0.1).compute_lr(128) == pytest.approx(0.2)
    assert LinearScaler(bs=32, lr=0.1).compute_lr(64) == pytest.approx(0.2)
    tee = FileAndConsole(tmp_path / "out.txt")
    tee.write("hello\n")
    tee.flush()
    tee.close()
    assert (tmp_path / "out.txt").read_text() == "hello\n" and "hello" in capsys.readouterr().out
    log = get_logger("zeus.test.dropin")
    assert log.level == logging.INFO and not log.propagate
    MeasurementState(1.0, {0: 2.0})
    with pytest.raises(ValueError):
        get_env("ZEUS_DROPIN_NOT_SET", int)

    async def boom():
        raise RuntimeError("task failed")

    async def main():
        t = create_task(boom(), logging.getLogger("zeus.test.tasks"))
        await asyncio.sleep(0.01)
        return t

    with pytest.raises(RuntimeError):
        asyncio.run(main()).result()
    r = run_python(
        "import multiprocessing as mp\n"
        "from zeus.utils.multiprocessing import warn_if_global_in_subprocess\n"
        "class M:\n    def __init__(self):\n        warn_if_global_in_subprocess(self)\n"
        "m = M()\n"
        "if __name__ == '__main__':\n"
        "    p = mp.get_context('spawn').Process(target=print, args=('child',)); p.start(); p.join()\n",
    )
    # -c has no __main__ file for spawn to re-import: no warning in the parent, child prints
    assert r.returncode == 0 and "child" in r.stdout
    warn_if_global_in_subprocess(object())  # not a spawned child: silent


def test_resolve_gpu_indices_follows_cuda_visible_devices():
    """0.8's zeus.util.env.resolve_gpu_indices: framework and NVML indices, in order."""
    r = run_python(
        "from zeus.util.env import resolve_gpu_indices as r\n"
        "print(r(None), r([1]))\n"
        "try:\n    r([])\nexcept ValueError as e:\n    print(e)\n",
        {"CUDA_VISIBLE_DEVICES": "3,1"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "([0, 1], [3, 1]) ([1], [1])",
        "`requested_gpu_indices` must be None or non-empty.",
    ]
