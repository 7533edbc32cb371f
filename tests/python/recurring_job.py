"""A recurring training job for tests/python/test_zeus_master.py: ZeusDataLoader over simulated
GPUs (ZEUS_DEVICE=sim), each iteration one simulated step on GPU 0. The "accuracy" grows with
the epochs, faster for smaller batch sizes; 8 is too small ever to converge.
Usage: recurring_job.py BATCH_SIZE LR SEED"""

import sys

from zeus.device import simulate_step
from zeus.run import ZeusDataLoader
from zeus.util.metric import ZeusCostThresholdExceededError

bs = int(sys.argv[1])
data = list(range(32 * bs))  # 32 iterations per epoch
train = ZeusDataLoader(data, batch_size=bs, max_epochs=4)
evals = ZeusDataLoader(data[:bs], batch_size=bs)
try:
    for epoch in train.epochs():
        for _ in train:
            simulate_step(0)
        for _ in evals:
            simulate_step(0)
        acc = 0.0 if bs == 8 else min(1.0, 0.3 * (epoch + 1) * (64 / bs) ** 0.25)
        train.report_metric(acc, higher_is_better=True)
except ZeusCostThresholdExceededError as e:
    print(e, flush=True)
