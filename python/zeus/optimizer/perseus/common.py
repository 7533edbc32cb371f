"""v0.8 name of ``zeus.optimizer.pipeline_frequency.common``."""

from zeus.optimizer.pipeline_frequency.common import *  # noqa: F403
from zeus.optimizer.pipeline_frequency.common import (  # noqa: F401
    GET_FREQUENCY_SCHEDULE_URL,
    GET_SERVER_INFO_URL,
    REGISTER_JOB_URL,
    REGISTER_RANK_URL,
    REPORT_PROFILING_RESULT_URL,
    FrequencySchedule,
    JobInfo,
    ProfilingResult,
    RankInfo,
)
