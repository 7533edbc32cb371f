"""The recurring job's description (Zeus 0.8's ``zeus.job``; ``zeus._legacy.job`` in the newer)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from zeus.util.lr_scaler import LinearScaler, SquareRootScaler


@dataclass(frozen=True, unsafe_hash=True)
class Job:
    """A recurring training job: dataset, network, optimizer, target metric, epoch budget, the
    user's batch size and learning rate, and the command that runs it (``gen_command``)."""

    dataset: str
    network: str
    optimizer: str
    target_metric: float
    max_epochs: int
    default_bs: int | None = None
    default_lr: float | None = None
    workdir: str | None = None
    command: list[str] | None = field(default=None, hash=False, compare=False)

    def __str__(self) -> str:
        bs = f",bs{self.default_bs}" if self.default_bs is not None else ""
        return (
            f"Job({self.dataset},{self.network},{self.optimizer},{self.target_metric}{bs}"
            f"~{self.max_epochs})"
        )

    def to_logdir(self) -> str:
        """A folder name that says which job this is."""
        return (
            f"{self.dataset}+{self.network}+bs{self.default_bs}+{self.optimizer}"
            f"+lr{self.default_lr}+tm{self.target_metric}+me{self.max_epochs}"
        )

    def filter_df(self, df: Any) -> Any:
        """This job's rows of a pandas DataFrame (dataset, network, optimizer, target_metric)."""
        return df.loc[
            (df.dataset == self.dataset)
            & (df.network == self.network)
            & (df.optimizer == self.optimizer)
            & (df.target_metric == self.target_metric)
        ]

    def gen_command(self, batch_size: int, learning_rate: float, seed: int, rec_i: int) -> list[str]:
        """The command with ``{bs}``/``{batch_size}``, ``{lr}``/``{learning_rate}``,
        ``{seed}``, ``{epoch}``/``{epochs}``, ``{slice_number}`` and ``{target_metric}``
        replaced (each must be a whole argument)."""
        assert self.command, "You must provide a command format string for this job."
        values = {
            "{bs}": batch_size,
            "{batch_size}": batch_size,
            "{lr}": learning_rate,
            "{learning_rate}": learning_rate,
            "{seed}": seed,
            "{epoch}": self.max_epochs,
            "{epochs}": self.max_epochs,
            "{slice_number}": rec_i,
            "{target_metric}": self.target_metric,
        }
        return [str(values[p]) if p in values else p for p in self.command]

    def scale_lr(self, batch_size: int) -> float:
        """``default_lr`` scaled to ``batch_size``: square root for Adam, Adadelta and AdamW,
        linear for SGD (NotImplementedError for other optimizers)."""
        assert self.default_bs, "You must provide default_bs to scale LR."
        assert self.default_lr, "You must provide default_lr to scale LR."
        name = self.optimizer.lower()
        if name in ("adam", "adadelta", "adamw"):
            return SquareRootScaler(bs=self.default_bs, lr=self.default_lr).compute_lr(batch_size)
        if name == "sgd":
            return LinearScaler(bs=self.default_bs, lr=self.default_lr).compute_lr(batch_size)
        raise NotImplementedError(f"LR scaling for {self.optimizer} is not supported.")

    def _c_job(self) -> tuple:
        """The job as libzeus's zeus_job takes it."""
        return (
            self.dataset,
            self.network,
            self.optimizer,
            float(self.target_metric),
            int(self.max_epochs),
            int(self.default_bs or 0),
            math.nan if self.default_lr is None else float(self.default_lr),
        )


__all__ = ["Job"]
