"""Shared setup of the Python face's tests.

Every test runs against the project's fake NVML (tests/fakes: 4 x NVIDIA A40 by default) through
libzeus's real loader, or with ZEUS_TEST_VENDOR=amd against the fake libamd_smi on the same fake
hardware (the vendor matrix below). The environment is set here, before zeus is imported, and inherited by
the subprocesses the tests start (scripts, Ctrl-C, fork, other fake GPUs).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
import zeus_test_hygiene as hygiene  # noqa: E402

# Default signal dispositions for this process and all it starts (a run from a script in the
# background would otherwise hand an ignored SIGINT to every command a test stops with Ctrl-C).
hygiene.reset_signals()
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
FAKE_NVML = BUILD / "tests" / "fakes" / "nvml" / "libnvidia-ml.so.1"
PYTHONPATH = str(BUILD / "python")
DATA = ROOT / "data"

# The vendor matrix: ZEUS_TEST_VENDOR=amd runs the tests on the same fake hardware behind the
# fake libamd_smi through libzeus's amdsmi backend. `make test-python-amd` (part of `make test`)
# runs test_monitor.py, test_optimizer.py and test_vendors.py so; the other files run on the fake
# NVML only (test_vendors.py's flows run on both vendors in the NVML pass too). Under AMD the
# tests marked nvml_only are deselected (pytest_collection_modifyitems below), never skipped.
AMD = os.environ.get("ZEUS_TEST_VENDOR") == "amd"
SET_CALLS = ("nvmlDeviceSetPowerManagementLimit", "amdsmi_set_power_cap")  # (index, mW) logged
NVML_ONLY = (
    "nvml_only: asserts what only NVML has (an NVML API restriction or result with no AMD SMI "
    "counterpart); deselected when ZEUS_TEST_VENDOR=amd"
)
FAKE_AMDSMI = BUILD / "tests" / "fakes" / "amdsmi" / "libamd_smi.so"
VENDOR_ENV = (
    {"ZEUS_DEVICE": "amdsmi", "ZEUS_AMDSMI_LIBRARY": str(FAKE_AMDSMI), "ZEUS_AMDSMI_CHECK_MS": "200"}
    if AMD
    else {"ZEUS_DEVICE": "nvml"}
)

_tmp = tempfile.mkdtemp(prefix="zeus-pytest-")
atexit.register(shutil.rmtree, _tmp, True)  # nothing left in the temporary directory
# Every temporary file of the tests and of what they start (tempfile.mkdtemp() in a test or a
# script it runs, an example's output_dir) goes inside _tmp, and so is removed with it.
os.environ["TMPDIR"] = _tmp
tempfile.tempdir = _tmp
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
        if parts and parts[0] in SET_CALLS:
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


def run_in_group(cmd: list, timeout: float, **kw) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output, text) with the command in a process group of its own:
    on timeout the whole group (what the command started too) is killed, then TimeoutExpired."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, **kw) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def _children() -> set:
    """This process's live (not zombie) children."""
    pids = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            pids.update(int(x) for x in (task / "children").read_text().split())
        except OSError:
            pass
    live = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                live.add(pid)
        except (OSError, IndexError):
            pass
    return live


@pytest.fixture(autouse=True)
def _nothing_left_running():
    """Whatever a test started and left running (a command that ignored its Ctrl-C, a server a
    failed test did not stop) is killed with its process group when the test ends, and said."""
    before = _children()
    yield
    left = _children() - before
    for pid in left:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
            if "multiprocessing.resource_tracker" in cmd or "multiprocessing.forkserver" in cmd:
                continue  # the interpreter's own helpers: they end with it
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (OSError, ChildProcessError):
            continue
        import warnings  # noqa: PLC0415

        warnings.warn(f"killed process {pid} the test left running: {cmd[:200]}")


def pytest_configure(config):
    config.addinivalue_line("markers", NVML_ONLY)


def pytest_collection_modifyitems(config, items):
    """Under ZEUS_TEST_VENDOR=amd the nvml_only tests are deselected (reported as deselected,
    not skipped: a skip fails CI)."""
    if not AMD:
        return
    nvml_only = [item for item in items if item.get_closest_marker("nvml_only")]
    if nvml_only:
        config.hook.pytest_deselected(items=nvml_only)
        items[:] = [item for item in items if not item.get_closest_marker("nvml_only")]


# ---- skips: visible (-rs) and, with ZEUS_REQUIRE_ALL=1 (CI), failures (docs/testing.md) ----
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and hygiene.require_all() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped ({reason}), and with ZEUS_REQUIRE_ALL=1 a skip is a failure"


def pytest_sessionfinish(session, exitstatus):
    # Skips outside a test (a module's importorskip) are collection reports: count them too.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and hygiene.require_all():
        reporter.write_line(f"ZEUS_REQUIRE_ALL=1: {skipped} skipped, which is a failure")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
