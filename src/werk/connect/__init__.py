"""Connectors: OPC UA, Sparkplug B, plain MQTT, Modbus TCP — chosen by URL, nothing lost.

The shared parts live here (see ``base`` for the rules every connector follows): the outlet that
screens input and spools to disk when downstream is away, the stats every connector reports, the
backoff, and the runner that builds connectors from settings and the plant file. Each protocol is
a sub-package with a pure codec and a thin async shell.
"""

from werk.connect.backoff import Backoff
from werk.connect.base import (
    Binding,
    ConnectError,
    Connector,
    ConnectorConfig,
    Discovered,
    Writable,
    connectors,
)
from werk.connect.outlet import Outlet
from werk.connect.spool import Spool
from werk.connect.stats import ConnectorStats

__all__ = [
    "Backoff",
    "Binding",
    "ConnectError",
    "Connector",
    "ConnectorConfig",
    "ConnectorStats",
    "Discovered",
    "Outlet",
    "Spool",
    "Writable",
    "connectors",
]
