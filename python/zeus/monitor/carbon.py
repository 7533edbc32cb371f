"""Carbon emission of measurement windows, as the newer Zeus's ``zeus.monitor.carbon``.

``ElectrictyMapsClient`` (the original's spelling; ``ElectricityMapsClient`` is the same class)
asks ElectricityMaps for the grid's carbon intensity where the machine is;
``CarbonEmissionMonitor`` measures windows with libzeus's ``ZeusMonitor`` and converts each
interval's share of a window's energy with that interval's intensity (docs/carbon.md).

Ours, beyond the original: the API's base URL, key, location and time-out come from arguments or
the environment (``ZEUS_CARBON_API``, ``ZEUS_CARBON_API_KEY``, ``ZEUS_CARBON_LOCATION``,
``ZEUS_CARBON_TIMEOUT``); answers are cached in memory and on disk (``ZEUS_CARBON_CACHE_DIR``);
a provider failure never loses the measurement: the emission is ``None`` and ``error`` says why.
"""

from __future__ import annotations

import abc
import enum
import logging
import math
import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal, Optional, Sequence, Union

from zeus.monitor._intervals import Interval, IntervalMonitor
from zeus.monitor._provider import (
    DEFAULT_TTL_S,
    ClientBase,
    ProviderError,
    floor_time,
    fresh,
    hour_stamp,
    parse_datetime,
    safe_component,
)

logger = logging.getLogger(__name__)

ELECTRICITYMAPS_API = "https://api.electricitymap.org/v3"
JOULES_PER_KWH = 3.6e6


class ZeusCarbonIntensityHTTPError(ProviderError):
    """The carbon-intensity API could not be asked or refused (``status``: HTTP status)."""


class ZeusCarbonIntensityNotFoundError(Exception):
    """The API answered without the carbon intensity asked for."""


class CarbonIntensityProvider(abc.ABC):
    """Where carbon intensity (gCO2eq/kWh) comes from."""

    @abc.abstractmethod
    def get_current_carbon_intensity(self) -> float:
        """The intensity now."""

    @abc.abstractmethod
    def get_recent_carbon_intensity(self) -> dict[datetime, float]:
        """Intensity per interval start (UTC) over the last ``history_length`` intervals."""

    @property
    @abc.abstractmethod
    def update_period(self) -> timedelta:
        """How long one intensity value holds."""

    @property
    @abc.abstractmethod
    def history_length(self) -> int:
        """How many past intervals ``get_recent_carbon_intensity`` covers."""


def _location(location, check_range: bool = True) -> tuple[Optional[tuple[float, float]], Optional[str]]:
    """(lat, lon) or an ElectricityMaps zone ("DE", "US-CAL-CISO"), from the argument or
    ``ZEUS_CARBON_LOCATION`` ("LAT,LON" or a zone); without check_range, a latitude or
    longitude out of range is the caller's to refuse."""
    where = "location"
    if location is None:
        location = os.environ.get("ZEUS_CARBON_LOCATION")
        where = "ZEUS_CARBON_LOCATION"
        if not location:
            raise ValueError(
                "ElectricityMaps: no location: pass location=(lat, lon) or a zone, or set "
                "ZEUS_CARBON_LOCATION=LAT,LON or ZONE (zeus.utils.lat_lon.get_ip_lat_long() "
                "finds it from the IP address)"
            )
    if isinstance(location, str):
        text = location.strip()
        if "," in text:
            try:
                lat, lon = (float(p) for p in text.split(","))
            except ValueError:
                raise ValueError(f"{where}={location!r}: not LAT,LON nor a zone") from None
            location = (lat, lon)
        elif text:
            return None, text
        else:
            raise ValueError(f"{where}: empty")
    try:
        lat, lon = (float(v) for v in location)
    except (TypeError, ValueError):
        raise ValueError(f"{where}={location!r}: not (lat, lon) nor a zone") from None
    if check_range and not in_range(lat, lon):
        raise ValueError(f"{where}={location!r}: latitude/longitude out of range")
    return (lat, lon), None


def in_range(lat: float, lon: float) -> bool:
    return -90 <= lat <= 90 and -180 <= lon <= 180


