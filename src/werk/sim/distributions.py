"""Random durations for the line model: a small spec, parsed once, drawn in numpy blocks.

A spec is a TOML value::

    42                                                  fixed 42 s (a bare number is seconds)
    "90s" | "5min" | "2h"                              fixed duration
    { dist = "exponential", mean_h = 8 }
    { dist = "lognormal", mean_s = 42, cv = 0.1 }      mean and coefficient of variation
    { dist = "gamma", mean_min = 20, cv = 0.5 }
    { dist = "normal", mean_s = 40, sd_s = 2 }          truncated at 0 (redrawn), or cv
    { dist = "weibull", shape = 1.5, scale_h = 10 }     or shape and mean_h
    { dist = "uniform", low_s = 30, high_s = 50 }
    { dist = "triangular", low_s = 30, mode_s = 40, high_s = 60 }
    { dist = "fixed", value_s = 42 }
    { dist = "empirical", values_s = [40.1, 41.7, 39.8] }   resampled with replacement

Every duration parameter carries its unit as a suffix: ``_s``, ``_min`` or ``_h`` (``cv`` and
``shape`` have none). Inside, everything is seconds.

A :class:`Sampler` hands out one value at a time from a pre-drawn block of 4096, so the model's
hot loop pays one C call per value instead of one numpy call.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DISTRIBUTIONS = (
    "fixed",
    "exponential",
    "lognormal",
    "gamma",
    "normal",
    "weibull",
    "uniform",
    "triangular",
    "empirical",
)
UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0}
BLOCK = 4096
_DIMENSIONLESS = ("cv", "shape")
_DURATION_TEXT = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def stream(seed: int, *parts: int | str) -> np.random.Generator:
    """The random stream of one purpose at one place, e.g. ``(seed, replication, "m1.cycle")``:
    the same numbers in every scenario or schedule that asks with the same parts (common random
    numbers). Text parts are hashed (CRC-32), numbers used as they are."""
    key = [p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts]
    return np.random.default_rng([seed, *key])


class SpecError(ValueError):
    """A distribution spec is wrong; ``field`` is the key inside the spec (or "")."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Distribution:
    """A parsed spec: a family and its parameters in seconds (``values`` for empirical)."""

    dist: str
    params: tuple[tuple[str, float], ...] = ()
    values: tuple[float, ...] = ()

    def param(self, name: str) -> float | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    @property
    def mean(self) -> float:
        """The mean in seconds (closed form)."""
        p = dict(self.params)
        d = self.dist
        if d == "fixed":
            return p["value"]
        if d in ("exponential", "lognormal", "gamma", "normal"):
            return p["mean"]
        if d == "weibull":
            return p["scale"] * math.gamma(1 + 1 / p["shape"])
        if d == "uniform":
            return (p["low"] + p["high"]) / 2
        if d == "triangular":
            return (p["low"] + p["mode"] + p["high"]) / 3
        return float(np.mean(self.values))

    def sampler(self, rng: np.random.Generator) -> Sampler:
        return Sampler(_block_drawer(self), rng)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return _block_drawer(self)(rng, size)


def fixed(seconds: float) -> Distribution:
    return Distribution("fixed", (("value", float(seconds)),))


def exponential(mean_s: float) -> Distribution:
    return Distribution("exponential", (("mean", float(mean_s)),))


class Sampler:
    """Draws one value at a time from numpy blocks: ``sampler()`` is the next duration."""

    __slots__ = ("_draw", "_next", "_rng")

    def __init__(self, draw: Callable[[np.random.Generator, int], np.ndarray], rng: Any) -> None:
        self._draw = draw
        self._rng = rng
        self._next = iter(draw(rng, BLOCK).tolist()).__next__

    def __call__(self) -> float:
        try:
            return self._next()  # type: ignore[no-any-return]
        except StopIteration:
            self._next = iter(self._draw(self._rng, BLOCK).tolist()).__next__
            return self._next()  # type: ignore[no-any-return]


