"""A pynvml mock behind the fake NVML: the original Zeus's tests, with their pynvml mock swapped.

The original's tests replace the ``pynvml`` module that the original calls with a ``MagicMock``
and configure it (``nvmlDeviceGetCount.return_value = 4``, an architecture or an energy counter
per handle through ``side_effect``), then check the calls it saw (``assert_has_calls``). This
package never calls pynvml: libzeus calls NVML in C. ``fake_nvml_mock()`` gives such a test the
same kind of mock, but puts it *behind* the project's fake ``libnvidia-ml.so.1`` (its
``fake_nvml_set_hook``): when libzeus calls one of the functions below, the fake NVML calls the
mock with the handle the tests use (``"handle<i>"``) and returns its answer; every call is
recorded by the mock, so the test's assertions run unchanged.

A function the test did not configure (no ``side_effect``, no ``return_value``), or whose
``side_effect`` raises something other than an ``NVMLError`` (the tests' lookup tables only know
the GPUs they monitor), is answered by the simulated GPU. An ``NVMLError`` becomes its NVML code.
"""

from __future__ import annotations

import ctypes
import os
from unittest import mock

import pynvml

HOOKED = (
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetArchitecture",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetPowerManagementLimitConstraints",
    "nvmlDeviceGetPowerManagementDefaultLimit",
    "nvmlDeviceSetPowerManagementLimit",
)
NOT_ANSWERED = -1
HOOK_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_uint,
    ctypes.POINTER(ctypes.c_longlong),
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_longlong),
    ctypes.c_int,
)


def _configured(function: mock.MagicMock) -> bool:
    return function.side_effect is not None or function._mock_return_value is not mock.DEFAULT


class _Hook:
    def __init__(self, pynvml_mock: mock.MagicMock) -> None:
        self.mock = pynvml_mock
        self.callback = HOOK_TYPE(self)  # kept alive as long as the hook is installed

    def __call__(self, function, gpu, args, nargs, out, nout) -> int:
        try:
            return self._answer(function.decode(), gpu, [args[i] for i in range(nargs)], out, nout)
        except BaseException:  # noqa: BLE001 - an exception must not cross into C
            return NOT_ANSWERED

    def _answer(self, name: str, gpu: int, args: list[int], out, nout: int) -> int:
        function = getattr(self.mock, name)
        if name == "nvmlDeviceGetHandleByIndex":  # seen, as the original asked; handles are ours
            try:
                function(args[0])
            except Exception:  # noqa: BLE001 - the test's table may not know every GPU
                pass
            return NOT_ANSWERED
        call_args = ([] if name == "nvmlDeviceGetCount" else [f"handle{gpu}"]) + args
        if nout == 0:  # a set call: the mock sees it, the simulated GPU applies it
            function(*call_args)
            return NOT_ANSWERED
        if not _configured(function):
            if name == "nvmlDeviceGetPowerManagementDefaultLimit":
                return self._default_limit(gpu, out)
            return NOT_ANSWERED
        try:
            answer = function(*call_args)
        except pynvml.NVMLError as e:
            return int(e.value)
        except Exception:  # noqa: BLE001 - outside the test's table: the simulated GPU answers
            return NOT_ANSWERED
        values = list(answer) if isinstance(answer, (tuple, list)) else [answer]
        if len(values) != nout or not all(float(v).is_integer() for v in values):
            return NOT_ANSWERED  # (NVML's answers here are whole numbers: mJ, mW, codes)
        for i, value in enumerate(values):
            out[i] = int(value)
        return 0


    def _default_limit(self, gpu: int, out) -> int:
        """The original never reads the default limit; when the test set a range, the default
        is its maximum (the simulated GPU's own default may lie outside that range)."""
        both = (ctypes.c_longlong * 2)()
        answered = self._answer("nvmlDeviceGetPowerManagementLimitConstraints", gpu, [], both, 2)
        if answered != 0:
            return answered
        out[0] = both[1]
        return 0


_installed: _Hook | None = None


def fake_nvml_mock(*_args, **_kwargs) -> mock.MagicMock:
    """A ``MagicMock`` of the pynvml module, behind the fake NVML from now on (the one before is
    detached). Accepts and ignores ``mocker.patch``'s arguments, so that
    ``mocker.patch("zeus.….pynvml", autospec=True)`` can become ``fake_nvml_mock(...)``. The
    process's GPUs are opened again on next use, so that they see this mock's answers."""
    global _installed
    library = ctypes.CDLL(os.environ["ZEUS_NVML_LIBRARY"])
    library.fake_nvml_set_hook.argtypes = [HOOK_TYPE]
    pynvml_mock = mock.MagicMock(spec=pynvml)
    _installed = _Hook(pynvml_mock)
    library.fake_nvml_set_hook(_installed.callback)
    import zeus.device.gpu  # noqa: PLC0415 - the package under test, imported by the test
    from zeus import _zeus  # noqa: PLC0415

    zeus.device.gpu._gpus = None
    _zeus._reopen_devices()  # what is made from now on (a replay monitor too) sees this mock
    return pynvml_mock
