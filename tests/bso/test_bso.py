#!/usr/bin/env python3
"""Tests of zeus-bso as real processes: the batch-size optimizer service against SQLite and a
real PostgreSQL server started here (initdb + pg_ctl in a temporary directory, as an
unprivileged user, on a Unix socket), and `zeus run` / `zeus history` end to end with a small
training job (train_sim.py) on simulated GPUs.

ZeusDataLoader under `zeus run` with a real PyTorch job and the real package is tested in
tests/python/test_dataloader.py (the project's virtual environment).

Usage: test_bso.py service_sqlite|service_postgres|run ZEUS_BSO REPLAY_CHECK"""
import glob
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import hostile  # noqa: E402
import zeus_test_hygiene as hygiene  # noqa: E402

hygiene.reset_signals()
PART, ZEUS_BSO, REPLAY = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "..", "examples", "recurring", "train_sim.py")
TMP = tempfile.mkdtemp(prefix="zeus-bso-test-")
FAILS = []
PROCS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


# ---- service helpers ---------------------------------------------------------------------------
def serve(db, *args, prefix=()):
    p = subprocess.Popen([*prefix, ZEUS_BSO, "serve", "--port", "0", "--db", db, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    PROCS.append(p)
    line = p.stdout.readline()
    if not line.startswith("listening on http://"):
        raise SystemExit(f"server did not start: {line!r} {p.stderr.read()}")
    return p, urllib.parse.urlparse(line.split()[-1]).netloc


def req(addr, method, path, body=None, ctype=None):
    """The original client sends JSON bodies without a Content-Type header (httpx content=)."""
    c = http.client.HTTPConnection(addr, timeout=30)
    headers = {"Content-Type": ctype} if ctype else {}
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    c.putrequest(method, path, skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v)
    if data is not None:
        c.putheader("Content-Length", str(len(data)))
    c.endheaders()
    if data is not None:
        c.send(data.encode() if isinstance(data, str) else data)
    r = c.getresponse()
    raw = r.read().decode()
    c.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


SPEC = {"job_id_prefix": "mnist", "batch_sizes": [64, 8, 16, 32, 128], "default_batch_size": 32,
        "eta_knob": 0.5, "beta_knob": 2.0, "target_metric": 0.9, "higher_is_better_metric": True,
        "max_epochs": 5, "num_pruning_rounds": 2, "window_size": 0, "mab_prior_mean": 0.0,
        "mab_prior_precision": 0.0, "mab_num_explorations": 2, "mab_seed": 7,
        "max_power": 300.0, "number_of_gpus": 1, "gpu_model": "NVIDIA A100"}


def run_trial(addr, job_id, converge_at=2, pause=0.0):
    """One run of the original client: batch size, one report per epoch until stop_train, and
    the PATCH /trials of its atexit hook. Returns the statuses seen."""
    st, t = req(addr, "GET", "/jobs/batch_size?job_id=" + urllib.parse.quote(job_id))
    if st != 200:
        return [st, t]
    seen = [st]
    bs = t["batch_size"]
    for epoch in range(1, 6):
        time.sleep(pause)
        metric = 0.95 if epoch >= converge_at else 0.5
        st, r = req(addr, "POST", "/report", {**t, "time": 10.0 * epoch * 32 / bs,
                                              "energy": 1000.0 * epoch, "metric": metric,
                                              "current_epoch": epoch})
        seen.append(st)
        if st != 200 or r["stop_train"]:
            break
    st, _ = req(addr, "PATCH", "/trials", t)
    seen.append(st)
    return seen


def policy_trials(addr, job_id, n):
    """n trials of the original client's kind whose cost falls with the batch size (the run at 16
    crosses the walk's 1.5 x bound at its second epoch); the batch sizes dispatched."""
    seq = []
    for _ in range(n):
        st, t = req(addr, "GET", "/jobs/batch_size?job_id=" + job_id)
        check(st == 200, f"policy trial: {st} {t}")
        seq.append(t["batch_size"])
        for epoch in (1, 2):
            st, r = req(addr, "POST", "/report", {**t, "time": 10.0 * epoch * 32 / t["batch_size"],
                                                  "energy": 1000.0 * epoch, "current_epoch": epoch,
                                                  "metric": 0.95 if epoch == 2 else 0.5})
            if r.get("stop_train"):
                break
        req(addr, "PATCH", "/trials", t)
    return seq


def service_policy(addr, db):
    """"policy": "walk-ts" in the job spec: echoed (absent without it, the original's wire
    format), decisions by libzeus's walk-ts, the same for the same mab_seed, an unknown name
    refused with the known ones."""
    st, job = req(addr, "POST", "/jobs", {**SPEC, "job_id": "mnist-walk-a", "policy": "walk-ts"})
    check(st == 201 and job.get("policy") == "walk-ts", f"register walk-ts: {st} {job}")
    st, r = req(addr, "POST", "/jobs", {**SPEC, "job_id": "mnist-walk-x", "policy": "greedy"})
    check(st == 422 and "unknown batch-size policy 'greedy' (known: pruning-gts, walk-ts)" in
          json.dumps(r) and r["detail"][0]["loc"] == ["body", "policy"], f"bad policy {st} {r}")
    st, r = req(addr, "POST", "/jobs", {**SPEC, "job_id": "mnist-walk-y", "policy": 3})
    check(st == 422, f"policy not a string {st} {r}")
    req(addr, "POST", "/jobs", {**SPEC, "job_id": "mnist-walk-b", "policy": "walk-ts"})
    seqs = [policy_trials(addr, jid, 12) for jid in ("mnist-walk-a", "mnist-walk-b")]
    # the walk: the default, 16 (stopped at 1.5 x the cheapest: pruning would let it reach the
    # target under 2 x), then up 64 and 128; sampling then mostly plays the cheapest, 128
    check(seqs[0][:4] == [32, 16, 64, 128] and seqs[0].count(128) >= 8, f"walk-ts: {seqs[0]}")
    check(seqs[0] == seqs[1], f"walk-ts decisions by seed: {seqs}")
    hist = json.loads(subprocess.run([ZEUS_BSO, "history", "mnist-walk-a", "--db", db, "--json"],
                                     capture_output=True, text=True).stdout)
    trials = hist["trials"]
    check(trials[1]["status"] == "NotConverged" and "exceeded the cost upper bound" in
          trials[1]["message"] and [t["type"] for t in trials[:5]] ==
          ["Exploration"] * 4 + ["MAB"], f"walk-ts trials {trials[:5]}")
    check(hist["bandit"]["policy"] == "walk-ts" and hist["bandit"]["stage"] == "Sampling" and
          [a["batch_size"] for a in hist["bandit"]["arms"]] == [32, 64, 128], f"beliefs {hist}")


def service_flow(db):
    srv, addr = serve(db)
    hostile.hostile_inputs(sys.modules[__name__], addr, db)
    service_policy(addr, db)
    client_flow(addr, db)
    c_client_flow(addr, db)
    # the original client's flow
    st, job = req(addr, "POST", "/jobs", {**SPEC, "seed": 1})  # unknown fields are ignored
    check(st == 201, f"register: 201, got {st} {job}")
    check(job.get("job_id", "").startswith("mnist-") and job["batch_sizes"] == [8, 16, 32, 64, 128],
          f"register body {job}")
    jid = job["job_id"]
    check("policy" not in job, f"no policy: the original's wire format {job}")
    st, again = req(addr, "POST", "/jobs", {**SPEC, "job_id": jid}, ctype="application/json")
    check(st == 200 and again == job, f"re-register: 200 same body, got {st} {again}")
    st, r = req(addr, "POST", "/jobs", {**SPEC, "job_id": jid, "number_of_gpus": 2})
    check(st == 409 and r == {"message": "JobSpec doesn't match with existing jobSpec. Use a new "
                                         "job_id for different configuration"}, f"409: {st} {r}")
    st, t = req(addr, "GET", "/jobs/batch_size?job_id=" + jid)
    check(st == 200 and t == {"job_id": jid, "batch_size": 32, "trial_number": 1}, f"bs: {st} {t}")
    st, r = req(addr, "POST", "/report", {**t, "time": 10.0, "energy": 1000.0, "metric": 0.5,
                                          "current_epoch": 1})
    check(st == 200 and r == {"stop_train": False, "converged": False,
                              "message": "Stop condition not met, keep training"}, f"r1 {st} {r}")
    st, r = req(addr, "POST", "/report", {**t, "time": 20.0, "energy": 2000.0, "metric": 0.95,
                                          "current_epoch": 2})
    check(st == 200 and r == {"stop_train": True, "converged": True, "message": "Train succeeded"},
          f"r2 {st} {r}")
    st, r = req(addr, "POST", "/report", {**t, "time": 30.0, "energy": 3000.0, "metric": 0.95,
                                          "current_epoch": 3})
    check(st == 200 and r["stop_train"] and "already reported" in r["message"], f"r3 {st} {r}")
    st, r = req(addr, "PATCH", "/trials", t)
    check(st == 200 and r is None, f"end: {st} {r}")
    # pruning goes down from the default: 16 next; a run that dies unreported is Failed and its
    # slot is explored again
    st, t2 = req(addr, "GET", "/jobs/batch_size?job_id=" + jid)
    check(st == 200 and t2["batch_size"] == 16 and t2["trial_number"] == 2, f"bs2 {t2}")
    st, r = req(addr, "PATCH", "/trials", t2)
    st, r = req(addr, "POST", "/report", {**t2, "time": 1.0, "energy": 1.0, "metric": 0.5,
                                          "current_epoch": 1})
    check(st == 400 and r == {"message": "Trial(2) is already reported but converged is not set."},
          f"report after end: {st} {r}")
    st, t3 = req(addr, "GET", "/jobs/batch_size?job_id=" + jid)
    check(st == 200 and t3["batch_size"] == 16 and t3["trial_number"] == 3, f"bs3 {t3}")
    # exceeding the bound beta x min_cost (min_cost = 0.5*2000 + 0.5*300*20 = 4000)
    st, r = req(addr, "POST", "/report", {**t3, "time": 100.0, "energy": 9000.0, "metric": 0.5,
                                          "current_epoch": 1})
    check(st == 200 and r["stop_train"] and not r["converged"] and r["message"].startswith(
        "Batch Size(16) exceeded the cost upper bound: current cost(19500.0) >\n" + " " * 20 +
        "beta_knob(2.0)*min_cost(4000.0)"), f"bound {st} {r}")
    # malformed requests, each refused with the documented status
    bad = [("POST", "/jobs", "{nope", None, 422), ("POST", "/jobs", {**SPEC, "eta_knob": 2}, None, 422),
           ("POST", "/jobs", {**SPEC, "batch_sizes": [8, 8, 32]}, None, 422),
           ("POST", "/jobs", {**SPEC, "batch_sizes": []}, None, 422),
           ("POST", "/jobs", {**SPEC, "default_batch_size": 12}, None, 422),
           ("POST", "/jobs", {**SPEC, "job_id": "other-1"}, None, 422),
           ("POST", "/jobs", {k: v for k, v in SPEC.items() if k != "max_power"}, None, 422),
           ("POST", "/jobs", {**SPEC, "max_epochs": "ten"}, None, 422),
           ("POST", "/jobs", json.dumps(SPEC), "text/plain", 422),
           ("GET", "/jobs/batch_size", None, None, 422),
           ("GET", "/jobs/batch_size?job_id=nope", None, None, 400),
           ("POST", "/report", {"job_id": jid, "batch_size": 32, "trial_number": 99, "time": 1,
                                "energy": 1, "metric": 1, "current_epoch": 1}, None, 400),
           ("POST", "/report", {"job_id": "nope", "batch_size": 32, "trial_number": 1, "time": 1,
                                "energy": 1, "metric": 1, "current_epoch": 1}, None, 400),
           ("POST", "/report", {"job_id": jid, "batch_size": 32}, None, 422),
           ("PATCH", "/trials", {"job_id": jid, "batch_size": 32, "trial_number": 99}, None, 404),
           ("PATCH", "/trials", {"job_id": jid, "batch_size": 0, "trial_number": 1}, None, 422),
           ("DELETE", "/jobs?job_id=nope", None, None, 404), ("GET", "/jobs", None, None, 405),
           ("GET", "/nothing", None, None, 404), ("DELETE", "/jobs", None, None, 422),
           ("POST", "/jobs", "[" + "1," * 600000 + "1]", None, 413)]
    for method, path, body, ctype, want in bad:
        st, r = req(addr, method, path, body, ctype)
        check(st == want, f"{method} {path} {str(body)[:60]}: want {want}, got {st} {r}")
        if want == 422:
            check(isinstance(r, dict) and isinstance(r.get("detail"), list), f"422 body {r}")
        elif want in (400, 404) and path not in ("/nothing",):
            check(isinstance(r, dict) and "message" in r, f"error body {r}")
    st, r = req(addr, "DELETE", "/jobs?job_id=" + jid)
    check(st == 200 and r is None, f"delete {st} {r}")
    st, r = req(addr, "GET", "/jobs/batch_size?job_id=" + jid)
    check(st == 400 and r == {"message": f"Unknown job({jid}). Please register the job first"},
          f"after delete {st} {r}")

    # a seeded job's decisions are reproducible: two jobs, same seed, same results
    seqs = []
    for name in ("mnist-seed-a", "mnist-seed-b"):
        req(addr, "POST", "/jobs", {**SPEC, "job_id": name, "mab_seed": 5})
        seq = []
        for _ in range(16):
            st, t = req(addr, "GET", "/jobs/batch_size?job_id=" + name)
            seq.append(t["batch_size"])
            bs = t["batch_size"]
            req(addr, "POST", "/report", {**t, "time": 100.0 / bs ** 0.5 + (bs % 7),
                                          "energy": 9000.0 / bs ** 0.5, "metric": 0.95,
                                          "current_epoch": 1})
        seqs.append(seq)
    check(seqs[0] == seqs[1] and len(set(seqs[0][10:])) >= 1, f"seeded decisions {seqs}")

    # a client killed -9 never ends its trial: once --stale-after passes, the trial is recorded
    # as Interrupted and its exploration slot is given out again (the original keeps it forever)
    srv3, addr3 = serve(db, "--stale-after", "1")
    st, job = req(addr3, "POST", "/jobs", {**SPEC, "job_id": "mnist-killed"})
    st, t1 = req(addr3, "GET", "/jobs/batch_size?job_id=mnist-killed")
    st, t2 = req(addr3, "GET", "/jobs/batch_size?job_id=mnist-killed")
    check(t1["batch_size"] == 32 and t2["batch_size"] == 32 and t2["trial_number"] == 2,
          f"concurrent while exploring: {t1} {t2}")
    time.sleep(1.2)
    st, t3 = req(addr3, "GET", "/jobs/batch_size?job_id=mnist-killed")
    hist = json.loads(subprocess.run([ZEUS_BSO, "history", "mnist-killed", "--db", db, "--json"],
                                     capture_output=True, text=True).stdout)
    check([t["status"] for t in hist["trials"]] == ["Interrupted", "Interrupted", "Dispatched"]
          and hist["trials"][2]["type"] == "Exploration" and t3["batch_size"] == 32,
          f"stale trials repaired: {hist['trials']}")
    st, r = req(addr3, "POST", "/report", {**t1, "time": 1.0, "energy": 1.0, "metric": 0.95,
                                           "current_epoch": 1})
    check(st == 400 and "converged is not set" in r["message"], f"late report {st} {r}")
    srv3.terminate()
    srv3.wait()

    # two service processes on one database, 50 concurrent clients: no trial lost or doubled
    srv2, addr2 = serve(db)
    st, job = req(addr, "POST", "/jobs", {**SPEC, "job_id": "mnist-concurrent"})
    check(st == 201, f"register concurrent {st} {job}")
    results = [None] * 50

    def client(i):
        a = addr if i % 2 else addr2
        st, _ = req(a, "POST", "/jobs", {**SPEC, "job_id": "mnist-concurrent"})
        results[i] = [st] + run_trial(a, "mnist-concurrent")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i, seen in enumerate(results):
        check(seen is not None and all(s == 200 for s in seen), f"client {i}: {seen}")
    hist = json.loads(subprocess.run([ZEUS_BSO, "history", "mnist-concurrent", "--db", db,
                                      "--json"], capture_output=True, text=True).stdout)
    numbers = sorted(t["trial_number"] for t in hist["trials"])
    check(numbers == list(range(1, 51)), f"trial numbers {numbers}")
    statuses = {t["status"] for t in hist["trials"]}
    check(statuses <= {"Succeeded", "NotConverged"}, f"every trial recorded: {statuses}")
    # pruning goes on one exploration at a time (the rest run the best size so far); sequential
    # runs finish it and the bandit takes over
    for _ in range(20):
        seen = run_trial(addr, "mnist-concurrent")
        check(all(s == 200 for s in seen), f"sequential run {seen}")
    hist = json.loads(subprocess.run([ZEUS_BSO, "history", "mnist-concurrent", "--db", db,
                                      "--json"], capture_output=True, text=True).stdout)
    types = {t["type"] for t in hist["trials"]}
    check(types == {"Exploration", "Concurrent", "MAB"}, f"trial types {types}")
    check(hist["bandit"]["stage"] == "MAB" and hist["bandit"]["arms"], f"bandit {hist['bandit']}")
    srv.send_signal(signal.SIGTERM)
    check(srv.wait(timeout=10) == 0, "server exits 0 on SIGTERM")

    # a service process killed -9 under load: its open transactions never commit; the store
    # stays consistent and the other process (and a restarted one) go on
    st, job = req(addr2, "POST", "/jobs", {**SPEC, "job_id": "mnist-kill9"})
    victim, vaddr = serve(db)
    errors = []

    def hammer(i):
        for _ in range(4):
            try:
                run_trial(vaddr if i % 2 else addr2, "mnist-kill9", pause=0.05)
            except OSError as e:  # the victim's clients lose their connection
                errors.append(e)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(20)]
    for th in threads:
        th.start()
    time.sleep(0.3)
    victim.kill()
    victim.wait()
    for th in threads:
        th.join()
    check(errors, "the victim was killed while its clients were running")
    again, aaddr = serve(db)
    seen = run_trial(aaddr, "mnist-kill9")
    check(all(s == 200 for s in seen), f"after kill -9: {seen}")
    hist = json.loads(subprocess.run([ZEUS_BSO, "history", "mnist-kill9", "--db", db, "--json"],
                                     capture_output=True, text=True).stdout)
    numbers = [t["trial_number"] for t in hist["trials"]]
    check(numbers == list(range(1, len(numbers) + 1)), f"kill -9: trial numbers {numbers}")
    for t in hist["trials"]:
        done = t["status"] in ("Succeeded", "NotConverged")
        check(done == (t["time"] is not None and t["energy"] is not None and t["reached"]
                       is not None), f"kill -9: trial consistent {t}")
    for p in (srv2, again):
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=10) == 0, "server exits 0 on SIGTERM")


