"""SPC: limits against hand-computed examples, each Nelson rule on a constructed series, capability,
and the streaming processor's violations and raised/cleared conditions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from werk.analytics.spc import (
    CONSTANTS,
    RULES,
    Limits,
    SpcProcessor,
    capability,
    chart,
    individuals_limits,
    nelson,
    parse_rules,
    subgroups,
    xbar_r_limits,
)
from werk.core import ValidationError

S = 1_000_000_000


def test_chart_constants_agree_with_the_normal_range_distribution() -> None:
    """d2 is the mean range of n standard normals, A2 = 3 / (d2 √n), and D3 + D4 = 2 where D3 > 0.

    The table is typed from a textbook; this recomputes what can be recomputed, so a typo fails.
    """
    from scipy import integrate, stats

    for n, k in CONSTANTS.items():

        def tail(x: float, n: int = n) -> float:
            p = float(stats.norm.cdf(x))
            return 1 - (1 - p) ** n - p**n

        d2 = integrate.quad(tail, -np.inf, np.inf)[0]
        assert k.d2 == pytest.approx(d2, abs=6e-4), n
        assert k.a2 == pytest.approx(3 / (k.d2 * math.sqrt(n)), abs=1.5e-3), n
        if k.d3 > 0:
            assert k.d3 + k.d4 == pytest.approx(2.0, abs=1e-3), n
        assert k.d4 > 1


def test_individuals_limits_by_hand() -> None:
    # x = 5 7 6 8 9: mean 7; moving ranges 2 1 2 1, MR̄ = 1.5; sigma = 1.5 / 1.128 = 1.329787;
    # UCL = 7 + 3 sigma = 10.989362, LCL = 3.010638; MR chart UCL = 3.267 * 1.5 = 4.9005.
    limits = individuals_limits([5, 7, 6, 8, 9])
    assert limits.center == 7
    assert limits.range_center == 1.5
    assert limits.sigma == pytest.approx(1.329787, abs=1e-6)
    assert limits.ucl == pytest.approx(10.989362, abs=1e-6)
    assert limits.lcl == pytest.approx(3.010638, abs=1e-6)
    assert limits.range_ucl == pytest.approx(4.9005)
    assert limits.range_lcl == 0
    assert limits.baseline == 5


def test_xbar_r_limits_by_hand() -> None:
    # subgroups of 3: (1 2 3) (2 4 6) (3 3 3) (4 5 6): means 2 4 3 5, x̿ = 3.5; ranges 2 4 0 2,
    # R̄ = 2; A2 = 1.023: UCL = 3.5 + 2.046 = 5.546, LCL = 1.454; R chart 0 .. 2.574 * 2 = 5.148;
    # sigma = R̄ / d2 = 2 / 1.693 = 1.181335.
    values = [1, 2, 3, 2, 4, 6, 3, 3, 3, 4, 5, 6, 7]  # the 7 is an incomplete subgroup
    groups = subgroups(np.arange(len(values)) * S, values, 3)
    assert groups.means.tolist() == [2, 4, 3, 5]
    assert groups.ranges.tolist() == [2, 4, 0, 2]
    assert groups.timestamps.tolist() == [2 * S, 5 * S, 8 * S, 11 * S]  # the last value's time
    limits = xbar_r_limits(groups.means, groups.ranges, 3)
    assert limits.center == 3.5
    assert limits.ucl == pytest.approx(5.546, abs=1e-3)  # 3 sigma/√3 equals A2·R̄ to rounding
    assert limits.lcl == pytest.approx(1.454, abs=1e-3)
    assert limits.range_ucl == pytest.approx(5.148)
    assert limits.sigma == pytest.approx(1.181335, abs=1e-6)


def test_capability_by_hand() -> None:
    # the I-MR example: mean 7, sigma within 1.329787, overall s = sqrt(10 / 4) = 1.581139.
    # LSL 4, USL 12: Cp = 8 / (6 * 1.329787) = 1.002667, Cpk = min(5, 3) / (3 * 1.329787) = 0.752;
    # Pp = 8 / (6 * 1.581139) = 0.843274, Ppk = 3 / (3 * 1.581139) = 0.632456.
    values = [5, 7, 6, 8, 9]
    result = chart(np.arange(5) * S, values, lsl=4, usl=12).capability
    assert result is not None
    assert result.cp == pytest.approx(1.002667, abs=1e-6)
    assert result.cpk == pytest.approx(0.752000, abs=1e-6)
    assert result.pp == pytest.approx(0.843274, abs=1e-6)
    assert result.ppk == pytest.approx(0.632456, abs=1e-6)
    one_sided = capability(values, lsl=None, usl=12, sigma_within=1.329787)
    assert one_sided.cp is None and one_sided.pp is None
    assert one_sided.cpk == pytest.approx(5 / (3 * 1.329787), abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"lsl": None, "usl": None}, "spec-limits"),
        ({"lsl": 5.0, "usl": 5.0}, "lsl-below-usl"),
    ],
)
def test_capability_needs_sensible_limits(kwargs: dict[str, float | None], rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        capability([1.0, 2.0, 3.0], sigma_within=1.0, **kwargs)
    assert caught.value.rule == rule


def test_too_short_data_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="at least 2 baseline values") as caught:
        individuals_limits([1.0, math.nan])
    assert caught.value.rule == "too-short"
    with pytest.raises(ValidationError, match="at least 2 baseline subgroups"):
        chart(np.arange(5) * S, [1, 2, 3, 4, 5], subgroup=3)
    with pytest.raises(ValidationError, match="subgroup size 11") as caught:
        chart(np.arange(30) * S, np.arange(30.0), subgroup=11)
    assert caught.value.field == "subgroup"
    with pytest.raises(ValidationError, match="at least 2 values"):
        capability([1.0], lsl=0, usl=2, sigma_within=1.0)


def test_no_variation_gives_infinite_capability_written_as_null() -> None:
    result = capability([3.0, 3.0, 3.0], lsl=0, usl=10, sigma_within=0.0)
    assert result.cpk == math.inf
    assert result.to_dict()["cpk"] is None
    outside = capability([30.0, 30.0], lsl=0, usl=10, sigma_within=0.0)
    assert outside.cpk == -math.inf  # off spec with no spread: as bad as it gets


# -- Nelson rules on constructed z-scores -------------------------------------------------------

# A calm background: no two consecutive steps the same way beyond two, sides alternate within
# three, nothing beyond 2 sigma, a point beyond 1 sigma at least every six. It breaks no rule.
CALM = [0.5, -0.5, 1.5, 1.2, -0.8, -1.5, 0.2, 0.6, -0.3]
AT = 18  # where a pattern is written: after two calm cycles (the point before is -0.3)


def _series(pattern: list[float], length: int = 60) -> np.ndarray:
    z = np.resize(np.array(CALM), length)
    z[AT : AT + len(pattern)] = pattern
    return z


def _flagged(z: np.ndarray, rule: int) -> list[int]:
    return np.flatnonzero(nelson(z, [rule])[rule]).tolist()


def test_the_calm_background_breaks_no_rule() -> None:
    z = np.resize(np.array(CALM), 200)
    assert all(not hit.any() for hit in nelson(z).values())


@pytest.mark.parametrize(
    ("rule", "pattern", "completes_at", "almost"),
    [
        (1, [3.5], 0, [2.9]),
        (1, [-3.2], 0, [-2.99]),
        (2, [0.4, 0.6] * 4 + [0.4], 8, [0.4, 0.6] * 4),  # nine on one side; eight do not
        (2, [-0.4, -0.6] * 4, 7, [-0.4, -0.6] * 3 + [-0.4]),  # the -0.3 before AT counts
        (3, [-0.9, -0.6, -0.2, 0.2, 0.6, 0.9], 5, [-0.9, -0.6, -0.2, 0.2, 0.6]),
        (3, [0.9, 0.6, 0.2, -0.2, -0.6, -0.9], 5, [1.9, 0.9, 0.6, 0.2, -1.6]),
        (5, [2.5, 0.1, 2.4], 2, [2.5, 0.1, -2.4]),  # two of three beyond 2 sigma, same side
        (5, [-2.5, -2.2], 1, [-2.5, 1.9]),
        (6, [1.5, 1.5, 0.5, 1.5, 1.5], 4, [1.5, 1.5, 0.5, 0.5, 1.5]),
        (6, [-1.2, -1.5, -1.1, -1.3], 3, [-1.2, -1.5, -0.9, -1.3]),
        # the three calm points before AT are within 1 sigma too: fifteen at AT + 11
        (7, [0.1, 0.5, -0.4, -0.2, 0.3, 0.6, -0.5, 0.0] * 2, 11, [0.1, 0.5, -0.4] * 3 + [0.1, 0.5]),
        (8, [1.5, -1.5, 1.6, 1.2, -1.4, 1.5, -1.2, -1.5], 7, [1.5, -1.5, 1.6, -1.2, 0.4]),
    ],
)
def test_each_rule_fires_where_its_pattern_completes_and_not_one_point_short(
    rule: int, pattern: list[float], completes_at: int, almost: list[float]
) -> None:
    assert _flagged(_series(pattern), rule)[:1] == [AT + completes_at]
    assert _flagged(_series(almost), rule) == []


def test_rule_4_fourteen_alternating_points() -> None:
    # The background point before AT is -0.3 after a step down (0.6 -> -0.3); the pattern steps
    # down again first, so the alternating run starts at AT - 1 and its 14th point is AT + 12.
    pattern = [-0.9] + [0.4, -0.4] * 6
    assert _flagged(_series(pattern), 4) == [AT + 12]
    assert _flagged(_series(pattern[:-1]), 4) == []


def test_rule_8_needs_both_sides() -> None:
    assert _flagged(_series([1.5] * 8), 8) == []  # eight beyond 1 sigma, one side: rule 6's job
    assert _flagged(_series([1.5] * 8), 6)


def test_noise_rarely_breaks_a_rule() -> None:
    """On in-control normal data each rule's false-alarm rate is a fraction of a percent."""
    z = np.random.default_rng(7).standard_normal(20_000)
    for rule, hit in nelson(z).items():
        assert hit.mean() < 0.006, (rule, hit.mean())


