"""Plant files: the example loads; every mistake is reported with line and field, all at once."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from werk.core import ConfigError
from werk.twin.plant import Plant, SourceBinding, load_plant
from werk.twin.plant_errors import PlantFileError

from .conftest import MINIMAL


def problems(path: Path) -> list[str]:
    with pytest.raises(PlantFileError) as caught:
        load_plant(path)
    assert isinstance(caught.value, ConfigError)
    return [str(p) for p in caught.value.problems]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_example_plant_loads(example_plant: Plant) -> None:
    levels = {a.id: a.level for a in example_plant.assets}
    assert levels["bremen"] == "site" and levels["buffer1"] == "buffer"
    assert [a.id for _, a in example_plant.walk()][:4] == ["bremen", "pressing", "line1", "forming"]
    press = example_plant.asset("press1")
    assert press.parent == "forming" and press.feeds == ("buffer1",)
    assert press.nameplate is not None and press.nameplate.year_of_construction == "2019"
    temperature = press.signals[0]
    assert temperature.id == "press1.temperature"
    assert temperature.source == SourceBinding("opcua", "ns=2;s=Press1.Temperature")
    catalog = example_plant.catalog()
    assert catalog["press1.temperature"].unit == "Cel"
    assert catalog["press1.temperature"].asset == "press1"
    assert catalog["welder1.running"].maximum == math.inf
    assert len(catalog) == 9


def test_every_mistake_is_reported_with_line_and_field(
    write_plant: Callable[..., Path],
) -> None:
    path = write_plant(
        MINIMAL
        + """
[assets.press]
level = "machine"
parent = "site"
feeds = ["pres", "press"]
colour = "red"

[assets.m2]
level = "machien"
parent = "lin"

[assets.m2.signals.temp]
unit = "degC"
minimum = 10
maximum = 5
data_type = "bool"
source = { opcua = "ns=2;s=A" }

[assets.m2.signals.temp2]
unit = "m s"
source = { opcua = "ns=2;s=A" }

[assets.m2.signals.speed]
source = { opcua = "Press.Speed" }

[assets.m2.nameplate]
manufacturer_name = "A"
"""
    )
    found = problems(path)
    expected = {
        "press.parent": ('parent = "site"\n', "a machine cannot sit in site"),
        "press.feeds": ("feeds =", "unknown asset 'pres'; did you mean 'press'?"),
        "press.colour": ("colour", "unknown key 'colour'"),
        "m2.level": ("machien", "did you mean 'machine'?"),
        "m2.parent": ('"lin"', "unknown asset 'lin'; did you mean 'line'?"),
        "m2.signals.temp.unit": ("degC", "'degC' is not a UCUM code; did you mean 'Cel'?"),
        "m2.signals.temp.minimum": ("minimum = 10", "minimum 10 is above maximum 5"),
        "m2.signals.temp.data_type": ('"bool"', "did you mean 'boolean'?"),
        "m2.signals.temp2.unit": ("m s", "a UCUM code has no spaces"),
        "m2.signals.temp2.source": ('source = { opcua = "ns=2;s=A" }\n', "already bound to"),
        "m2.signals.speed.source.opcua": ("Press.Speed", "is not an OPC UA node id"),
        "m2.nameplate.year_of_construction": ("[assets.m2.nameplate]", "is required"),
    }
    for field, (anchor, message) in expected.items():
        text = path.read_text()
        if anchor.endswith("\n"):  # the second of two equal lines
            line = text[: text.rindex(anchor)].count("\n") + 1
        else:
            line = line_of(path, anchor)
        wanted = f"{path}:{line}: assets.{field}: "
        assert any(p.startswith(wanted) and message in p for p in found), (wanted, message, found)
    assert any("'press' cannot feed itself" in p for p in found)
    assert any("give product_family or product_type" in p for p in found)


def test_errors_are_in_file_order_in_one_exception(write_plant: Callable[..., Path]) -> None:
    path = write_plant(
        MINIMAL + '\n[assets.a]\nlevel = "cell"\nparent = "nope"\n[assets.b]\nlevel = "x"\n'
    )
    with pytest.raises(PlantFileError) as caught:
        load_plant(path)
    lines = [p.line for p in caught.value.problems]
    assert lines == sorted(lines) and len(lines) == 2
    assert str(caught.value).startswith("2 problems in plant file")


def test_duplicate_asset_in_toml(write_plant: Callable[..., Path]) -> None:
    path = write_plant(MINIMAL + '\n[assets.site]\nlevel = "site"\n')
    line = path.read_text().splitlines().index("[assets.site]", 5) + 1
    assert problems(path) == [f"{path}:{line}: assets.site: asset id 'site' is defined twice"]


def test_duplicate_signal_ids_and_global_ids(write_plant: Callable[..., Path]) -> None:
    path = write_plant(
        MINIMAL
        + """
[assets.m1]
level = "machine"
parent = "line"
global_asset_id = "urn:x:1"
[assets.m1.signals.a]
id = "shared"
[assets.m2]
level = "machine"
parent = "line"
global_asset_id = "urn:x:1"
[assets.m2.signals.b]
id = "shared"
"""
    )
    found = problems(path)
    assert any(
        "assets.m2.signals.b: signal id 'shared' is already used by assets.m1.signals.a" in p
        for p in found
    )
    assert any(
        "assets.m2.global_asset_id: 'urn:x:1' is already the global asset id of 'm1'" in p
        for p in found
    )


def test_hierarchy_rules_and_cycles(write_plant: Callable[..., Path]) -> None:
    path = write_plant(
        MINIMAL
        + """
[assets.lonely]
level = "area"
[assets.a1]
level = "area"
parent = "a2"
[assets.a2]
level = "area"
parent = "a1"
[assets.c]
level = "cell"
parent = "site"
[assets.m]
level = "machine"
parent = "line"
feeds = ["area"]
"""
    )
    found = "\n".join(problems(path))
    assert "assets.lonely.level: a area needs a parent (site)" in found
    assert "parent cycle: a1 -> a2 -> a1" in found
    assert (
        "assets.c.parent: a cell cannot sit in site 'site' (ISA-95: a cell sits in line)" in found
    )
    assert "material flows between cells and equipment" in found


def test_syntax_error_names_the_line(write_plant: Callable[..., Path]) -> None:
    path = write_plant("[plant]\nid = \n")
    assert problems(path) == [f"{path}:2: not valid TOML: Invalid value"]


def test_yaml_has_the_same_schema_and_line_numbers(write_plant: Callable[..., Path]) -> None:
    path = write_plant(
        """\
plant: {id: y, name: Y}
assets:
  site: {level: site}
  area: {level: area, parent: site}
  line: {level: line, parent: area}
  m1:
    level: machine
    parent: line
    signals:
      temp:
        unit: degC
  line:
    level: line
""",
        name="plant.yaml",
    )
    found = problems(path)
    assert (
        f"{path}:11: assets.m1.signals.temp.unit: 'degC' is not a UCUM code; did you mean 'Cel'?"
        in found
    )
    assert f"{path}:12: assets.line: asset id 'line' is defined twice" in found


def test_yaml_plant_loads(write_plant: Callable[..., Path]) -> None:
    path = write_plant(
        "plant: {id: y, name: Y}\nassets:\n  site: {level: site}\n"
        "  area: {level: area, parent: site}\n"
        "  m: {level: machine, parent: area, signals: {t: {unit: Cel, source: {mqtt: a/b}}}}\n",
        name="plant.yml",
    )
    plant = load_plant(path)
    assert list(plant.catalog()) == ["m.t"]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_plant(tmp_path / "nope.toml")
