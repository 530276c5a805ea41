"""Scenario files: the plant supplies the flow, the scenario the behaviour; mistakes name file and
field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from werk.sim.distributions import SpecError, parse_distribution
from werk.sim.errors import ScenarioError
from werk.sim.scenario import load_scenario, scenario_from_dict

EXAMPLES = Path(__file__).parents[2] / "examples" / "sim"


def test_example_scenario_takes_the_flow_and_buffer_from_the_plant():
    scenario = load_scenario(EXAMPLES / "line1.toml")
    assert [s.id for s in scenario.stations] == ["press1", "welder1"]
    welder = scenario.station("welder1")
    assert welder.input_capacity == 40  # buffer1 between press1 and welder1
    assert welder.name == "Welding robot 1"
    assert scenario.station("press1").time_to_failure.mean == pytest.approx(6 * 3600)
    assert [v.id for v in scenario.variants] == ["plain", "reinforced"]
    assert scenario.calendar is not None and scenario.calendar.working_share() == pytest.approx(
        15 / 24
    )
    small = load_scenario(EXAMPLES / "line1_small_buffer.toml")
    assert small.station("welder1").input_capacity == 5


@pytest.mark.parametrize(
    ("spec", "mean"),
    [
        (42, 42.0),
        ("5min", 300.0),
        ({"dist": "lognormal", "mean_s": 42, "cv": 0.1}, 42.0),
        ({"dist": "gamma", "mean_min": 2, "sd_s": 30}, 120.0),
        ({"dist": "weibull", "shape": 1.5, "mean_h": 1}, 3600.0),
        ({"dist": "triangular", "low_s": 1, "mode_s": 2, "high_s": 6}, 3.0),
        ({"dist": "uniform", "low_s": 1, "high_s": 3}, 2.0),
        ({"dist": "normal", "mean_s": 10, "cv": 0.1}, 10.0),
        ({"dist": "empirical", "values_s": [1, 2, 3]}, 2.0),
    ],
)
def test_distributions_draw_their_mean(spec, mean):
    distribution = parse_distribution(spec)
    assert distribution.mean == pytest.approx(mean)
    draws = distribution.draw(np.random.default_rng(1), 200_000)
    assert draws.min() >= 0
    assert draws.mean() == pytest.approx(mean, rel=0.01)


def test_distribution_errors_name_the_parameter():
    with pytest.raises(SpecError) as error:
        parse_distribution({"dist": "lognormal", "mean": 4, "cv": 0.1})
    assert error.value.field == "mean"
    assert "_s, _min or _h" in str(error.value)


def _problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    return str(error.value)


def test_errors_name_file_and_field_all_at_once(tmp_path):
    message = _problems(
        tmp_path,
        """
[run]
duraton = "8h"
replications = 1

[stations.press]
cycle_time = { dist = "lognormal", mean_s = -3, cv = 0.1 }
mttf_h = 4

[stations.welder]
cycle_time = { dist = "gamma", mean_s = 3 }
scrap_rate = 1.5
""",
    )
    assert "3 problems" not in message  # there are more
    for expected in (
        "bad.toml: run.duraton: unknown key; did you mean 'duration'?",
        "bad.toml: run.replications: must be a whole number >= 2",
        "bad.toml: stations.press.cycle_time.mean: must be > 0",
        "bad.toml: stations.press: failures need both",
        "bad.toml: stations.welder.cycle_time: gamma takes (mean, cv) or (mean, sd)",
        "bad.toml: stations.welder.scrap_rate: must be a share in [0, 1)",
    ):
        assert expected in message


def test_errors_against_the_plant(tmp_path):
    plant = (Path(__file__).parents[2] / "examples" / "plant.toml").resolve()
    message = _problems(
        tmp_path,
        f"""
[scenario]
plant = "{plant}"
line = "line1"

[stations.press1]
cycle_time = 40

[stations.presss2]
cycle_time = 40

[variants.a]
routing = ["press", "welder1"]
""",
    )
    assert "bad.toml: stations.presss2: 'presss2' is not a machine of the line" in message
    assert "bad.toml: stations.welder1.cycle_time: missing" in message
    assert "bad.toml: variants.a.routing: 'press' is not a station; did you mean 'press1'?" in (
        message
    )


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ScenarioError, match=r"nope\.toml: file not found"):
        load_scenario(tmp_path / "nope.toml")
    assert "not valid TOML" in _problems(tmp_path, "[run\n")


def test_release_policies_are_checked():
    with pytest.raises(ScenarioError, match=r"release\.interarrival: push needs"):
        scenario_from_dict({"release": {"policy": "push"}, "stations": {"m": {"cycle_time": 1}}})
    with pytest.raises(ScenarioError, match=r"release\.wip: conwip needs"):
        scenario_from_dict({"release": {"policy": "conwip"}, "stations": {"m": {"cycle_time": 1}}})