# ---- the Python client (python/zeus/optimizer/batch_size) -------------------------------------
CLIENT_RUN = r"""
import os, sys
from zeus.optimizer.batch_size import (BatchSizeOptimizer, JobSpec, ZeusBSOTrainFailError,
    ZeusBSOOperationOrderError, ZeusBSOBadOperationError, ZeusBSORuntimError)

class M:  # a ZeusMonitor stand-in: every epoch takes 10 s and 1000 J
    gpu_indices = [0, 1]
    class W:
        time, total_energy = 10.0, 1000.0
    def begin_window(self, key): self.key = key
    def end_window(self, key):
        assert key == self.key == "BatciSizeOptimizerClient"
        return self.W()

mode = sys.argv[2]
job = JobSpec(job_id=os.environ.get("ZEUS_JOB_ID"), job_id_prefix="cli", batch_sizes=[32, 8, 16],
              default_batch_size=16, target_metric=0.9, max_epochs=4, mab_seed=3)
bso = BatchSizeOptimizer(M(), sys.argv[1], job)
print("JOB", bso.job.job_id, bso.job.max_power, bso.job.number_of_gpus, bso.job.gpu_model)
if mode == "order":
    try:
        bso.on_evaluate(0.1)
    except ZeusBSOOperationOrderError:
        print("ORDER-OK")
    try:
        BatchSizeOptimizer(M(), sys.argv[1], job, rank=1).get_batch_size()
    except ZeusBSOBadOperationError:
        print("RANK-OK")
    try:
        BatchSizeOptimizer(M(), sys.argv[1] + "/nope", job)
    except ZeusBSORuntimError as e:
        print("HTTP-OK", "404" in str(e))
    sys.exit(0)
bs = bso.get_batch_size()
assert bso.get_batch_size() == bs
print("BS", bs, bso.trial_number)
if mode == "die":
    sys.exit(0)  # no report: the atexit hook ends the trial
bso.on_train_begin()
try:
    for epoch in range(1, 10):
        bso.on_evaluate(0.95 if (mode == "ok" and epoch == 2) else 0.1)
        if bso.training_finished:
            break
    print("FINISHED", epoch)
except ZeusBSOTrainFailError as e:
    print("TRAINFAIL", e)
"""


