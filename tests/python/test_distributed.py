"""Distributed training for real: torchrun (and accelerate launch) with the Gloo backend on the
CPU, each rank with its own fake GPU (tests/python/dist_worker.py picks its fake NVML config and
state file by host and local rank), through a plain DDP loop and a Hugging Face Trainer; and two
"hosts": two network namespaces on a veth pair made here, ``torchrun --nnodes 2`` across them,
each host with its own fake GPUs and lock directory.

Checks: every rank chooses the same limit and holds the same profile, which is the sum (energy)
and max (time) of what the ranks measured; ZeusCost counts every rank's GPU; the whole-job window
counts each physical GPU once (every rank also watches its host's shared GPU); a rank killed
mid-profiling makes the others fail in bounded time with their GPUs put back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_python

from zeus.optimizer.power_limit import PowerLimitMeasurement, ZeusCost

WORKER = str(ROOT / "tests" / "python" / "dist_worker.py")


def make_host(root: Path, host: str, ranks: int) -> Path:
    """A host's fake GPUs: each local rank sees its own GPU (index 0; loads differ, so that
    alone the ranks would profile differently) and the host's shared GPU (index 1)."""
    d = root / host
    (d / "locks").mkdir(parents=True)
    host_gpus = []
    for r in range(ranks):
        own = {
            "name": "NVIDIA A40",
            "architecture": "ampere",
            "min_power_limit_w": 100,
            "max_power_limit_w": 300,
            "uuid": f"GPU-{host}{r:07d}-0000-4000-8000-000000000000",
            "load": 0.25 * r,
            "energy_update_ms": 1,
        }
        shared = dict(own, uuid=f"GPU-{host}fffffff-0000-4000-8000-000000000000", load=0.5)
        (d / f"gpu{r}.json").write_text(json.dumps({"gpus": [own, shared]}))
        host_gpus.append(own)
    # ZEUS_TEST_HOST_GPUS=1: every rank sees the host's GPUs, as one driver (one state file).
    (d / "all.json").write_text(json.dumps({"gpus": host_gpus}))
    return d


def limit_of(state: Path, gpu: int = 0) -> int:
    """A fake GPU's power limit in a state file (300 W if never changed)."""
    if not state.exists():
        return 300000
    for line in state.read_text().splitlines():
        parts = line.split()
        if parts[:2] == ["gpu", str(gpu)]:
            return int(parts[parts.index("limit_mw") + 1])
    return 300000


def worker_env(root: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({"ZEUS_TEST_DIST_DIR": str(root), "OMP_NUM_THREADS": "1"}, **extra)
    env.pop("ZEUS_FAKE_NVML_LOG", None)
    return env


def run_launcher(cmd: list[str], env: dict, timeout: float = 180) -> tuple[int, str, float]:
    """Runs a launcher in its own process group; kills the whole group on a hang."""
    t0 = time.monotonic()
    p = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"{cmd[:4]} hung for {timeout} s:\n{out[-4000:]}")
    return p.returncode, out, time.monotonic() - t0


def torchrun(nproc: int, mode: str, env: dict, *extra: str) -> tuple[int, str, float]:
    return run_launcher(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc_per_node={nproc}", *extra, WORKER, mode],
        env,
    )


def results(root: Path) -> dict[int, dict]:
    res = {}
    for f in root.glob("result-*.json"):
        r = json.loads(f.read_text())
        res[r["rank"]] = r
    return res


def check_profile(res: dict[int, dict], ranks: int, gpus_per_rank: int = 1) -> None:
    """Same limit and profile on every rank, made of the ranks' own measurements."""
    assert sorted(res) == list(range(ranks)), res.keys()
    first = res[0]
    assert first["optimal"] and first["state"].startswith("Done(")
    for r in res.values():
        assert r["optimal"] == first["optimal"]
        assert r["measurements"] == first["measurements"]
    # The collectives: 2 at creation, then (sum of 3, max of 1) per profiled window.
    windows = [[c for c in r["calls"] if len(c[0]) in (1, 3)] for r in res.values()]
    for r in res.values():
        assert r["calls"][0][1] == "sum" and r["calls"][0][2][:2] == [ranks, ranks]
        assert r["calls"][1][2] == [ranks, ranks]
    profile = first["measurements"]
    assert len(windows[0]) == 2 * len(profile)
    for w, (limit, energy, seconds) in enumerate(profile):
        sums = [calls[2 * w] for calls in windows]
        maxes = [calls[2 * w + 1] for calls in windows]
        assert all(c[1] == "sum" for c in sums) and all(c[1] == "max" for c in maxes)
        assert energy == pytest.approx(sum(c[0][0] for c in sums), rel=1e-12)
        assert seconds == max(c[0][0] for c in maxes)
        # Locally the ranks measured different energies (different loads).
        assert len({round(c[0][0], 6) for c in sums}) > 1
    # ZeusCost's world size counts every rank's GPU (the newest Zeus would use 1).
    ms = [PowerLimitMeasurement(*m) for m in profile]
    assert first["optimal"] == 1000 * ZeusCost(0.5, ranks * gpus_per_rank).select(ms)


