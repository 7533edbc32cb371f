"""A test run from a script in the background (SIGINT ignored, as nohup and `&` leave it) still
stops the commands it interrupts with Ctrl-C, and leaves no process and nothing in the
temporary directory behind (conftest.py and tests/support/zeus_test_hygiene.py). The Ctrl-C
tests of test_examples_cli.py are run by a pytest of their own here, started that way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def _marked(mark: str) -> list:
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark.encode() in env.read_bytes().split(b"\0"):
                found.append(env.parent.name)
        except OSError:
            pass
    return found


def test_ctrl_c_tests_with_sigint_ignored_leave_nothing_behind(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    mark = f"ZEUS_LEFT_BEHIND_TEST={os.getpid()}"
    env = {**os.environ, "TMPDIR": str(tmp), mark.split("=")[0]: mark.split("=")[1]}

    def ignore_sigint():  # what nohup and a script's `&` leave
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)

    tests = str(ROOT / "tests" / "python" / "test_examples_cli.py")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path / 'basetemp'}", "-k", "zeus_monitor_energy or zeus_monitor_power",
         tests], env=env, preexec_fn=ignore_sigint, start_new_session=True,
        capture_output=True, text=True, timeout=240)
    try:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
        assert "2 passed" in r.stdout, r.stdout[-3000:]
        assert _marked(mark) == [], "processes left running"
        assert list(tmp.iterdir()) == [], "left in the temporary directory"
    finally:
        for pid in _marked(mark):
            os.kill(int(pid), signal.SIGKILL)
