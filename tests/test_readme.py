"""The README's configuration example is a working werk.toml."""

import re
from pathlib import Path

from werk.settings import load_settings

README = Path(__file__).parents[1] / "README.md"


def test_readme_config_example_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README shows a werk.toml"
    for block in blocks:
        config = tmp_path / "werk.toml"
        config.write_text(block)
        settings = load_settings(config)
        assert settings.catalog()["press1.temperature"].unit == "Cel"
