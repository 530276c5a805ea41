"""One typed Settings object, from ``werk.toml`` and ``WERK_`` environment variables.

Read once, in the composition root (``werk.app``); everything else receives plain values through
its constructor. Environment variables override the file; nested fields use ``__``:
``WERK_API__PORT=9090``, ``WERK_STORE__URL=postgresql://127.0.0.1/test``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from werk.core import ConfigError, Signal, SignalCatalog


class _Section(BaseModel):
    # A misspelt key is a mistake to report, not a setting to ignore silently.
    model_config = ConfigDict(extra="forbid")


class StoreSettings(_Section):
    url: str = Field(
        "duckdb:///var/werk.duckdb",
        description="memory://, duckdb:///relative/path.duckdb (four slashes: absolute), "
        "postgresql://user@host:5432/db",
    )
    retention_days: float | None = Field(None, gt=0, description="drop history older than this")


class BusSettings(_Section):
    url: str = Field(
        "memory://",
        description="memory:// (in-process, queue_size: messages a subscriber may fall behind, "
        "e.g. memory://?queue_size=4096); nats:// when scaled out",
    )


class RecorderSettings(_Section):
    max_rows: int = Field(100_000, ge=1, description="commit when this many samples wait")
    max_delay_ms: float = Field(100.0, gt=0, description="... or when the oldest waited this long")


class ApiSettings(_Section):
    host: str = Field("127.0.0.1", description="bind address; 0.0.0.0 exposes werk to the network")
    port: int = Field(8080, ge=0, le=65535)
    tokens_file: str = Field("var/tokens.json", description="hashed API tokens")
    anonymous_read: bool | None = Field(
        None,
        description="allow reads without a token; default: only when bound to loopback",
    )
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(
        6000, ge=1, description="requests per client per minute before 429"
    )
    ingest_timeout_s: float = Field(10.0, gt=0, description="wait for the store to commit")

    @property
    def url(self) -> str:
        """Where a client on this machine reaches the API (a wildcard bind means loopback)."""
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host
        return f"http://{host}:{self.port}"

    @property
    def allows_anonymous_read(self) -> bool:
        if self.anonymous_read is not None:
            return self.anonymous_read
        return self.host in {"127.0.0.1", "localhost", "::1"}


class TwinSettings(_Section):
    directory: str = Field(
        "var/twin", description="where the AAS shells and submodels are kept (writes persist)"
    )


class SpoolSettings(_Section):
    max_mb: float = Field(256.0, gt=0, description="on-disk store-and-forward bound per connector")
    overflow: Literal["drop-oldest", "drop-newest", "block"] = Field(
        "drop-oldest", description="what goes when the spool is full (every loss is counted)"
    )


class ConnectorSettings(_Section):
    url: str = Field(
        description="opc.tcp://host:4840, spb://host:1883 (Sparkplug B), mqtt://host:1883, "
        "modbus+tcp://host:502"
    )
    name: str | None = Field(None, description="default: the URL's scheme and host")
    assets: list[str] | None = Field(
        None, description="bind only these assets' signals (default: every signal of the protocol)"
    )
    max_skew_s: float = Field(
        3600.0, gt=0, description="refuse timestamps further than this from the local clock"
    )
    spool: SpoolSettings = SpoolSettings()
    options: dict[str, Any] = Field(
        default_factory=dict, description="protocol options (see docs/connectivity.md)"
    )

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        parts = urlsplit(self.url)
        return f"{parts.scheme}-{parts.hostname or 'local'}" + (
            f"-{parts.port}" if parts.port else ""
        )


class MaintenanceAssetSettings(_Section):
    asset: str = Field(description="the asset whose remaining life is predicted")
    sensors: dict[str, str] = Field(
        default_factory=dict,
        description="model sensor name = signal id; a sensor not named reads <asset>.<sensor>",
    )
    settings: dict[str, str] = Field(
        default_factory=dict,
        description="model setting name = signal id; a setting not named reads <asset>.<setting>",
    )
    cycle_s: float = Field(3600.0, gt=0, description="one model cycle: signals averaged over it")


class MaintenanceSettings(_Section):
    enabled: bool = Field(False, description="predict remaining useful life (werk[maintenance])")
    model_dir: str = Field(
        "models/rul", description="a saved model: a version directory, or its parent (newest)"
    )
    interval_s: float = Field(60.0, gt=0, description="predict this often (assets with new cycles)")
    work_order_threshold_cycles: float = Field(
        30.0, ge=0, description="suggest a work order when the interval's lower end falls below"
    )
    work_order_duration_s: float = Field(
        4 * 3600.0, gt=0, description="the maintenance window a suggestion asks for"
    )
    tolerance_cycles: float = Field(
        5.0, ge=0, description="a prediction within this of the truth is on time"
    )
    drift_rows: int = Field(200, ge=10, description="recent feature rows compared with training")
    assets: list[MaintenanceAssetSettings] = Field(default_factory=list)


class AnalyticsSettings(_Section):
    enabled: bool = Field(
        True, description="screen data quality and run the detectors (needs werk[analytics])"
    )
    detector: str = Field(
        "robust-z",
        description="univariate detector of every numeric (double) signal that names none; off",
    )
    multivariate: str = Field(
        "off", description="detector over a machine's signals where the plant file names none"
    )
    hold_s: float = Field(
        10.0, gt=0, description="a condition clears after this long without firing"
    )
    clock_skew_s: float = Field(5.0, gt=0, description="timestamps further ahead are flagged")
    spike_k: float = Field(8.0, gt=1, description="a step this many usual steps high is a spike")
    flatline_intervals: float = Field(
        120.0,
        gt=1,
        description="a double signal unchanged for this many expected intervals is a flatline",
    )


class WebhookSettings(_Section):
    url: str = Field(description="http(s):// address that receives alarm transitions as JSON")
    min_priority: Literal["low", "medium", "high", "urgent"] = "high"
    secret: str | None = Field(
        None, description="signs each body (HMAC-SHA256 header); never logged", repr=False
    )
    timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(3, ge=0)


class AlarmSettings(_Section):
    enabled: bool = Field(True, description="turn conditions into alarms (ISA-18.2 lifecycle)")
    on_delay_s: float = Field(
        0.0, ge=0, description="a condition must last this long before its alarm is raised"
    )
    off_delay_s: float = Field(
        5.0, ge=0, description="... and be over this long before the alarm clears (chatter)"
    )
    max_shelve_h: float = Field(8.0, gt=0, description="the longest an alarm may be shelved")
    operators: int = Field(1, ge=1, description="operator positions sharing the alarms (rates)")
    webhooks: list[WebhookSettings] = Field(default_factory=list)


class SimSettings(_Section):
    scenarios: str = Field(
        "scenarios",
        description="folder of what-if scenario files (.toml) offered by the API and dashboard; "
        "werk demo falls back to the demo line's",
    )
    max_replications: int = Field(100, ge=2, le=10_000, description="per what-if request")


class PlanSettings(_Section):
    maintenance: Literal["suggested", "accepted"] = Field(
        "suggested",
        description="suggested: a maintenance.work_order.suggested window enters the plan at "
        "once; accepted: only once it is published as machine.down",
    )


class SignalSettings(_Section):
    id: str
    unit: str = "1"
    description: str = ""
    minimum: float = -math.inf
    maximum: float = math.inf
    asset: str = ""
    expected_interval_s: float | None = None

    def to_signal(self) -> Signal:
        return Signal(**self.model_dump())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WERK_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    store: StoreSettings = StoreSettings()
    bus: BusSettings = BusSettings()
    recorder: RecorderSettings = RecorderSettings()
    api: ApiSettings = ApiSettings()
    twin: TwinSettings = TwinSettings()
    demo: bool = Field(
        False, description="feed the built-in demo line (its own plant file unless plant is set)"
    )
    plant: str | None = Field(
        None, description="plant file (.toml or .yaml), relative to the working directory"
    )
    signals: list[SignalSettings] = Field(default_factory=list)
    connectors: list[ConnectorSettings] = Field(default_factory=list)
    maintenance: MaintenanceSettings = MaintenanceSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    alarms: AlarmSettings = AlarmSettings()
    sim: SimSettings = SimSettings()
    plan: PlanSettings = PlanSettings()
    spool_directory: str = Field(
        "var/spool", description="store-and-forward files, one folder per connector"
    )

    @field_validator("signals")
    @classmethod
    def _unique_ids(cls, value: list[SignalSettings]) -> list[SignalSettings]:
        seen: set[str] = set()
        for s in value:
            if s.id in seen:
                raise ValueError(f"signal {s.id!r} is defined twice")
            seen.add(s.id)
        return value

    @field_validator("connectors")
    @classmethod
    def _unique_connector_names(cls, value: list[ConnectorSettings]) -> list[ConnectorSettings]:
        names = [c.display_name for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"connector name(s) {', '.join(twice)} used twice; give each a name")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file))
        return tuple(sources)

    def catalog(self) -> SignalCatalog:
        return SignalCatalog(s.to_signal() for s in self.signals)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``path`` (a werk.toml; none: defaults), then the environment, then overrides.

    Errors name the file and the field: ``werk.toml: api.port: Input should be ...``.
    """
    source = Path(path) if path else None
    if source is not None and not source.is_file():
        raise ConfigError(f"config file {source} not found")

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=source)

    try:
        loaded = _FileSettings(**overrides)
    except ValidationError as error:
        where = str(source) if source else "settings"
        lines = [
            f"{where}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        ]
        raise ConfigError("\n".join(lines)) from error
    except ValueError as error:  # malformed TOML
        raise ConfigError(f"{source}: {error}") from error
    return Settings.model_validate(loaded.model_dump())
