"""The curated public API of werk.twin, and that importing it does not load basyx."""

import subprocess
import sys

import werk.twin

EXPECTED = {
    "ImportResult", "LiveState", "Plant", "PlantFileError", "TwinEnvironment", "TwinImportError",
    "TwinRepository", "build_environment", "export_environment", "import_environment",
    "live_bindings", "load_plant", "parse_plant", "watch_freshness",
}  # fmt: skip


def test_exported_members():
    assert set(werk.twin.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(werk.twin, name).__name__ == name


def test_import_is_light():
    code = "import sys, werk.twin, werk.twin.state; print('basyx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
