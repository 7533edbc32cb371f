"""Models shared by the batch-size optimizer's client and service (the newer Zeus's
``zeus.optimizer.batch_size.common``): pydantic v1 models with the original's fields, defaults,
validation and messages (the service, ``zeus bso serve``, answers the same 422 bodies)."""

from __future__ import annotations

from typing import Any, List, Optional

from zeus.utils.pydantic_v1 import BaseModel, Field, root_validator, validator

REGISTER_JOB_URL = "/jobs"
DELETE_JOB_URL = "/jobs"
GET_NEXT_BATCH_SIZE_URL = "/jobs/batch_size"
REPORT_RESULT_URL = "/report"
REPORT_END_URL = "/trials"


class JobParams(BaseModel):
    """A recurring job's parameters (``job_id`` required; see ``JobSpec`` for the user's)."""

    job_id: str
    job_id_prefix: str
    batch_sizes: List[int]
    default_batch_size: int = Field(gt=0)
    eta_knob: float = 0.5
    beta_knob: Optional[float] = 2.0
    target_metric: float = 0.50
    higher_is_better_metric: bool = True
    max_epochs: int = Field(default=100, gt=0)
    num_pruning_rounds: int = Field(default=2, ge=0)
    window_size: int = 0
    mab_prior_mean: float = 0.0
    mab_prior_precision: float = 0.0
    mab_num_explorations: int = Field(default=2, ge=0)
    mab_seed: Optional[int] = None

    @validator("batch_sizes")
    def _validate_batch_sizes(cls, bs: List[int]) -> List[int]:
        if bs is not None and len(bs) > 0:
            bs.sort()
            return bs
        raise ValueError(f"Batch Sizes = {bs} is empty")

    @validator("eta_knob")
    def _validate_eta_knob(cls, v: float) -> float:
        if v < 0 or v > 1:
            raise ValueError("eta_knob should be in range [0,1]")
        return v

    @validator("beta_knob")
    def _validate_beta_knob(cls, v: Optional[float]) -> Optional[float]:
        if v is None or v > 0:
            return v
        raise ValueError(
            f"Invalid beta_knob({v}). To disable early stop, set beta_knob = None to disable "
            "or positive value."
        )

    @root_validator(skip_on_failure=True)
    def _check_default_batch_size(cls, values: dict[str, Any]) -> dict[str, Any]:
        bs, bss = values["default_batch_size"], values["batch_sizes"]
        if bs not in bss:
            raise ValueError(f"Default BS({bs}) not in batch_sizes({bss}).")
        return values


class GpuConfig(BaseModel):
    """The GPUs of the training (``max_power`` in W, summed over them)."""

    max_power: float = Field(gt=0)
    number_of_gpus: int = Field(gt=0)
    gpu_model: str

    @validator("gpu_model")
    def _validate_gpu_model(cls, v: str) -> str:
        if v is None or v == "":
            raise ValueError(f"Invalid gpu_model({v}). Shouldn't be empty.")
        return v


class JobSpec(JobParams):
    """What the user describes: ``job_id`` is optional (the service makes one from the
    prefix) and must start with ``job_id_prefix`` when given."""

    job_id: Optional[str]  # type: ignore[assignment]

    @root_validator(skip_on_failure=True)
    def _check_job_id(cls, values: dict[str, Any]) -> dict[str, Any]:
        job_id, prefix = values.get("job_id"), values["job_id_prefix"]
        if job_id is not None and not job_id.startswith(prefix):
            raise ValueError(f"Job_id({job_id}) does not start with prefix({prefix}).")
        return values


class JobSpecFromClient(JobSpec, GpuConfig):
    """What the client registers: the job and its GPUs (``job_id`` optional)."""


class CreatedJob(JobParams, GpuConfig):
    """The registered job as the service returns it (``job_id`` filled in)."""


class TrialId(BaseModel):
    """One trial of a job: the batch size to use and the trial's number."""

    job_id: str
    batch_size: int
    trial_number: int


class TrainingResult(TrialId):
    """A trial's cumulative time (s), energy (J), current metric and epoch (1-based)."""

    time: float
    energy: float
    metric: float
    current_epoch: int


class ReportResponse(BaseModel):
    """The service's answer to a report: stop training? converged? why."""

    stop_train: bool
    converged: bool
    message: str


__all__ = [
    "REGISTER_JOB_URL",
    "DELETE_JOB_URL",
    "GET_NEXT_BATCH_SIZE_URL",
    "REPORT_RESULT_URL",
    "REPORT_END_URL",
    "JobParams",
    "GpuConfig",
    "JobSpec",
    "JobSpecFromClient",
    "CreatedJob",
    "TrialId",
    "TrainingResult",
    "ReportResponse",
]