def client_flow(addr, db):
    pkg = os.path.join(TMP, "pkg")
    os.makedirs(os.path.join(pkg, "zeus", "optimizer"))
    for f in ("zeus/__init__.py", "zeus/optimizer/__init__.py"):
        open(os.path.join(pkg, f), "w").close()
    os.symlink(os.path.join(HERE, "..", "..", "python", "zeus", "optimizer", "batch_size"),
               os.path.join(pkg, "zeus", "optimizer", "batch_size"))
    # its models are pydantic's (zeus.utils.pydantic_v1), as the original's
    os.symlink(os.path.join(HERE, "..", "..", "python", "zeus", "utils"),
               os.path.join(pkg, "zeus", "utils"))
    with open(os.path.join(pkg, "zeus", "device.py"), "w") as f:
        f.write("class G:\n    def __len__(self): return 2\n"
                "    def getPowerManagementLimitConstraints(self, i): return (100000, 300500)\n"
                "    def getName(self, i): return 'NVIDIA A40'\n"
                "def get_gpus(ensure_homogeneous=False): return G()\n")
    script = os.path.join(pkg, "train.py")
    with open(script, "w") as f:
        f.write(CLIENT_RUN)
    env = {**os.environ, "PYTHONPATH": pkg}
    url = "http://" + addr

    def py(mode, job_id=None):
        e = {**env, **({"ZEUS_JOB_ID": job_id} if job_id else {})}
        r = subprocess.run([sys.executable, script, url, mode], capture_output=True, text=True,
                           env=e, timeout=60)
        check(r.returncode == 0, f"client {mode}: {r.stdout}{r.stderr}")
        return r.stdout

    out = py("ok")
    jid = out.split()[1]
    check(out.split()[2:5] == ["600.0", "2", "NVIDIA"] and "BS 16 1" in out and "FINISHED 2" in out,
          f"client run 1: {out}")
    out = py("ok", jid)
    check("BS 8 2" in out and "FINISHED 2" in out, f"client run 2 (same job): {out}")
    out = py("fail", jid)
    check("BS 32 3" in out and "TRAINFAIL Train failed: Train failed to converge within "
          "max_epoch(4) This batch size" in out, f"client run 3: {out}")
    out = py("die", jid)
    out = py("order", jid)
    check("ORDER-OK" in out and "RANK-OK" in out and "HTTP-OK True" in out, f"client order {out}")
    h = json.loads(subprocess.run([ZEUS_BSO, "history", jid, "--db", db, "--json"],
                                  capture_output=True, text=True).stdout)
    check([t["status"] for t in h["trials"]] == ["Succeeded", "Succeeded", "NotConverged",
                                                 "Failed"], f"client trials {h['trials']}")


