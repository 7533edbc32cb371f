"""zeus.utils.zeusd (ZeusdConfig, ZeusdClient, require_capabilities) and
zeus.monitor.power_streaming.PowerStreamingClient against two of our zeusd daemons on temporary
Unix sockets (the fake NVML with power noise, so power changes and is streamed; a RAPL tree)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD

ZEUSD = BUILD / "src" / "zeusd" / "zeusd"


def _rapl(root: Path) -> None:
    zone = root / "sys" / "class" / "powercap" / "intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "name").write_text("package-0\n")
    (zone / "energy_uj").write_text("1000\n")
    (zone / "max_energy_range_uj").write_text("262143328850\n")


def _start_daemon(d: Path, *args: str) -> tuple[subprocess.Popen, str]:
    d.mkdir()
    _rapl(d / "fs")
    env = dict(os.environ)
    env.update({"ZEUS_LOCK_DIR": str(d / "locks"), "ZEUS_SYSFS_ROOT": str(d / "fs"),
                "ZEUS_FAKE_NVML_NOISE_W": "3"})
    env.pop("ZEUS_FAKE_NVML_LOG", None)
    sock = str(d / "zeusd.sock")
    proc = subprocess.Popen([str(ZEUSD), "serve", "--socket-path", sock, *args], env=env,
                            stdout=open(d / "log", "w"), stderr=subprocess.STDOUT)
    end = time.monotonic() + 10
    while not os.path.exists(sock) and time.monotonic() < end:
        time.sleep(0.05)
    assert os.path.exists(sock)
    return proc, sock


@pytest.fixture
def daemons(tmp_path):
    started = [_start_daemon(tmp_path / f"d{n}") for n in range(2)]
    yield [sock for _, sock in started]
    for proc, _ in started:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_zeusd_client_calls(daemons):
    from zeus.device.exception import ZeusdError
    from zeus.utils.zeusd import (
        ZeusdCapabilityError,
        ZeusdClient,
        ZeusdConfig,
        ZeusdConnectionError,
        require_capabilities,
    )

    client = ZeusdClient(ZeusdConfig.uds(daemons[0]))
    assert client.gpu_ids == [0, 1, 2, 3] and client.cpu_ids == [0]
    assert client.can_read_gpu and client.can_control_gpu and client.can_read_cpu
    assert client.gpus[0].name == "NVIDIA A40" and client.dram_available == [False]
    client.set_power_limit([1, 2], 200000)
    assert client.get_power_limit([1, 2, 3]) == {1: 200000, 2: 200000, 3: 300000}
    assert client.get_power_limit_constraints([0]) == {0: (100000, 300000)}
    client.set_persistence_mode([0], True)
    assert client.get_persistence_mode([0]) == {0: True}
    snap = client.get_gpu_power([0, 1])
    assert set(snap.power_mw) == {0, 1} and all(p > 0 for p in snap.power_mw.values())
    assert abs(client.get_time() - time.time()) < 5
    e = client.get_cpu_energy([0])
    assert e[0].cpu_energy_uj == 0 and e[0].dram_energy_uj is None
    with pytest.raises(ZeusdError, match="Failed to set_power_limit"):
        client.set_power_limit([0], 5)
    with pytest.raises(ZeusdCapabilityError, match=r"GPU indices \[7\]"):
        require_capabilities(client, read_gpu=True, gpu_ids=[7])
    require_capabilities(client, read_gpu=True, control_gpu=True, read_cpu=True, gpu_ids=[0])
    with pytest.raises(ZeusdConnectionError):
        ZeusdClient(ZeusdConfig.uds(daemons[0] + ".missing"))
    os.environ["ZEUSD_SOCK_PATH"] = daemons[1]
    try:
        assert ZeusdConfig.from_env() == ZeusdConfig(socket_path=daemons[1])
    finally:
        del os.environ["ZEUSD_SOCK_PATH"]


def test_power_streaming_from_two_daemons(daemons):
    from zeus.monitor.power_streaming import PowerReadings, PowerStreamingClient
    from zeus.utils.zeusd import ZeusdConfig

    with pytest.raises(ValueError, match="Duplicate"):
        PowerStreamingClient([ZeusdConfig.uds(daemons[0]), ZeusdConfig.uds(daemons[0])])
    with pytest.raises(ValueError, match=r"GPU indices \[9\]"):
        PowerStreamingClient([ZeusdConfig.uds(daemons[0], gpu_indices=[9])])
    client = PowerStreamingClient([
        ZeusdConfig.uds(daemons[0], gpu_indices=[0, 2], cpu_indices=[]),
        ZeusdConfig.uds(daemons[1]),
    ])
    try:
        got = None
        for snapshot in client:
            a, b = snapshot[daemons[0]], snapshot[daemons[1]]
            if set(a.gpu_power_w) == {0, 2} and set(b.gpu_power_w) == {0, 1, 2, 3} and 0 in b.cpu_power_w:
                got = snapshot
                break
        assert isinstance(got[daemons[0]], PowerReadings) and not got[daemons[0]].cpu_power_w
        assert all(0 < w < 400 for w in got[daemons[1]].gpu_power_w.values())  # W, not mW
        assert abs(got[daemons[1]].timestamp_s - time.time()) < 5
        assert client.get_power()[daemons[0]].gpu_power_w.keys() == {0, 2}
    finally:
        t0 = time.monotonic()
        client.stop()
        assert time.monotonic() - t0 < 2  # a reader waiting on the quiet CPU stream is cancelled


def test_libzeus_transport_tokens_and_a_daemon_gone(tmp_path):
    """The real path: httpx -> LibzeusTransport -> libzeus's zeusd client -> zeusd with tokens;
    a refused token is a ZeusdAuthError, a daemon that went away a ZeusdConnectionError that
    names its socket."""
    import httpx

    from zeus.utils.zeusd import (
        LibzeusTransport,
        ZeusdAuthError,
        ZeusdClient,
        ZeusdConfig,
        ZeusdConnectionError,
        require_capabilities,
    )

    key = tmp_path / "key"
    key.write_text("k3y")
    token = subprocess.run([str(ZEUSD), "token", "issue", "--signing-key-path", str(key), "--user",
                            "alice", "--scope", "gpu-read", "--expires", "1h"],
                           capture_output=True, text=True, check=True).stdout.strip()
    proc, sock = _start_daemon(tmp_path / "d", "--signing-key-path", str(key))
    try:
        http = ZeusdConfig.uds(sock).make_client()
        assert isinstance(http._transport, LibzeusTransport)
        resp = http.get("/discover")  # base_url: http://localhost
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
        assert resp.json()["auth_required"] is True
        assert http.get("/gpu/get_power").status_code == 401  # no token
        good = ZeusdClient(ZeusdConfig.uds(sock, token=token))
        assert good.auth_error is None and good.granted_scopes == frozenset({"gpu-read"})
        require_capabilities(good, read_gpu=True, gpu_ids=[0, 3])
        assert set(good.get_gpu_power([0, 3]).power_mw) == {0, 3}
        with good.make_client() as h, h.stream("GET", good.url("/gpu/stream_power?gpu_ids=2"),
                                               timeout=None) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = next(stream.iter_text())
            assert first.startswith("data: {") and first.endswith("\n\n") and '"gpu_id":2' in first
        bad = ZeusdClient(ZeusdConfig.uds(sock, token="not-a-token"))
        assert bad.auth_error and "Token rejected" in bad.auth_error
        with pytest.raises(ZeusdAuthError, match="Token rejected"):
            require_capabilities(bad, read_gpu=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    with pytest.raises(ZeusdConnectionError) as gone:
        ZeusdClient(ZeusdConfig.uds(sock))
    assert sock in str(gone.value) and "GET /discover" in str(gone.value)
    assert isinstance(gone.value.__cause__, httpx.ConnectError)
    with pytest.raises(httpx.ConnectError, match=sock):
        httpx.Client(transport=LibzeusTransport(uds=sock)).get("http://localhost/time")


def test_tcp_daemon_through_libzeus(tmp_path):
    """ZeusdConfig.tcp: the transport connects to the URL's host and port; calls and a power
    stream over TCP with a token."""
    import socket

    from zeus.monitor.power_streaming import PowerStreamingClient
    from zeus.utils.zeusd import ZeusdClient, ZeusdConfig

    key = tmp_path / "key"
    key.write_text("k3y")
    token = subprocess.run([str(ZEUSD), "token", "issue", "--signing-key-path", str(key), "--user",
                            "bob", "--scope", "gpu-read,cpu-read", "--expires", "1h"],
                           capture_output=True, text=True, check=True).stdout.strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tmp_path / "d"
    d.mkdir()
    _rapl(d / "fs")
    env = dict(os.environ, ZEUS_LOCK_DIR=str(d / "locks"), ZEUS_SYSFS_ROOT=str(d / "fs"),
               ZEUS_FAKE_NVML_NOISE_W="3")
    proc = subprocess.Popen([str(ZEUSD), "serve", "--socket-path", str(d / "unused.sock"), "--mode",
                             "tcp", "--tcp-bind-address", f"127.0.0.1:{port}", "--signing-key-path",
                             str(key)], env=env, stdout=open(d / "log", "w"), stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        config = ZeusdConfig.tcp("127.0.0.1", port, token=token, gpu_indices=[1], cpu_indices=[])
        client = ZeusdClient(config)
        assert client.endpoint == f"127.0.0.1:{port}" and client.granted_scopes == {"gpu-read", "cpu-read"}
        assert set(client.get_gpu_power().power_mw) == {0, 1, 2, 3}
        stream = PowerStreamingClient([config])
        try:
            snapshot = next(iter(stream))
            assert 0 < snapshot[config.endpoint].gpu_power_w[1] < 400
        finally:
            stream.stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
