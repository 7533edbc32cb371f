"""``PowerMonitor``: GPU power sampled in the background (a libzeus sampler thread)."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from zeus import _zeus

WindowsArg = Union[None, str, "os.PathLike[str]", Mapping[str, Any], Iterable[Sequence[Any]]]


def _windows(windows: WindowsArg) -> list[tuple[str, float, float]]:
    """(name, start, end) in Unix seconds from what ``plot(windows=...)`` accepts."""
    if windows is None:
        return []
    if isinstance(windows, (str, os.PathLike)):
        return list(_zeus.read_windows(windows))
    items = windows.items() if isinstance(windows, Mapping) else windows
    out = []
    for item in items:
        if isinstance(windows, Mapping):
            name, span = item
            if hasattr(span, "start_time") and hasattr(span, "time"):  # a Measurement
                start, end = span.start_time, span.start_time + span.time
            else:
                start, end = span
        else:
            name, start, end = item
        out.append((str(name), float(start), float(end)))
    return out


def _format(path: Optional[Union[str, "os.PathLike[str]"]]) -> Optional[str]:
    if path is None:
        return None
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in ("png", "pdf", "svg"):
        raise ValueError(f"plot: {os.fspath(path)!r}: name a .png, .pdf or .svg file")
    return ext


class PowerDomain(Enum):
    """A GPU power reading (the newer Zeus's ``PowerDomain``)."""

    DEVICE_INSTANT = "device_instant"
    DEVICE_AVERAGE = "device_average"
    MEMORY_AVERAGE = "memory_average"


@dataclass
class PowerSample:
    """One power reading: Unix time (s), GPU (framework index), power (mW)."""

    timestamp: float
    gpu_index: int
    power_mw: float


def infer_counter_update_period(gpu_indicies: list[int]) -> float:
    """How often to sample these GPUs' power (s): libzeus measures, per GPU model, how often its
    power reading changes, halves the shortest interval and caps it at 0.1 s, as the newer
    Zeus does (0.8's version always returned 0.0: spec 6 quirk 2)."""
    sampler = _zeus.Sampler(gpu_indices=list(gpu_indicies), update_period=None)
    try:
        return sampler.update_period
    finally:
        sampler.stop()


class PowerMonitor(_zeus.Sampler):
    """Samples GPU power in a background thread, like the original ``PowerMonitor``.

    Args:
        gpu_indices: GPUs to sample (None: all; an empty list is a ValueError).
        update_period: sampling period (s); None: inferred from how often each GPU model's
            power reading changes, halved, at most 0.1 s.

    ``get_energy(start_time, end_time)`` -> {gpu: J} or None; ``get_power(time=None)`` -> {gpu: W} or None;
    ``get_power_timeline(...)`` as the newer Zeus's; ``plot(path=None, windows=None)`` draws the
    power timeline (ours).
    """

    def __init__(
        self,
        gpu_indices: Optional[Sequence[int]] = None,
        update_period: Optional[float] = None,
        max_samples_per_gpu: Optional[int] = None,
        power_domains: Optional[Sequence[Union["PowerDomain", str]]] = None,
    ) -> None:
        if power_domains is not None:
            if len(power_domains) == 0:
                raise ValueError("power_domains must not be an empty list.")
            for d in power_domains:
                domain = PowerDomain(getattr(d, "value", d))  # ValueError for an unknown name
                if domain is not PowerDomain.DEVICE_INSTANT:
                    raise ValueError(
                        f"Power domain {domain.value} is not supported by this PowerMonitor "
                        "(libzeus's sampler samples device_instant)."
                    )
        if max_samples_per_gpu is not None and max_samples_per_gpu <= 0:
            raise ValueError("max_samples_per_gpu must be positive.")
        super().__init__(
            gpu_indices=None if gpu_indices is None else list(gpu_indices),
            update_period=update_period,
        )
        self.max_samples_per_gpu = max_samples_per_gpu
        self.power_domains = [PowerDomain.DEVICE_INSTANT]

    def __repr__(self) -> str:
        return f"PowerMonitor(gpu_indices={self.gpu_indices!r}, update_period={self.update_period!r})"

    def get_power_timeline(
        self,
        power_domain: Any = "device_instant",
        gpu_index: Optional[int] = None,
        start_time: Optional[float] = None,
        end_time: Optional[float] = None,
    ) -> dict[int, list[tuple[float, float]]]:
        """As the newer Zeus's: ``{gpu: [(time, W), ...]}`` of the samples kept so far between
        ``start_time`` and ``end_time`` (Unix seconds, both included), a sample listed only when
        the GPU's power changed since its previous one (the newer Zeus's deduplication).

        This monitor samples one power domain, ``"device_instant"`` (NVML's instant power where
        the GPU has it, else its power reading); another domain is a ValueError. A GPU this
        monitor does not sample is left out of the result."""
        domain = getattr(power_domain, "value", power_domain)
        if domain != "device_instant":
            raise ValueError(
                f"Power domain {domain} is not supported by this PowerMonitor "
                "(it samples device_instant)."
            )
        times, columns = self._timeline()
        lo = -math.inf if start_time is None else start_time
        hi = math.inf if end_time is None else end_time
        result: dict[int, list[tuple[float, float]]] = {}
        for gpu in self.gpu_indices if gpu_index is None else [gpu_index]:
            watts = columns.get(f"gpu{gpu}")
            if watts is None:
                continue
            timeline, previous = [], None
            for t, w in zip(times, watts):
                if math.isnan(w) or w == previous:  # a failed reading; unchanged power
                    continue
                previous = w
                if lo <= t <= hi:
                    timeline.append((t, w))
            result[gpu] = timeline
        return result

    def get_all_power_timelines(
        self,
        gpu_index: Optional[int] = None,
        start_time: Optional[float] = None,
        end_time: Optional[float] = None,
    ) -> dict[str, dict[int, list[tuple[float, float]]]]:
        """``{domain: get_power_timeline(domain, ...)}`` for the one domain sampled."""
        return {
            "device_instant": self.get_power_timeline(
                "device_instant", gpu_index, start_time, end_time
            )
        }

    def plot(
        self,
        path: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        windows: WindowsArg = None,
        title: Optional[str] = None,
        width: int = 960,
        height: int = 540,
    ):
        """Draws power per GPU over time (the samples kept so far), windows shaded and named.

        Args:
            path: the file to write; its extension picks the format: ``.png``, ``.pdf`` or
                ``.svg`` with matplotlib, ``.svg`` only without it. None: write nothing.
            windows: windows to mark: the path of a ZeusMonitor log (``log_file=``), a mapping
                of name to ``Measurement`` (``monitor.end_window``'s result) or to
                ``(start, end)``, or ``(name, start, end)`` tuples; times in Unix seconds
                (``time.time()``, a ``Measurement``'s ``start_time``).
            title: the picture's title (default ``"Power"``).
            width, height: the picture's size in pixels (a PNG is exactly this size).

        Returns:
            A ``matplotlib.figure.Figure`` when matplotlib is installed; without it, the SVG
            text drawn by libzeus (the same picture as ``zeus monitor power --plot``).
        """
        fmt = _format(path)
        marks = _windows(windows)
        times, columns = self._timeline()
        if not times:
            raise ValueError("plot: no power sample has been taken yet")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            if fmt not in (None, "svg"):
                raise ImportError(
                    f"plot: a .{fmt} picture needs matplotlib (pip install matplotlib); "
                    "without it, only .svg"
                ) from None
            svg = _zeus.plot_power_svg(
                times, list(columns.items()), marks, width=width, height=height, title=title
            )
            if path is not None:
                _zeus.write_file(path, svg)
            return svg
        figure = _figure(times, columns, marks, title, width, height)
        if path is not None:
            picture = io.BytesIO()
            figure.savefig(picture, format=fmt, dpi=_DPI)
            _zeus.write_file(path, picture.getvalue())  # atomic, as every file Zeus writes
        return figure


_DPI = 100


def _figure(times, columns, marks, title, width, height):
    """The matplotlib Figure (no pyplot: no global figure state, nothing left open)."""
    from matplotlib.figure import Figure

    t0 = times[0]
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, layout="constrained")
    ax = figure.add_subplot()
    for name, values in columns.items():
        ax.plot([t - t0 for t in times], values, label=name, linewidth=1.2, gid=f"series-{name}")
    for name, start, end in marks:
        a, b = max(start, t0), min(end, times[-1])
        if b >= a:
            ax.axvspan(a - t0, b - t0, color="0.5", alpha=0.15, gid=f"window-{name}")
            ax.annotate(name, (a - t0, 1), xycoords=("data", "axes fraction"),
                        xytext=(2, -10), textcoords="offset points", fontsize=8)
    ax.set_title(title or "Power")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("power (W)")
    ax.set_ylim(bottom=0)
    ax.grid(True, color="0.85")
    ax.legend(loc="upper right", fontsize=8)
    return figure
