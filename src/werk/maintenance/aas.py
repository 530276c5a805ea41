"""The Maintenance submodel: an asset's health and remaining life in its AAS.

One submodel per asset, id ``urn:werk:<plant>:sm:<asset>:Maintenance`` (the twin's naming), with
werk's semantic id ``https://werk.dev/aas/Maintenance/1/0``; no IDTA template covers predicted
remaining life yet. Its properties:

================== ========== ==========================================================
HealthIndex        xs:double  1 as good as new, 0 failure due (remaining life / cap)
RemainingUsefulLife xs:double predicted remaining life, in the model's cycles
RulLower, RulUpper xs:double  the interval it lies in with the model's coverage
RulUnit            xs:string  what a cycle is (``cycle``, or a duration such as ``3600 s``)
ModelVersion       xs:string  the saved model that predicted it (``turbofan/v3``)
LastUpdate         xs:dateTime when it was predicted (UTC)
================== ========== ==========================================================

:func:`publish_maintenance` puts it in a :class:`~werk.twin.repository.TwinRepository` and
makes sure the asset's shell references it, so the AAS API serves it beside the other submodels.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from basyx.aas import model

from werk.core import to_datetime

if TYPE_CHECKING:
    from werk.twin.repository import Stored, TwinRepository

log = logging.getLogger(__name__)

MAINTENANCE = "https://werk.dev/aas/Maintenance/1/0"
SUBMODEL_NAME = "Maintenance"
_PROPERTIES = (
    "HealthIndex",
    "RemainingUsefulLife",
    "RulLower",
    "RulUpper",
    "RulUnit",
    "ModelVersion",
    "LastUpdate",
)


@dataclass(frozen=True, slots=True)
class MaintenanceState:
    """What the submodel says about one asset."""

    health_index: float
    rul: float
    rul_lower: float
    rul_upper: float
    model_version: str
    updated_ns: int
    rul_unit: str = "cycle"

    @classmethod
    def from_event_data(cls, data: dict[str, Any], timestamp: int) -> MaintenanceState:
        return cls(
            health_index=float(data["health_index"]),
            rul=float(data["rul"]),
            rul_lower=float(data["rul_lower"]),
            rul_upper=float(data["rul_upper"]),
            model_version=str(data.get("model_version", "")),
            updated_ns=timestamp,
            rul_unit=str(data.get("rul_unit", "cycle")),
        )


def maintenance_submodel_id(plant_id: str, asset_id: str) -> str:
    return f"urn:werk:{plant_id}:sm:{asset_id}:{SUBMODEL_NAME}"


def maintenance_shell_id(plant_id: str, asset_id: str) -> str:
    return f"urn:werk:{plant_id}:aas:{asset_id}"


def _ref(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def maintenance_submodel(submodel_id: str, state: MaintenanceState) -> model.Submodel:
    """The basyx submodel of ``state``."""
    double = model.datatypes.Double
    text = model.datatypes.String
    updated = to_datetime(state.updated_ns).replace(tzinfo=datetime.UTC)
    values: list[tuple[str, type, Any]] = [
        ("HealthIndex", double, round(float(state.health_index), 4)),
        ("RemainingUsefulLife", double, round(float(state.rul), 3)),
        ("RulLower", double, round(float(state.rul_lower), 3)),
        ("RulUpper", double, round(float(state.rul_upper), 3)),
        ("RulUnit", text, state.rul_unit),
        ("ModelVersion", text, state.model_version or "unknown"),
        ("LastUpdate", model.datatypes.DateTime, updated),
    ]
    elements = [
        model.Property(
            name,
            value_type,
            value,
            semantic_id=_ref(f"{MAINTENANCE}/{name}"),
            category="VARIABLE",
        )
        for name, value_type, value in values
    ]
    return model.Submodel(
        id_=submodel_id,
        id_short=SUBMODEL_NAME,
        semantic_id=_ref(MAINTENANCE),
        submodel_element=elements,
        kind=model.ModellingKind.INSTANCE,
    )


def read_state(data: dict[str, Any]) -> dict[str, Any]:
    """The property values of a stored Maintenance submodel (canonical JSON), by idShort."""
    return {
        element["idShort"]: element.get("value")
        for element in data.get("submodelElements", [])
        if element.get("idShort") in _PROPERTIES
    }


def publish_maintenance(
    repository: TwinRepository, plant_id: str, asset_id: str, state: MaintenanceState
) -> Stored:
    """Create or replace the asset's Maintenance submodel and reference it from its shell.

    Blocking (the repository writes to disk): call it from a worker thread in async code. An
    asset without a shell still gets the submodel, reachable by id.
    """
    from werk.twin.repository import Kind

    submodel_id = maintenance_submodel_id(plant_id, asset_id)
    stored, created = repository.put(maintenance_submodel(submodel_id, state))
    shell_id = maintenance_shell_id(plant_id, asset_id)
    shell = repository.get(Kind.SHELL, shell_id)
    if shell is None:
        if created:
            log.info("maintenance: no shell %s to reference %s from", shell_id, submodel_id)
        return stored
    if not _references(shell.data, submodel_id):
        repository.update(Kind.SHELL, shell_id, lambda data: _add_reference(data, submodel_id))
    return stored


def _references(shell: dict[str, Any], submodel_id: str) -> bool:
    return any(
        key.get("value") == submodel_id
        for reference in shell.get("submodels", [])
        for key in reference.get("keys", [])
    )


def _add_reference(shell: dict[str, Any], submodel_id: str) -> dict[str, Any]:
    reference = {"type": "ModelReference", "keys": [{"type": "Submodel", "value": submodel_id}]}
    shell.setdefault("submodels", []).append(reference)
    return shell
