"""An ``amdsmi`` mock behind the fake AMD SMI: the original Zeus's AMD tests, with their module
swap changed.

The original's tests/device/gpu/test_amd.py builds a ``MagicMock`` of ROCm's ``amdsmi`` Python
module (its processor handles, in amd-smi's order, and each handle's HIP index through
``amdsmi_get_gpu_enumeration_info``), puts it in ``sys.modules`` and checks which handle
``AMDGPU(i).handle`` is. This package never calls the ``amdsmi`` module to measure: libzeus
loads ROCm's libamd_smi in C and numbers the GPUs as HIP does. ``fake_amdsmi_mock(mock)`` makes
the same swap (the mock in ``sys.modules``, for ``AMDGPU.handle``), and puts the mock *behind*
the project's fake ``libamd_smi.so`` (its ``fake_amdsmi_set_hook``): the fake then lists the
mock's handles, in the mock's order, each the simulated GPU of its HIP index, and libzeus (on
the amdsmi backend from ``start()`` to ``stop()``) decides the HIP numbering from them.

The hardware facts the test leaves out come from the fake library: the mock's
``amdsmi_get_gpu_device_bdf``, if not configured, answers each handle's PCI address as the fake
library reports it for the same place in its list.
"""

from __future__ import annotations

import ctypes
import os
import sys
from unittest import mock

HOOK_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint),
                             ctypes.c_uint)
AMDSMI_INIT_AMD_GPUS = 1 << 1
NOT_ANSWERED = -1


def _library() -> ctypes.CDLL:
    return ctypes.CDLL(os.environ["ZEUS_AMDSMI_LIBRARY"])


def _fake_bdfs(library: ctypes.CDLL) -> list[str]:
    """The PCI address of each processor handle of the fake library, in its list's order."""
    assert library.amdsmi_init(ctypes.c_uint64(AMDSMI_INIT_AMD_GPUS)) == 0
    try:
        count = ctypes.c_uint32(1)
        socket = ctypes.c_void_p()
        assert library.amdsmi_get_socket_handles(ctypes.byref(count), ctypes.byref(socket)) == 0
        count = ctypes.c_uint32(64)
        handles = (ctypes.c_void_p * 64)()
        assert library.amdsmi_get_processor_handles(socket, ctypes.byref(count), handles) == 0
        out = []
        for i in range(count.value):
            bdf = ctypes.c_uint64()
            assert library.amdsmi_get_gpu_device_bdf(ctypes.c_void_p(handles[i]),
                                                     ctypes.byref(bdf)) == 0
            b = bdf.value
            out.append(f"{b >> 16:04x}:{(b >> 8) & 0xFF:02x}:{(b >> 3) & 0x1F:02x}.{b & 0x7:x}")
        return out
    finally:
        library.amdsmi_shut_down()


def _reopen() -> None:
    import zeus.device.gpu  # noqa: PLC0415 - the package under test, imported by the test
    from zeus import _zeus  # noqa: PLC0415

    zeus.device.gpu._gpus = None
    _zeus._reopen_devices()


class _Swap:
    """What the test's ``patch.dict(sys.modules, {"amdsmi": mock})`` was: ``start()``/``stop()``."""

    def __init__(self, amdsmi_mock: mock.MagicMock) -> None:
        self.mock = amdsmi_mock
        self.callback = HOOK_TYPE(self._answer)  # kept alive while the hook is installed
        self.modules = mock.patch.dict(sys.modules, {"amdsmi": amdsmi_mock})
        self.environ = mock.patch.dict(os.environ, {"ZEUS_DEVICE": "amdsmi",
                                                    "ZEUS_AMDSMI_CHECK_MS": "20"})

    def _order(self) -> list[int]:
        return [int(self.mock.amdsmi_get_gpu_enumeration_info(h)["hip_id"])
                for h in self.mock.amdsmi_get_processor_handles()]

    def _answer(self, function, out, size) -> int:
        try:
            order = self._order()
        except BaseException:  # noqa: BLE001 - an exception must not cross into C
            return NOT_ANSWERED
        for i, gpu in enumerate(order[:size]):
            out[i] = gpu
        return len(order)

    def start(self) -> None:
        self.modules.start()
        self.environ.start()
        library = _library()
        library.fake_amdsmi_set_hook.argtypes = [HOOK_TYPE]
        library.fake_amdsmi_set_hook(self.callback)
        bdf = self.mock.amdsmi_get_gpu_device_bdf
        if bdf.side_effect is None and bdf._mock_return_value is mock.DEFAULT:
            handles = list(self.mock.amdsmi_get_processor_handles())
            addresses = dict(zip(handles, _fake_bdfs(library)))
            bdf.side_effect = lambda handle: addresses[handle]
        _reopen()

    def stop(self) -> None:
        library = _library()
        library.fake_amdsmi_set_hook.argtypes = [ctypes.c_void_p]
        library.fake_amdsmi_set_hook(None)
        self.environ.stop()
        self.modules.stop()
        _reopen()


def fake_amdsmi_mock(_target, values: dict) -> _Swap:
    """``patch.dict(sys.modules, {"amdsmi": amdsmi_mock})``'s stand-in: takes the same
    arguments, and puts ``values["amdsmi"]`` behind the fake AMD SMI as well."""
    return _Swap(values["amdsmi"])
