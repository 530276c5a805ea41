"""Shared fixtures for ingest: a small catalog and a fixed "now"."""

from __future__ import annotations

import pytest

from werk.core import Signal, SignalCatalog

T0 = 1_795_514_400_000_000_000  # 2026-11-24T10:00:00Z
NOW = T0 + 3_600_000_000_000  # an hour later
S = 1_000_000_000


@pytest.fixture
def catalog() -> SignalCatalog:
    return SignalCatalog(
        [
            Signal("press1.temp", unit="Cel", minimum=-20, maximum=300),
            Signal("press1.pressure", unit="bar"),
            Signal("line.speed", unit="m/min", minimum=0, maximum=120),
        ]
    )
