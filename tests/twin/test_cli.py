"""`werk twin`: check, show, export and import from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from werk.cli import app

from .conftest import EXAMPLE

runner = CliRunner()


def test_check_and_show(tmp_path: Path) -> None:
    result = runner.invoke(app, ["twin", "check", str(EXAMPLE)])
    assert result.exit_code == 0 and "valid, 8 assets, 9 signals" in result.stdout
    result = runner.invoke(app, ["twin", "show", "--plant", str(EXAMPLE)])
    assert result.exit_code == 0 and "press1.temperature" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[plant]\nid = "x"\nname = "x"\n[assets.s]\nlevel = "sight"\n')
    result = runner.invoke(app, ["twin", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:5: assets.s.level: unknown level 'sight'" in result.output


def test_export_then_import_into_the_repository(tmp_path: Path) -> None:
    target = tmp_path / "plant.aasx"
    result = runner.invoke(
        app, ["twin", "export", "-p", str(EXAMPLE), "-o", str(target), "--base-url", "http://x"]
    )
    assert result.exit_code == 0, result.output
    assert "8 shells, 20 submodels, 1 supplementary files" in result.stdout
    result = runner.invoke(app, ["twin", "check", str(target)])
    assert result.exit_code == 0 and "8 shells" in result.stdout
    repository = tmp_path / "twin"
    result = runner.invoke(
        app, ["twin", "import", str(target), "--strict", "--twin-dir", str(repository)]
    )
    assert result.exit_code == 0, result.output
    assert len(list((repository / "shells").glob("*.json"))) == 8
    assert len(list((repository / "submodels").glob("*.json"))) == 20


def test_strict_import_refuses_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"submodels": [{"modelType": "Submodel", "id": "urn:x", "idShort": "1x"}]}')
    result = runner.invoke(
        app, ["twin", "import", str(bad), "--strict", "-o", str(tmp_path / "out.json")]
    )
    assert result.exit_code == 2
    assert "AASd-002" in result.output
    result = runner.invoke(
        app, ["twin", "import", str(bad), "--failsafe", "-o", str(tmp_path / "out.json")]
    )
    assert result.exit_code == 2 and "nothing to import" in result.output
