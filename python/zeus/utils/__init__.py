"""Utilities (the newer package name of ``zeus.util``)."""
