"""Hostile input and a failing store for zeus-bso (issue 17, items 3, 6 and 8), used by
test_bso.py: each function takes t, test_bso's module (its serve/req/check/zrun helpers)."""
import json
import os
import signal
import sqlite3
import subprocess
import time

BIG = 2 ** 40


def raw_req(addr, method, path, data):
    """A request whose body is bytes as given (not valid UTF-8, a raw NUL)."""
    import http.client
    c = http.client.HTTPConnection(addr, timeout=30)
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


def hostile_inputs(t, addr, db):
    """Refused with 422 before the database, the same on SQLite and PostgreSQL: integers out of
    the columns' range, ids that are not UTF-8 or hold a NUL; nothing is stored, and
    `zeus history --json` still prints valid JSON."""
    spec = {**t.SPEC, "job_id": "mnist-hostile"}
    cases = [(k, v) for k in ("default_batch_size", "max_epochs", "num_pruning_rounds",
                              "window_size", "mab_num_explorations", "number_of_gpus")
             for v in (BIG, -BIG)] + [("mab_seed", 2 ** 60)]
    for field, value in cases:
        st, r = t.req(addr, "POST", "/jobs", {**spec, field: value})
        t.check(st == 422 and r["detail"][0]["loc"] == ["body", field],
                f"{field}={value}: want 422, got {st} {r}")
    st, r = t.req(addr, "POST", "/jobs", {**spec, "max_epochs": BIG})
    t.check(st == 422 and "less than or equal to 2147483647" in r["detail"][0]["msg"],
            f"the range is named: {r}")
    good = json.dumps(spec).encode()
    for field in ("job_id", "job_id_prefix", "gpu_model"):
        value = json.dumps(spec[field])[1:-1].encode()
        body = good.replace(b'"%s": "%s"' % (field.encode(), value),
                            b'"%s": "%s\xff\xfe"' % (field.encode(), value))
        t.check(body != good, f"{field} substituted")
        st, r = raw_req(addr, "POST", "/jobs", body)
        t.check(st == 422 and "not valid UTF-8" in r["detail"][0]["msg"], f"{field} latin: {st} {r}")
    for body in (json.dumps({**spec, "job_id": "mnist-hostile\u0000x"}).encode(),
                 json.dumps({**spec, "gpu_model": "A100\u0000"}).encode(),
                 good[:-1] + b', "x": "\x00"}'):
        st, r = raw_req(addr, "POST", "/jobs", body)
        t.check(st == 422 and "NUL" in r["detail"][0]["msg"], f"NUL in {body[:40]}: {st} {r}")
    for q in ("mnist-hostile%FF", "mnist-hostile%00x", "%C0%AF"):
        for method, path in (("GET", "/jobs/batch_size"), ("DELETE", "/jobs")):
            st, r = t.req(addr, method, path + "?job_id=" + q)
            t.check(st == 422 and r["detail"][0]["loc"] == ["query", "job_id"],
                    f"{method} {path} job_id={q}: {st} {r}")
    trial = {"job_id": "mnist-hostile", "batch_size": 32, "trial_number": 1}
    report = {**trial, "time": 1.0, "energy": 1.0, "metric": 0.5, "current_epoch": 1}
    for field in ("batch_size", "trial_number", "current_epoch"):
        st, r = t.req(addr, "POST", "/report", {**report, field: BIG})
        t.check(st == 422 and r["detail"][0]["loc"] == ["body", field], f"report {field}: {st} {r}")
    for field in ("batch_size", "trial_number"):
        st, r = t.req(addr, "PATCH", "/trials", {**trial, field: BIG})
        t.check(st == 422, f"end trial {field}: {st} {r}")
    st, r = raw_req(addr, "POST", "/report", json.dumps(report).encode().replace(
        b"mnist-hostile", b"mnist-\xff"))
    t.check(st == 422, f"report job_id latin: {st} {r}")
    # none of them reached the store, which still lists as valid JSON
    r = subprocess.run([t.ZEUS_BSO, "history", "--db", db, "--json"], capture_output=True)
    t.check(r.returncode == 0, f"history --json: {r.stderr}")
    jobs = json.loads(r.stdout.decode("utf-8"))
    t.check("mnist-hostile" not in json.dumps(jobs), f"nothing stored: {jobs}")
    # the unrefused form is still accepted
    st, r = t.req(addr, "POST", "/jobs", spec)
    t.check(st == 201, f"the plain spec registers: {st} {r}")


