"""One rank of the distributed-training tests (tests/python/test_distributed.py), started by
torchrun or accelerate launch. Its fake GPU is its own: before zeus is imported, the fake
NVML's config and state file are chosen by this rank's host and local rank
(ZEUS_TEST_DIST_DIR/<host>/gpu<local rank>.json, .state). Prints one JSON line "RESULT {...}".

    python dist_worker.py loop|hf|kill   (loop + ZEUS_TEST_DATALOADER=1: then ZeusDataLoader)
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import timedelta

mode = sys.argv[1]
local_rank = int(os.environ["LOCAL_RANK"])
host_dir = os.path.join(os.environ["ZEUS_TEST_DIST_DIR"], os.environ.get("ZEUS_TEST_HOST", "a"))
# ZEUS_TEST_HOST_GPUS=1: every rank sees all of its host's GPUs (one state file, as one
# driver) and monitors the one of its local rank, as on a real multi-GPU host. "own": the same
# host, but each rank is given only its own GPU (CUDA_VISIBLE_DEVICES=<local rank>, as SLURM's
# --gpus-per-task does), which it monitors as GPU 0.
host_gpus = os.environ.get("ZEUS_TEST_HOST_GPUS")
gpus_file = "all" if host_gpus in ("1", "own") else f"gpu{local_rank}"
os.environ["ZEUS_FAKE_NVML_CONFIG"] = os.path.join(host_dir, f"{gpus_file}.json")
os.environ["ZEUS_FAKE_NVML_STATE"] = os.path.join(host_dir, f"{gpus_file}.state")
os.environ["ZEUS_LOCK_DIR"] = os.path.join(host_dir, "locks")
if host_gpus == "own":
    os.environ["CUDA_VISIBLE_DEVICES"] = str(local_rank)
my_gpu = local_rank if host_gpus == "1" else 0

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from zeus.monitor import ZeusMonitor  # noqa: E402
from zeus.utils import framework  # noqa: E402

PROFILE = os.environ.get("ZEUS_TEST_PROFILE")
calls: list[tuple[list[float], str, list[float]]] = []
_reduce = framework.all_reduce


def recording_all_reduce(values, operation):
    """framework.all_reduce, recording what this rank contributed and got back."""
    out = _reduce(values, operation)
    calls.append((list(values), operation, list(out)))
    return out


framework.all_reduce = recording_all_reduce


def report(**extra):
    """This rank's result, in ZEUS_TEST_DIST_DIR/result-<rank>.json (ranks share stdout)."""
    rank = dist.get_rank()
    path = os.path.join(os.environ["ZEUS_TEST_DIST_DIR"], f"result-{rank}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"rank": rank, "calls": calls, **extra}, f)
    os.replace(path + ".tmp", path)


def plain_loop():
    from zeus.optimizer.power_limit import GlobalPowerLimitOptimizer  # noqa: PLC0415

    dist.init_process_group("gloo", timeout=timedelta(seconds=30))
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(64, 64))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    monitor = ZeusMonitor(gpu_indices=[my_gpu])
    plo = GlobalPowerLimitOptimizer(
        monitor, warmup_steps=1, profile_steps=3, pl_step=50, profile_path=PROFILE
    )
    kill_at = int(os.environ.get("ZEUS_TEST_KILL_AT", "-1"))
    step = 0
    for _epoch in range(2):
        for _ in range(30):
            plo.on_step_begin()
            if step == kill_at and dist.get_rank() == 1:
                from zeus import _zeus  # noqa: PLC0415

                print(f"KILLING at {_zeus.gpu_power_limit_mw(0)} mW", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            x = torch.randn(16, 64)
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        plo.on_epoch_end()
    result = dict(
        state=repr(plo.state),
        optimal=plo.optimal_power_limit_mw,
        measurements=[[m.power_limit, m.energy, m.time] for m in plo.measurements],
        window=job_window(),
    )
    plo.close()  # the GPU back to its limit
    from zeus import _zeus  # noqa: PLC0415

    result["restored_mw"] = _zeus.gpu_power_limit_mw(0)
    if os.environ.get("ZEUS_TEST_DATALOADER"):  # the same ranks go on with ZeusDataLoader
        result["dataloader"] = data_loader()
    report(**result)


def hugging_face():
    from transformers import (  # noqa: PLC0415
        BertConfig,
        BertForSequenceClassification,
        Trainer,
        TrainingArguments,
    )

    from zeus.optimizer.power_limit import HFGlobalPowerLimitOptimizer  # noqa: PLC0415

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    model = BertForSequenceClassification(config)  # from a config: nothing downloaded

    class Data(torch.utils.data.Dataset):
        def __len__(self):  # 30 steps of batch 2 on every rank, however many ranks
            return 60 * int(os.environ.get("WORLD_SIZE", "2"))

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return {"input_ids": torch.randint(0, 100, (8,), generator=g), "labels": i % 2}

    monitor = ZeusMonitor(gpu_indices=[0])
    # Created before the Trainer sets up torch.distributed, as users do.
    callback = HFGlobalPowerLimitOptimizer(
        monitor, warmup_steps=1, profile_steps=2, pl_step=50, profile_path=PROFILE
    )
    args = TrainingArguments(
        output_dir=os.path.join(host_dir, f"hf{local_rank}"),
        per_device_train_batch_size=2,
        num_train_epochs=1,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        use_cpu=True,
        ddp_backend="gloo",
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Data(), callbacks=[callback])
    trainer.train()
    plo = callback.optimizer
    report(
        steps=trainer.state.global_step,
        distributed=framework.is_distributed(),
        world=dist.get_world_size(),
        state=repr(plo.state),
        optimal=plo.optimal_power_limit_mw,
        measurements=[[m.power_limit, m.energy, m.time] for m in plo.measurements],
    )


def job_window():
    """A window for the whole job over every GPU this rank's fake NVML shows (the host's
    shared GPU too): each rank's readings and the combined result."""
    from zeus import _zeus  # noqa: PLC0415

    monitor = ZeusMonitor()
    monitor.begin_window("epoch")
    x = torch.randn(128, 128)
    for _ in range(20):
        x = (x @ x).tanh()
    job = monitor.end_job_window("epoch")
    mine = job.rank_measurement
    return {
        "readings": {_zeus.gpu_info(i)["uuid"]: e for i, e in mine.gpu_energy.items()},
        "time": mine.time,
        "job": {
            "time": job.time,
            "total_energy": job.total_energy,
            "gpu_count": job.gpu_count,
            "duplicates": job.duplicates,
            "ranks": job.ranks,
            "span": job.span,
            "clock_skew_bound": job.clock_skew_bound,
            "gpu_energy": job.gpu_energy,
        },
    }


def data_loader():
    """ZeusDataLoader(distributed="dp") as `zeus run` starts it (ZEUS_* in the environment):
    rank 0 profiles and reports; the cost threshold stops every rank at the same epoch."""
    from torch.utils.data import DistributedSampler, TensorDataset  # noqa: PLC0415

    from zeus.run import ZeusDataLoader  # noqa: PLC0415
    from zeus.util.metric import ZeusCostThresholdExceededError  # noqa: PLC0415

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(seconds=30))
    torch.manual_seed(0)
    x, xe = torch.randn(320, 8), torch.randn(64, 8)
    y, ye = (x.sum(1) > 0).long(), (xe.sum(1) > 0).long()
    train_set, eval_set = TensorDataset(x, y), TensorDataset(xe, ye)
    train = ZeusDataLoader(train_set, batch_size=4, max_epochs=6, distributed="dp",
                           sampler=DistributedSampler(train_set))
    evals = ZeusDataLoader(eval_set, batch_size=8, distributed="dp",
                           sampler=DistributedSampler(eval_set, shuffle=False))
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    epochs, stopped = [], None
    try:
        for epoch in train.epochs():
            epochs.append(epoch)
            for xb, yb in train:  # DDP: a collective every step, so ranks must stay in step
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xb), yb).backward()
                opt.step()
            with torch.no_grad():
                for xb, _ in evals:
                    model(xb)
            train.report_metric(0.5, higher_is_better=True)
    except ZeusCostThresholdExceededError as e:
        stopped = {"time": e.time_consumed, "energy": e.energy_consumed, "next": e.next_cost}
    return {"epochs": epochs, "stopped": stopped}


{"loop": plain_loop, "kill": plain_loop, "hf": hugging_face}[mode]()
if dist.is_initialized():
    # Every rank done before any tears its Gloo connections down: a rank whose peer closed
    # first can abort in Gloo's shutdown ("terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()
