"""Submodel elements as AAS JSON: idShort paths, and the serialisations of AAS Part 2 (v3.0).

Everything here works on the canonical JSON a ``TwinRepository`` holds and never mutates it:

- ``index_elements``: every element of a submodel by its idShort path (``a.b[2].c``: dots between
  idShorts, ``[i]`` for the items of a SubmodelElementList), with its model reference keys.
- ``value_only``: the ValueOnly form (``{"Temperature": 21.5}``), and ``apply_value`` its reverse.
- ``metadata``: the element without its value attributes (the ``$metadata`` modifier).
- ``core``: the ``level=core`` form (direct children only); ``without_blob_values``: the default
  ``extent``.

One deliberate choice: ``$metadata`` keeps the attributes the metamodel requires (a
RelationshipElement's ``first``/``second``, a BasicEventElement's ``observed``, an Entity's
``entityType``), so a metadata object is still a valid submodel element for strict readers such
as the IDTA test engine, which parses the ``$metadata`` lists against the metamodel.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

JsonObject = dict[str, Any]

# Where each kind of element keeps its children (the ones an idShort path walks into).
CHILDREN = {
    "SubmodelElementCollection": "value",
    "SubmodelElementList": "value",
    "Entity": "statements",
    "AnnotatedRelationshipElement": "annotations",
}
# The containers that level=core cuts and $path lists.
CONTAINERS = {"SubmodelElementCollection", "SubmodelElementList", "Entity"}

# Attributes that carry the value, left out by $metadata (only the optional ones: see above).
VALUE_ATTRIBUTES = {
    "Property": ("value", "valueId"),
    "MultiLanguageProperty": ("value", "valueId"),
    "Range": ("min", "max"),
    "Blob": ("value",),
    "File": ("value",),
    "ReferenceElement": ("value",),
    "AnnotatedRelationshipElement": ("annotations",),
    "SubmodelElementCollection": ("value",),
    "SubmodelElementList": ("value",),
    "Entity": ("statements",),
}
NO_METADATA = {"Capability", "Operation"}
NO_VALUE = {"Capability", "Operation"}

INTEGER_TYPES = frozenset(
    {
        "xs:integer",
        "xs:int",
        "xs:long",
        "xs:short",
        "xs:byte",
        "xs:nonNegativeInteger",
        "xs:positiveInteger",
        "xs:nonPositiveInteger",
        "xs:negativeInteger",
        "xs:unsignedLong",
        "xs:unsignedInt",
        "xs:unsignedShort",
        "xs:unsignedByte",
    }
)
FLOAT_TYPES = frozenset({"xs:double", "xs:float"})
NUMBER_TYPES = INTEGER_TYPES | FLOAT_TYPES | {"xs:decimal"}


class ElementError(ValueError):
    """A request cannot be applied to an element; ``status`` says how to answer (400, 404, 409)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- paths -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|(\.)")


def parse_path(text: str) -> list[str | int]:
    """``a.b[2].c`` -> ``["a", "b", 2, "c"]``; ``ElementError`` (400) when malformed."""
    tokens: list[str | int] = []
    position = 0
    expect_name = True
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ElementError(f"malformed idShort path {text!r} at character {position + 1}")
        name, index, _dot = match.groups()
        if name is not None:
            if not expect_name:
                raise ElementError(f"malformed idShort path {text!r}: '.' missing before {name!r}")
            tokens.append(name)
            expect_name = False
        elif index is not None:
            if expect_name and tokens:
                raise ElementError(f"malformed idShort path {text!r}: '.[' is not allowed")
            tokens.append(int(index))
            expect_name = False
        else:
            if expect_name:
                raise ElementError(f"malformed idShort path {text!r}: empty idShort")
            expect_name = True
        position = match.end()
    if not tokens or expect_name or not isinstance(tokens[0], str):
        raise ElementError(f"malformed idShort path {text!r}")
    return tokens


def format_path(tokens: list[str | int]) -> str:
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, int):
            parts.append(f"[{token}]")
        else:
            parts.append(f".{token}" if parts else token)
    return "".join(parts)


@dataclass(slots=True)
class Node:
    """One element found by its path: where it sits, and the keys of its model reference."""

    path: str
    element: JsonObject
    siblings: list[JsonObject]
    position: int
    keys: list[JsonObject]


def index_elements(submodel: JsonObject) -> dict[str, Node]:
    """Every element of ``submodel`` by its canonical idShort path."""
    index: dict[str, Node] = {}
    root = [{"type": "Submodel", "value": submodel["id"]}]
    _walk(submodel.get("submodelElements") or [], "", False, root, index)
    return index


