"""Arguments the Python face used to misread (issue 17, items 7, 8 and 10): GPU indices past the
C integer range, window keys with a NUL, log_file of the wrong type, and the CSV header that the
original writes as soon as the monitor exists."""

from __future__ import annotations

import csv
import os
import pathlib

import pytest

from zeus.monitor import PowerMonitor, ZeusMonitor
from zeus.util.testing import ReplayZeusMonitor


@pytest.mark.parametrize("index", [2**32 + 1, 2**32, 2**63, 2**64 + 1, -(2**64)])
def test_gpu_indices_out_of_range_are_refused(index):
    """2**32 + 1 used to be cut to 32 bits and picked GPU 1."""
    for make in (lambda: ZeusMonitor(gpu_indices=[index]),
                 lambda: PowerMonitor(gpu_indices=[index])):
        with pytest.raises(IndexError, match=str(index)):
            make()


def test_window_keys_with_a_nul_are_refused():
    """A key was cut at the NUL: "a\\0x" and "a\\0y" were one window "a"."""
    m = ZeusMonitor(gpu_indices=[0])
    with pytest.raises(ValueError, match="NUL"):
        m.begin_window("a\0x")
    m.begin_window("a")  # nothing was begun under the cut name
    with pytest.raises(ValueError, match="NUL"):
        m.end_window("a\0y")
    assert m.end_window("a").time >= 0


@pytest.mark.parametrize("bad", [123, b"/tmp/zeus-log.csv", 1.5, ["a.csv"]])
def test_log_file_must_be_a_path(bad, tmp_path, monkeypatch):
    """log_file=123 made a file named 123; b"/path" one named "b'/path'" (nothing at /path)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match="`log_file` must be a str or an os.PathLike"):
        ZeusMonitor(gpu_indices=[0], log_file=bad)
    with pytest.raises(TypeError, match="`log_file` must be a str or an os.PathLike"):
        ReplayZeusMonitor(log_file=bad)
    assert os.listdir(tmp_path) == []


def test_log_file_accepts_str_and_pathlike(tmp_path):
    for path in (str(tmp_path / "a.csv"), tmp_path / "b.csv", pathlib.PurePosixPath(tmp_path / "c.csv")):
        m = ZeusMonitor(gpu_indices=[1], log_file=path)
        m.begin_window("w")
        m.end_window("w")
        assert len(list(csv.reader(open(os.fspath(path))))) == 2


def test_replay_right_after_create(tmp_path):
    """The original writes (and flushes) the header when the monitor is created (spec 2.1), so a
    ReplayZeusMonitor can read it before any window ends; it failed with "empty file"."""
    log = tmp_path / "log.csv"
    m = ZeusMonitor(gpu_indices=[2, 0], log_file=log)
    assert log.read_text() == "start_time,window_name,elapsed_time,gpu2_energy,gpu0_energy\n"
    replay = ReplayZeusMonitor(log_file=log)
    assert replay.gpu_indices == [2, 0]
    replay.begin_window("w")
    with pytest.raises(RuntimeError, match="No more lines in the log file."):
        replay.end_window("w")
    del m
