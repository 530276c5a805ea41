"""Writes need an engineer token, are validated against the metamodel, and survive a restart."""

from __future__ import annotations

import pytest

from tests.api.aas.conftest import (
    NAMEPLATE,
    PRESS,
    TECHNICAL,
    TwinApi,
    TwinApiFactory,
    url,
)
from tests.api.aas.test_reads import assert_result_error
from werk.api.tokens import Role
from werk.twin.repository import Kind, TwinRepository

NEW_SHELL = {
    "modelType": "AssetAdministrationShell",
    "id": "https://plant.example/werk/aas/robot",
    "idShort": "Robot",
    "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:robot"},
}
NAMEPLATE_ELEMENTS = url("submodels", NAMEPLATE, "submodel-elements")

WRITES = [
    ("post", url("shells"), NEW_SHELL),
    ("put", url("shells", PRESS), {**NEW_SHELL, "id": PRESS}),
    ("delete", url("shells", PRESS), None),
    ("patch", f"{NAMEPLATE_ELEMENTS}/SerialNumber/$value", "X"),
    ("post", NAMEPLATE_ELEMENTS, {"modelType": "Property", "idShort": "A", "valueType": "xs:int"}),
    ("delete", f"{NAMEPLATE_ELEMENTS}/Address.City", None),
    ("delete", url("submodels", TECHNICAL), None),
]


def _send(aas: TwinApi, method: str, target: str, body: object, headers: dict | None = None):
    kwargs = {"headers": headers or {}}
    if body is not None:
        kwargs["json"] = body
    return aas.client.request(method.upper(), target, **kwargs)


@pytest.mark.parametrize(("method", "target", "body"), WRITES)
async def test_writes_need_an_engineer(aas: TwinApi, method: str, target: str, body: object):
    before = aas.twin.version
    anonymous = await _send(aas, method, target, body)
    assert_result_error(anonymous, 401)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    for role in (Role.viewer, Role.operator):
        assert_result_error(await _send(aas, method, target, body, aas.auth(role)), 403)
    assert aas.twin.version == before  # nothing was written
    allowed = await _send(aas, method, target, body, aas.auth(Role.engineer))
    assert allowed.status_code in (200, 201, 204), allowed.text


async def test_reads_need_a_token_when_anonymous_reads_are_off(open_twin_api: TwinApiFactory):
    async with open_twin_api(anonymous_read=False) as aas:
        assert_result_error(await aas.client.get(url("shells")), 401)
        viewer = await aas.client.get(url("shells"), headers=aas.auth(Role.viewer))
        assert viewer.status_code == 200
        bad = {"Authorization": "Bearer werk_nope_nope"}
        assert_result_error(await aas.client.get(url("shells"), headers=bad), 401)


async def test_writes_persist_across_a_restart(aas: TwinApi):
    engineer = aas.auth(Role.engineer)
    created = await aas.client.post(url("shells"), json=NEW_SHELL, headers=engineer)
    assert created.status_code == 201 and created.json()["id"] == NEW_SHELL["id"]
    patched = await aas.client.patch(
        f"{NAMEPLATE_ELEMENTS}/SerialNumber/$value", json="P-0002", headers=engineer
    )
    assert patched.status_code == 204
    element = {"modelType": "Property", "idShort": "Floor", "valueType": "xs:int", "value": "3"}
    added = await aas.client.post(f"{NAMEPLATE_ELEMENTS}/Address", json=element, headers=engineer)
    assert added.status_code == 201 and added.json()["idShort"] == "Floor"
    deleted = await aas.client.delete(url("submodels", TECHNICAL), headers=engineer)
    assert deleted.status_code == 204

    restarted = TwinRepository(aas.twin.directory)
    assert restarted.get(Kind.SHELL, NEW_SHELL["id"]) is not None
    assert restarted.get(Kind.SUBMODEL, TECHNICAL) is None
    aas.runtime.twin = restarted
    value = (await aas.client.get(url("submodels", NAMEPLATE, "$value"))).json()
    assert value["SerialNumber"] == "P-0002"
    assert value["Address"]["Floor"] == 3