class ElectrictyMapsClient(CarbonIntensityProvider, ClientBase):
    """Carbon intensity from ElectricityMaps (``/v3/carbon-intensity/latest`` and ``/history``).

    Args:
        location: ``(lat, lon)``, or a zone such as ``"DE"``; None: ``ZEUS_CARBON_LOCATION``.
        estimate: accept the API's estimated values (``disableEstimations=False``); the original
            advises True for ``CarbonEmissionMonitor`` since some hours lack measured data.
        emission_factor_type: ``"direct"`` or ``"lifecycle"``.
        api_base: base URL (default ``ZEUS_CARBON_API`` or ``https://api.electricitymap.org/v3``).
        api_key: sent as the ``auth-token`` header (default ``ZEUS_CARBON_API_KEY``; none: no
            header, as the original).
        timeout: seconds to wait for an answer (default ``ZEUS_CARBON_TIMEOUT`` or 10).
        cache_dir: the disk cache (None: the default, see docs/carbon.md; False: memory only).
        update_period: the interval one value covers (1 h, as the API's hourly data).
    """

    def __init__(
        self,
        location: Union[tuple[float, float], str, None] = None,
        estimate: bool = False,
        emission_factor_type: Literal["direct", "lifecycle"] = "direct",
        *,
        api_base: Optional[str] = None,
        api_key: Optional[str] = None,
        timeout: Optional[float] = None,
        cache_dir: Union[str, os.PathLike, None, bool] = None,
        cache_ttl: float = DEFAULT_TTL_S,
        update_period: timedelta = timedelta(hours=1),
    ) -> None:
        if emission_factor_type not in ("direct", "lifecycle"):
            raise ValueError(
                f"emission_factor_type={emission_factor_type!r}: 'direct' or 'lifecycle'"
            )
        self.location, self.zone = _location(location)
        self.estimate = bool(estimate)
        self.emission_factor_type = emission_factor_type
        self._setup("ElectricityMaps", "ZEUS_CARBON", ELECTRICITYMAPS_API, api_base, api_key,
                    timeout, cache_dir)
        self._ttl = cache_ttl
        self._period = update_period

    @property
    def update_period(self) -> timedelta:
        return self._period

    @property
    def history_length(self) -> int:
        return 24

    def _where(self) -> str:
        return self.zone if self.zone is not None else f"{self.location[0]!r},{self.location[1]!r}"

    def _url(self, kind: str) -> str:
        # The original's parameters in its order, booleans and floats as Python's str() writes
        # them; a zone replaces lat/lon.
        if self.zone is not None:
            where = f"zone={urllib.parse.quote(self.zone)}"
        else:
            where = f"lat={self.location[0]}&lon={self.location[1]}"
        return (
            f"{self.api_base}/carbon-intensity/{kind}?{where}"
            f"&disableEstimations={not self.estimate}&emissionFactorType={self.emission_factor_type}"
        )

    def _get(self, kind: str) -> dict:
        headers = {"auth-token": self.api_key} if self.api_key else {}
        try:
            body = self._http.get(self._url(kind), headers)
        except ProviderError as e:
            raise ZeusCarbonIntensityHTTPError(str(e), e.status) from None
        if not isinstance(body, dict):
            raise ZeusCarbonIntensityNotFoundError(
                f"Carbon intensity for {self._where()} not found: answer {body!r}"
            )
        return body

    def _not_found(self, body) -> ZeusCarbonIntensityNotFoundError:
        return ZeusCarbonIntensityNotFoundError(
            f"Current carbon intensity not found at ({self._where()}) with "
            f"estimate={self.estimate}, emission_factor_type={self.emission_factor_type}: {body}"
        )

    def _cache_path(self, start: datetime) -> str:
        return (
            f"electricitymaps/{safe_component(self._where())}/{self.emission_factor_type}/"
            f"{hour_stamp(start)}.json"
        )

    def _store(self, start: datetime, intensity: float, estimated: bool, fetched_at: float) -> None:
        self._cache.put(
            self._cache_path(start),
            {
                "carbonIntensity": intensity,
                "datetime": hour_stamp(start),
                "isEstimated": bool(estimated),
                "fetched_at": fetched_at,
                "source": "electricitymaps",
            },
        )

    def _cached(self, start: datetime) -> Optional[float]:
        entry = self._cache.get(self._cache_path(start))
        if entry is None or not fresh(entry, start, self._period, self._ttl):
            return None
        if entry.get("isEstimated") and not self.estimate:
            return None
        value = entry.get("carbonIntensity")
        return float(value) if isinstance(value, (int, float)) else None

    def get_current_carbon_intensity(self) -> float:
        now = datetime.now(timezone.utc)
        start = floor_time(now, self._period)
        hit = self._cached(start)
        if hit is not None:
            return hit
        body = self._get("latest")
        value = body.get("carbonIntensity")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self._not_found(body)
        self._store(start, float(value), bool(body.get("isEstimated")), now.timestamp())
        return float(value)

    def get_recent_carbon_intensity(self) -> dict[datetime, float]:
        body = self._get("history")
        history = body.get("history")
        if not isinstance(history, list):
            raise self._not_found(body)
        fetched = datetime.now(timezone.utc).timestamp()
        out: dict[datetime, float] = {}
        try:
            for item in history:
                when = parse_datetime(item["datetime"])
                value = item["carbonIntensity"]
                if value is None:  # an hour without data (estimations disabled)
                    continue
                out[when] = float(value)
                self._store(when, float(value), bool(item.get("isEstimated")), fetched)
        except (KeyError, TypeError, ValueError) as e:
            raise ZeusCarbonIntensityNotFoundError(
                f"Recent carbon intensity at ({self._where()}): bad history entry ({e!r}): {body}"
            ) from None
        return out

    def carbon_intensity_at(self, starts: Sequence[datetime]) -> dict[datetime, float]:
        """Intensity of each interval start: from the cache, else one ``/history`` request for
        the missing ones (and ``/latest`` for the current interval when the history lacks it)."""
        out = {s: v for s in starts if (v := self._cached(s)) is not None}
        missing = [s for s in starts if s not in out]
        if missing:
            recent = self.get_recent_carbon_intensity()
            current = floor_time(datetime.now(timezone.utc), self._period)
            for s in missing:
                if s in recent:
                    out[s] = recent[s]
                elif s == current:
                    out[s] = self.get_current_carbon_intensity()
                else:
                    raise ZeusCarbonIntensityNotFoundError(
                        f"Carbon intensity of {hour_stamp(s)} at ({self._where()}) is not in "
                        f"the last {self.history_length} intervals the API returns"
                    )
        return out

    def __repr__(self) -> str:
        return (
            f"ElectrictyMapsClient(location={self._where()!r}, estimate={self.estimate}, "
            f"emission_factor_type={self.emission_factor_type!r}, api_base={self.api_base!r})"
        )


