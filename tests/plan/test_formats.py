from pathlib import Path

import pytest

from werk.core import ValidationError
from werk.plan import load_problem, problem_from_dict
from werk.plan.bench import BEST_KNOWN, instance_path
from werk.plan.formats import read_benchmark, read_brandimarte, read_orlib, read_taillard

from .conftest import EXAMPLES

ORLIB = """# a comment line
2 3
0 3 1 2 2 2
1 2 0 4 2 1
"""

TAILLARD = """Nb of jobs, Nb of Machines
2 3
Times
3 2 2
2 4 1
Machines
1 2 3
2 1 3
"""

BRANDIMARTE = """2 3 1.5
2 2 1 3 2 4 1 3 2
1 1 2 5
"""


def test_orlib_and_taillard_read_the_same_instance():
    a, b = read_orlib(ORLIB, "x"), read_taillard(TAILLARD, "x")
    for problem in (a, b):
        assert [m.id for m in problem.machines] == ["M1", "M2", "M3"]
        assert [o.id for o in problem.orders] == ["J1", "J2"]
    assert a.orders == b.orders
    first = a.orders[0].operations[0]
    assert first.options[0].machine == "M1" and first.options[0].duration == 3
    assert read_benchmark(ORLIB, "x").orders == a.orders
    assert read_benchmark(TAILLARD, "x").orders == a.orders


def test_brandimarte_reads_alternatives():
    problem = read_brandimarte(BRANDIMARTE, "fx")
    first = problem.orders[0].operations[0]
    assert [(o.machine, o.duration) for o in first.options] == [("M1", 3), ("M2", 4)]
    assert problem.orders[1].operations[0].options[0].machine == "M2"
    assert problem.flexible


def test_bad_benchmark_files_say_what_is_wrong():
    with pytest.raises(ValidationError, match=r"job 1: machine 7 outside 1\.\.3"):
        read_brandimarte("1 3\n1 1 7 5\n", "bad")
    with pytest.raises(ValidationError, match="a Times and a Machines block"):
        read_taillard("2 2\nTimes\n1 2\n", "bad")


@pytest.mark.parametrize("name", sorted(BEST_KNOWN))
def test_every_shipped_instance_loads(name):
    problem = load_problem(instance_path(name))
    assert problem.orders and problem.machines
    sizes = {len(o.operations) for o in problem.orders}
    if name.startswith(("ft", "la", "ta")):
        assert sizes == {len(problem.machines)}


def test_example_plan_configures_variants_calendars_and_csv_orders(bikes):
    orders = {o.id: o for o in bikes.orders}
    assert set(orders) >= {"A-100", "A-103", "A-105", "repair-7"}
    carbon = [op.id for op in orders["A-101"].operations]
    assert "bond" in carbon and "weld" not in carbon
    alu = orders["A-100"]
    assert [op.id for op in alu.operations] == ["cut", "weld", "paint", "assemble"]
    assert alu.operations[2].family == "black"
    # 4 pieces: paint (4 min a piece + 5 per order) x 1.25 for black
    assert alu.operations[2].options[0].duration == 27
    assert alu.due == 8 * 60 and alu.weight == 3
    robot = bikes.machine("robot")
    assert any(w.reason == "service" and w.start == 240 for w in robot.blocked)
    saw = bikes.machine("saw")
    assert any(w.start == 16 * 60 for w in saw.blocked)  # off shift from 22:00
    assert bikes.setup("black", "white") == 30 and bikes.setup("red", "white") == 10
    assert bikes.setup("red", "red") == 0


def test_routing_csv(tmp_path: Path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        "order,operation,machine,duration,family,release,due,priority\n"
        "A,cut,saw1,5,,0,20,2\nA,cut,saw2,6,,,,\nA,paint,booth,4,red,,,\nB,cut,saw1,3,,4,,\n"
    )
    problem = load_problem(path)
    a = problem.order("A")
    assert [(o.machine, o.duration) for o in a.operations[0].options] == [("saw1", 5), ("saw2", 6)]
    assert a.operations[1].family == "red" and a.due == 20 and a.weight == 2
    assert problem.order("B").release == 4


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"orders": [{"id": "X", "product": "nope"}]}, "orders[0].product", "unknown-product"),
        (
            {"orders": [{"id": "X", "product": "bike", "options": {"frame": "wood"}}]},
            "orders[0].options.frame",
            "option-value",
        ),
        ({"orders": [{"id": "X", "product": "bike"}]}, "orders[0].options.frame", "option-missing"),
        ({"orders": [{"id": "X", "due": "tomorrow"}]}, "orders[0].due", "start-required"),
        ({"orders": [{"id": "X", "colour": 1}]}, "orders[0].colour", "unknown-field"),
    ],
)
def test_plan_errors_name_the_field_and_rule(change, field, rule):
    raw = {
        "products": [
            {
                "id": "bike",
                "options": {"frame": ["steel"]},
                "steps": [{"id": "cut", "machines": {"saw": 1}}],
            }
        ],
        "machines": ["saw"],
        **change,
    }
    with pytest.raises(ValidationError) as caught:
        problem_from_dict(raw)
    assert caught.value.field == field and caught.value.rule == rule


def test_timestamps_need_a_start_and_become_units():
    problem = problem_from_dict(
        {
            "start": "2027-03-01T06:00:00Z",
            "machines": ["saw"],
            "orders": [
                {
                    "id": "A",
                    "release": "2027-03-01T07:00:00Z",
                    "due": "2027-03-01T08:30:00Z",
                    "operations": [{"machines": {"saw": 5}}],
                }
            ],
        }
    )
    order = problem.orders[0]
    assert (order.release, order.due, problem.unit_s) == (60, 150, 60.0)
    assert problem.to_ns(60) == problem.start_ns + 3600 * 10**9


def test_example_files_exist():
    assert (EXAMPLES / "bikes.toml").is_file() and (EXAMPLES / "bikes-orders.csv").is_file()