async def test_element_writes(aas: TwinApi):
    engineer = aas.auth(Role.engineer)
    city = f"{NAMEPLATE_ELEMENTS}/Address.City"
    replacement = {"modelType": "Property", "idShort": "City", "valueType": "xs:string"}
    assert (
        await aas.client.put(city, json={**replacement, "value": "Bonn"}, headers=engineer)
    ).status_code == 204
    assert (await aas.client.get(f"{city}/$value")).json() == {"City": "Bonn"}
    renamed = await aas.client.put(city, json={**replacement, "idShort": "Town"}, headers=engineer)
    assert_result_error(renamed, 400)
    described = {"description": [{"language": "en", "text": "where it stands"}]}
    assert (await aas.client.patch(city, json=described, headers=engineer)).status_code == 204
    assert (await aas.client.get(city)).json()["description"][0]["text"] == "where it stands"
    duplicate = await aas.client.post(
        f"{NAMEPLATE_ELEMENTS}/Address", json=replacement, headers=engineer
    )
    assert_result_error(duplicate, 409)
    address_value = {"Street": "Ring 2", "City": "Köln"}
    patched = await aas.client.patch(
        f"{NAMEPLATE_ELEMENTS}/Address/$value", json=address_value, headers=engineer
    )
    assert patched.status_code == 204
    assert (await aas.client.get(f"{NAMEPLATE_ELEMENTS}/Address/$value")).json() == {
        "Address": address_value
    }
    assert (await aas.client.delete(city, headers=engineer)).status_code == 204
    assert_result_error(await aas.client.get(city), 404)
    list_item = {"modelType": "Property", "valueType": "xs:string", "value": "inspect"}
    stations = url("submodels", TECHNICAL, "submodel-elements", "Stations")
    added = await aas.client.post(stations, json=list_item, headers=engineer)
    assert added.status_code == 201
    assert (await aas.client.get(f"{stations}[2]/$value")).json() == "inspect"


async def test_invalid_models_are_refused_with_the_rule(aas: TwinApi):
    engineer = aas.auth(Role.engineer)
    bad_type = {"modelType": "Property", "idShort": "X", "valueType": "xs:int", "value": "abc"}
    response = await aas.client.post(NAMEPLATE_ELEMENTS, json=bad_type, headers=engineer)
    assert_result_error(response, 400)
    not_a_shell = await aas.client.post(url("shells"), json={"id": "x"}, headers=engineer)
    assert "modelType" in assert_result_error(not_a_shell, 400)["text"]
    exists = await aas.client.post(url("shells"), json={**NEW_SHELL, "id": PRESS}, headers=engineer)
    assert_result_error(exists, 409)
    wrong_id = await aas.client.put(url("shells", PRESS), json=NEW_SHELL, headers=engineer)
    assert_result_error(wrong_id, 400)
    not_json = await aas.client.post(
        url("shells"), content=b"{", headers={**engineer, "content-type": "application/json"}
    )
    assert_result_error(not_json, 400)
    assert aas.twin.get(Kind.SHELL, NEW_SHELL["id"]) is None


async def test_submodel_refs_and_shell_scoped_submodel_delete(aas: TwinApi):
    engineer = aas.auth(Role.engineer)
    refs = url("shells", PRESS, "submodel-refs")
    ref = {"type": "ModelReference", "keys": [{"type": "Submodel", "value": "urn:extra"}]}
    assert (await aas.client.post(refs, json=ref, headers=engineer)).status_code == 201
    assert_result_error(await aas.client.post(refs, json=ref, headers=engineer), 409)
    listed = (await aas.client.get(refs)).json()["result"]
    assert listed[-1] == ref
    removed = await aas.client.delete(
        url("shells", PRESS, "submodel-refs", "urn:extra"), headers=engineer
    )
    assert removed.status_code == 400  # not base64url: a plain id in the path is refused
    removed = await aas.client.delete(f"{refs}/dXJuOmV4dHJh", headers=engineer)
    assert removed.status_code == 204
    gone = await aas.client.delete(url("shells", PRESS, "submodels", TECHNICAL), headers=engineer)
    assert gone.status_code == 204
    assert aas.twin.get(Kind.SUBMODEL, TECHNICAL) is None
    shell = (await aas.client.get(url("shells", PRESS))).json()
    assert TECHNICAL not in [r["keys"][0]["value"] for r in shell["submodels"]]
