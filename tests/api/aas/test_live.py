"""Properties bound to signals read the live state, written in their valueType."""

from __future__ import annotations

import asyncio

from tests.api.aas.conftest import OPERATIONAL, TwinApi, url
from werk.api.tokens import Role
from werk.core import SampleBatch

ELEMENTS = url("submodels", OPERATIONAL, "submodel-elements")


async def test_value_of_a_bound_property_is_the_latest_sample(aas: TwinApi):
    assert (await aas.client.get(f"{ELEMENTS}/Temperature/$value")).json() == {
        "Temperature": None  # no sample yet, no stored value
    }
    aas.live("press.temp", 21.5, ts=1)
    assert (await aas.client.get(f"{ELEMENTS}/Temperature/$value")).json() == {"Temperature": 21.5}
    prop = (await aas.client.get(f"{ELEMENTS}/Temperature")).json()
    assert prop["value"] == "21.5" and prop["valueType"] == "xs:double"
    aas.live("press.temp", 22.25, ts=2)
    assert (await aas.client.get(f"{ELEMENTS}/Temperature/$value")).json() == {"Temperature": 22.25}


async def test_values_are_written_in_the_value_type(aas: TwinApi):
    aas.live("press.strokes", 1234.0)
    aas.live("press.running", 1.0)
    value = (await aas.client.get(url("submodels", OPERATIONAL, "$value"))).json()
    assert value["Strokes"] == 1234 and isinstance(value["Strokes"], int)
    assert value["Running"] is True
    strokes = (await aas.client.get(f"{ELEMENTS}/Strokes")).json()
    assert strokes["value"] == "1234" and strokes["valueType"] == "xs:int"
    aas.live("press.running", 0.0, ts=2)
    assert (await aas.client.get(f"{ELEMENTS}/Running/$value")).json() == {"Running": False}


async def test_whole_submodel_reads_follow_new_samples(aas: TwinApi):
    aas.live("press.pressure", 4.0, ts=1)
    first = (await aas.client.get(url("submodels", OPERATIONAL))).json()
    assert _value(first, "Pressure") == "4.0"
    again = (await aas.client.get(url("submodels", OPERATIONAL))).json()
    assert again == first  # nothing new: the same render
    aas.live("press.pressure", 5.5, ts=2)
    later = (await aas.client.get(url("submodels", OPERATIONAL))).json()
    assert _value(later, "Pressure") == "5.5"
    listed = await aas.client.get(url("submodels"), params={"idShort": "OperationalData"})
    press = next(s for s in listed.json()["result"] if s["id"] == OPERATIONAL)
    assert _value(press, "Pressure") == "5.5"
    exported = (await aas.client.get(url("serialization"))).json()
    press = next(s for s in exported["submodels"] if s["id"] == OPERATIONAL)
    assert _value(press, "Pressure") == "5.5"


async def test_samples_through_the_bus_reach_the_twin(aas: TwinApi):
    await aas.runtime.ingest(SampleBatch.of("line.speed", [10, 20], [1.5, 2.5]))
    operational = "https://plant.example/werk/sm/conveyor/OperationalData"
    for _ in range(100):
        response = await aas.client.get(url("submodels", operational, "$value"))
        if response.json() == {"Speed": 2.5}:
            break
        await asyncio.sleep(0.01)
    assert response.json() == {"Speed": 2.5}


async def test_bound_values_cannot_be_written(aas: TwinApi):
    response = await aas.client.patch(
        f"{ELEMENTS}/Temperature/$value", json=99.0, headers=aas.auth(Role.engineer)
    )
    assert response.status_code == 409
    assert "press.temp" in response.json()["messages"][0]["text"]


def _value(submodel: dict, id_short: str) -> str | None:
    element = next(e for e in submodel["submodelElements"] if e["idShort"] == id_short)
    return element.get("value")
