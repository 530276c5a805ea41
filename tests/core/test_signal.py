import pytest

from werk.core import Context, Event, Signal, SignalCatalog, ValidationError


def test_signal_rules():
    signal = Signal("press1.temperature", unit="Cel", minimum=-20, maximum=150)
    assert signal.in_range(20) and not signal.in_range(151)
    with pytest.raises(ValidationError, match="must start"):
        Signal("bad id with spaces")
    with pytest.raises(ValidationError) as caught:
        Signal("x", minimum=5, maximum=1)
    assert caught.value.rule == "range-order"


def test_catalog_refuses_conflicting_definitions():
    catalog = SignalCatalog([Signal("a", unit="Cel")])
    catalog.add(Signal("a", unit="Cel"))  # the same definition again is fine
    with pytest.raises(ValidationError, match="defined twice"):
        catalog.add(Signal("a", unit="bar"))
    assert list(catalog) == ["a"]


def test_event_round_trip_keeps_causal_context():
    root = Context(user="anna")
    event = Event("alarm.raised", source="press1", data={"level": 3}, context=root.child())
    again = Event.from_dict(event.to_dict())
    assert again == event
    assert again.context.parent_id == root.id and again.context.user == "anna"
