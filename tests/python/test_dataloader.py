"""ZeusDataLoader (python/zeus/run) of the real package under `zeus run` (zeus-bso), with a real
PyTorch training loop (tests/python/dataloader_job.py: an MLP built in code on synthetic data)
on simulated GPUs (ZEUS_DEVICE=sim): the loader profiles the power limits through the real
extension's device layer and monitor, trains at the cost-optimal limit, and stops a recurrence
early when one more epoch would cross the cost threshold `zeus run` sets."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import BUILD, run_in_group

HERE = Path(__file__).resolve().parent
ZEUS_BSO = BUILD / "zeus-bso"
REPLAY = BUILD / "tests" / "bso_replay_check"
# One simulated A40 whose limits range over 150-300 W (7 limits to profile, all in the first
# epoch), 20 ms steps, a counter updated every millisecond. What the loader measures is real
# time, so on a loaded machine Python's own pace shows in it: the test checks what the loader
# did with its measurements, not the model's optimum (tests/unit and bench/ cover the model).
SIM = json.dumps({"gpus": [{"count": 1, "min_power_limit_w": 150, "step_time_ms": 20,
                            "energy_update_ms": 1}]})


def _job(tmp_path: Path) -> Path:
    job = {"dataset": "synthetic", "network": "mlp", "optimizer": "sgd", "target_metric": 0.95,
           "max_epochs": 5, "default_bs": 32, "default_lr": 0.1, "batch_sizes": [16, 32],
           "eta_knob": 0.5, "beta_knob": 3.0, "seed": 1, "max_power_w": 300,
           "command": [sys.executable, str(HERE / "dataloader_job.py"), "{bs}", "{seed}", "{lr}"],
           "workdir": str(tmp_path)}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def _cost(doc: dict, pl: str, eta: float = 0.5, max_w: int = 300) -> float:
    return (eta * doc["train_power"][pl] + (1 - eta) * max_w) / doc["train_throughput"][pl]


def test_zeus_run_trains_with_zeus_dataloader_on_simulated_gpus(tmp_path):
    assert ZEUS_BSO.exists(), f"{ZEUS_BSO} is not built (ZEUS_BSO=ON needs sqlite, libpq, libmicrohttpd)"
    job, db, logs = _job(tmp_path), tmp_path / "history.db", tmp_path / "logs"
    env = {**os.environ, "ZEUS_DEVICE": "sim", "ZEUS_SIM_CONFIG": SIM,
           "ZEUS_LOCK_DIR": str(tmp_path / "locks")}
    env.pop("ZEUS_NVML_LIBRARY")
    r = run_in_group([str(ZEUS_BSO), "run", str(job), "--db", str(db), "--log-base", str(logs),
                      "--recurrences", "2", "--profile-params", "1,2"], env=env, timeout=240)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr
    out = r.stdout
    jid = "synthetic+mlp+bs32+sgd+lr0.1+tm0.95+me5"
    h = json.loads(subprocess.run([str(ZEUS_BSO), "history", jid, "--db", str(db), "--json"],
                                  capture_output=True, text=True, check=True).stdout)
    trials = h["trials"]
    assert len({t["recurrence"] for t in trials}) == 2, trials

    # Every batch size run was profiled once, by the loader, over every limit; the limit it
    # chose is the cheapest of what it measured.
    profiles = {}
    for path in glob.glob(str(logs / (jid + "*") / "bs*.power.json")):
        doc = json.loads(Path(path).read_text())
        bs = int(os.path.basename(path)[2:].split(".")[0])
        limits = sorted(int(k) for k in doc["train_power"])
        assert limits == list(range(150_000, 300_001, 25_000)), doc
        assert doc["optimal_pl"] == int(min(doc["train_power"], key=lambda pl: _cost(doc, pl))), doc
        profiles[bs] = doc["optimal_pl"] // 1000
    assert profiles and set(profiles) == {t["batch_size"] for t in trials}, (profiles, trials, out.splitlines())
    # ... and every trial trained at it: `zeus run` recorded it, the GPU was set to it.
    for t in trials:
        assert t["power_limit"] == profiles[t["batch_size"]], (t, profiles)
    for pl in set(profiles.values()):
        assert f"at {pl} W" in out, out[-4000:]

    # An early stop by the cost threshold inside the job (ZeusCostThresholdExceededError): the
    # smaller batch explored in recurrence 2 needs four times the epochs (dataloader_job.py),
    # and that recurrence is retried.
    assert "exceeds cost threshold" in out, out[-4000:]
    stopped = [t for t in trials if t["status"] == "NotConverged"]
    assert stopped and stopped[0]["reached"] is False, trials
    assert any(t["recurrence"] == stopped[0]["recurrence"] and t["try_index"] == 2
               for t in trials), trials

    # The decisions are the simulator's, replayed from the history.
    hist = tmp_path / "history.json"
    hist.write_text(json.dumps(h))
    rr = subprocess.run([str(REPLAY), str(job), str(hist)], capture_output=True, text=True)
    assert rr.returncode == 0, rr.stdout + rr.stderr
