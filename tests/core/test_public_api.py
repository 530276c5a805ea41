"""The curated public API of werk.core: additions are deliberate, removals are breaking."""

import werk.core

EXPECTED = {
    "AuthError", "Bus", "BusClosed", "BusError", "Clock", "ConfigError", "Context", "EVENTS",
    "Event", "MemoryBus", "Message", "MissingExtraError", "NS_PER_S", "PermissionDenied",
    "Quality", "Registry", "SAMPLES", "SampleBatch", "Signal", "SignalCatalog", "SimulatedClock",
    "StoreError", "StoreUnavailable", "Subscription", "ValidationError", "WallClock", "WerkError",
    "buses",
    "iso", "new_id", "parse_duration", "parse_time", "to_datetime", "to_ns", "topic_matches",
}  # fmt: skip


def test_exported_members():
    assert set(werk.core.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(werk.core, name) is not None
