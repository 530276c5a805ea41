"""The twin repository: canonical JSON, one file per identifiable, atomic writes, plant sync."""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.api.aas.twin_data import environment
from werk.twin.repository import (
    ABANDONED_WRITE_S,
    IdentifiableExists,
    IdentifiableNotFound,
    InvalidModel,
    Kind,
    TwinRepository,
    b64url_decode,
    b64url_encode,
)

SHELL = {
    "modelType": "AssetAdministrationShell",
    "id": "urn:werk:test:aas:a",
    "idShort": "A",
    "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:asset:a"},
}
SUBMODEL = {
    "modelType": "Submodel",
    "id": "urn:werk:test:sm:a:Data",
    "idShort": "Data",
    "submodelElements": [
        {"modelType": "Property", "idShort": "Speed", "valueType": "xs:double", "value": "1.5"}
    ],
}


def test_put_get_list_delete(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    stored, created = repo.put(SHELL)
    assert created and stored.kind is Kind.SHELL and stored.data["id"] == SHELL["id"]
    assert json.loads(stored.json) == stored.data  # the bytes a GET sends
    assert repo.put(SHELL)[1] is False
    repo.put(SUBMODEL)
    assert [s.id for s in repo.list(Kind.SUBMODEL)] == [SUBMODEL["id"]]
    assert repo.require(Kind.SUBMODEL, SUBMODEL["id"]).data["idShort"] == "Data"
    assert repo.delete(Kind.SHELL, SHELL["id"]) and not repo.delete(Kind.SHELL, SHELL["id"])
    with pytest.raises(IdentifiableNotFound):
        repo.require(Kind.SHELL, SHELL["id"])
    assert len(repo) == 1


def test_writes_survive_a_restart_and_leave_one_file_each(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    repo.put(SHELL)
    repo.put(SUBMODEL)
    repo.update(Kind.SUBMODEL, SUBMODEL["id"], _set_speed("2.5"))
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert files == [
        f"shells/{b64url_encode(SHELL['id'])}.json",
        f"submodels/{b64url_encode(SUBMODEL['id'])}.json",
    ]
    again = TwinRepository(tmp_path)
    speed = again.require(Kind.SUBMODEL, SUBMODEL["id"]).data["submodelElements"][0]
    assert speed["value"] == "2.5"
    assert again.require(Kind.SHELL, SHELL["id"]).data == repo.require(Kind.SHELL, SHELL["id"]).data


def test_an_interrupted_write_leaves_the_old_version(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    repo.put(SUBMODEL)
    abandoned = tmp_path / "submodels" / "half-written.tmp"
    abandoned.write_text('{"modelType": "Subm')
    old = time.time() - ABANDONED_WRITE_S - 1
    os.utime(abandoned, (old, old))
    in_flight = tmp_path / "submodels" / "another-process-writing.tmp"
    in_flight.write_text('{"modelType": "Subm')
    (tmp_path / "submodels" / "garbage.json").write_text("not json")
    again = TwinRepository(tmp_path)
    assert [s.id for s in again.list(Kind.SUBMODEL)] == [SUBMODEL["id"]]
    # the crash leftover goes; a young one may be a write in flight in a process sharing the folder
    assert [p.name for p in tmp_path.rglob("*.tmp")] == [in_flight.name]


def test_invalid_objects_are_refused_with_the_constraint(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    duplicate = copy.deepcopy(SUBMODEL)
    duplicate["submodelElements"].append(duplicate["submodelElements"][0])
    with pytest.raises(InvalidModel) as refused:
        repo.put(duplicate)
    assert refused.value.rule == "AASd-022"
    with pytest.raises(InvalidModel, match="modelType"):
        repo.put({"id": "x"})
    with pytest.raises(InvalidModel):
        repo.put({**SUBMODEL, "submodelElements": [{"modelType": "Property"}]})
    with pytest.raises(InvalidModel, match="must be 'Submodel'"):
        repo.put(SHELL, Kind.SUBMODEL)
    assert repo.is_empty()


def test_create_refuses_taken_ids_and_update_keeps_the_id(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    repo.create(SUBMODEL)
    with pytest.raises(IdentifiableExists):
        repo.create(SUBMODEL)

    def rename(data: dict) -> dict:
        data["id"] = "urn:other"
        return data

    with pytest.raises(InvalidModel, match="cannot change"):
        repo.update(Kind.SUBMODEL, SUBMODEL["id"], rename)
    with pytest.raises(IdentifiableNotFound):
        repo.update(Kind.SUBMODEL, "urn:none", rename)


def test_canonical_form_keeps_the_given_order_and_drops_empty_lists(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    refs = [
        {"type": "ModelReference", "keys": [{"type": "Submodel", "value": f"urn:sm:{i}"}]}
        for i in "zyxwv"
    ]
    stored, _ = repo.put({**SHELL, "submodels": refs})
    assert stored.data["submodels"] == refs  # basyx holds them as a set
    entity = {
        "modelType": "Entity",
        "idShort": "Part",
        "entityType": "CoManagedEntity",
        "statements": [],
    }
    stored, _ = repo.put({**SUBMODEL, "submodelElements": [entity]})
    assert "statements" not in stored.data["submodelElements"][0]


def test_sync_plant_keeps_api_data_until_the_plant_changes(tmp_path: Path):
    plant = environment()
    repo = TwinRepository(tmp_path)
    first = repo.sync_plant(plant)
    assert first.changed and len(first.added) == 9
    repo.put(SHELL)  # made through the API
    nameplate = "https://plant.example/werk/sm/press/Nameplate"
    repo.update(Kind.SUBMODEL, nameplate, lambda d: {**d, "idShort": "Edited"})

    restarted = TwinRepository(tmp_path)
    unchanged = restarted.sync_plant(plant)
    assert not unchanged.changed
    assert restarted.require(Kind.SUBMODEL, nameplate).data["idShort"] == "Edited"

    changed_plant = copy.deepcopy(plant)
    changed_plant["submodels"] = [
        s for s in changed_plant["submodels"] if "conveyor" not in s["id"]
    ]
    report = TwinRepository(tmp_path).sync_plant(changed_plant)
    assert report.changed and nameplate in report.replaced
    assert len(report.removed) == 3  # the conveyor's submodels
    final = TwinRepository(tmp_path)
    assert final.require(Kind.SUBMODEL, nameplate).data["idShort"] == "Nameplate"
    assert final.get(Kind.SHELL, SHELL["id"]) is not None  # API-made data stays


def test_replace_all_and_environment(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    repo.sync_plant(environment())
    everything = repo.environment()
    assert [len(everything[k]) for k in everything] == [2, 6, 1]
    only = repo.environment(
        ["https://plant.example/werk/aas/press"], [], concept_descriptions=False
    )
    assert list(only) == ["assetAdministrationShells"]
    repo.replace_all([SHELL])
    assert len(repo) == 1 and not (tmp_path / "plant.json").exists()
    assert len(TwinRepository(tmp_path)) == 1


def test_concurrent_updates_lose_nothing(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    repo.put(SUBMODEL)

    def add(i: int) -> None:
        def change(data: dict) -> dict:
            data["submodelElements"].append(
                {"modelType": "Property", "idShort": f"P{i}", "valueType": "xs:int"}
            )
            return data

        repo.update(Kind.SUBMODEL, SUBMODEL["id"], change)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elements = repo.require(Kind.SUBMODEL, SUBMODEL["id"]).data["submodelElements"]
    assert len(elements) == 9


def test_base64url_ids():
    assert b64url_decode(b64url_encode("urn:ä")) == "urn:ä"
    assert b64url_decode(b64url_encode("ab") + "=") == "ab"  # padding optional
    for bad in ("invalid-base64url=====", "a", "", "###", "_w"):
        with pytest.raises(ValueError):
            b64url_decode(bad)


def test_long_ids_get_hashed_file_names(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    long_id = "urn:" + "x" * 1500
    repo.put({**SUBMODEL, "id": long_id})
    (path,) = (tmp_path / "submodels").iterdir()
    assert path.name.startswith("sha256-")
    assert TwinRepository(tmp_path).get(Kind.SUBMODEL, long_id) is not None


def _set_speed(value: str):
    def change(data: dict) -> dict:
        data["submodelElements"][0]["value"] = value
        return data

    return change


def test_sync_plant_with_a_fingerprint_skips_unchanged_plants(tmp_path: Path):
    repo = TwinRepository(tmp_path)
    assert repo.sync_plant(environment(), fingerprint="plant-v1").changed
    untouched = repo.sync_plant([{"not": "even an identifiable"}], fingerprint="plant-v1")
    assert not untouched.changed  # nothing was encoded
    assert repo.sync_plant(environment(), fingerprint="plant-v2").changed
