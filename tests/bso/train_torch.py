"""A small real PyTorch training job for `zeus run` (tests/bso): an MLP on synthetic, linearly
separable data, with ZeusDataLoader (python/zeus/run) on simulated GPUs (zeus.device.SIM).
Usage: train_torch.py BATCH_SIZE SEED LR"""
import sys

import torch
from torch.utils.data import TensorDataset

from zeus.device import SIM
from zeus.run import ZeusDataLoader
from zeus.util.metric import ZeusCostThresholdExceededError

bs, seed, lr = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
torch.manual_seed(0)  # the data is fixed; the seed moves the model
w = torch.randn(8)
x = torch.randn(4096, 8)
y = (x @ w > 0).long()
xe = torch.randn(512, 8)
ye = (xe @ w > 0).long()
torch.manual_seed(seed)
train = ZeusDataLoader(TensorDataset(x, y), batch_size=bs, max_epochs=6, shuffle=True)
evals = ZeusDataLoader(TensorDataset(xe, ye), batch_size=256)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=lr)
try:
    for epoch in train.epochs():
        model.train()
        for xb, yb in train:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
            SIM.step(bs)
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in evals:
                correct += (model(xb).argmax(1) == yb).sum().item()
                SIM.step(256)
        acc = correct / len(ye)
        print(f"epoch {epoch + 1}: accuracy {acc:.3f} at {SIM.pl_mw // 1000} W", flush=True)
        train.report_metric(acc, higher_is_better=True)
except ZeusCostThresholdExceededError as e:
    print(e, flush=True)