ElectricityMapsClient = ElectrictyMapsClient  # the spelling the original's name meant


@dataclass
class CarbonEmissionMeasurement:
    """A window's time (s), energy (J) and carbon emission (gCO2eq) per device.

    Ours, beyond the original: ``intervals`` lists (interval start, {gpu: J}, gCO2eq/kWh) of the
    intervals the window spanned; when the intensity could not be had, the emissions are None
    (never 0) and ``error`` says why; the energy is measured all the same."""

    time: float
    gpu_energy: dict[int, float]
    gpu_carbon_emission: Optional[dict[int, float]]
    cpu_energy: Optional[dict[int, float]] = None
    cpu_carbon_emission: Optional[dict[int, float]] = None
    dram_energy: Optional[dict[int, float]] = None
    dram_carbon_emission: Optional[dict[int, float]] = None
    intervals: list = field(default_factory=list)
    error: Optional[str] = None


class Op(enum.Enum):
    """The original's commands to its polling process (kept for imports; no process here)."""

    BEGIN = 0
    END = 1
    NEXTITER = 2


def _polling_process(*args, **kwargs) -> None:
    """The original's monitor process (it took ``Op`` commands and measured hour by hour). This
    package has none: a window's energy is split by hour from libzeus's power samples
    (``IntervalMonitor``, docs/carbon.md); the name is kept for imports."""
    raise NotImplementedError(
        "zeus.monitor: there is no polling process here; CarbonEmissionMonitor and "
        "EnergyCostMonitor split each window's energy by hour from libzeus's power samples"
    )


def _weighted(parts: list[tuple[Optional[dict[int, float]], float]]) -> Optional[dict[int, float]]:
    out: dict[int, float] = {}
    for energy, factor in parts:
        for device, joules in (energy or {}).items():
            out[device] = out.get(device, 0.0) + joules / JOULES_PER_KWH * factor
    return out or None


def intervals_rate(
    provider, starts: list[datetime]
) -> dict[datetime, float]:
    """The intensity of each interval: the client's cached lookup where it has one, else the
    original protocol (the history, and the current value for the current interval)."""
    lookup = getattr(provider, "carbon_intensity_at", None)
    if lookup is not None:
        return lookup(starts)
    recent = provider.get_recent_carbon_intensity()
    out = {}
    for s in starts:
        if s in recent:
            out[s] = float(recent[s])
        else:
            out[s] = float(provider.get_current_carbon_intensity())
    return out


