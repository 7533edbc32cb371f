"""ZeusDataLoader: the original Zeus's in-job side of `zeus run` (docs/spec/zeus-behavior.md 5.5).

A torch DataLoader that, driven by the environment `zeus run` sets, profiles the GPUs' power
limits inside the first epoch(s) of the first run of a batch size, picks the cost-optimal limit,
trains at it (or at the maximum in observer mode), stops early when one more epoch would push
the run's cost past ZEUS_COST_THRESH, and writes the result files `zeus run` reads, atomically.

Use: the train loader is constructed first (with max_epochs), then the eval loader;
    for epoch in train_loader.epochs():
        for batch in train_loader: ...
        for batch in eval_loader: ...
        train_loader.report_metric(metric, higher_is_better=True)

Two of the original's quirks are fixed (zeus-behavior.md 10.6): the monitor path is not passed
as approx_instant_energy, and the optimal limit's cost weighs time with the maximum limit in W
(the original mixes in mW)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, ClassVar, Dict, List, Optional

import torch
from torch.utils.data import DataLoader

from zeus import _zeus
from zeus.device import get_gpus
from zeus.monitor import ZeusMonitor
from zeus.util.env import get_env
from zeus.util.metric import ZeusCostThresholdExceededError, zeus_cost

logger = logging.getLogger(__name__)

NOT_PROFILING, WARMING_UP, PROFILING = "NOT_PROFILING", "WARMING_UP", "PROFILING"
EPOCH_WINDOW = "__ZeusDataLoader_epoch"


def _write_json_atomic(path: str, doc: Dict[str, Any]) -> None:
    """One line, Python's default separators; a reader never sees a partial file (libzeus's
    writer: atomic for a regular file, in place for a FIFO or a symlink's target)."""
    _zeus.write_file(path, json.dumps(doc))


