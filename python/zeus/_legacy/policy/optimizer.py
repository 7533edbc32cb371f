"""``zeus.policy.optimizer`` under the newer Zeus's path."""

from zeus.policy.optimizer import *  # noqa: F401,F403
from zeus.policy.optimizer import __all__  # noqa: F401
