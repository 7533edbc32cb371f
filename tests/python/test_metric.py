"""zeus.metric on the real package: a window measured by our ZeusMonitor over the fake NVML is
pushed, as the Pushgateway protocol says, to a loopback HTTP receiver started by the test."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

prometheus_client = pytest.importorskip("prometheus_client")

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
