"""Same as ``zeus.utils.pydantic_v1``."""

from zeus.utils.pydantic_v1 import *  # noqa: F401,F403
