"""``zeus.policy`` under the newer Zeus's path."""

from zeus.policy import *  # noqa: F401,F403
from zeus.policy import __all__  # noqa: F401