def c_client_flow(addr, db):
    """The C client (src/bso/bso_client.h) runs the same protocol."""
    demo = os.path.join(os.path.dirname(REPLAY), "bso_client_demo")
    url = "http://" + addr

    def c(mode, *job):
        r = subprocess.run([demo, url, mode, *job], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"C client {mode}: {r.stdout}{r.stderr}")
        return r.stdout

    out = c("ok")
    jid = out.split()[1]
    check(jid.startswith("cjob-") and "BS 16 1" in out and "FINISHED 2" in out, f"C run 1 {out}")
    out = c("ok", jid)
    check("BS 8 2" in out and "FINISHED 2" in out, f"C run 2 {out}")
    out = c("fail", jid)
    check("BS 32 3" in out and "TRAINFAIL Train failed: Train failed to converge within "
          "max_epoch(4) This batch size" in out, f"C run 3 {out}")
    out = c("order", jid)
    check("ORDER 1" in out, f"C order {out}")
    out = c("ok", "other-1")
    check("CREATE-ERROR Zeus server returned status code 422" in out, f"C 422 {out}")
    r = subprocess.run([demo, "http://127.0.0.1:1", "ok"], capture_output=True, text=True)
    check("CREATE-ERROR Cannot reach the Zeus server" in r.stdout, f"C unreachable {r.stdout}")
    h = json.loads(subprocess.run([ZEUS_BSO, "history", jid, "--db", db, "--json"],
                                  capture_output=True, text=True).stdout)
    check([t["status"] for t in h["trials"]] == ["Succeeded", "Succeeded", "NotConverged"],
          f"C client trials {h['trials']}")


