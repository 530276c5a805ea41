import json
from pathlib import Path

from typer.testing import CliRunner

from werk.cli import app
from werk.plan import load_problem, solve_heuristic, write_gantt

from .conftest import EXAMPLES

runner = CliRunner()


def test_solve_writes_json_and_gantt(tmp_path: Path):
    out, chart = tmp_path / "s.json", tmp_path / "g.html"
    result = runner.invoke(
        app,
        [
            "plan",
            "solve",
            str(EXAMPLES / "bikes.toml"),
            "--objective",
            "mix",
            "--time-limit",
            "2",
            "--gantt",
            str(chart),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "mix" in result.output and "warm start" in result.output
    body = json.loads(out.read_text())
    assert body["objective_name"] == "mix" and body["kpis"]["makespan"] > 0
    assert body["assignments"][0]["start_ns"] > 0
    page = chart.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "A-100" in page


def test_solve_heuristic_only_on_a_benchmark(tmp_path: Path):
    instance = Path(__file__).parents[2] / "src/werk/plan/instances/ft06.txt"
    result = runner.invoke(app, ["plan", "solve", str(instance), "--heuristic-only"])
    assert result.exit_code == 0, result.output
    assert "heuristic" in result.output and "makespan" in result.output


def test_check_explains_and_exits_2(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "machines": ["saw"],
                "orders": [
                    {"id": "O1", "release": 9, "due": 3, "operations": [{"machines": {"saw": 1}}]},
                    {"id": "O2", "operations": [{"id": "glaze", "machines": {"kiln": 3}}]},
                ],
            }
        )
    )
    result = runner.invoke(app, ["plan", "check", str(bad)])
    assert result.exit_code == 2
    assert "due-before-release" in result.output and "glaze" in result.output
    solved = runner.invoke(app, ["plan", "solve", str(bad), "--heuristic-only"])
    assert solved.exit_code == 2 and "cannot be scheduled" in solved.output
    good = runner.invoke(app, ["plan", "check", str(EXAMPLES / "bikes.toml")])
    assert good.exit_code == 0 and "no problems found" in good.output


def test_bad_input_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[orders]]\nid = "A"\nproduct = "bike"\n')
    result = runner.invoke(app, ["plan", "solve", str(bad)])
    assert result.exit_code == 1 and "unknown product 'bike'" in result.output


def test_bench_prints_werk_and_plain_side_by_side(tmp_path: Path):
    out = tmp_path / "bench.json"
    result = runner.invoke(
        app, ["plan", "bench", "-i", "ft06,la01", "--time-limit", "3", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["instance"] for r in rows] == ["ft06", "la01"]
    for row in rows:
        assert row["werk"]["objective"] == row["best_known"] == row["plain"]["objective"]
        assert row["werk"]["status"] == "optimal"


def test_gantt_png_and_svg(tmp_path: Path, bikes):
    schedule = solve_heuristic(bikes)
    png = write_gantt(tmp_path / "g.png", bikes, schedule)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = write_gantt(tmp_path / "g.svg", bikes, schedule).read_text()
    assert svg.startswith("<svg") and "robot: service" in svg and "changeover" in svg
    page = write_gantt(tmp_path / "g.html", bikes, schedule).read_text()
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no CDN


def test_example_problem_loads():
    assert load_problem(EXAMPLES / "bikes.toml").name == "bikes"
