"""Live values in the twin: Properties bound to signals show the latest sample, not a stored value.

A Property is bound to a signal by a Qualifier of type ``WerkSignal`` whose value is the signal id
(``werk.twin.aas`` puts one on every Property of a plant's Operational Data submodel; any
Property, in any submodel, that carries one is bound the same way). Reads of a bound Property, of
its ``$value`` and of anything that contains it show the latest value from the live state
(``werk.twin.state.LiveState``), written in the Property's ``valueType``; a Property whose signal
has not reported yet shows its stored value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from werk.api.aas.elements import FLOAT_TYPES, INTEGER_TYPES, Node
from werk.twin.semantics import SIGNAL_QUALIFIER

__all__ = ["SIGNAL_QUALIFIER", "Binding", "find_bindings", "lexical", "typed"]

Sample = tuple[int, float, int]


@dataclass(frozen=True, slots=True)
class Binding:
    path: str
    signal: str
    value_type: str


def find_bindings(index: Mapping[str, Node]) -> dict[str, Binding]:
    """The bound Properties of a submodel, by idShort path."""
    bindings: dict[str, Binding] = {}
    for path, node in index.items():
        element = node.element
        if element.get("modelType") != "Property":
            continue
        for qualifier in element.get("qualifiers") or ():
            if qualifier.get("type") == SIGNAL_QUALIFIER and qualifier.get("value"):
                bindings[path] = Binding(
                    path, qualifier["value"], element.get("valueType", "xs:string")
                )
                break
    return bindings


def lexical(value: float, value_type: str) -> str | None:
    """A sample's value in a Property's valueType; ``None`` where it has none (NaN as an int)."""
    if value_type == "xs:boolean":
        return None if math.isnan(value) else ("true" if value != 0 else "false")
    if not math.isfinite(value):
        if value_type in FLOAT_TYPES or value_type == "xs:string":
            return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")
        return None
    if value_type in INTEGER_TYPES:
        return str(round(value))
    if value_type == "xs:decimal":
        return format(Decimal(repr(float(value))).normalize(), "f")
    if value_type in FLOAT_TYPES or value_type == "xs:string":
        return repr(float(value))
    return repr(float(value))


def typed(value: float, value_type: str) -> Any:
    """A sample's value as ValueOnly JSON (number, boolean, or the lexical form of NaN/INF)."""
    if value_type == "xs:boolean":
        return None if math.isnan(value) else value != 0
    if not math.isfinite(value):
        return lexical(value, value_type)
    if value_type in INTEGER_TYPES:
        return round(value)
    if value_type == "xs:string":
        return repr(float(value))
    return float(value)
