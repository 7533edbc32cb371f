"""Electricity cost of measurement windows, as the newer Zeus's ``zeus.monitor.price``.

``OpenEIClient`` reads a utility's tariff from OpenEI's Utility Rate Database;
``EnergyCostMonitor`` measures windows with libzeus's ``ZeusMonitor`` and prices each UTC hour's
share of a window's energy at that hour's rate (docs/carbon.md).

Ours, beyond the original: base URL, API key and time-out from arguments or the environment
(``ZEUS_OPENEI_API``, ``ZEUS_OPENEI_API_KEY``, ``ZEUS_CARBON_TIMEOUT``; the original embeds a
key in its source), the tariff cached in memory and on disk for a day, and a failure that keeps
the measurement (cost None, ``error`` says why).
"""

from __future__ import annotations

import abc
import calendar
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Optional, Sequence, Union

from zeus.monitor._intervals import Interval, IntervalMonitor
from zeus.monitor._provider import ClientBase, ProviderError, safe_component
from zeus.monitor.carbon import Op, _location, convert, in_range
from zeus.monitor.carbon import _polling_process  # noqa: F401 - the original's name, for imports

logger = logging.getLogger(__name__)

OPENEI_API = "https://api.openei.org"
SECTORS = ("Residential", "Commercial", "Industrial", "Lighting")


def get_time_info() -> tuple[str, str, int]:
    """(local month name, "Weekday" or "Weekend", local hour), as the original (unused by it)."""
    now = datetime.now()
    return (
        calendar.month_name[now.month],
        "Weekday" if now.weekday() < 5 else "Weekend",
        now.hour,
    )


class ZeusElectricityPriceHTTPError(ProviderError):
    """The price API could not be asked or refused (``status``: HTTP status)."""


class ZeusElectricityPriceNotFoundError(Exception):
    """The API answered without the rates asked for."""


class ElectricityPriceProvider(abc.ABC):
    """Where electricity prices come from."""

    @abc.abstractmethod
    def get_current_electricity_prices(self) -> dict[str, list]:
        """``{"energy_rate_structure", "energy_weekday_schedule", "energy_weekend_schedule"}``."""


class OpenEIClient(ElectricityPriceProvider, ClientBase):
    """Tariffs from OpenEI's Utility Rate Database (``/utility_rates``).

    Args:
        location: ``(lat, lon)`` (None: ``ZEUS_CARBON_LOCATION``).
        label: the rate's OpenEI label (its id, e.g. ``"539f6a23ec4f024411ec8bf9"``).
        sector: ``"Residential"``, ``"Commercial"``, ``"Industrial"`` or ``"Lighting"``.
        radius: search radius (miles) around the location.
        api_base, api_key, timeout, cache_dir: as ``ElectrictyMapsClient``'s (``ZEUS_OPENEI_API``,
            ``ZEUS_OPENEI_API_KEY``); OpenEI requires a key.
    """

    def __init__(
        self,
        location: Union[tuple[float, float], str, None],
        label: str,
        sector: Literal["Residential", "Commercial", "Industrial", "Lighting"] = "Residential",
        radius: int = 0,
        *,
        api_base: Optional[str] = None,
        api_key: Optional[str] = None,
        timeout: Optional[float] = None,
        cache_dir: Union[str, os.PathLike, None, bool] = None,
    ) -> None:
        if sector not in SECTORS:
            raise ValueError(f"sector={sector!r}: one of {', '.join(SECTORS)}")
        latlon, zone = _location(location, check_range=False)  # refused when asked, as NotFound
        if latlon is None:
            raise ValueError(f"OpenEI: location {zone!r}: needs (lat, lon), not a zone")
        self.lat, self.lon = latlon
        self.label = label
        self.sector = sector
        self.radius = int(radius)
        self._setup("OpenEI", "ZEUS_OPENEI", OPENEI_API, api_base, api_key, timeout, cache_dir)

    def search_json(self, data: Any, key_name: str, target_value: Any, return_value: str) -> list:
        """Every ``d[return_value]`` (None when absent) of the dicts in ``data`` whose
        ``d[key_name] == target_value``, depth first, as the original."""
        found = []
        if isinstance(data, dict):
            if data.get(key_name) == target_value:
                found.append(data.get(return_value))
            for value in data.values():
                found.extend(self.search_json(value, key_name, target_value, return_value))
        elif isinstance(data, list):
            for item in data:
                found.extend(self.search_json(item, key_name, target_value, return_value))
        return found

    def _url(self) -> str:
        return (
            f"{self.api_base}/utility_rates?version=latest&format=json&api_key={self.api_key}"
            f"&lat={self.lat}&lon={self.lon}&radius={self.radius}&detail=full&sector={self.sector}"
        )

    def _cache_path(self) -> str:
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        where = safe_component(f"{self.lat!r},{self.lon!r}")
        return f"openei/{where}/{self.sector}/{safe_component(self.label)}/{day}.json"

    def get_current_electricity_prices(self) -> dict[str, list]:
        if not in_range(self.lat, self.lon):  # (the original asks, and the API finds no utility)
            raise ZeusElectricityPriceNotFoundError(
                f"No rates found for lat, lon: [{self.lat}, {self.lon}]: latitude or longitude "
                "out of range"
            )
        hit = self._cache.get(self._cache_path())
        if hit is not None and isinstance(hit.get("prices"), dict):
            return hit["prices"]
        if not self.api_key:
            raise ZeusElectricityPriceHTTPError(
                "OpenEI needs an API key: pass api_key= or set ZEUS_OPENEI_API_KEY "
                "(https://openei.org/services/api/signup)"
            )
        try:
            body = self._http.get(self._url())
        except ProviderError as e:
            raise ZeusElectricityPriceHTTPError(str(e), e.status) from None
        if self.label not in json.dumps(body):
            raise ZeusElectricityPriceNotFoundError(
                f"No rates found for lat, lon: [{self.lat}, {self.lon}] (label {self.label!r}): "
                f"{json.dumps(body)[:300]}"
            )
        try:
            prices = {
                "energy_rate_structure": self.search_json(body, "label", self.label, "energyratestructure")[0],
                "energy_weekday_schedule": self.search_json(body, "label", self.label, "energyweekdayschedule")[0],
                "energy_weekend_schedule": self.search_json(body, "label", self.label, "energyweekendschedule")[0],
            }
        except (KeyError, ValueError, IndexError) as e:
            raise ZeusElectricityPriceNotFoundError(f"Failed to process data: {e!r}") from None
        if not all(prices.values()):
            raise ZeusElectricityPriceNotFoundError(f"No rates found for the label: {self.label}")
        self._cache.put(self._cache_path(), {"prices": prices, "source": "openei"})
        return prices


