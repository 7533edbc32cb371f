"""zeusd serves the older route generation as well as the current one: the last zeus-ml on PyPI
(0.11.0.post1, its own venv from scripts/zeus-ml-env.sh) drives our zeusd through its
ZeusdNVIDIAGPU (POST /gpu/{id}/set_power_limit ... with JSON bodies) and ZeusdRAPLCPU
(GET /cpu/{id}/supports_dram_energy, POST /cpu/{id}/get_index_energy), unchanged, on the fake
NVML and a RAPL tree in a temporary directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from conftest import BUILD, FAKE_NVML, ROOT

ZEUSD = BUILD / "src" / "zeusd" / "zeusd"

CLIENT = textwrap.dedent(
    """
    import os, sys
    from zeus.device.gpu import get_gpus
    from zeus.device.cpu.rapl import ZeusdRAPLCPU
    gpus = get_gpus()
    print("CLASS", type(gpus.gpus[1]).__name__)
    gpus.setPowerManagementLimit(1, 175000)
    gpus.setPersistenceMode(1, True)
    gpus.setGpuLockedClocks(1, 900, 1200)
    gpus.resetGpuLockedClocks(1)
    gpus.setMemoryLockedClocks(1, 7251, 7251)
    gpus.resetMemoryLockedClocks(1)
    cpu = ZeusdRAPLCPU(0, os.environ["ZEUSD_SOCK_PATH"])
    before = cpu.getTotalEnergyConsumption()
    print("LIMIT", gpus.getPowerManagementLimitConstraints(1), flush=True)
    sys.stdin.readline()  # the test reads the daemon's state and moves the RAPL counters
    e = cpu.getTotalEnergyConsumption() - before
    print("CPU", cpu.supportsGetDramEnergyConsumption(), e.cpu_mj, e.dram_mj)
    try:
        gpus.setPowerManagementLimit(1, 10)
    except Exception as e:
        print("REFUSED", type(e).__name__)
    """
)


def _request(sock: str, method: str, target: str, body: str = "") -> tuple[int, str]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock)
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: zeusd\r\n{extra}Connection: close\r\n\r\n{body}".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), payload


def _rapl_tree(root: Path) -> None:
    zone = root / "sys" / "class" / "powercap" / "intel-rapl:0"
    (zone / "intel-rapl:0:0").mkdir(parents=True)
    for d, name, uj in ((zone, "package-0", 5_000_000), (zone / "intel-rapl:0:0", "dram", 2_000_000)):
        (d / "name").write_text(name + "\n")
        (d / "energy_uj").write_text(f"{uj}\n")
        (d / "max_energy_range_uj").write_text("262143328850\n")


def test_zeus_ml_0_11_client_through_older_routes(tmp_path):
    old_python = subprocess.run(
        [str(ROOT / "scripts" / "zeus-ml-env.sh"), str(BUILD)],
        env={**os.environ, "ZEUS_ML_VERSION": "0.11.0.post1"},
        capture_output=True, text=True, timeout=900,
    )
    assert old_python.returncode == 0, old_python.stderr[-2000:]
    python = old_python.stdout.strip().splitlines()[-1]
    _rapl_tree(tmp_path / "fs")
    env = dict(os.environ)
    env.update({
        "ZEUS_FAKE_NVML_STATE": str(tmp_path / "fake_nvml.state"),
        "ZEUS_LOCK_DIR": str(tmp_path / "locks"),
        "ZEUS_SYSFS_ROOT": str(tmp_path / "fs"),
        "LD_LIBRARY_PATH": str(FAKE_NVML.parent),  # pynvml's dlopen finds the fake
    })
    env.pop("ZEUS_FAKE_NVML_LOG", None)
    sock = str(tmp_path / "zeusd.sock")
    log_path = tmp_path / "zeusd.log"
    with open(log_path, "w") as log:
        daemon = subprocess.Popen([str(ZEUSD), "serve", "--socket-path", sock], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < end:
            time.sleep(0.05)
        assert os.path.exists(sock), log_path.read_text()
        client_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # the original's zeus
        client_env["ZEUSD_SOCK_PATH"] = sock
        client = subprocess.Popen([python, "-c", CLIENT], env=client_env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines = []  # the original also logs to stdout
            while not (lines and lines[-1].startswith("LIMIT")):
                line = client.stdout.readline()
                assert line, ("client ended", lines)
                lines.append(line)
            assert "CLASS ZeusdNVIDIAGPU\n" in lines and lines[-1] == "LIMIT (100000, 300000)\n", lines
            # The changes arrived through the older routes and hold while the client lives (a lease).
            assert _request(sock, "GET", "/gpu/get_power_limit?gpu_ids=1") == (200, '{"1":{"power_limit_mw":175000}}')
            assert _request(sock, "GET", "/gpu/get_persistence_mode?gpu_ids=1") == (200, '{"1":{"enabled":true}}')
            daemon_log = log_path.read_text()
            for op in ("set_power_limit gpu=1 power_limit_mw=175000", "set_gpu_locked_clocks gpu=1",
                       "reset_gpu_locked_clocks gpu=1", "set_mem_locked_clocks gpu=1", "reset_mem_locked_clocks gpu=1"):
                assert op in daemon_log, (op, daemon_log)
            rapl = tmp_path / "fs" / "sys" / "class" / "powercap" / "intel-rapl:0"
            (rapl / "energy_uj").write_text("8000000\n")
            (rapl / "intel-rapl:0:0" / "energy_uj").write_text("2500000\n")
            out, err = client.communicate("go\n", timeout=60)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        assert client.returncode == 0, err
        assert "CPU True 3000.0 500.0" in out, out + err
        assert "REFUSED ZeusdError" in out, out + err
        # The current generation still answers beside the older one; unknown old names are 404.
        status, body = _request(sock, "POST", "/gpu/0/set_power_limit", '{"power_limit_mw": 150000, "block": true}')
        assert status == 200, body
        assert _request(sock, "POST", "/gpu/0/no_such_thing", "{}")[0] == 404
        assert _request(sock, "POST", "/gpu/0/set_power_limit", "not json")[0] == 400
        assert _request(sock, "GET", "/gpu/0/set_power_limit")[0] == 405
        assert _request(sock, "GET", "/cpu/0/supports_dram_energy") == (200, '{"dram_available":true}')
        status, body = _request(sock, "POST", "/cpu/0/get_index_energy", '{"cpu": true, "dram": false}')
        assert status == 200 and json.loads(body) == {"cpu_energy_uj": 3000000, "dram_energy_uj": None}
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