# ---- PostgreSQL ----------------------------------------------------------------------------------
def start_postgres():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        hygiene.skip_or_fail("Debian's postgresql is not installed")
    bindir = os.path.dirname(bins[-1])
    pgdir = os.path.join(TMP, "pg")
    os.makedirs(pgdir)
    os.chmod(TMP, 0o755)
    prefix = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as nobody
        shutil.chown(pgdir, "nobody", "nogroup")
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    data = os.path.join(pgdir, "data")
    port = str(20000 + os.getpid() % 20000)
    subprocess.run(prefix + [os.path.join(bindir, "initdb"), "-D", data, "-U", "zeus",
                             "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    global PG_START
    PG_START = prefix + [os.path.join(bindir, "pg_ctl"), "-D", data, "-w", "-t", "30", "-l",
                         os.path.join(pgdir, "log"), "-o",
                         f"-k {pgdir} -p {port} -c listen_addresses='' -c max_connections=200",
                         "start"]
    subprocess.run(PG_START, check=True, capture_output=True)
    stop = prefix + [os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "stop"]
    global PG_RESTART, PG_CTL, PG_BIN
    PG_CTL = prefix + [os.path.join(bindir, "pg_ctl"), "-D", data, "-w", "-t", "30", "-l",
                       os.path.join(pgdir, "log")]
    PG_RESTART = PG_CTL + ["-m", "fast", "restart"]
    PG_BIN = bindir
    return f"postgresql://zeus@/postgres?host={pgdir}&port={port}", stop


def pg_restart(url):
    """The service survives a database restart: requests fail (503, the database is
    unavailable) until each worker reconnects, then succeed."""
    srv, addr = serve(url, "--threads", "2")
    st, _ = req(addr, "POST", "/jobs", {**SPEC, "job_id": "mnist-restart"})
    check(st == 201, f"register before restart {st}")
    subprocess.run(PG_RESTART, check=True, capture_output=True, timeout=60)
    # Each of the 2 workers answers 503 once, on its first request after the restart (which of
    # them takes a request is the scheduler's choice: one may first be used late), then succeeds.
    statuses = []
    while len(statuses) < 24 and (len(statuses) < 8 or statuses[-4:] != [200] * 4):
        statuses.append(req(addr, "GET", "/jobs/batch_size?job_id=mnist-restart")[0])
    check(statuses[-4:] == [200] * 4 and statuses.count(503) <= 2 and 500 not in statuses,
          f"after restart {statuses}")
    srv.terminate()
    srv.wait()


def main():
    try:
        if PART == "service_sqlite":
            service_flow(os.path.join(TMP, "bso.db"))
            hostile.store_swapped(sys.modules[__name__])
            hostile.sqlite_read_only(sys.modules[__name__])
            hostile.history_of_an_old_store(sys.modules[__name__])
        elif PART == "service_postgres":
            url, stop = start_postgres()
            try:
                service_flow(url)
                run_basic(url, "pg")
                concurrent_drivers(url, "pg")
                pg_restart(url)
                hostile.pg_unavailable(sys.modules[__name__], url)
            finally:
                subprocess.run(stop, capture_output=True)
        else:
            run_tests()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("ZEUS_TEST_KEEP_TMP") != "1":  # nothing left behind, pass or fail
            shutil.rmtree(TMP, ignore_errors=True)
    if FAILS:
        print(f"{len(FAILS)} failure(s) (ZEUS_TEST_KEEP_TMP=1 keeps {TMP})")
        sys.exit(1)
    print("ok")


# ---- zeus run ------------------------------------------------------------------------------------
JOB = {"dataset": "synthetic", "network": "mlp", "optimizer": "adam", "target_metric": 0.9,
       "max_epochs": 5, "default_bs": 32, "default_lr": 0.001, "batch_sizes": [8, 16, 32, 64, 128],
       "command": [sys.executable, TRAIN, "{bs}", "{seed}", "{lr}"], "eta_knob": 0.5,
       "beta_knob": 2.0, "seed": 1, "max_power_w": 300}


def jobfile(name, **over):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "job.json")
    with open(path, "w") as f:
        json.dump({**JOB, "workdir": d, **over}, f)
    return path, d


def zrun(job, db, *args, env=None, wait=True):
    cmd = [ZEUS_BSO, "run", job, "--db", db, "--log-base", os.path.join(TMP, "logs")] + list(args)
    e = {**os.environ, **(env or {})}
    if not wait:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=e)
        PROCS.append(p)
        return p
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=240)


def history(db, job_id):
    r = subprocess.run([ZEUS_BSO, "history", job_id, "--db", db, "--json"], capture_output=True,
                       text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr}


