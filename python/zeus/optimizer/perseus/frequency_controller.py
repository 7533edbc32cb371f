"""v0.8 name of ``zeus.optimizer.pipeline_frequency.frequency_controller``."""

from zeus.optimizer.pipeline_frequency import frequency_controller as _current


class FrequencyController(_current.FrequencyController):
    """0.8's constructor: the GPU is ``nvml_device_id`` (the newer Zeus calls it
    ``device_id``)."""

    def __init__(self, nvml_device_id: int = 0) -> None:
        super().__init__(nvml_device_id)


__all__ = ["FrequencyController"]