def parse_duration_s(value: Any, field: str = "") -> float:
    """``42`` (seconds) or ``"90s"``, ``"5min"``, ``"2h"``, ``"1.5h"`` -> seconds."""
    if isinstance(value, bool):
        raise SpecError(f"must be a duration, not {value!r}", field)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        number = text.rstrip("abcdefghijklmnopqrstuvwxyz ")
        unit = text[len(number) :].strip() or "s"
        if unit not in _DURATION_TEXT:
            raise SpecError(f"bad duration {value!r}: use a number with s, min or h", field)
        try:
            seconds = float(number) * _DURATION_TEXT[unit]
        except ValueError:
            raise SpecError(f"bad duration {value!r}: {number!r} is not a number", field) from None
    else:
        raise SpecError(
            f"must be a duration (42, '90s', '5min'), not {type(value).__name__}", field
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise SpecError(f"must be a finite duration >= 0, not {value!r}", field)
    return seconds


def parse_distribution(spec: Any) -> Distribution:
    """A spec (see the module docstring) -> :class:`Distribution`; :class:`SpecError` if wrong."""
    if not isinstance(spec, Mapping):
        return fixed(parse_duration_s(spec))
    if "dist" not in spec:
        raise SpecError(f"needs dist = one of {', '.join(DISTRIBUTIONS)}", "dist")
    dist = spec["dist"]
    if dist not in DISTRIBUTIONS:
        raise SpecError(f"unknown distribution {dist!r}; known: {', '.join(DISTRIBUTIONS)}", "dist")
    params: dict[str, float] = {}
    values: tuple[float, ...] = ()
    for key, raw in spec.items():
        if key == "dist":
            continue
        name, scale = _split_unit(key)
        if name == "values" and dist == "empirical":
            if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
                raise SpecError("must be a non-empty list of durations", key)
            values = tuple(_number(v, key) * scale for v in raw)
            continue
        value = _number(raw, key)
        params[name] = value * scale
    return _validated(dist, params, values)


def _split_unit(key: str) -> tuple[str, float]:
    if key in _DIMENSIONLESS:
        return key, 1.0
    name, _, unit = key.rpartition("_")
    if not name or unit not in UNITS_S:
        raise SpecError(
            f"unknown parameter {key!r}: duration parameters end in _s, _min or _h "
            "(mean_s, sd_min, scale_h ...); cv and shape have no unit",
            key,
        )
    return name, UNITS_S[unit]


def _number(raw: Any, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise SpecError(f"must be a finite number, not {raw!r}", key)
    return float(raw)


_REQUIRED = {
    "fixed": (("value",),),
    "exponential": (("mean",),),
    "lognormal": (("mean", "cv"), ("mean", "sd")),
    "gamma": (("mean", "cv"), ("mean", "sd")),
    "normal": (("mean", "cv"), ("mean", "sd")),
    "weibull": (("shape", "scale"), ("shape", "mean")),
    "uniform": (("low", "high"),),
    "triangular": (("low", "mode", "high"),),
    "empirical": ((),),
}


def _validated(dist: str, p: dict[str, float], values: tuple[float, ...]) -> Distribution:
    options = _REQUIRED[dist]
    chosen = next((o for o in options if set(o) == set(p)), None)
    if chosen is None:
        wanted = " or ".join("(" + ", ".join(o) + ")" for o in options)
        given = ", ".join(sorted(p)) or "nothing"
        raise SpecError(f"{dist} takes {wanted} (with units, e.g. mean_s), given {given}")
    for key, value in p.items():
        if value < 0 or (value == 0 and key in ("mean", "scale", "shape", "high")):
            raise SpecError(f"must be > 0, not {value:g}", key)
    if dist == "empirical":
        if not values:
            raise SpecError("empirical needs values_s (or values_min, values_h)", "values_s")
        if min(values) < 0:
            raise SpecError("durations cannot be negative", "values_s")
        return Distribution(dist, (), values)
    if "sd" in p:  # one internal form: mean and cv
        p = {"mean": p["mean"], "cv": p["sd"] / p["mean"]}
    if dist == "weibull" and "mean" in p:
        p = {"shape": p["shape"], "scale": p["mean"] / math.gamma(1 + 1 / p["shape"])}
    if dist == "uniform" and p["low"] > p["high"]:
        raise SpecError("low must not exceed high", "low")
    if dist == "triangular" and not p["low"] <= p["mode"] <= p["high"]:
        raise SpecError("needs low <= mode <= high", "mode")
    if dist in ("lognormal", "gamma") and p["cv"] == 0:
        return fixed(p["mean"])
    return Distribution(dist, tuple(sorted(p.items())))


def _block_drawer(d: Distribution) -> Callable[[np.random.Generator, int], np.ndarray]:
    p = dict(d.params)
    if d.dist == "fixed":
        value = p["value"]
        return lambda rng, n: np.full(n, value)
    if d.dist == "exponential":
        mean = p["mean"]
        return lambda rng, n: rng.exponential(mean, n)
    if d.dist == "lognormal":
        sigma2 = math.log1p(p["cv"] ** 2)
        mu, sigma = math.log(p["mean"]) - sigma2 / 2, math.sqrt(sigma2)
        return lambda rng, n: rng.lognormal(mu, sigma, n)
    if d.dist == "gamma":
        shape = 1 / p["cv"] ** 2
        scale = p["mean"] / shape
        return lambda rng, n: rng.gamma(shape, scale, n)
    if d.dist == "normal":
        mean, sd = p["mean"], p["mean"] * p["cv"]

        def normal(rng: np.random.Generator, n: int) -> np.ndarray:
            out = rng.normal(mean, sd, n)
            negative = out < 0
            while negative.any():  # truncate at 0 by redrawing: durations are never negative
                out[negative] = rng.normal(mean, sd, int(negative.sum()))
                negative = out < 0
            return out

        return normal
    if d.dist == "weibull":
        shape, scale = p["shape"], p["scale"]
        return lambda rng, n: scale * rng.weibull(shape, n)
    if d.dist == "uniform":
        low, high = p["low"], p["high"]
        return lambda rng, n: rng.uniform(low, high, n)
    if d.dist == "triangular":
        low, mode, high = p["low"], p["mode"], p["high"]
        if low == high:
            return lambda rng, n: np.full(n, low)
        return lambda rng, n: rng.triangular(low, mode, high, n)
    pool = np.asarray(d.values)
    return lambda rng, n: rng.choice(pool, n)