def check_window(res: dict[int, dict], hosts: dict[str, list[int]]) -> None:
    """The whole-job window: every physical GPU once (the shared GPU of each host too)."""
    expected = 0.0
    for host, ranks in hosts.items():
        shared = f"GPU-{host}fffffff-0000-4000-8000-000000000000"
        expected += max(res[r]["window"]["readings"][shared] for r in ranks)
        for r in ranks:
            own = [u for u in res[r]["window"]["readings"] if u != shared]
            assert len(own) == 1
            expected += res[r]["window"]["readings"][own[0]]
    nranks = sum(len(r) for r in hosts.values())
    for r in res.values():
        job = r["window"]["job"]
        assert job["ranks"] == nranks
        assert job["gpu_count"] == nranks + len(hosts)
        assert job["duplicates"] == nranks - len(hosts)
        assert job["total_energy"] == pytest.approx(expected, rel=1e-12)
        assert sum(job["gpu_energy"].values()) == pytest.approx(expected, rel=1e-12)
        assert job["time"] == max(x["window"]["time"] for x in res.values())
        assert 0 <= job["clock_skew_bound"] < 5
        assert job["span"] >= job["time"] - job["clock_skew_bound"]


def check_restored(root: Path, hosts: dict[str, int], skip: tuple = ()) -> None:
    for host, n in hosts.items():
        for r in range(n):
            if (host, r) not in skip:
                assert limit_of(root / host / f"gpu{r}.state") == 300000, (host, r)


def test_plain_loop_then_zeus_data_loader_two_ranks(tmp_path):
    """A plain DDP loop with the optimizer and a job window, then (the same two ranks, one
    launch: torch takes seconds to start) ZeusDataLoader(distributed="dp") as `zeus run`
    starts it: rank 0 reports, the cost threshold stops every rank at the same epoch."""
    make_host(tmp_path, "a", 2)
    profile = tmp_path / "profile.json"
    logdir = tmp_path / "zeus_log"
    env = worker_env(
        tmp_path, ZEUS_TEST_PROFILE=str(profile), ZEUS_TEST_DATALOADER="1",
        ZEUS_TARGET_METRIC="2.0", ZEUS_LOG_DIR=str(logdir), ZEUS_JOB_ID="ddp",
        ZEUS_COST_THRESH="1e-9", ZEUS_PROFILE_PARAMS="1,2",
    )
    rc, out, _ = torchrun(2, "loop", env)
    assert rc == 0, out[-4000:]
    res = results(tmp_path)
    check_profile(res, 2)
    check_window(res, {"a": [0, 1]})
    assert all(r["restored_mw"] == 300000 for r in res.values())  # closed: GPUs put back
    # Every rank wrote the profile (atomically): one whole file, the ranks' profile.
    saved = json.loads(profile.read_text())["measurements"]
    assert [[m["power_limit"], m["energy"], m["time"]] for m in saved] == res[0]["measurements"]

    # ZeusDataLoader: profiling took the first epoch; at the next boundary the threshold
    # stops both ranks, together (the original stopped rank 0 alone; rank 1 then waited in
    # DDP's next collective until the 30 s time-out).
    dl = [res[r]["dataloader"] for r in (0, 1)]
    assert dl[0]["epochs"] == dl[1]["epochs"] == [0]
    assert dl[0]["stopped"] and dl[0]["stopped"] == dl[1]["stopped"]
    # Rank 0 alone reports: the result `zeus run` reads (global batch size 2 x 4) and the
    # power profile.
    result = json.loads((logdir / "ddp+bs8.train.json").read_text())
    assert result["reached"] is False and result["num_epochs"] == 1
    assert result["energy"] == pytest.approx(dl[0]["stopped"]["energy"])
    assert sorted(p.name for p in logdir.iterdir()) == ["bs8.power.json", "ddp+bs8.train.json"]


