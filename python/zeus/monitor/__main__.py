"""``python -m zeus.monitor energy|power``, like the original's command."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from zeus.monitor import PowerMonitor, ZeusMonitor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zeus.monitor")
    sub = parser.add_subparsers(dest="mode", required=True)
    energy = sub.add_parser("energy", help="Measure the energy of GPUs until Ctrl-C.")
    energy.add_argument("--gpu-indices", nargs="+", type=int, default=None)
    power = sub.add_parser("power", help="Print GPU power every period until Ctrl-C.")
    power.add_argument("--gpu-indices", nargs="+", type=int, default=None)
    power.add_argument("--update-period", type=float, default=1.0)
    args = parser.parse_args(argv)

    if args.mode == "energy":
        monitor = ZeusMonitor(gpu_indices=args.gpu_indices)
        monitor.begin_window("zeus.monitor.energy")
        print("Measuring energy; press Ctrl-C to stop.", file=sys.stderr, flush=True)
        try:
            time.sleep(365 * 24 * 60 * 60)
        except KeyboardInterrupt:
            pass
        m = monitor.end_window("zeus.monitor.energy")
        print("Total energy (J):")
        print(m, flush=True)
        return 0

    monitor = PowerMonitor(gpu_indices=args.gpu_indices, update_period=args.update_period)
    start = time.time()
    try:
        while True:
            time.sleep(args.update_period)
            p = monitor.get_power()
            if p is not None:
                print(datetime.now(), {f"GPU{i}": w for i, w in p.items()}, flush=True)
    except KeyboardInterrupt:
        end = time.time()
        print()
        print(f"Total time (s): {end - start}")
        e = monitor.get_energy(start, end)
        if e is not None:
            print(f"Total energy (J): { {f'GPU{i}': j for i, j in e.items()} }", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
