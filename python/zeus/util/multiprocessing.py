"""Same as ``zeus.utils.multiprocessing``."""

from zeus.utils.multiprocessing import *  # noqa: F401,F403
