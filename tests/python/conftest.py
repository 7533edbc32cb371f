"""Shared setup of the Python face's tests.

Every test runs against the project's fake NVML (tests/fakes: 4 x NVIDIA A40 by default) through
libzeus's real loader. The environment is set here, before zeus is imported, and inherited by
the subprocesses the tests start (scripts, Ctrl-C, fork, other fake GPUs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
FAKE_NVML = BUILD / "tests" / "fakes" / "nvml" / "libnvidia-ml.so.1"
PYTHONPATH = str(BUILD / "python")
DATA = ROOT / "data"

# The vendor matrix: ZEUS_TEST_VENDOR=amd runs the tests on the same fake hardware behind the
# fake libamd_smi through libzeus's amdsmi backend (make test-python runs the AMD subset too).
AMD = os.environ.get("ZEUS_TEST_VENDOR") == "amd"
FAKE_AMDSMI = BUILD / "tests" / "fakes" / "amdsmi" / "libamd_smi.so"
VENDOR_ENV = (
    {"ZEUS_DEVICE": "amdsmi", "ZEUS_AMDSMI_LIBRARY": str(FAKE_AMDSMI), "ZEUS_AMDSMI_CHECK_MS": "200"}
    if AMD
    else {"ZEUS_DEVICE": "nvml"}
)

_tmp = tempfile.mkdtemp(prefix="zeus-pytest-")
SET_LOG = Path(_tmp) / "nvml-sets.log"
os.environ.update(
    {
        **VENDOR_ENV,
        "ZEUS_NVML_LIBRARY": str(FAKE_NVML),
        "ZEUS_LOCK_DIR": str(Path(_tmp) / "locks"),
        "ZEUS_FAKE_NVML_LOG": str(SET_LOG),
        "PYTHONPATH": PYTHONPATH + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
)
os.environ.pop("CUDA_VISIBLE_DEVICES", None)
os.environ.pop("ZEUS_FAKE_NVML_CONFIG", None)
if PYTHONPATH not in sys.path:
    sys.path.insert(0, PYTHONPATH)


def set_calls() -> list[tuple[int, int]]:
    """(NVML index, mW) of every power-limit set the fake NVML saw, in order."""
    if not SET_LOG.exists():
        return []
    out = []
    for line in SET_LOG.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("nvmlDeviceSetPowerManagementLimit", "amdsmi_set_power_cap"):
            out.append((int(parts[1]), int(parts[2])))
    return out


def clear_set_calls() -> None:
    SET_LOG.write_text("")


def run_python(code: str, env: dict | None = None, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter (own fake-GPU configuration, own signals)."""
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=timeout, **kw
    )


@pytest.fixture
def nvml_sets():
    clear_set_calls()
    yield set_calls
