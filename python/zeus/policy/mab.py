"""Gaussian Thompson sampling (Zeus 0.8's ``zeus.policy.mab``) over libzeus's ``zeus_gts``:
the same decisions as the original for the same seed (numpy's generator)."""

from __future__ import annotations

import logging

from zeus import _recurring

logger = logging.getLogger(__name__)


class GaussianTS:
    """A multi-armed bandit whose arms' rewards are Gaussian with known precision; the prior
    of each arm's mean is Gaussian (``prior_mean``, ``prior_precision``). Arms observed fewer
    than ``num_exploration`` times are explored first (in a random order)."""

    def __init__(
        self,
        arms: list[int],
        reward_precision: list[float] | float,
        prior_mean: float = 0.0,
        prior_precision: float = 0.0,
        num_exploration: int = 1,
        seed: int = 123456,
        verbose: bool = True,
    ) -> None:
        self.name = "GaussianTS"
        self.arms = list(arms)
        self.prior_mean = prior_mean
        self.prior_precision = prior_precision
        self.num_exploration = num_exploration
        self.seed = seed
        self.verbose = verbose
        per_arm = isinstance(reward_precision, (list, tuple))
        if per_arm and len(reward_precision) != len(self.arms):
            raise ValueError("reward_precision must have one value per arm")
        self._gts = _recurring.gts_new(
            self.arms, 0.0 if per_arm else float(reward_precision), prior_mean, prior_precision,
            num_exploration, seed,
        )
        if per_arm:
            for arm, p in zip(self.arms, reward_precision):
                _recurring.gts_set_reward_precision(self._gts, arm, float(p))

    def fit(self, decisions: list[int], rewards: list[float], reset: bool) -> None:
        """Fits every arm on the rewards whose decision is that arm."""
        _recurring.gts_fit(self._gts, list(decisions), [float(r) for r in rewards], reset)

    def fit_arm(self, arm: int, rewards: list[float], reset: bool) -> None:
        """Conjugate update of one arm (``reset`` first restores the prior)."""
        _recurring.gts_fit_arm(self._gts, arm, [float(r) for r in rewards], reset)

    def predict(self) -> int:
        """The arm to pull: an under-explored arm, else the largest Thompson sample."""
        arm = _recurring.gts_predict(self._gts)
        if self.verbose:
            logger.info("%s: pulling arm %d", self.name, arm)
        return arm

    def predict_expectations(self) -> dict[int, float]:
        """Each arm's posterior mean reward."""
        return {arm: mean for arm, mean, _precision, _n in _recurring.gts_arms(self._gts)}


__all__ = ["GaussianTS"]