def test_a_killed_rank_fails_the_others_cleanly(tmp_path):
    make_host(tmp_path, "a", 4)
    # Rank 1 SIGKILLs itself at step 6: the 250 W limit is being profiled.
    rc, out, took = torchrun(4, "kill", worker_env(tmp_path, ZEUS_TEST_KILL_AT="6"))
    assert rc != 0
    assert "KILLING" in out
    assert took < 90, took  # no hang: Gloo's time-out bounds every collective
    assert not results(tmp_path)  # nobody finished as if nothing happened
    # The other ranks put their GPUs back (the killed one cannot: SIGKILL).
    check_restored(tmp_path, {"a": 4}, skip=(("a", 1),))


@pytest.mark.parametrize("visible", ["1", "own"], ids=["host-gpus", "own-gpu-only"])
def test_a_killed_rank_is_put_back_by_the_others(tmp_path, visible):
    """When rank 1 is killed with -9 mid-profiling, the others fail and put its GPU back too
    (its lease journal, holder gone), not only at the next command or lease: ranks that see
    every GPU of their host (as on a real one), and ranks given only their own GPU
    (CUDA_VISIBLE_DEVICES per rank, as SLURM's --gpus-per-task), which reach the killed rank's
    GPU by the UUID in its journal."""
    d = make_host(tmp_path, "a", 3)
    env = worker_env(tmp_path, ZEUS_TEST_KILL_AT="6", ZEUS_TEST_HOST_GPUS=visible)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    rc, out, took = torchrun(3, "kill", env)
    assert rc != 0 and "KILLING" in out
    assert took < 90, took
    state = (d / "all.state").read_text()
    # Rank 1 was profiling below 300 W when it was killed: its GPU was changed, then put back.
    assert "KILLING at 250000 mW" in out, out[-3000:]
    assert [limit_of(d / "all.state", g) for g in range(3)] == [300000] * 3, state
    assert all(" persistence 0" in line for line in state.splitlines() if line.startswith("gpu"))
    assert not list((d / "locks").glob("*.journal*"))


def test_hugging_face_trainer_under_torchrun(tmp_path):
    """Four ranks on one host (the plain loop runs two; the two-host test 2 x 2)."""
    make_host(tmp_path, "a", 4)
    rc, out, _ = torchrun(4, "hf", worker_env(tmp_path))
    assert rc == 0, out[-4000:]
    res = results(tmp_path)
    assert all(r["distributed"] and r["world"] == 4 for r in res.values())
    assert all(r["steps"] == 30 for r in res.values())  # 240 samples / 4 ranks / batch 2
    check_profile(res, 4)
    check_restored(tmp_path, {"a": 4})


def test_hugging_face_trainer_under_accelerate_launch(tmp_path):
    make_host(tmp_path, "a", 2)
    # accelerate's multi-process launcher is --multi_gpu (torch.distributed.run underneath);
    # the script itself trains on the CPU (use_cpu, Gloo). Its --cpu alone starts one process.
    accelerate = Path(sys.executable).with_name("accelerate")
    assert accelerate.exists(), "accelerate is in scripts/python-env.sh"
    rc, out, _ = run_launcher(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes=2",
         "--num_machines=1", "--main_process_port=0", "--mixed_precision=no",
         "--dynamo_backend=no", WORKER, "hf"],
        worker_env(tmp_path, HF_HOME=str(tmp_path / "hf-home")),
    )
    assert rc == 0, out[-4000:]
    res = results(tmp_path)
    assert all(r["distributed"] and r["world"] == 2 for r in res.values())
    check_profile(res, 2)


# ---- two hosts: network namespaces on a veth pair ----


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def two_hosts():
    """Two network namespaces joined by a veth pair (root only; CI runs as root)."""
    assert shutil.which("ip"), "iproute2 is in scripts/install-deps.sh"
    assert os.geteuid() == 0, "the two-host test makes network namespaces: run it as root"
    tag = f"{os.getpid() % 100000}"
    ns = (f"zeusA{tag}", f"zeusB{tag}")
    veth = (f"zva{tag}", f"zvb{tag}")
    addr = ("10.231.7.1", "10.231.7.2")
    try:
        for n in ns:
            ip("netns", "add", n)
        ip("link", "add", veth[0], "type", "veth", "peer", "name", veth[1])
        for n, v, a in zip(ns, veth, addr):
            ip("link", "set", v, "netns", n)
            ip("-n", n, "addr", "add", f"{a}/24", "dev", v)
            ip("-n", n, "link", "set", v, "up")
            ip("-n", n, "link", "set", "lo", "up")
        yield list(zip(ns, veth, addr))
    finally:
        for n in ns:  # deleting a namespace deletes its end of the pair, and so the pair
            subprocess.run(["ip", "netns", "del", n], capture_output=True, timeout=30)


