"""GPU errors (the original's ``zeus.device.exception`` and ``zeus.device.gpu`` names)."""

from __future__ import annotations

from zeus.exception import ZeusBaseError


class ZeusBaseGPUError(ZeusBaseError):
    """Base of GPU errors."""


class ZeusGPUInitError(ZeusBaseGPUError):
    """GPU management library could not be initialized."""


class ZeusGPUInvalidArgError(ZeusBaseGPUError):
    """Invalid argument."""


class ZeusGPUNotSupportedError(ZeusBaseGPUError):
    """Not supported by the GPU."""


class ZeusGPUNoPermissionError(ZeusBaseGPUError):
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


class ZeusGPUMemoryError(ZeusBaseGPUError):
    """Out of memory."""


class ZeusGPUUnknownError(ZeusBaseGPUError):
    """Unknown error."""


class ZeusGPUHeterogeneousError(ZeusBaseGPUError):
    """The GPUs are not all the same model."""


# libzeus error names -> classes (the rest: ZeusGPUUnknownError).
BY_ZEUS_ERROR = {
    "ZEUS_EINVAL": ZeusGPUInvalidArgError,
    "ZEUS_ERANGE": ZeusGPUInvalidArgError,
    "ZEUS_ENOTSUP": ZeusGPUNotSupportedError,
    "ZEUS_EPERM": ZeusGPUNoPermissionError,
    "ZEUS_ENODEV": ZeusGPUNotFoundError,
    "ZEUS_ELOST": ZeusGPULostError,
    "ZEUS_EINIT": ZeusGPUInitError,
    "ZEUS_ELIB": ZeusGPULibraryNotFoundError,
    "ZEUS_ETIMEOUT": ZeusGPUTimeoutError,
    "ZEUS_ENOMEM": ZeusGPUMemoryError,
    "ZEUS_EHETERO": ZeusGPUHeterogeneousError,
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
