"""The recurring-job flow (Zeus 0.8's ``zeus.run``): ``ZeusMaster`` drives the recurrences,
``ZeusDataLoader`` is the in-job side (docs/bso.md; ``zeus run`` is the command-line driver)."""

from zeus.run.dataloader import ZeusDataLoader
from zeus.run.master import ZeusMaster

__all__ = ["ZeusDataLoader", "ZeusMaster"]
