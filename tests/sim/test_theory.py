"""The line model against queueing theory: the replications' 95 % CI holds the closed form.

Seeds are fixed, so each check is deterministic; with a correct model each would hold for about
95 % of seeds, and the chosen run lengths make the intervals tight enough to catch real errors
(a 5 % bias in WIP or lead time falls outside them).
"""

from __future__ import annotations

from typing import Any

import pytest

from werk.sim.experiment import Results, replicate
from werk.sim.scenario import scenario_from_dict


def _exp(mean_s: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_s": mean_s}


def _run(data: dict[str, Any], replications: int) -> Results:
    return replicate(scenario_from_dict(data), replications, jobs=1)


def _assert_in_ci(results: Results, kpi: str, expected: float) -> None:
    estimate = results.estimate(kpi)
    assert estimate.contains(expected), f"{kpi}: {estimate} does not hold {expected}"
    assert estimate.half_width < 0.1 * abs(expected), f"{kpi}: CI too wide to mean much"


def test_mm1_matches_throughput_wip_and_lead_time():
    # λ = 0.8/s, μ = 1/s: ρ = 0.8, L = ρ/(1-ρ) = 4, W = L/λ = 5 s (Little), X = λ
    results = _run(
        {
            "run": {"duration": 15_000, "warmup": 1_500, "seed": 11},
            "release": {"policy": "push", "interarrival": _exp(1.25)},
            "stations": {"server": {"cycle_time": _exp(1.0)}},
        },
        12,
    )
    _assert_in_ci(results, "throughput_per_h", 0.8 * 3600)
    _assert_in_ci(results, "wip", 4.0)
    _assert_in_ci(results, "lead_time_s", 5.0)
    _assert_in_ci(results, "server.utilisation", 0.8)
    # Little's law between the model's own, independently measured figures
    wip, lead, rate = (results.values(k) for k in ("wip", "lead_time_s", "throughput_per_h"))
    assert abs((wip - lead * rate / 3600).mean()) < 0.05


def test_tandem_line_is_two_mm1_queues():
    # Jackson: λ = 0.5, μ1 = 1, μ2 = 1/1.2 -> ρ = 0.5, 0.6; L = 1 + 1.5 = 2.5; W = L/λ = 5 s
    results = _run(
        {
            "run": {"duration": 20_000, "warmup": 1_000, "seed": 5},
            "release": {"policy": "push", "interarrival": _exp(2.0)},
            "stations": {"m1": {"cycle_time": _exp(1.0)}, "m2": {"cycle_time": _exp(1.2)}},
        },
        10,
    )
    _assert_in_ci(results, "throughput_per_h", 0.5 * 3600)
    _assert_in_ci(results, "wip", 2.5)
    _assert_in_ci(results, "lead_time_s", 5.0)
    _assert_in_ci(results, "m1.utilisation", 0.5)
    _assert_in_ci(results, "m2.utilisation", 0.6)


def _two_stations_with_buffer(capacity: int) -> dict[str, Any]:
    return {
        "run": {"duration": 10_000, "warmup": 500, "seed": 2},
        "stations": {
            "m1": {"cycle_time": _exp(1.0)},
            "m2": {"cycle_time": _exp(1.0), "input_capacity": capacity},
        },
    }


def test_finite_buffer_blocks_as_theory_says():
    # Saturated line of two exponential stations (μ = 1), blocking after service, one buffer
    # place: a birth-death chain over 4 equally likely states, X = μ (B+2)/(B+3) = 3/4.
    small = _run(_two_stations_with_buffer(1), 6)
    _assert_in_ci(small, "throughput_per_h", 0.75 * 3600)
    assert small.estimate("m1.blocked").mean == pytest.approx(0.25, abs=0.02)
    large = _run(_two_stations_with_buffer(10), 6)
    assert large.estimate("throughput_per_h").low > small.estimate("throughput_per_h").high
    _assert_in_ci(large, "throughput_per_h", 12 / 13 * 3600)


def test_failures_cost_availability_and_scrap_costs_quality():
    # Operation-dependent failures: availability = MTTF / (MTTF + MTTR) = 2 h / 2.5 h = 0.8;
    # quality = 1 - scrap - rework = 0.85; performance = 1 (cycle time equals the ideal)
    results = _run(
        {
            "run": {"duration": "150h", "seed": 3},
            "stations": {
                "press": {
                    "cycle_time": 60,
                    "mttf_h": 2,
                    "mttr_min": 30,
                    "scrap_rate": 0.1,
                    "rework_rate": 0.05,
                }
            },
        },
        8,
    )
    for kpi in ("press.availability", "press.technical_availability"):
        _assert_in_ci(results, kpi, 0.8)
    _assert_in_ci(results, "press.quality", 0.85)
    # (a cycle under way at the end has its time booked but is not counted: a hair under 1)
    assert results.estimate("press.performance").mean == pytest.approx(1.0, abs=1e-3)
    _assert_in_ci(results, "press.oee", 0.8 * 0.85)
    # 60 cycles an hour while up; a reworked part takes another cycle: good parts = 0.85 cycles
    _assert_in_ci(results, "throughput_per_h", 0.8 * 60 * 0.85)


def test_shifts_and_breaks_take_time_out():
    results = _run(
        {
            "run": {"duration": "24h", "seed": 1},
            "calendar": {
                "start": "00:00",
                "shifts": [{"start": "06:00", "end": "14:00"}],
                "breaks": [{"start": "10:00", "duration": "1h"}],
            },
            "stations": {"m": {"cycle_time": 60}},
        },
        2,
    )
    # 7 working hours of 24, one part a minute
    assert results.estimate("throughput_per_h").mean * 24 == pytest.approx(7 * 60, abs=2)
    assert results.estimate("m.off_shift").mean == pytest.approx(17 / 24, abs=0.01)
    assert results.estimate("m.availability").mean == pytest.approx(1.0, abs=0.01)
