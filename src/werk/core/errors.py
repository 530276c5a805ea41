"""The werk exception tree.

Every package raises from this tree; foreign errors (duckdb, psycopg, pyarrow, ...) are translated
at the boundary with the original chained as ``__cause__``::

    WerkError
    ├── ConfigError            settings, plant files, unknown URL schemes
    │   └── MissingExtraError  an optional dependency is not installed (names the extra)
    ├── ValidationError        bad input from a user or a device (names the field and the rule)
    ├── StoreError             the history store failed
    │   └── StoreUnavailable   the store cannot be reached right now (retry later)
    ├── BusError               the bus failed
    │   └── BusClosed          publish or subscribe on a closed bus
    └── AuthError              missing or invalid token
        └── PermissionDenied   valid token, role too low
"""

from __future__ import annotations


class WerkError(Exception):
    """Base class of every error werk raises on purpose."""


class ConfigError(WerkError):
    """Settings, plant files or URLs are wrong."""


class MissingExtraError(ConfigError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'werk[{extra}]'")
        self.package = package
        self.extra = extra


class ValidationError(WerkError):
    """Input broke a rule. ``field`` and ``rule`` say which."""

    def __init__(self, message: str, *, field: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


class StoreError(WerkError):
    """The history store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now; the caller may retry."""


class BusError(WerkError):
    """The bus failed."""


class BusClosed(BusError):
    """The bus is closed."""


class AuthError(WerkError):
    """No token, or a token that is unknown or revoked."""


class PermissionDenied(AuthError):
    """The token is valid but its role is too low for this action."""
