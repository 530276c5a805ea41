"""A test-sized version of the 1,000-asset benchmark: 200 assets round-trip AASX without loss."""

from __future__ import annotations

import sys
from pathlib import Path

from werk.twin.aas import build_environment
from werk.twin.files import canonical_json, export_environment, import_environment
from werk.twin.plant import load_plant

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from twin_load import plant_text


def test_200_assets_round_trip_aasx(tmp_path: Path) -> None:
    plant_file = tmp_path / "plant.toml"
    plant_file.write_text(plant_text(200, 20))
    plant = load_plant(plant_file)
    assert len(plant.assets) == 200
    env = build_environment(plant, base_url="http://127.0.0.1:8080")
    aasx = export_environment(env, tmp_path / "plant.aasx")
    result = import_environment(aasx, strict=True)
    assert result.report == []
    assert canonical_json(result.env) == canonical_json(env)
