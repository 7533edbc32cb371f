"""``ZeusMaster`` (Zeus 0.8's ``zeus.run.master``): runs a recurring job's recurrences, each try
a real process launched with the ``ZEUS_*`` variables its ``ZeusDataLoader`` reads, with the
decisions (batch size, power limit, early-stopping bound, retries) taken by libzeus's
recurring-job driver, the one ``zeus run`` and the simulator use (``zeus/recurring.h``)."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
from datetime import datetime
from pathlib import Path

from zeus import _recurring
from zeus.analyze import HistoryEntry
from zeus.device import get_gpus
from zeus.job import Job
from zeus.policy.optimizer import PruningGTSBatchSizeOptimizer

logger = logging.getLogger(__name__)


def _py_float(x: float) -> str:
    return "inf" if math.isinf(x) else repr(float(x))


class ZeusMaster:
    """Drives a recurring job (see ``run``). ``log_base`` and ``monitor_path`` must be absolute
    paths; the maximum power limit of GPU 0 (homogeneous GPUs) prices time in the cost."""

    def __init__(
        self,
        batch_size_optimizer: PruningGTSBatchSizeOptimizer,
        log_base: str,
        monitor_path: str,
        seed: int = 123456,
        observer_mode: bool = False,
        profile_warmup_iters: int = 10,
        profile_measure_iters: int = 40,
    ) -> None:
        if not Path(log_base).is_absolute():
            raise ValueError("log_base must be specified as an absolute path")
        if not Path(monitor_path).is_absolute():
            raise ValueError("monitor_path must be specified as an absolute path")
        if not isinstance(batch_size_optimizer, PruningGTSBatchSizeOptimizer):
            raise TypeError("ZeusMaster runs libzeus's batch-size optimizer: pass a "
                            "zeus.policy.PruningGTSBatchSizeOptimizer (its settings are used)")
        self.bso = batch_size_optimizer
        self.log_base = log_base
        self.monitor_path = monitor_path
        self.seed = seed
        self.observer_mode = observer_mode
        self.profile_warmup_iters = profile_warmup_iters
        self.profile_measure_iters = profile_measure_iters
        gpus = get_gpus(ensure_homogeneous=True)
        self.max_pl = gpus.get_power_management_limit_constraints(0)[1] // 1000

    def build_logdir(
        self, job: Job, num_recurrence: int, eta_knob: float, beta_knob: float, exist_ok: bool = True
    ) -> str:
        """``log_base/<job>+x<n>+eta<eta>+beta<beta>+<time>`` (made)."""
        now = datetime.now().strftime("%Y%m%d%H%M%S")
        logdir = f"{self.log_base}/{job.to_logdir()}+x{num_recurrence}+eta{eta_knob}+beta{beta_knob}+{now}"
        os.makedirs(logdir, exist_ok=exist_ok)
        return logdir

    def run_job(
        self, job: Job, batch_size: int, learning_rate: float, seed: int, logdir: str,
        rec_i: int, tries: int, eta_knob: float, cost_ub: float,
    ) -> tuple[float, float, bool]:
        """Runs one try of the job (its command, in ``job.workdir``) and returns its energy (J),
        time (s) and whether it reached the target, from ``<logdir>/<job_id>+bs<bs>.train.json``."""
        job_id = f"rec{rec_i:02d}+try{tries:02d}"
        command = job.gen_command(batch_size, learning_rate, seed, rec_i)
        env = dict(os.environ)
        env.update({
            "ZEUS_LOG_DIR": logdir,
            "ZEUS_JOB_ID": job_id,
            "ZEUS_COST_THRESH": _py_float(cost_ub),
            "ZEUS_ETA_KNOB": _py_float(eta_knob),
            "ZEUS_TARGET_METRIC": _py_float(job.target_metric),
            "ZEUS_MONITOR_PATH": self.monitor_path,
            "ZEUS_PROFILE_PARAMS": f"{self.profile_warmup_iters},{self.profile_measure_iters}",
            "ZEUS_USE_OPTIMAL_PL": str(not self.observer_mode),
        })
        with open(f"{logdir}/{job_id}+bs{batch_size}.train.log", "w") as log:
            proc = subprocess.run(command, env=env, cwd=job.workdir, stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"{job_id}: {command[0]} exited with {proc.returncode} (log: "
                               f"{logdir}/{job_id}+bs{batch_size}.train.log)")
        train_json = Path(f"{logdir}/{job_id}+bs{batch_size}.train.json")
        stats = json.loads(train_json.read_text())
        return float(stats["energy"]), float(stats["time"]), bool(stats["reached"])

    def _profile_costs(self, logdir: str, batch_size: int, eta_knob: float) -> list[tuple[int, float]]:
        """Each profiled limit's epoch cost from ``bs<bs>.power.json`` (ZeusDataLoader's),
        highest limit first."""
        path = Path(f"{logdir}/bs{batch_size}.power.json")
        if not path.exists():  # the job did not profile: it ran at the maximum limit
            return [(self.max_pl, 1.0)]
        doc = json.loads(path.read_text())
        costs = [
            (int(mw) // 1000, (eta_knob * p + (1 - eta_knob) * self.max_pl) / doc["train_throughput"][mw])
            for mw, p in doc["train_power"].items()
            if doc["train_throughput"].get(mw, 0) > 0
        ]
        return sorted(costs, key=lambda c: -c[0])

    def run(
        self, job: Job, num_recurrence: int, batch_sizes: list[int], beta_knob: float, eta_knob: float
    ) -> list[HistoryEntry]:
        """``num_recurrence`` recurrences of ``job`` over ``batch_sizes``; one entry per run.
        RuntimeError when the default batch size does not converge or a recurrence does not
        reach the target in 20 tries (libzeus's messages)."""
        if num_recurrence <= 0:
            raise ValueError("num_recurrence must be positive")
        if job.default_bs is None or job.default_bs not in batch_sizes:
            raise ValueError(f"Default batch size {job.default_bs} is not in {batch_sizes}")
        logdir = self.build_logdir(job, num_recurrence, eta_knob, beta_knob)
        beta = math.inf if beta_knob is None or beta_knob <= 0 else float(beta_knob)
        driver = _recurring.recurring_new(
            (float(eta_knob), beta, self.max_pl, self.bso._config()), job._c_job(), list(batch_sizes)
        )
        history: list[HistoryEntry] = []
        while True:
            rec, tries, bs, pl, profile, cost_ub = _recurring.recurring_next(driver)
            if rec >= num_recurrence:
                return history
            lr = job.scale_lr(bs) if job.default_lr is not None else math.nan
            logger.info("Recurrence %d, try %d: batch size %d", rec + 1, tries, bs)
            energy, time, reached = self.run_job(
                job, bs, lr, self.seed + rec, logdir, rec + 1, tries, eta_knob, cost_ub
            )
            if profile:
                pl = _recurring.recurring_profile(driver, self._profile_costs(logdir, bs, eta_knob))
            cost, ran, done, give_up = _recurring.recurring_report(driver, energy, time, reached)
            if ran:
                history.append(HistoryEntry(bs, pl, energy, reached, time))
            if give_up:
                raise RuntimeError(give_up)


__all__ = ["ZeusMaster"]