JOB_ID = "synthetic+mlp+bs32+adam+lr0.001+tm0.9+me5"


def replay(job, db, tag, job_id=JOB_ID):
    h = os.path.join(TMP, f"hist-{tag}.json")
    with open(h, "w") as f:
        json.dump(history(db, job_id), f)
    r = subprocess.run([REPLAY, job, h], capture_output=True, text=True)
    check(r.returncode == 0, f"{tag}: bandit decisions equal the simulator's: {r.stdout}{r.stderr}")
    return r.stdout


def run_basic(db, tag):
    job, d = jobfile("basic-" + tag)
    mark = os.path.join(d, "mark")
    r = zrun(job, db, "--recurrences", "10", env={"SIM_MARK": mark})
    check(r.returncode == 0, f"{tag}: zeus run 10 recurrences: {r.stdout[-2000:]}{r.stderr}")
    h = history(db, JOB_ID)
    trials = h.get("trials", [])
    check(sum(t["reached"] is True for t in trials) == 10, f"{tag}: 10 recurrences reached")
    check(h["bandit"]["stage"] == "MAB" and any(t["type"] == "Run" for t in trials),
          f"{tag}: pruning over, the bandit decides: {h['bandit']}")
    check(all(t["status"] in ("Succeeded", "NotConverged") for t in trials), f"{tag}: statuses")
    check(any(t["try_index"] == 2 for t in trials), f"{tag}: a recurrence was retried")
    replay(job, db, tag)
    # the job's environment and files, as the original's ZeusMaster sets them up
    lines = [l.split() for l in open(mark)]
    check(lines[0][0] == "rec01+try01" and lines[0][1] == "32" and lines[0][2] == "1",
          f"{tag}: first launch {lines[0]}")
    check(all(l[3] == "10,40" and l[4] == "True" for l in lines), f"{tag}: ZEUS_PROFILE_PARAMS etc")
    check([int(l[2]) for l in lines] == list(range(1, len(lines) + 1)), f"{tag}: seeds")
    logdir = lines[0][6]
    check(os.path.basename(logdir).startswith(JOB_ID + "+x10+eta0.5+beta2.0+"), f"logdir {logdir}")
    for f in ["rec01+try01.train.log", "rec01+try01+bs32.train.json", "bs32.power.json",
              "history.py"]:
        check(os.path.exists(os.path.join(logdir, f)), f"{tag}: {f} written")
    hp = open(os.path.join(logdir, "history.py")).read()
    check(hp.startswith("[HistoryEntry(bs=32, pl=") and hp.count("HistoryEntry") == len(trials),
          f"{tag}: history.py {hp[:200]}")
    # early stop: a run stopped by ZEUS_COST_THRESH is recorded as not reached
    logs = "".join(open(p).read() for p in glob.glob(os.path.join(logdir, "*.train.log")))
    check("early stop" in logs and "cost bound inf" in r.stdout, f"{tag}: early stop happened")
    # power limits: profiled once per batch size, then applied
    pls = {t["power_limit"] for t in trials if t["reached"]}
    check(pls == {175}, f"{tag}: the cheapest limit is used: {pls}")
    return trials


def run_policy(db):
    """"policy": "walk-ts" in the job file, or --policy: the driver's decisions are walk-ts's
    (replayed through the simulator's driver with that policy); the policy is part of the job's
    configuration; unknown names are refused."""
    jid = "walk-run"
    job, d = jobfile(jid, job_id=jid, policy="walk-ts")
    r = zrun(job, db, "--recurrences", "8")
    check(r.returncode == 0, f"zeus run walk-ts: {r.stdout[-1000:]}{r.stderr}")
    h = history(db, jid)
    check(sum(t["reached"] is True for t in h["trials"]) == 8, f"walk-ts recurrences {h}")
    check(h["bandit"].get("policy") == "walk-ts" and h["bandit"]["arms"], f"walk-ts beliefs {h}")
    out = replay(job, db, jid, jid)
    check(out.startswith("replay ok"), f"walk-ts replay {out}")
    # --policy overrides the file; the stored job (walk-ts) then conflicts with pruning-gts
    r = zrun(job, db, "--policy", "pruning-gts")
    check(r.returncode == 1 and "with another configuration" in r.stderr, f"conflict {r.stderr}")
    plain, _ = jobfile("walk-flag", job_id="walk-flag")
    r = zrun(plain, db, "--policy", "walk-ts", "--recurrences", "2")
    h = history(db, "walk-flag")
    check(r.returncode == 0 and h["bandit"].get("policy") == "walk-ts", f"--policy {r.stderr} {h}")
    r = zrun(plain, db, "--policy", "bogus")
    check(r.returncode == 2 and "--policy: unknown batch-size policy 'bogus' (known: "
          "pruning-gts, walk-ts)" in r.stderr, f"--policy bogus {r.returncode} {r.stderr}")
    bad, _ = jobfile("walk-bad", job_id="walk-bad", policy="bogus")
    r = zrun(bad, db)
    check(r.returncode == 1 and "unknown batch-size policy 'bogus'" in r.stderr, r.stderr)


def concurrent_drivers(db, tag):
    """Two concurrent drivers on one job take turns; every trial is recorded once."""
    jid = "concurrent-" + tag
    job, d = jobfile(jid, job_id=jid)
    ps = [zrun(job, db, "--recurrences", "3", env={"SIM_EPOCH_SLEEP": "0.05"}, wait=False)
          for _ in range(2)]
    outs = [p.communicate(timeout=200)[0] for p in ps]
    check(all(p.returncode == 0 for p in ps), f"{tag}: concurrent drivers {[o[-300:] for o in outs]}")
    h = history(db, jid)["trials"]
    check([t["trial_number"] for t in h] == list(range(1, len(h) + 1)) and
          sum(t["reached"] is True for t in h) == 6, f"{tag}: concurrent trials {h}")
    replay(job, db, jid, jid)


CHECK_CHART = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support",
                           "check_chart.py")


