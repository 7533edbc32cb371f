"""Utilities (the original 0.8 package name; ``zeus.utils`` is the newer one)."""
