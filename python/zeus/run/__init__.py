"""The in-job side of the recurring-job flow that `zeus run` drives (docs/bso.md)."""

from zeus.run.dataloader import ZeusDataLoader

__all__ = ["ZeusDataLoader"]
