"""The recurring-job flow (Zeus 0.8's ``zeus.run``): ``ZeusMaster`` drives the recurrences,
``ZeusDataLoader`` is the in-job side (docs/bso.md; ``zeus run`` is the command-line driver).

``ZeusMaster`` is imported on first use, so a job importing ``zeus.run`` for its data loader
does not load the driver."""

from zeus.run.dataloader import ZeusDataLoader

__all__ = ["ZeusDataLoader", "ZeusMaster"]


def __getattr__(name: str):
    if name == "ZeusMaster":
        from zeus.run.master import ZeusMaster  # noqa: PLC0415

        return ZeusMaster
    raise AttributeError(f"module 'zeus.run' has no attribute {name!r}")
