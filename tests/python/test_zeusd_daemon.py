"""The Python package through zeusd: an unprivileged process (user nobody) runs ZeusMonitor and
GlobalPowerLimitOptimizer over the fake NVML, which refuses changes from non-root callers
(ZEUS_FAKE_NVML_ROOT_ONLY=1) as the real driver does. Its limits go through a zeusd started here
on a temporary socket, and are put back by the daemon after the process is killed with -9.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from conftest import BUILD, FAKE_NVML, PYTHONPATH

ZEUSD = BUILD / "src" / "zeusd" / "zeusd"
NOBODY = 65534

REFUSED = textwrap.dedent(
    """
    from zeus.monitor import ZeusMonitor
    from zeus.optimizer import GlobalPowerLimitOptimizer
    try:
        GlobalPowerLimitOptimizer(ZeusMonitor(gpu_indices=[0]), wait_steps=0, warmup_steps=0)
        print("allowed")
    except Exception as e:
        print("refused:", type(e).__name__, e)
    """
)

CLIENT = textwrap.dedent(
    """
    import os, sys, time
    from zeus.monitor import ZeusMonitor
    from zeus.optimizer import GlobalPowerLimitOptimizer

    assert os.geteuid() == 65534
    from zeus.device import get_gpus
    from zeus.device.common import ZeusdDevice
    gpu = get_gpus().gpus[0]  # libzeus's knob backend is zeusd: the vendor's Zeusd class
    assert isinstance(gpu, ZeusdDevice) and gpu.supports_nonblocking_setters, gpu
    monitor = ZeusMonitor(gpu_indices=[0])
    monitor.begin_window("setup")
    plo = GlobalPowerLimitOptimizer(monitor, wait_steps=0, warmup_steps=0, profile_steps=1, pl_step=25)
    plo.on_epoch_begin()
    for _ in range(3):  # 300 W profiled, then 275 W, then 250 W set
        plo.on_step_begin()
        time.sleep(0.1)  # a step longer than the energy counter's 20 ms period
        plo.on_step_end()
    m = monitor.end_window("setup")
    assert m.gpu_energy[0] >= 0
    print("limits set", flush=True)
    sys.stdin.read()  # until killed
    """
)


def _get(sock: str, target: str) -> tuple[int, str]:
    """One GET over the daemon's Unix socket (HTTP/1.1, Connection: close)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def _limit_mw(sock: str, gpu: int) -> int:
    status, body = _get(sock, f"/gpu/get_power_limit?gpu_ids={gpu}")
    assert status == 200, body
    return json.loads(body)[str(gpu)]["power_limit_mw"]


def _wait_for(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _nobody_can_read(path: Path) -> bool:
    probe = subprocess.run(
        ["/usr/bin/setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "test", "-r", str(path)],
        check=False,
    )
    return probe.returncode == 0


def _as_nobody(python: str, code: str, env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [python, "-c", code], env=env, user=NOBODY, group=NOBODY, extra_groups=[], text=True, **kw
    )


def _nobody_python() -> str | None:
    """An interpreter user nobody may run that loads this build's extension: this one, or the
    system's of the same version (a virtual environment under /root is out of nobody's reach)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            probe = _as_nobody(candidate, "import sys; print(tuple(sys.version_info[:2]))", os.environ,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            continue
        out, _ = probe.communicate(timeout=60)
        if probe.returncode == 0 and out.strip() == str(tuple(sys.version_info[:2])):
            return candidate
    return None


@pytest.fixture
def daemon():
    if os.geteuid() != 0:
        pytest.skip("needs root: the daemon runs as root, the client as user nobody")
    if not ZEUSD.exists():
        pytest.skip(f"{ZEUSD} is not built")
    if not Path("/usr/bin/setpriv").exists():
        pytest.skip("setpriv missing")
    if not (_nobody_can_read(FAKE_NVML) and _nobody_can_read(Path(PYTHONPATH) / "zeus" / "__init__.py")):
        pytest.skip(f"user nobody cannot reach the build tree ({BUILD}); check out where every user can enter")
    python = _nobody_python()
    if not python:
        pytest.skip(f"no Python {sys.version_info[:2]} that user nobody may run")
    tmp = Path(tempfile.mkdtemp(prefix="zeusd-py-", dir="/tmp"))
    tmp.chmod(0o755)
    client_locks = tmp / "client-locks"
    client_locks.mkdir()
    client_locks.chmod(0o777)
    env = dict(os.environ)
    env.update(
        {
            "ZEUS_FAKE_NVML_ROOT_ONLY": "1",
            "ZEUS_FAKE_NVML_STATE": str(tmp / "fake_nvml.state"),
            "ZEUS_LOCK_DIR": str(tmp / "daemon-locks"),
            "ZEUS_SYSFS_ROOT": str(tmp / "no-rapl"),
        }
    )
    env.pop("ZEUS_FAKE_NVML_LOG", None)  # the test session's log file is root's
    sock = str(tmp / "zeusd.sock")
    log_path = tmp / "zeusd.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([str(ZEUSD), "serve", "--socket-path", sock], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _wait_for(lambda: os.path.exists(sock), 10), log_path.read_text()
        client_env = dict(env)
        client_env.update({"ZEUSD_SOCK_PATH": sock, "ZEUS_LOCK_DIR": str(client_locks)})
        yield python, sock, client_env, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_python_package_through_daemon_reverted_after_kill9(daemon):
    python, sock, env, log_path = daemon
    assert _limit_mw(sock, 0) == 300000
    # Without the daemon the fake driver refuses this user's changes, as the real one without root.
    direct = _as_nobody(python, REFUSED, {k: v for k, v in env.items() if k != "ZEUSD_SOCK_PATH"}, stdout=subprocess.PIPE)
    out, _ = direct.communicate(timeout=120)
    assert direct.returncode == 0
    assert out.startswith("refused:") and "SYS_ADMIN" in out, out
    # ... naming all three ways, not only Docker's capability (issue 24 item 4)
    assert "run as root" in out and "ZEUSD_SOCK_PATH" in out, out

    proc = _as_nobody(python, CLIENT, env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line == "limits set\n", (line, proc.stderr.read() if proc.poll() is not None else "")
        assert _limit_mw(sock, 0) == 250000
        log = log_path.read_text()
        assert f"set_power_limit gpu=0 power_limit_mw=250000 by nobody (uid {NOBODY}, pid {proc.pid}) [lease]: ok" in log
        assert "set_persistence_mode gpu=0 enabled=true by nobody" in log
    finally:
        proc.kill()  # SIGKILL: neither atexit nor the optimizer's signal handling runs
        proc.wait(timeout=10)
    assert _wait_for(lambda: _limit_mw(sock, 0) == 300000, 5)
    # Limit first, then persistence mode: both put back, within moments of each other.
    assert _wait_for(lambda: _get(sock, "/gpu/get_persistence_mode?gpu_ids=0") == (200, '{"0":{"enabled":false}}'), 5)
    assert _wait_for(lambda: f"client pid {proc.pid} (uid {NOBODY}) exited: GPU 0 put back" in log_path.read_text(), 5)
