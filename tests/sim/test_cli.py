"""``werk sim run`` and ``werk sim compare`` on the example scenarios."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from werk.cli import app

EXAMPLES = Path(__file__).parents[2] / "examples" / "sim"
runner = CliRunner()


def test_sim_run_on_two_processes_writes_json(tmp_path):
    out = tmp_path / "results.json"
    result = runner.invoke(
        app,
        ["sim", "run", str(EXAMPLES / "line1.toml"), "-n", "4", "--jobs", "2", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "line1: 4 replications of 8 h" in result.output
    assert "throughput (good parts/h)" in result.output
    data = json.loads(out.read_text())
    assert data["replications"] == 4
    assert set(data["stations"]) == {"press1", "welder1"}
    assert data["line"]["throughput_per_h"]["mean"] > 0
    assert {row["station"] for row in data["bottlenecks"]} == {"press1", "welder1"}


def test_sim_compare_prints_difference_and_p_value():
    result = runner.invoke(
        app,
        [
            "sim",
            "compare",
            str(EXAMPLES / "line1.toml"),
            str(EXAMPLES / "line1_small_buffer.toml"),
            "-n",
            "3",
            "--jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "line1 vs line1-small-buffer" in result.output
    assert "throughput_per_h" in result.output
    assert "paired t-test" in result.output


def test_sim_run_reports_scenario_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[stations.m]\ncycle_time = { dist = 'exp', mean_s = 3 }\n")
    result = runner.invoke(app, ["sim", "run", str(bad)])
    assert result.exit_code == 1
    assert "bad.toml: stations.m.cycle_time.dist: unknown distribution 'exp'" in result.output


def test_cluster_without_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if werk[dask] were absent
    result = runner.invoke(
        app, ["sim", "run", str(EXAMPLES / "line1.toml"), "-n", "2", "--cluster", "tcp://x:1"]
    )
    assert result.exit_code == 1
    assert "pip install 'werk[dask]'" in result.output


def test_replications_on_a_dask_cluster_equal_those_run_here() -> None:
    from dask.distributed import LocalCluster

    from werk.sim.experiment import replicate
    from werk.sim.scenario import load_scenario

    scenario = load_scenario(EXAMPLES / "line1.toml")
    here = replicate(scenario, 3, seed=5, jobs=1)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        there = replicate(scenario, 3, seed=5, cluster=cluster.scheduler_address)
    assert there.replications == here.replications  # same seeds, same numbers, wherever they ran