def test_rule_names_and_the_western_electric_subset() -> None:
    assert [RULES[n].western_electric for n in (1, 5, 6, 2)] == [1, 2, 3, 4]
    assert parse_rules("we") == (1, 2, 5, 6)
    assert parse_rules("5, 1") == (1, 5)
    assert parse_rules(None) == tuple(range(1, 9))
    with pytest.raises(ValidationError, match="1 to 8"):
        parse_rules("9")


# -- whole charts and streaming ------------------------------------------------------------------


def _shifted(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """100 in-control points, then 40 with the mean up by 2 sigma."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(50, 1, 100), rng.normal(52, 1, 40)])
    return np.arange(len(values), dtype=np.int64) * S, values


def test_phase_two_sees_a_shift_the_baseline_did_not_have() -> None:
    ts, values = _shifted()
    result = chart(ts, values, baseline_end=int(ts[100]))
    assert result.limits.baseline == 100
    assert result.limits.center == pytest.approx(values[:100].mean())
    late = [v for v in result.violations if v.index >= 100]
    assert {v.rule for v in late} >= {2, 5}  # a sustained shift: runs and 2-of-3 beyond 2 sigma
    assert sum(v.index >= 100 for v in result.violations) > 5 * sum(
        v.index < 100 for v in result.violations
    )
    # phase I over everything: the shift widens nothing but moves the centre up
    everything = chart(ts, values)
    assert everything.limits.center > result.limits.center


def test_xbar_chart_judges_subgroup_means() -> None:
    ts, values = _shifted()
    result = chart(ts, values, subgroup=5, baseline_end=int(ts[100]))
    assert len(result.plotted) == 28 and result.limits.baseline == 20
    assert result.limits.sigma_plotted == pytest.approx(result.limits.sigma / math.sqrt(5))
    assert any(v.rule == 1 and v.index >= 20 for v in result.violations)  # 2 sigma = 4.5 sigma/√5


def test_streaming_finds_the_same_violations_whatever_the_batch_sizes() -> None:
    ts, values = _shifted(3)
    limits = individuals_limits(values[:100])
    whole = SpcProcessor(limits=limits).update_many(ts, values)
    pieces = SpcProcessor(limits=limits)
    found = []
    for lo, hi in [(0, 7), (7, 8), (8, 50), (50, 103), (103, 104), (104, 140)]:
        found += pieces.update_many(ts[lo:hi], values[lo:hi])
    assert found == whole
    assert whole == chart(ts, values, baseline_end=int(ts[100])).violations


def test_streaming_learns_its_limits_first() -> None:
    ts, values = _shifted(4)
    processor = SpcProcessor(baseline=100)
    assert processor.update_many(ts[:60], values[:60]) == []
    assert not processor.ready
    found = processor.update_many(ts[60:], values[60:])
    assert processor.limits == individuals_limits(values[:100])
    expected = chart(ts, values, baseline_end=int(ts[100])).violations
    assert found == [v for v in expected if v.index >= 100]  # baseline points are not judged


def test_streaming_subgroups_across_batches() -> None:
    ts, values = _shifted(5)
    processor = SpcProcessor(subgroup=4, baseline=25)
    found = []
    for lo in range(0, 140, 9):  # batches that split subgroups
        found += processor.update_many(ts[lo : lo + 9], values[lo : lo + 9])
    assert processor.limits == chart(ts[:100], values[:100], subgroup=4).limits
    expected = chart(ts, values, subgroup=4, baseline_end=int(ts[100])).violations
    assert found == [v for v in expected if v.timestamp >= ts[100]]


def test_a_sustained_run_raises_once_and_clears_after_it_ends() -> None:
    limits = Limits("individuals", 1, 0.0, 1.0, 1.128, 0.0, 3.685, 100)
    z = np.resize(np.array(CALM), 80)
    z[20:40] = 0.5  # twenty points on one side: Nelson 2 at points 28..39
    ts = np.arange(len(z), dtype=np.int64) * S + 10 * S
    processor = SpcProcessor(limits=limits, rules=(2,))
    found = []
    for lo in range(0, 80, 16):
        found += processor.update_many(ts[lo : lo + 16], z[lo : lo + 16])
    assert [v.index for v in found] == list(range(28, 40))
    transitions = processor.pop_transitions()
    assert [(t.kind, t.at) for t in transitions] == [
        ("raised", int(ts[28])),
        ("cleared", int(ts[39 + 9])),  # nine quiet points: the rule's own window
    ]
    assert processor.pop_transitions() == [] and processor.active == ()
    data = transitions[0].to_condition("press1.temperature", "press1").event().data
    assert data["condition"] == "nelson-2" and data["priority"] == "medium"
    assert data["signal"] == "press1.temperature" and data["asset"] == "press1"
    assert data["at"] == int(ts[28]) and data["value"] == 0.5
    assert "Western Electric 4" in data["message"]


def test_still_active_at_the_end_of_a_batch() -> None:
    limits = Limits("individuals", 1, 0.0, 1.0, 1.128, 0.0, 3.685, 100)
    processor = SpcProcessor(limits=limits, hold=5)
    ts = np.arange(3, dtype=np.int64) * S
    processor.update_many(ts, [0.0, 4.0, 0.0])
    assert [(t.kind, t.rule, t.at) for t in processor.pop_transitions()] == [("raised", 1, S)]
    assert processor.active == (1,)
    processor.update_many(ts + 3 * S, [0.0, 0.0, 0.0])
    assert processor.pop_transitions() == [] and processor.active == (1,)
    processor.update_many([6 * S], [0.0])  # the fifth calm point after the violation
    assert [(t.kind, t.at) for t in processor.pop_transitions()] == [("cleared", 6 * S)]
