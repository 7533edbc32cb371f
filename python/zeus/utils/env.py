"""Same as ``zeus.util.env``."""

from zeus.util.env import get_env

__all__ = ["get_env"]
