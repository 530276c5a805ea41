"""The digital twin: the plant file, its Asset Administration Shells, their files and live state.

- ``plant``       the plant file: ISA-95 assets, nameplates, signals, relations (validated)
- ``aas``         the AAS environment built from a plant (basyx objects)
- ``files``       AASX / JSON / XML import (strict or failsafe) and export
- ``repository``  shells and submodels held in memory and persisted, for the AAS API
- ``state``       the latest value of every signal, and whether it is stale

Importing ``werk.twin`` stays light: the names below load their module (and basyx) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LiveState": "werk.twin.state",
    "watch_freshness": "werk.twin.state",
    "Plant": "werk.twin.plant",
    "load_plant": "werk.twin.plant",
    "parse_plant": "werk.twin.plant",
    "PlantFileError": "werk.twin.plant_errors",
    "TwinEnvironment": "werk.twin.aas",
    "build_environment": "werk.twin.aas",
    "live_bindings": "werk.twin.aas",
    "export_environment": "werk.twin.files",
    "import_environment": "werk.twin.files",
    "ImportResult": "werk.twin.files",
    "TwinImportError": "werk.twin.files",
    "TwinRepository": "werk.twin.repository",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'werk.twin' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
