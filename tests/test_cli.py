from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.servers import free_port, werk_process
from werk import __version__
from werk.api.tokens import Role, TokenStore
from werk.cli import app, sparkline

runner = CliRunner()

CSV = """signal,timestamp,value,quality
a,2026-11-24T10:00:00Z,1.5,good
a,2026-11-24T10:00:01Z,nan,good
zz,2026-11-24T10:00:02Z,1,good
b,2026-11-24T10:00:00Z,2,good
b,2026-11-24T10:00:00Z,3,good
a,2026-11-24T10:00:03Z,500,good
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "werk.toml").write_text(
        '[store]\nurl = "duckdb:///var/werk.duckdb"\n'
        f'[api]\nport = {free_port()}\ntokens_file = "var/tokens.json"\n'
        '[[signals]]\nid = "a"\nunit = "Cel"\nmaximum = 100\n'
        '[[signals]]\nid = "b"\n'
    )
    (tmp_path / "h.csv").write_text(CSV)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_token_lifecycle(project: Path):
    created = runner.invoke(app, ["token", "create", "--role", "engineer", "--name", "anna"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    info = TokenStore(project / "var" / "tokens.json").verify(token)
    assert info is not None and info.role == Role.engineer and info.name == "anna"
    assert token not in (project / "var" / "tokens.json").read_text()
    listed = runner.invoke(app, ["token", "list"])
    assert info.id in listed.output and "engineer" in listed.output and token not in listed.output
    assert runner.invoke(app, ["token", "revoke", info.id]).exit_code == 0
    assert TokenStore(project / "var" / "tokens.json").verify(token) is None
    assert runner.invoke(app, ["token", "revoke", info.id]).exit_code == 1
    bad = runner.invoke(app, ["token", "create", "--role", "god"])
    assert bad.exit_code == 1


def test_import_keeps_good_rows_and_reports_bad_ones(project: Path):
    result = runner.invoke(app, ["import", "h.csv"])
    assert result.exit_code == 0, result.output
    assert "3 stored" in result.output and "3 rejected" in result.output
    for rule in ("not-finite", "unknown-signal", "duplicate-timestamp"):
        assert rule in result.output
    assert "1 stored but flagged uncertain" in result.output  # 500 is above a's maximum
    # no werk answers on the configured port, so query reads the store itself
    raw = runner.invoke(
        app,
        [
            "query",
            "a",
            "--raw",
            "--since",
            "2026-11-24T09:00:00Z",
            "--until",
            "2026-11-24T11:00:00Z",
        ],
    )
    assert raw.exit_code == 0, raw.output
    assert "1.5" in raw.output and "500" in raw.output and "uncertain" in raw.output


def test_query_shows_a_bad_sample_without_a_value(project: Path):
    (project / "bad.csv").write_text(
        "signal,timestamp,value,quality\na,2026-11-24T10:00:00Z,,bad\na,2026-11-24T10:00:01Z,4,good\n"
    )
    assert runner.invoke(app, ["import", "bad.csv"]).exit_code == 0
    window = ["--since", "2026-11-24T09:00:00Z", "--until", "2026-11-24T11:00:00Z"]
    raw = runner.invoke(app, ["query", "a", "--raw", *window])
    assert raw.exit_code == 0, raw.output
    assert "—" in raw.output and "bad" in raw.output and "4" in raw.output


def test_import_of_nothing_good_fails(project: Path):
    (project / "bad.csv").write_text("signal,timestamp,value\nzz,2026-11-24T10:00:00Z,1\n")
    result = runner.invoke(app, ["import", "bad.csv"])
    assert result.exit_code == 2
    missing = runner.invoke(app, ["import", "nope.csv"])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_query_rejects_bad_input(project: Path):
    result = runner.invoke(app, ["query", "a", "--since", "yesterday"])
    assert result.exit_code == 1 and "bad" in result.output


def test_import_and_query_through_a_running_werk(project: Path, monkeypatch: pytest.MonkeyPatch):
    port = free_port()
    monkeypatch.setenv("WERK_API__PORT", str(port))  # the server process inherits it
    tokens = TokenStore(project / "var" / "tokens.json")
    operator, viewer = tokens.create(Role.operator, "o")[1], tokens.create(Role.viewer, "v")[1]
    with werk_process(["serve", "--config", "werk.toml"], project, port) as url:
        imported = runner.invoke(app, ["import", "h.csv", "--api", url, "--token", operator])
        assert imported.exit_code == 0, imported.output
        assert "3 stored" in imported.output and "3 rejected" in imported.output
        rollup = runner.invoke(
            app,
            ["query", "a", "--api", url, "--since", "2026-11-24T09:59:00Z",
             "--until", "2026-11-24T10:01:00Z", "--bucket", "1m"],
        )  # fmt: skip
        assert rollup.exit_code == 0, rollup.output
        # the one bucket: 500 is above a's maximum of 100, so the data-quality screen stored it
        # BAD and the rollup (good and uncertain samples) holds 1.5 alone
        assert "2026-11-24 10:00:00" in rollup.output
        assert "│ 1.5 │ 1.5  │ 1.5 │ 1.5  │ 1     │" in rollup.output
        refused = runner.invoke(app, ["import", "h.csv", "--api", url, "--token", viewer])
        assert refused.exit_code == 1 and "403" in refused.output


def test_sparkline_scales_to_range():
    assert sparkline([0.0, 1.0, 2.0, float("nan")]) == "▁▅█ "
    assert sparkline([5.0, 5.0]) == "▁▁"
    assert sparkline([None, 1.0]) == " ▁"
    assert sparkline([]) == ""


def test_an_error_prints_install_hints_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    from werk.cli.output import fail

    exit_ = fail("install it: pip install 'werk[mqtt]'", code=3)
    assert exit_.exit_code == 3
    assert "pip install 'werk[mqtt]'" in capsys.readouterr().err  # not eaten as rich markup
