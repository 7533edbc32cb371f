"""A training-step worker for validation runs: for every byte read on stdin it runs one "step"
(N back-to-back fp16 matmuls on cuda:0, then synchronize) and answers with one byte. Stops at
end of input. Usage: python3 scripts/matmul_worker.py [matmuls per step]"""
import sys

import torch

per_step = int(sys.argv[1]) if len(sys.argv) > 1 else 50
a = torch.randn(8192, 8192, device="cuda:0", dtype=torch.float16)
b = torch.randn(8192, 8192, device="cuda:0", dtype=torch.float16)
torch.cuda.synchronize()
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while stdin.read(1):
    for _ in range(per_step):
        c = a @ b
    torch.cuda.synchronize()
    stdout.write(b"d")
    stdout.flush()