def _walk(
    elements: list[JsonObject],
    prefix: str,
    in_list: bool,
    keys: list[JsonObject],
    index: dict[str, Node],
) -> None:
    for position, element in enumerate(elements):
        if in_list:
            path = f"{prefix}[{position}]"
            name = str(position)
        else:
            name = element.get("idShort", "")
            if not name:
                continue  # AASd-117 forbids this outside lists; nothing can address it
            path = f"{prefix}.{name}" if prefix else name
        own_keys = [*keys, {"type": element.get("modelType", "SubmodelElement"), "value": name}]
        index[path] = Node(path, element, elements, position, own_keys)
        key = CHILDREN.get(element.get("modelType", ""))
        if key and element.get(key):
            _walk(
                element[key],
                path,
                element["modelType"] == "SubmodelElementList",
                own_keys,
                index,
            )


def descendant_paths(node_path: str, index: dict[str, Node]) -> list[str]:
    """The paths of an element and everything below it, in document order."""
    prefix_dot, prefix_item = node_path + ".", node_path + "["
    return [
        p for p in index if p == node_path or p.startswith(prefix_dot) or p.startswith(prefix_item)
    ]


def submodel_paths(submodel: JsonObject, index: dict[str, Node], *, deep: bool) -> list[str]:
    if deep:
        return list(index)
    return [p for p in index if "." not in p and "[" not in p]


def identifiable_reference(model_type: str, identifier: str) -> JsonObject:
    return {"type": "ModelReference", "keys": [{"type": model_type, "value": identifier}]}


# -- level, extent, metadata -------------------------------------------------------------------


def core(parent: JsonObject, key: str) -> JsonObject:
    """``parent`` with its children under ``key`` kept, but theirs cut (level=core)."""
    children = parent.get(key)
    if not children:
        return parent
    return {**parent, key: [_without_children(child) for child in children]}


def _without_children(element: JsonObject) -> JsonObject:
    model_type = element.get("modelType", "")
    key = CHILDREN.get(model_type)
    if model_type in CONTAINERS and key and key in element:
        return {k: v for k, v in element.items() if k != key}
    return element


