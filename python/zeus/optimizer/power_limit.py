"""The power-limit optimizer (``zeus.optimizer.power_limit``): libzeus's state machine.

``GlobalPowerLimitOptimizer`` profiles every power limit during the first steps of training and
then keeps the best under an ``OptimumSelector``. Its hooks are the extension's C methods (a few
hundred nanoseconds a step outside phase changes).

Ctrl-C: libzeus installs no signal handler in a Python process. Instead, every live optimizer
puts its GPUs back (limit and persistence mode) from a SIGINT handler chained in front of
Python's own (which then raises KeyboardInterrupt as always), and again at interpreter exit.
SIGTERM and SIGHUP, when at their default action, restore and then kill the process as before. If
the program catches the KeyboardInterrupt and goes on, the next hook applies the optimizer's
limit again. A forked child (DataLoader workers) never restores its parent's GPUs.

Distributed training (``torchrun``, ``accelerate launch``): when ``torch.distributed`` is
initialised, each rank's optimizer measures its own GPUs and, at the end of every limit's
profiling window, the ranks all-reduce energy (sum) and time (max) with
``zeus.utils.framework.all_reduce``, so every rank chooses the same limit, as in the newest Zeus.
Creating the optimizers is collective too (every rank created, the profile file on every rank or
none), and the default ``ZeusCost`` counts every rank's GPUs (docs/power-limit.md).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Optional

from zeus import _zeus
from zeus.callback import Callback
from zeus.monitor import ZeusMonitor
from zeus.utils import framework

logger = logging.getLogger(__name__)

__all__ = [
    "OptimumSelector",
    "Energy",
    "Time",
    "ZeusCost",
    "MaxSlowdownConstraint",
    "GlobalPowerLimitOptimizer",
    "HFGlobalPowerLimitOptimizer",
    "PowerLimitMeasurement",
    "Ready",
    "Warmup",
    "Profiling",
    "Done",
]


@dataclass(frozen=True)
class PowerLimitMeasurement:
    """One profiled power limit: W, J (summed over GPUs), s."""

    power_limit: int
    energy: float
    time: float


@dataclass(frozen=True)
class Ready:
    next_power_limit: int  # mW
    steps: int


@dataclass(frozen=True)
class Warmup:
    current_power_limit: int  # mW
    steps: int


@dataclass(frozen=True)
class Profiling:
    current_power_limit: int  # mW
    steps: int


@dataclass(frozen=True)
class Done:
    optimal_power_limit: int  # mW


class OptimumSelector(ABC):
    """Chooses the optimal power limit (W) among the profiled ones.

    Subclass it and implement ``select``; the optimizer calls it (from the thread running the
    hook) once profiling ends or a profile is loaded."""

    @abstractmethod
    def select(self, measurements: list[PowerLimitMeasurement]) -> int:
        """The optimal power limit in W."""

    def _native(self) -> Any:
        # A user's selector: libzeus calls back into Python with [(W, J, s), ...].
        return lambda rows: int(self.select([PowerLimitMeasurement(*r) for r in rows]))


class Energy(OptimumSelector):
    """Minimum energy (ties: the higher limit)."""

    def select(self, measurements: list[PowerLimitMeasurement]) -> int:
        return min(measurements, key=lambda m: m.energy).power_limit

    def _native(self) -> Any:
        return ("energy",)

    def __repr__(self) -> str:
        return "Energy()"


class Time(OptimumSelector):
    """Minimum time (ties: the higher limit)."""

    def select(self, measurements: list[PowerLimitMeasurement]) -> int:
        return min(measurements, key=lambda m: m.time).power_limit

    def _native(self) -> Any:
        return ("time",)

    def __repr__(self) -> str:
        return "Time()"


class ZeusCost(OptimumSelector):
    """Minimum Zeus cost ``eta*E + (1-eta)*MaxPower*T``, MaxPower = max limit x world_size."""

    def __init__(self, eta_knob: float, world_size: int = 1) -> None:
        if not 0.0 <= eta_knob <= 1.0:
            raise ValueError("eta_knob must be between 0 and 1, inclusive both sides.")
        if world_size < 1:
            raise ValueError("world_size must be greater than or equal to 1.")
        self.eta_knob = eta_knob
        self.world_size = world_size

    def select(self, measurements: list[PowerLimitMeasurement]) -> int:
        max_power = max(m.power_limit for m in measurements) * self.world_size
        best = min(
            measurements,
            key=lambda m: _zeus.zeus_cost(m.energy, m.time, self.eta_knob, max_power),
        )
        return best.power_limit

    def _native(self) -> Any:
        return ("zeus_cost", float(self.eta_knob), int(self.world_size))

    def __repr__(self) -> str:
        return f"ZeusCost(eta_knob={self.eta_knob!r}, world_size={self.world_size!r})"


class MaxSlowdownConstraint(OptimumSelector):
    """The lowest limit whose time is within ``factor`` x the time at the highest limit."""

    def __init__(self, factor: float) -> None:
        if factor < 1.0:
            raise ValueError(
                f"max_slowdown_factor must be greater than or equal to 1.0. Got {factor}."
            )
        self.factor = factor

    def select(self, measurements: list[PowerLimitMeasurement]) -> int:
        top = max(m.power_limit for m in measurements)
        ref = next(m.time for m in measurements if m.power_limit == top)
        return min(m.power_limit for m in measurements if m.time <= self.factor * ref)

    def _native(self) -> Any:
        return ("max_slowdown", float(self.factor))

    def __repr__(self) -> str:
        return f"MaxSlowdownConstraint(factor={self.factor!r})"


# ---- Ctrl-C and exit: put every live optimizer's GPUs back ----
_live: "weakref.WeakSet[_zeus.Optimizer]" = weakref.WeakSet()
_hooks_lock = threading.Lock()
_hooks_installed = False
_previous_sigint: Any = None


def _restore_all() -> None:
    for plo in list(_live):
        try:
            plo.restore()  # a no-op in a forked child
        except Exception:  # noqa: BLE001 - keep restoring the others
            pass


def _on_sigint(signum: int, frame: Any) -> None:
    _restore_all()
    prev = _previous_sigint
    if callable(prev):
        prev(signum, frame)
    elif prev == signal.SIG_DFL:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.raise_signal(signal.SIGINT)
    else:  # SIG_IGN or unknown (set from C): behave as Python does by default
        raise KeyboardInterrupt


def _on_fatal_signal(signum: int, frame: Any) -> None:
    # SIGTERM/SIGHUP at their default action: restore, then die of the signal as before.
    _restore_all()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def _install_hooks() -> None:
    global _hooks_installed, _previous_sigint
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
        atexit.register(_restore_all)
        # Only the main thread may set handlers; a signal that is ignored stays ignored, and
        # a handler the program installed for SIGTERM/SIGHUP is left alone.
        if threading.current_thread() is threading.main_thread():
            prev = signal.getsignal(signal.SIGINT)
            if prev is not signal.SIG_IGN and prev is not None:
                _previous_sigint = prev
                signal.signal(signal.SIGINT, _on_sigint)
            for sig in (signal.SIGTERM, signal.SIGHUP):
                if signal.getsignal(sig) is signal.SIG_DFL:
                    signal.signal(sig, _on_fatal_signal)


def _state_of(raw: Optional[tuple]) -> Any:
    if raw is None:
        return None
    phase, limit_mw, steps, _profiled, _count = raw
    phase = phase.lower()
    if phase == "ready":
        return Ready(next_power_limit=limit_mw, steps=steps)
    if phase == "warmup":
        return Warmup(current_power_limit=limit_mw, steps=steps)
    if phase == "profiling":
        return Profiling(current_power_limit=limit_mw, steps=steps)
    return Done(optimal_power_limit=limit_mw)


class GlobalPowerLimitOptimizer(_zeus.Optimizer, Callback):
    """Profiles every GPU power limit during training and keeps the optimal one.

    Args:
        monitor: the ZeusMonitor whose GPUs are optimized.
        optimum_selector: an OptimumSelector (default ``ZeusCost(0.5, #GPUs)``).
        wait_steps: steps at the maximum limit before profiling starts.
        warmup_steps: steps after each limit change before profiling it.
        profile_steps: steps profiled per limit.
        pl_step: W between profiled limits.
        profile_path: JSON profile; written after profiling, loaded (no profiling) if it exists.
        profiling: "full" (default, the original's: every limit, warmup + profile_steps each)
            or "adaptive" (an extension: each limit measured only until its rank is clear,
            close ones measured again, within 45 % of full profiling's steps;
            docs/power-limit.md).
        profiling_budget: "adaptive": the most steps it may take, as a fraction of full
            profiling's (0 < budget <= 1; None: 0.45). More steps buy full profiling's quality.

    Raises ValueError for bad arguments, RuntimeError when changing limits is not permitted.
    """

    def __init__(
        self,
        monitor: ZeusMonitor,
        optimum_selector: Optional[OptimumSelector] = None,
        wait_steps: int = 1,
        warmup_steps: int = 10,
        profile_steps: int = 40,
        pl_step: int = 25,
        profile_path: Optional[str] = None,
        profiling: str = "full",
        profiling_budget: Optional[float] = None,
    ) -> None:
        # The original's order and messages for the step arguments.
        if wait_steps < 0:
            raise ValueError("wait_steps must be non-negative.")
        if warmup_steps < 0:
            raise ValueError("warmup_steps must be non-negative.")
        if profile_steps <= 0:
            raise ValueError("profile_steps must be positive.")
        if pl_step <= 0:
            raise ValueError("pl_step must be positive.")
        if optimum_selector is not None and not isinstance(optimum_selector, OptimumSelector):
            raise TypeError("optimum_selector must be an OptimumSelector")
        if profiling not in ("full", "adaptive"):
            raise ValueError(f"profiling must be 'full' or 'adaptive'. Got {profiling!r}.")
        self.profiling = profiling
        self.profiling_budget = profiling_budget
        self.monitor = monitor
        self.optimum_selector = optimum_selector
        self.wait_steps = wait_steps
        self.warmup_steps = warmup_steps
        self.profile_steps = profile_steps
        self.pl_step = pl_step
        self.profile_path = profile_path
        _install_hooks()
        # Under torch.distributed the ranks combine their profiles (newest Zeus). The collective
        # is torch's: its process group's time-out bounds every call.
        all_reduce = None
        if "torch" in sys.modules and framework.is_distributed():
            all_reduce = framework.all_reduce
            if len(monitor.gpu_indices) > 1:
                logger.warning(
                    "Distributed training: this rank's ZeusMonitor watches %d GPUs; use one "
                    "monitor per rank with gpu_indices=[local_rank] so that no GPU is counted "
                    "by two ranks.",
                    len(monitor.gpu_indices),
                )
        super().__init__(
            monitor,
            selector=None if optimum_selector is None else optimum_selector._native(),
            wait_steps=wait_steps,
            warmup_steps=warmup_steps,
            profile_steps=profile_steps,
            pl_step=pl_step,
            profile_path=None if profile_path is None else str(profile_path),
            all_reduce=all_reduce,
            profiling=profiling,
            **({} if profiling_budget is None else {"profiling_budget": float(profiling_budget)}),
        )
        _live.add(self)

    @property
    def state(self) -> Any:
        """Ready, Warmup, Profiling or Done (power limits in mW)."""
        return _state_of(self._state)

    @property
    def measurements(self) -> list[PowerLimitMeasurement]:
        return [PowerLimitMeasurement(*m) for m in self._measurements]

    def __repr__(self) -> str:
        return (
            f"GlobalPowerLimitOptimizer(gpu_indices={self.monitor.gpu_indices!r}, "
            f"optimum_selector={self.optimum_selector!r}, state={self.state!r})"
        )


def _launched_distributed() -> bool:
    """Started as one of several ranks (torchrun and accelerate launch set WORLD_SIZE)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


_HF_MISSING = (
    "The transformers package is not installed. "
    "Please install it to use the HFGlobalPowerLimitOptimizer."
)
_hf_class: Any = None


def _make_hf_class() -> Any:
    try:
        from transformers import TrainerCallback  # noqa: PLC0415 - optional, slow to import
    except ImportError:

        class HFGlobalPowerLimitOptimizer:  # type: ignore[no-redef]
            """Needs the ``transformers`` package."""

            def __init__(
                self,
                monitor: ZeusMonitor,
                optimum_selector: Optional[OptimumSelector] = None,
                wait_steps: int = 1,
                warmup_steps: int = 10,
                profile_steps: int = 40,
                pl_step: int = 25,
                profile_path: Optional[str] = None,
                profiling: str = "full",
                profiling_budget: Optional[float] = None,
            ) -> None:
                raise ImportError(_HF_MISSING, name="transformers")

        return HFGlobalPowerLimitOptimizer

    class HFGlobalPowerLimitOptimizer(TrainerCallback):  # type: ignore[no-redef]
        """``GlobalPowerLimitOptimizer`` as a Hugging Face ``TrainerCallback``:
        ``Trainer(..., callbacks=[HFGlobalPowerLimitOptimizer(monitor)])``."""

        def __init__(
            self,
            monitor: ZeusMonitor,
            optimum_selector: Optional[OptimumSelector] = None,
            wait_steps: int = 1,
            warmup_steps: int = 10,
            profile_steps: int = 40,
            pl_step: int = 25,
            profile_path: Optional[str] = None,
            profiling: str = "full",
            profiling_budget: Optional[float] = None,
        ) -> None:
            self._arguments = (
                monitor,
                optimum_selector,
                wait_steps,
                warmup_steps,
                profile_steps,
                pl_step,
                profile_path,
                profiling,
                profiling_budget,
            )
            self.optimizer: Optional[GlobalPowerLimitOptimizer] = None
            # Under torchrun / accelerate launch the callback is usually made before the
            # Trainer initialises torch.distributed: the optimizer (whose creation is a
            # collective) is then made when training begins, on every rank alike.
            if not _launched_distributed() or framework.is_distributed():
                self.optimizer = GlobalPowerLimitOptimizer(*self._arguments)

        def _ready(self) -> GlobalPowerLimitOptimizer:
            if self.optimizer is None:
                self.optimizer = GlobalPowerLimitOptimizer(*self._arguments)
            return self.optimizer

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self._ready()

        # (model: Zeus 0.8's hooks took it as a fourth positional; the newer Zeus's by keyword)
        def on_step_begin(self, args, state, control, model=None, **kwargs):  # noqa: ANN001
            self._ready().on_step_begin()

        def on_epoch_end(self, args, state, control, model=None, **kwargs):  # noqa: ANN001
            self._ready().on_epoch_end()

        def __repr__(self) -> str:
            return f"HF{self.optimizer!r}" if self.optimizer else "HFGlobalPowerLimitOptimizer()"

    HFGlobalPowerLimitOptimizer.__module__ = __name__
    return HFGlobalPowerLimitOptimizer


def __getattr__(name: str) -> Any:
    # Transformers takes seconds to import: only when the class is asked for.
    global _hf_class
    if name == "HFGlobalPowerLimitOptimizer":
        if _hf_class is None:
            _hf_class = _make_hf_class()
        return _hf_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