def known_rates(provider, starts: list[datetime]) -> dict[datetime, float]:
    """The intensities of ``starts`` (oldest first) that can be had now: one the API no longer
    (or not yet) has is passed over; a provider that cannot be asked ends the round (the rest
    are asked again at the next boundary and at the window's end)."""
    out: dict[datetime, float] = {}
    for start in starts:
        try:
            out.update(intervals_rate(provider, [start]))
        except ZeusCarbonIntensityHTTPError as e:
            logger.debug("carbon intensity of %s: %s (asked again later)", hour_stamp(start), e)
            break
        except Exception as e:  # noqa: BLE001 - any other provider failure: that interval only
            logger.debug("carbon intensity of %s: %s (asked again later)", hour_stamp(start), e)
    return out


class CarbonEmissionMonitor(IntervalMonitor):
    """Carbon emission (gCO2eq) of named windows, as the newer Zeus's.

    Args:
        carbon_intensity_provider: e.g. ``ElectrictyMapsClient(location, estimate=True)``.
        gpu_indices, cpu_indices, sync_execution_with: as ``ZeusMonitor``'s.

    Each interval of ``carbon_intensity_provider.update_period`` (UTC hours) that a window spans
    is converted with its own intensity, looked up soon after the interval ends (at the next
    boundary, from the cache, else the API's 24-hour history; a failure is retried at each later
    boundary and when the window ends), so a window of any length gets its emission, as the
    original's (which converts its hours every 23 boundaries).
    """

    def __init__(
        self,
        carbon_intensity_provider: CarbonIntensityProvider,
        gpu_indices: Optional[Sequence[int]] = None,
        cpu_indices: Optional[Sequence[int]] = None,
        sync_execution_with: str = "torch",
    ) -> None:
        self.carbon_intensity_provider = carbon_intensity_provider
        super().__init__(
            carbon_intensity_provider.update_period, gpu_indices, cpu_indices, sync_execution_with
        )

    def _rate_closed(self, intervals: list[Interval]) -> None:
        for start, rate in known_rates(self.carbon_intensity_provider,
                                       sorted({i.start for i in intervals})).items():
            for interval in intervals:
                if interval.start == start:
                    interval.rate = rate

    def _finish(self, key: str, measurement, intervals: list[Interval]) -> CarbonEmissionMeasurement:
        return convert(
            CarbonEmissionMeasurement, "carbon_emission", key, measurement, intervals,
            lambda starts: intervals_rate(self.carbon_intensity_provider, starts),
        )


def convert(cls, suffix: str, key: str, measurement, intervals: list[Interval], rates_of):
    """The result of a window: ``cls`` with the measurement's time and energies, and
    ``gpu_/cpu_/dram_<suffix>`` = each interval's energy share x its rate (``rates_of(starts)``);
    when the rates cannot be had, those are None, ``error`` says why and a warning is logged."""
    result = cls(
        measurement.time, dict(measurement.gpu_energy), None,
        cpu_energy=_maybe(measurement.cpu_energy), dram_energy=_maybe(measurement.dram_energy),
    )
    rates = {i.start: i.rate for i in intervals if i.rate is not None}  # set at the boundaries
    try:
        missing = [i.start for i in intervals if i.rate is None]
        if missing:
            rates.update(rates_of(missing))
    except Exception as e:  # noqa: BLE001 - any provider failure: keep the energy, say why
        result.error = f"{type(e).__name__}: {e}"
        result.intervals = [(i.start, i.gpu_energy, rates.get(i.start, math.nan)) for i in intervals]
        logger.warning(
            "%s: window '%s': no rate (%s); the energy is measured, gpu_%s is None",
            cls.__name__, key, result.error, suffix,
        )
        return result
    result.intervals = [(i.start, i.gpu_energy, rates[i.start]) for i in intervals]
    for device in ("gpu", "cpu", "dram"):
        value = _weighted([(getattr(i, f"{device}_energy"), rates[i.start]) for i in intervals])
        setattr(result, f"{device}_{suffix}", {} if value is None and device == "gpu" else value)
    return result


def _maybe(d) -> Optional[dict[int, float]]:
    return None if not d else dict(d)


__all__ = [
    "CarbonEmissionMeasurement",
    "CarbonEmissionMonitor",
    "CarbonIntensityProvider",
    "ElectricityMapsClient",
    "ElectrictyMapsClient",
    "Op",
    "ZeusCarbonIntensityHTTPError",
    "ZeusCarbonIntensityNotFoundError",
]
