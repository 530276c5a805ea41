import pytest

from werk.core import ConfigError, MissingExtraError, Registry


def test_lazy_registry_opens_by_scheme_and_names_known_schemes():
    registry: Registry[str] = Registry("thing")
    registry.register("echo", lambda url: f"opened {url}")
    registry.register("lazy", "urllib.parse:urlsplit")
    assert registry.open("echo://x") == "opened echo://x"
    assert registry.open("lazy://host/path").hostname == "host"
    with pytest.raises(ConfigError, match=r"unknown thing scheme nope://.*echo://"):
        registry.open("nope://x")
    with pytest.raises(ConfigError, match="no scheme"):
        registry.open("just-a-path")


def test_missing_extra_names_the_extra():
    registry: Registry[object] = Registry("bus")
    registry.register("nats", "nats.definitely_missing_module:connect")
    try:
        import nats  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match=r"werk\[nats\]"):
            registry.open("nats://127.0.0.1")
    else:
        with pytest.raises(ModuleNotFoundError):
            registry.open("nats://127.0.0.1")
