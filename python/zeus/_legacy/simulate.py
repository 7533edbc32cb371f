"""``zeus.simulate`` under the newer Zeus's path."""

from zeus.simulate import *  # noqa: F401,F403
from zeus.simulate import __all__  # noqa: F401
