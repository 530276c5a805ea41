"""A small plant twin as AAS JSON: two machines, each with a nameplate, technical data and an
operational data submodel whose Properties are bound to signals (werk's signal qualifier).

It stands in for the plant export in the tests and covers the element kinds a plant uses:
Property, MultiLanguageProperty, Range, File, Blob, ReferenceElement, SubmodelElementCollection,
SubmodelElementList and Entity.
"""

from __future__ import annotations

from typing import Any

from werk.api.aas import SIGNAL_QUALIFIER

BASE = "https://plant.example/werk"


def _ref(kind: str, value: str, reference_type: str = "ModelReference") -> dict[str, Any]:
    return {"type": reference_type, "keys": [{"type": kind, "value": value}]}


def _semantic(iri: str) -> dict[str, Any]:
    return _ref("GlobalReference", iri, "ExternalReference")


def _property(id_short: str, value_type: str, value: str | None = None, **extra: Any) -> dict:
    prop: dict[str, Any] = {"modelType": "Property", "idShort": id_short, "valueType": value_type}
    if value is not None:
        prop["value"] = value
    prop.update(extra)
    return prop


def _bound(id_short: str, signal: str, unit: str, value_type: str = "xs:double") -> dict:
    return _property(
        id_short,
        value_type,
        description=[{"language": "en", "text": f"live value of {signal} [{unit}]"}],
        qualifiers=[
            {
                "type": SIGNAL_QUALIFIER,
                "valueType": "xs:string",
                "value": signal,
                "kind": "ValueQualifier",
            }
        ],
    )


def machine(name: str, serial: str, signals: list[tuple[str, str, str, str]]) -> list[dict]:
    """A shell and its three submodels for one machine; signals: (idShort, id, unit, type)."""
    aas_id = f"{BASE}/aas/{name}"
    nameplate_id = f"{BASE}/sm/{name}/Nameplate"
    technical_id = f"{BASE}/sm/{name}/TechnicalData"
    operational_id = f"{BASE}/sm/{name}/OperationalData"
    shell = {
        "modelType": "AssetAdministrationShell",
        "id": aas_id,
        "idShort": name.capitalize(),
        "assetInformation": {
            "assetKind": "Instance",
            "globalAssetId": f"{BASE}/asset/{name}",
            "specificAssetIds": [{"name": "serialNumber", "value": serial}],
        },
        "submodels": [_ref("Submodel", i) for i in (nameplate_id, technical_id, operational_id)],
    }
    nameplate = {
        "modelType": "Submodel",
        "id": nameplate_id,
        "idShort": "Nameplate",
        "kind": "Instance",
        "semanticId": _semantic("https://admin-shell.io/zvei/nameplate/2/0/Nameplate"),
        "submodelElements": [
            {
                "modelType": "MultiLanguageProperty",
                "idShort": "ManufacturerName",
                "value": [{"language": "en", "text": "werk demo works"}],
            },
            _property("SerialNumber", "xs:string", serial),
            _property("YearOfConstruction", "xs:integer", "2024"),
            {
                "modelType": "SubmodelElementCollection",
                "idShort": "Address",
                "value": [
                    _property("Street", "xs:string", "Hauptstrasse 1"),
                    _property("City", "xs:string", "Aachen"),
                ],
            },
            {
                "modelType": "File",
                "idShort": "Manual",
                "contentType": "application/pdf",
                "value": f"https://plant.example/manuals/{name}.pdf",
            },
            {
                "modelType": "Blob",
                "idShort": "Logo",
                "contentType": "text/plain",
                "value": "d2Vyaw==",
            },
        ],
    }
    technical = {
        "modelType": "Submodel",
        "id": technical_id,
        "idShort": "TechnicalData",
        "kind": "Instance",
        "submodelElements": [
            {
                "modelType": "Range",
                "idShort": "OperatingTemperature",
                "valueType": "xs:double",
                "min": "5",
                "max": "45",
            },
            _property("RatedPower", "xs:double", "7.5"),
            {
                "modelType": "SubmodelElementList",
                "idShort": "Stations",
                "typeValueListElement": "Property",
                "valueTypeListElement": "xs:string",
                "value": [
                    {"modelType": "Property", "valueType": "xs:string", "value": "load"},
                    {"modelType": "Property", "valueType": "xs:string", "value": "unload"},
                ],
            },
            {
                "modelType": "Entity",
                "idShort": "Motor",
                "entityType": "SelfManagedEntity",
                "globalAssetId": f"{BASE}/asset/{name}/motor",
                "statements": [_property("Power", "xs:double", "5.5")],
            },
            {
                "modelType": "ReferenceElement",
                "idShort": "Operational",
                "value": _ref("Submodel", operational_id),
            },
        ],
    }
    operational = {
        "modelType": "Submodel",
        "id": operational_id,
        "idShort": "OperationalData",
        "kind": "Instance",
        "submodelElements": [_bound(s, signal, unit, t) for s, signal, unit, t in signals],
    }
    return [shell, nameplate, technical, operational]


def environment() -> dict[str, Any]:
    press = machine(
        "press",
        "P-0001",
        [
            ("Temperature", "press.temp", "Cel", "xs:double"),
            ("Pressure", "press.pressure", "bar", "xs:double"),
            ("Strokes", "press.strokes", "1", "xs:int"),
            ("Running", "press.running", "1", "xs:boolean"),
        ],
    )
    conveyor = machine("conveyor", "C-0042", [("Speed", "line.speed", "m/min", "xs:double")])
    everything = press + conveyor
    return {
        "assetAdministrationShells": [o for o in everything if o["modelType"].startswith("Asset")],
        "submodels": [o for o in everything if o["modelType"] == "Submodel"],
        "conceptDescriptions": [
            {
                "modelType": "ConceptDescription",
                "id": f"{BASE}/cd/Temperature",
                "idShort": "Temperature",
            }
        ],
    }
