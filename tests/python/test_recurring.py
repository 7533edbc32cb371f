"""The 0.8 recurring-job tree (zeus.job, zeus.policy, zeus.simulate, zeus.analyze and their
zeus._legacy paths) over libzeus's batch-size code: the Python Simulator gives exactly the runs
`zeus simulate` gives (the C simulator) for the same seed, and the policies keep the original's
protocol (generator with StopIteration.value, ValueError/KeyError); their errors come from the
package's one table (zeus.device.exception.BY_ZEUS_ERROR)."""

from __future__ import annotations

import csv
import io
import math
import subprocess

import pytest

from conftest import BUILD, DATA

TRACES = DATA / "nsdi23-traces"


def _cli_runs(*args: str) -> list[tuple]:
    out = subprocess.run(
        [str(BUILD / "zeus"), "simulate", *args, "--csv", "-", "--trace-dir", str(TRACES)],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    return [
        (int(r["batch_size"]), int(r["power_limit"]), float(r["energy"]), r["reached"] == "True", float(r["time"]))
        for r in csv.DictReader(io.StringIO(out))
    ]


def test_simulator_matches_the_c_simulator_run_for_run():
    from zeus._legacy.simulate import Simulator as LegacySimulator
    from zeus.analyze import HistoryEntry
    from zeus.job import Job
    from zeus.policy import JITPowerLimitOptimizer, PruningGTSBatchSizeOptimizer
    from zeus.simulate import Simulator

    assert LegacySimulator is Simulator
    sim = Simulator(
        str(TRACES / "summary_train.csv"), str(TRACES / "summary_power_v100.csv"),
        PruningGTSBatchSizeOptimizer(seed=7), JITPowerLimitOptimizer(), seed=7,
    )
    job = Job("librispeech", "deepspeech2", "adamw", 40.0, 16, default_bs=192)
    history = sim.simulate_one_job(job, 30, beta_knob=2.0, eta_knob=0.5)
    expected = _cli_runs("single", "--seed", "7", "--num-recurrence", "30")
    assert len(history) >= 30 and all(isinstance(h, HistoryEntry) for h in history)
    assert [(h.bs, h.pl, h.energy, h.reached, h.time) for h in history] == expected
    # the same simulator again: fresh policies, the same runs (the original deep-copies them)
    assert sim.simulate_one_job(job, 30, 2.0, 0.5) == history
    assert 192 in sim.batch_sizes(job)
    with pytest.raises(KeyError, match="mnist"):
        sim.simulate_one_job(Job("mnist", "lenet", "sgd", 0.99, 10, 64), 2, 2.0, 0.5)


def test_policies_protocol():
    from zeus.job import Job
    from zeus.policy.mab import GaussianTS
    from zeus.policy.optimizer import (
        JITPowerLimitOptimizer,
        PruningExploreManager,
        PruningGTSBatchSizeOptimizer,
    )

    explorer = PruningExploreManager([8, 16, 32, 64], default=32, num_pruning_rounds=1)
    tried = []
    with pytest.raises(StopIteration) as stop:  # the original's protocol: a call per size
        while True:
            bs = explorer.next_batch_size()
            tried.append(bs)
            explorer.report_batch_size_result(bs, cost=float(bs), reached=bs != 8)
    assert tried[0] == 32 and 8 in tried and 64 in tried
    assert stop.value.value == [16, 32, 64]

    mab = GaussianTS([1, 2, 3], reward_precision=1.0, num_exploration=1, seed=3, verbose=False)
    explored = {mab.predict() for _ in range(1)}
    mab.fit([1, 2, 3, 3], [-5.0, -1.0, -9.0, -7.0], reset=True)
    exp = mab.predict_expectations()
    assert exp[2] > exp[1] > exp[3] and explored <= {1, 2, 3}

    job = Job("cifar100", "shufflenetv2", "adadelta", 0.6, 100, default_bs=128)
    bso = PruningGTSBatchSizeOptimizer(seed=1, verbose=False)
    with pytest.raises(ValueError, match="not registered"):
        bso.predict(job)
    bso.register_job(job, [32, 64, 128, 256])
    assert bso.predict(job) == 128
    bso.observe(job, 128, 10.0, True)
    with pytest.raises(ValueError):
        bso.register_job(Job("a", "b", "c", 1.0, 1, default_bs=5), [32, 64])
    plo = JITPowerLimitOptimizer(verbose=False)
    assert plo.predict(job, 128) is None
    plo.observe(job, 128, 250, 100.0)
    plo.observe(job, 128, 200, 90.0)
    plo.observe(job, 128, 175, 95.0)
    assert plo.predict(job, 128) == 200


def test_job_and_analyze(tmp_path):
    from zeus.analyze import avg_power, energy
    from zeus.job import Job
    from zeus.utils.metric import energy as energy_new

    job = Job("librispeech", "deepspeech2", "adamw", 40.0, 16, 192, 0.001,
              command=["train", "--bs", "{bs}", "--lr", "{lr}", "{seed}", "{epochs}", "{slice_number}"])
    assert str(job) == "Job(librispeech,deepspeech2,adamw,40.0,bs192~16)"
    assert job.to_logdir() == "librispeech+deepspeech2+bs192+adamw+lr0.001+tm40.0+me16"
    assert job.gen_command(96, 0.5, 3, 2) == ["train", "--bs", "96", "--lr", "0.5", "3", "16", "2"]
    assert math.isclose(job.scale_lr(768), 0.002)
    assert hash(job) == hash(Job("librispeech", "deepspeech2", "adamw", 40.0, 16, 192, 0.001))
    with pytest.raises(NotImplementedError):
        Job("a", "b", "lamb", 1.0, 1, 2, 0.1).scale_lr(4)
    log = tmp_path / "power.csv"
    log.write_text(
        "Time,Power\n2024-01-01 00:00:00,100000\n2024-01-01 00:00:01,200000\n"
        "2024-01-01 00:00:03,200000\n2024-01-01 00:00:04,0\n2024-01-01 00:00:0"
    )
    assert energy(log) == energy_new(log) == 150.0 + 400.0 + 100.0
    assert energy(log, start=1.0) == 500.0 and energy(log, end=-1.0) == 550.0
    assert avg_power(log) == 650.0 / 4
    with pytest.raises(ValueError, match="At least 2 points"):
        avg_power(log, start=3.5)


def test_walk_ts_policy_keyword():
    """policy="walk-ts" (ours) reaches libzeus through the 0.8 Simulator: exactly the runs of
    `zeus simulate single --policy walk-ts`; the default stays the original's."""
    from zeus.job import Job
    from zeus.policy import JITPowerLimitOptimizer, PruningGTSBatchSizeOptimizer
    from zeus.simulate import Simulator

    assert PruningGTSBatchSizeOptimizer().policy == "pruning-gts"
    bso = PruningGTSBatchSizeOptimizer(seed=7, policy="walk-ts")
    assert bso.name == "walk-ts BSO"
    sim = Simulator(
        str(TRACES / "summary_train.csv"), str(TRACES / "summary_power_v100.csv"),
        bso, JITPowerLimitOptimizer(), seed=7,
    )
    job = Job("librispeech", "deepspeech2", "adamw", 40.0, 16, default_bs=192)
    history = sim.simulate_one_job(job, 30, beta_knob=2.0, eta_knob=0.5)
    expected = _cli_runs("single", "--seed", "7", "--num-recurrence", "30", "--policy", "walk-ts")
    assert [(h.bs, h.pl, h.energy, h.reached, h.time) for h in history] == expected
    assert expected != _cli_runs("single", "--seed", "7", "--num-recurrence", "30")
    bso.register_job(job, [48, 96, 192])
    assert bso.predict(job) == 192
    known = r"unknown batch-size policy 'greedy' \(known: pruning-gts, walk-ts\)"
    with pytest.raises(ValueError, match=known):
        PruningGTSBatchSizeOptimizer(policy="greedy")


def test_errors_come_from_the_one_table(tmp_path):
    """zeus._recurring (a module of its own) raises through zeus._zeus's one table,
    BY_ZEUS_ERROR, with its own libzeus's detail and the libzeus code in zeus_error: the same
    classes as the monitor's; only ZEUS_ENOENT stays the original's KeyError (a dict lookup)."""
    from zeus import _recurring
    from zeus.device.exception import BY_ZEUS_ERROR
    from zeus.job import Job
    from zeus.policy.optimizer import PruningGTSBatchSizeOptimizer

    bso = PruningGTSBatchSizeOptimizer(seed=1, verbose=False)
    with pytest.raises(ValueError, match="Default batch size 5 not in the batch sizes") as e:
        bso.register_job(Job("a", "b", "c", 1.0, 1, default_bs=5), [32, 64])
    assert type(e.value) is BY_ZEUS_ERROR["ZEUS_EINVAL"] and e.value.zeus_error == "ZEUS_EINVAL"

    bad = tmp_path / "train.csv"
    bad.write_text("x\n1\n")
    with pytest.raises(ValueError, match=f"{bad}: missing column 'dataset'") as e:
        _recurring.trace_load(str(bad), str(bad))
    assert type(e.value) is BY_ZEUS_ERROR["ZEUS_EPARSE"] and e.value.zeus_error == "ZEUS_EPARSE"

    with pytest.raises(KeyError, match="cannot open") as e:
        _recurring.trace_load(str(tmp_path / "none.csv"), str(bad))
    assert e.value.zeus_error == "ZEUS_ENOENT"
