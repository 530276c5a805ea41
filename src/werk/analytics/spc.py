"""Statistical process control: Shewhart charts, the Nelson rules, process capability.

Two charts, both judged against limits computed from a **baseline** (phase I) and then applied to
new data (phase II):

* **individuals and moving range (I-MR)** for one value at a time: centre ``x̄`` of the baseline,
  within-subgroup sigma ``MR̄ / d2`` with ``d2 = 1.128`` (the moving range of two points), limits
  ``x̄ ± 3 sigma``; the MR chart's upper limit is ``D4 · MR̄ = 3.267 · MR̄``.
* **X̄-R** for consecutive subgroups of ``n`` values (2 to 10): centre ``x̿``, limits
  ``x̿ ± A2 · R̄``, sigma ``R̄ / d2``; the R chart runs from ``D3 · R̄`` to ``D4 · R̄``.

The plotted statistic (a value or a subgroup mean) is turned into a z-score against the centre
and its own sigma, and the eight **Nelson rules** (L. S. Nelson, "The Shewhart Control Chart —
Tests for Special Causes", Journal of Quality Technology 16(4), 1984) say which points show a
special cause. The Western Electric rules (Statistical Quality Control Handbook, 1956) are a
subset: WE 1–4 are Nelson 1, 5, 6 and 2 (WE 4 asks for 8 points on one side, Nelson 2 for 9;
werk uses Nelson's 9). A rule is reported at the point that completes its pattern, which is when
a live chart would notice it.

Capability: ``Cp = (USL − LSL) / 6σ`` and ``Cpk = min(USL − μ, μ − LSL) / 3σ`` with the
within sigma (short-term: R̄/d2 or MR̄/1.128); ``Pp`` and ``Ppk`` the same with the overall sample
standard deviation (long-term). One limit given: only the one-sided index (``Cpk`` = ``Cpu`` or
``Cpl``); ``Cp`` and ``Pp`` need both.

:class:`SpcProcessor` is the streaming shape: ``update_many(timestamps, values)`` learns limits
from the first points and returns rule violations as they happen; ``pop_transitions`` turns them
into raised/cleared conditions for ``spc.raised`` / ``spc.cleared`` events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from werk.core import ValidationError, iso
from werk.core.condition import Condition

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# -- constants ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartConstants:
    """Shewhart chart factors for subgroups of ``n`` (normal data)."""

    n: int
    a2: float  # X̄ limits: x̿ ± A2·R̄ (= 3 / (d2·√n))
    d2: float  # E[range] / sigma
    d3: float  # R chart lower limit factor: D3·R̄
    d4: float  # R chart upper limit factor: D4·R̄


# Montgomery, "Introduction to Statistical Quality Control" (7th ed., 2013), Appendix VI "Factors
# for constructing variables control charts"; the same values are in ASTM E2587 and ASTM STP 15D.
CONSTANTS: dict[int, ChartConstants] = {
    c.n: c
    for c in (
        #              n     A2     d2     D3     D4
        ChartConstants(2, 1.880, 1.128, 0.000, 3.267),
        ChartConstants(3, 1.023, 1.693, 0.000, 2.574),
        ChartConstants(4, 0.729, 2.059, 0.000, 2.282),
        ChartConstants(5, 0.577, 2.326, 0.000, 2.114),
        ChartConstants(6, 0.483, 2.534, 0.000, 2.004),
        ChartConstants(7, 0.419, 2.704, 0.076, 1.924),
        ChartConstants(8, 0.373, 2.847, 0.136, 1.864),
        ChartConstants(9, 0.337, 2.970, 0.184, 1.816),
        ChartConstants(10, 0.308, 3.078, 0.223, 1.777),
    )
}
MOVING_RANGE = CONSTANTS[2]  # a moving range is the range of a subgroup of two
MAX_SUBGROUP = max(CONSTANTS)

ChartKind = Literal["individuals", "xbar-r"]


# -- rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    number: int  # Nelson's number
    window: int  # points the pattern spans
    western_electric: int | None  # the Western Electric rule it is, if any
    priority: str  # of the condition it raises (the event contract's priorities)
    description: str

    @property
    def name(self) -> str:
        return f"nelson-{self.number}"


RULES: dict[int, Rule] = {
    r.number: r
    for r in (
        Rule(1, 1, 1, "high", "one point beyond 3 sigma"),
        Rule(2, 9, 4, "medium", "nine points in a row on one side of the centre line"),
        Rule(3, 6, None, "medium", "six points in a row steadily increasing or decreasing"),
        Rule(4, 14, None, "low", "fourteen points in a row alternating up and down"),
        Rule(5, 3, 2, "medium", "two of three points in a row beyond 2 sigma on one side"),
        Rule(6, 5, 3, "medium", "four of five points in a row beyond 1 sigma on one side"),
        Rule(7, 15, None, "low", "fifteen points in a row within 1 sigma (stratification)"),
        Rule(8, 8, None, "low", "eight points in a row beyond 1 sigma, on both sides"),
    )
}
ALL_RULES: tuple[int, ...] = tuple(RULES)
LONGEST_RULE = max(r.window for r in RULES.values())


def _runs(condition: BoolArray, k: int) -> BoolArray:
    """True at ``i`` when ``condition`` holds at all of ``i-k+1 … i``."""
    return np.asarray(_counts(condition, k) == k, np.bool_)


def _counts(condition: BoolArray, k: int) -> npt.NDArray[np.int64]:
    """How many of ``i-k+1 … i`` satisfy ``condition`` (windows cut short at the start count 0)."""
    c = np.concatenate([[0], np.cumsum(condition, dtype=np.int64)])
    out = np.zeros(len(condition), np.int64)
    if len(condition) >= k:
        out[k - 1 :] = c[k:] - c[: len(c) - k]
    return out


def nelson(z: FloatArray, rules: Iterable[int] = ALL_RULES) -> dict[int, BoolArray]:
    """Per rule, which points complete its pattern; ``z`` = (statistic − centre) / its sigma.

    Rules 5 and 6 count only when the completing point is itself one of those beyond the zone,
    so a pattern is reported once where it forms, not again at the calm point after it.
    NaN z-scores (points not judged) break every run.
    """
    z = np.asarray(z, np.float64)
    finite = np.isfinite(z)
    above, below = finite & (z > 0), finite & (z < 0)
    step = np.diff(z, prepend=np.nan)  # step[i] = z[i] - z[i-1]
    up, down = step > 0, step < 0  # NaN compares False: a gap breaks a trend
    out: dict[int, BoolArray] = {}
    for number in rules:
        if number == 1:
            hit = finite & (np.abs(z) > 3)
        elif number == 2:
            hit = _runs(above, 9) | _runs(below, 9)
        elif number == 3:  # six points: five steps the same way
            hit = _runs(up, 5) | _runs(down, 5)
        elif number == 4:  # fourteen points: thirteen steps, each turning against the last
            turns = np.zeros(len(z), np.bool_)
            turns[1:] = (up[1:] & down[:-1]) | (down[1:] & up[:-1])
            hit = _runs(turns, 12)
        elif number in (5, 6):
            zone, need, window = (2.0, 2, 3) if number == 5 else (1.0, 4, 5)
            high, low = finite & (z > zone), finite & (z < -zone)
            hit = (high & (_counts(high, window) >= need)) | (low & (_counts(low, window) >= need))
        elif number == 7:
            hit = _runs(finite & (np.abs(z) < 1), 15)
        elif number == 8:
            outside = finite & (np.abs(z) > 1)
            both = (_counts(above & outside, 8) > 0) & (_counts(below & outside, 8) > 0)
            hit = _runs(outside, 8) & both
        else:
            raise ValidationError(
                f"unknown Nelson rule {number}: 1 to 8", field="rules", rule="nelson-rule"
            )
        out[number] = np.asarray(hit, np.bool_)
    return out


def parse_rules(text: str | None) -> tuple[int, ...]:
    """``"1,2,5"`` or ``"we"`` (the Western Electric four) or ``None`` (all eight)."""
    if text is None or not text.strip() or text.strip().lower() in ("all", "nelson"):
        return ALL_RULES
    if text.strip().lower() in ("we", "western-electric"):
        return tuple(r.number for r in RULES.values() if r.western_electric is not None)
    try:
        numbers = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        numbers = ()
    if not numbers or any(n not in RULES for n in numbers):
        raise ValidationError(
            f"bad rules {text!r}: Nelson rule numbers 1 to 8 (e.g. 1,2,5), 'we' or 'all'",
            field="rules",
            rule="nelson-rule",
        )
    return numbers


# -- limits ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """Phase I limits of a chart. ``sigma`` is the within sigma of *single values*."""

    chart: ChartKind
    subgroup: int
    center: float  # of the plotted statistic: the mean of values or of subgroup means
    sigma: float
    range_center: float  # MR̄ or R̄
    range_lcl: float
    range_ucl: float
    baseline: int  # points (I-MR) or subgroups (X̄-R) the limits come from

    @property
    def sigma_plotted(self) -> float:
        """Sigma of the plotted statistic: sigma for values, sigma / √n for subgroup means."""
        return self.sigma / math.sqrt(self.subgroup)

    @property
    def ucl(self) -> float:
        return self.center + 3 * self.sigma_plotted

    @property
    def lcl(self) -> float:
        return self.center - 3 * self.sigma_plotted

    def z(self, plotted: FloatArray) -> FloatArray:
        """Distance from the centre in sigmas of the plotted statistic (±inf if sigma is 0)."""
        delta = np.asarray(plotted, np.float64) - self.center
        if self.sigma_plotted > 0:
            return np.asarray(delta / self.sigma_plotted)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(delta == 0, 0.0, np.sign(delta) * np.inf)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chart": self.chart,
            "subgroup": self.subgroup,
            "center": self.center,
            "ucl": self.ucl,
            "lcl": self.lcl,
            "sigma": self.sigma,
            "sigma_plotted": self.sigma_plotted,
            "range_center": self.range_center,
            "range_lcl": self.range_lcl,
            "range_ucl": self.range_ucl,
            "baseline": self.baseline,
        }


def _finite(values: npt.ArrayLike, field: str) -> FloatArray:
    array = np.asarray(values, np.float64)
    if array.ndim != 1:
        raise ValidationError(f"{field} must be one-dimensional", field=field, rule="shape")
    return array[np.isfinite(array)]


def individuals_limits(values: npt.ArrayLike) -> Limits:
    """I-MR limits from baseline values (at least two: one moving range)."""
    x = _finite(values, "values")
    if len(x) < 2:
        raise ValidationError(
            f"an individuals chart needs at least 2 baseline values, got {len(x)}",
            field="baseline",
            rule="too-short",
        )
    mr_bar = float(np.mean(np.abs(np.diff(x))))
    return Limits(
        chart="individuals",
        subgroup=1,
        center=float(np.mean(x)),
        sigma=mr_bar / MOVING_RANGE.d2,
        range_center=mr_bar,
        range_lcl=MOVING_RANGE.d3 * mr_bar,
        range_ucl=MOVING_RANGE.d4 * mr_bar,
        baseline=len(x),
    )


def _check_subgroup(n: int) -> ChartConstants:
    if n not in CONSTANTS:
        raise ValidationError(
            f"subgroup size {n}: 2 to {MAX_SUBGROUP} for an X̄-R chart (1: individuals)",
            field="subgroup",
            rule="subgroup-size",
        )
    return CONSTANTS[n]


def xbar_r_limits(means: npt.ArrayLike, ranges: npt.ArrayLike, n: int) -> Limits:
    """X̄-R limits from baseline subgroup means and ranges (at least two subgroups)."""
    k = _check_subgroup(n)
    means = np.asarray(means, np.float64)
    ranges = np.asarray(ranges, np.float64)
    if len(means) < 2:
        raise ValidationError(
            f"an X̄-R chart needs at least 2 baseline subgroups of {n}, got {len(means)}",
            field="baseline",
            rule="too-short",
        )
    r_bar = float(np.mean(ranges))
    return Limits(
        chart="xbar-r",
        subgroup=n,
        center=float(np.mean(means)),
        sigma=r_bar / k.d2,
        range_center=r_bar,
        range_lcl=k.d3 * r_bar,
        range_ucl=k.d4 * r_bar,
        baseline=len(means),
    )


@dataclass(frozen=True, slots=True)
class Subgroups:
    """Consecutive subgroups of ``n`` values; a subgroup is stamped with its last value's time."""

    timestamps: TimeArray
    means: FloatArray
    ranges: FloatArray

    def __len__(self) -> int:
        return len(self.means)


