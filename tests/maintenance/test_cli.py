import json
import sys

import pytest
from typer.testing import CliRunner

from werk.cli import app
from werk.maintenance import simulate_subset
from werk.maintenance.cmapss import load_subset, write_histories

runner = CliRunner()


def _write_cmapss(directory, subset, name="FD001"):
    write_histories(directory / f"train_{name}.txt", subset.train)
    write_histories(directory / f"test_{name}.txt", subset.test)
    (directory / f"RUL_{name}.txt").write_text("\n".join(f"{v:g}" for v in subset.test_rul))


def test_reader_accepts_tabs_and_spaces(tmp_path):
    subset = simulate_subset(3, 2, seed=1)
    _write_cmapss(tmp_path, subset)
    spaced = load_subset(tmp_path, "FD001")
    tabbed = tmp_path / "tabs"
    tabbed.mkdir()
    for part in ("train", "test", "RUL"):
        text = (tmp_path / f"{part}_FD001.txt").read_text().replace(" ", "\t")
        (tabbed / f"{part}_FD001.txt").write_text(text)
    again = load_subset(tabbed, "fd001")
    assert len(again.train) == len(spaced.train) == len(subset.train)
    assert list(again.test_rul) == list(subset.test_rul)


def test_eval_prints_rmse_and_phm08_score(tmp_path, monkeypatch):
    from werk.maintenance import training

    from .conftest import FAST

    monkeypatch.setattr(training, "ModelConfig", lambda **_: FAST)  # quick boosting in tests
    _write_cmapss(tmp_path, simulate_subset(12, 8, seed=4))
    result = runner.invoke(
        app, ["maintenance", "eval", "--dataset", "cmapss", "--data", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "RMSE" in result.output and "PHM08 score" in result.output
    assert "interval coverage" in result.output


def test_train_from_config_then_predict_and_list(tmp_path):
    _write_cmapss(tmp_path, simulate_subset(10, 6, seed=6))
    (tmp_path / "job.toml").write_text(
        '[data]\nformat = "cmapss"\npath = "."\nsubset = "FD001"\n'
        "[model]\nvalidation_fraction = 0.25\n[model.gbm]\nrounds = 40\nseeds = 1\n"
        '[output]\ndirectory = "models/engine"\n'
    )
    trained = runner.invoke(app, ["maintenance", "train", "--config", str(tmp_path / "job.toml")])
    assert trained.exit_code == 0, trained.output
    assert "saved engine/v1" in trained.output
    model = str(tmp_path / "models" / "engine")
    test_file = str(tmp_path / "test_FD001.txt")
    predicted = runner.invoke(app, ["maintenance", "predict", test_file, "-m", model, "--json"])
    assert predicted.exit_code == 0, predicted.output
    rows = json.loads(predicted.output)
    assert len(rows) == 6 and {"health_index", "rul", "rul_lower", "rul_upper"} <= set(rows[0])
    listed = runner.invoke(app, ["maintenance", "models", model])
    assert listed.exit_code == 0 and "v1" in listed.output
    drift = runner.invoke(
        app, ["maintenance", "drift", str(tmp_path / "test_FD001.txt"), "-m", model]
    )
    assert drift.exit_code == 0, drift.output
    assert "PSI" in drift.output


def test_bad_config_is_reported_not_raised(tmp_path):
    (tmp_path / "job.toml").write_text('[data]\nformat = "excel"\n')
    result = runner.invoke(app, ["maintenance", "train", "--config", str(tmp_path / "job.toml")])
    assert result.exit_code == 1
    assert "cmapss or store" in result.output


def test_missing_data_names_where_to_get_it(tmp_path):
    result = runner.invoke(app, ["maintenance", "eval", "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "Prognostics Data Repository" in result.output


def test_eval_trains_the_cnn_when_asked(tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="the 1D-CNN needs werk[deep] (torch==2.13.0)")
    from werk.maintenance import training

    from .test_deep import TINY

    asked = []
    monkeypatch.setattr(training, "ModelConfig", lambda **kw: asked.append(kw) or TINY)
    _write_cmapss(tmp_path, simulate_subset(8, 4, seed=4))
    result = runner.invoke(
        app, ["maintenance", "eval", "--data", str(tmp_path), "--model", "cnn", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert asked == [{"kind": "cnn", "cap": 125.0}]
    figures = json.loads(result.output)
    assert figures["model_kind"] == "cnn" and figures["test_engines"] == 4
    assert figures["train_seconds"] > 0


def test_cnn_without_torch_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    _write_cmapss(tmp_path, simulate_subset(4, 2, seed=4))
    result = runner.invoke(app, ["maintenance", "eval", "--data", str(tmp_path), "-m", "cnn"])
    assert result.exit_code == 1
    assert "werk[deep]" in result.output
