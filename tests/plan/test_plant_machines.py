"""Plans on the plant's machines: steps name assets of the plant file, which work to the calendars
they inherit; the plan's own [[machines]] override them; a request cannot name a file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from tests.api.conftest import Api, api_client, make_settings
from werk.api.tokens import Role
from werk.cli import app
from werk.core import ValidationError
from werk.plan import Infeasible, check, load_problem, problem_from_dict, solve_heuristic
from werk.twin.plant import Plant, parse_plant

from .checker import violations

PLANT = """\
[plant]
id = "shop"
name = "Shop"

[assets.site]
level = "site"

[assets.hall]
level = "area"
parent = "site"

[assets.line1]
level = "line"
parent = "hall"

[assets.line1.calendar]
shifts = [["06:00", "14:00"], ["14:00", "22:00"]]
days = ["mon", "tue", "wed", "thu", "fri"]
timezone = "Europe/Berlin"

[assets.cell1]
level = "cell"
parent = "line1"

[assets.saw]
level = "machine"
parent = "line1"
name = "Band saw"

[assets.weld]
level = "machine"
parent = "cell1"

[assets.oven]
level = "machine"
parent = "line1"

[assets.oven.calendar]
shifts = [["00:00", "24:00"]]

[assets.buf]
level = "buffer"
parent = "line1"
"""

BERLIN = ZoneInfo("Europe/Berlin")
START = "2027-03-05T06:00:00Z"  # a Friday, 07:00 in Berlin: the weekend comes soon


def plan(**extra: Any) -> dict[str, Any]:
    """Frames cut (1 h), welded (1.5 h) and baked (2 h): the slower steps pile up work."""
    return {
        "name": "frames",
        "start": START,
        "unit": "1min",
        "horizon": "14d",
        "products": [
            {
                "id": "frame",
                "options": {},
                "steps": [
                    {"id": "cut", "machines": {"saw": 60}},
                    {"id": "weld", "machines": {"weld": 90}},
                    {"id": "bake", "machines": {"oven": 120}},
                ],
            }
        ],
        "orders": [{"id": f"F{i}", "product": "frame", "quantity": 1} for i in range(40)],
        **extra,
    }


@pytest.fixture
def plant() -> Plant:
    return parse_plant(PLANT)


def on_shift(start_ns: int, end_ns: int) -> bool:
    """Independently of werk's layout: within 06:00-22:00 Berlin time on one weekday."""
    begin = datetime.fromtimestamp(start_ns / 1e9, tz=UTC).astimezone(BERLIN)
    end = datetime.fromtimestamp(end_ns / 1e9, tz=UTC).astimezone(BERLIN)
    same_day = begin.date() == end.date()
    return (
        same_day and begin.weekday() < 5 and begin.hour >= 6 and (end.hour, end.minute) <= (22, 0)
    )


def test_steps_run_on_the_plant_machines_only_when_their_calendar_says(plant: Plant) -> None:
    problem = problem_from_dict(plan(), plant=plant)
    assert [m.id for m in problem.machines] == ["saw", "weld", "oven"]
    assert problem.machine("saw").name == "Band saw"
    assert problem.machine("oven").blocked == ()  # its own calendar: round the clock
    schedule = solve_heuristic(problem)
    assert violations(problem, schedule) == []
    ns = {a.key: (problem.to_ns(a.start), problem.to_ns(a.end)) for a in schedule.assignments}
    worked = [a for a in schedule.assignments if a.machine in {"saw", "weld"}]
    assert all(on_shift(*ns[a.key]) for a in worked)
    # the weekend was reached, and the oven (its own calendar) baked through it
    weekend = [
        a
        for a in schedule.assignments
        if datetime.fromtimestamp(ns[a.key][0] / 1e9, tz=UTC).astimezone(BERLIN).weekday() >= 5
    ]
    assert weekend and {a.machine for a in weekend} == {"oven"}


def test_a_listed_machine_overrides_the_plant_and_may_add_maintenance(plant: Plant) -> None:
    listed = [
        {"id": "weld", "shifts": [["00:00", "24:00"]]},
        {
            "id": "saw",
            "maintenance": [
                {"start": "2027-03-08T08:00:00Z", "end": "2027-03-08T10:00:00Z", "reason": "blade"}
            ],
        },
    ]
    problem = problem_from_dict(plan(machines=listed), plant=plant)
    assert [m.id for m in problem.machines] == ["weld", "saw", "oven"]
    assert problem.machine("weld").blocked == ()  # its own shifts replace line1's calendar
    saw = problem.machine("saw")
    assert saw.name == "Band saw"  # the plant's name, the plant's calendar ...
    reasons = {w.reason for w in saw.blocked}
    assert reasons == {"off shift", "blade"}  # ... and the plan's maintenance on top
    blade = next(w for w in saw.blocked if w.reason == "blade")
    assert problem.to_ns(blade.start) == problem.to_ns(0) + (3 * 24 + 2) * 3600 * 10**9
    schedule = solve_heuristic(problem)
    assert violations(problem, schedule) == []
    weekend_welds = [
        a
        for a in schedule.assignments
        if a.machine == "weld"
        and datetime.fromtimestamp(problem.to_ns(a.start) / 1e9, tz=UTC).weekday() >= 5
    ]
    assert weekend_welds  # the override let it work through the weekend


