"""The original's exception hierarchy."""


class ZeusBaseError(Exception):
    """Base class of every Zeus error."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
