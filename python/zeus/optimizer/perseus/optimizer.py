"""``PerseusOptimizer``: the v0.8 name of ``PipelineFrequencyOptimizer``."""

from zeus.optimizer.pipeline_frequency.optimizer import PipelineFrequencyOptimizer


class PerseusOptimizer(PipelineFrequencyOptimizer):
    """Perseus optimizer (the same client as ``PipelineFrequencyOptimizer``)."""


__all__ = ["PerseusOptimizer"]
