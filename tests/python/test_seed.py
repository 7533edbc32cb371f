"""The three code samples of the seed document (tests/python/seed/getting-started.md), run as
written, each in its own process with a small training loop filled in around it.

PyTorch here is the CPU build: the project's fake NVML provides the GPUs, and
``torch.cuda.current_device()`` (which a CPU-only PyTorch cannot answer) is pinned to 0, the
fake GPU that stands for CUDA device 0."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_python

SEED = Path(__file__).parent / "seed" / "getting-started.md"


def samples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", SEED.read_text(), flags=re.S)


def test_the_seed_has_three_samples():
    assert len(samples()) == 3


LOAD = json.dumps({"gpus": [{"count": 4, "load": 1.0}]})  # busy GPUs: power follows the limit


def test_sample_1_monitor_in_a_pytorch_loop():
    prelude = """
import torch
torch.cuda.current_device = lambda: 0
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
train_loader = [(torch.randn(32, 16), torch.randn(32, 1)) for _ in range(3)]
def train_one_step(x, y):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""
    p = run_python(prelude + samples()[0], {"ZEUS_FAKE_NVML_CONFIG": LOAD}, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert sum(l.startswith("Epoch ") for l in lines) == 100
    assert lines[-2].startswith("Epoch 99 consumed ") and " J." in lines[-2]
    assert lines[-1].startswith("One step took ")


def test_sample_2_global_power_limit_optimizer():
    prelude = """
import time
class Loader:
    # 460 batches in the first epoch (enough to profile every limit), then a few.
    def __init__(self):
        self.epoch = 0
    def __iter__(self):
        n = 460 if self.epoch == 0 else 3
        self.epoch += 1
        for i in range(n):
            time.sleep(0.001)  # loading the batch takes a millisecond
            yield i, i
train_dataloader = Loader()
"""
    epilogue = """
from zeus.device import get_gpus
print("STATE", plo.state)
print("LIMITS", [get_gpus().get_power_management_limit(i) for i in range(4)])
"""
    p = run_python(prelude + samples()[1] + epilogue, {"ZEUS_FAKE_NVML_CONFIG": LOAD}, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    state = next(l for l in p.stdout.splitlines() if l.startswith("STATE"))
    m = re.match(r"STATE Done\(optimal_power_limit=(\d+)\)", state)
    assert m, state
    opt = int(m.group(1))
    assert opt in range(100000, 300001, 25000)
    assert f"LIMITS [{opt}, {opt}, {opt}, {opt}]" in p.stdout


def test_sample_3_hugging_face_trainer(tmp_path):
    pytest.importorskip("transformers")
    prelude = f"""
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
from zeus.monitor import ZeusMonitor
from zeus.optimizer.power_limit import HFGlobalPowerLimitOptimizer
torch.manual_seed(0)
config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=37, max_position_embeddings=32, num_labels=2)
model = BertForSequenceClassification(config)  # randomly initialised: nothing downloaded
class Data(torch.utils.data.Dataset):
    def __len__(self):
        return 940
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {{"input_ids": torch.randint(0, 100, (16,), generator=g), "labels": i % 2}}
args = TrainingArguments(output_dir={str(tmp_path)!r}, per_device_train_batch_size=2,
                         num_train_epochs=1, report_to=[], save_strategy="no",
                         logging_strategy="no", use_cpu=True, disable_tqdm=True)
"""
    sample = samples()[2].replace("    ...,\n", "    model=model, args=args, train_dataset=Data(),\n")
    assert "train_dataset=Data()" in sample
    epilogue = """
trainer.train()
print("STEPS", trainer.state.global_step)
print("STATE", optimizer.optimizer.state)
"""
    p = run_python(prelude + sample + epilogue, {"ZEUS_FAKE_NVML_CONFIG": LOAD}, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "STEPS 470" in p.stdout, p.stdout
    assert re.search(r"STATE Done\(optimal_power_limit=\d+\)", p.stdout), p.stdout + p.stderr[-2000:]
