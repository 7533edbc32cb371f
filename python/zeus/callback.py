"""The original's callback protocol (``zeus.callback``)."""

from __future__ import annotations


class Callback:
    """Base class of training-loop callbacks; every hook is a no-op."""

    def on_train_begin(self) -> None:
        """Called at the beginning of training."""

    def on_train_end(self) -> None:
        """Called at the end of training."""

    def on_epoch_begin(self) -> None:
        """Called at the beginning of each epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of each epoch."""

    def on_step_begin(self) -> None:
        """Called at the beginning of each step."""

    def on_step_end(self) -> None:
        """Called at the end of each step."""

    def on_evaluate(self, metric: float) -> None:
        """Called after evaluating the model."""

    def on_instruction_begin(self, name: str) -> None:
        """Called at the beginning of a pipeline instruction."""

    def on_instruction_end(self, name: str) -> None:
        """Called at the end of a pipeline instruction."""


class CallbackSet(Callback):
    """A set of callbacks called in order."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_train_begin(self) -> None:
        for c in self.callbacks:
            c.on_train_begin()

    def on_train_end(self) -> None:
        for c in self.callbacks:
            c.on_train_end()

    def on_epoch_begin(self) -> None:
        for c in self.callbacks:
            c.on_epoch_begin()

    def on_epoch_end(self) -> None:
        for c in self.callbacks:
            c.on_epoch_end()

    def on_step_begin(self) -> None:
        for c in self.callbacks:
            c.on_step_begin()

    def on_step_end(self) -> None:
        for c in self.callbacks:
            c.on_step_end()

    def on_evaluate(self, metric: float) -> None:
        for c in self.callbacks:
            c.on_evaluate(metric)

    def on_instruction_begin(self, name: str) -> None:
        for c in self.callbacks:
            c.on_instruction_begin(name)

    def on_instruction_end(self, name: str) -> None:
        for c in self.callbacks:
            c.on_instruction_end(name)
