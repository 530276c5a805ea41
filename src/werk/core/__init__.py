"""The werk core: domain nouns, standard library and numpy only, no I/O."""

from werk.core.batch import SampleBatch
from werk.core.bus import (
    EVENTS,
    SAMPLES,
    Bus,
    MemoryBus,
    Message,
    Subscription,
    buses,
    topic_matches,
)
from werk.core.clock import (
    NS_PER_S,
    Clock,
    SimulatedClock,
    WallClock,
    iso,
    parse_duration,
    parse_time,
    to_datetime,
    to_ns,
)
from werk.core.context import Context, new_id
from werk.core.errors import (
    AuthError,
    BusClosed,
    BusError,
    ConfigError,
    MissingExtraError,
    PermissionDenied,
    StoreError,
    StoreUnavailable,
    ValidationError,
    WerkError,
)
from werk.core.event import Event
from werk.core.quality import Quality
from werk.core.registry import Registry
from werk.core.signal import Signal, SignalCatalog

__all__ = [
    "EVENTS",
    "NS_PER_S",
    "SAMPLES",
    "AuthError",
    "Bus",
    "BusClosed",
    "BusError",
    "Clock",
    "ConfigError",
    "Context",
    "Event",
    "MemoryBus",
    "Message",
    "MissingExtraError",
    "PermissionDenied",
    "Quality",
    "Registry",
    "SampleBatch",
    "Signal",
    "SignalCatalog",
    "SimulatedClock",
    "StoreError",
    "StoreUnavailable",
    "Subscription",
    "ValidationError",
    "WallClock",
    "WerkError",
    "buses",
    "iso",
    "new_id",
    "parse_duration",
    "parse_time",
    "to_datetime",
    "to_ns",
    "topic_matches",
]
