"""Behaviour of the line model beyond the queueing formulas: variants, setups, CONWIP, CRN."""

from __future__ import annotations

import pytest

from werk.sim.experiment import Estimate, compare, replicate
from werk.sim.model import run_replication
from werk.sim.scenario import scenario_from_dict


def _line(**release):
    return scenario_from_dict(
        {
            "run": {"duration": "20h", "warmup": "1h", "seed": 4},
            "release": release or {"policy": "saturated"},
            "variants": {"a": {"weight": 1}, "b": {"weight": 1, "routing": ["m1"]}},
            "stations": {
                "m1": {
                    "cycle_time": {"dist": "gamma", "mean_s": 50, "cv": 0.3},
                    "setup": "5min",
                    "variants": {"b": {"cycle_time": 40}},
                },
                "m2": {"cycle_time": {"dist": "exponential", "mean_s": 45}, "input_capacity": 3},
            },
        }
    )


def test_setups_happen_on_variant_changes_only():
    one_by_one = run_replication(_line(), 0)
    assert one_by_one["m1.setup"] > 0.2  # half of the parts change the variant
    in_lots = run_replication(_line(policy="saturated", batch=50), 0)
    assert in_lots["m1.setup"] < 0.1  # 5 min in about half of the 40-min lots
    assert in_lots["throughput_per_h"] > one_by_one["throughput_per_h"]
    assert in_lots["m2.utilisation"] < 0.75  # variant b skips m2


def test_conwip_caps_wip():
    kpis = run_replication(_line(policy="conwip", wip=3), 0)
    assert kpis["wip"] == pytest.approx(3.0)  # saturated: always at the cap
    assert kpis["throughput_per_h"] > 0


def test_same_seed_same_numbers_and_replications_differ():
    scenario = _line()
    assert run_replication(scenario, 2) == run_replication(scenario, 2)
    assert run_replication(scenario, 2) != run_replication(scenario, 3)


def test_compare_is_paired_on_common_random_numbers():
    a = replicate(_line(), 5)
    b = replicate(_line(policy="saturated", batch=50), 5)
    differences = {d.kpi: d for d in compare(a, b)}
    gain = differences["throughput_per_h"]
    assert gain.estimate.mean > 0 and gain.significant
    same = {d.kpi: d for d in compare(a, replicate(_line(), 5))}
    assert same["throughput_per_h"].estimate.mean == 0
    assert same["throughput_per_h"].p_value == 1.0


def test_bottleneck_ranking_finds_the_slow_station():
    scenario = scenario_from_dict(
        {
            "run": {"duration": "10h", "seed": 1},
            "stations": {
                "fast": {"cycle_time": {"dist": "exponential", "mean_s": 30}},
                "slow": {"cycle_time": {"dist": "exponential", "mean_s": 45}, "input_capacity": 5},
                "end": {"cycle_time": {"dist": "exponential", "mean_s": 30}, "input_capacity": 5},
            },
        }
    )
    results = replicate(scenario, 4)
    ranking = results.bottlenecks()
    assert ranking[0][0] == "slow" and ranking[0][1] >= 0.75


def test_confidence_interval_uses_student_t():
    estimate = Estimate.of([1.0, 2.0, 3.0])
    assert estimate.mean == 2.0
    assert estimate.half_width == pytest.approx(4.302653 * 1.0 / 3**0.5, rel=1e-5)
