"""zeus.monitor.carbon / zeus.monitor.price / zeus.utils.lat_lon against local servers that answer
like ElectricityMaps, OpenEI and ipinfo (http.server on loopback, the response shapes of
devices-carbon.md section 3), including a refused key (401), a rate limit (429), a slow answer
(time-out) and no server at all. Every failure test also checks that the energy is measured."""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from zeus.monitor.carbon import (
    CarbonEmissionMeasurement,
    CarbonEmissionMonitor,
    ElectricityMapsClient,
    ElectrictyMapsClient,
    ZeusCarbonIntensityHTTPError,
    ZeusCarbonIntensityNotFoundError,
)
from zeus.monitor.price import (
    EnergyCostMonitor,
    OpenEIClient,
    ZeusElectricityPriceHTTPError,
    ZeusElectricityPriceNotFoundError,
    rate_at,
)
from zeus.utils.lat_lon import get_ip_lat_long

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from https_provider import Handler as ProviderHandler  # noqa: E402 - the C test's server
from https_provider import server_context  # noqa: E402

LABEL = "539f6a23ec4f024411ec8bf9"

# The developer's own settings must not reach the clients or the commands the tests start.
for _name in [n for n in os.environ if n.startswith(("ZEUS_CARBON_", "ZEUS_OPENEI_"))]:
    del os.environ[_name]
for _name in ("ZEUS_PRICE_PER_KWH", "ZEUS_IPINFO_URL"):
    os.environ.pop(_name, None)


