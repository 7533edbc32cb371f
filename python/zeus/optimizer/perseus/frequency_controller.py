"""v0.8 name of ``zeus.optimizer.pipeline_frequency.frequency_controller``."""

from zeus.optimizer.pipeline_frequency.frequency_controller import FrequencyController

__all__ = ["FrequencyController"]