def history_table_and_plot(db):
    # Issue 24 item 10: units in the tables, a recurrence column, and --plot through libzeus's chart
    trials = history(db, JOB_ID)["trials"]
    r = subprocess.run([ZEUS_BSO, "history", JOB_ID, "--db", db], capture_output=True, text=True)
    lines = r.stdout.splitlines()
    check(lines[0].split()[:3] == ["TRIAL", "REC", "BS"] and "TIME (s)" in lines[0] and
          "ENERGY (J)" in lines[0] and "COST (J)" in lines[0], f"history header: {lines[0]}")
    rows = [l.split() for l in lines[1:1 + len(trials)]]
    check([(int(w[0]), int(w[1]), int(w[2])) for w in rows] ==
          [(t["trial_number"], t["recurrence"], t["batch_size"]) for t in trials],
          f"history rows: trial, recurrence, batch size {rows} {trials}")
    total_s = sum(t["time"] or 0 for t in trials)
    total_j = sum(t["energy"] or 0 for t in trials)
    want = (f"total: {len(trials)} trials, {total_s:.2f} s ({total_s / 3600:.4f} h), "
            f"{total_j:.2f} J ({total_j / 3.6e6:.6f} kWh)")
    check(want in r.stdout, f"history totals in s, h, J and kWh: {want!r} in {r.stdout}")
    check(" J +- " in r.stdout, f"bandit costs in J: {r.stdout}")
    svg = os.path.join(TMP, "history.svg")
    r = subprocess.run([ZEUS_BSO, "history", JOB_ID, "--db", db, "--plot", svg],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"history --plot: {r.stderr}")
    c = subprocess.run([sys.executable, CHECK_CHART, svg, "960", "700",
                        "cost per trial,early-stop threshold;batch size",
                        "trial|cost (kJ)|time since the first trial (s)|batch size"],
                       capture_output=True, text=True)
    n = len(trials)
    check(c.returncode == 0 and f"cost per trial={n}" in c.stdout and f"batch size={n}" in c.stdout,
          f"history chart: {c.stdout}{c.stderr}")
    for bad, why in ((["--plot", os.path.join(TMP, "h.pdf")], "name a .svg or .png file"),
                     (["--plot", svg, "--db", db], "name the JOB")):
        args = [ZEUS_BSO, "history"] + ([JOB_ID, "--db", db] if "JOB" not in why else []) + bad
        r = subprocess.run(args, capture_output=True, text=True)
        check(r.returncode == 2 and why in r.stderr, f"history {bad}: {r.stderr}")
    png = os.path.join(TMP, "history.png")
    r = subprocess.run([ZEUS_BSO, "history", JOB_ID, "--db", db, "--plot", png],
                       capture_output=True, text=True)
    module = os.path.join(os.path.dirname(ZEUS_BSO), "zeus-svg2png.so")
    if os.path.exists(module):
        with open(png, "rb") as f:
            check(r.returncode == 0 and f.read(8) == b"\x89PNG\r\n\x1a\n", f"history PNG: {r.stderr}")
    else:
        check(r.returncode == 1 and "zeus-svg2png.so" in r.stderr, f"history PNG: {r.stderr}")


