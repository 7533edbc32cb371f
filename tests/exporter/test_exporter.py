"""zeus exporter against real Prometheus (Debian's `prometheus` server) and the official Python
client's exposition parser (Debian's python3-prometheus-client), over the project's fake NVML and
a fake RAPL sysfs tree.

Run by ctest with Debian's /usr/bin/python3 (where python3-prometheus-client is installed).
Environment (set by tests/CMakeLists.txt): ZEUS_TEST_EXPORTER, ZEUS_TEST_CLI,
ZEUS_TEST_FAKE_NVML, ZEUS_TEST_PROMETHEUS; and for the vendor matrix's AMD run
(exporter/test_exporter[amd]) ZEUS_TEST_VENDOR=amd and ZEUS_TEST_FAKE_AMDSMI: the same fake
hardware behind the fake libamd_smi, where power reads in whole watts, the energy counter is an
accumulator times a float resolution (sub-mJ rounding) and is read twice at start-up (its check
against power, over 10 ms here so that the per-read test counters pass it).
"""
import json
import os
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import zeus_test_hygiene  # noqa: E402

zeus_test_hygiene.reset_signals()  # docs/testing.md: what it starts gets default signals

EXPORTER = os.environ["ZEUS_TEST_EXPORTER"]
CLI = os.environ["ZEUS_TEST_CLI"]
FAKE_NVML = os.environ["ZEUS_TEST_FAKE_NVML"]
AMD = os.environ.get("ZEUS_TEST_VENDOR") == "amd"
# The fake GPUs' steady power as each vendor's library reports it (AMD SMI: whole watts).
POWER_W = {"0": 43.0 if AMD else 42.5, "1": 60.0, "2": 30.0}
DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "grafana",
                         "zeus.json")
PROMETHEUS = os.environ.get("ZEUS_TEST_PROMETHEUS", "prometheus")
PROMTOOL = os.environ.get("ZEUS_TEST_PROMTOOL", "promtool")
PUSHGATEWAY = os.environ.get("ZEUS_TEST_PUSHGATEWAY", "prometheus-pushgateway")
PUSH_EXAMPLE = os.environ["ZEUS_TEST_PUSH_EXAMPLE"]

# Two GPUs whose readings are known exactly: a steady idle draw (no load), a counter that
# advances a fixed amount on every read, a pre-Volta GPU without a counter, and a model name
# that needs escaping in the exposition format.
NVML_CONFIG = {
    "gpus": [
        {"name": 'NVIDIA "A40" \\ test', "architecture": "ampere", "min_power_limit_w": 100,
         "max_power_limit_w": 300, "default_power_limit_w": 300, "idle_power_w": 42.5,
         "energy_per_read_mj": 500, "initial_energy_j": 1000, "uuid": "GPU-aaaa"},
        {"name": "NVIDIA A40", "architecture": "ampere", "min_power_limit_w": 100,
         "max_power_limit_w": 300, "default_power_limit_w": 300, "idle_power_w": 60,
         "energy_per_read_mj": 250, "uuid": "GPU-bbbb"},
        {"name": "Tesla P100", "architecture": "pascal", "min_power_limit_w": 125,
         "max_power_limit_w": 250, "default_power_limit_w": 250, "idle_power_w": 30,
         "uuid": "GPU-cccc"},
    ]
}
PKG = "sys/class/powercap/intel-rapl:0"
DRAM = PKG + "/intel-rapl:0:0"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def set_counter(path, uj):
    """Rewrites a RAPL counter in place (the library keeps the file open and preads it)."""
    with open(path, "r+") as f:
        f.write("%d\n" % uj)
        f.truncate()


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


class ExporterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="zeus-exporter-test-")
        self.procs = []
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("ZEUS_") or k.startswith("ZEUS_TEST_") or k == "ZEUS_LOCK_DIR"}
        self.env.pop("CUDA_VISIBLE_DEVICES", None)
        self.env.update({
            "ZEUS_DEVICE": "nvml", "ZEUS_NVML_LIBRARY": FAKE_NVML,
            **({"ZEUS_DEVICE": "amdsmi", "ZEUS_AMDSMI_LIBRARY": os.environ["ZEUS_TEST_FAKE_AMDSMI"],
                "ZEUS_AMDSMI_CHECK_MS": "10"} if AMD else {}),
            "ZEUS_FAKE_NVML_CONFIG": json.dumps(NVML_CONFIG),
            "ZEUS_FAKE_NVML_STATE": os.path.join(self.dir, "nvml-state"),
            "ZEUS_SYSFS_ROOT": os.path.join(self.dir, "sysfs"),
        })
        root = self.env["ZEUS_SYSFS_ROOT"]
        for zone, name, energy, rng in ((PKG, "package-0", 1000, 1000000), (DRAM, "dram", 500, 65535)):
            write(os.path.join(root, zone, "name"), name + "\n")
            write(os.path.join(root, zone, "energy_uj"), "%d\n" % energy)
            write(os.path.join(root, zone, "max_energy_range_uj"), "%d\n" % rng)

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for p in self.procs:
            for stream in (p.stdout, p.stderr):
                if stream:
                    stream.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_exporter(self, *args):
        p = subprocess.Popen([EXPORTER, "--listen", "127.0.0.1:0", "--hostname", "testhost", *args],
                             env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        ready, _, _ = select.select([p.stderr], [], [], 10)
        self.assertTrue(ready, "the exporter printed no address within 10 s")
        line = p.stderr.readline()
        self.assertIn("serving http://127.0.0.1:", line)
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        self.assertGreater(port, 0)
        return port

    # ---- the exposition format, read by the official client's parser ----

    def test_exposition_parses_with_official_client(self):
        out = subprocess.run([EXPORTER, "--once", "--hostname", "host\"x"], env=self.env,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
        # Counters lose _total in the parser's family name; their samples keep it.
        energy = families["zeus_gpu_energy_joules"]
        self.assertEqual(energy.type, "counter")
        by_gpu = {s.labels["gpu"]: s for s in energy.samples}
        self.assertEqual(sorted(by_gpu), ["0", "1"])  # the Pascal GPU has no counter
        self.assertEqual(by_gpu["0"].name, "zeus_gpu_energy_joules_total")
        self.assertEqual(by_gpu["0"].labels, {"gpu": "0", "uuid": "GPU-aaaa",
                                              "model_name": 'NVIDIA "A40" \\ test',
                                              "hostname": 'host"x'})
        self.assertGreaterEqual(by_gpu["0"].value, 1000.0)
        power = {s.labels["gpu"]: s.value for s in families["zeus_gpu_power_watts"].samples}
        self.assertEqual(families["zeus_gpu_power_watts"].type, "gauge")
        self.assertEqual(power, POWER_W)
        for name, expect in (("zeus_gpu_power_limit_watts", {"0": 300, "1": 300, "2": 250}),
                             ("zeus_gpu_power_limit_min_watts", {"0": 100, "1": 100, "2": 125}),
                             ("zeus_gpu_power_limit_max_watts", {"0": 300, "1": 300, "2": 250}),
                             ("zeus_gpu_power_limit_default_watts", {"0": 300, "1": 300, "2": 250})):
            got = {s.labels["gpu"]: s.value for s in families[name].samples}
            self.assertEqual(got, expect, name)
        temps = {s.labels["gpu"]: s.value for s in families["zeus_gpu_temperature_celsius"].samples}
        self.assertEqual(temps, {"0": 34.0, "1": 37.0, "2": 31.0})  # the model: 25 + 0.2/W
        pkg = families["zeus_cpu_package_energy_joules"]
        self.assertEqual(pkg.type, "counter")
        self.assertEqual([(s.labels, s.value) for s in pkg.samples],
                         [({"package": "0", "name": "package-0", "hostname": 'host"x'}, 0.0)])
        self.assertEqual(len(families["zeus_cpu_dram_energy_joules"].samples), 1)
        errors = {(s.labels["device"], s.labels["reading"]): s.value
                  for s in families["zeus_exporter_read_errors"].samples}
        self.assertEqual(errors[("gpu0", "energy")], 0)
        self.assertNotIn(("gpu2", "energy"), errors)
        self.assertEqual(errors[("cpu0", "energy")], 0)
        self.assertEqual(families["zeus_exporter_polls"].samples[0].value, 1)
        self.assertNotIn("zeus_exporter_scrape_duration_seconds", families)  # no scrape

    def test_every_gpu_by_its_nvml_index(self):
        # A node exporter: CUDA_VISIBLE_DEVICES (a job's view) does not hide or renumber GPUs.
        self.env["CUDA_VISIBLE_DEVICES"] = "2"
        out = subprocess.run([EXPORTER, "--once"], env=self.env, capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
        self.assertEqual({s.labels["gpu"]: s.labels["uuid"]
                          for s in families["zeus_gpu_power_watts"].samples},
                         {"0": "GPU-aaaa", "1": "GPU-bbbb", "2": "GPU-cccc"})

    def test_promtool_finds_no_naming_problems(self):
        out = subprocess.run([EXPORTER, "--once"], env=self.env, capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=out.stdout,
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)
        # dcgm-exporter's label names on request (camelCase: promtool objects, as it does to
        # dcgm-exporter's own).
        out = subprocess.run([EXPORTER, "--once", "--dcgm-labels", "--hostname", "h"],
                             env=self.env, capture_output=True, text=True, timeout=30)
        families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
        self.assertEqual(families["zeus_gpu_power_watts"].samples[0].labels,
                         {"gpu": "0", "UUID": "GPU-aaaa", "modelName": 'NVIDIA "A40" \\ test',
                          "Hostname": "h"})
        self.assertEqual(families["zeus_cpu_package_energy_joules"].samples[0].labels,
                         {"package": "0", "name": "package-0", "Hostname": "h"})

    def test_read_errors_are_counted_and_the_sample_left_out(self):
        config = json.loads(json.dumps(NVML_CONFIG))
        # The exporter's first call (at startup: does this GPU report it?) succeeds, the poll's fails.
        config["gpus"][1]["errors"] = {"nvmlDeviceGetTemperature": {"code": "GPU_IS_LOST", "after": 1}}
        self.env["ZEUS_FAKE_NVML_CONFIG"] = json.dumps(config)
        out = subprocess.run([EXPORTER, "--once"], env=self.env, capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("reading GPU 1 temperature failed", out.stderr)
        families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
        temps = {s.labels["gpu"] for s in families["zeus_gpu_temperature_celsius"].samples}
        self.assertEqual(temps, {"0", "2"})
        errors = {(s.labels["device"], s.labels["reading"]): s.value
                  for s in families["zeus_exporter_read_errors"].samples}
        self.assertEqual(errors[("gpu1", "temperature")], 1)
        self.assertEqual(errors[("gpu0", "temperature")], 0)
        self.assertEqual(len(families["zeus_gpu_power_watts"].samples), 3)

    def test_scrapes_do_not_wait_for_a_stalled_gpu(self):
        config = json.loads(json.dumps(NVML_CONFIG))
        # From its third call on, every power-limit read hangs 1.5 s (holding NVML's lock).
        config["gpus"][0]["errors"] = {"nvmlDeviceGetPowerManagementLimit":
                                       {"code": "SUCCESS", "after": 2, "delay_ms": 1500}}
        self.env["ZEUS_FAKE_NVML_CONFIG"] = json.dumps(config)
        port = self.start_exporter("--period", "0.2")
        worst = 0.0
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            _, _, body = http_get("http://127.0.0.1:%d/metrics" % port)
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.1)
        self.assertLess(worst, 0.5, "a scrape waited for the stalled poll")
        fams = {f.name: f for f in text_string_to_metric_families(body)}
        self.assertGreaterEqual(fams["zeus_exporter_poll_duration_seconds"].samples[0].value, 1.5)

    def test_http_endpoints(self):
        port = self.start_exporter("--period", "0.2")
        status, ctype, body = http_get("http://127.0.0.1:%d/metrics" % port)
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        names = {f.name for f in text_string_to_metric_families(body)}
        self.assertIn("zeus_gpu_power_watts", names)
        with self.assertRaises(urllib.error.HTTPError) as e:
            http_get("http://127.0.0.1:%d/nothing" % port)
        self.assertEqual(e.exception.code, 404)
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port, data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        self.assertEqual(e.exception.code, 405)
        # A scrape is counted in the next one (the 404 and the 405 are not scrapes).
        _, _, body = http_get("http://127.0.0.1:%d/metrics" % port)
        fam = {f.name: f for f in text_string_to_metric_families(body)}
        count = [s.value for s in fam["zeus_exporter_scrape_duration_seconds"].samples
                 if s.name.endswith("_count")]
        self.assertEqual(count, [1.0])
        # SIGTERM stops it cleanly (systemd's stop), exit status 0.
        p = self.procs[-1]
        p.terminate()
        self.assertEqual(p.wait(timeout=10), 0)

    def test_usage_errors(self):
        for args in (["--listen", "nonsense"], ["--period", "0"], ["--bogus"], ["--listen"]):
            out = subprocess.run([EXPORTER, *args], env=self.env, capture_output=True, text=True,
                                 timeout=10)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn("zeus exporter: error:", out.stderr)
        out = subprocess.run([CLI, "exporter", "--help"], env=self.env, capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertIn("--listen HOST:PORT", out.stdout)

    # ---- connection limits (issue 17, item 5) ----

    def test_idle_connections_do_not_starve_scrapes(self):
        """2,000 connections that never send a request cannot starve a scrape: at
        --max-connections a new connection closes the one that has waited longest, so the
        scrape is answered as fast as without them (it waited ~30 s before)."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2500  # the idle sockets, in this process; the exporter inherits it
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (need if hard == resource.RLIM_INFINITY else min(need, hard), hard))
        self.assertGreaterEqual(resource.getrlimit(resource.RLIMIT_NOFILE)[0], need,
                                "RLIMIT_NOFILE cannot be raised to hold 2,000 connections")
        port = self.start_exporter()
        url = "http://127.0.0.1:%d/metrics" % port
        base = []
        for _ in range(3):
            t0 = time.monotonic()
            self.assertEqual(http_get(url)[0], 200)
            base.append(time.monotonic() - t0)
        idle = []
        try:
            for _ in range(2000):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            t0 = time.monotonic()
            status, _, text = http_get(url, timeout=60)
            took = time.monotonic() - t0
            self.assertEqual(status, 200)
            self.assertIn("zeus_gpu_power_watts{", text)
            # 1 s, or 20 times an unloaded scrape where the machine is that slow (ASan, load)
            self.assertLess(took, max(1.0, 20 * max(base)),
                            "a scrape took %.3f s with 2,000 idle connections open "
                            "(%.4f s without)" % (took, max(base)))
            # the exporter holds about --max-connections of them, not 2,000
            fds = len(os.listdir("/proc/%d/fd" % self.procs[-1].pid))
            self.assertLess(fds, 600, "the exporter has %d descriptors open" % fds)
        finally:
            for sock in idle:
                sock.close()

    def test_request_timeout_closes_idle_connections(self):
        port = self.start_exporter("--request-timeout-s", "1", "--connection-timeout-s", "300")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            t0 = time.monotonic()
            try:
                data = sock.recv(1)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"", "closed without a reply")
            self.assertLess(time.monotonic() - t0, 25, "closed by --request-timeout-s, not later")
        for args in (["--max-connections", "0"], ["--request-timeout-s", "x"],
                     ["--connection-timeout-s"]):
            out = subprocess.run([EXPORTER, *args], env=self.env, capture_output=True, text=True,
                                 timeout=10)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn("zeus exporter: error:", out.stderr)

    def test_every_interface_is_said_at_start(self):
        """--listen 0:0 binds every interface (0.0.0.0): a warning says so."""
        p = subprocess.Popen([EXPORTER, "--listen", "0:0"], env=self.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        ready, _, _ = select.select([p.stderr], [], [], 10)
        self.assertTrue(ready, "no start-up line")
        p.terminate()  # the warning is printed before the exporter waits for signals
        p.wait(timeout=10)
        text = p.stderr.read()  # all of it (communicate() with a timeout skips Python's buffer)
        self.assertIn("serving http://0:", text)
        self.assertIn("warning: --listen 0:0 serves on every network interface", text)

    # ---- real Prometheus ----

    def start_prometheus(self, exporter_port, job="zeus", honor_labels=False):
        port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        write(config, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                      "scrape_configs:\n  - job_name: %s\n    honor_labels: %s\n"
                      "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                      % (job, "true" if honor_labels else "false", exporter_port))
        log = open(os.path.join(self.dir, "prometheus.log"), "w")
        p = subprocess.Popen([PROMETHEUS, "--config.file=" + config,
                              "--storage.tsdb.path=" + os.path.join(self.dir, "tsdb"),
                              "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir)
        log.close()
        self.procs.append(p)
        self.prom = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.assertIsNone(p.poll(), "prometheus exited: " + self.prometheus_log())
            try:
                if http_get(self.prom + "/-/ready", timeout=1)[0] == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.fail("prometheus not ready in 30 s: " + self.prometheus_log())

    def prometheus_log(self):
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()[-3000:]

    def query(self, expr):
        url = self.prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, _, body = http_get(url)
        data = json.loads(body)
        self.assertEqual(data["status"], "success", body)
        return data["data"]["result"]

    def wait_for(self, expr, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        result = None
        while time.monotonic() < deadline:
            result = self.query(expr)
            if predicate(result):
                return result
            time.sleep(0.25)
        self.fail("%s: not as expected after %g s: %s\nprometheus log: %s"
                  % (expr, timeout, result, self.prometheus_log()))

    def test_prometheus_stores_the_fake_gpus_values(self):
        port = self.start_exporter("--period", "0.25")
        self.start_prometheus(port)
        # Three scrapes of GPU 0's counter.
        self.wait_for('count_over_time(zeus_gpu_energy_joules_total{gpu="0"}[1m])',
                      lambda r: r and float(r[0]["value"][1]) >= 3)
        energy = self.query('zeus_gpu_energy_joules_total{gpu="0"}[1m]')
        polls = self.query("zeus_exporter_polls_total[1m]")
        self.assertEqual(len(energy), 1)
        self.assertEqual(energy[0]["metric"]["job"], "zeus")
        self.assertEqual(energy[0]["metric"]["uuid"], "GPU-aaaa")
        self.assertEqual(energy[0]["metric"]["model_name"], 'NVIDIA "A40" \\ test')
        self.assertEqual(energy[0]["metric"]["hostname"], "testhost")
        # Each poll reads the counter once and the fake advances it 0.5 J per read: every
        # stored sample is (a fixed offset) + 0.5 J x polls, at the same scrape timestamps.
        e = {t: float(v) for t, v in energy[0]["values"]}
        n = {t: float(v) for t, v in polls[0]["values"]}
        common = sorted(set(e) & set(n))
        self.assertGreaterEqual(len(common), 3)
        offsets = {e[t] - 0.5 * n[t] for t in common}
        if AMD:  # two reads at start-up; the accumulator's float resolution rounds below 1 mJ
            self.assertLess(max(offsets) - min(offsets), 0.0025, (e, n))
            self.assertAlmostEqual(min(offsets), 1000.0 + 0.5, delta=0.0025)
        else:
            self.assertEqual(len(offsets), 1, (e, n))
            self.assertEqual(offsets.pop(), 1000.0 - 0.5)  # the first read gives initial_energy_j
        self.assertTrue(all(e[a] < e[b] for a, b in zip(common, common[1:])), e)
        power = {r["metric"]["gpu"]: float(r["value"][1]) for r in self.query("zeus_gpu_power_watts")}
        self.assertEqual(power, POWER_W)
        self.assertEqual(self.query('zeus_gpu_energy_joules_total{gpu="2"}'), [])
        limits = self.query("zeus_gpu_power_limit_watts")
        self.assertEqual({r["metric"]["gpu"]: float(r["value"][1]) for r in limits},
                         {"0": 300.0, "1": 300.0, "2": 250.0})

        # The power limit changes while Prometheus watches (set by another process).
        out = subprocess.run([CLI, "power-limit", "set", "200", "--gpu-indices", "1"], env=self.env,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.wait_for('zeus_gpu_power_limit_watts{gpu="1"}',
                      lambda r: r and float(r[0]["value"][1]) == 200.0)
        self.assertEqual(float(self.query('zeus_gpu_power_limit_watts{gpu="0"}')[0]["value"][1]),
                         300.0)

        # RAPL: 998000 uJ, then a wrap at max_energy_range_uj (1000000) to 1000: 2001 more.
        root = self.env["ZEUS_SYSFS_ROOT"]
        set_counter(os.path.join(root, PKG, "energy_uj"), 999000)
        self.wait_for("zeus_cpu_package_energy_joules_total",
                      lambda r: r and float(r[0]["value"][1]) == 0.998)
        set_counter(os.path.join(root, PKG, "energy_uj"), 1000)
        r = self.wait_for("zeus_cpu_package_energy_joules_total",
                          lambda r: r and float(r[0]["value"][1]) != 0.998)
        self.assertEqual(float(r[0]["value"][1]), 1.000001)
        self.assertEqual(r[0]["metric"]["name"], "package-0")
        self.assertEqual(float(self.query("zeus_cpu_dram_energy_joules_total")[0]["value"][1]), 0.0)
        # The exporter's health: every scrape succeeded, no read errors.
        self.assertEqual(float(self.query('up{job="zeus"}')[0]["value"][1]), 1.0)
        self.assertEqual(float(self.query("sum(zeus_exporter_read_errors_total)")[0]["value"][1]), 0)

        # Every query of the Grafana dashboard (docs/grafana/zeus.json) is valid PromQL over
        # these metrics and finds data.
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        exprs += [v["query"].split("(", 1)[1].rsplit(",", 1)[0] for v in dashboard["templating"]["list"]]
        self.assertGreaterEqual(len(exprs), 10)
        for expr in exprs:
            expr = expr.replace("$host", ".*").replace("$gpu", ".*").replace("$__range", "1m")
            self.assertTrue(self.query(expr), expr)


    # ---- window metrics pushed from the C library to Debian's real Pushgateway ----

    def test_window_pushed_to_pushgateway_reaches_prometheus(self):
        port = free_port()
        log = open(os.path.join(self.dir, "pushgateway.log"), "w")
        # Debian's default persistence file is under /var/lib: keep the test's state its own.
        p = subprocess.Popen([PUSHGATEWAY, "--web.listen-address=127.0.0.1:%d" % port,
                              "--persistence.file=" + os.path.join(self.dir, "pushgateway.data")],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir)
        log.close()
        self.procs.append(p)
        gateway = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 20
        while True:
            try:
                if http_get(gateway + "/-/ready", timeout=1)[0] == 200:
                    break
            except (OSError, urllib.error.URLError):
                pass
            self.assertLess(time.monotonic(), deadline, "pushgateway not ready in 20 s")
            time.sleep(0.1)
        # A window name a URL path cannot carry as it is (the library base64-encodes it).
        window = "epoch 1/step"
        out = subprocess.run([PUSH_EXAMPLE, gateway, "training", window, "0.3"], env=self.env,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        m = json.loads(out.stdout)
        self.assertEqual(len(m["gpus"]), 3)
        gpu_energy = {str(g["index"]): g["energy_j"] for g in m["gpus"] if g["energy_j"] is not None}
        self.assertGreater(gpu_energy["0"], 0)
        _, _, body = http_get(gateway + "/metrics")
        fams = {f.name: f for f in text_string_to_metric_families(body)}
        pushed = {s.labels["gpu"]: s.value for s in fams["zeus_window_gpu_energy_joules"].samples
                  if s.labels.get("window") == window and s.labels.get("job") == "training"}
        # The JSON has 15 significant digits (cJSON); the pushed text every digit.
        self.assertEqual(sorted(pushed), sorted(gpu_energy))
        for gpu, joules in gpu_energy.items():
            self.assertAlmostEqual(pushed[gpu], joules, delta=1e-12 * joules)
        duration = [s.value for s in fams["zeus_window_duration_seconds"].samples
                    if s.labels.get("window") == window]
        self.assertEqual(len(duration), 1)
        self.assertAlmostEqual(duration[0], m["time_s"], delta=1e-12)
        cpu = [s.value for s in fams["zeus_window_cpu_energy_joules"].samples]
        self.assertEqual(len(cpu), 1)
        self.assertAlmostEqual(cpu[0], m["cpus"][0]["package_j"], delta=1e-12)
        hist = {(s.name, s.labels.get("le")): s.value
                for s in fams["energy_monitor_gpu_energy_joules"].samples
                if s.labels.get("index") == "0" and s.labels.get("window") == window}
        self.assertEqual(hist[("energy_monitor_gpu_energy_joules_count", None)], 1)
        self.assertEqual(hist[("energy_monitor_gpu_energy_joules_sum", None)], pushed["0"])
        self.assertEqual(hist[("energy_monitor_gpu_energy_joules_bucket", "+Inf")], 1)

        # The command line pushes a command's window the same way.
        out = subprocess.run([CLI, "monitor", "energy", "--json", "--pushgateway", gateway,
                              "--job", "cli job", "--", "/bin/sleep", "0.2"], env=self.env,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        cli_m = json.loads(out.stdout.strip().splitlines()[-1])
        _, _, body = http_get(gateway + "/metrics")
        fams = {f.name: f for f in text_string_to_metric_families(body)}
        cli_pushed = {s.labels["gpu"]: s.value for s in fams["zeus_window_gpu_energy_joules"].samples
                      if s.labels.get("job") == "cli job"
                      and s.labels.get("window") == "zeus.monitor.energy"}
        self.assertEqual(sorted(cli_pushed), sorted(str(g["index"]) for g in cli_m["gpus"]
                                                    if g["energy_j"] is not None))
        for g in cli_m["gpus"]:
            if g["energy_j"] is not None:
                self.assertAlmostEqual(cli_pushed[str(g["index"])], g["energy_j"],
                                       delta=1e-12 * max(1, g["energy_j"]))
        # A gateway that is not there: the measurement is printed, the exit status is 1.
        out = subprocess.run([CLI, "monitor", "energy", "--pushgateway",
                              "http://127.0.0.1:%d" % free_port(), "--", "/bin/true"],
                             env=self.env, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot connect to the Pushgateway", out.stderr)

        # Prometheus scrapes the gateway (honor_labels keeps the pushed job label).
        self.start_prometheus(port, job="pushgateway", honor_labels=True)
        expr = 'zeus_window_gpu_energy_joules{job="training",window="epoch 1/step"}'
        r = self.wait_for(expr, lambda r: len(r) == 3)
        self.assertEqual({x["metric"]["gpu"]: float(x["value"][1]) for x in r}, pushed)
        r = self.wait_for('energy_monitor_gpu_energy_joules_sum{index="0"}', lambda r: r)
        self.assertEqual(float(r[0]["value"][1]), pushed["0"], r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
