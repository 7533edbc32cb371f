"""Recurring-job policies (Zeus 0.8's ``zeus.policy.optimizer``) over libzeus's batch-size code
(``zeus/batch_size.h``): the same decisions as the original for the same seeds."""

from __future__ import annotations

import logging
from collections import defaultdict

from zeus import _recurring
from zeus.job import Job
from zeus.policy.interface import BatchSizeOptimizer, PowerLimitOptimizer
from zeus.policy.mab import GaussianTS

logger = logging.getLogger(__name__)


class GTSBatchSizeOptimizer(BatchSizeOptimizer):
    """One Gaussian Thompson-sampling bandit per job over all its batch sizes (no pruning);
    with ``learn_reward_precision`` each arm's precision is 1 / variance of its rewards."""

    def __init__(
        self,
        learn_reward_precision: bool,
        reward_precision: float = 0.0,
        prior_mean: float = 0.0,
        prior_precision: float = 0.0,
        num_exploration: int = 1,
        seed: int = 123456,
        verbose: bool = True,
    ) -> None:
        self.learn_reward_precision = learn_reward_precision
        self.reward_precision = reward_precision
        self.prior_mean = prior_mean
        self.prior_precision = prior_precision
        self.num_exploration = num_exploration
        self.seed = seed
        self.verbose = verbose
        self.mabs: dict[Job, GaussianTS] = {}
        self.history: dict[Job, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))

    @property
    def name(self) -> str:
        return "GaussianTS BSO"

    def register_job(self, job: Job, batch_sizes: list[int]) -> None:
        self.mabs[job] = GaussianTS(
            batch_sizes, self.reward_precision, self.prior_mean, self.prior_precision,
            self.num_exploration, self.seed, self.verbose,
        )

    def predict(self, job: Job) -> int:
        return self.mabs[job].predict()

    def observe(self, job: Job, batch_size: int, cost: float, converged: bool | None = None) -> None:
        rewards = self.history[job][batch_size]
        rewards.append(-cost)
        mab = self.mabs[job]
        if self.learn_reward_precision and len(rewards) >= 2:
            mean = sum(rewards) / len(rewards)
            var = sum((r - mean) ** 2 for r in rewards) / len(rewards)
            if var > 0:
                _recurring.gts_set_reward_precision(mab._gts, batch_size, 1.0 / var)
        mab.fit_arm(batch_size, rewards, reset=True)


class PruningExploreManager:
    """The pruning stage (libzeus's ``zeus_pruning``): from the default batch size down, then
    up, ``num_pruning_rounds`` times, dropping sizes that do not reach the target.

    ``next_batch_size()`` returns the next size to try (report each with
    ``report_batch_size_result``); when exploration is over it raises ``StopIteration`` whose
    ``value`` is the surviving sizes, as the original."""

    def __init__(self, batch_sizes: list[int], default: int, num_pruning_rounds: int = 2) -> None:
        self.batch_sizes = sorted(batch_sizes)
        self.default = default
        self.num_pruning_rounds = num_pruning_rounds
        self._p = _recurring.pruning_new(self.batch_sizes, default, num_pruning_rounds)

    def report_batch_size_result(self, batch_size: int, cost: float, reached: bool) -> None:
        _recurring.pruning_report(self._p, batch_size, float(cost), bool(reached))

    def next_batch_size(self) -> int:
        bs = _recurring.pruning_next(self._p)
        if bs is None:
            raise StopIteration(_recurring.pruning_batch_sizes(self._p))
        return bs


class PruningGTSBatchSizeOptimizer(BatchSizeOptimizer):
    """Zeus's batch-size optimizer (libzeus's ``zeus_bso``, one per job): pruning, then Gaussian
    Thompson sampling over the surviving sizes with reward = -cost and each arm's precision
    learnt from its (windowed) rewards.

    ``policy`` (ours; the original has no such argument) picks libzeus's batch-size policy:
    ``"pruning-gts"`` (the default: the above, decision for decision) or ``"walk-ts"`` (one walk
    from the default size that stops where the cost rises, then Thompson sampling with noise
    pooled over the sizes: lower cumulative cost on the paper's traces, docs/simulate.md; it
    ignores the prior and window settings). It reaches the ``Simulator`` and ``ZeusMaster``
    through this object. An unknown name is a ``ValueError`` listing the known ones."""

    def __init__(
        self,
        prior_mean: float = 0.0,
        prior_precision: float = 0.0,
        window_size: int = 0,
        concurrency: bool = False,
        seed: int = 123456,
        verbose: bool = True,
        policy: str = "pruning-gts",
    ) -> None:
        known = _recurring.bso_policies()
        if policy not in known:
            raise ValueError(f"unknown batch-size policy {policy!r} (known: {', '.join(known)})")
        self.policy = policy
        self.prior_mean = prior_mean
        self.prior_precision = prior_precision
        self.window_size = window_size
        self.concurrency = concurrency
        self.seed = seed
        self.verbose = verbose
        self._bsos: dict[Job, object] = {}

    @property
    def name(self) -> str:
        return "Pruning GaussianTS BSO" if self.policy == "pruning-gts" else "walk-ts BSO"

    def _config(self) -> tuple:
        return (self.prior_mean, self.prior_precision, self.window_size, self.concurrency,
                self.seed, self.policy)

    def register_job(self, job: Job, batch_sizes: list[int]) -> None:
        if job.default_bs is None:
            raise ValueError(f"Job {job} does not have a default batch size.")
        self._bsos[job] = _recurring.bso_new(self._config(), job._c_job(), list(batch_sizes))
        if self.verbose:
            logger.info("Registered %s with batch sizes %s", job, sorted(batch_sizes))

    def _bso(self, job: Job):
        if job not in self._bsos:
            raise ValueError(f"Job {job} is not registered.")
        return self._bsos[job]

    def predict(self, job: Job) -> int:
        return _recurring.bso_predict(self._bso(job))

    def observe(self, job: Job, batch_size: int, cost: float, converged: bool | None = None) -> None:
        _recurring.bso_observe(self._bso(job), batch_size, float(cost), converged)


class JITPowerLimitOptimizer(PowerLimitOptimizer):
    """Remembers the cheapest profiled power limit per (job, batch size) (libzeus's
    ``zeus_jit_plo``)."""

    def __init__(self, verbose: bool = True) -> None:
        self.verbose = verbose
        self._plos: dict[Job, object] = {}

    @property
    def name(self) -> str:
        return "JITPowerLimit"

    def _plo(self, job: Job):
        if job not in self._plos:
            self._plos[job] = _recurring.jit_new()
        return self._plos[job]

    def predict(self, job: Job, batch_size: int) -> int | None:
        return _recurring.jit_predict(self._plo(job), batch_size)

    def observe(self, job: Job, batch_size: int, power_limit: int, cost: float) -> None:
        _recurring.jit_observe(self._plo(job), batch_size, int(power_limit), float(cost))


__all__ = [
    "GTSBatchSizeOptimizer",
    "PruningExploreManager",
    "PruningGTSBatchSizeOptimizer",
    "JITPowerLimitOptimizer",
]
