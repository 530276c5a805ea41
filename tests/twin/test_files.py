"""AASX, JSON and XML: the IDTA test engine passes werk's files; imports report precisely."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import aas_core3.jsonization
import aas_core3.verification
import aas_core3.xmlization
import pytest
from aas_test_engines import file as test_engine
from basyx.aas.adapter import aasx
from basyx.aas.adapter import json as basyx_json
from basyx.aas.adapter import xml as basyx_xml
from basyx.aas.examples.data import example_aas

from werk.twin.aas import TwinEnvironment
from werk.twin.files import TwinImportError, canonical_json, export_environment, import_environment


@pytest.fixture(scope="module")
def exported(
    example_env: TwinEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exported")
    return {
        fmt: export_environment(example_env, folder / f"plant.{fmt}")
        for fmt in ("json", "xml", "aasx")
    }


def _lines(result: object) -> str:
    return "\n".join(result.to_lines())  # type: ignore[attr-defined]


def test_idta_test_engine_passes_json(exported: dict[str, Path]) -> None:
    with exported["json"].open() as file:
        result = test_engine.check_json_file(file)
    assert result.ok(), _lines(result)
    assert "Template: DigitalNameplate" in _lines(result)


def test_idta_test_engine_passes_xml(exported: dict[str, Path]) -> None:
    with exported["xml"].open() as file:
        result = test_engine.check_xml_file(file)
    assert result.ok(), _lines(result)


def test_idta_test_engine_passes_aasx(exported: dict[str, Path]) -> None:
    with exported["aasx"].open("rb") as file:
        result = test_engine.check_aasx_file(file)
    assert result.ok(), _lines(result)
    assert "aas-suppl" in _lines(result)


def test_aas_core3_verifies_json_and_xml(exported: dict[str, Path]) -> None:
    environment = aas_core3.jsonization.environment_from_jsonable(
        json.loads(exported["json"].read_text())
    )
    assert [str(e.cause) for e in aas_core3.verification.verify(environment)] == []
    environment = aas_core3.xmlization.environment_from_file(str(exported["xml"]))
    assert [str(e.cause) for e in aas_core3.verification.verify(environment)] == []


@pytest.mark.parametrize("fmt", ["json", "xml", "aasx"])
def test_round_trip_is_lossless(
    example_env: TwinEnvironment, exported: dict[str, Path], fmt: str
) -> None:
    result = import_environment(exported[fmt], strict=True)
    assert result.report == []
    assert canonical_json(result.env) == canonical_json(example_env)
    if fmt == "aasx":
        assert [(f.name, f.data) for f in result.env.files] == [
            (f.name, f.data) for f in example_env.files
        ]


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """basyx's own example environment, written by basyx itself."""
    folder = tmp_path_factory.mktemp("foreign")
    store = example_aas.create_full_example()
    basyx_json.write_aas_json_file(str(folder / "example.json"), store)
    basyx_xml.write_aas_xml_file(str(folder / "example.xml"), store)
    files = aasx.DictSupplementaryFileContainer()
    files.add_file("/TestFile.pdf", io.BytesIO(b"%PDF-1.4 test"), "application/pdf")
    with aasx.AASXWriter(str(folder / "example.aasx")) as writer:
        writer.write_all_aas_objects("/aasx/data.json", store, files, write_json=True)
    return {fmt: folder / f"example.{fmt}" for fmt in ("json", "xml", "aasx")}


@pytest.mark.parametrize("fmt", ["json", "xml", "aasx"])
@pytest.mark.parametrize("strict", [True, False])
def test_basyx_example_imports(foreign: dict[str, Path], fmt: str, strict: bool) -> None:
    result = import_environment(foreign[fmt], strict=strict)
    expected = canonical_json(example_aas.create_full_example())
    assert result.report == []
    assert canonical_json(result.env) == expected
    if fmt == "aasx":
        assert [f.name for f in result.env.files] == ["/TestFile.pdf"]


def broken(tmp_path: Path, exported: dict[str, Path], change) -> Path:  # type: ignore[no-untyped-def]
    document = json.loads(exported["json"].read_text())
    change(document)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    return path


def _hierarchy(document: dict) -> dict:  # type: ignore[type-arg]
    return next(s for s in document["submodels"] if s["idShort"] == "HierarchicalStructures")


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"submodels": [\n {"id": 1,, }]}')
    with pytest.raises(TwinImportError) as caught:
        import_environment(path, strict=True)
    assert caught.value.field == "line 2 column 11" and caught.value.rule == "json-syntax"
    assert import_environment(path, strict=False).report[0].rule == "json-syntax"


