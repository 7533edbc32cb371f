"""A client written against the original zeusd's documented API (zeus/utils/zeusd.py's
requests, docs/spec/zeusd-api.md section 12): plain HTTP/1.1 over the Unix socket with the
standard library only. Usage: zeusd_client.py SOCKET_PATH; prints "python client: ok"."""
import http.client
import json
import os
import socket
import sys
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class ZeusdError(Exception):
    pass


class ZeusdClient:
    def __init__(self, sock_path, token=None):
        self.sock_path = sock_path
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        d = self._json("GET", "/discover", "discover")
        for g in d["gpus"]:
            for key in ("id", "name", "pci_address", "cumulative_energy_available"):
                if key not in g:
                    raise ZeusdError(f"daemon too old: GPU entry lacks {key}")
        for c in d["cpus"]:
            assert "id" in c and "dram_available" in c
        self.gpus = d["gpus"]
        self.cpus = d["cpus"]
        self.groups = d["enabled_api_groups"]
        self.auth_required = d["auth_required"]

    def _request(self, method, path, op):
        conn = UnixHTTPConnection(self.sock_path)
        conn.request(method, path, headers=self.headers)
        resp = conn.getresponse()
        body = resp.read().decode()
        conn.close()
        if resp.status != 200:
            raise ZeusdError(f"Failed to {op}: {body}")
        return body

    def _json(self, method, path, op):
        return json.loads(self._request(method, path, op))

    def set_power_limit(self, gpu_id, power_limit_mw, block=True):
        self._request("POST", f"/gpu/set_power_limit?gpu_ids={gpu_id}"
                      f"&power_limit_mw={power_limit_mw}&block={str(block).lower()}",
                      "set power limit")

    def set_persistence_mode(self, gpu_id, enabled, block=True):
        self._request("POST", f"/gpu/set_persistence_mode?gpu_ids={gpu_id}"
                      f"&enabled={str(enabled).lower()}&block={str(block).lower()}",
                      "set persistence mode")

    def get_power_limit(self, gpu_ids):
        ids = ",".join(map(str, gpu_ids))
        return self._json("GET", f"/gpu/get_power_limit?gpu_ids={ids}", "get power limit")

    def get_gpu_power(self, gpu_ids=None):
        q = "" if gpu_ids is None else "?gpu_ids=" + ",".join(map(str, gpu_ids))
        return self._json("GET", "/gpu/get_power" + q, "get GPU power")

    def get_gpu_energy(self, gpu_ids):
        ids = ",".join(map(str, gpu_ids))
        return self._json("GET", f"/gpu/get_cumulative_energy?gpu_ids={ids}", "get GPU energy")

    def get_cpu_energy(self, cpu_id):
        return self._json("GET", f"/cpu/get_cumulative_energy?cpu=true&dram=true"
                          f"&cpu_ids={cpu_id}", "get CPU energy")

    def get_time(self):
        return self._json("GET", "/time", "get time")["timestamp_ms"]


def main():
    sock = sys.argv[1]
    c = ZeusdClient(sock)
    assert len(c.gpus) == 4 and c.gpus[0]["name"] == "NVIDIA A40", c.gpus
    assert "gpu-control" in c.groups and not c.auth_required
    limits = c.get_power_limit([0, 1])
    assert limits == {"0": {"power_limit_mw": 300000}, "1": {"power_limit_mw": 300000}}, limits
    # This process holds a lease on GPU 1 while it lives.
    c.set_power_limit(1, 175000)
    assert c.get_power_limit([1])["1"]["power_limit_mw"] == 175000
    if os.environ.get("ZEUS_TEST_VENDOR") != "amd":  # AMD GPUs have no persistence mode
        c.set_persistence_mode(1, True)
    p = c.get_gpu_power()
    assert set(p["power_mw"]) == {"0", "1", "2", "3"} and p["timestamp_ms"] > 0
    e = c.get_gpu_energy([0])
    assert e["0"]["energy_mj"] >= 0
    cpu = c.get_cpu_energy(0)
    assert cpu["0"]["cpu_energy_uj"] is not None
    offset = c.get_time() - time.time() * 1000
    assert abs(offset) < 5000, offset
    try:
        c.set_power_limit(0, 1)
        raise AssertionError("an out-of-range limit was accepted")
    except ZeusdError as err:
        assert "Failed to set power limit:" in str(err) and '"errors"' in str(err), err
    try:
        c.get_power_limit([9])
        raise AssertionError("GPU 9 was accepted")
    except ZeusdError as err:
        assert "GPU 9 not found" in str(err), err
    # A power stream, read as PowerStreamingClient does (blank-line separated, "data: " lines).
    conn = UnixHTTPConnection(sock)
    conn.request("GET", "/gpu/stream_power?gpu_ids=0,1")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    seen = set()
    deadline = time.time() + 5
    while len(seen) < 2 and time.time() < deadline:
        line = resp.fp.readline().decode()
        if line.startswith("data: "):
            ev = json.loads(line[6:])
            assert set(ev) == {"timestamp_ms", "gpu_id", "power_mw"}, ev
            seen.add(ev["gpu_id"])
    conn.close()
    assert seen == {0, 1}, seen
    print("python client: ok")


if __name__ == "__main__":
    main()
