"""The pipeline frequency optimizer (Perseus): per-instruction GPU frequencies for
pipeline-parallel training (docs/pipeline-frequency.md)."""

from zeus.optimizer.pipeline_frequency.optimizer import PipelineFrequencyOptimizer
from zeus.optimizer.pipeline_frequency.profiler import PipelineFrequencyProfiler

__all__ = ["PipelineFrequencyOptimizer", "PipelineFrequencyProfiler"]
