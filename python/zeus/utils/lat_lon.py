"""Where this machine is, from its public IP address (as the newer Zeus's ``zeus.utils.lat_lon``)."""

from __future__ import annotations

import logging
import os

from zeus.monitor._provider import DEFAULT_TIMEOUT_S, HttpJson, ProviderError, env_float

logger = logging.getLogger(__name__)

IPINFO_URL = "http://ipinfo.io/json"


def get_ip_lat_long() -> tuple[float, float]:
    """``(lat, lon)`` from ipinfo.io's ``"loc"`` (``ZEUS_IPINFO_URL`` overrides the address).

    Raises ``ConnectionError`` (logged first) when the service cannot be asked, ``KeyError``
    when its answer has no ``loc``, as the original."""
    url = os.environ.get("ZEUS_IPINFO_URL") or IPINFO_URL
    http = HttpJson("ipinfo", env_float("ZEUS_CARBON_TIMEOUT", DEFAULT_TIMEOUT_S))
    try:
        body = http.get(url)
    except ProviderError as e:
        logger.error("Failed to retrieve current location: %s", e)
        raise ConnectionError(str(e)) from None
    lat, lon = body["loc"].split(",")
    return float(lat), float(lon)