def intensity_of(start: datetime) -> float:
    """The fake grid: a different intensity every second (the tests' intervals are 1 s)."""
    return 100.0 + 50.0 * (int(start.timestamp()) % 7)


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeProviders(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls_folder: Path | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls_folder is not None:  # HTTPS with a self-signed certificate (tls_folder/cert.pem)
            self.socket = server_context(str(tls_folder)).wrap_socket(self.socket, server_side=True)
            self.scheme = "https"
        self.mode = "ok"
        self.history_s = range(-20, 5)  # the seconds around now that /history covers
        self.requests: list[tuple[str, dict]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(ProviderHandler):
    """The C test's ElectricityMaps handler (quiet, JSON replies), with every provider's routes
    and the fake grid of these tests; a connection per request, as the clients' tests expect."""

    protocol_version = "HTTP/1.0"

    def _send(self, code: int, body, headers: dict | None = None) -> None:
        super()._send(code, json.dumps(body).encode(), headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        server: FakeProviders = self.server  # type: ignore[assignment]
        server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        mode = server.mode
        if mode == "slow":
            time.sleep(1.5)
        if mode == "401":
            return self._send(401, {"error": "Invalid auth-token"})
        if mode == "429":
            return self._send(429, {"error": "Too many requests"}, {"Retry-After": "30"})
        path = urllib.parse.urlsplit(self.path).path
        now = datetime.now(timezone.utc).replace(microsecond=0)
        if path == "/v3/carbon-intensity/latest":
            if mode == "notfound":
                return self._send(200, {"error": 'No recent data for zone "US-MIDW-MISO"'})
            return self._send(200, {"zone": "US-MIDW-MISO", "carbonIntensity": intensity_of(now),
                                    "datetime": stamp(now), "isEstimated": True})
        if path == "/v3/carbon-intensity/history":
            history = [
                {"zone": "US-MIDW-MISO", "carbonIntensity": intensity_of(t), "datetime": stamp(t),
                 "emissionFactorType": "direct", "isEstimated": False, "estimationMethod": None}
                for t in (now + timedelta(seconds=s) for s in server.history_s)
            ]
            return self._send(200, {"zone": "US-MIDW-MISO", "history": history})
        if path == "/utility_rates":
            if mode == "notfound":
                return self._send(200, {"items": [], "errors": ["Utility company lookup failed for lat/lon: -100/-100"]})
            weekday = [[h % 2 for h in range(24)] for _ in range(12)]
            weekend = [[2] * 24 for _ in range(12)]
            return self._send(200, {"items": [{
                "label": LABEL, "name": "Residential", "sector": "Residential",
                "energyratestructure": [[{"rate": 0.1056, "adj": 0.029681}], [{"rate": 0.2}], [{"rate": 0.05}]],
                "energyweekdayschedule": weekday, "energyweekendschedule": weekend}]})
        if path == "/json":
            return self._send(200, {"ip": "192.0.2.1", "city": "Ann Arbor", "loc": "42.2776,-83.7409"})
        self._send(404, {"error": "no route"})


@pytest.fixture
def fake():
    server = FakeProviders()
    yield server
    server.stop()


@pytest.fixture
def fake_tls(tmp_path):
    server = FakeProviders(tmp_path)
    yield server
    server.stop()


def client(fake, tmp_path, **kw) -> ElectrictyMapsClient:
    kw.setdefault("cache_dir", tmp_path / "cache")
    kw.setdefault("update_period", timedelta(seconds=1))
    return ElectrictyMapsClient((42.2776, -83.7409), True, "direct", api_base=fake.base + "/v3",
                                timeout=0.5, **kw)


def measure(monitor, seconds: float):
    monitor.begin_window("w")
    time.sleep(seconds)
    return monitor.end_window("w")


def assert_energy_measured(m) -> None:
    assert m.time > 0.2
    assert set(m.gpu_energy) == {0, 1} and all(e > 0 for e in m.gpu_energy.values())


def test_electricitymaps_request_and_answers(fake, tmp_path):
    assert ElectricityMapsClient is ElectrictyMapsClient
    c = client(fake, tmp_path)
    assert c.get_current_carbon_intensity() in {100.0 + 50.0 * k for k in range(7)}
    path, headers = fake.requests[0]
    # The original's URL, parameter order and Python str() formatting; no key, no header.
    assert path == ("/v3/carbon-intensity/latest?lat=42.2776&lon=-83.7409"
                    "&disableEstimations=False&emissionFactorType=direct")
    assert "auth-token" not in {k.lower() for k in headers}
    recent = c.get_recent_carbon_intensity()
    assert len(recent) == 25 and all(t.tzinfo is not None for t in recent)
    assert all(v == intensity_of(t) for t, v in recent.items())
    keyed = ElectrictyMapsClient("DE", False, "lifecycle", api_base=fake.base + "/v3",
                                 api_key="k3y", cache_dir=False)
    keyed.get_current_carbon_intensity()
    path, headers = fake.requests[-1]
    assert path.endswith("latest?zone=DE&disableEstimations=True&emissionFactorType=lifecycle")
    assert headers.get("auth-token") == "k3y"
    fake.mode = "notfound"
    with pytest.raises(ZeusCarbonIntensityNotFoundError, match="No recent data"):
        ElectrictyMapsClient("DE", api_base=fake.base + "/v3", cache_dir=False).get_current_carbon_intensity()
    with pytest.raises(ValueError, match="ZEUS_CARBON_LOCATION"):
        ElectrictyMapsClient()


def test_environment_configures_the_client(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("ZEUS_CARBON_API", fake.base + "/v3")
    monkeypatch.setenv("ZEUS_CARBON_API_KEY", "from-env")
    monkeypatch.setenv("ZEUS_CARBON_LOCATION", "FR")
    monkeypatch.setenv("ZEUS_CARBON_CACHE_DIR", str(tmp_path / "envcache"))
    c = ElectrictyMapsClient()
    c.get_current_carbon_intensity()
    path, headers = fake.requests[-1]
    assert "zone=FR" in path and headers.get("auth-token") == "from-env"
    assert list((tmp_path / "envcache" / "electricitymaps" / "FR" / "direct").glob("*.json"))
    monkeypatch.setenv("ZEUS_CARBON_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="ZEUS_CARBON_TIMEOUT='soon'"):
        ElectrictyMapsClient()


def test_disk_cache_is_shared_between_clients(fake, tmp_path):
    one = client(fake, tmp_path, update_period=timedelta(hours=1))
    first = one.get_current_carbon_intensity()
    files = list((tmp_path / "cache" / "electricitymaps").rglob("*.json"))
    assert len(files) == 1
    entry = json.loads(files[0].read_text())
    assert entry["carbonIntensity"] == first and entry["datetime"].endswith(":00:00Z")
    assert not list(files[0].parent.glob(".tmp-*"))  # written atomically, nothing left over
    two = client(fake, tmp_path, update_period=timedelta(hours=1))  # a new process's client
    assert two.get_current_carbon_intensity() == first
    assert len(fake.requests) == 1  # the second answer came from the disk


def test_window_spanning_intervals_uses_each_intervals_intensity(fake, tmp_path):
    monitor = CarbonEmissionMonitor(client(fake, tmp_path), gpu_indices=[0, 1])
    m = measure(monitor, 2.3)
    assert isinstance(m, CarbonEmissionMeasurement) and m.error is None
    assert_energy_measured(m)
    assert len(m.intervals) >= 3
    starts = [s for s, _, _ in m.intervals]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(rate == intensity_of(s) for s, _, rate in m.intervals)
    assert len({rate for _, _, rate in m.intervals}) >= 2  # the grid changed within the window
    for gpu in (0, 1):
        split = [e[gpu] for _, e, _ in m.intervals]
        assert sum(split) == pytest.approx(m.gpu_energy[gpu])
        expected = sum(e / 3.6e6 * rate for e, (_, _, rate) in zip(split, m.intervals))
        assert m.gpu_carbon_emission[gpu] == pytest.approx(expected)
        assert m.gpu_carbon_emission[gpu] > 0
    assert m.cpu_carbon_emission is None and m.dram_carbon_emission is None
    with pytest.raises(ValueError, match="does not exist"):
        monitor.end_window("w")
    monitor.close()


def test_window_longer_than_the_history_gets_its_grams(fake, tmp_path):
    """A window longer than the provider's history (here 5 intervals of 1 s, as the API's 24
    hours): each interval's intensity is looked up soon after it ends, so the first ones are not
    lost; with cache_dir=False only the client's memory holds them. The key is refused for the
    first 1.5 s: those intervals are asked again at the next boundaries, while still in the
    history."""
    fake.history_s = range(-4, 1)
    monitor = CarbonEmissionMonitor(client(fake, tmp_path, cache_dir=False), gpu_indices=[0, 1])
    fake.mode = "401"
    time.sleep(1.05 - time.time() % 1)  # begun just after a whole second: the boundaries are clear
    monitor.begin_window("w")
    time.sleep(1.5)
    refused = len(fake.requests)  # a boundary passed: its lookup was refused
    fake.mode = "ok"
    monitor.begin_window("inner")  # a second window at once, also longer than the history
    time.sleep(6.2)
    inner = monitor.end_window("inner")
    time.sleep(0.5)
    m = monitor.end_window("w")
    for w, at_least in ((m, 9), (inner, 7)):
        assert w.error is None, w.error
        assert_energy_measured(w)
        assert len(w.intervals) >= at_least
        assert all(rate == intensity_of(s) for s, _, rate in w.intervals)
        for gpu in (0, 1):
            expected = sum(e[gpu] / 3.6e6 * rate for _, e, rate in w.intervals)
            assert w.gpu_carbon_emission[gpu] == pytest.approx(expected) and expected > 0
    assert m.gpu_energy[0] > inner.gpu_energy[0]
    assert refused >= 1
    # About one request per interval: a round stops at a refusal; a hit caches the history.
    assert len(fake.requests) <= 2 * len(m.intervals)
    monitor.close()


@pytest.mark.parametrize("mode, match, status", [
    ("401", "API key was refused \\(HTTP 401\\)", 401),
    ("429", "rate limited \\(HTTP 429\\)", 429),
    ("slow", "no answer .* within 0.5 s", None),
])
def test_provider_failure_keeps_the_energy(fake, tmp_path, mode, match, status):
    fake.mode = mode
    c = client(fake, tmp_path)
    with pytest.raises(ZeusCarbonIntensityHTTPError, match=match) as e:
        c.get_current_carbon_intensity()
    assert e.value.status == status
    monitor = CarbonEmissionMonitor(c, gpu_indices=[0, 1])
    m = measure(monitor, 0.3)
    assert_energy_measured(m)
    assert m.gpu_carbon_emission is None  # never a 0
    assert re_search(match, m.error)
    if mode == "429":
        assert len(fake.requests) == 1  # the back-off: the monitor's lookup did not ask again
    monitor.close()


def re_search(pattern: str, text: str) -> bool:
    import re

    return re.search(pattern, text) is not None


def test_no_server_at_all_keeps_the_energy(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    c = ElectrictyMapsClient((1.0, 2.0), api_base=f"http://127.0.0.1:{port}/v3", cache_dir=False, timeout=0.5)
    m = measure(CarbonEmissionMonitor(c, gpu_indices=[0, 1]), 0.3)
    assert_energy_measured(m)
    assert m.gpu_carbon_emission is None and "cannot reach" in m.error
    assert all(math.isnan(rate) for _, _, rate in m.intervals)


def test_openei_prices_and_cost_monitor(fake, tmp_path):
    c = OpenEIClient((42.2776, -83.7409), LABEL, api_base=fake.base, api_key="secret",
                     cache_dir=tmp_path / "cache")
    prices = c.get_current_electricity_prices()
    path, _ = fake.requests[0]
    assert path == ("/utility_rates?version=latest&format=json&api_key=secret&lat=42.2776"
                    "&lon=-83.7409&radius=0&detail=full&sector=Residential")
    assert prices["energy_rate_structure"][0] == [{"rate": 0.1056, "adj": 0.029681}]
    saturday_3am = datetime(2024, 11, 30, 3, tzinfo=timezone.utc)
    tuesday_3am = datetime(2024, 11, 26, 3, tzinfo=timezone.utc)
    assert rate_at(prices, saturday_3am) == 0.05 and rate_at(prices, tuesday_3am) == 0.2
    monitor = EnergyCostMonitor(c, gpu_indices=[0, 1])
    m = measure(monitor, 0.3)
    assert_energy_measured(m)
    assert m.error is None and len(fake.requests) == 1  # the tariff came from the cache
    for gpu in (0, 1):
        expected = sum(e[gpu] / 3.6e6 * rate_at(prices, s) for s, e, _ in m.intervals)
        assert m.gpu_energy_cost[gpu] == pytest.approx(expected) and expected > 0
    monitor.close()
    fake.mode = "notfound"
    with pytest.raises(ZeusElectricityPriceNotFoundError, match="No rates found"):
        OpenEIClient((42.0, -83.0), LABEL, api_base=fake.base, api_key="k", cache_dir=False).get_current_electricity_prices()
    fake.mode = "401"
    bad = OpenEIClient((42.0, -83.0), LABEL, api_base=fake.base, api_key="bad", cache_dir=False)
    with pytest.raises(ZeusElectricityPriceHTTPError, match="HTTP 401"):
        bad.get_current_electricity_prices()
    m = measure(EnergyCostMonitor(bad, gpu_indices=[0, 1]), 0.3)
    assert_energy_measured(m)
    assert m.gpu_energy_cost is None and "401" in m.error


def test_cost_monitor_fetches_a_failed_tariff_again_at_a_boundary(fake):
    """The tariff refused at the window's begin is fetched again at the next interval boundary
    (here 1 s instead of the hour), so a window ending while the API refuses again is priced."""
    fake.mode = "401"
    c = OpenEIClient((42.2776, -83.7409), LABEL, api_base=fake.base, api_key="k", cache_dir=False)
    monitor = EnergyCostMonitor(c, gpu_indices=[0, 1])
    monitor._period = timedelta(seconds=1)  # (the hour, shortened: rates stay per UTC hour)
    time.sleep(1.05 - time.time() % 1)  # begun just after a whole second: the boundary is clear
    monitor.begin_window("w")
    fake.mode = "ok"
    time.sleep(1.15)  # a boundary passed
    fake.mode = "401"
    m = monitor.end_window("w")
    assert_energy_measured(m)
    assert m.error is None and len(fake.requests) == 2, (m.error, fake.requests)
    assert all(cost > 0 for cost in m.gpu_energy_cost.values())
    monitor.close()


def test_get_ip_lat_long(fake, monkeypatch):
    monkeypatch.setenv("ZEUS_IPINFO_URL", fake.base + "/json")
    assert get_ip_lat_long() == (42.2776, -83.7409)
    fake.mode = "401"
    with pytest.raises(ConnectionError, match="HTTP 401"):
        get_ip_lat_long()


PROFILE = {"measurements": [
    {"power_limit": 300, "energy": 100.0, "time": 1.0},
    {"power_limit": 250, "energy": 90.0, "time": 1.05},
    {"power_limit": 200, "energy": 80.0, "time": 1.2},
    {"power_limit": 150, "energy": 75.0, "time": 1.5},
    {"power_limit": 100, "energy": 72.0, "time": 2.2},
]}


def test_carbon_cost_selector_shifts_a_recurring_jobs_limit(fake, tmp_path, nvml_sets):
    """Each run of a recurring job loads the saved profile; the limit it applies follows the
    grid: ZeusCost's 300 W at the reference intensity, 200 W at 10x it, 300 W when clean."""
    from zeus.monitor import ZeusMonitor
    from zeus.optimizer.carbon import CarbonCost
    from zeus.optimizer.power_limit import Done, GlobalPowerLimitOptimizer

    prof = tmp_path / "profile.json"
    prof.write_text(json.dumps(PROFILE))
    monitor = ZeusMonitor(gpu_indices=[0])
    grid = {"now": 100.0}
    chosen = {}
    for intensity in (100.0, 1000.0, 10.0):
        grid["now"] = intensity
        selector = CarbonCost(0.5, lambda: grid["now"], reference=100.0)
        plo = GlobalPowerLimitOptimizer(monitor, selector, profile_path=str(prof))
        assert isinstance(plo.state, Done)
        chosen[intensity] = plo.state.optimal_power_limit // 1000
        assert nvml_sets()[-1] == (0, chosen[intensity] * 1000)
        assert selector.last_intensity == intensity
        plo.close()
    assert chosen == {100.0: 300, 1000.0: 200, 10.0: 300}
    # A provider as the feed, the reference its 24-hour mean; a failing feed falls back to
    # ZeusCost and says why.
    provider = client(fake, tmp_path, update_period=timedelta(hours=1))
    sel = CarbonCost(0.5, provider)
    from zeus.optimizer.power_limit import PowerLimitMeasurement as PLM

    rows = [PLM(m["power_limit"], m["energy"], m["time"]) for m in PROFILE["measurements"]]
    assert sel.select(rows) in (300, 250, 200) and sel.last_error is None
    fake.mode = "401"
    failing = CarbonCost(0.5, client(fake, tmp_path / "other"), reference=100.0)
    assert failing.select(rows) == 300 and "401" in failing.last_error
    with pytest.raises(ZeusCarbonIntensityHTTPError):
        CarbonCost(0.5, client(fake, tmp_path / "x"), reference=1.0, fallback=False).select(rows)


def run_zeus(args, env, timeout=60):
    import os
    import subprocess

    from conftest import BUILD

    full = dict(os.environ)
    full.update(env)
    return subprocess.run([str(BUILD / "zeus"), *args], env=full, capture_output=True, text=True,
                          timeout=timeout)


def test_cli_monitor_energy_carbon(fake, tmp_path):
    """`zeus monitor energy --carbon` (C): each 1 s interval (ZEUS_CARBON_TEST_PERIOD_S) priced at
    its own intensity through the C client, the cache written in the Python client's layout, a
    flat price; a refused key keeps the energy and says why."""
    env = {"ZEUS_CARBON_TEST_PERIOD_S": "1", "ZEUS_CARBON_CACHE_DIR": str(tmp_path / "cache"),
           "ZEUS_CARBON_API_KEY": "k3y"}
    args = ["monitor", "energy", "--gpu-indices", "0", "1", "--json", "--carbon",
            "--location", "42.2776,-83.7409", "--carbon-api", fake.base + "/v3", "--price", "0.25",
            "--", "sleep", "2.3"]
    out = run_zeus(args, env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    carbon = doc["carbon"]
    assert carbon["error"] is None and doc["exit_code"] == 0
    assert len(carbon["intervals"]) >= 3
    for item in carbon["intervals"]:
        start = datetime.fromtimestamp(item["start"], timezone.utc)
        assert item["g_per_kwh"] == intensity_of(start)
    assert len({i["g_per_kwh"] for i in carbon["intervals"]}) >= 2
    energy = {g["index"]: g["energy_j"] for g in doc["gpus"]}
    assert all(e > 0 for e in energy.values())
    rates = [i["g_per_kwh"] for i in carbon["intervals"]]
    for gpu in ("0", "1"):  # between the dirtiest and the cleanest interval's conversion
        e = energy[int(gpu)] / 3.6e6
        assert e * min(rates) * 0.999 <= carbon["gpus"][gpu] <= e * max(rates) * 1.001
    assert carbon["total_g"] == pytest.approx(sum(carbon["gpus"].values()))
    assert carbon["cost"] == pytest.approx(sum(energy.values()) / 3.6e6 * 0.25)
    path, headers = fake.requests[0]
    assert path.startswith("/v3/carbon-intensity/history?lat=42.2776&lon=-83.7409"
                           "&disableEstimations=False&emissionFactorType=direct")
    assert headers.get("auth-token") == "k3y"
    cached = list((tmp_path / "cache" / "electricitymaps" / "42.2776,-83.7409" / "direct").glob("*.json"))
    assert len(cached) >= 20  # every hour (here: second) of the history, for the next job
    # The Python client reads what the C command wrote, without asking the server.
    asked = len(fake.requests)
    py = ElectrictyMapsClient((42.2776, -83.7409), True, api_base=fake.base + "/v3",
                              cache_dir=tmp_path / "cache", update_period=timedelta(seconds=1))
    first = datetime.fromtimestamp(carbon["intervals"][0]["start"], timezone.utc)
    assert py.carbon_intensity_at([first]) == {first: intensity_of(first)}
    assert len(fake.requests) == asked
    # Text output, and a refused key: the energy still comes, the reason is said, exit 1.
    fake.mode = "401"
    env["ZEUS_CARBON_CACHE_DIR"] = str(tmp_path / "empty")
    out = run_zeus([a for a in args if a != "--json"], env)
    assert out.returncode == 1
    assert "Measurement(time=" in out.stdout and "Carbon: not known" in out.stdout
    assert "the API key was refused (HTTP 401)" in out.stderr and "k3y" not in out.stderr
    quick = ["monitor", "energy", "--gpu-indices", "0", "--carbon", "--location", "DE",
             "--carbon-api", fake.base + "/v3", "--", "sleep", "0.3"]
    for mode, said in (("429", "rate limited (HTTP 429)"), ("slow", "no answer from http://")):
        fake.mode = mode
        out = run_zeus(quick, dict(env, ZEUS_CARBON_TIMEOUT="0.5"))
        assert out.returncode == 1 and said in out.stderr, out.stderr
        assert "Measurement(time=" in out.stdout and "Carbon: not known" in out.stdout
    out = run_zeus(["monitor", "energy", "--price", "1", "--", "true"], env)
    assert out.returncode == 2 and "go with --carbon" in out.stderr


def test_cli_run_longer_than_the_history_gets_its_grams(fake, tmp_path):
    """`zeus monitor energy --carbon` over a run longer than the provider's history (3 intervals
    of 1 s, as the API's 24 hours): every interval's intensity is had, none is 'not known'."""
    fake.history_s = range(-2, 1)
    env = {"ZEUS_CARBON_TEST_PERIOD_S": "1", "ZEUS_CARBON_CACHE_DIR": str(tmp_path / "cache")}
    out = run_zeus(["monitor", "energy", "--gpu-indices", "0", "--json", "--carbon", "--location",
                    "DE", "--carbon-api", fake.base + "/v3", "--", "sleep", "5.2"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    carbon = doc["carbon"]
    assert carbon["error"] is None and len(carbon["intervals"]) >= 6
    for item in carbon["intervals"]:
        assert item["g_per_kwh"] == intensity_of(datetime.fromtimestamp(item["start"], timezone.utc))
    energy = doc["gpus"][0]["energy_j"] / 3.6e6
    rates = [i["g_per_kwh"] for i in carbon["intervals"]]
    assert energy * min(rates) * 0.999 <= carbon["gpus"]["0"] <= energy * max(rates) * 1.001
    assert len(fake.requests) <= len(rates) + 1  # one request per interval at most


def scrape(port: int) -> dict[str, list[tuple[str, float]]]:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            head, value = line.rsplit(" ", 1)
            name = head.split("{", 1)[0]
            out.setdefault(name, []).append((head, float(value)))
    return out


def start_exporter(fake, tmp_path, env_extra):
    import os
    import subprocess
    import threading

    from conftest import BUILD

    env = dict(os.environ)
    env.update({"ZEUS_CARBON_TEST_PERIOD_S": "1", "ZEUS_CARBON_CACHE_DIR": str(tmp_path / "c")})
    env.update(env_extra)
    p = subprocess.Popen([str(BUILD / "zeus-exporter"), "--listen", "127.0.0.1:0", "--period",
                          "0.2", "--carbon", "--location", "DE", "--carbon-api",
                          fake.base + "/v3"], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line, p.early = "", ""
    # Not select() on the pipe: readline() may already hold the address line in its buffer
    # while the pipe has nothing more (CI saw "printed no address" that way). A timer ends a
    # silent exporter instead, and readline() then sees the end.
    timer = threading.Timer(20, p.kill)
    timer.start()
    try:
        while "serving http://" not in line:  # warnings (a refused key) may come first
            line = p.stderr.readline()
            assert line, "the exporter exited, or printed no address in 20 s: " + p.early
            p.early += line
    finally:
        timer.cancel()
    return p, int(line.split("serving http://127.0.0.1:")[1].split("/")[0])


def stop(p) -> str:
    p.terminate()
    try:
        p.wait(timeout=10)
    except Exception:  # noqa: BLE001
        p.kill()
        p.wait()
    err = p.early + p.stderr.read()
    p.stderr.close()
    return err


def test_exporter_publishes_intensity_and_grams(fake, tmp_path):
    p, port = start_exporter(fake, tmp_path, {})
    try:
        time.sleep(2.2)
        first = scrape(port)
        time.sleep(1.2)
        second = scrape(port)
    finally:
        stop(p)
    (intensity,) = [v for _, v in second["zeus_grid_carbon_intensity_grams_per_kwh"]]
    assert intensity in {100.0 + 50.0 * k for k in range(7)}
    grams1 = dict(first["zeus_gpu_carbon_grams_total"])
    grams2 = dict(second["zeus_gpu_carbon_grams_total"])
    assert len(grams2) == 4 and all(v > 0 for v in grams2.values())
    assert all(grams2[k] > grams1[k] for k in grams2)  # a counter that grows with the energy
    assert all(v == 0 for _, v in second["zeus_gpu_carbon_pending_joules"])
    assert second["zeus_carbon_lookup_errors_total"] == [("zeus_carbon_lookup_errors_total", 0.0)]
    assert any("zone=DE" in path for path, _ in fake.requests)


def test_exporter_over_https(fake_tls, tmp_path):
    """The exporter reaches an https:// API (libcurl, loaded at run time) and verifies its
    certificate: with the test's CA in SSL_CERT_FILE it publishes the intensity; with the
    system's CAs only it refuses the self-signed server, says so, and keeps the energy pending."""
    p, port = start_exporter(fake_tls, tmp_path, {"SSL_CERT_FILE": str(tmp_path / "cert.pem")})
    try:
        time.sleep(2.2)
        m = scrape(port)
    finally:
        stop(p)
    (intensity,) = [v for _, v in m["zeus_grid_carbon_intensity_grams_per_kwh"]]
    assert intensity in {100.0 + 50.0 * k for k in range(7)}
    assert all(v > 0 for _, v in m["zeus_gpu_carbon_grams_total"])
    assert any("zone=DE" in path for path, _ in fake_tls.requests)

    fake_tls.requests.clear()
    p, port = start_exporter(fake_tls, tmp_path, {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})
    try:
        time.sleep(1.0)
        m = scrape(port)
    finally:
        err = stop(p)
    assert "zeus_grid_carbon_intensity_grams_per_kwh" not in m
    assert all(v > 0 for _, v in m["zeus_gpu_carbon_pending_joules"])
    assert m["zeus_carbon_lookup_errors_total"][0][1] >= 1
    assert "certificate" in err.lower() and "127.0.0.1" in err, err
    assert not fake_tls.requests  # no request got through an unverified connection


def test_exporter_keeps_energy_pending_on_a_refused_key(fake, tmp_path):
    fake.mode = "401"
    p, port = start_exporter(fake, tmp_path, {})
    try:
        time.sleep(1.0)
        m = scrape(port)
    finally:
        err = stop(p)
    assert "zeus_grid_carbon_intensity_grams_per_kwh" not in m  # unknown, not 0
    assert all(v == 0 for _, v in m["zeus_gpu_carbon_grams_total"])
    assert all(v > 0 for _, v in m["zeus_gpu_carbon_pending_joules"])
    assert m["zeus_carbon_lookup_errors_total"][0][1] >= 1
    assert all(v > 0 for _, v in m["zeus_gpu_energy_joules_total"])  # the energy is exported
    assert "the API key was refused (HTTP 401)" in err
