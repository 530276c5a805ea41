"""Backends chosen by URL through a lazy registry.

A scheme maps to ``"module:attribute"``; the module is imported only when a URL with that scheme
is opened, so a missing optional dependency costs nothing until it is used, and then says which
extra to install. Third parties add schemes through the entry-point group of the registry
(e.g. ``werk.stores``). Registries are plain objects: tests build their own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from werk.core.errors import ConfigError, MissingExtraError

T = TypeVar("T")

# Which extra provides a module that may be missing.
_EXTRAS = {
    "psycopg": "postgres",
    "nats": "nats",
    "asyncua": "opcua",
    "pymodbus": "modbus",
    "google": "mqtt",  # protobuf, for Sparkplug B payloads
    "google.protobuf": "mqtt",
}


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self._group = entry_point_group
        self._targets: dict[str, str | Callable[[str], T]] = {}

    def register(self, scheme: str, target: str | Callable[[str], T]) -> None:
        """``target`` is a factory taking the URL, or ``"module:attr"`` naming one."""
        self._targets[scheme.lower()] = target

    def schemes(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._targets)

    def open(self, url: str, *args: Any) -> T:
        """The backend for ``url``: its scheme's factory called with ``url`` and ``args``."""
        scheme = urlsplit(url).scheme.lower()
        if not scheme:
            raise ConfigError(f"{self.kind} URL {url!r} has no scheme, e.g. duckdb:///var/werk.db")
        target = self._targets.get(scheme)
        if target is None:
            self._load_entry_points()
            target = self._targets.get(scheme)
        if target is None:
            known = ", ".join(f"{s}://" for s in self.schemes())
            raise ConfigError(f"unknown {self.kind} scheme {scheme}:// in {url!r}; known: {known}")
        factory = _resolve(target) if isinstance(target, str) else target
        result: T = factory(url, *args)
        return result

    def _load_entry_points(self) -> None:
        if self._group is None:
            return
        for ep in entry_points(group=self._group):
            self._targets.setdefault(ep.name.lower(), ep.value)


def _resolve(target: str) -> Callable[[str], Any]:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing in _EXTRAS:  # the package itself is absent (not a module inside it)
            raise MissingExtraError(missing, _EXTRAS[missing]) from error
        raise
    obj: Any = module
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]