def subgroups(timestamps: npt.ArrayLike, values: npt.ArrayLike, n: int) -> Subgroups:
    """Group finite values in order, ``n`` at a time; an incomplete last subgroup is left out."""
    _check_subgroup(n)
    ts = np.asarray(timestamps, np.int64)
    x = np.asarray(values, np.float64)
    keep = np.isfinite(x)
    ts, x = ts[keep], x[keep]
    whole = len(x) // n * n
    table = x[:whole].reshape(-1, n)
    return Subgroups(
        timestamps=ts[n - 1 : whole : n].copy(),
        means=table.mean(axis=1),
        ranges=np.ptp(table, axis=1) if len(table) else np.empty(0),
    )


# -- capability -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability:
    lsl: float | None
    usl: float | None
    mean: float
    sigma_within: float
    sigma_overall: float
    count: int
    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lsl": self.lsl,
            "usl": self.usl,
            "mean": self.mean,
            "sigma_within": self.sigma_within,
            "sigma_overall": self.sigma_overall,
            "count": self.count,
            **{
                name: None if value is None else _json_float(value)
                for name, value in (
                    ("cp", self.cp),
                    ("cpk", self.cpk),
                    ("pp", self.pp),
                    ("ppk", self.ppk),
                )
            },
        }


def _index(spread: float, sigma: float) -> float:
    if sigma > 0:
        return spread / sigma
    return math.copysign(math.inf, spread) if spread else 0.0


