"""Helpers shared by the device classes (the newer Zeus's ``zeus.device.common``): the
SYS_ADMIN check, whether a zeusd carries out changes, and the camelCase aliases the 0.8 method
names live on as."""

from __future__ import annotations

import abc
import warnings
from functools import lru_cache
from typing import Callable, TypeVar

T = TypeVar("T")

_CAP_SYS_ADMIN = 21


@lru_cache(maxsize=1)
def has_sys_admin() -> bool:
    """Whether this process has CAP_SYS_ADMIN (bit 21 of CapEff in /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_ADMIN & 1)
    except (OSError, ValueError):
        return False
    return False


def changes_through_zeusd() -> bool:
    """Whether a zeusd carries out this process's device changes and reads its RAPL counters
    (libzeus decides it from ZEUSD_SOCK_PATH / ZEUSD_HOST_PORT when it opens the devices)."""
    from zeus import _zeus  # noqa: PLC0415 - the extension, only when asked

    return _zeus.knob_backend() == "zeusd"


class ZeusdDevice:
    """What the newer Zeus's zeusd device classes (``ZeusdNVIDIAGPU``, ``ZeusdAMDGPU``) add to
    their vendor's class: the daemon's client, and setters that need not block (the daemon
    queues the change)."""

    def __init__(self, gpu_index: int, client: object | None = None) -> None:
        super().__init__(gpu_index)  # type: ignore[call-arg]
        self.client = client

    @property
    def supports_nonblocking_setters(self) -> bool:
        return True


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def deprecated_alias(old_name: str) -> Callable[[T], T]:
    """Marks a snake_case method to also be reachable as ``old_name`` (camelCase, Zeus 0.8)."""

    def deco(fn):
        fn._deprecated_alias = old_name
        return fn

    return deco


def _make_deprecated_method(cls_name: str, old: str, new: str):
    warned = False

    def method(self, *args, **kwargs):
        nonlocal warned
        if not warned:
            warned = True
            warnings.warn(
                f"{cls_name}.{old} is deprecated, use {new} instead.",
                DeprecationWarning,
                stacklevel=2,
            )
        return getattr(self, new)(*args, **kwargs)

    method.__name__ = old
    return method


class DeprecatedAliasABCMeta(abc.ABCMeta):
    """Attaches the camelCase alias of every method marked with ``deprecated_alias``."""

    def __init__(cls, name, bases, namespace, **kw):
        super().__init__(name, bases, namespace, **kw)
        for attr, value in list(namespace.items()):
            old = getattr(value, "_deprecated_alias", None)
            if old is not None and old not in namespace:
                setattr(cls, old, _make_deprecated_method(name, old, attr))


def camel_aliases(cls):
    """Adds the camelCase alias of every public snake_case method ``cls`` defines (class
    decorator, for classes whose aliases are simply the camelCase spelling)."""
    for attr in list(vars(cls)):
        if attr.startswith("_") or "_" not in attr or not callable(getattr(cls, attr)):
            continue
        old = _camel(attr)
        if not hasattr(cls, old):
            setattr(cls, old, _make_deprecated_method(cls.__name__, old, attr))
    return cls


__all__ = ["has_sys_admin", "deprecated_alias", "DeprecatedAliasABCMeta", "camel_aliases"]
