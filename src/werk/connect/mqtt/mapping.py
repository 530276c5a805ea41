"""The plain-MQTT codec: topics and JSON payloads turned into sample batches. Pure, no sockets.

Two ways to say where a signal's data is, both declarative:

- **the plant file**, one topic per signal: ``source = { mqtt = "bremen/line1/welder1/current" }``.
  The payload is a JSON number (``21.5``, ``true``) or an object with ``value`` and optionally
  ``timestamp`` and ``quality``: ``{"value": 21.5, "timestamp": 1700000000123}``.
- **routes** in werk.toml, one pattern for many topics::

      [[connectors.options.routes]]
      topic = "plant/+/press/+"     # MQTT wildcards (+ one level, # the rest)
      signal = "{1}.{3}"            # the signal id from the topic's levels (0-based), or fixed
      value = "$.v"                 # where the number is; "$" (default): the whole payload
      timestamp = "$.ts"            # optional; default: the arrival time
      quality = "$.q"               # optional: good|uncertain|bad|stale, 0-3, or true/false

  or, for a payload carrying many values at once (``{"temp": 71.2, "rpm": 1450}``)::

      values = "$"                  # an object: each key a signal ...
      signal = "{1}.{key}"          # ... named by the template with {key}

A path is ``$`` followed by ``.name``, ``[index]`` or ``['any name']`` steps.

Timestamps: an ISO 8601 string (without a zone it is taken as UTC), or a number whose unit is
``timestamp_unit`` (``s``, ``ms``, ``us``, ``ns``) or, by default, told by its size: below 1e11
seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds — which reads every
date from 1973 to 5138 right whichever unit a device uses.

A route's signals must be known (bound in the plant file, or listed in ``known``) unless the route
says ``any_signal = true``: a typo in a template must not create thousands of signals.

:meth:`TopicMap.decode` turns a whole list of messages into ONE batch and a count of what it
refused and why (``invalid-json``, ``missing-value``, ``not-numeric``, ``bad-timestamp``,
``unknown-topic``, ``unknown-signal``, ``bad-quality``, ``retained``): bad input never costs the
good messages around it. Per message it does a dictionary look-up (topics are resolved once and
cached), one JSON parse (orjson when installed), and a few list appends.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from werk.core import ConfigError, Quality, SampleBatch

try:  # about 5x faster than the standard library on small documents
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _FAST_ERROR: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _FAST_ERROR = ValueError

# Same alphabet as werk.core.signal: ids travel in URLs, topics and file names.
SIGNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,199}$")
UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
MAX_CACHED_TOPICS = 100_000  # topics resolved and remembered; beyond, resolved every time

_MISSING: Any = object()
_QUALITY_NAMES = {q.name.lower(): int(q) for q in Quality}


class Message(Protocol):
    """What the codec needs of a received message (:class:`~werk.connect.mqtt.session.Received`)."""

    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def retain(self) -> bool: ...
    @property
    def received_ns(self) -> int: ...


# -- JSON paths ----------------------------------------------------------------------------------

_STEP = re.compile(r"""\.([A-Za-z_][\w\-]*)|\[(\d+)\]|\[(?:'([^']*)'|"([^"]*)")\]""")


def compile_path(path: str) -> tuple[str | int, ...]:
    """``$.a.b[0]['c d']`` -> ``("a", "b", 0, "c d")``; ``$`` -> ``()``."""
    text = path.strip()
    if not text.startswith("$"):
        raise ConfigError(f"JSON path {path!r} must start with $ (e.g. $.value, $.data[0])")
    steps: list[str | int] = []
    position = 1
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise ConfigError(
                f"JSON path {path!r}: cannot read {text[position:]!r} "
                "(steps are .name, [index] or ['name'])"
            )
        name, index, quoted1, quoted2 = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(s for s in (name, quoted1, quoted2) if s is not None))
        position = match.end()
    return tuple(steps)


def _getter(path: str | None) -> Callable[[Any], Any] | None:
    if path is None:
        return None
    steps = compile_path(path)
    if not steps:
        return _identity
    if len(steps) == 1:
        (only,) = steps

        def one(doc: Any) -> Any:
            try:
                return doc[only]
            except (KeyError, IndexError, TypeError):
                return _MISSING

        return one

    def walk(doc: Any) -> Any:
        try:
            for step in steps:
                doc = doc[step]
        except (KeyError, IndexError, TypeError):
            return _MISSING
        return doc

    return walk