def capability(
    values: npt.ArrayLike,
    *,
    lsl: float | None,
    usl: float | None,
    sigma_within: float,
) -> Capability:
    """Cp, Cpk (within sigma) and Pp, Ppk (overall sigma) of ``values`` against spec limits.

    Without any variation the indices are infinite (``to_dict`` writes them as null, since JSON
    has no infinity).
    """
    if lsl is None and usl is None:
        raise ValidationError(
            "capability needs a spec limit: give lsl, usl or both",
            field="lsl",
            rule="spec-limits",
        )
    if lsl is not None and usl is not None and not lsl < usl:
        raise ValidationError(
            f"lsl ({lsl:g}) must be below usl ({usl:g})", field="lsl", rule="lsl-below-usl"
        )
    x = _finite(values, "values")
    if len(x) < 2:
        raise ValidationError(
            f"capability needs at least 2 values, got {len(x)}", field="values", rule="too-short"
        )
    mean = float(np.mean(x))
    overall = float(np.std(x, ddof=1))

    def indices(sigma: float) -> tuple[float | None, float]:
        cp = _index(usl - lsl, 6 * sigma) if lsl is not None and usl is not None else None
        sides = []
        if usl is not None:
            sides.append(_index(usl - mean, 3 * sigma))
        if lsl is not None:
            sides.append(_index(mean - lsl, 3 * sigma))
        return cp, min(sides)

    cp, cpk = indices(sigma_within)
    pp, ppk = indices(overall)
    return Capability(lsl, usl, mean, sigma_within, overall, len(x), cp, cpk, pp, ppk)


