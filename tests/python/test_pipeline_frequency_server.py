"""`zeus pipeline-frequency serve` (zeus-pfo) with real clients: ours at both import paths and the
original's (zeus-ml 0.8.2's PerseusOptimizer from PyPI, in its own venv), each rank a
torch.distributed (gloo) process on its own fake-NVML GPU, plus the wire protocol's error cases,
the 3D scheduler, dumps and idle eviction."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ZEUS_BUILD_DIR", ROOT / "build")).resolve()
PFO = BUILD / "zeus-pfo"
ZEUS = BUILD / "zeus"
FAKE_DIR = BUILD / "tests" / "fakes" / "nvml"

SOLUTION = """[
[('forward', 1410), ('forward', 1200), ('backward', 1410), ('forward', 1200), ('backward', 900), ('backward', 900)],
[('forward', 1200), ('backward', 1200), ('forward', 1410), ('backward', 1410), ('forward', 1200), ('backward', 1200)],
]
# Iteration 7 cost change: 0.5
# Iteration 7 total cost: 12.0
# Iteration 7 total cost with P2P: 40.0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, solution: str = SOLUTION, env: dict | None = None,
                 args: tuple = ()) -> None:
        self.sol = tmp / "freqs_pipeline_00007.py"
        self.sol.write_text(solution)
        self.dump = tmp / "dump"
        full = dict(os.environ)
        full.update({"ZEUS_PFO_SCHEDULER_ARGS": json.dumps({"solution_path": str(self.sol)}),
                     "ZEUS_PFO_DUMP_DIR": str(self.dump), "ZEUS_PFO_LOG_LEVEL": "INFO"})
        full.update(env or {})
        self.proc = subprocess.Popen([str(ZEUS), "pipeline-frequency", "serve", "--port", "0",
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=full)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line + self.proc.stderr.read()
        self.url = line.split()[-1]

    def close(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.close()


def call(method: str, url: str, body=None, timeout=10):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


OUR_WORKER = r"""
import json, sys
import torch.distributed as dist
rank, world, url, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
if rank % 2:  # both import paths in one job: the v0.8 name on odd ranks
    from zeus.optimizer.perseus import PerseusOptimizer as Opt
else:
    from zeus.optimizer.pipeline_frequency import PipelineFrequencyOptimizer as Opt
opt = Opt(rank, 0, rank, 0, rank, 1, world, 1, world, url, "toy+1f1b")
names = [n for n, _ in opt.freq_schedule]
for _ in range(2):
    opt.on_step_begin()
    for n in names:
        opt.on_instruction_begin(n)
        opt.on_instruction_end(n)
    opt.on_step_end()
errors = []
opt.on_step_begin()
opt.on_instruction_begin(names[0])
try:
    opt.on_step_end()
except RuntimeError as e:
    errors.append("more")
try:
    opt.on_instruction_begin("sideways")
except RuntimeError as e:
    errors.append("name")
opt.close()
print(json.dumps({"job": opt.job_id, "schedule": opt.freq_schedule, "errors": errors}))
dist.destroy_process_group()
"""

ORIGINAL_WORKER = r"""
import json, sys
import torch
import torch.distributed as dist
torch.cuda.set_device = lambda *a, **k: None  # CPU-only: no CUDA device to select
import zeus.optimizer.perseus.optimizer as original
assert "zeus-ml-venv" in original.__file__, original.__file__
original.cuda_sync = lambda *a, **k: None
rank, world, url, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
opt = original.PerseusOptimizer(rank, 0, rank, 0, rank, 1, world, 1, world, url)
opt.on_step_begin()
for name, _ in opt.freq_schedule:
    opt.on_instruction_begin(name)
    opt.on_instruction_end(name)
opt.on_step_end()
opt.frequency_controller.end()
print(json.dumps({"job": opt.job_id, "schedule": opt.freq_schedule}))
dist.destroy_process_group()
"""


def run_ranks(tmp: Path, script: str, world: int, url: str, extra: list[str], env: dict,
              python: str = sys.executable):
    port = str(free_port())
    (tmp / "worker.py").write_text(script)
    procs = [subprocess.Popen([python, str(tmp / "worker.py"), str(r), str(world), url, port,
                               *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for r in range(world)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def expected_locks(plan: list[int], iterations: int, fmax: int = 1740) -> list[int]:
    """The controller's lock calls: the highest clock first, then every change."""
    calls, cur = [fmax], fmax
    for f in plan * iterations:
        if f != cur:
            calls.append(f)
            cur = f
    return calls


def test_our_client_on_fake_gpus(server, tmp_path):
    log = tmp_path / "nvml.log"
    env = dict(os.environ, ZEUS_FAKE_NVML_LOG=str(log),
               ZEUS_FAKE_NVML_STATE=str(tmp_path / "nvml-state"))
    outs = run_ranks(tmp_path, OUR_WORKER, 2, server.url, [], env)
    assert outs[0]["job"] == outs[1]["job"]
    assert outs[0]["job"].endswith("+dp1+pp2+tp1+PointSolution+toy+1f1b")
    rows = [[list(p) for p in stage] for stage in
            eval(SOLUTION.split("]\n#")[0] + "]")]  # noqa: S307 - our own literal
    for r in range(2):
        assert outs[r]["schedule"] == rows[r]
        assert outs[r]["errors"] == ["more", "name"]
    calls = [line.split() for line in log.read_text().splitlines()]
    for r in range(2):
        mine = [int(c[2]) for c in calls if c[0] == "nvmlDeviceSetGpuLockedClocks" and c[1] == str(r)]
        plan = [f for _, f in rows[r]]
        # two iterations, then the first instruction of the third
        assert mine == expected_locks(plan, 2) + ([plan[0]] if plan[0] != plan[-1] else [])
        assert ["nvmlDeviceResetGpuLockedClocks", str(r)] in [c[:2] for c in calls]
    job_dir = server.dump / outs[0]["job"]
    ranks = json.loads((job_dir / "ranks.json").read_text())
    assert [x["rank"] for x in ranks] == [0, 1]
    assert ranks[0]["available_frequencies"][0] == 1740
    assert len(ranks[0]["available_frequencies"]) == 103


def test_original_client_from_pypi(server, tmp_path):
    zeus_ml = subprocess.run([str(ROOT / "scripts" / "zeus-ml-env.sh"), str(BUILD)],
                             capture_output=True, text=True, check=True).stdout.strip()
    site = next(Path(zeus_ml).parent.parent.glob("lib/python3*/site-packages"))
    env = dict(os.environ, PYTHONPATH=str(site), LD_LIBRARY_PATH=str(FAKE_DIR),
               ZEUS_FAKE_NVML_STATE=str(tmp_path / "nvml-state"),
               ZEUS_FAKE_NVML_LOG=str(tmp_path / "nvml.log"))
    # our venv's torch with the original zeus package, httpx and pydantic ahead of ours
    outs = run_ranks(tmp_path, ORIGINAL_WORKER, 2, server.url, [], env)
    assert outs[0]["job"] == outs[1]["job"]
    rows = [[list(p) for p in stage] for stage in eval(SOLUTION.split("]\n#")[0] + "]")]  # noqa: S307
    assert [o["schedule"] for o in outs] == rows


def test_errors_on_the_wire(server):
    u = server.url
    code, body = call("POST", u + "/register_job",
                      {"pp_degree": 2, "dp_degree": 1, "tp_degree": 1, "world_size": 3})
    assert code == 422 and json.loads(body)["detail"][0]["type"] == "value_error"
    code, body = call("POST", u + "/register_job", {"pp_degree": 2, "dp_degree": 1,
                                                     "tp_degree": 1, "world_size": 2,
                                                     "job_id": "mine"})
    assert code == 422 and json.loads(body)["detail"][0]["loc"] == ["body", "job_id"]
    code, body = call("POST", u + "/register_job", {"pp_degree": 0, "dp_degree": 1,
                                                     "tp_degree": 1, "world_size": 0})
    assert code == 422 and "greater than or equal to 1" in body
    code, body = call("POST", u + "/register_job", {"dp_degree": 1, "tp_degree": 1,
                                                     "world_size": 2})
    assert code == 422 and json.loads(body)["detail"][0]["msg"] == "field required"
    code, job = call("POST", u + "/register_job", {"pp_degree": 2, "dp_degree": 1,
                                                    "tp_degree": 1, "world_size": 2})
    assert code == 200
    job = json.loads(job)
    code, body = call("GET", f"{u}/schedule/{job}")
    assert code == 422 and json.loads(body)["detail"][0]["loc"] == ["query", "rank"]
    code, body = call("GET", f"{u}/schedule/{job}?rank=x")
    assert code == 422 and "valid integer" in body
    assert call("GET", f"{u}/schedule/nosuchjob?rank=0") == (500, "Internal Server Error")
    assert call("POST", f"{u}/register_rank/nosuchjob",
                {"rank": 0, "dp_rank": 0, "pp_rank": 0, "tp_rank": 0,
                 "available_frequencies": [1]})[0] == 500
    assert call("GET", u + "/info")[0] == 404
    result = {"rank": 0, "iter_time": [1.0], "iter_energy": [2.0]}
    assert call("POST", f"{u}/result/{job}", result) == (200, "null")
    assert call("POST", f"{u}/result/{job}", result) == (200, "null")
    assert call("POST", f"{u}/result/{job}", result)[0] == 500  # more than world_size waiting
    code, body = call("POST", f"{u}/result/{job}", {"rank": 0, "iter_time": "x",
                                                     "iter_energy": []})
    assert code == 422


def test_bad_solution_file_reaches_every_rank(tmp_path):
    s = Server(tmp_path, solution="[\n[('forward', 1410)],\n]\n")  # one row, two ranks
    try:
        code, job = call("POST", s.url + "/register_job", {"pp_degree": 2, "dp_degree": 1,
                                                            "tp_degree": 1, "world_size": 2})
        job = json.loads(job)
        for r in range(2):
            call("POST", f"{s.url}/register_rank/{job}",
                 {"rank": r, "dp_rank": 0, "pp_rank": r, "tp_rank": 0,
                  "available_frequencies": [1410]})
        code, body = call("GET", f"{s.url}/schedule/{job}?rank=0")
        assert code == 500 and "RuntimeError" in json.loads(body)["detail"]
        assert "1 schedules for a world size of 2" in body
    finally:
        s.close()


def test_point_solution_3d_and_dumps(tmp_path):
    s = Server(tmp_path, env={"ZEUS_PFO_SCHEDULER": "PointSolution3D"})
    try:
        code, job = call("POST", s.url + "/register_job", {"pp_degree": 2, "dp_degree": 2,
                                                            "tp_degree": 1, "world_size": 4,
                                                            "job_metadata": "3d"})
        job = json.loads(job)
        assert "+dp2+pp2+tp1+PointSolution3D+3d" in job
        # global rank = dp_rank * pp + pp_rank, registered out of order
        for r in (3, 0, 2, 1):
            call("POST", f"{s.url}/register_rank/{job}",
                 {"rank": r, "dp_rank": r // 2, "pp_rank": r % 2, "tp_rank": 0,
                  "available_frequencies": [1410, 1200]})
        import concurrent.futures as cf
        with cf.ThreadPoolExecutor(4) as ex:  # the long poll answers when all four asked
            futs = [ex.submit(call, "GET", f"{s.url}/schedule/{job}?rank={r}") for r in range(4)]
            got = [json.loads(f.result()[1]) for f in futs]
        rows = eval(SOLUTION.split("]\n#")[0] + "]")  # noqa: S307
        for r in range(4):
            assert got[r]["rank"] == r
            assert [tuple(p) for p in got[r]["frequencies"]] == rows[r % 2]
        for r in range(4):
            assert call("POST", f"{s.url}/result/{job}",
                        {"rank": r, "iter_time": [1.0 + r], "iter_energy": [2.0]})[0] == 200
        d = s.dump / job
        for _ in range(50):
            if (d / "0.sched.json").exists():
                break
            time.sleep(0.05)
        assert [x["rank"] for x in json.loads((d / "ranks.json").read_text())] == [0, 1, 2, 3]
        assert [x["rank"] for x in json.loads((d / "0.prof.json").read_text())] == [0, 1, 2, 3]
        assert len(json.loads((d / "0.sched.json").read_text())) == 4
    finally:
        s.close()


def test_idle_jobs_are_evicted(tmp_path):
    s = Server(tmp_path, env={"ZEUS_PFO_MAX_JOB_IDLE_TIME": "0"}, args=("--sweep-interval", "0.2"))
    try:
        code, job = call("POST", s.url + "/register_job", {"pp_degree": 1, "dp_degree": 1,
                                                            "tp_degree": 1, "world_size": 1})
        job = json.loads(job)
        time.sleep(0.6)
        assert call("POST", f"{s.url}/register_rank/{job}",
                    {"rank": 0, "dp_rank": 0, "pp_rank": 0, "tp_rank": 0,
                     "available_frequencies": []})[0] == 500
    finally:
        assert "evicting job" in s.close()


def test_server_refuses_to_start_without_a_solution(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZEUS_PFO_", "PERSEUS_"))}
    r = subprocess.run([str(ZEUS), "pipeline-frequency", "serve", "--port", "0"], env=env,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "solution_path" in r.stderr
    env["PERSEUS_SCHEDULER_ARGS"] = '{"solution_path": "x.py", "other": 1}'
    r = subprocess.run([str(ZEUS), "pipeline-frequency", "serve", "--port", "0"], env=env,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "unexpected argument 'other'" in r.stderr


def test_online_scheduler_on_the_wire(tmp_path):
    """The Online scheduler round by round over plain HTTP: profiling schedules (one clock, the
    1F1B order, "profiling": true), results, the next clock, and the errors it names."""
    from concurrent.futures import ThreadPoolExecutor

    args = {"num_microbatches": 2, "frequencies": [1200, 1740]}
    s = Server(tmp_path, env={"ZEUS_PFO_SCHEDULER": "Online",
                              "ZEUS_PFO_SCHEDULER_ARGS": json.dumps(args)})
    try:
        def job(pp, dp=1):
            info = {"pp_degree": pp, "dp_degree": dp, "tp_degree": 1, "world_size": pp * dp}
            code, text = call("POST", s.url + "/register_job", info)
            assert code == 200, text
            jid = json.loads(text)
            for r in range(pp * dp):
                rank = {"rank": r, "dp_rank": r // pp, "pp_rank": r % pp, "tp_rank": 0,
                        "available_frequencies": [1740, 1200, 900]}
                assert call("POST", f"{s.url}/register_rank/{jid}", rank)[0] == 200
            return jid

        def schedules(jid, world):
            with ThreadPoolExecutor(world) as pool:  # the long poll answers when all asked
                got = list(pool.map(lambda r: call("GET", f"{s.url}/schedule/{jid}?rank={r}",
                                                   timeout=30), range(world)))
            return [(c, json.loads(t)) for c, t in got]

        def report(jid, rank, insts=("forward", "backward")):
            body = {"rank": rank, "iter_time": [1.0], "iter_energy": [2.0],
                    "time_breakdown": {i: [[0.01, 0.02]] for i in insts},
                    "energy_breakdown": {i: [[1.0, 2.0]] for i in insts}}
            assert call("POST", f"{s.url}/result/{jid}", body)[0] == 200

        jid = job(2)
        first = schedules(jid, 2)
        assert first[0] == (200, {"rank": 0, "profiling": True, "frequencies": [
            ["forward", 1740], ["forward", 1740], ["backward", 1740], ["backward", 1740]]})
        assert [n for n, _ in first[1][1]["frequencies"]] == ["forward", "backward", "forward",
                                                              "backward"]
        report(jid, 0)
        report(jid, 1)
        second = schedules(jid, 2)
        assert all(c == 200 and b["profiling"] and {f for _, f in b["frequencies"]} == {1200}
                   for c, b in second)
        report(jid, 0)
        report(jid, 1, insts=("forward",))  # no backward: the job fails, naming why
        for code, body in schedules(jid, 2):
            assert code == 400 and "rank 1 reported no backward times" in body["detail"], body
        # data parallelism: Online profiles pure pipelines only
        jid = job(2, dp=2)
        for code, body in schedules(jid, 4):
            assert code == 400 and "pure pipelines" in body["detail"], body
    finally:
        s.close()
