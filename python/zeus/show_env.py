"""``python -m zeus.show_env``: what Zeus sees (the newer Zeus's ``zeus.show_env``): Python,
Zeus and libzeus versions, which frameworks are installed, the GPUs, CPU packages and SoC, and
the zeusd daemon when one is configured."""

from __future__ import annotations

import importlib.util
import os
import platform

import zeus
from zeus import _zeus


def _installed(name: str) -> str:
    if importlib.util.find_spec(name) is None:
        return "not installed"
    module = __import__(name)
    return f"available ({getattr(module, '__version__', 'unknown version')})"


def _gpus() -> list[str]:
    lines = []
    backend = _zeus.gpu_backend()
    for name, (ok, why) in _zeus.backend_reasons().items():
        lines.append(f"  backend {name}: {'available' if ok else 'unavailable'} ({why})")
    if backend is None:
        lines.append("  GPU: none")
        return lines
    n = _zeus.gpu_count()
    lines.append(f"  GPU backend: {backend}, {n} GPU(s)")
    for i in range(n):
        info = _zeus.gpu_info(i)
        pl = ""
        if info["power_limit_valid"]:
            pl = f", power limit {info['min_power_limit_mw'] // 1000}-{info['max_power_limit_mw'] // 1000} W"
        lines.append(
            f"    [{i}] {info['name']} ({info['architecture']}"
            f"{', energy counter' if info['has_energy_counter'] else ''}{pl})"
        )
    for var in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"):
        if var in os.environ:
            lines.append(f"  {var}={os.environ[var]}")
    return lines


def _cpus() -> list[str]:
    n = _zeus.cpu_count()
    if n == 0:
        return ["  CPU: no RAPL packages"]
    lines = [f"  CPU: RAPL, {n} package(s)"]
    for i in range(n):
        info = _zeus.cpu_info(i)
        lines.append(f"    [{i}] {info['name']} (DRAM {'supported' if info['has_dram'] else 'not supported'})")
    return lines


def show_env() -> None:
    """Prints the environment Zeus runs in."""
    from zeus.utils.zeusd import ZeusdConfig  # noqa: PLC0415

    lines = [
        "Python: " + platform.python_version(),
        f"Zeus: {zeus.__version__} (API of Zeus {zeus.__zeus_api_version__}, libzeus {zeus.__libzeus_version__})",
        "",
        "Frameworks:",
        "  PyTorch: " + _installed("torch"),
        "  JAX: " + _installed("jax"),
        "  CuPy: " + _installed("cupy"),
        "",
        "Devices:",
        *_gpus(),
        *_cpus(),
        "  SoC: none (Apple Silicon and Jetson are not supported by this build)",
    ]
    config = ZeusdConfig.from_env()
    lines += ["", "zeusd: " + (f"configured at {config.endpoint}" if config else "not configured")]
    print("\n".join(lines))


if __name__ == "__main__":
    show_env()
