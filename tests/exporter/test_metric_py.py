"""python/zeus/metric.py (EnergyHistogram, EnergyCumulativeCounter, PowerGauge) pushing to
Debian's real prometheus-pushgateway, with Debian's python3-prometheus-client.

The monitors are stand-ins with known energies and power (a `zeus.monitor` module in a temporary
package next to a copy of metric.py): this checks what the metric classes push, not the
measuring, which the C tests cover. Run by ctest with /usr/bin/python3."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.abspath(__file__))
METRIC_PY = os.path.join(HERE, "..", "..", "python", "zeus", "metric.py")
PUSHGATEWAY = os.environ.get("ZEUS_TEST_PUSHGATEWAY", "prometheus-pushgateway")

FAKE_MONITOR = '''
class _M:
    gpu_energy = {0: 12.5, 1: 7.0}
    cpu_energy = {0: 3.0}
    dram_energy = {0: 1.0}

class ZeusMonitor:
    def __init__(self, cpu_indices=None, gpu_indices=None):
        self.open = set()
    def begin_window(self, key, sync_execution=True):
        assert key not in self.open
        self.open.add(key)
    def end_window(self, key, sync_execution=True):
        self.open.remove(key)
        return _M()

class PowerMonitor:
    def __init__(self, gpu_indices=None):
        pass
    def get_power(self):
        return {0: 123.0, 1: 45.5}
'''


class MetricTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="zeus-metric-py-")
        pkg = os.path.join(cls.dir, "zeus")
        os.makedirs(pkg)
        open(os.path.join(pkg, "__init__.py"), "w").close()
        with open(os.path.join(pkg, "monitor.py"), "w") as f:
            f.write(FAKE_MONITOR)
        shutil.copy(METRIC_PY, os.path.join(pkg, "metric.py"))
        sys.path.insert(0, cls.dir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cls.log = open(os.path.join(cls.dir, "pushgateway.log"), "w")
        cls.gateway = subprocess.Popen(
            [PUSHGATEWAY, "--web.listen-address=127.0.0.1:%d" % port,
             "--persistence.file=" + os.path.join(cls.dir, "pg.data")],
            stdin=subprocess.DEVNULL, stdout=cls.log, stderr=cls.log)
        cls.url = "127.0.0.1:%d" % port
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://%s/-/ready" % cls.url, timeout=1):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError("pushgateway not ready in 20 s")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.terminate()
        cls.gateway.wait(timeout=10)
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def samples(self, job):
        with urllib.request.urlopen("http://%s/metrics" % self.url, timeout=5) as r:
            body = r.read().decode()
        return [s for f in text_string_to_metric_families(body) for s in f.samples
                if s.labels.get("job") == job]

    def test_energy_histogram(self):
        from zeus.metric import EnergyHistogram
        h = EnergyHistogram(cpu_indices=[0], gpu_indices=[0, 1], pushgateway_url=self.url,
                            job="hist")
        for _ in range(2):
            h.begin_window("train")
            h.end_window("train")
        # le as a number: the gateway re-renders "50.0" as "50".
        got = {(s.name, s.labels["index"], float(s.labels["le"]) if "le" in s.labels else None):
               s.value for s in self.samples("hist") if s.labels.get("window") == "train"}
        self.assertEqual(got[("energy_monitor_gpu_energy_joules_count", "0", None)], 2)
        self.assertEqual(got[("energy_monitor_gpu_energy_joules_sum", "0", None)], 25.0)
        self.assertEqual(got[("energy_monitor_gpu_energy_joules_bucket", "1", 50.0)], 2)
        self.assertEqual(got[("energy_monitor_cpu_energy_joules_sum", "0", None)], 6.0)
        self.assertEqual(got[("energy_monitor_cpu_energy_joules_bucket", "0", 10.0)], 2)
        self.assertEqual(got[("energy_monitor_dram_energy_joules_sum", "0", None)], 2.0)
        with self.assertWarns(UserWarning):
            small = EnergyHistogram(cpu_indices=[], gpu_indices=[0], pushgateway_url=self.url,
                                    job="hist2", gpu_bucket_range=[1.0, 5.0])
            small.begin_window("w")
            small.end_window("w")

    def test_energy_cumulative_counter(self):
        from zeus.metric import EnergyCumulativeCounter
        c = EnergyCumulativeCounter(cpu_indices=[0], gpu_indices=[0, 1], update_period=0.1,
                                    pushgateway_url=self.url, job="counter")
        c.begin_window("run")
        time.sleep(1.5)
        c.end_window("run")
        got = {(s.name, s.labels["index"]): s.value for s in self.samples("counter")
               if s.labels.get("window") == "__EnergyCumulativeCounter_run"}
        gpu0 = got[("energy_monitor_gpu_energy_joules_total", "0")]
        periods = gpu0 / 12.5
        self.assertGreaterEqual(periods, 2)
        self.assertEqual(periods, int(periods))
        self.assertEqual(got[("energy_monitor_gpu_energy_joules_total", "1")], 7.0 * periods)
        self.assertEqual(got[("energy_monitor_dram_energy_joules_total", "0")], 1.0 * periods)

    def test_power_gauge(self):
        from zeus.metric import PowerGauge
        g = PowerGauge(gpu_indices=[0, 1], update_period=0.1, pushgateway_url=self.url,
                       job="power")
        g.begin_window("w")
        deadline = time.monotonic() + 20
        got = {}
        while time.monotonic() < deadline and len(got) < 2:
            time.sleep(0.2)
            got = {s.labels["gpu_index"]: s.value for s in self.samples("power")
                   if s.name == "power_monitor_gpu_power_watts"}
        g.end_window("w")
        self.assertEqual(got, {"w_0": 123.0, "w_1": 45.5})
        with self.assertRaises(RuntimeError):
            g.end_window("w")


if __name__ == "__main__":
    unittest.main(verbosity=2)
