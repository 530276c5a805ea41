"""The plain-MQTT codec: routes, plant-file bindings, timestamps, and every kind of bad input
counted while the good messages around it are kept. No network."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from werk.connect.mqtt.mapping import (
    Route,
    TopicMap,
    compile_path,
    timestamp_ns,
    topic_matcher,
)
from werk.core import ConfigError, Quality

T0 = 1_700_000_000_000_000_000


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: bytes
    retain: bool = False
    received_ns: int = T0


def rows(decoded):  # type: ignore[no-untyped-def]
    b = decoded.batch
    return [
        (b.names[int(i)], int(t), float(v), int(q))
        for i, t, v, q in zip(b.index, b.timestamps, b.values, b.quality, strict=True)
    ]


def test_paths_compile() -> None:
    assert compile_path("$") == ()
    assert compile_path("$.a.b[2]['c d'][\"e\"]") == ("a", "b", 2, "c d", "e")
    with pytest.raises(ConfigError, match="must start with"):
        compile_path("a.b")
    with pytest.raises(ConfigError, match="cannot read"):
        compile_path("$.a..b")


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("plant/+/press/+", "plant/line1/press/temp", True),
        ("plant/+/press/+", "plant/line1/press/temp/x", False),
        ("plant/+/press/+", "plant/line1/oven/temp", False),
        ("plant/#", "plant", True),
        ("plant/#", "plant/a/b/c", True),
        ("plant/#", "plantx/a", False),
        ("#", "anything/at/all", True),
        ("a.b/c", "aXb/c", False),  # dots are literal
    ],
)
def test_topic_filters(pattern: str, topic: str, matches: bool) -> None:
    assert bool(topic_matcher(pattern).match(topic)) is matches


def test_bad_routes_are_refused_at_start_with_the_field_named() -> None:
    with pytest.raises(ConfigError, match="# must be the last level"):
        Route("a/#/b", "x")
    with pytest.raises(ConfigError, match="names level 4"):
        Route("plant/+/press/+", "{1}.{4}")
    with pytest.raises(ConfigError, match="needs values"):
        Route("plant/+", "{1}.{key}")
    with pytest.raises(ConfigError, match=r"needs \{key\}"):
        Route("plant/+", "{1}", value=None, values="$")
    with pytest.raises(ConfigError, match="timestamp_unit"):
        Route("plant/+", "{1}", timestamp_unit="minutes")
    with pytest.raises(ConfigError, match=r"options.routes\[0\]: unknown key\(s\) vlaue"):
        TopicMap.from_options({"routes": [{"topic": "a", "signal": "b", "vlaue": "$.v"}]}, {})
    with pytest.raises(ConfigError, match="signal is required"):
        TopicMap.from_options({"routes": [{"topic": "a"}]}, {})


def test_route_with_paths_names_signals_from_topic_levels() -> None:
    tm = TopicMap(
        [Route("plant/+/press/+", "{1}.{3}", value="$.v", timestamp="$.ts", quality="$.q")],
        known=["line1.temp", "line1.force"],
    )
    decoded = tm.decode(
        [
            Msg("plant/line1/press/temp", b'{"v": 21.5, "ts": 1700000001.5}'),
            Msg("plant/line1/press/force", b'{"v": 3, "ts": 1700000002000, "q": "uncertain"}'),
            Msg("plant/line1/press/temp", b'{"v": true, "ts": "2023-11-14T22:13:23Z", "q": 0}'),
        ]
    )
    assert rows(decoded) == [
        ("line1.temp", 1_700_000_001_500_000_000, 21.5, 0),
        ("line1.force", 1_700_000_002_000_000_000, 3.0, int(Quality.UNCERTAIN)),
        ("line1.temp", 1_700_000_003_000_000_000, 1.0, 0),
    ]
    assert not decoded.rejected


def test_plant_file_bindings_take_a_number_or_a_value_object() -> None:
    tm = TopicMap(bindings={"bremen/line1/welder1/current": "welder1.current"})
    decoded = tm.decode(
        [
            Msg("bremen/line1/welder1/current", b"21.5"),
            Msg("bremen/line1/welder1/current", b'{"value": 22, "timestamp": 1700000000123}'),
            Msg("bremen/line1/welder1/current", b'{"value": 23, "quality": "bad"}'),
            Msg("bremen/line1/welder1/current", b"false"),
        ]
    )
    assert rows(decoded) == [
        ("welder1.current", T0, 21.5, 0),
        ("welder1.current", 1_700_000_000_123_000_000, 22.0, 0),
        ("welder1.current", T0, 23.0, int(Quality.BAD)),
        ("welder1.current", T0, 0.0, 0),
    ]
    assert tm.subscriptions(1) == [("bremen/line1/welder1/current", 1)]


def test_many_values_in_one_payload() -> None:
    tm = TopicMap(
        [Route("plant/+/state", "{1}.{key}", value=None, values="$.data", any_signal=True)]
    )
    decoded = tm.decode(
        [Msg("plant/press1/state", b'{"data": {"temp": 71.2, "rpm": 1450, "mode": "auto"}}')]
    )
    assert rows(decoded) == [("press1.temp", T0, 71.2, 0), ("press1.rpm", T0, 1450.0, 0)]
    assert decoded.rejected == {"not-numeric": 1}


def test_every_kind_of_bad_input_is_counted_and_the_good_around_it_kept() -> None:
    now = time.time_ns()
    tm = TopicMap(
        [
            Route("plant/+/v", "{1}", value="$.v", timestamp="$.ts"),
            Route("open/+", "open.{1}", any_signal=True),
        ],
        bindings={"b/current": "b.current"},
        known=["good", "ok"],
    )
    good = Msg("plant/good/v", b'{"v": 1.0}', received_ns=now)
    decoded = tm.decode(
        [
            good,
            Msg("plant/good/v", b'{"v": 1.0'),  # invalid JSON
            Msg("plant/good/v", b"\xff\xfe"),  # not even text
            Msg("plant/good/v", b'{"w": 1.0}'),  # value path missing
            Msg("plant/good/v", b'{"v": "12.5"}'),  # a string is not a sample
            Msg("plant/good/v", b'{"v": [1, 2]}'),
            Msg("plant/good/v", b'{"v": 1.0, "ts": "yesterday"}'),
            Msg("plant/typo/v", b'{"v": 1.0}'),  # not a known signal
            Msg("elsewhere/x", b"1"),  # no route, no binding
            Msg("open/bad id!", b"1"),  # any_signal, but not a valid signal id
            Msg("b/current", b"NaN"),  # kept: the outlet flags it BAD (not-finite)
            Msg("b/current", b'{"value": Infinity}'),
            Msg("b/current", b'{"value": 2, "quality": "excellent"}'),  # kept as uncertain
            Msg("plant/ok/v", b'{"v": 2.0}', received_ns=now),
        ]
    )
    assert decoded.rejected == {
        "invalid-json": 2,
        "missing-value": 1,
        "not-numeric": 2,
        "bad-timestamp": 1,
        "unknown-signal": 2,
        "unknown-topic": 1,
        "bad-quality": 1,
    }
    got = rows(decoded)
    assert [r[0] for r in got] == ["good", "b.current", "b.current", "b.current", "ok"]
    assert got[0][1:] == (now, 1.0, 0) and got[-1][1:] == (now, 2.0, 0)
    assert [r[2] for r in got[1:3]] == [pytest.approx(float("nan"), nan_ok=True), float("inf")]
    assert got[3][3] == int(Quality.UNCERTAIN)
    assert set(decoded.examples) == set(decoded.rejected)


def test_retained_messages_can_be_refused() -> None:
    tm = TopicMap(bindings={"a": "a"}, skip_retained=True)
    decoded = tm.decode([Msg("a", b"1", retain=True), Msg("a", b"2")])
    assert decoded.rejected == {"retained": 1} and rows(decoded)[0][2] == 2.0


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        (1_700_000_000, None, T0),
        (1_700_000_000.25, None, T0 + 250_000_000),
        (1_700_000_000_000, None, T0),
        (1_700_000_000_000_000, None, T0),
        (T0, None, T0),
        (1_700_000_000, "ms", 1_700_000_000_000_000),
        ("2023-11-14T22:13:20Z", None, T0),
        ("2023-11-14T23:13:20.5+01:00", None, T0 + 500_000_000),
        ("2023-11-14 22:13:20", None, T0),  # no zone: UTC
        ("not a time", None, None),
        (float("nan"), None, None),
        (None, None, None),
        (True, None, None),
    ],
)
def test_timestamps(raw: object, unit: str | None, expected: int | None) -> None:
    assert timestamp_ns(raw, unit) == expected


def test_subscriptions_cover_bindings_once() -> None:
    tm = TopicMap([Route("plant/#", "{1}", any_signal=True)], {"plant/a": "a", "other/b": "b"})
    assert tm.subscriptions(0) == [("plant/#", 0), ("other/b", 0)]


def test_decode_is_fast() -> None:
    tm = TopicMap([Route("plant/+/press/+", "{1}.{3}", value="$.v", timestamp="$.ts")],
                  known=[f"line{i}.temp" for i in range(10)])  # fmt: skip
    messages = [
        Msg(f"plant/line{i % 10}/press/temp", b'{"v": %d.5, "ts": %d}' % (i, 1_700_000_000_000 + i))
        for i in range(20_000)
    ]
    tm.decode(messages[:100])
    started = time.perf_counter()
    decoded = tm.decode(messages)
    per_message = (time.perf_counter() - started) / len(messages)
    assert len(decoded.batch) == 20_000
    assert per_message < 20e-6, f"{per_message * 1e6:.1f} µs per message"  # ~2 µs on a quiet core
