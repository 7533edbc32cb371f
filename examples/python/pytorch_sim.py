#!/usr/bin/env python3
"""A PyTorch training loop with ZeusMonitor and GlobalPowerLimitOptimizer on simulated GPUs.

    ZEUS_DEVICE=sim python examples/python/pytorch_sim.py

Runs on a CPU: the model trains with PyTorch's CPU build, and every step also runs one step on
each simulated GPU (zeus.device.simulate_step), whose time and energy depend on its power limit
the way real GPUs' do (docs/devices.md). The optimizer profiles the limits and keeps the best.
On a real GPU machine drop the simulate_step line and ZEUS_DEVICE.
"""

import os

import torch

from zeus.device import get_gpus, simulate_step
from zeus.monitor import ZeusMonitor
from zeus.optimizer import GlobalPowerLimitOptimizer
from zeus.optimizer.power_limit import ZeusCost

os.environ.setdefault("ZEUS_DEVICE", "sim")
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
data = [(torch.randn(64, 32), torch.randn(64, 1)) for _ in range(80)]

gpus = list(range(len(get_gpus())))
monitor = ZeusMonitor(gpu_indices=gpus)
plo = GlobalPowerLimitOptimizer(monitor, ZeusCost(eta_knob=0.5), warmup_steps=2, profile_steps=5)

for epoch in range(3):
    plo.on_epoch_begin()
    monitor.begin_window("epoch")
    for x, y in data:
        plo.on_step_begin()
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        for g in gpus:
            simulate_step(g)
        plo.on_step_end()
    m = monitor.end_window("epoch")
    plo.on_epoch_end()
    print(f"epoch {epoch}: {m.time:.2f} s, {m.total_energy:.1f} J, loss {loss.item():.3f}, {plo.state}")

for p in plo.measurements:
    print(f"  {p.power_limit} W: {p.energy:.1f} J in {p.time:.3f} s")
print("chosen:", plo.state)
