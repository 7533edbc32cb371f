"""``zeus.job`` under the newer Zeus's path."""

from zeus.job import *  # noqa: F401,F403
from zeus.job import __all__  # noqa: F401
