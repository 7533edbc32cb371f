#!/usr/bin/env bash
# Validation on a machine with NVIDIA GPUs (the lent H100). Prints everything to stdout; commit
# the output under docs/validation/. The only setting it changes is GPU 0's power limit, during
# the short profiling run at the end, which puts the original limit back (and checks it).
#   make validate-bundle                      (here: builds build-validate/ with its libraries)
#   bash scripts/validate-gpu.sh build-validate   (there)
set -u
B=${1:-build-validate}
export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
section() { printf '\n== %s\n' "$*"; }
section "date, host"; date -u; uname -srm
# AMD GPUs (ROCm's amd-smi present): the same checks through the amdsmi backend; the clock/
# matmul loads need a ROCm PyTorch; CUDA_VISIBLE_DEVICES=0 below selects HIP GPU 0 there too.
if command -v amd-smi >/dev/null 2>&1 && ! command -v nvidia-smi >/dev/null 2>&1; then
    export ZEUS_DEVICE=amdsmi
    section "amd-smi"
    amd-smi list; amd-smi metric --power
else
    section "nvidia-smi"
    nvidia-smi --query-gpu=index,name,driver_version,power.limit,power.min_limit,power.max_limit,power.draw --format=csv
fi
section "zeus show-env --json"; "$B/zeus" show-env --json
section "device read costs, 10000 calls each, and energy-counter change intervals"
"$B/bench_device_calls" 10000
section "10 s fp16 matmul on GPU 0: energy counter vs 100 Hz power integration"
CUDA_VISIBLE_DEVICES=0 "$B/bench_counter_vs_sampled" --period 0.01 -- python3 scripts/matmul_load.py 10
section "zeus monitor energy --json -- 5 s matmul"
CUDA_VISIBLE_DEVICES=0 "$B/zeus" monitor energy --gpu-indices 0 --json -- python3 scripts/matmul_load.py 5
section "power-limit optimizer: short real profiling run on GPU 0 (100 W steps, 3 + 10 steps each)"
CUDA_VISIBLE_DEVICES=0 "$B/validate_power_limit" --pl-step 100 --warmup 3 --profile 10 \
    -- python3 scripts/matmul_worker.py 50
if [ "${ZEUS_DEVICE:-}" = amdsmi ]; then "$B/zeus" power-limit get; else
nvidia-smi --query-gpu=index,power.limit,power.default_limit --format=csv; fi
