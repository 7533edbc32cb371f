"""zeus.utils.framework / zeus.util.framework: all_reduce across real torch.distributed ranks
(gloo, two processes on loopback), sync_execution on simulated GPUs, the availability checks."""

from __future__ import annotations

import json
import socket

import pytest

from conftest import run_python

ALL_REDUCE = r"""
import json, os, sys
import torch.distributed as dist
import torch.multiprocessing as mp

def worker(rank, port, out):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    from zeus.utils.framework import all_reduce, is_distributed, get_rank, get_world_size
    values = [1.5 + rank, 1e12 + 0.25 * rank, -3.0 * rank]
    res = {
        "sum": all_reduce(values, "sum"),
        "max": all_reduce(values, "max"),
        "dist": [is_distributed(), get_rank(), get_world_size()],
    }
    with open(f"{out}.{rank}", "w") as f:
        json.dump(res, f)
    dist.destroy_process_group()

if __name__ == "__main__":
    port, out = int(sys.argv[1]), sys.argv[2]
    mp.spawn(worker, args=(port, out), nprocs=2)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_all_reduce_sums_and_maxes_across_two_ranks(tmp_path):
    script = tmp_path / "ar.py"
    script.write_text(ALL_REDUCE)
    out = tmp_path / "res"
    code = f"import runpy, sys; sys.argv = ['ar', '{free_port()}', '{out}']; runpy.run_path('{script}', run_name='__main__')"
    r = run_python(code, timeout=180)
    assert r.returncode == 0, r.stderr
    for rank in (0, 1):
        res = json.loads((tmp_path / f"res.{rank}").read_text())
        # float64 keeps the quarter joule of a 1e12 J total (float32 would not)
        assert res["sum"] == [4.0, 2e12 + 0.25, -3.0]
        assert res["max"] == [2.5, 1e12 + 0.25, 0.0]
        assert res["dist"] == [True, rank, 2]


def test_all_reduce_not_distributed_returns_the_list_itself():
    from zeus.utils.framework import all_reduce, get_rank, get_world_size, is_distributed

    values = [1.0, 2.0]
    assert all_reduce(values, "sum") is values
    assert all_reduce(values, "max") is values
    assert (is_distributed(), get_rank(), get_world_size()) == (False, 0, 1)
    with pytest.raises(ValueError, match="all_reduce unsupported operation: mean"):
        all_reduce(values, "mean")


def test_availability_and_sync_without_cuda():
    r = run_python(
        "from zeus.utils import framework as f\n"
        "from zeus.util import framework as old\n"
        "assert f.torch_is_available(ensure_cuda=False)\n"
        "try:\n    f.torch_is_available()\nexcept RuntimeError as e:\n    print('cuda:', e)\n"
        "try:\n    old.torch_is_available()\nexcept AssertionError as e:\n    print('old:', e)\n"
        "print('cupy', f.cupy_is_available())\n"
        "try:\n    f.cupy_is_available(ensure_available=True)\nexcept RuntimeError as e:\n    print('cupy:', e)\n"
        "try:\n    f.sync_execution([0], sync_with='cupy')\nexcept RuntimeError as e:\n    print('sync:', e)\n"
    )
    assert r.returncode == 0, r.stderr
    assert "cuda: PyTorch is available but does not have CUDA support." in r.stdout
    assert "old: PyTorch is available but does not have CUDA support." in r.stdout
    assert "cupy False" in r.stdout and "cupy: Failed to import CuPy" in r.stdout
    assert "sync: No framework is available." in r.stdout


def test_sync_execution_waits_for_simulated_gpu_work():
    # A simulated GPU's queued step only counts once synchronised: the window sees its energy.
    r = run_python(
        "import time\n"
        "from zeus import _zeus\n"
        "from zeus.device import simulate_step\n"
        "from zeus.utils.framework import sync_execution\n"
        "from zeus.util.framework import cuda_sync\n"
        "e0 = _zeus.gpu_energy_mj(1)\n"
        "for _ in range(3): simulate_step(1)\n"
        "sync_execution([1])\n"
        "e1 = _zeus.gpu_energy_mj(1)\n"
        "simulate_step(1); cuda_sync(1)\n"
        "print(e1 > e0, _zeus.gpu_energy_mj(1) > e1)\n",
        env={"ZEUS_DEVICE": "sim"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]