def has_blob_values(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get("modelType") == "Blob" and "value" in value:
            return True
        return any(has_blob_values(v) for v in value.values() if isinstance(v, dict | list))
    if isinstance(value, list):
        return any(has_blob_values(v) for v in value)
    return False


def without_blob_values(value: Any) -> Any:
    """A copy without the contents of Blobs (extent=withoutBlobValue, the default)."""
    if isinstance(value, dict):
        if value.get("modelType") == "Blob":
            return {k: v for k, v in value.items() if k != "value"}
        return {
            k: without_blob_values(v) if isinstance(v, dict | list) else v for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_blob_values(v) for v in value]
    return value


def metadata(element: JsonObject) -> JsonObject:
    model_type = element.get("modelType", "")
    if model_type in NO_METADATA:
        raise ElementError(f"the $metadata modifier does not apply to {model_type} elements")
    dropped = VALUE_ATTRIBUTES.get(model_type, ())
    return {k: v for k, v in element.items() if k not in dropped}


def submodel_metadata(submodel: JsonObject) -> JsonObject:
    return {k: v for k, v in submodel.items() if k != "submodelElements"}


# -- ValueOnly -----------------------------------------------------------------------------------


def typed(text: Any, value_type: str | None) -> Any:
    """An xs: lexical value as the JSON type ValueOnly uses (number, boolean or string)."""
    if not isinstance(text, str) or value_type is None:
        return text
    if value_type == "xs:boolean":
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        return text
    try:
        if value_type in INTEGER_TYPES:
            return int(text)
        if value_type in NUMBER_TYPES:
            number = float(text)
            return number if math.isfinite(number) else text  # NaN, INF stay lexical
    except ValueError:
        return text
    return text


def lexical(value: Any, value_type: str | None) -> str:
    """A ValueOnly JSON value as the xs: lexical string a Property stores."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value_type in INTEGER_TYPES and value.is_integer():
            return str(int(value))
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")
        return repr(value)
    if isinstance(value, str):
        return value
    raise ElementError(f"a {value_type or 'property'} value is a string, number or boolean")


def value_only(element: JsonObject, *, deep: bool = True, blobs: bool = False) -> Any:
    """The ValueOnly serialisation of one element (without its idShort around it)."""
    model_type = element.get("modelType", "")
    if model_type == "Property":
        return typed(element.get("value"), element.get("valueType"))
    if model_type == "MultiLanguageProperty":
        return [{s["language"]: s["text"]} for s in element.get("value", ())]
    if model_type == "Range":
        value_type = element.get("valueType")
        return {
            k: typed(element[k], value_type) for k in ("min", "max") if element.get(k) is not None
        }
    if model_type in ("File", "Blob"):
        result = {"contentType": element.get("contentType")}
        if "value" in element and (model_type == "File" or blobs):
            result["value"] = element["value"]
        return result
    if model_type == "ReferenceElement":
        return element.get("value")
    if model_type in ("RelationshipElement", "AnnotatedRelationshipElement"):
        result = {"first": element.get("first"), "second": element.get("second")}
        if model_type == "AnnotatedRelationshipElement" and element.get("annotations"):
            result["annotations"] = [
                {a["idShort"]: value_only(a, blobs=blobs)} for a in element["annotations"]
            ]
        return result
    if model_type == "SubmodelElementCollection":
        return children_values(element.get("value") or [], deep=deep, blobs=blobs) if deep else {}
    if model_type == "SubmodelElementList":
        if not deep:
            return []
        return [
            value_only(item, blobs=blobs)
            for item in element.get("value") or []
            if item.get("modelType") not in NO_VALUE
        ]
    if model_type == "Entity":
        result = {"entityType": element.get("entityType")}
        if deep:
            result["statements"] = children_values(element.get("statements") or [], blobs=blobs)
        if element.get("globalAssetId"):
            result["globalAssetId"] = element["globalAssetId"]
        if element.get("specificAssetIds"):
            result["specificAssetIds"] = [
                {s["name"]: s["value"]} for s in element["specificAssetIds"]
            ]
        return result
    if model_type == "BasicEventElement":
        return {"observed": element.get("observed")}
    raise ElementError(f"{model_type or 'this element'} has no ValueOnly serialisation")


def children_values(
    elements: list[JsonObject], *, deep: bool = True, blobs: bool = False
) -> JsonObject:
    """``{idShort: value}`` of the elements that have a value (Operations and Capabilities don't).

    Below the first level, ``deep=False`` leaves containers out (level=core).
    """
    result: JsonObject = {}
    for element in elements:
        model_type = element.get("modelType", "")
        if model_type in NO_VALUE or "idShort" not in element:
            continue
        if not deep and model_type in CONTAINERS:
            continue
        result[element["idShort"]] = value_only(element, blobs=blobs)
    return result


def has_value(element: JsonObject) -> bool:
    return element.get("modelType") not in NO_VALUE and "idShort" in element


def apply_value(element: JsonObject, value: Any) -> None:
    """Set an element's value from its ValueOnly form, in place (PATCH .../$value)."""
    model_type = element.get("modelType", "")
    if model_type == "Property":
        if value is None:
            element.pop("value", None)
        else:
            element["value"] = lexical(value, element.get("valueType"))
    elif model_type == "Range":
        _expect(isinstance(value, dict), "a Range value is {'min': ..., 'max': ...}")
        for key in ("min", "max"):
            if key in value:
                element[key] = lexical(value[key], element.get("valueType"))
    elif model_type == "MultiLanguageProperty":
        _expect(
            isinstance(value, list) and all(isinstance(v, dict) and len(v) == 1 for v in value),
            'a MultiLanguageProperty value is [{"en": "text"}, ...]',
        )
        element["value"] = [
            {"language": lang, "text": text} for item in value for lang, text in item.items()
        ]
    elif model_type in ("File", "Blob"):
        _expect(isinstance(value, dict), f'a {model_type} value is {{"contentType", "value"}}')
        for key in ("contentType", "value"):
            if key in value:
                element[key] = value[key]
    elif model_type == "ReferenceElement":
        _expect(isinstance(value, dict), "a ReferenceElement value is a Reference")
        element["value"] = value
    elif model_type == "SubmodelElementCollection":
        _expect(isinstance(value, dict), "a SubmodelElementCollection value is an object")
        apply_children_values(element.get("value") or [], value)
    elif model_type == "SubmodelElementList":
        items = element.get("value") or []
        _expect(
            isinstance(value, list) and len(value) == len(items),
            f"a SubmodelElementList value is a list of {len(items)} values",
        )
        for item, item_value in zip(items, value, strict=True):
            apply_value(item, item_value)
    elif model_type == "Entity":
        _expect(isinstance(value, dict), "an Entity value is an object")
        if "statements" in value:
            apply_children_values(element.get("statements") or [], value["statements"])
        for key in ("entityType", "globalAssetId"):
            if key in value:
                element[key] = value[key]
    else:
        raise ElementError(f"the value of a {model_type or 'this element'} cannot be set")


def apply_children_values(elements: list[JsonObject], values: Any) -> None:
    _expect(isinstance(values, dict), "expected an object of idShort: value")
    by_id_short = {e.get("idShort"): e for e in elements}
    for id_short, value in values.items():
        element = by_id_short.get(id_short)
        if element is None:
            raise ElementError(f"no element {id_short!r} to set a value on")
        apply_value(element, value)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ElementError(message)