# -- a whole chart --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """Point ``index`` of the chart (a value or a subgroup) completes rule ``rule``'s pattern."""

    rule: int
    index: int
    timestamp: int
    value: float  # the plotted statistic
    z: float

    @property
    def name(self) -> str:
        return RULES[self.rule].name

    def to_dict(self) -> dict[str, Any]:
        r = RULES[self.rule]
        return {
            "rule": r.name,
            "western_electric": r.western_electric,
            "description": r.description,
            "index": self.index,
            "timestamp": iso(self.timestamp),
            "ns": self.timestamp,
            "value": self.value,
            "z": _json_float(self.z),
        }


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def violations(
    timestamps: TimeArray,
    plotted: FloatArray,
    z: FloatArray,
    rules: Iterable[int] = ALL_RULES,
    *,
    first: int = 0,
    offset: int = 0,
) -> list[Violation]:
    """The violations of points ``first`` onwards, ordered by point then rule."""
    found: list[Violation] = []
    for number, hit in nelson(z, rules).items():
        for i in np.flatnonzero(hit[first:]) + first:
            found.append(
                Violation(
                    number, int(i) + offset, int(timestamps[i]), float(plotted[i]), float(z[i])
                )
            )
    found.sort(key=lambda v: (v.index, v.rule))
    return found


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart over a window: limits from the baseline, every point judged against them."""

    limits: Limits
    timestamps: TimeArray  # of the points (subgroups: the last value's)
    plotted: FloatArray  # values or subgroup means
    ranges: FloatArray  # moving ranges (NaN for the first point) or subgroup ranges
    z: FloatArray
    violations: list[Violation]
    capability: Capability | None
    rules: tuple[int, ...] = ALL_RULES
    values_used: int = 0

    def counts(self) -> dict[str, int]:
        """How many points break each rule checked (0 included: checked and clean)."""
        tally = {RULES[n].name: 0 for n in self.rules}
        for v in self.violations:
            tally[v.name] += 1
        return tally


def chart(
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    subgroup: int = 1,
    baseline_end: int | None = None,
    lsl: float | None = None,
    usl: float | None = None,
    rules: Sequence[int] = ALL_RULES,
) -> Chart:
    """I-MR (``subgroup`` 1) or X̄-R chart of a series: phase I on points before
    ``baseline_end`` (all points when ``None``), phase II on all of them, and capability when a
    spec limit is given (from the baseline's values, so a later shift shows as out of control
    rather than silently widening sigma)."""
    ts = np.asarray(timestamps, np.int64)
    x = np.asarray(values, np.float64)
    if ts.shape != x.shape:
        raise ValidationError(
            "timestamps and values differ in length", field="values", rule="shape"
        )
    keep = np.isfinite(x)
    ts, x = ts[keep], x[keep]
    if subgroup == 1:
        plot_ts, plotted = ts, x
        ranges = np.concatenate([[np.nan], np.abs(np.diff(x))]) if len(x) else np.empty(0)
        in_base = plot_ts < baseline_end if baseline_end is not None else np.ones(len(x), bool)
        limits = individuals_limits(x[in_base])
        base_values = x[in_base]
    else:
        groups = subgroups(ts, x, subgroup)
        plot_ts, plotted, ranges = groups.timestamps, groups.means, groups.ranges
        in_base = plot_ts < baseline_end if baseline_end is not None else np.ones(len(groups), bool)
        limits = xbar_r_limits(plotted[in_base], ranges[in_base], subgroup)
        # the baseline's subgroups are a prefix (times only grow): their values are too
        base_values = x[: int(np.count_nonzero(in_base)) * subgroup]
    z = limits.z(plotted)
    found = violations(plot_ts, plotted, z, rules)
    cap = None
    if lsl is not None or usl is not None:
        cap = capability(base_values, lsl=lsl, usl=usl, sigma_within=limits.sigma)
    return Chart(limits, plot_ts, plotted, ranges, z, found, cap, tuple(rules), len(x))


# -- streaming ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    """A rule's condition starts (``raised``) or ends (``cleared``) on a streaming chart."""

    kind: Literal["raised", "cleared"]
    rule: int
    at: int  # timestamp ns of the point that decided it
    value: float
    z: float

    @property
    def condition(self) -> str:
        return RULES[self.rule].name

    def to_condition(
        self, signal: str, asset: str | None = None, priority: str | None = None
    ) -> Condition:
        """The ``spc.raised`` / ``spc.cleared`` condition (``priority``: the rule's own unless
        given)."""
        r = RULES[self.rule]
        if self.kind == "raised":
            message = f"{signal}: {r.description} (Nelson {r.number}"
            message += f", Western Electric {r.western_electric})" if r.western_electric else ")"
        else:
            message = f"{signal}: back in control for Nelson rule {r.number}"
        return Condition(
            "spc",
            r.name,
            signal,
            self.kind == "raised",
            self.at,
            message,
            priority or r.priority,
            _json_float(self.value),
            _json_float(abs(self.z)),
            asset,
            signal,
        )


