"""Framework synchronisation: with PyTorch and CUDA present, windows call
torch.cuda.synchronize(gpu) for each monitored GPU (sync_execution= and sync_cuda= both
accepted); an exception it raises comes out of the window call; without CUDA nothing is
synchronised. A stand-in torch module plays "PyTorch with CUDA" (this machine has none)."""

from __future__ import annotations

from conftest import run_python

FAKE_TORCH = r"""
import sys, types
calls = []
torch = types.ModuleType("torch")
torch.cuda = types.SimpleNamespace(is_available=lambda: True, synchronize=lambda gpu: calls.append(gpu))
sys.modules["torch"] = torch
from zeus.monitor import ZeusMonitor
m = ZeusMonitor(gpu_indices=[2, 0])
m.begin_window("a"); m.end_window("a")
assert calls == [2, 0, 2, 0], calls
m.begin_window("b", sync_execution=False); m.end_window("b", sync_cuda=False)
m.begin_window("c", False); m.end_window("c", False, False)
assert calls == [2, 0, 2, 0], calls
m.begin_window("d", sync_cuda=True); m.end_window("d", sync_execution=True)
assert calls == [2, 0, 2, 0, 2, 0, 2, 0], calls
fail = [True]
def broken(gpu):
    if fail[0]:
        raise RuntimeError("CUDA error: device-side assert")
torch.cuda.synchronize = broken
m2 = ZeusMonitor(gpu_indices=[1])
try:
    m2.begin_window("e")
except RuntimeError as e:
    assert "device-side assert" in str(e)
else:
    raise SystemExit("no error")
fail[0] = False
m2.begin_window("e")  # the failed begin left no window behind
m2.end_window("e")
print("OK")
"""

NO_CUDA = r"""
import sys, types
torch = types.ModuleType("torch")
torch.cuda = types.SimpleNamespace(is_available=lambda: False, synchronize=lambda gpu: 1 / 0)
sys.modules["torch"] = torch
from zeus.monitor import ZeusMonitor
m = ZeusMonitor(gpu_indices=[0])
m.begin_window("a"); m.end_window("a")
print("OK")
"""


def test_windows_synchronise_torch_cuda():
    p = run_python(FAKE_TORCH)
    assert p.returncode == 0 and "OK" in p.stdout, p.stderr


def test_no_cuda_no_sync():
    p = run_python(NO_CUDA)
    assert p.returncode == 0 and "OK" in p.stdout, p.stderr
