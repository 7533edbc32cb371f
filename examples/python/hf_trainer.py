#!/usr/bin/env python3
"""A Hugging Face Trainer with HFGlobalPowerLimitOptimizer (the seed document's third sample).

    python examples/python/hf_trainer.py            # GPUs through NVML
    ZEUS_DEVICE=sim python examples/python/hf_trainer.py   # simulated GPUs, on a CPU

A tiny BERT is built from a config (nothing is downloaded) and trained on synthetic data for
one epoch; the callback profiles the power limits during the first steps and keeps the best.
"""

import tempfile

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from zeus.monitor import ZeusMonitor
from zeus.optimizer.power_limit import HFGlobalPowerLimitOptimizer

torch.manual_seed(0)
config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=37, max_position_embeddings=32, num_labels=2)
model = BertForSequenceClassification(config)


class Synthetic(torch.utils.data.Dataset):
    def __len__(self):
        return 1000

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"input_ids": torch.randint(0, 100, (16,), generator=g), "labels": i % 2}


monitor = ZeusMonitor()
optimizer = HFGlobalPowerLimitOptimizer(monitor)

trainer = Trainer(
    model=model,
    args=TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=2,
                           num_train_epochs=1, report_to=[], save_strategy="no",
                           use_cpu=not torch.cuda.is_available(), disable_tqdm=True),
    train_dataset=Synthetic(),
    callbacks=[optimizer],  # Add the `HFGlobalPowerLimitOptimizer` callback
)
trainer.train()
print("power-limit optimizer:", optimizer.optimizer.state)
