"""What every connector is: a URL, the signals bound to it, and a ``run`` loop that delivers.

A connector is chosen by the scheme of its URL (``opc.tcp://``, ``spb://``, ``mqtt://``,
``modbus+tcp://``, ``sim://``) through the :data:`connectors` registry. The composition root gives
it a :class:`ConnectorConfig` — its name, the signals of the plant file whose ``source`` uses its
protocol (:class:`Binding`), and its protocol options from werk.toml — and runs it against an
:class:`~werk.connect.outlet.Outlet`.

Rules for a connector (each protocol lives in its own folder: a pure codec + a thin async shell):

- ``run(outlet)`` runs until cancelled. It connects, reconnects with
  :class:`~werk.connect.backoff.Backoff`, reports its state through ``stats.connected()`` /
  ``stats.disconnected()``, and on a lost connection marks its signals ``BAD`` with
  ``outlet.mark`` once per transition.
- It builds :class:`~werk.core.SampleBatch` es, never one object per sample downstream, and
  acknowledges its device only after ``outlet.deliver`` returned.
- Bad input (malformed payloads, unknown aliases or topics) is counted with ``stats.reject`` and
  skipped; the good data around it goes on. A connector never dies of its input.
- ``write`` (optional) sends a setpoint to the device; the runner calls it for a write command
  published on the bus by the API (operator token, audited there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from werk.connect.outlet import Outlet
from werk.connect.stats import ConnectorStats
from werk.core import Registry, WerkError

# URL scheme -> the plant file's name for the protocol (a signal's ``source = { opcua = ... }``).
PROTOCOL_OF_SCHEME = {
    "opc.tcp": "opcua",
    "spb": "sparkplug",
    "mqtt": "mqtt",
    "modbus+tcp": "modbus",
    "sim": "sim",
}


class ConnectError(WerkError):
    """A connector's configuration or a device refused an operation (a write, a browse)."""


@dataclass(frozen=True, slots=True)
class Binding:
    """A werk signal and where the device has it, in the protocol's own notation."""

    signal: str
    address: str
    data_type: str = "double"
    asset: str = ""


@dataclass(frozen=True)
class ConnectorConfig:
    name: str
    bindings: tuple[Binding, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    def option(self, key: str, default: Any) -> Any:
        return self.options.get(key, default)


@runtime_checkable
class Connector(Protocol):
    name: str
    stats: ConnectorStats

    async def run(self, outlet: Outlet) -> None: ...


@runtime_checkable
class Writable(Protocol):
    async def write(self, binding: Binding, value: float | int | bool | str) -> None: ...


@dataclass(frozen=True, slots=True)
class Discovered:
    """A variable found by browsing a device: what ``werk connect browse`` turns into a
    plant-file section."""

    asset: str
    name: str
    address: str
    data_type: str = "double"
    unit: str | None = None
    description: str = ""


class ConnectorFactory(Protocol):
    def __call__(self, url: str, config: ConnectorConfig) -> Connector: ...


connectors: Registry[Connector] = Registry("connector", "werk.connectors")
connectors.register("opc.tcp", "werk.connect.opcua.connector:OpcUaConnector")
connectors.register("spb", "werk.connect.sparkplug.connector:SparkplugConnector")
connectors.register("mqtt", "werk.connect.mqtt.connector:MqttConnector")
connectors.register("modbus+tcp", "werk.connect.modbus.connector:ModbusConnector")
connectors.register("sim", "werk.sim.virtual:VirtualPlant")
