import pytest

from werk.core import ConfigError
from werk.settings import Settings, load_settings


def test_defaults_are_safe():
    settings = Settings()
    assert settings.api.host == "127.0.0.1"
    assert settings.api.allows_anonymous_read
    assert not Settings(api={"host": "0.0.0.0"}).api.allows_anonymous_read
    assert Settings(api={"host": "0.0.0.0", "anonymous_read": True}).api.allows_anonymous_read


def test_file_then_environment(tmp_path, monkeypatch):
    config = tmp_path / "werk.toml"
    config.write_text(
        '[api]\nport = 9000\n[store]\nurl = "memory://"\n'
        '[[signals]]\nid = "press1.temperature"\nunit = "Cel"\nmaximum = 150\n'
    )
    monkeypatch.setenv("WERK_API__PORT", "9100")
    settings = load_settings(config)
    assert settings.api.port == 9100  # the environment wins over the file
    assert settings.store.url == "memory://"
    assert settings.catalog()["press1.temperature"].maximum == 150


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[api]\nport = -1\n", "api.port"),
        ("[api]\nprot = 1\n", "api.prot"),
        ('[[signals]]\nid = "a"\n[[signals]]\nid = "a"\n', "defined twice"),
        ("[api\n", "werk.toml"),
    ],
)
def test_errors_name_file_and_field(tmp_path, text, message):
    config = tmp_path / "werk.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_api_url_for_local_clients():
    assert Settings(api={"port": 9000}).api.url == "http://127.0.0.1:9000"
    assert Settings(api={"host": "0.0.0.0", "port": 1}).api.url == "http://127.0.0.1:1"
    assert Settings(api={"host": "10.0.0.5", "port": 1}).api.url == "http://10.0.0.5:1"