def test_two_hosts(tmp_path, two_hosts):
    hosts = {"a": 2, "b": 2}
    for h, n in hosts.items():
        make_host(tmp_path, h, n)
    master = two_hosts[0][2]
    procs = []
    for node, ((n, veth, _addr), host) in enumerate(zip(two_hosts, hosts)):
        env = worker_env(tmp_path, ZEUS_TEST_HOST=host, GLOO_SOCKET_IFNAME=veth)
        cmd = [
            "ip", "netns", "exec", n, "unshare", "--uts", "sh", "-c",
            f'hostname host{host} && exec "$@"', "sh",
            sys.executable, "-m", "torch.distributed.run", "--nnodes=2",
            f"--node_rank={node}", "--nproc_per_node=2", f"--master_addr={master}",
            "--master_port=29500", WORKER, "loop",
        ]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
        )
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=180)[0])
    except subprocess.TimeoutExpired:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
        pytest.fail("the two-host job hung:\n" + "\n".join(p.communicate()[0][-3000:] for p in procs))
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-4000:]
    res = results(tmp_path)
    # Global ranks 0, 1 on host a (node 0), 2, 3 on host b.
    check_profile(res, 4)
    check_window(res, {"a": [0, 1], "b": [2, 3]})
    check_restored(tmp_path, hosts)


# ---- in one process: the extension's side of the collective ----


def test_in_one_process_callback_errors_and_job_window():
    """The all-reduce's own exception is what the hook raises; a wrong answer is an error.
    Without torch.distributed a job window is this process's window, GPUs by UUID. (One
    interpreter for both: importing the monitor imports torch, seconds on a busy machine.)"""
    code = """
from zeus import _zeus
from zeus.monitor import ZeusMonitor
seen = []
def failing(values, op):
    seen.append((list(values), op))
    if len(seen) > 2:  # creation's two pass; the first window's fails
        raise ConnectionError("peer vanished")
    return values
monitor = ZeusMonitor(gpu_indices=[0])
plo = _zeus.Optimizer(monitor, wait_steps=0, warmup_steps=0, profile_steps=2,
                      restore_on_exit=True, all_reduce=failing)
try:
    for _ in range(5):
        plo.on_step_begin()
except ConnectionError as e:
    print("RAISED", e)
print("SEEN", seen[:3])
plo.close()
def short(values, op):
    return values[:1]
try:
    _zeus.Optimizer(monitor, all_reduce=short)
except Exception as e:
    print("SHORT", type(e).__name__, e)
monitor.close()

m = ZeusMonitor(gpu_indices=[0, 1])
m.begin_window("w")
job = m.end_job_window("w")
mine = job.rank_measurement
uuids = {_zeus.gpu_info(i)["uuid"]: e for i, e in mine.gpu_energy.items()}
assert job.ranks == 1 and job.gpu_count == 2 and job.duplicates == 0, job
assert job.gpu_energy == uuids, (job.gpu_energy, uuids)
assert abs(job.total_energy - mine.total_energy) < 1e-9, (job, mine)
assert job.time == mine.time and job.clock_skew_bound == 0
print("JOB OK")
"""
    gpu = {"name": "NVIDIA A40", "energy_update_ms": 1, "load": 0.5, "count": 2}
    p = run_python(code, {"ZEUS_FAKE_NVML_CONFIG": json.dumps({"gpus": [gpu]})})
    assert p.returncode == 0, p.stderr[-3000:]
    assert "RAISED peer vanished" in p.stdout, p.stdout
    # creation: [ok, ranks, GPUs, has profile] then [ok, ranks]; the window: [J, 0, 0] sum
    assert "SEEN [([1.0, 1.0, 1.0, 0.0], 'sum'), ([1.0, 1.0], 'sum'), ([" in p.stdout
    assert "SHORT" in p.stdout and "all_reduce returned 1 values for 4" in p.stdout, p.stdout
    assert "JOB OK" in p.stdout
