"""A small real PyTorch training job for `zeus run` (tests/python/test_dataloader.py): an MLP
built here on synthetic, linearly separable data (no download), fed by ZeusDataLoader
(python/zeus/run) of the real package, on simulated GPUs (ZEUS_DEVICE=sim): each batch queues
one training step on GPU 0 (zeus.device.simulate_step), whose time and energy depend on the
power limit the loader set, and the loader's ZeusMonitor windows measure them.
Usage: dataloader_job.py BATCH_SIZE SEED LR"""
import sys

import torch
from torch.utils.data import TensorDataset

from zeus.device import get_gpus, simulate_step
from zeus.run import ZeusDataLoader
from zeus.util.metric import ZeusCostThresholdExceededError

bs, seed, lr = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
torch.manual_seed(0)  # the data is fixed; the seed moves the model
w = torch.randn(8)
x = torch.randn(1536, 8)
y = (x @ w > 0).long()
xe = torch.randn(256, 8)
ye = (xe @ w > 0).long()
torch.manual_seed(seed)
train = ZeusDataLoader(TensorDataset(x, y), batch_size=bs, max_epochs=5, shuffle=True)
evals = ZeusDataLoader(TensorDataset(xe, ye), batch_size=128)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
# Steps scaled with the cube of the batch (lr is for 32): batch 16 takes twice the steps an
# eighth the size, so it needs four times the epochs of the default (more than max_epochs) and
# costs at least about as much per epoch: run after the default, `zeus run`'s cost threshold
# (beta 3) stops it early, however fast or loaded the machine (the measured times are real).
opt = torch.optim.SGD(model.parameters(), lr=lr * (bs / 32) ** 3)
gpus = get_gpus()
try:
    for epoch in train.epochs():
        model.train()
        for xb, yb in train:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
            simulate_step(0)
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in evals:
                correct += (model(xb).argmax(1) == yb).sum().item()
                simulate_step(0)
        acc = correct / len(ye)
        limit = gpus.get_power_management_limit(0) // 1000
        print(f"epoch {epoch + 1}: accuracy {acc:.3f} at {limit} W", flush=True)
        train.report_metric(acc, higher_is_better=True)
except ZeusCostThresholdExceededError as e:
    print(e, flush=True)
