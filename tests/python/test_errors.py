"""One table from libzeus errors to Python exceptions (zeus/device/exception.py BY_ZEUS_ERROR):
every libzeus error has a row, one error is one class whichever object made the call, the
classes keep the built-in bases the extension raised before, and the out-of-memory row is live."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, run_python

from zeus.device import get_gpus
from zeus.device.exception import (
    BY_ZEUS_ERROR,
    ZeusBaseGPUError,
    ZeusGPUInvalidArgError,
    ZeusGPUMemoryError,
    ZeusGPUNoPermissionError,
)
from zeus.exception import ZeusBaseError
from zeus.monitor import ZeusMonitor


def libzeus_error_names() -> list[str]:
    """The names of zeus/common.h's X-macro list (ZEUS_EINVAL, ...), ZEUS_OK excluded."""
    text = (ROOT / "include" / "zeus" / "common.h").read_text()
    names = ["ZEUS_" + n for n in re.findall(r"X\((E[A-Z]+),\s*-\d+,", text)]
    assert len(names) >= 18, names
    return names


def test_every_libzeus_error_has_a_row():
    names = libzeus_error_names()
    assert sorted(BY_ZEUS_ERROR) == sorted(names)
    for name, cls in BY_ZEUS_ERROR.items():
        assert issubclass(cls, Exception), name


def test_the_builtin_bases_stay():
    # The extension raised ValueError, RuntimeError and MemoryError for these before the table.
    assert issubclass(ZeusGPUInvalidArgError, ValueError)
    assert issubclass(ZeusGPUInvalidArgError, ZeusBaseGPUError)
    assert issubclass(ZeusGPUNoPermissionError, RuntimeError)
    assert issubclass(ZeusGPUMemoryError, MemoryError)
    assert issubclass(ZeusBaseGPUError, ZeusBaseError)
    for name in ("ZEUS_EINVAL", "ZEUS_ERANGE", "ZEUS_EPARSE", "ZEUS_EEXIST", "ZEUS_ENOENT"):
        assert issubclass(BY_ZEUS_ERROR[name], ValueError), name


def test_one_error_is_one_class_from_the_monitor_and_the_gpus():
    with pytest.raises(ValueError) as from_monitor:
        ZeusMonitor(gpu_indices=[0, 0])  # libzeus: ZEUS_EINVAL (GPU 0 listed twice)
    with pytest.raises(ValueError) as from_gpus:
        get_gpus().set_gpu_locked_clocks(0, 1500, 900)  # libzeus: ZEUS_EINVAL (min above max)
    assert from_monitor.value.zeus_error == from_gpus.value.zeus_error == "ZEUS_EINVAL"
    assert type(from_monitor.value) is type(from_gpus.value) is ZeusGPUInvalidArgError
    assert "listed twice" in str(from_monitor.value)


OUT_OF_MEMORY = r"""
from zeus.device import get_gpus
from zeus.device.exception import ZeusGPUMemoryError
from zeus.optimizer import GlobalPowerLimitOptimizer
from zeus.monitor import ZeusMonitor
try:
    get_gpus().get_power_management_limit(0)
except ZeusGPUMemoryError as e:
    print("GPUS", isinstance(e, MemoryError), e.zeus_error, "NVML_ERROR_MEMORY" in str(e))
try:
    GlobalPowerLimitOptimizer(ZeusMonitor(gpu_indices=[0]))
except MemoryError as e:
    print("OPTIMIZER", type(e).__name__, e.zeus_error)
"""


def test_out_of_memory_is_reached():
    """NVML_ERROR_MEMORY -> ZEUS_ENOMEM -> ZeusGPUMemoryError (also a MemoryError), with the
    driver's message, from zeus.device and from the optimizer alike."""
    config = {"gpus": [{"count": 1,
                        "errors": {"nvmlDeviceGetPowerManagementLimit": {"code": "MEMORY"}}}]}
    p = run_python(OUT_OF_MEMORY, {"ZEUS_FAKE_NVML_CONFIG": json.dumps(config)}, timeout=60)
    assert "GPUS True ZEUS_ENOMEM True" in p.stdout, p.stdout + p.stderr
    assert "OPTIMIZER ZeusGPUMemoryError ZEUS_ENOMEM" in p.stdout, p.stdout + p.stderr
