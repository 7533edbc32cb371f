"""Exceptions of the batch-size optimizer client (the newer Zeus's names, typos included)."""

try:
    from zeus.exception import ZeusBaseError
except ImportError:  # the package's base exception is not there: stand alone

    class ZeusBaseError(Exception):
        """Base class of Zeus's exceptions."""

        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message


class ZeusBSORuntimError(ZeusBaseError):
    """The server answered with an error, or with something the client cannot use."""


class ZeusBSOTrainFailError(ZeusBaseError):
    """The trial ended without reaching the target (early stop or max epochs)."""


class ZeusBSOConfigError(ZeusBaseError):
    """The job or the machine cannot be used (e.g. no GPUs)."""


class ZeusBSOOperationOrderError(ZeusBaseError):
    """Calls in the wrong order (e.g. a report before a batch size)."""


class ZeusBSOBadOperationError(ZeusBaseError):
    """A call this process may not make (e.g. get_batch_size on a rank other than 0)."""
