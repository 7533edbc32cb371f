"""zeus-bso's POST /jobs answers byte for byte as the original's FastAPI service: each invalid
job spec's 422 body equals what the original's pydantic models (zeus.optimizer.batch_size.common,
the same models, fields and validators) produce in FastAPI's error format, and a registered job
carries its float fields as floats (2.0, not 2)."""

from __future__ import annotations

import http.client
import json
import subprocess

import pytest

from conftest import BUILD

VALID = {"job_id_prefix": "cifar", "batch_sizes": [32, 16, 64], "default_batch_size": 32,
         "max_power": 600, "number_of_gpus": 2, "gpu_model": "NVIDIA A40"}
CASES = [
    {"batch_sizes": []},
    {"default_batch_size": 8},
    {"default_batch_size": 0},
    {"beta_knob": -1},
    {"beta_knob": 0},
    {"eta_knob": 1.5},
    {"max_epochs": 0},
    {"num_pruning_rounds": -1},
    {"mab_num_explorations": -2},
    {"max_power": 0},
    {"number_of_gpus": 0},
    {"gpu_model": ""},
    {"job_id": "other-1"},
    {"max_power": 0, "beta_knob": -3.5, "default_batch_size": 7},
]


def _expected(body: dict) -> str:
    """The original service's answer: FastAPI's RequestValidationError handler over pydantic."""
    from zeus.optimizer.batch_size.common import JobSpecFromClient
    from zeus.utils.pydantic_v1 import ValidationError

    try:
        JobSpecFromClient.parse_obj(body)
    except ValidationError as e:
        detail = [{**err, "loc": ["body", *err["loc"]]} for err in e.errors()]
        return json.dumps({"detail": detail}, ensure_ascii=False, separators=(",", ":"))
    raise AssertionError(f"valid: {body}")


@pytest.fixture
def service(tmp_path):
    p = subprocess.Popen([str(BUILD / "zeus-bso"), "serve", "--port", "0", "--db", str(tmp_path / "bso.db")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("listening on http://"), (line, p.stderr.read() if p.poll() is not None else "")
    yield line.split()[-1].split("//", 1)[1].rstrip("/")
    p.terminate()
    assert p.wait(timeout=60) == 0


def _post(addr: str, body: dict) -> tuple[int, str]:
    c = http.client.HTTPConnection(addr, timeout=30)
    c.request("POST", "/jobs", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    try:
        return r.status, r.read().decode()
    finally:
        c.close()


@pytest.mark.parametrize("change", CASES, ids=[",".join(c) for c in CASES])
def test_422_bodies_are_the_originals(service, change):
    body = {**VALID, **change}
    status, text = _post(service, body)
    assert status == 422
    assert text == _expected(body)


def test_registered_job_floats_are_floats(service):
    status, text = _post(service, {**VALID, "beta_knob": 2, "eta_knob": 1})
    assert status in (200, 201), text
    for field in ('"eta_knob":1.0', '"beta_knob":2.0', '"target_metric":0.5', '"mab_prior_mean":0.0',
                  '"mab_prior_precision":0.0', '"max_power":600.0', '"number_of_gpus":2', '"max_epochs":100'):
        assert field in text, (field, text)


def test_unknown_trial_message_is_the_originals(service):
    from zeus.optimizer.batch_size.common import TrainingResult

    status, text = _post(service, {**VALID, "job_id": None})
    assert status in (200, 201), text
    job_id = json.loads(text)["job_id"]
    result = {"job_id": job_id, "batch_size": 32, "trial_number": 7, "time": 12.5,
              "energy": 3000.25, "metric": 0.5, "current_epoch": 3}
    c = http.client.HTTPConnection(service, timeout=30)
    c.request("POST", "/report", json.dumps(result), {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    # The original: ZeusBSOServiceBadOperationError(f"Unknown trial {result}") -> 400.
    assert r.status == 400, body
    assert json.loads(body) == {"message": f"Unknown trial {TrainingResult(**result)}"}, body
