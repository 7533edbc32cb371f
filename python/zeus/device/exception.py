"""GPU errors (the original's ``zeus.device.exception`` and ``zeus.device.gpu`` names), and the
one table from libzeus's error codes to Python exceptions (``BY_ZEUS_ERROR``).

Every exception ``zeus._zeus`` raises for a libzeus error code comes from that table, whichever
object made the call (``ZeusMonitor``, ``get_gpus()``, the optimizer), so one error is one class.
A few calls name another class where the original raised one there (``ValueError`` for a
duplicate window, ``RuntimeError`` when setting a power limit needs SYS_ADMIN, ``OSError`` for a
file). The extension raised ``ValueError``, ``RuntimeError`` and ``MemoryError`` for some codes
before this table existed: the classes of those rows also derive from that built-in exception, so
``except ValueError`` around a monitor keeps working.
"""

from __future__ import annotations

from zeus.exception import ZeusBaseError


class ZeusBaseGPUError(ZeusBaseError):
    """Base of GPU errors."""


class ZeusGPUInitError(ZeusBaseGPUError):
    """GPU management library could not be initialized."""


class ZeusGPUInvalidArgError(ZeusBaseGPUError, ValueError):
    """Invalid argument."""


class ZeusGPUNotSupportedError(ZeusBaseGPUError):
    """Not supported by the GPU."""


class ZeusGPUNoPermissionError(ZeusBaseGPUError, RuntimeError):
    """No permission (SYS_ADMIN is required)."""


class ZeusGPUAlreadyInitializedError(ZeusBaseGPUError):
    """Already initialized."""


class ZeusGPUNotFoundError(ZeusBaseGPUError):
    """Not found."""


class ZeusGPUInsufficientSizeError(ZeusBaseGPUError):
    """Insufficient size."""


class ZeusGPUInsufficientPowerError(ZeusBaseGPUError):
    """Insufficient power."""


class ZeusGPUDriverNotLoadedError(ZeusBaseGPUError):
    """Driver not loaded."""


class ZeusGPUTimeoutError(ZeusBaseGPUError):
    """Timed out."""


class ZeusGPUIRQError(ZeusBaseGPUError):
    """IRQ issue."""


class ZeusGPULibraryNotFoundError(ZeusBaseGPUError):
    """The GPU management library was not found."""


class ZeusGPUFunctionNotFoundError(ZeusBaseGPUError):
    """Function not found in the GPU management library."""


class ZeusGPUCorruptedInfoROMError(ZeusBaseGPUError):
    """Corrupted InfoROM."""


class ZeusGPULostError(ZeusBaseGPUError):
    """The GPU is lost."""


class ZeusGPUResetRequiredError(ZeusBaseGPUError):
    """The GPU needs a reset."""


class ZeusGPUOperatingSystemError(ZeusBaseGPUError):
    """Operating system error."""


class ZeusGPULibRMVersionMismatchError(ZeusBaseGPUError):
    """Library/driver version mismatch."""


class ZeusGPUMemoryError(ZeusBaseGPUError, MemoryError):
    """Out of memory."""


class ZeusGPUUnknownError(ZeusBaseGPUError):
    """Unknown error."""


class ZeusGPUHeterogeneousError(ZeusBaseGPUError):
    """The GPUs are not all the same model."""


# libzeus error names (zeus/common.h) -> classes: the one table (zeus/__init__.py hands it to the
# extension). A name missing here raises ZeusBaseError; tests/python/test_errors.py checks that
# every libzeus error has a row.
BY_ZEUS_ERROR = {
    "ZEUS_EINVAL": ZeusGPUInvalidArgError,
    "ZEUS_ERANGE": ZeusGPUInvalidArgError,
    "ZEUS_ENOMEM": ZeusGPUMemoryError,
    "ZEUS_ENODEV": ZeusGPUNotFoundError,
    "ZEUS_ENOTSUP": ZeusGPUNotSupportedError,
    "ZEUS_EPERM": ZeusGPUNoPermissionError,
    "ZEUS_EIO": ZeusGPUUnknownError,
    "ZEUS_ELIB": ZeusGPULibraryNotFoundError,
    "ZEUS_EINIT": ZeusGPUInitError,
    "ZEUS_ELOST": ZeusGPULostError,
    # Bad input (a malformed file, a name that exists or does not): not a GPU's error.
    "ZEUS_EPARSE": ValueError,
    "ZEUS_EEXIST": ValueError,
    "ZEUS_ENOENT": ValueError,
    "ZEUS_ESTATE": ZeusBaseError,
    "ZEUS_EHETERO": ZeusGPUHeterogeneousError,
    "ZEUS_ETIMEOUT": ZeusGPUTimeoutError,
    "ZEUS_EDEVICE": ZeusGPUUnknownError,
    "ZEUS_ECHILD": ZeusBaseError,
}


def convert(exc: BaseException) -> BaseException:
    """The Zeus GPU error for an exception the extension raised."""
    code = getattr(exc, "zeus_error", None)
    if code is None or isinstance(exc, ZeusBaseGPUError):
        return exc
    cls = BY_ZEUS_ERROR.get(code, ZeusGPUUnknownError)
    new = cls(str(exc))
    new.zeus_error = code
    return new


class ZeusBaseCPUError(ZeusBaseError):
    """Base of CPU errors."""


class ZeusBaseSoCError(ZeusBaseError):
    """Base of SoC errors."""


class ZeusdError(ZeusBaseGPUError):
    """zeusd answered a request with an error (any non-200 response)."""
