"""Same as ``zeus.utils.async_utils``."""

from zeus.utils.async_utils import *  # noqa: F401,F403
