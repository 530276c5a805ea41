"""Shared fixtures: the example plant and plant files written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from werk.twin.aas import TwinEnvironment, build_environment
from werk.twin.plant import Plant, load_plant

EXAMPLE = Path(__file__).parents[2] / "examples" / "plant.toml"
BASE_URL = "http://127.0.0.1:8080"

MINIMAL = """\
[plant]
id = "p"
name = "P"

[assets.site]
level = "site"

[assets.area]
level = "area"
parent = "site"

[assets.line]
level = "line"
parent = "area"
"""


@pytest.fixture(scope="session")
def example_plant() -> Plant:
    return load_plant(EXAMPLE)


@pytest.fixture(scope="session")
def example_env(example_plant: Plant) -> TwinEnvironment:
    return build_environment(example_plant, base_url=BASE_URL)


@pytest.fixture
def write_plant(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "plant.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
