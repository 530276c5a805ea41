"""idShort paths, ValueOnly both ways, metadata, and the conversion of live samples."""

from __future__ import annotations

import math

import pytest

from werk.api.aas import elements, live
from werk.api.aas.elements import ElementError


def test_id_short_paths_parse_and_format():
    assert elements.parse_path("a.b[2][0].c") == ["a", "b", 2, 0, "c"]
    assert elements.format_path(["a", "b", 2, 0, "c"]) == "a.b[2][0].c"
    for bad in ("", ".a", "a.", "a..b", "[0]", "a.[0]", "a[x]", "a]"):
        with pytest.raises(ElementError):
            elements.parse_path(bad)


def test_value_only_of_each_kind():
    prop = {"modelType": "Property", "idShort": "P", "valueType": "xs:double", "value": "1.5"}
    assert elements.value_only(prop) == 1.5
    assert elements.typed("NaN", "xs:double") == "NaN"
    assert elements.typed("true", "xs:boolean") is True
    assert elements.typed("12", "xs:unsignedShort") == 12
    assert elements.typed("x", "xs:int") == "x"  # not a number: shown as stored
    collection = {"modelType": "SubmodelElementCollection", "idShort": "C", "value": [prop]}
    assert elements.value_only(collection) == {"P": 1.5}
    assert elements.value_only(collection, deep=False) == {}
    blob = {"modelType": "Blob", "idShort": "B", "contentType": "a/b", "value": "eA=="}
    assert elements.value_only(blob) == {"contentType": "a/b"}
    assert elements.value_only(blob, blobs=True) == {"contentType": "a/b", "value": "eA=="}
    with pytest.raises(ElementError):
        elements.value_only({"modelType": "Operation", "idShort": "O"})


def test_apply_value_is_the_reverse_of_value_only():
    collection = {
        "modelType": "SubmodelElementCollection",
        "idShort": "C",
        "value": [
            {"modelType": "Property", "idShort": "N", "valueType": "xs:int", "value": "1"},
            {"modelType": "Property", "idShort": "B", "valueType": "xs:boolean"},
            {"modelType": "Range", "idShort": "R", "valueType": "xs:double"},
            {"modelType": "MultiLanguageProperty", "idShort": "M"},
        ],
    }
    wanted = {"N": 7, "B": False, "R": {"min": 0.5, "max": 2.0}, "M": [{"en": "hi"}]}
    elements.apply_value(collection, wanted)
    assert elements.value_only(collection) == wanted
    assert collection["value"][0]["value"] == "7"
    with pytest.raises(ElementError):
        elements.apply_value(collection, {"Nope": 1})
    with pytest.raises(ElementError):
        elements.apply_value({"modelType": "Capability"}, 1)


def test_metadata_drops_values_but_keeps_what_the_metamodel_requires():
    relationship = {
        "modelType": "RelationshipElement",
        "idShort": "R",
        "first": {"type": "ModelReference", "keys": []},
        "second": {"type": "ModelReference", "keys": []},
    }
    assert elements.metadata(relationship) == relationship
    prop = {"modelType": "Property", "idShort": "P", "valueType": "xs:int", "value": "1"}
    assert elements.metadata(prop) == {
        "modelType": "Property",
        "idShort": "P",
        "valueType": "xs:int",
    }
    with pytest.raises(ElementError):
        elements.metadata({"modelType": "Operation", "idShort": "O"})


def test_samples_in_a_value_type():
    assert live.lexical(21.5, "xs:double") == "21.5"
    assert live.lexical(3.0, "xs:int") == "3" and live.typed(3.0, "xs:int") == 3
    assert live.lexical(0.0, "xs:boolean") == "false" and live.typed(2.0, "xs:boolean") is True
    assert live.lexical(1e-7, "xs:decimal") == "0.0000001"
    assert (
        live.lexical(math.nan, "xs:double") == "NaN" and live.typed(math.nan, "xs:float") == "NaN"
    )
    assert live.lexical(math.inf, "xs:double") == "INF"
    assert live.lexical(math.nan, "xs:int") is None
    assert live.typed(1.25, "xs:string") == "1.25"