def _call(obj: Any, snake: str, camel: str, *args: Any) -> Any:
    fn = getattr(obj, snake, None) or getattr(obj, camel)
    return fn(*args)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class ZeusDataLoader(DataLoader):
    """See the module's documentation."""

    # Shared by the train and eval loaders of one process (class-level, as the original).
    current_gpu_pl: ClassVar[int] = 0
    train_batch_size: ClassVar[int] = 0
    eval_num_samples: ClassVar[int] = 0
    train_power_result: ClassVar[Dict[int, float]] = {}
    train_tput_result: ClassVar[Dict[int, float]] = {}
    eval_power_result: ClassVar[Dict[int, float]] = {}
    eval_tput_result: ClassVar[Dict[int, float]] = {}
    optimal_pl: ClassVar[int] = 0
    train_epoch_time: ClassVar[List[float]] = []
    train_epoch_energy: ClassVar[List[List[float]]] = []
    eval_epoch_time: ClassVar[List[float]] = []
    eval_epoch_energy: ClassVar[List[List[float]]] = []
    monitor: ClassVar[Optional[ZeusMonitor]] = None
    _train_made: ClassVar[bool] = False
    _train_paths: ClassVar[Dict[str, str]] = {}

    def __init__(self, *args: Any, batch_size: int, max_epochs: int = -1,
                 distributed: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(*args, batch_size=batch_size, **kwargs)
        self.world_size, self.rank = 1, 0
        if distributed == "dp":
            import torch.distributed as dist  # noqa: PLC0415

            if not dist.is_available() or not dist.is_initialized():
                raise RuntimeError("torch.distributed must be available and initialized")
            sampler = self.sampler
            if not isinstance(sampler, torch.utils.data.distributed.DistributedSampler):
                raise ValueError("distributed='dp' needs a DistributedSampler")
            self.world_size, self.rank = dist.get_world_size(), dist.get_rank()
            if sampler.num_replicas != self.world_size or sampler.rank != self.rank:
                raise ValueError("the DistributedSampler disagrees with the process group")
        elif distributed is not None:
            raise ValueError(f"Unknown distributed setting {distributed!r}")
        self.split = "train" if max_epochs != -1 else "eval"
        self.max_epochs = max_epochs
        self.epoch_num = 0
        self.sample_num = 0
        cls = ZeusDataLoader
        if self.split == "train":
            if cls._train_made:
                raise ValueError("Specify max_epochs only to the train dataloader.")
            cls._train_made = True
            cls.train_batch_size = batch_size * self.world_size
        elif not cls._train_made:
            raise RuntimeError("Construct the train dataloader first.")

        self.target_metric = get_env("ZEUS_TARGET_METRIC", float)
        self.logdir = get_env("ZEUS_LOG_DIR", str, default="zeus_log")
        self.job_id = get_env("ZEUS_JOB_ID", str, default="zeus")
        self.cost_thresh = get_env("ZEUS_COST_THRESH", float, default=float("inf"))
        self.eta_knob = get_env("ZEUS_ETA_KNOB", float, default=0.5)
        self.warmup_iter, self.profile_iter = map(
            int, get_env("ZEUS_PROFILE_PARAMS", str, default="10,40").split(",")
        )
        self.use_optimal_pl = get_env("ZEUS_USE_OPTIMAL_PL", bool, default=True)
        os.makedirs(self.logdir, exist_ok=True)
        if self.split == "train":
            cls._train_paths = {
                "train_json": os.path.join(
                    self.logdir, f"{self.job_id}+bs{cls.train_batch_size}.train.json"
                ),
                "power_json": os.path.join(self.logdir, f"bs{cls.train_batch_size}.power.json"),
            }
        self.train_json = cls._train_paths["train_json"]
        self.power_json = cls._train_paths["power_json"]

        self.num_samples = len(self)  # iterations per epoch
        if self.split == "eval":
            cls.eval_num_samples = self.num_samples
        else:
            if self.warmup_iter + self.profile_iter >= self.num_samples:
                f = (self.num_samples - 1) / (self.warmup_iter + self.profile_iter)
                self.warmup_iter = int(self.warmup_iter * f)
                self.profile_iter = int(self.profile_iter * f)
                if self.warmup_iter == 0 or self.profile_iter == 0:
                    raise RuntimeError(
                        f"Number of iterations per epoch ({self.num_samples}) is too small "
                        "to profile power limits: use a smaller batch size."
                    )
            cls.train_epoch_energy = [[0.0] * max_epochs for _ in range(self.world_size)]
            cls.eval_epoch_energy = [[0.0] * max_epochs for _ in range(self.world_size)]
            cls.train_epoch_time, cls.eval_epoch_time = [], []

        self.gpus = get_gpus(ensure_homogeneous=True)
        for i in range(self.world_size):
            try:  # a speed-up only: not having the permission is no reason to fail
                _call(self.gpus, "set_persistence_mode", "setPersistenceMode", i, True)
            except Exception as e:  # noqa: BLE001
                logger.warning("Cannot enable persistence mode on GPU %d: %s", i, e)
        min_mw, max_mw = _call(
            self.gpus, "get_power_management_limit_constraints",
            "getPowerManagementLimitConstraints", 0,
        )
        self.max_pl_w = max_mw // 1000
        self.power_limits = list(range(max_mw, min_mw - 25_000, -25_000))
        self.prof_state = NOT_PROFILING
        self.prof_pl_index = 0
        self.warmup_start = self.prof_start = 0
        if self.split == "train" and self.rank == 0:
            self.should_profile = not os.path.exists(self.power_json)
            cls.monitor = ZeusMonitor(gpu_indices=list(range(self.world_size)))
            if not self.should_profile:
                with open(self.power_json) as f:
                    doc = json.load(f)
                for key in ("train_power", "train_throughput", "eval_power", "eval_throughput"):
                    target = {
                        "train_power": cls.train_power_result,
                        "train_throughput": cls.train_tput_result,
                        "eval_power": cls.eval_power_result,
                        "eval_throughput": cls.eval_tput_result,
                    }[key]
                    target.clear()
                    target.update({int(k): v for k, v in doc[key].items()})
                cls.optimal_pl = int(doc["optimal_pl"])
                self._set_gpu_steady_power_limit()
        else:
            self.should_profile = not os.path.exists(self.power_json)
        self.reached = False
        self._iter: Any = None

    # ---- power limits ----------------------------------------------------------------------
    def _set_gpu_power_limit(self, pl_mw: int) -> None:
        cls = ZeusDataLoader
        if self.rank != 0 or cls.current_gpu_pl == pl_mw:
            return
        for i in range(self.world_size):
            _call(self.gpus, "set_power_management_limit", "setPowerManagementLimit", i, pl_mw)
        cls.current_gpu_pl = pl_mw

    def _set_gpu_steady_power_limit(self) -> None:
        pl = ZeusDataLoader.optimal_pl if self.use_optimal_pl else self.power_limits[0]
        self._set_gpu_power_limit(pl)

    def _compute_optimal_pl(self) -> int:
        cls = ZeusDataLoader
        best, best_cost = 0, float("inf")
        for pl in self.power_limits:  # ties: the first (higher) limit
            cost = (
                self.eta_knob * cls.train_power_result[pl]
                + (1 - self.eta_knob) * self.max_pl_w * self.world_size
            ) / cls.train_tput_result[pl]
            if cost < best_cost:
                best, best_cost = pl, cost
        return best

    # ---- iteration -------------------------------------------------------------------------
    def __iter__(self):  # type: ignore[override]
        assert self.prof_state == NOT_PROFILING, "an epoch began in the middle of profiling"
        self.epoch_num += 1
        self.sample_num = 0
        if self.rank == 0:
            ZeusDataLoader.monitor.begin_window(EPOCH_WINDOW)
        if self.split == "train" and not self.should_profile:
            self._set_gpu_steady_power_limit()
        self._iter = super().__iter__()
        return self

    def __next__(self) -> Any:
        self.sample_num += 1
        try:
            data = next(self._iter)
        except StopIteration:
            self._end_epoch()
            raise
        cls = ZeusDataLoader
        if (self.split == "train" and self.should_profile
                and self.prof_pl_index < len(self.power_limits)):
            s = self.sample_num
            if self.prof_state == NOT_PROFILING:
                if s + self.warmup_iter + self.profile_iter < self.num_samples:
                    _sync()
                    self._set_gpu_power_limit(self.power_limits[self.prof_pl_index])
                    self.warmup_start = s
                    self.prof_state = WARMING_UP
            elif self.prof_state == WARMING_UP:
                if s - self.warmup_start == self.warmup_iter:
                    if self.rank == 0:
                        cls.monitor.begin_window(f"__ZeusDataLoader_power_limit_{cls.current_gpu_pl // 1000}")
                    self.prof_start = s
                    self.prof_state = PROFILING
            elif s - self.prof_start == self.profile_iter:
                self.prof_state = NOT_PROFILING
                _sync()
                self.prof_pl_index += 1
                if self.rank == 0:
                    m = cls.monitor.end_window(
                        f"__ZeusDataLoader_power_limit_{cls.current_gpu_pl // 1000}"
                    )
                    cls.train_power_result[cls.current_gpu_pl] = m.total_energy / m.time
                    cls.train_tput_result[cls.current_gpu_pl] = self.profile_iter / m.time
                if self.prof_pl_index == len(self.power_limits) and self.rank == 0:
                    cls.optimal_pl = self._compute_optimal_pl()
                    self._set_gpu_power_limit(cls.optimal_pl)  # even in observer mode
        return data

    def _end_epoch(self) -> None:
        _sync()
        if self.rank != 0:
            return
        cls = ZeusDataLoader
        m = cls.monitor.end_window(EPOCH_WINDOW)
        energies = [m.gpu_energy[i] if hasattr(m, "gpu_energy") else m.energy[i]
                    for i in range(self.world_size)]
        if self.split == "train":
            cls.train_epoch_time.append(m.time)
            for i, e in enumerate(energies):
                cls.train_epoch_energy[i][self.epoch_num - 1] = e
        else:
            cls.eval_epoch_time.append(m.time)
            for i, e in enumerate(energies):
                if self.epoch_num - 1 < len(cls.eval_epoch_energy[i]):
                    cls.eval_epoch_energy[i][self.epoch_num - 1] = e
            if not os.path.exists(self.power_json):
                cls.eval_tput_result[cls.current_gpu_pl] = self.num_samples / m.time
                cls.eval_power_result[cls.current_gpu_pl] = sum(energies) / m.time
                if cls.optimal_pl != 0:
                    _write_json_atomic(self.power_json, {
                        "job_id": self.job_id,
                        "train_power": {str(k): v for k, v in cls.train_power_result.items()},
                        "train_throughput": {str(k): v for k, v in cls.train_tput_result.items()},
                        "eval_power": {str(k): v for k, v in cls.eval_power_result.items()},
                        "eval_throughput": {str(k): v for k, v in cls.eval_tput_result.items()},
                        "optimal_pl": cls.optimal_pl,
                    })

    # ---- the training loop -----------------------------------------------------------------
    def report_metric(self, metric: float, higher_is_better: bool) -> None:
        """The validation metric of the epoch just finished."""
        if self.split != "train":
            raise RuntimeError("Use report_metric on the train dataloader.")
        self.reached = metric >= self.target_metric if higher_is_better else metric <= self.target_metric

    def _totals(self):
        cls = ZeusDataLoader
        time_s = sum(cls.train_epoch_time) + sum(cls.eval_epoch_time)
        energy = sum(map(sum, cls.train_epoch_energy)) + sum(map(sum, cls.eval_epoch_energy))
        return energy, time_s, zeus_cost(energy, time_s, self.eta_knob, self.max_pl_w * self.world_size)

    def _write_result(self, energy: float, time_s: float, cost: float, reached: bool) -> None:
        _write_json_atomic(self.train_json, {"energy": energy, "time": time_s, "cost": cost,
                                             "num_epochs": self.epoch_num, "reached": reached})

    def epochs(self):
        """Yields epoch numbers 0, 1, 2, ... until the target is reached, max_epochs pass, or
        (ZeusCostThresholdExceededError) the next epoch would cross ZEUS_COST_THRESH.

        With distributed="dp", rank 0 decides (and alone writes the result files) and every rank
        follows its decision at each epoch boundary: they stop together, and all raise
        ZeusCostThresholdExceededError together. (The original raised on rank 0 only, leaving
        the other ranks waiting in their next collective; this is what it intends.)"""
        if self.split != "train":
            raise RuntimeError("Use epochs() on the train dataloader.")
        while True:
            decision = self._decide() if self.rank == 0 else None
            if self.world_size > 1:
                import torch.distributed as dist  # noqa: PLC0415

                box = [decision]
                dist.broadcast_object_list(box, src=0)
                decision = box[0]
            if decision[0] == "stop":
                return
            if decision[0] == "threshold":
                raise ZeusCostThresholdExceededError(*decision[1:], self.cost_thresh)
            yield self.epoch_num

    def _decide(self) -> tuple:
        """Rank 0's decision at an epoch boundary: ("stop",), ("threshold", time, energy, cost,
        next_cost) or ("go",)."""
        cls = ZeusDataLoader
        energy, time_s, cost = self._totals()
        if self.reached:
            self._write_result(energy, time_s, cost, True)
            return ("stop",)
        if self.epoch_num >= self.max_epochs:
            self._write_result(energy, time_s, cost, False)
            return ("stop",)
        if self.epoch_num == 0 or self.should_profile and not os.path.exists(self.power_json):
            if self.epoch_num and cost >= self.cost_thresh:
                logger.info("Cost %.2f is over the threshold while profiling.", cost)
            return ("go",)
        opt = cls.optimal_pl
        train_t = self.num_samples / cls.train_tput_result[opt]
        eval_t = cls.eval_num_samples / cls.eval_tput_result[opt]
        next_energy = train_t * cls.train_power_result[opt] + eval_t * cls.eval_power_result[opt]
        next_cost = zeus_cost(energy + next_energy, time_s + train_t + eval_t,
                              self.eta_knob, self.max_pl_w * self.world_size)
        if next_cost >= self.cost_thresh:
            self._write_result(energy, time_s, cost, False)
            return ("threshold", time_s, energy, cost, next_cost)
        return ("go",)