def history_of_an_old_store(t):
    """A store written before the checks may hold a job id that is not UTF-8: `zeus history
    --json` still prints valid JSON (the bad bytes as U+FFFD)."""
    db = os.path.join(t.TMP, "old.db")
    r = subprocess.run([t.ZEUS_BSO, "history", "--db", db], capture_output=True, text=True)
    t.check(r.returncode == 0, f"store made: {r.stderr}")
    con = sqlite3.connect(db)
    con.text_factory = bytes
    con.execute("INSERT INTO job (job_id, job_id_prefix, kind, spec, default_batch_size, eta_knob,"
                " target_metric, higher_is_better_metric, max_epochs, num_pruning_rounds,"
                " window_size, max_power, number_of_gpus, gpu_model, mab_prior_mean,"
                " mab_prior_precision, mab_num_explorations, min_cost_batch_size, created)"
                " VALUES (CAST(? AS TEXT), 'mnist', 'service', '{}', 8, 0.5, 0.5, 1, 5, 2, 0, 300,"
                " 1, 'x', 0, 0, 2, 8, 0)", (b"mnist-\xff\xfeold",))
    con.commit()
    con.close()
    r = subprocess.run([t.ZEUS_BSO, "history", "--db", db, "--json"], capture_output=True)
    try:
        jobs = json.loads(r.stdout.decode("utf-8"))
    except ValueError as e:
        jobs = f"invalid JSON: {e}: {r.stdout[:200]!r}"
    t.check(isinstance(jobs, list) and jobs[0]["job_id"] == "mnist-\ufffd\ufffdold",
            f"history --json of an old store: {jobs}")


def _outage(t, addr, want):
    """Every route answers 503 with a message naming the cause; returns the messages."""
    msgs = []
    for method, path, body in (("POST", "/jobs", {**t.SPEC, "job_id": "mnist-outage"}),
                               ("GET", "/jobs/batch_size?job_id=mnist-swap", None),
                               ("POST", "/report", {"job_id": "mnist-swap", "batch_size": 32,
                                                    "trial_number": 1, "time": 1.0,
                                                    "energy": 1.0, "metric": 0.95,
                                                    "current_epoch": 1}),
                               ("PATCH", "/trials", {"job_id": "mnist-swap", "batch_size": 32,
                                                     "trial_number": 1}),
                               ("DELETE", "/jobs?job_id=mnist-swap", None)):
        st, r = t.req(addr, method, path, body)
        t.check(st == 503 and want in r.get("message", ""), f"{want}: {method} {path}: {st} {r}")
        msgs.append(r)
    return msgs


def store_swapped(t):
    """A SQLite store deleted, moved away or replaced under a running server: 503 with the
    reason and a log line until the file is back; no write is acknowledged that is not in it."""
    db = os.path.join(t.TMP, "swap.db")
    srv, addr = t.serve(db, "--threads", "1")
    st, r = t.req(addr, "POST", "/jobs", {**t.SPEC, "job_id": "mnist-swap"})
    t.check(st == 201, f"register {st} {r}")
    st, trial = t.req(addr, "GET", "/jobs/batch_size?job_id=mnist-swap")
    t.check(st == 200, f"batch size {st} {trial}")
    # moved away and back: 503 meanwhile, then served again
    os.rename(db, db + ".moved")
    _outage(t, addr, "was deleted")
    os.rename(db + ".moved", db)
    st, r = t.req(addr, "GET", "/jobs/batch_size?job_id=mnist-swap")
    t.check(st == 200 and r["trial_number"] == 2, f"the file is back: {st} {r}")
    # a copy, then the original deleted: 503, and 503 again once the copy stands at its path
    copy = db + ".copy"
    src, dst = sqlite3.connect(db), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    os.unlink(db)
    _outage(t, addr, "was deleted")
    os.rename(copy, db)
    _outage(t, addr, "was replaced by another file")
    srv.send_signal(signal.SIGTERM)
    err = srv.communicate(timeout=10)[1]
    t.check("503" in err and "swap.db was deleted" in err and "was replaced" in err,
            f"a log line per refusal: {err[-800:]}")
    # restarted on the file now there: what was acknowledged is in it, nothing else
    srv, addr = t.serve(db)
    st, r = t.req(addr, "POST", "/jobs", {**t.SPEC, "job_id": "mnist-outage"})
    t.check(st == 201, f"the job refused during the outage was never stored: {st} {r}")
    h = json.loads(subprocess.run([t.ZEUS_BSO, "history", "mnist-swap", "--db", db, "--json"],
                                  capture_output=True, text=True).stdout)
    t.check([x["trial_number"] for x in h["trials"]] == [1, 2], f"trials kept {h['trials']}")
    srv.terminate()
    srv.wait()