def test_a_machine_in_neither_the_plan_nor_the_plant_is_explained(plant: Plant) -> None:
    raw = plan()
    raw["products"][0]["steps"].append({"id": "polish", "machines": {"polisher": 5}})
    problem = problem_from_dict(raw, plant=plant)
    issues = [i for i in check(problem) if i.severity == "error"]
    assert issues and issues[0].rule == "no-machine" and issues[0].operation == "polish"
    assert "'polisher' is not a machine" in issues[0].message
    with pytest.raises(Infeasible):
        solve_heuristic(problem)


@pytest.mark.parametrize(("asset", "level"), [("line1", "line"), ("buf", "buffer")])
def test_a_step_on_an_asset_that_is_not_a_machine_says_its_level(
    plant: Plant, asset: str, level: str
) -> None:
    raw = plan()
    raw["orders"] = [{"id": "X", "operations": [{"id": "cut", "machines": {asset: 5}}]}]
    with pytest.raises(ValidationError) as caught:
        problem_from_dict(raw, plant=plant)
    error = caught.value
    assert error.rule == "not-a-machine" and error.field == "orders[0].operations[0]"
    assert f"{asset!r} is a {level} of plant 'shop', not a machine" in str(error)
    assert "step 'cut'" in str(error)


def test_calendars_need_the_plans_start(plant: Plant) -> None:
    raw = plan()
    del raw["start"], raw["unit"], raw["horizon"]
    with pytest.raises(ValidationError) as caught:
        problem_from_dict(raw, plant=plant)
    assert caught.value.rule == "start-required"


def write_files(tmp_path: Path, **extra: Any) -> Path:
    import json

    (tmp_path / "shop").mkdir(exist_ok=True)
    (tmp_path / "shop" / "plant.toml").write_text(PLANT)
    path = tmp_path / "frames.json"
    path.write_text(json.dumps(plan(**extra)))
    return path


def test_a_plan_file_names_its_plant_relative_to_itself(tmp_path: Path) -> None:
    path = write_files(tmp_path, plant="shop/plant.toml")
    problem = load_problem(path)
    assert {m.id for m in problem.machines} == {"saw", "weld", "oven"}
    assert problem.machine("saw").blocked
    broken = write_files(tmp_path, plant="shop/missing.toml")
    with pytest.raises(ValidationError) as caught:
        load_problem(broken)
    assert caught.value.field == "plant" and "file not found" in str(caught.value)


def test_cli_takes_the_plant_from_plant_or_the_plan(tmp_path: Path) -> None:
    runner = CliRunner()
    bare = write_files(tmp_path)
    assert runner.invoke(app, ["plan", "check", str(bare)]).exit_code == 2  # machines unknown
    plant_file = str(tmp_path / "shop" / "plant.toml")
    result = runner.invoke(app, ["plan", "check", str(bare), "--plant", plant_file])
    assert result.exit_code == 0, result.output
    assert "3 machines" in result.output
    named = write_files(tmp_path, plant="shop/plant.toml")
    result = runner.invoke(app, ["plan", "solve", str(named), "--heuristic-only"])
    assert result.exit_code == 0, result.output
    simulate = ["plan", "simulate", str(bare), "--plant", plant_file, "--heuristic-only"]
    simulated = runner.invoke(app, [*simulate, "--replications", "5"])
    assert simulated.exit_code == 0, simulated.output
    assert "makespan" in simulated.output


async def test_the_api_plans_on_the_running_plant_and_reads_no_files(tmp_path: Path) -> None:
    plant_file = tmp_path / "plant.toml"
    plant_file.write_text(PLANT)
    settings = make_settings(tmp_path).model_copy(update={"plant": str(plant_file)})
    async with api_client(settings) as parts:
        api = Api(*parts)
        operator = api.auth(Role.operator)
        body = {"problem": plan(), "heuristic_only": True}
        solved = await api.client.post("/api/v1/plan/solve", json=body, headers=operator)
        assert solved.status_code == 200, solved.text
        rows = solved.json()["schedule"]["assignments"]
        assert {r["machine"] for r in rows} == {"saw", "weld", "oven"}
        assert all(on_shift(r["start_ns"], r["end_ns"]) for r in rows if r["machine"] != "oven")
        for key, value in (("plant", str(plant_file)), ("orders_csv", "/etc/passwd")):
            refused = await api.client.post(
                "/api/v1/plan/check",
                json={"problem": plan(**{key: value})},
                headers=api.auth(Role.viewer),
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["rule"] == "no-server-files"
            assert refused.json()["field"] == f"problem.{key}"


def test_a_plan_machine_takes_the_same_calendar_keys() -> None:
    raw = plan()
    raw["machines"] = [
        {"id": m, "shifts": [["06:00", "22:00"]], "days": ["Mon", "tue"], "timezone": "Asia/Tokyo"}
        for m in ("saw", "weld", "oven")
    ]
    problem = problem_from_dict(raw)
    opens = [w.end for w in problem.machine("saw").blocked]
    # Tokyo 06:00 is 21:00 UTC the day before; Friday the 5th is not a working day
    assert problem.to_ns(opens[0]) == int(datetime(2027, 3, 7, 21, tzinfo=UTC).timestamp()) * 10**9
    raw["machines"] = [{"id": "saw", "timezone": "Asia/Tokyo"}]
    with pytest.raises(ValidationError) as caught:
        problem_from_dict(raw)
    assert caught.value.field == "machines[0].timezone"
