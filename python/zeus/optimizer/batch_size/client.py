"""Client of Zeus's batch-size optimizer service (`zeus bso serve`, docs/bso.md), with the API of
the newer Zeus's `zeus.optimizer.batch_size`: `JobSpec` describes the recurring job,
`BatchSizeOptimizer` registers it, asks for the batch size of this run, reports time and energy
after every epoch and stops training when the server says so.

Pure Python (the standard library's HTTP client); works against the original server too."""

from __future__ import annotations

import atexit
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, List, Optional

from .common import (
    DELETE_JOB_URL,
    GET_NEXT_BATCH_SIZE_URL,
    REGISTER_JOB_URL,
    REPORT_END_URL,
    REPORT_RESULT_URL,
    CreatedJob,
    JobSpec,
    JobSpecFromClient,
    TrialId,
)
from .exceptions import (
    ZeusBSOBadOperationError,
    ZeusBSOConfigError,
    ZeusBSOOperationOrderError,
    ZeusBSORuntimError,
    ZeusBSOTrainFailError,
)

try:
    from zeus.callback import Callback
except ImportError:  # stand alone: the callback protocol's no-op base

    class Callback:  # type: ignore[no-redef]
        """Training-loop hooks (zeus.callback.Callback)."""

        def on_train_begin(self) -> None: ...
        def on_train_end(self) -> None: ...
        def on_epoch_begin(self) -> None: ...
        def on_epoch_end(self) -> None: ...
        def on_step_begin(self) -> None: ...
        def on_step_end(self) -> None: ...
        def on_evaluate(self, metric: float) -> None: ...


logger = logging.getLogger(__name__)

TIMEOUT_S = 5.0  # httpx's default, which the original client uses


def _get_gpus():
    from zeus.device import get_gpus  # the Python package's device layer

    return get_gpus(ensure_homogeneous=True)


def _call(method: str, url: str, body: Optional[dict] = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as e:
        raise ZeusBSORuntimError(
            f"Zeus server returned status code {e.code}: {e.read().decode(errors='replace')}"
        ) from None
    except (urllib.error.URLError, OSError) as e:
        raise ZeusBSORuntimError(f"Cannot reach the Zeus server at {url}: {e}") from None
    return json.loads(text) if text else None


class BatchSizeOptimizer(Callback):
    """Asks the service for this run's batch size and reports every epoch's time and energy.

    Use: `bso = BatchSizeOptimizer(monitor, server_url, JobSpec(...))`; `bs =
    bso.get_batch_size()` (rank 0; broadcast it for data parallel training);
    `bso.on_train_begin()`; after each epoch's validation `bso.on_evaluate(metric)` and break
    when `bso.training_finished`. A run that ends without reaching the target raises
    ZeusBSOTrainFailError."""

    def __init__(self, monitor, server_url: str, job: JobSpec, rank: int = 0) -> None:
        gpus = _get_gpus()
        if len(gpus) == 0:
            raise ZeusBSOConfigError("No GPUs detected.")
        self.monitor = monitor
        self.server_url = server_url.rstrip("/")
        self.rank = rank
        n = len(monitor.gpu_indices)
        # the GPU layer's names (snake_case); older ones spelled NVML's (camelCase)
        limits = getattr(gpus, "get_power_management_limit_constraints", None) or getattr(
            gpus, "getPowerManagementLimitConstraints"
        )
        name = getattr(gpus, "get_name", None) or getattr(gpus, "getName")
        spec = JobSpecFromClient(
            **job.dict(),
            max_power=(limits(0)[1] // 1000) * n,
            number_of_gpus=n,
            gpu_model=name(0),
        )
        created = _call("POST", self.server_url + REGISTER_JOB_URL, json.loads(spec.json()))
        self.job = CreatedJob.parse_obj(created)
        logger.critical("Job is registered with job_id: %s", self.job.job_id)
        self.cur_epoch = 0
        self.running_time = 0.0
        self.consumed_energy = 0.0
        self.training_finished = False
        self.trial_number = 0
        self.current_batch_size = 0

    def get_batch_size(self) -> int:
        """The batch size of this run (asked once; rank 0 only)."""
        if self.rank != 0:
            raise ZeusBSOBadOperationError("Only rank 0 can call get_batch_size")
        if self.current_batch_size != 0:
            return self.current_batch_size
        self.cur_epoch = 0
        query = urllib.parse.urlencode({"job_id": self.job.job_id})
        trial = _call("GET", f"{self.server_url}{GET_NEXT_BATCH_SIZE_URL}?{query}")
        if trial["batch_size"] not in self.job.batch_sizes:
            raise ZeusBSORuntimError(
                f"Zeus server returned a strange batch_size: {trial['batch_size']}"
            )
        self.current_batch_size = trial["batch_size"]
        self.trial_number = trial["trial_number"]
        ended = TrialId(
            job_id=self.job.job_id,
            batch_size=self.current_batch_size,
            trial_number=self.trial_number,
        )

        def report_end() -> None:
            try:
                _call("PATCH", self.server_url + REPORT_END_URL, ended.dict())
            except Exception:  # the original ignores the answer
                pass

        atexit.register(report_end)
        return self.current_batch_size

    def on_train_begin(self) -> None:
        # Misuse used to surface as the monitor's "window 'BatciSizeOptimizerClient' already
        # exists": say what the call order is instead.
        if self.current_batch_size == 0:
            raise ZeusBSOOperationOrderError(
                "Call get_batch_size before on_train_begin (the server chooses the batch size)"
            )
        if getattr(self, "_measuring", False):
            raise ZeusBSOOperationOrderError(
                "on_train_begin was called twice: call it once, before the first epoch, then "
                "on_evaluate(metric) after every epoch until training_finished is True "
                "(docs/bso.md has the whole loop)"
            )
        self.training_finished = False
        self._measuring = True
        self.monitor.begin_window("BatciSizeOptimizerClient")

    def on_evaluate(self, metric: float) -> None:
        """Reports the epoch; sets training_finished when the server says stop."""
        if self.current_batch_size == 0:
            raise ZeusBSOOperationOrderError("Call get_batch_size before on_evaluate")
        if self.training_finished:
            return
        if not getattr(self, "_measuring", False):
            raise ZeusBSOOperationOrderError(
                "Call on_train_begin before on_evaluate (it starts measuring the training)"
            )
        self.cur_epoch += 1
        self._measuring = False
        m = self.monitor.end_window("BatciSizeOptimizerClient")
        self.running_time += m.time
        self.consumed_energy += m.total_energy
        answer = _call(
            "POST",
            self.server_url + REPORT_RESULT_URL,
            {
                "job_id": self.job.job_id,
                "batch_size": self.current_batch_size,
                "trial_number": self.trial_number,
                "time": self.running_time,
                "energy": self.consumed_energy,
                "metric": metric,
                "current_epoch": self.cur_epoch,
            },
        )
        if not answer["stop_train"]:
            self._measuring = True
            self.monitor.begin_window("BatciSizeOptimizerClient")
            return
        self.training_finished = True
        if not answer["converged"]:
            raise ZeusBSOTrainFailError(
                f"Train failed: {answer['message']} This batch size will not be selected "
                "again. Please re-launch the training"
            )