@dataclass
class SpcProcessor:
    """A live Shewhart chart of one signal.

    Without ``limits`` the first ``baseline`` points (values, or subgroups of ``subgroup``) set
    them and are not judged: a live chart cannot tell special causes before it knows the common
    ones. Afterwards every point is checked against the rules; state carries across calls, so a
    pattern that straddles two batches is still seen.

    A rule's condition is raised at its first violation and cleared once ``hold`` points (default:
    the rule's own window) pass without another: a run of nine on one side breaks Nelson 2 at
    every further point, and that should stay one alarm.
    """

    subgroup: int = 1
    limits: Limits | None = None
    baseline: int = 100
    rules: tuple[int, ...] = ALL_RULES
    hold: int | None = None
    _learn_ts: list[int] = field(default_factory=list, repr=False)
    _learn_x: list[float] = field(default_factory=list, repr=False)
    _partial_ts: list[int] = field(default_factory=list, repr=False)
    _partial_x: list[float] = field(default_factory=list, repr=False)
    _learn_r: list[float] = field(default_factory=list, repr=False)
    _pending_r: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)
    _tail_ts: TimeArray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    _tail_x: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)
    _points: int = field(default=0, repr=False)  # points judged so far
    _last_hit: dict[int, int] = field(default_factory=dict, repr=False)  # rule -> point number
    _transitions: list[Transition] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.subgroup != 1:
            _check_subgroup(self.subgroup)
        if self.limits is None and self.baseline < 2:
            raise ValidationError(
                "baseline must be at least 2 points", field="baseline", rule="too-short"
            )
        parse_rules(",".join(str(r) for r in self.rules))

    @property
    def ready(self) -> bool:
        return self.limits is not None

    @property
    def active(self) -> tuple[int, ...]:
        """Rules whose condition is raised now."""
        return tuple(sorted(self._last_hit))

    def update(self, timestamp: int, value: float) -> list[Violation]:
        return self.update_many(np.array([timestamp], np.int64), np.array([value], np.float64))

    def update_many(self, timestamps: npt.ArrayLike, values: npt.ArrayLike) -> list[Violation]:
        """Take values in time order; return the violations among the points they complete."""
        ts = np.asarray(timestamps, np.int64)
        x = np.asarray(values, np.float64)
        keep = np.isfinite(x)
        ts, x = ts[keep], x[keep]
        if self.subgroup > 1:
            ts, x = self._group(ts, x)
        if self.limits is None:
            ts, x = self._learn(ts, x)
        if not len(x) or self.limits is None:
            return []
        all_ts = np.concatenate([self._tail_ts, ts])
        all_x = np.concatenate([self._tail_x, x])
        first = len(self._tail_x)
        found = violations(
            all_ts,
            all_x,
            self.limits.z(all_x),
            self.rules,
            first=first,
            offset=self._points - first,
        )
        self._track(found, all_ts, all_x, first)
        self._points += len(x)
        keep_tail = LONGEST_RULE - 1
        self._tail_ts, self._tail_x = all_ts[-keep_tail:], all_x[-keep_tail:]
        return found

    def pop_transitions(self) -> list[Transition]:
        """Raised and cleared conditions since the last call, in time order."""
        out, self._transitions = self._transitions, []
        return out

    # -- internals --------------------------------------------------------------------------------

    def _group(self, ts: TimeArray, x: FloatArray) -> tuple[TimeArray, FloatArray]:
        """Subgroup means stamped with their last value (the range is the R chart's concern)."""
        all_ts = np.concatenate([np.asarray(self._partial_ts, np.int64), ts])
        all_x = np.concatenate([np.asarray(self._partial_x, np.float64), x])
        whole = len(all_x) // self.subgroup * self.subgroup
        self._partial_ts = all_ts[whole:].tolist()
        self._partial_x = all_x[whole:].tolist()
        groups = subgroups(all_ts[:whole], all_x[:whole], self.subgroup)
        self._pending_r = groups.ranges
        return groups.timestamps, groups.means

    def _learn(self, ts: TimeArray, x: FloatArray) -> tuple[TimeArray, FloatArray]:
        """Collect baseline points; once there are enough, fix the limits and pass on the rest."""
        need = self.baseline - len(self._learn_x)
        self._learn_ts += ts[:need].tolist()
        self._learn_x += x[:need].tolist()
        if self.subgroup > 1:
            self._learn_r += self._pending_r[:need].tolist()
        if len(self._learn_x) < self.baseline:
            return ts[:0], x[:0]
        if self.subgroup == 1:
            self.limits = individuals_limits(self._learn_x)
        else:
            self.limits = xbar_r_limits(self._learn_x, self._learn_r, self.subgroup)
        # Phase I points are not judged, but a pattern may begin among them (as on a whole chart)
        keep = LONGEST_RULE - 1
        self._tail_ts = np.asarray(self._learn_ts[-keep:], np.int64)
        self._tail_x = np.asarray(self._learn_x[-keep:], np.float64)
        self._points = len(self._learn_x)
        return ts[need:], x[need:]

    def _track(self, found: list[Violation], ts: TimeArray, x: FloatArray, first: int) -> None:
        """Turn this batch's violations into raised/cleared transitions (see the class doc)."""
        assert self.limits is not None
        start, end = self._points, self._points + len(x) - first  # point numbers of this batch
        z = self.limits.z(x)

        def at(point: int) -> tuple[int, float, float]:
            i = point - start + first
            return int(ts[i]), float(x[i]), float(z[i])

        events: list[tuple[int, int, Transition]] = []
        hits: dict[int, list[int]] = {}
        for v in found:
            hits.setdefault(v.rule, []).append(v.index)
        for rule in self.rules:
            hold = self.hold or RULES[rule].window
            last = self._last_hit.get(rule)
            for point in hits.get(rule, []):
                if last is not None and point - last > hold:  # quiet long enough in between
                    events.append(
                        (last + hold, rule, Transition("cleared", rule, *at(last + hold)))
                    )
                    last = None
                if last is None:
                    events.append((point, rule, Transition("raised", rule, *at(point))))
                last = point
            if last is not None and end - 1 - last >= hold:
                events.append((last + hold, rule, Transition("cleared", rule, *at(last + hold))))
                last = None
            if last is None:
                self._last_hit.pop(rule, None)
            else:
                self._last_hit[rule] = last
        events.sort(key=lambda e: (e[0], e[1]))
        self._transitions += [t for _, _, t in events]