def run_tests():
    # the zeus command finds zeus-run / zeus-history / zeus-bso beside it (git-style)
    zeus = os.path.join(os.path.dirname(ZEUS_BSO), "zeus")
    for args, want in ((["run", "--help"], "usage: zeus run JOBFILE"),
                       (["history", "--help"], "usage: zeus history"),
                       (["bso", "serve", "--help"], "usage: zeus bso serve")):
        r = subprocess.run([zeus] + args, capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.startswith(want), f"zeus {args}: {r.stdout}{r.stderr}")
    db = os.path.join(TMP, "h.db")
    base = run_basic(db, "sqlite")
    seq = [t["batch_size"] for t in base]

    # state across invocations: 3 + 7 recurrences make the same decisions as 10 in one
    db2 = os.path.join(TMP, "h2.db")
    job, d = jobfile("split")
    for n in ("3", "7"):
        r = zrun(job, db2, "--recurrences", n)
        check(r.returncode == 0, f"split run {n}: {r.stderr}")
    check([t["batch_size"] for t in history(db2, JOB_ID)["trials"]] == seq,
          "state carries over between invocations")
    r = subprocess.run([ZEUS_BSO, "history", "--db", db2], capture_output=True, text=True)
    check(r.returncode == 0 and JOB_ID in r.stdout, f"history lists jobs: {r.stdout}")
    r = subprocess.run([ZEUS_BSO, "history", JOB_ID, "--db", db2], capture_output=True, text=True)
    check(r.returncode == 0 and "bandit:" in r.stdout and "best batch size" in r.stdout,
          f"history table: {r.stdout}")
    history_table_and_plot(db2)

    # observer mode: ZEUS_USE_OPTIMAL_PL=False, trials run at the maximum limit
    db3 = os.path.join(TMP, "h3.db")
    job, d = jobfile("observer")
    mark = os.path.join(d, "mark")
    r = zrun(job, db3, "--observer", "--recurrences", "2", env={"SIM_MARK": mark})
    check(r.returncode == 0 and all(l.split()[4] == "False" for l in open(mark)),
          f"observer mode: {r.stderr}")
    check(all(t["power_limit"] is None for t in history(db3, JOB_ID)["trials"]), "observer PL")

    # errors: a bad job file, a command that cannot start, missing and malformed result files,
    # an unreachable or unreadable database
    bad, _ = jobfile("bad", default_bs=12)
    r = zrun(bad, os.path.join(TMP, "e.db"))
    check(r.returncode == 1 and "'default_bs' must be one of 'batch_sizes'" in r.stderr, r.stderr)
    with open(bad, "w") as f:
        f.write("{broken")
    r = zrun(bad, os.path.join(TMP, "e.db"))
    check(r.returncode == 1 and "not a JSON object" in r.stderr, r.stderr)
    nostart, _ = jobfile("nostart", command=["/nonexistent/trainer", "{bs}"])
    r = zrun(nostart, os.path.join(TMP, "e1.db"))
    check(r.returncode == 1 and "failed to start: /nonexistent/trainer" in r.stderr, r.stderr)
    job, d = jobfile("missing")
    db4 = os.path.join(TMP, "h4.db")
    r = zrun(job, db4, env={"SIM_FAIL_BS": "32"})
    check(r.returncode == 1 and "rec01+try01+bs32.train.json does not exist" in r.stderr
          and "exited with status 3" in r.stderr, r.stderr)
    r = zrun(job, db4, env={"SIM_MALFORMED": "1"})
    check(r.returncode == 1 and "is malformed" in r.stderr, r.stderr)
    r = zrun(job, db4, "--recurrences", "2")  # the next invocation retries the same decision
    h = history(db4, JOB_ID)["trials"]
    check(r.returncode == 0 and [t["status"] for t in h][:3] == ["Failed", "Failed", "Succeeded"]
          and h[0]["exit_status"] == 3 and h[2]["batch_size"] == 32, f"retry after failure {h}")
    # the first recurrence must reach the target (the original's rule); the job then gives up
    # and stays given up
    nodef, _ = jobfile("nodefault", default_bs=128)
    db8 = os.path.join(TMP, "h8.db")
    r = zrun(nodef, db8)
    check(r.returncode == 1 and "The default batch size 128 did not converge." in r.stderr,
          f"default does not converge: {r.stderr}")
    r = zrun(nodef, db8)
    check(r.returncode == 1 and "zeus run: error:" in r.stderr, f"given up stays: {r.stderr}")
    h = history(db8, "synthetic+mlp+bs128+adam+lr0.001+tm0.9+me5")["trials"]
    check(len(h) == 1 and h[0]["status"] == "NotConverged" and "did not converge" in h[0]["message"],
          f"the given-up trial is recorded {h}")
    r = zrun(job, "postgresql://zeus@/x?host=/nonexistent-dir&connect_timeout=2")
    check(r.returncode == 1 and "cannot connect to PostgreSQL" in r.stderr, r.stderr)
    garbage = os.path.join(TMP, "garbage.db")
    with open(garbage, "wb") as f:
        f.write(b"this is not a database" * 100)
    r = zrun(job, garbage)
    check(r.returncode == 1 and "database" in r.stderr and "not a database" in r.stderr, r.stderr)

    # the store's location: ZEUS_DB, else the user's data folder (XDG_DATA_HOME)
    job, d = jobfile("where")
    cmd = [ZEUS_BSO, "run", job, "--log-base", os.path.join(TMP, "logs")]
    r = subprocess.run(cmd, capture_output=True, text=True,
                       env={**os.environ, "ZEUS_DB": os.path.join(d, "env.db")})
    check(r.returncode == 0 and os.path.exists(os.path.join(d, "env.db")), f"ZEUS_DB {r.stderr}")
    env = {k: v for k, v in os.environ.items() if k != "ZEUS_DB"}
    r = subprocess.run(cmd, capture_output=True, text=True,
                       env={**env, "XDG_DATA_HOME": os.path.join(d, "xdg")})
    check(r.returncode == 0 and os.path.exists(os.path.join(d, "xdg", "zeus", "history.db")),
          f"default store {r.stderr}")
    # a store from a newer zeus (schema version above ours) is refused, not modified
    import sqlite3
    con = sqlite3.connect(os.path.join(d, "env.db"))
    con.execute("UPDATE zeus_schema SET version = 99")
    con.commit()
    con.close()
    r = subprocess.run([ZEUS_BSO, "history", "--db", os.path.join(d, "env.db")],
                       capture_output=True, text=True)
    check(r.returncode == 1 and "schema version 99, newer than this zeus knows" in r.stderr,
          f"newer schema: {r.stderr}")

    # kill -9 of the driver mid-trial: its job goes with it, the next start records the trial
    # as Interrupted and makes the same decision again
    db5 = os.path.join(TMP, "h5.db")
    job, d = jobfile("killdriver")
    mark = os.path.join(d, "mark")
    p = zrun(job, db5, "--recurrences", "3", env={"SIM_MARK": mark, "SIM_EPOCH_SLEEP": "0.3"},
             wait=False)
    deadline = time.time() + 30
    while time.time() < deadline and not (os.path.exists(mark) and len(open(mark).readlines()) >= 2):
        time.sleep(0.05)
    p.kill()
    p.wait()
    jobpid = int(open(mark).readlines()[-1].split()[5])
    for _ in range(100):
        try:
            os.kill(jobpid, 0)
            time.sleep(0.05)
        except ProcessLookupError:
            break
    else:
        check(False, "the job outlived its killed driver")
    r = zrun(job, db5, "--recurrences", "2")
    h = history(db5, JOB_ID)["trials"]
    check(r.returncode == 0 and "recorded as Interrupted" in r.stdout, f"repair: {r.stdout[-500:]}")
    check(h[1]["status"] == "Interrupted" and h[2]["batch_size"] == h[1]["batch_size"],
          f"interrupted trial retried with the same decision: {h}")
    replay(job, db5, "killdriver")

    # kill -9 of the job: the driver reports it (no result file), the next start retries
    db6 = os.path.join(TMP, "h6.db")
    job, d = jobfile("killjob")
    mark = os.path.join(d, "mark")
    p = zrun(job, db6, env={"SIM_MARK": mark, "SIM_EPOCH_SLEEP": "0.5"}, wait=False)
    while time.time() < deadline + 30 and not os.path.exists(mark):
        time.sleep(0.05)
    time.sleep(0.2)
    os.kill(int(open(mark).read().split()[5]), signal.SIGKILL)
    out = p.communicate(timeout=60)[0]
    check(p.returncode == 1 and "exited with status 137" in out, f"job killed: {out[-500:]}")
    r = zrun(job, db6)
    h = history(db6, JOB_ID)["trials"]
    check(r.returncode == 0 and h[0]["status"] == "Failed" and h[0]["exit_status"] == 137 and
          h[1]["status"] == "Succeeded", f"after the job was killed: {h}")

    concurrent_drivers(os.path.join(TMP, "h7.db"), "sqlite")
    run_policy(os.path.join(TMP, "h9.db"))
    hostile.run_refusals(sys.modules[__name__])


main()