def test_missing_id_short_is_named_and_dropped(tmp_path: Path, exported: dict[str, Path]) -> None:
    def change(document: dict) -> None:  # type: ignore[type-arg]
        del _hierarchy(document)["submodelElements"][1]["idShort"]

    path = broken(tmp_path, exported, change)
    with pytest.raises(TwinImportError) as caught:
        import_environment(path, strict=True)
    assert caught.value.rule == "AASd-117"
    assert caught.value.field.endswith(".submodelElements[1] (Entity)")
    result = import_environment(path, strict=False)
    (issue,) = result.report
    assert issue.rule == "AASd-117" and issue.dropped == "element"
    assert len(result.env) == 28  # the submodel is kept, without the element


def test_bad_id_short_names_the_constraint(tmp_path: Path, exported: dict[str, Path]) -> None:
    def change(document: dict) -> None:  # type: ignore[type-arg]
        _hierarchy(document)["submodelElements"][0]["idShort"] = "1st"

    path = broken(tmp_path, exported, change)
    with pytest.raises(TwinImportError, match="must start with a letter") as caught:
        import_environment(path, strict=True)
    assert caught.value.rule == "AASd-002"
    assert "(Property '1st')" in caught.value.field


def test_duplicate_ids(tmp_path: Path, exported: dict[str, Path]) -> None:
    def change(document: dict) -> None:  # type: ignore[type-arg]
        document["submodels"][1]["id"] = document["submodels"][0]["id"]

    path = broken(tmp_path, exported, change)
    with pytest.raises(TwinImportError) as caught:
        import_environment(path, strict=True)
    assert caught.value.rule == "duplicate-id"
    result = import_environment(path, strict=False)
    rules = [i.rule for i in result.report]
    assert rules[0] == "duplicate-id" and "dangling-reference" in rules
    assert len(result.env) == 27


def test_wrong_value_type_and_value(tmp_path: Path, exported: dict[str, Path]) -> None:
    def change(document: dict) -> None:  # type: ignore[type-arg]
        operational = next(s for s in document["submodels"] if s["idShort"] == "OperationalData")
        operational["submodelElements"][0]["valueType"] = "xs:doubel"
        operational["submodelElements"][1]["value"] = "hot"

    path = broken(tmp_path, exported, change)
    with pytest.raises(
        TwinImportError, match="valueType 'xs:doubel' is not one the metamodel knows"
    ):
        import_environment(path, strict=True)
    result = import_environment(path, strict=False)
    messages = [i.message for i in result.report]
    assert len(messages) == 2 and "value 'hot' is not a valid xs:double" in messages[1]
    assert all(i.dropped == "element" for i in result.report)


def test_broken_xml_names_the_line(tmp_path: Path, exported: dict[str, Path]) -> None:
    text = exported["xml"].read_text()
    path = tmp_path / "broken.xml"
    broken_text = text.replace(">ArcheType<", ">1ArcheType<", 1)
    path.write_text(broken_text)
    line = broken_text[: broken_text.index(">1ArcheType<")].count("\n") + 1
    with pytest.raises(TwinImportError, match="must start with a letter") as caught:
        import_environment(path, strict=True)
    # basyx names the element it failed to build, at the line where that element starts
    assert caught.value.field == f"line {line - 1} (aas:property)"
    assert caught.value.rule == "AASd-002"
    result = import_environment(path, strict=False)
    assert [i.rule for i in result.report] == ["AASd-002"]
    path.write_text(text[:200])
    assert import_environment(path, strict=False).report[0].rule == "xml-syntax"


def test_aasx_without_origin_or_zip(tmp_path: Path) -> None:
    path = tmp_path / "not.aasx"
    path.write_bytes(b"no zip")
    with pytest.raises(TwinImportError) as caught:
        import_environment(path, strict=True)
    assert caught.value.rule == "aasx-package"


def test_failsafe_keeps_unknown_keys_out(tmp_path: Path, exported: dict[str, Path]) -> None:
    def change(document: dict) -> None:  # type: ignore[type-arg]
        document["shells"] = copy.deepcopy(document["assetAdministrationShells"])

    path = broken(tmp_path, exported, change)
    result = import_environment(path, strict=False)
    assert [(i.path, i.rule) for i in result.report] == [("shells", "metamodel")]
