"""``werk connect browse opc.tcp://...`` against a real server: a plant-file section that loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from tests.connect.test_opcua import PLANT_HEAD, OpcUaServer, serving
from werk.cli import app
from werk.twin.plant import load_plant


def test_browse_prints_a_plant_file_section(tmp_path: Path) -> None:
    with serving(OpcUaServer()) as server:
        result = CliRunner().invoke(app, ["connect", "browse", server.url])
        assert result.exit_code == 0, result.output
        section = result.stdout
        limited = CliRunner().invoke(app, ["connect", "browse", server.url, "-o", "max_depth=1"])
        assert limited.exit_code == 0, limited.output
        rooted = CliRunner().invoke(
            app, ["connect", "browse", server.url, "-o", "root=ns=2;s=Nope"]
        )
    tables = tomllib.loads(section)["assets"]["Press1"]["signals"]
    assert tables["Temperature"] == {
        "unit": "Cel",  # EngineeringUnits "°C", in UCUM
        "description": "Temperature of Press1",
        "source": {"opcua": "ns=2;s=Press1.Temperature"},
    }
    assert tables["Pressure"]["data_type"] == "float" and tables["Pressure"]["unit"] == "bar"
    assert tables["Strokes"]["data_type"] == "long"
    assert tables["Running"]["data_type"] == "boolean"
    assert tables["Setpoint"]["data_type"] == "short"
    assert tables["Recipe"]["data_type"] == "string"
    assert "Server" not in tomllib.loads(section)["assets"]  # diagnostics are not signals
    assert "Press1" not in limited.stdout  # depth 1: only the Objects folder itself
    assert rooted.exit_code == 1 and "error" in rooted.output

    # Pasted under an asset of a plant file, the section loads.
    body = section.replace("[assets.Press1.", "[assets.press1.")
    plant_path = tmp_path / "plant.toml"
    plant_path.write_text(PLANT_HEAD + "\n" + body, encoding="utf-8")
    plant = load_plant(plant_path)
    (press,) = [a for a in plant.assets if a.id == "press1"]
    assert {s.id for s in press.signals} >= {"press1.Temperature", "press1.Setpoint"}
