"""zeus.metric on the real package: a window measured by our ZeusMonitor over the fake NVML is
pushed, as the Pushgateway protocol says, to a loopback HTTP receiver started by the test."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from zeus.metric import EnergyHistogram  # noqa: E402


class _Receiver(http.server.BaseHTTPRequestHandler):
    pushes: list = []

    def do_PUT(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).pushes.append((self.path, body.decode()))
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args):
        pass


@pytest.fixture()
def gateway():
    _Receiver.pushes = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _sample(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"{name} {labels} not pushed")


def test_energy_histogram_pushes_the_window_energy_of_every_gpu(gateway):
    metric = EnergyHistogram(
        cpu_indices=[], gpu_indices=[0, 1], pushgateway_url=gateway, job="zeus-test"
    )
    metric.begin_window("step", sync_execution=False)
    time.sleep(0.1)
    measured = metric.energy_monitor.end_window("__EnergyHistogram_step", sync_execution=False)
    metric.begin_window("step", sync_execution=False)
    time.sleep(0.1)
    metric.end_window("step", sync_execution=False)
    assert len(_Receiver.pushes) == 1
    path, body = _Receiver.pushes[0]
    assert path == "/metrics/job/zeus-test"
    for gpu in (0, 1):
        assert _sample(body, "energy_monitor_gpu_energy_joules_count", window="step",
                       index=str(gpu)) == 1.0
        assert _sample(body, "energy_monitor_gpu_energy_joules_sum", window="step",
                       index=str(gpu)) > 0.0
    assert set(measured.gpu_energy) == {0, 1}


# ---- EnergyCumulativeCounter and PowerGauge: the real package (ZeusMonitor / PowerMonitor over
# the fake NVML, in the metric's own spawned process) against Debian's real Pushgateway. ----

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

from conftest import run_python  # noqa: E402
from zeus.metric import EnergyCumulativeCounter, PowerGauge  # noqa: E402

# Two fake GPUs at different steady loads (so a mixed-up index shows), energy counter updated
# every millisecond.
FAKE_GPUS = json.dumps({"gpus": [{"count": 1, "load": 0.2, "energy_update_ms": 1},
                                 {"count": 1, "load": 0.7, "energy_update_ms": 1}]})


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "Debian's prometheus-pushgateway is needed (scripts/install-deps.sh)"
    directory = tmp_path_factory.mktemp("pushgateway")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(directory / "pushgateway.log", "w")
    # Its own persistence file: Debian's default is under /var/lib.
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}",
                             f"--persistence.file={directory / 'pg.data'}"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://{url}/-/ready", timeout=1):
                break
        except (OSError, urllib.error.URLError):
            assert time.monotonic() < deadline, "pushgateway not ready in 20 s"
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def _gateway_samples(url: str, job: str) -> list:
    with urllib.request.urlopen(f"http://{url}/metrics", timeout=5) as r:
        body = r.read().decode()
    return [s for f in text_string_to_metric_families(body) for s in f.samples
            if s.labels.get("job") == job]


@pytest.fixture()
def fake_gpus(monkeypatch):
    """The metric's spawned process sees FAKE_GPUS; returns their power in W, read through the
    package in a process of its own."""
    monkeypatch.setenv("ZEUS_FAKE_NVML_CONFIG", FAKE_GPUS)
    out = run_python("from zeus.device import get_gpus\n"
                     "g = get_gpus()\n"
                     "print([g.get_instant_power_usage(i) / 1000 for i in range(len(g))])")
    assert out.returncode == 0, out.stderr
    watts = json.loads(out.stdout)
    assert len(watts) == 2 and watts[0] != watts[1]
    return watts


def _wait_for(what, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if predicate(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last: {value!r}"
        time.sleep(0.1)


def test_power_gauge_pushes_each_fake_gpus_power(pushgateway, fake_gpus):
    gauge = PowerGauge(gpu_indices=[0, 1], update_period=0.1, pushgateway_url=pushgateway,
                       job="zeus-power")
    gauge.begin_window("train")
    try:
        got = _wait_for(lambda: {s.labels["gpu_index"]: s.value
                                 for s in _gateway_samples(pushgateway, "zeus-power")
                                 if s.name == "power_monitor_gpu_power_watts"},
                        lambda g: len(g) == 2)
    finally:
        gauge.end_window("train")
    assert got == {"train_0": fake_gpus[0], "train_1": fake_gpus[1]}
    with pytest.raises(RuntimeError, match="no window 'train' is open"):
        gauge.end_window("train")


def test_energy_cumulative_counter_adds_each_fake_gpus_energy(pushgateway, fake_gpus):
    counter = EnergyCumulativeCounter(cpu_indices=[], gpu_indices=[0, 1], update_period=0.2,
                                      pushgateway_url=pushgateway, job="zeus-energy")

    def totals():
        return {s.labels["index"]: s.value for s in _gateway_samples(pushgateway, "zeus-energy")
                if s.name == "energy_monitor_gpu_energy_joules_total"
                and s.labels.get("window") == "__EnergyCumulativeCounter_run"}

    began = time.monotonic()
    counter.begin_window("run")
    try:
        first = _wait_for(totals, lambda t: len(t) == 2)
        later = _wait_for(totals, lambda t: len(t) == 2 and t["0"] >= first["0"] + 2 * 0.2 * fake_gpus[0])
    finally:
        counter.end_window("run")
    elapsed = time.monotonic() - began
    final = totals()
    assert final["0"] >= later["0"] and final["1"] >= later["1"]
    # Each GPU's counter is its own steady power times the time the windows covered: the same
    # time for both GPUs, at most the time the metric ran.
    covered = [final[str(i)] / fake_gpus[i] for i in (0, 1)]
    assert covered[0] == pytest.approx(covered[1], rel=0.02)
    assert 3 * 0.2 * 0.9 <= covered[0] <= elapsed


def test_a_monitor_that_cannot_be_made_fails_begin_window(fake_gpus):
    # The metric's process cannot measure GPU 7 (two fake GPUs): begin_window says why instead
    # of the process dying unseen.
    for metric in (EnergyCumulativeCounter(cpu_indices=[], gpu_indices=[7], update_period=0.1,
                                           pushgateway_url="127.0.0.1:1", job="x"),
                   PowerGauge(gpu_indices=[7], update_period=0.1,
                              pushgateway_url="127.0.0.1:1", job="x")):
        with pytest.raises(RuntimeError, match=type(metric).__name__ + ": .*7"):
            metric.begin_window("w")
        assert "w" not in metric.window_state
        with pytest.raises(RuntimeError, match="no window 'w' is open"):
            metric.end_window("w")


def test_failed_pushes_are_counted_and_warned_at_end_window(fake_gpus):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    gauge = PowerGauge(gpu_indices=[0], update_period=0.05, pushgateway_url=closed, job="x")
    gauge.begin_window("w")
    with pytest.raises(RuntimeError, match="a window named .w. is already open"):
        gauge.begin_window("w")
    time.sleep(0.5)
    with pytest.warns(UserWarning, match=r"PowerGauge: \d+ of \d+ pushes to the Pushgateway "
                                         r"failed \(last: URLError"):
        gauge.end_window("w")


def test_energy_histogram_to_the_real_pushgateway(pushgateway):
    """(Was tests/exporter/test_metric_py.py, on a copy of metric.py with stand-in monitors.)"""
    hist = EnergyHistogram(cpu_indices=[], gpu_indices=[0, 1], pushgateway_url=pushgateway,
                           job="zeus-hist")
    for _ in range(2):
        hist.begin_window("train")
        time.sleep(0.05)
        hist.end_window("train")
    got = {(s.name, s.labels["index"], float(s.labels["le"]) if "le" in s.labels else None): s.value
           for s in _gateway_samples(pushgateway, "zeus-hist") if s.labels.get("window") == "train"}
    for gpu in ("0", "1"):
        assert got[("energy_monitor_gpu_energy_joules_count", gpu, None)] == 2
        assert got[("energy_monitor_gpu_energy_joules_bucket", gpu, float("inf"))] == 2
        assert got[("energy_monitor_gpu_energy_joules_bucket", gpu, 50.0)] == 2  # ~0.05 s each
        assert got[("energy_monitor_gpu_energy_joules_sum", gpu, None)] > 0
    # a window above the top bucket warns
    with pytest.warns(UserWarning):
        small = EnergyHistogram(cpu_indices=[], gpu_indices=[1], pushgateway_url=pushgateway,
                                job="zeus-hist2", gpu_bucket_range=[0.001, 0.002])
        small.begin_window("w")
        time.sleep(0.05)
        small.end_window("w")
