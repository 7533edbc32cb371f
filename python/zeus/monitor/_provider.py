"""What the carbon-intensity and electricity-price clients share: one HTTP GET that returns JSON
or raises an error that says what went wrong (no network, time-out, bad key, rate limit), and a
cache of answers in memory and on disk.

The disk cache (docs/carbon.md#cache) is a directory of small JSON files, one per (source,
location, hour): written atomically (a temporary file in the same directory, then rename), so
any number of processes on a cluster read and fill it at once and a job started an hour later
does not ask the API again. ``zeus monitor energy --carbon`` (C) reads and writes the same files.

Over ``requests`` (as the original's clients), outside libzeus's dependency promise.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional, Union

import requests

logger = logging.getLogger("zeus.monitor.carbon")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_TTL_S = 600.0  # how long an answer about the current hour is reused


class ProviderError(Exception):
    """Base of the providers' errors: ``status`` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: not a number of seconds") from None
    if not value > 0:
        raise ValueError(f"{name}={raw!r}: must be > 0")
    return value


def default_cache_dir() -> Path:
    """``ZEUS_CARBON_CACHE_DIR``, else ``$XDG_CACHE_HOME/zeus/carbon``, else
    ``~/.cache/zeus/carbon`` (the C command uses the same rule)."""
    explicit = os.environ.get("ZEUS_CARBON_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "zeus" / "carbon"


def resolve_cache_dir(cache_dir: Union[str, os.PathLike, None, bool]) -> Optional[Path]:
    """None: the default directory; False: no disk cache; else that directory."""
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        return default_cache_dir()
    return Path(cache_dir)


def hour_stamp(when: datetime) -> str:
    """The file name of an interval: its UTC start, ``2024-11-30T07:00:00Z``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """ISO 8601 as ElectricityMaps writes it (``2024-11-30T07:00:00.000Z``) -> aware UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def floor_time(when: datetime, period: timedelta) -> datetime:
    """``when`` truncated to a multiple of ``period`` since the Unix epoch (the hour for 1 h)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    seconds = period.total_seconds()
    offset = (when - epoch).total_seconds()
    return epoch + timedelta(seconds=(offset // seconds) * seconds)


def safe_component(text: str) -> str:
    """A location, zone or label as one path component (no '/', no leading dot)."""
    out = "".join(c if (c.isalnum() or c in "-_.,+") else "_" for c in text)
    return out.lstrip(".") or "_"


class DiskCache:
    """JSON files under one directory, read by any process, written atomically."""

    def __init__(self, directory: Optional[Path]) -> None:
        self.directory = directory
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, relative: str) -> Optional[dict[str, Any]]:
        with self._lock:
            hit = self._memory.get(relative)
        if hit is not None or self.directory is None:
            return hit
        path = self.directory / relative
        try:
            with open(path, encoding="utf-8") as f:
                entry = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:  # a damaged file is a miss, said once
            logger.warning("carbon cache: ignoring %s: %s", path, e)
            return None
        if not isinstance(entry, dict):
            return None
        with self._lock:
            self._memory[relative] = entry
        return entry

    def put(self, relative: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._memory[relative] = entry
        if self.directory is None:
            return
        path = self.directory / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(entry, f, sort_keys=True)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as e:  # a read-only cache still lets the measurement go on
            logger.warning("carbon cache: cannot write %s: %s", path, e)


def fresh(entry: dict[str, Any], start: datetime, period: timedelta, ttl_s: float) -> bool:
    """An entry fetched after its interval ended is final; one fetched during it is reused for
    ``ttl_s`` seconds."""
    fetched = entry.get("fetched_at")
    if not isinstance(fetched, (int, float)):
        return False
    end = (start + period).timestamp()
    return fetched >= end or time.time() - fetched < ttl_s


class ClientBase:
    """What both API clients set up: base URL, key and time-out from the arguments or the
    environment, the HTTP getter and the cache."""

    def _setup(self, what: str, env: str, default_base: str, api_base, api_key, timeout,
               cache_dir) -> None:
        self.api_base = (api_base or os.environ.get(f"{env}_API") or default_base).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(f"{env}_API_KEY")
        self.timeout = float(timeout) if timeout is not None else env_float(
            "ZEUS_CARBON_TIMEOUT", DEFAULT_TIMEOUT_S
        )
        self._http = HttpJson(what, self.timeout)
        self._cache = DiskCache(resolve_cache_dir(cache_dir))


class HttpJson:
    """GET (``requests.get``, as the original asks its providers) that returns parsed JSON; a
    back-off after a 429 so a busy API is not asked again before it said to (``Retry-After``,
    default 60 s)."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        self._backoff_until = 0.0

    def get(self, url: str, headers: Optional[dict[str, str]] = None) -> Any:
        now = time.time()
        if now < self._backoff_until:
            raise ProviderError(
                f"{self.what}: rate limited (HTTP 429); not asking again for "
                f"{self._backoff_until - now:.0f} s",
                429,
            )
        try:
            response = requests.get(url, headers=headers or {}, timeout=self.timeout)
        except requests.exceptions.Timeout:
            raise ProviderError(
                f"{self.what}: no answer from {_no_key(url)} within {self.timeout:g} s"
            ) from None
        except requests.exceptions.RequestException as e:
            reason = e.args[0] if e.args else e
            raise ProviderError(f"{self.what}: cannot reach {_no_key(url)}: {reason}") from None
        # (a response without a status code is a test's stand-in for requests': taken as is)
        status = getattr(response, "status_code", 200)
        if status >= 400:
            detail = (response.text or "")[:300].strip() or getattr(response, "reason", "")
            if status == 429:
                self._backoff_until = time.time() + _retry_after(response.headers.get("Retry-After"))
                raise ProviderError(
                    f"{self.what}: rate limited (HTTP 429) at {_no_key(url)}: {detail}", 429
                )
            if status in (401, 403):
                raise ProviderError(
                    f"{self.what}: the API key was refused (HTTP {status}) at {_no_key(url)}: "
                    f"{detail}",
                    status,
                )
            raise ProviderError(f"{self.what}: HTTP {status} from {_no_key(url)}: {detail}", status)
        try:
            return response.json()
        except ValueError as e:
            raise ProviderError(
                f"{self.what}: {_no_key(url)} answered with something that is not JSON ({e}): "
                f"{(response.text or '')[:200]!r}"
            ) from None


def _retry_after(value: Optional[str]) -> float:
    try:
        return max(1.0, float(value)) if value else 60.0
    except ValueError:
        return 60.0


def _no_key(url: str) -> str:
    """The URL without its api_key parameter (never logged or shown)."""
    head, sep, query = url.partition("?")
    if not sep:
        return url
    kept = [p for p in query.split("&") if not p.startswith("api_key=")]
    return head + ("?" + "&".join(kept) if kept else "")
