"""The annotated example configuration loads and states the real defaults."""

from pathlib import Path

from werk.settings import ConnectorSettings, Settings, load_settings

EXAMPLE = Path(__file__).parents[1] / "examples" / "werk.toml"


def test_example_config_loads_with_its_signals():
    settings = load_settings(EXAMPLE)
    assert [s.id for s in settings.signals] == ["press1.temperature", "press1.pressure"]
    assert settings.catalog()["press1.temperature"].unit == "Cel"


def test_example_config_states_the_defaults():
    example = load_settings(EXAMPLE).model_dump(exclude={"signals", "connectors"})
    assert example == Settings().model_dump(exclude={"signals", "connectors"})


def test_example_connector_states_the_connector_defaults():
    (connector,) = load_settings(EXAMPLE).connectors
    defaults = ConnectorSettings(url=connector.url, name=connector.name)
    assert connector.model_dump(exclude={"options"}) == defaults.model_dump(exclude={"options"})
    assert connector.display_name == "press-line"
