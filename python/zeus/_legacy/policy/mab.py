"""``zeus.policy.mab`` under the newer Zeus's path."""

from zeus.policy.mab import *  # noqa: F401,F403
from zeus.policy.mab import __all__  # noqa: F401