def _identity(doc: Any) -> Any:
    return doc


# -- values, timestamps, quality -----------------------------------------------------------------


def number(value: Any) -> float | None:
    """A sample value from JSON: numbers and booleans; None for anything else (strings too)."""
    kind = type(value)
    if kind is float or kind is int or kind is bool:
        return float(value)
    return None


def timestamp_ns(value: Any, unit: str | None = None) -> int | None:
    """UTC nanoseconds from an ISO 8601 string or an epoch number (see the module doc)."""
    kind = type(value)
    if kind is int or kind is float:
        if not math.isfinite(value):
            return None
        if unit is None:
            size = abs(value)
            scale = 10**9 if size < 1e11 else 10**6 if size < 1e14 else 10**3 if size < 1e17 else 1
        else:
            scale = UNITS[unit]
        if kind is int:
            return int(value) * scale
        whole = math.floor(value)  # the fraction apart: 1.7e18 ns is beyond a double's precision
        return int(whole) * scale + round(float(value - whole) * scale)
    if kind is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def quality_code(value: Any) -> int | None:
    kind = type(value)
    if kind is bool:
        return int(Quality.GOOD if value else Quality.BAD)
    if kind is int:
        return int(value) if 0 <= value <= int(Quality.STALE) else None
    if kind is str:
        return _QUALITY_NAMES.get(value.strip().lower())
    return None


# -- routes --------------------------------------------------------------------------------------


def topic_matcher(pattern: str) -> re.Pattern[str]:
    """A compiled matcher for an MQTT topic filter (``+`` one level, ``#`` the rest)."""
    levels = pattern.split("/")
    parts: list[str] = []
    for i, level in enumerate(levels):
        if level == "#":
            if i != len(levels) - 1:
                raise ConfigError(f"topic {pattern!r}: # must be the last level")
            # "a/#" matches "a" too (MQTT 3.1.1, 4.7.1.2)
            return re.compile("/".join(parts) + ("(?:/.*)?" if parts else ".*") + r"\Z")
        if level == "+":
            parts.append("[^/]*")
        elif "+" in level or "#" in level:
            raise ConfigError(f"topic {pattern!r}: a wildcard must be a whole level")
        else:
            parts.append(re.escape(level))
    return re.compile("/".join(parts) + r"\Z")


