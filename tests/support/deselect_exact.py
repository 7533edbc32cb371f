"""A pytest plugin (``-p deselect_exact``): deselects the tests whose node ids are listed, one a
line, in the file ``$ZEUS_DESELECT_EXACT`` (exactly those: pytest's own ``--deselect`` also
drops every test whose id merely starts with a listed one). Used by
tests/python/test_original_suites.py for the original's tests that do not apply (each listed
there with its reason); a listed id that matches no test is an error."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    path = os.environ.get("ZEUS_DESELECT_EXACT")
    if not path:
        return
    with open(path, encoding="utf-8") as f:
        wanted = {line.strip() for line in f if line.strip()}
    found = {item.nodeid for item in items} & wanted
    if found != wanted:
        raise pytest.UsageError(f"no such tests to deselect: {sorted(wanted - found)}")
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid in wanted])
    items[:] = [item for item in items if item.nodeid not in wanted]
