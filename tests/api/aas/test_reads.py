"""Reads of the AAS API: repositories, paging, base64url ids, modifiers, level and extent."""

from __future__ import annotations

import base64
import io
import json

from basyx.aas.adapter.xml import read_aas_xml_file

from tests.api.aas.conftest import (
    CONVEYOR,
    NAMEPLATE,
    OPERATIONAL,
    PRESS,
    TECHNICAL,
    TwinApi,
    url,
)
from werk.twin.repository import Kind, b64url_encode


def assert_result_error(response, status: int) -> dict:
    """The spec's Result shape: messages with type, code, text and a UTC timestamp."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"messages"}
    (message,) = body["messages"]
    assert message["messageType"] == "Error"
    assert message["code"] == str(status)
    assert message["text"]
    assert message["timestamp"].endswith("Z")
    return message


async def test_shells_are_paged_with_cursors(aas: TwinApi):
    first = (await aas.client.get(url("shells"), params={"limit": 1})).json()
    assert [s["id"] for s in first["result"]] == [CONVEYOR]
    cursor = first["paging_metadata"]["cursor"]
    second = (await aas.client.get(url("shells"), params={"limit": 1, "cursor": cursor})).json()
    assert [s["id"] for s in second["result"]] == [PRESS]
    assert second["paging_metadata"] == {}  # no cursor: the last page
    everything = (await aas.client.get(url("shells"))).json()
    assert [s["id"] for s in everything["result"]] == [CONVEYOR, PRESS]


async def test_a_cursor_survives_deleting_the_item_it_points_at(aas: TwinApi):
    first = (await aas.client.get(url("submodels"), params={"limit": 2})).json()
    cursor = first["paging_metadata"]["cursor"]
    page = (await aas.client.get(url("submodels"), params={"cursor": cursor})).json()
    following = [s["id"] for s in page["result"]]
    aas.twin.delete(Kind.SUBMODEL, following[0])
    after = (await aas.client.get(url("submodels"), params={"cursor": cursor})).json()
    assert [s["id"] for s in after["result"]] == following[1:]


async def test_bad_paging_parameters_are_400_results(aas: TwinApi):
    for params in ({"limit": 0}, {"limit": -1}, {"limit": "many"}, {"cursor": "!!"}):
        assert_result_error(await aas.client.get(url("shells"), params=params), 400)
    for params in ({"level": "shallow"}, {"extent": "all"}):
        response = await aas.client.get(url("submodels", NAMEPLATE), params=params)
        assert_result_error(response, 400)


async def test_ids_are_base64url_with_or_without_padding(aas: TwinApi):
    raw = base64.urlsafe_b64encode(TECHNICAL.encode()).decode()
    assert raw.endswith("==")
    for encoded in (raw, raw.rstrip("=")):
        response = await aas.client.get(f"/api/v3.0/submodels/{encoded}")
        assert response.status_code == 200
        assert response.json()["id"] == TECHNICAL
    message = assert_result_error(
        await aas.client.get("/api/v3.0/shells/invalid-base64url====="), 400
    )
    assert "base64url" in message["text"]
    assert_result_error(await aas.client.get(url("shells", "https://nowhere.example/x")), 404)


async def test_shells_filter_by_id_short_and_asset_id(aas: TwinApi):
    found = (await aas.client.get(url("shells"), params={"idShort": "Press"})).json()["result"]
    assert [s["id"] for s in found] == [PRESS]
    asset = b64url_encode(json.dumps({"name": "serialNumber", "value": "C-0042"}))
    found = (await aas.client.get(url("shells"), params={"assetIds": asset})).json()["result"]
    assert [s["id"] for s in found] == [CONVEYOR]
    references = (await aas.client.get(url("shells", "$reference"))).json()["result"]
    assert references[1] == {
        "type": "ModelReference",
        "keys": [{"type": "AssetAdministrationShell", "value": PRESS}],
    }
    assert_result_error(await aas.client.get(url("shells"), params={"assetIds": "e30"}), 400)


async def test_shell_parts(aas: TwinApi):
    info = (await aas.client.get(url("shells", PRESS, "asset-information"))).json()
    assert info["globalAssetId"] == "https://plant.example/werk/asset/press"
    refs = (await aas.client.get(url("shells", PRESS, "submodel-refs"))).json()
    assert [r["keys"][0]["value"] for r in refs["result"]] == [NAMEPLATE, TECHNICAL, OPERATIONAL]
    via_shell = await aas.client.get(url("shells", PRESS, "submodels", NAMEPLATE))
    assert via_shell.json()["id"] == NAMEPLATE
    other = url("shells", CONVEYOR, "submodels", NAMEPLATE)
    assert_result_error(await aas.client.get(other), 404)  # not the conveyor's submodel
    assert_result_error(
        await aas.client.get(url("shells", PRESS, "asset-information", "thumbnail")), 404
    )


async def test_submodel_modifiers(aas: TwinApi):
    base = url("submodels", NAMEPLATE)
    metadata = (await aas.client.get(f"{base}/$metadata")).json()
    assert metadata["id"] == NAMEPLATE and "submodelElements" not in metadata
    value = (await aas.client.get(f"{base}/$value")).json()
    assert value["SerialNumber"] == "P-0001"
    assert value["YearOfConstruction"] == 2024  # xs:integer as a JSON number
    assert value["ManufacturerName"] == [{"en": "werk demo works"}]
    assert value["Address"] == {"Street": "Hauptstrasse 1", "City": "Aachen"}
    reference = (await aas.client.get(f"{base}/$reference")).json()
    assert reference["keys"] == [{"type": "Submodel", "value": NAMEPLATE}]
    paths = (await aas.client.get(f"{base}/$path")).json()
    assert "Address.City" in paths and "SerialNumber" in paths
    core_paths = (await aas.client.get(f"{base}/$path", params={"level": "core"})).json()
    assert "Address" in core_paths and "Address.City" not in core_paths


async def test_level_core_cuts_grandchildren_and_blobs_need_asking(aas: TwinApi):
    base = url("submodels", NAMEPLATE)
    deep = (await aas.client.get(base)).json()
    address = next(e for e in deep["submodelElements"] if e["idShort"] == "Address")
    assert len(address["value"]) == 2
    core = (await aas.client.get(base, params={"level": "core"})).json()
    address = next(e for e in core["submodelElements"] if e["idShort"] == "Address")
    assert "value" not in address
    logo = next(e for e in deep["submodelElements"] if e["idShort"] == "Logo")
    assert "value" not in logo  # extent=withoutBlobValue is the default
    full = (await aas.client.get(base, params={"extent": "withBlobValue"})).json()
    logo = next(e for e in full["submodelElements"] if e["idShort"] == "Logo")
    assert logo["value"] == "d2Vyaw=="
    attachment = await aas.client.get(f"{base}/submodel-elements/Logo/attachment")
    assert attachment.content == b"werk" and attachment.headers["content-type"] == "text/plain"


async def test_submodel_repository_lists_and_filters(aas: TwinApi):
    everything = (await aas.client.get(url("submodels"))).json()["result"]
    assert len(everything) == 6
    semantic = b64url_encode("https://admin-shell.io/zvei/nameplate/2/0/Nameplate")
    plates = (await aas.client.get(url("submodels"), params={"semanticId": semantic})).json()
    assert {s["idShort"] for s in plates["result"]} == {"Nameplate"}
    assert len(plates["result"]) == 2
    named = await aas.client.get(url("submodels"), params={"idShort": "TechnicalData"})
    assert len(named.json()["result"]) == 2
    for modifier in ("$metadata", "$value", "$reference", "$path"):
        page = (await aas.client.get(url("submodels", modifier), params={"limit": 2})).json()
        assert len(page["result"]) == 2 and page["paging_metadata"]["cursor"], modifier


async def test_elements_by_id_short_path(aas: TwinApi):
    base = url("submodels", TECHNICAL, "submodel-elements")
    item = (await aas.client.get(f"{base}/Stations[1]")).json()
    assert item["value"] == "unload"
    assert (await aas.client.get(f"{base}/Stations/$value")).json() == {
        "Stations": ["load", "unload"]
    }
    assert (await aas.client.get(f"{base}/Stations[0]/$value")).json() == "load"
    assert (await aas.client.get(f"{base}/Stations/$path")).json() == [
        "Stations",
        "Stations[0]",
        "Stations[1]",
    ]
    assert (await aas.client.get(f"{base}/OperatingTemperature/$value")).json() == {
        "OperatingTemperature": {"min": 5.0, "max": 45.0}
    }
    reference = (await aas.client.get(f"{base}/Motor.Power/$reference")).json()
    assert reference["keys"] == [
        {"type": "Submodel", "value": TECHNICAL},
        {"type": "Entity", "value": "Motor"},
        {"type": "Property", "value": "Power"},
    ]
    metadata = (await aas.client.get(f"{base}/RatedPower/$metadata")).json()
    assert metadata["valueType"] == "xs:double" and "value" not in metadata
    assert_result_error(await aas.client.get(f"{base}/RatedPower/$path"), 400)
    assert_result_error(await aas.client.get(f"{base}/Nope"), 404)
    assert_result_error(await aas.client.get(f"{base}/Stations[7]"), 404)
    assert_result_error(await aas.client.get(f"{base}/Motor..Power"), 400)
    listed = (await aas.client.get(base, params={"limit": 2})).json()
    assert [e["idShort"] for e in listed["result"]] == ["OperatingTemperature", "RatedPower"]
    rest = await aas.client.get(base, params={"cursor": listed["paging_metadata"]["cursor"]})
    assert [e["idShort"] for e in rest.json()["result"]] == ["Stations", "Motor", "Operational"]


async def test_serialization_json_and_xml(aas: TwinApi):
    everything = (await aas.client.get(url("serialization"))).json()
    assert len(everything["assetAdministrationShells"]) == 2
    assert len(everything["submodels"]) == 6
    assert len(everything["conceptDescriptions"]) == 1
    chosen = await aas.client.get(
        url("serialization"),
        params={
            "aasIds": b64url_encode(PRESS),
            "submodelIds": b64url_encode(NAMEPLATE),
            "includeConceptDescriptions": "false",
        },
    )
    assert chosen.json().keys() == {"assetAdministrationShells", "submodels"}
    assert [s["id"] for s in chosen.json()["submodels"]] == [NAMEPLATE]
    xml = await aas.client.get(url("serialization"), headers={"Accept": "application/xml"})
    assert xml.headers["content-type"] == "application/xml"
    store = read_aas_xml_file(io.BytesIO(xml.content), failsafe=False)
    assert len(store) == 9
    assert_result_error(
        await aas.client.get(url("serialization"), params={"includeConceptDescriptions": "x"}),
        400,
    )
    assert_result_error(
        await aas.client.get(url("serialization"), headers={"Accept": "image/png"}), 406
    )


async def test_description_names_the_profiles(aas: TwinApi):
    profiles = (await aas.client.get(url("description"))).json()["profiles"]
    assert (
        "https://admin-shell.io/aas/API/3/0/SubmodelRepositoryServiceSpecification/SSP-002"
        in profiles
    )


async def test_registry_and_discovery_view_point_at_werk(aas: TwinApi):
    listed = (await aas.client.get(url("shell-descriptors"))).json()["result"]
    press = next(d for d in listed if d["id"] == PRESS)
    (endpoint,) = press["endpoints"]
    assert endpoint["interface"] == "AAS-3.0"
    assert endpoint["protocolInformation"]["href"] == (
        f"http://werk.test/api/v3.0/shells/{b64url_encode(PRESS)}"
    )
    submodels = {d["id"]: d for d in press["submodelDescriptors"]}
    assert submodels.keys() == {NAMEPLATE, TECHNICAL, OPERATIONAL}
    href = submodels[NAMEPLATE]["endpoints"][0]["protocolInformation"]["href"]
    fetched = await aas.client.get(href)  # the endpoint answers
    assert fetched.json()["idShort"] == "Nameplate"
    one = (await aas.client.get(url("shell-descriptors", PRESS))).json()
    assert one == press
    asset = b64url_encode(json.dumps({"name": "globalAssetId", "value": one["globalAssetId"]}))
    found = (await aas.client.get(url("lookup", "shells"), params={"assetIds": asset})).json()
    assert found["result"] == [PRESS]
    ids = (await aas.client.get(url("lookup", "shells", PRESS))).json()
    assert {"name": "serialNumber", "value": "P-0001"} in ids
    refused = await aas.client.post(url("shell-descriptors"), json={"id": "x"})
    assert_result_error(refused, 405)
    sm = (await aas.client.get(url("submodel-descriptors", NAMEPLATE))).json()
    assert sm["endpoints"][0]["interface"] == "SUBMODEL-3.0"


async def test_errors_use_the_result_shape_and_v1_keeps_its_own(aas: TwinApi):
    assert_result_error(await aas.client.get("/api/v3.0/nothing-here"), 404)
    response = await aas.client.delete(url("shells", "$reference"))
    assert_result_error(response, 405)
    v1 = await aas.client.get("/api/v1/history")  # a v1 validation error: v1 shape
    assert "error" in v1.json() and "messages" not in v1.json()


async def test_without_a_twin_the_api_says_so(aas: TwinApi):
    aas.runtime.twin = None
    assert_result_error(await aas.client.get(url("shells")), 503)