def rate_at(prices: dict[str, list], when: datetime) -> float:
    """$/kWh of the hour starting at ``when`` (UTC, as the original): the period of the month and
    hour from the weekday or weekend schedule, its first tier's ``rate``."""
    schedule = prices["energy_weekday_schedule" if when.weekday() < 5 else "energy_weekend_schedule"]
    period = schedule[when.month - 1][when.hour]
    return float(prices["energy_rate_structure"][period][0]["rate"])


@dataclass
class EnergyCostMeasurement:
    """A window's time (s), energy (J) and electricity cost ($) per device; ``intervals`` and
    ``error`` as ``CarbonEmissionMeasurement``'s (cost None, never 0, when no price was had)."""

    time: float
    gpu_energy: dict[int, float]
    gpu_energy_cost: Optional[dict[int, float]]
    cpu_energy: Optional[dict[int, float]] = None
    cpu_energy_cost: Optional[dict[int, float]] = None
    dram_energy: Optional[dict[int, float]] = None
    dram_energy_cost: Optional[dict[int, float]] = None
    intervals: list = field(default_factory=list)
    error: Optional[str] = None


class EnergyCostMonitor(IntervalMonitor):
    """Electricity cost of named windows, as the newer Zeus's: each UTC hour a window spans is
    priced at that hour's rate. The tariff is fetched at the first window (and again at each
    hour boundary and at a window's end while that fails); it holds every hour's rate, so a
    window of any length is priced (no history limit, unlike the carbon intensity)."""

    def __init__(
        self,
        electricity_price_provider: ElectricityPriceProvider,
        gpu_indices: Optional[Sequence[int]] = None,
        cpu_indices: Optional[Sequence[int]] = None,
        sync_execution_with: str = "torch",
    ) -> None:
        self.electricity_price_provider = electricity_price_provider
        self._prices: Optional[dict[str, list]] = None
        self._price_error: Optional[str] = None
        super().__init__(
            timedelta(hours=1), gpu_indices, cpu_indices, sync_execution_with,
            approx_instant_energy=True,
        )

    def _fetch(self) -> None:
        if self._prices is not None:
            return
        try:
            self._prices = self.electricity_price_provider.get_current_electricity_prices()
            self._price_error = None
        except Exception as e:  # noqa: BLE001 - any provider failure: keep measuring, say why
            self._price_error = f"{type(e).__name__}: {e}"
            logger.warning("EnergyCostMonitor: no electricity prices (%s)", self._price_error)

    def begin_window(self, key: str, sync_execution: bool = True) -> None:
        super().begin_window(key, sync_execution)
        self._fetch()

    def _rate_closed(self, intervals: list[Interval]) -> None:
        self._fetch()  # (only while no tariff is had: the rates come from it at the end)

    def _finish(self, key: str, measurement, intervals: list[Interval]) -> EnergyCostMeasurement:
        self._fetch()

        def rates(starts):
            if self._prices is None:
                raise ZeusElectricityPriceHTTPError(self._price_error or "no prices")
            try:
                return {s: rate_at(self._prices, s) for s in starts}
            except (KeyError, IndexError, TypeError, ValueError) as e:
                raise ZeusElectricityPriceNotFoundError(f"malformed tariff: {e!r}") from None

        return convert(EnergyCostMeasurement, "energy_cost", key, measurement, intervals, rates)


__all__ = [
    "ElectricityPriceProvider",
    "EnergyCostMeasurement",
    "EnergyCostMonitor",
    "OpenEIClient",
    "Op",
    "ZeusElectricityPriceHTTPError",
    "ZeusElectricityPriceNotFoundError",
    "get_time_info",
]
