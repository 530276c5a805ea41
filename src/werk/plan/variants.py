"""Mass customisation: a product configured from options expands into a routing.

A product lists its options (``frame``: steel, alu, carbon) and its steps. Each step says which
machines can do it and how long a piece takes on each, when it applies (``when``: only for some
option values), how options stretch it (``factors``: carbon takes 1.5 times as long) and its
setup family, a template over the options (``"paint-{color}"``): two consecutive steps of
different families on a machine need a changeover. ::

    [[products]]
    id = "bike"
    options = { frame = ["steel", "alu", "carbon"], color = ["red", "black"] }
    [[products.steps]]
    id = "weld"
    machines = { weld1 = 6, weld2 = 7 }      # time units per piece on each machine
    batch = 10                               # plus a fixed time per order
    when = { frame = ["steel", "alu"] }
    family = "weld-{frame}"

An order names the product, its choices and a quantity; ``configure`` turns that into the
order's operations, or raises ``ValidationError`` naming the option and the rule it broke.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werk.core import ValidationError
from werk.plan.model import Operation, Option


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    machines: Mapping[str, float]
    batch: float = 0.0
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    factors: Mapping[tuple[str, str], float] = field(default_factory=dict)
    family: str = ""

    def applies(self, choices: Mapping[str, str]) -> bool:
        return all(choices.get(option) in values for option, values in self.when.items())

    def duration(self, per_piece: float, choices: Mapping[str, str], quantity: int) -> int:
        factor = math.prod(self.factors.get((k, v), 1.0) for k, v in choices.items())
        # a hair below the next integer is float noise, not another time unit
        return max(0, math.ceil((self.batch + per_piece * quantity) * factor - 1e-9))


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    options: Mapping[str, tuple[str, ...]]
    steps: tuple[Step, ...]
    defaults: Mapping[str, str] = field(default_factory=dict)

    def configure(
        self, choices: Mapping[str, str], quantity: int = 1, *, where: str = "order"
    ) -> tuple[Operation, ...]:
        """The routing of one configured order (``where`` names it in error messages)."""
        chosen = {**self.defaults, **{k: str(v) for k, v in choices.items()}}
        for option, value in chosen.items():
            if option not in self.options:
                raise ValidationError(
                    f"{where}: product {self.id!r} has no option {option!r} "
                    f"(options: {', '.join(self.options) or 'none'})",
                    field=f"{where}.options.{option}",
                    rule="unknown-option",
                )
            if value not in self.options[option]:
                raise ValidationError(
                    f"{where}: {option}={value!r} is not offered for {self.id!r} "
                    f"(choose one of {', '.join(self.options[option])})",
                    field=f"{where}.options.{option}",
                    rule="option-value",
                )
        missing = [option for option in self.options if option not in chosen]
        if missing:
            raise ValidationError(
                f"{where}: product {self.id!r} needs a choice for {', '.join(missing)}",
                field=f"{where}.options.{missing[0]}",
                rule="option-missing",
            )
        if quantity < 1:
            raise ValidationError(
                f"{where}: quantity {quantity} must be at least 1",
                field=f"{where}.quantity",
                rule="positive",
            )
        operations = []
        for step in self.steps:
            if not step.applies(chosen):
                continue
            options = tuple(
                Option(machine, step.duration(per_piece, chosen, quantity))
                for machine, per_piece in step.machines.items()
            )
            family = string.Formatter().vformat(step.family, (), chosen) if step.family else ""
            operations.append(Operation(step.id, options, family))
        return tuple(operations)


def product_from_dict(raw: Mapping[str, Any], where: str) -> Product:
    """A product from its TOML/JSON table; errors name ``where`` (``products[0]``)."""
    _only(raw, {"id", "options", "defaults", "steps", "name"}, where)
    product_id = _text(raw, "id", where)
    options_raw = raw.get("options") or {}
    if not isinstance(options_raw, Mapping):
        raise ValidationError(
            f"{where}.options must be a table of option -> list of values",
            field=f"{where}.options",
            rule="type",
        )
    options = {
        str(k): tuple(str(v) for v in _list(vals, f"{where}.options.{k}"))
        for k, vals in options_raw.items()
    }
    steps = []
    for i, step_raw in enumerate(_list(raw.get("steps"), f"{where}.steps")):
        at = f"{where}.steps[{i}]"
        if not isinstance(step_raw, Mapping):
            raise ValidationError(f"{at} must be a table", field=at, rule="type")
        _only(step_raw, {"id", "machines", "batch", "when", "factors", "family"}, at)
        machines = step_raw.get("machines")
        if not isinstance(machines, Mapping):
            raise ValidationError(
                f"{at}.machines must be a table of machine -> time per piece",
                field=f"{at}.machines",
                rule="type",
            )
        when = {
            str(k): tuple(str(v) for v in (vals if isinstance(vals, list) else [vals]))
            for k, vals in (step_raw.get("when") or {}).items()
        }
        for option, values in when.items():
            unknown = [v for v in values if option not in options or v not in options[option]]
            if unknown:
                raise ValidationError(
                    f"{at}.when: {option}={unknown[0]!r} is not an option value of {product_id!r}",
                    field=f"{at}.when.{option}",
                    rule="option-value",
                )
        factors = {}
        for key, value in (step_raw.get("factors") or {}).items():
            option, _, choice = str(key).partition("=")
            if option not in options or choice not in options[option]:
                raise ValidationError(
                    f"{at}.factors: {key!r} must be option=value of {product_id!r}",
                    field=f"{at}.factors",
                    rule="option-value",
                )
            factors[(option, choice)] = _number(value, f"{at}.factors.{key}")
        family = str(step_raw.get("family", ""))
        try:
            family.format(**{k: v[0] if v else "" for k, v in options.items()})
        except (KeyError, IndexError, ValueError) as error:
            raise ValidationError(
                f"{at}.family {family!r}: braces must name an option ({error})",
                field=f"{at}.family",
                rule="template",
            ) from None
        steps.append(
            Step(
                id=_text(step_raw, "id", at),
                machines={str(m): _number(d, f"{at}.machines.{m}") for m, d in machines.items()},
                batch=_number(step_raw.get("batch", 0), f"{at}.batch"),
                when=when,
                factors=factors,
                family=family,
            )
        )
    defaults = {str(k): str(v) for k, v in (raw.get("defaults") or {}).items()}
    return Product(product_id, options, tuple(steps), defaults)


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValidationError(
            f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})",
            field=f"{where}.{unknown[0]}",
            rule="unknown-field",
        )


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if value is None or str(value).strip() == "":
        raise ValidationError(f"{where}.{key} is required", field=f"{where}.{key}", rule="required")
    return str(value)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError(f"{where} must be a list", field=where, rule="type")
    return list(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{where} must be a number, not {value!r}", field=where, rule="type")
    if value < 0:
        raise ValidationError(f"{where} must not be negative ({value})", field=where, rule="min")
    return float(value)
