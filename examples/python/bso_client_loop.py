"""A training job that asks Zeus's batch-size optimizer service which batch size to use, and
reports every epoch so the service can stop a batch size that cannot win (docs/bso.md).

    zeus bso serve --port 8000 &                       # the service (one per cluster)
    python examples/bso_client_loop.py http://127.0.0.1:8000

Run it again and again: each run is one recurrence of the job, and the service learns the
batch size that reaches the target metric for the least energy and time. The training here is a
stand-in (a sleep and a made-up accuracy curve); put your own loop in train_one_epoch/evaluate.
"""

from __future__ import annotations

import sys
import time

from zeus.monitor import ZeusMonitor
from zeus.optimizer.batch_size import BatchSizeOptimizer, JobSpec, ZeusBSOTrainFailError


def train_one_epoch(batch_size: int) -> None:
    time.sleep(0.002 * 256 / batch_size)  # larger batches: fewer, faster steps


def evaluate(epoch: int, batch_size: int) -> float:
    return min(1.0, 0.25 * (epoch + 1) * (64 / batch_size) ** 0.5)  # accuracy after the epoch


def main(server_url: str) -> int:
    monitor = ZeusMonitor()  # every GPU (ZEUS_DEVICE=sim: simulated ones)
    job = JobSpec(
        job_id_prefix="example-mnist",
        batch_sizes=[32, 64, 128, 256],
        default_batch_size=64,
        target_metric=0.9,
        max_epochs=8,
    )
    bso = BatchSizeOptimizer(monitor, server_url, job)
    batch_size = bso.get_batch_size()  # once per run: the service's choice
    print(f"training with batch size {batch_size}")
    bso.on_train_begin()  # once, before the first epoch
    try:
        for epoch in range(job.max_epochs):
            train_one_epoch(batch_size)
            bso.on_evaluate(evaluate(epoch, batch_size))  # after every epoch
            if bso.training_finished:  # reached the target (or told to stop)
                break
    except ZeusBSOTrainFailError as e:  # this batch size will not be chosen again
        print(f"stopped early: {e}")
        return 1
    print(f"reached the target after {epoch + 1} epochs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