@dataclass(frozen=True)
class Route:
    """One topic pattern and how to read signals out of its messages (see the module doc)."""

    topic: str
    signal: str
    value: str | None = "$"
    values: str | None = None
    timestamp: str | None = None
    timestamp_unit: str | None = None
    quality: str | None = None
    any_signal: bool = False
    matcher: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", topic_matcher(self.topic))
        if self.timestamp_unit is not None and self.timestamp_unit not in UNITS:
            raise ConfigError(
                f"route {self.topic!r}: timestamp_unit {self.timestamp_unit!r} is not one of "
                f"{', '.join(UNITS)}"
            )
        if self.values is not None and "{key}" not in self.signal:
            raise ConfigError(
                f"route {self.topic!r}: with values = {self.values!r} the signal template needs "
                "{key} (each key of the object is a signal)"
            )
        for path in (self.value, self.values, self.timestamp, self.quality):
            if path is not None:
                compile_path(path)
        self._check_template()

    def _check_template(self) -> None:
        levels = self.topic.split("/")
        open_ended = levels[-1] == "#"
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(self.signal) if name]
        except ValueError as error:
            raise ConfigError(f"route {self.topic!r}: signal {self.signal!r}: {error}") from error
        for name in fields:
            if name == "key":
                if self.values is None:
                    raise ConfigError(
                        f'route {self.topic!r}: {{key}} in the signal needs values = "$..."'
                    )
            elif not name.isdigit():
                raise ConfigError(
                    f"route {self.topic!r}: signal {self.signal!r}: {{{name}}} is neither a topic "
                    "level ({0}, {1} ...) nor {key}"
                )
            elif int(name) >= len(levels) - open_ended and not open_ended:
                raise ConfigError(
                    f"route {self.topic!r}: signal {self.signal!r} names level {name}, but the "
                    f"topic has {len(levels)} (counted from 0)"
                )

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str = "route") -> Route:
        """A route from its werk.toml table; a clear error naming the field otherwise."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: a route is a table with topic and signal")
        allowed = {
            "topic",
            "signal",
            "value",
            "values",
            "timestamp",
            "timestamp_unit",
            "quality",
            "any_signal",
        }
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        for key in ("topic", "signal"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ConfigError(f"{where}: {key} is required (a string)")
        values = raw.get("values")
        return cls(
            topic=raw["topic"],
            signal=raw["signal"],
            value=None if values is not None else raw.get("value", "$"),
            values=values,
            timestamp=raw.get("timestamp"),
            timestamp_unit=raw.get("timestamp_unit"),
            quality=raw.get("quality"),
            any_signal=bool(raw.get("any_signal", False)),
        )


# -- how one topic is read (resolved once, cached) ------------------------------------------------


@dataclass(slots=True)
class _Plan:
    signal: str | None  # fixed signal (None: many, named per key by ``signal_of_key``)
    value: Callable[[Any], Any] | None
    values: Callable[[Any], Any] | None
    timestamp: Callable[[Any], Any] | None
    unit: str | None
    quality: Callable[[Any], Any] | None
    binding: bool  # plant-file binding: bare number or {value, timestamp, quality}
    levels: tuple[str, ...] = ()
    template: str = ""
    any_signal: bool = False
    keys: dict[str, str | None] = field(default_factory=dict)  # key -> signal (None: refused)


_VALUE = _getter("$.value")
_TIMESTAMP = _getter("$.timestamp")
_QUALITY = _getter("$.quality")


@dataclass
class Decoded:
    """One list of messages, decoded: the batch, and what was refused (reason -> count) with an
    example of each reason for the log."""

    batch: SampleBatch
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def refuse(self, reason: str, example: str) -> None:
        self.rejected[reason] += 1
        self.examples.setdefault(reason, example)


class TopicMap:
    """Plant-file bindings (topic -> signal) and routes, compiled for :meth:`decode`."""

    def __init__(
        self,
        routes: Sequence[Route] = (),
        bindings: Mapping[str, str] | None = None,
        *,
        known: Iterable[str] = (),
        skip_retained: bool = False,
    ) -> None:
        self.routes = tuple(routes)
        self.bindings = dict(bindings or {})  # topic -> signal
        self.known = frozenset(known) | frozenset(self.bindings.values())
        self.skip_retained = skip_retained
        self._plans: dict[str, _Plan | str] = {}  # topic -> plan, or the reason it is refused

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], bindings: Mapping[str, str], known: Iterable[str] = ()
    ) -> TopicMap:
        raw_routes = options.get("routes", [])
        if not isinstance(raw_routes, list):
            raise ConfigError(
                "options.routes must be a list of tables ([[connectors.options.routes]])"
            )
        routes = [Route.parse(r, f"options.routes[{i}]") for i, r in enumerate(raw_routes)]
        return cls(
            routes,
            bindings,
            known=known,
            skip_retained=bool(options.get("skip_retained", False)),
        )

    def subscriptions(self, qos: int) -> list[tuple[str, int]]:
        """Every route's pattern, and every bound topic no pattern covers."""
        topics = list(dict.fromkeys(r.topic for r in self.routes))
        for topic in self.bindings:
            if not any(r.matcher.match(topic) for r in self.routes):
                topics.append(topic)
        return [(t, qos) for t in topics]

    # -- decoding --------------------------------------------------------------------------------

    def decode(self, messages: Iterable[Message]) -> Decoded:
        """All ``messages`` as one batch; bad ones counted by reason, the rest kept in order."""
        names: dict[str, int] = {}
        codes: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        qualities: list[int] = []
        out = Decoded(SampleBatch.empty())
        plans = self._plans
        loads = _loads
        good = int(Quality.GOOD)

        for message in messages:
            topic = message.topic
            plan = plans.get(topic)
            if plan is None:
                plan = self._resolve(topic)
            if type(plan) is str:
                out.refuse(plan, topic)
                continue
            assert isinstance(plan, _Plan)
            if self.skip_retained and message.retain:
                out.refuse("retained", topic)
                continue
            try:
                doc = loads(message.payload)
            except _FAST_ERROR:
                doc = _lenient_json(message.payload)
                if doc is _MISSING:
                    out.refuse("invalid-json", f"{topic}: {message.payload[:60]!r}")
                    continue

            if plan.binding and type(doc) is dict:
                raw_value = doc.get("value", _MISSING)
                raw_time = doc.get("timestamp")
                raw_quality = doc.get("quality")
            elif plan.binding:
                raw_value, raw_time, raw_quality = doc, None, None
            else:
                raw_value = plan.value(doc) if plan.value is not None else _MISSING
                raw_time = plan.timestamp(doc) if plan.timestamp is not None else None
                raw_quality = plan.quality(doc) if plan.quality is not None else None

            if raw_time is None or raw_time is _MISSING:
                when = message.received_ns
            else:
                stamp = timestamp_ns(raw_time, plan.unit)
                if stamp is None:
                    out.refuse("bad-timestamp", f"{topic}: {raw_time!r}")
                    continue
                when = stamp
            quality = good
            if raw_quality is not None and raw_quality is not _MISSING:
                code = quality_code(raw_quality)
                if code is None:
                    out.refuse("bad-quality", f"{topic}: {raw_quality!r} (kept as uncertain)")
                    code = int(Quality.UNCERTAIN)
                quality = code

            if plan.signal is not None:  # one value
                if raw_value is _MISSING:
                    out.refuse("missing-value", topic)
                    continue
                kind = type(raw_value)
                if kind is float or kind is int or kind is bool:
                    value = float(raw_value)
                else:
                    out.refuse("not-numeric", f"{topic}: {str(raw_value)[:60]!r}")
                    continue
                code_ = names.get(plan.signal)
                if code_ is None:
                    code_ = names[plan.signal] = len(names)
                codes.append(code_)
                stamps.append(when)
                values.append(value)
                qualities.append(quality)
            else:  # many values: an object, each key a signal
                group = plan.values(doc) if plan.values is not None else _MISSING
                if type(group) is not dict:
                    out.refuse("missing-value", f"{topic}: no object at {plan.template}")
                    continue
                for key, raw in group.items():
                    signal = plan.keys.get(key, _MISSING)
                    if signal is _MISSING:
                        signal = self._signal_for_key(plan, key)
                    if signal is None:
                        out.refuse("unknown-signal", f"{topic}: key {key!r}")
                        continue
                    value_ = number(raw)
                    if value_ is None:
                        out.refuse("not-numeric", f"{topic}: {key}={str(raw)[:40]!r}")
                        continue
                    code_ = names.get(signal)
                    if code_ is None:
                        code_ = names[signal] = len(names)
                    codes.append(code_)
                    stamps.append(when)
                    values.append(value_)
                    qualities.append(quality)

        if codes:
            out.batch = SampleBatch(
                tuple(names),
                np.array(codes, np.int32),
                np.array(stamps, np.int64),
                np.array(values, np.float64),
                np.array(qualities, np.uint8),
            )
        return out

    def _resolve(self, topic: str) -> _Plan | str:
        plan = self._plan_for(topic)
        if len(self._plans) < MAX_CACHED_TOPICS:
            self._plans[topic] = plan
        return plan

    def _plan_for(self, topic: str) -> _Plan | str:
        signal = self.bindings.get(topic)
        if signal is not None:
            return _Plan(signal, _VALUE, None, _TIMESTAMP, None, _QUALITY, binding=True)
        for route in self.routes:
            if not route.matcher.match(topic):
                continue
            levels = tuple(topic.split("/"))
            plan = _Plan(
                None,
                _getter(route.value),
                _getter(route.values),
                _getter(route.timestamp),
                route.timestamp_unit,
                _getter(route.quality),
                binding=False,
                levels=levels,
                template=route.signal,
                any_signal=route.any_signal,
            )
            if route.values is not None:
                return plan
            try:
                plan.signal = route.signal.format(*levels)
            except (IndexError, KeyError):
                return "unknown-signal"  # the template names a level this topic lacks
            if not self._acceptable(plan.signal, route.any_signal):
                return "unknown-signal"
            return plan
        return "unknown-topic"

    def _signal_for_key(self, plan: _Plan, key: str) -> str | None:
        try:
            signal: str | None = plan.template.format(*plan.levels, key=key)
        except (IndexError, KeyError):
            signal = None
        if signal is not None and not self._acceptable(signal, plan.any_signal):
            signal = None
        if len(plan.keys) < MAX_CACHED_TOPICS:
            plan.keys[key] = signal
        return signal

    def _acceptable(self, signal: str, any_signal: bool) -> bool:
        if signal in self.known:
            return True
        return any_signal and SIGNAL_ID.match(signal) is not None


def _lenient_json(payload: bytes) -> Any:
    """The standard library's reading, for what strict JSON refuses but devices send: NaN,
    Infinity (kept, then flagged BAD by the outlet). Only on the error path."""
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return _MISSING
