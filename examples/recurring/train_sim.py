#!/usr/bin/env python3
"""A small real training job for `zeus run` tests: the original ZeusDataLoader's protocol
(environment variables in, bs<B>.power.json and <job>+bs<B>.train.json out, written atomically)
with simulated GPUs: each batch size needs a fixed number of epochs to reach the target, an
epoch's time and energy follow from the batch size and the power limit.

Usage: train_sim.py BATCH_SIZE SEED. Test knobs (environment): SIM_FAIL_BS=<bs> exits 3
without a result for that batch size; SIM_MALFORMED=1 writes a broken result; SIM_EPOCH_SLEEP
seconds per epoch; SIM_MARK=<path> appends "<job_id> <bs> <seed>" when the job starts."""
import json
import math
import os
import sys
import time

bs = int(sys.argv[1])
seed = int(sys.argv[2])
env = os.environ
logdir = env.get("ZEUS_LOG_DIR", "zeus_log")
job_id = env.get("ZEUS_JOB_ID", "zeus")
thresh = float(env.get("ZEUS_COST_THRESH", "inf"))
eta = float(env.get("ZEUS_ETA_KNOB", "0.5"))
target = float(env["ZEUS_TARGET_METRIC"])
use_opt = env.get("ZEUS_USE_OPTIMAL_PL", "True").lower() == "true"
max_epochs = int(env.get("SIM_MAX_EPOCHS", "5"))
max_pl = 300
if env.get("SIM_MARK"):
    with open(env["SIM_MARK"], "a") as f:
        f.write(f"{job_id} {bs} {seed} {env.get('ZEUS_PROFILE_PARAMS')} {use_opt} {os.getpid()} {logdir}\n")
print(f"training bs={bs} seed={seed} thresh={thresh}", flush=True)
if env.get("SIM_FAIL_BS") == str(bs):
    print("simulated crash", flush=True)
    sys.exit(3)

EPOCHS_TO_TARGET = {8: 6, 16: 4, 32: 3, 64: 3, 128: 99}
need = EPOCHS_TO_TARGET.get(bs, 4)


def epoch(pl):
    """Time (s) and average power (W) of one epoch at power limit pl."""
    t = 40.0 / math.sqrt(bs) * (1 + (max_pl - pl) / 1200)
    return t, 0.9 * pl


def atomic(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


power_json = os.path.join(logdir, f"bs{bs}.power.json")
if not os.path.exists(power_json):
    pls = list(range(max_pl, 174, -25))
    power, tput = {}, {}
    for pl in pls:
        t, p = epoch(pl)
        power[str(pl * 1000)] = p
        tput[str(pl * 1000)] = 100 / t
    opt = min(pls, key=lambda pl: (eta * power[str(pl * 1000)] + (1 - eta) * max_pl) / tput[str(pl * 1000)])
    atomic(power_json, {"job_id": job_id, "train_power": power, "train_throughput": tput,
                        "eval_power": power, "eval_throughput": tput, "optimal_pl": opt * 1000})
with open(power_json) as f:
    opt_pl = json.load(f)["optimal_pl"] // 1000
pl = opt_pl if use_opt else max_pl
energy = t_total = 0.0
reached = False
epochs = 0
result = os.path.join(logdir, f"{job_id}+bs{bs}.train.json")
while epochs < max_epochs:
    t, p = epoch(pl)
    next_cost = eta * (energy + t * p) + (1 - eta) * max_pl * (t_total + t)
    if epochs > 0 and next_cost >= thresh:
        print(f"early stop: next cost {next_cost:.2f} >= {thresh:.2f}", flush=True)
        break
    time.sleep(float(env.get("SIM_EPOCH_SLEEP", "0")))
    energy += t * p
    t_total += t
    epochs += 1
    if epochs >= need:
        reached = True
        break
if env.get("SIM_MALFORMED"):
    with open(result, "w") as f:
        f.write("{not json")
    sys.exit(0)
atomic(result, {"energy": energy, "time": t_total, "cost": eta * energy + (1 - eta) * max_pl * t_total,
                "num_epochs": epochs, "reached": reached})
print(f"done: epochs={epochs} reached={reached}", flush=True)
