"""Errors of predictive maintenance, on the werk tree::

WerkError (werk.core)
└── MaintenanceError        training, serving or monitoring failed
    ├── DatasetError        run-to-failure data is unreadable or breaks a rule (also a
    │                       ValidationError: ``field`` and ``rule`` say which)
    └── ModelNotFound       no saved model at the path or version asked for
MissingExtraError           LightGBM (``werk[maintenance]``) or torch (``werk[deep]``) missing
"""

from __future__ import annotations

from werk.core import ValidationError, WerkError


class MaintenanceError(WerkError):
    """Predictive maintenance failed: training, serving or monitoring."""


class DatasetError(MaintenanceError, ValidationError):
    """Run-to-failure data that cannot be used; ``field`` and ``rule`` name the problem."""

    def __init__(self, message: str, *, field: str = "", rule: str = "") -> None:
        ValidationError.__init__(self, message, field=field, rule=rule)


class ModelNotFound(MaintenanceError):
    """No saved model where one was asked for."""
