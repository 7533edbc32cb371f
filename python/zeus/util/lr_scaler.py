"""Same as ``zeus.utils.lr_scaler``."""

from zeus.utils.lr_scaler import *  # noqa: F401,F403