def sqlite_read_only(t):
    """A SQLite store the server may only read (a write-protected file; the server runs as
    nobody when the test is root, whom permissions do not stop): writes answer 503, not 500."""
    d = os.path.join(t.TMP, "ro")
    os.makedirs(d)
    os.chmod(t.TMP, 0o755)
    os.chmod(d, 0o777)  # the server makes the WAL's -shm file here
    db = os.path.join(d, "ro.db")
    r = subprocess.run([t.ZEUS_BSO, "history", "--db", db], capture_output=True, text=True)
    t.check(r.returncode == 0, f"store made: {r.stderr}")
    os.chmod(db, 0o444)
    root = os.geteuid() == 0
    srv, addr = t.serve(db, prefix=["setpriv", "--reuid=nobody", "--regid=nogroup",
                                    "--clear-groups"] if root else [])
    st, r = t.req(addr, "POST", "/jobs", {**t.SPEC, "job_id": "mnist-ro"})
    t.check(st == 503 and "readonly database" in r.get("message", ""), f"read-only: {st} {r}")
    st, r = t.req(addr, "GET", "/jobs/batch_size?job_id=mnist-ro")
    t.check(st == 400, f"reads still answer: {st} {r}")
    srv.terminate()
    srv.wait()


def pg_unavailable(t, url):
    """PostgreSQL read-only (a standby, default_transaction_read_only) or down: 503, then
    served again once it is back."""
    srv, addr = t.serve(url, "--threads", "1")
    st, r = t.req(addr, "POST", "/jobs", {**t.SPEC, "job_id": "mnist-swap"})
    t.check(st == 201, f"register {st} {r}")
    psql = [os.path.join(t.PG_BIN, "psql"), url, "-v", "ON_ERROR_STOP=1", "-q", "-c"]

    def until(status, what, timeout=15):
        deadline = time.time() + timeout
        while True:
            st, r = t.req(addr, "POST", "/jobs", {**t.SPEC, "job_id": "mnist-ro-" + what})
            if st == status or time.time() > deadline:
                return st, r
            time.sleep(0.2)

    for sql in ("ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"):
        subprocess.run(psql + [sql], check=True, capture_output=True)
    st, r = until(503, "a")
    t.check(st == 503 and "read-only" in r.get("message", ""), f"read-only: {st} {r}")
    _outage(t, addr, "read-only")
    for sql in ("ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()"):
        subprocess.run(psql + [sql], check=True, capture_output=True)
    st, r = until(201, "b")
    t.check(st == 201, f"writable again: {st} {r}")
    subprocess.run(t.PG_CTL + ["-m", "fast", "stop"], check=True, capture_output=True,
                   timeout=60)
    try:
        for _ in range(3):
            st, r = t.req(addr, "GET", "/jobs/batch_size?job_id=mnist-swap")
            t.check(st == 503 and r["message"].startswith("database unavailable: "),
                    f"down: {st} {r}")
    finally:
        subprocess.run(t.PG_START, check=True, capture_output=True, timeout=60)
    st, r = until(201, "c")
    t.check(st == 201, f"back up: {st} {r}")
    srv.terminate()
    srv.wait()


def run_refusals(t):
    """zeus run: a job id that would put the log folder outside --log-base, a NUL in the job
    file, integers out of range: refused before anything is stored or created."""
    db = os.path.join(t.TMP, "refuse.db")
    outside = os.path.join(t.TMP, "outside")
    for over, want in (({"job_id": "../../outside"}, "contains a path separator"),
                       ({"job_id": ".."}, "contains '..'"),
                       ({"dataset": "a/b"}, "from 'dataset', 'network', 'optimizer'"),
                       ({"max_epochs": BIG}, "'max_epochs' must be an integer from 1"),
                       ({"batch_sizes": [8, BIG], "default_bs": 8}, "'batch_sizes' must hold"),
                       ({"command": ["true", "a\u0000b"]}, "NUL character"),
                       ({"job_id": "x\u0000/../.."}, "NUL character")):
        job, d = t.jobfile("refuse", **over)
        r = t.zrun(job, db)
        t.check(r.returncode == 1 and want in r.stderr, f"zeus run {over}: {r.returncode} "
                f"{r.stderr}")
    t.check(not os.path.exists(outside), "no folder outside --log-base")
    with open(job, "wb") as f:
        f.write(b'{"dataset": "\xff", "network": "mlp", "optimizer": "adam"}')
    r = t.zrun(job, db)
    t.check(r.returncode == 1 and "'dataset' is not valid UTF-8" in r.stderr, r.stderr)
    r = subprocess.run([t.ZEUS_BSO, "history", "--db", db, "--json"], capture_output=True,
                       text=True)
    t.check(r.returncode != 0 or json.loads(r.stdout) == [] or "outside" not in r.stdout,
            f"nothing stored: {r.stdout}")
