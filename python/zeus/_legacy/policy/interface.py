"""``zeus.policy.interface`` under the newer Zeus's path."""

from zeus.policy.interface import *  # noqa: F401,F403
from zeus.policy.interface import __all__  # noqa: F401
