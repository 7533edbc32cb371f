"""A steady GPU load for validation runs: back-to-back matmuls on cuda:0 for N seconds."""
import sys
import time

import torch

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
a = torch.randn(8192, 8192, device="cuda:0", dtype=torch.float16)
b = torch.randn(8192, 8192, device="cuda:0", dtype=torch.float16)
steps = 0
end = time.time() + seconds
while time.time() < end:
    for _ in range(10):
        c = a @ b
    torch.cuda.synchronize()
    steps += 10
print(f"matmul_load: {steps} matmuls of 8192x8192 fp16 in {seconds} s", file=sys.stderr)
