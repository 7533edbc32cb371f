"""Same as ``zeus.util.testing``."""

from zeus.util.testing import ReplayZeusMonitor

__all__ = ["ReplayZeusMonitor"]
