"""The plant file: the ISA-95 hierarchy of a plant, its assets' nameplates, data and signals.

A plant file (TOML, or YAML with the same schema; ``examples/plant.toml`` documents every field)
is read by :func:`load_plant` into a frozen :class:`Plant`. Every mistake is reported with its
file, line and field, all of them at once, in one :class:`PlantFileError`::

    plant.toml:23: assets.press1.signals.temperature.unit: 'degC' is not a UCUM code;
    did you mean 'Cel'?

Hierarchy rules (ISA-95 role-based equipment hierarchy):

- a ``site`` has no parent; an ``area`` sits in a site, a ``line`` in an area, a ``cell`` in a line;
- equipment (``machine``, ``buffer``, ``conveyor``) sits in a line, a cell or an area (a
  stand-alone machine), never directly in a site or inside other equipment;
- ``feeds`` (material flow) links cells and equipment, never to itself.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from werk.core.errors import ValidationError
from werk.core.signal import Signal, SignalCatalog
from werk.twin._gc import paused_gc
from werk.twin._sourcelines import LineIndex, yaml_index
from werk.twin.analytics_spec import (
    AssetAnalytics,
    SignalAnalytics,
    parse_asset_analytics,
    parse_signal_analytics,
)
from werk.twin.calendar_spec import Calendar, parse_calendar
from werk.twin.plant_errors import PlantFileError, PlantProblem
from werk.twin.units import ucum_problem

Level = Literal["site", "area", "line", "cell", "machine", "buffer", "conveyor"]
DataType = Literal["double", "float", "long", "int", "short", "boolean", "string"]
Protocol = Literal["opcua", "sparkplug", "mqtt", "modbus", "sim"]

LEVELS: tuple[Level, ...] = get_args(Level)
DATA_TYPES: tuple[DataType, ...] = get_args(DataType)
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)
EQUIPMENT: frozenset[str] = frozenset({"machine", "buffer", "conveyor"})

# Which levels each level may sit in (None: no parent at all).
ALLOWED_PARENTS: dict[str, frozenset[str]] = {
    "site": frozenset(),
    "area": frozenset({"site"}),
    "line": frozenset({"area"}),
    "cell": frozenset({"line"}),
    "machine": frozenset({"area", "line", "cell"}),
    "buffer": frozenset({"area", "line", "cell"}),
    "conveyor": frozenset({"area", "line", "cell"}),
}
FEEDING_LEVELS: frozenset[str] = frozenset({"cell", *EQUIPMENT})

# Asset ids and signal names become AAS idShorts (AASd-002): a letter first, then letters,
# digits, _ and -, not ending in -.
_ID_SHORT = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9_])?$")
_PLANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_OPCUA_NODE = re.compile(r"^(?:ns=\d+;)?(?:i=\d+|s=.+|g=[0-9A-Fa-f-]{36}|b=[A-Za-z0-9+/=]+)$")
_SPARKPLUG = re.compile(r"^[^/#+\s]+/[^/#+\s]+(?:/[^/#+\s]+)?:[^\s].*$")
_MODBUS = re.compile(r"^\d{1,3}:(?:coil|discrete|input|holding):\d{1,5}(?::[a-z0-9]+)?$")
_IRI_OR_IRDI = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:\S+|\d{4}-\d#\d{2}-[A-Z0-9]{6}#\d{3})$")


@dataclass(frozen=True, slots=True)
class SourceBinding:
    """Where a signal's values come from: a protocol and an address in its own notation."""

    protocol: Protocol
    address: str

    def __str__(self) -> str:
        return f"{self.protocol}:{self.address}"


@dataclass(frozen=True, slots=True)
class PlantSignal:
    """A signal of an asset: the core :class:`Signal` plus what the twin needs to describe it."""

    signal: Signal
    name: str
    data_type: DataType = "double"
    source: SourceBinding | None = None
    semantic_id: str | None = None
    analytics: SignalAnalytics = field(default_factory=SignalAnalytics)

    @property
    def id(self) -> str:
        return self.signal.id


@dataclass(frozen=True, slots=True)
class TechnicalProperty:
    """One technical datum (IDTA 02003 TechnicalProperties): ``max_force = 2500 kN``."""

    name: str
    value: str | int | float | bool
    unit: str | None = None
    semantic_id: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ContactInformation:
    """The nameplate's contact (IDTA 02002 Contact Information, as used by 02006)."""

    company: str | None = None
    department: str | None = None
    street: str | None = None
    zip_code: str | None = None
    city: str | None = None
    state: str | None = None
    national_code: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None


@dataclass(frozen=True, slots=True)
class Nameplate:
    """Digital Nameplate data (IDTA 02006-2-0). The first four and a contact are mandatory."""

    manufacturer_name: str
    product_designation: str
    uri_of_the_product: str
    year_of_construction: str
    contact: ContactInformation
    product_family: str | None = None
    product_type: str | None = None
    product_root: str | None = None
    order_code: str | None = None
    article_number: str | None = None
    serial_number: str | None = None
    date_of_manufacture: datetime.date | None = None
    hardware_version: str | None = None
    firmware_version: str | None = None
    software_version: str | None = None
    country_of_origin: str | None = None


@dataclass(frozen=True, slots=True)
class Asset:
    """A node of the ISA-95 hierarchy: a site, area, line, cell or a piece of equipment."""

    id: str
    level: Level
    name: str = ""
    parent: str | None = None
    description: str = ""
    global_asset_id: str | None = None
    nameplate: Nameplate | None = None
    technical_data: tuple[TechnicalProperty, ...] = ()
    signals: tuple[PlantSignal, ...] = ()
    feeds: tuple[str, ...] = ()
    image: Path | None = None
    analytics: AssetAnalytics = field(default_factory=AssetAnalytics)
    calendar: Calendar | None = None
    """Its own working time; ``None``: its parent's (:meth:`Plant.calendar_of`)."""


@dataclass(frozen=True, slots=True)
class Plant:
    """A validated plant: assets in file order, parents before their children's use."""

    id: str
    name: str
    assets: tuple[Asset, ...]
    description: str = ""
    language: str = "en"
    source: Path | None = None
    source_text: str = field(default="", repr=False, compare=False)
    _by_id: Mapping[str, Asset] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._by_id:
            object.__setattr__(self, "_by_id", {a.id: a for a in self.assets})

    def asset(self, asset_id: str) -> Asset:
        return self._by_id[asset_id]

    def __contains__(self, asset_id: object) -> bool:
        return asset_id in self._by_id

    def roots(self) -> list[Asset]:
        return [a for a in self.assets if a.parent is None]

    def children(self, asset_id: str) -> list[Asset]:
        return [a for a in self.assets if a.parent == asset_id]

    def walk(self) -> Iterator[tuple[int, Asset]]:
        """Depth-first (depth, asset), children in file order."""
        children: dict[str | None, list[Asset]] = {}
        for asset in self.assets:
            children.setdefault(asset.parent, []).append(asset)
        stack = [(0, a) for a in reversed(children.get(None, []))]
        while stack:
            depth, asset = stack.pop()
            yield depth, asset
            stack.extend((depth + 1, c) for c in reversed(children.get(asset.id, [])))

    def signals(self) -> Iterator[PlantSignal]:
        for asset in self.assets:
            yield from asset.signals

    def catalog(self) -> SignalCatalog:
        return SignalCatalog(s.signal for s in self.signals())

    def calendar_of(self, asset_id: str) -> Calendar | None:
        """The calendar ``asset_id`` works to: its own, else its nearest ancestor's (``None``:
        no asset above it has one). ``KeyError`` for an asset not in the plant."""
        asset: Asset | None = self._by_id[asset_id]
        seen: set[str] = set()
        while asset is not None and asset.id not in seen:
            if asset.calendar is not None:
                return asset.calendar
            seen.add(asset.id)
            asset = self._by_id.get(asset.parent) if asset.parent is not None else None
        return None

    def global_asset_id(self, asset_id: str) -> str:
        """The asset's global id: given in the file, else ``urn:werk:<plant>:<asset>``."""
        return self._by_id[asset_id].global_asset_id or f"urn:werk:{self.id}:{asset_id}"


# ------------------------------------------------------------------------------------------------
# loading and validation

_TOP_KEYS = ("plant", "assets")
_PLANT_KEYS = ("id", "name", "description", "language")
_ASSET_KEYS = (
    "level",
    "name",
    "description",
    "parent",
    "global_asset_id",
    "feeds",
    "image",
    "nameplate",
    "technical_data",
    "signals",
    "analytics",
    "calendar",
)
_NAMEPLATE_REQUIRED = (
    "manufacturer_name",
    "product_designation",
    "uri_of_the_product",
    "year_of_construction",
)
_NAMEPLATE_OPTIONAL = (
    "product_family",
    "product_type",
    "product_root",
    "order_code",
    "article_number",
    "serial_number",
    "hardware_version",
    "firmware_version",
    "software_version",
    "country_of_origin",
)
_NAMEPLATE_KEYS = (*_NAMEPLATE_REQUIRED, *_NAMEPLATE_OPTIONAL, "date_of_manufacture", "contact")
_CONTACT_KEYS = tuple(ContactInformation.__dataclass_fields__)
_SIGNAL_KEYS = (
    "id",
    "unit",
    "description",
    "minimum",
    "maximum",
    "data_type",
    "source",
    "semantic_id",
    "expected_interval_s",
    "analytics",
)
_TECHNICAL_KEYS = ("value", "unit", "semantic_id", "description")
_DATA_TYPE_ALIASES = {
    "float64": "double",
    "real": "double",
    "number": "double",
    "float32": "float",
    "integer": "long",
    "int64": "long",
    "int32": "int",
    "int16": "short",
    "bool": "boolean",
    "str": "string",
    "text": "string",
}


def load_plant(path: str | Path) -> Plant:
    """Read and validate a plant file (``.toml``, ``.yaml`` or ``.yml``).

    Raises :class:`PlantFileError` (a ``ConfigError``) listing every problem with line and field.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlantFileError(
            [PlantProblem(str(source), None, "", "file not found", "file")]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PlantFileError(
            [PlantProblem(str(source), None, "", f"cannot read: {error}", "file")]
        ) from error
    with paused_gc():
        return parse_plant(
            text, name=str(source), fmt=source.suffix.lower().lstrip("."), base=source.parent
        )


def parse_plant(
    text: str, *, name: str = "plant.toml", fmt: str = "toml", base: Path | None = None
) -> Plant:
    """Validate plant-file ``text`` (``fmt``: toml, yaml or yml); ``name`` is used in messages."""
    checker = _Checker(name)
    data: Any
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise PlantFileError([_toml_problem(name, str(error))]) from error
        checker.index = LineIndex.from_toml(text)
    elif fmt in {"yaml", "yml"}:
        data = _load_yaml(text, checker)
    else:
        raise PlantFileError(
            [PlantProblem(name, None, "", f"unknown format {fmt!r}: use .toml or .yaml", "format")]
        )
    plant = _build(data, checker, base)
    if checker.problems:
        raise PlantFileError(checker.problems)
    assert plant is not None
    source = Path(name) if base is not None else None
    return Plant(
        id=plant.id,
        name=plant.name,
        description=plant.description,
        language=plant.language,
        assets=plant.assets,
        source=source,
        source_text=text,
    )


def _toml_problem(name: str, message: str) -> PlantProblem:
    found = re.search(r"\(at line (\d+), column \d+\)$", message)
    line = int(found.group(1)) if found else None
    text = message[: found.start()].strip() if found else message
    twice = re.match(r"Cannot declare \(((?:'[^']*'(?:, )?)+)\) twice", text)
    if twice:
        parts = re.findall(r"'([^']*)'", twice.group(1))
        if len(parts) == 2 and parts[0] == "assets":
            return PlantProblem(
                name,
                line,
                ".".join(parts),
                f"asset id {parts[1]!r} is defined twice",
                "duplicate-id",
            )
        return PlantProblem(name, line, ".".join(parts), "table defined twice", "duplicate-key")
    return PlantProblem(name, line, "", f"not valid TOML: {text}", "syntax")


def _load_yaml(text: str, checker: _Checker) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a dependency
        from werk.core.errors import MissingExtraError

        raise MissingExtraError("pyyaml", "yaml") from None
    try:
        data, index, duplicates = yaml_index(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise PlantFileError(
            [PlantProblem(checker.file, line, "", f"not valid YAML: {problem}", "syntax")]
        ) from error
    checker.index = index
    for path, line, key in duplicates:
        field_path = ".".join((*path, key))
        if len(path) == 1 and path[0] == "assets":
            message = f"asset id {key!r} is defined twice"
            rule = "duplicate-id"
        elif len(path) == 3 and path[0] == "assets" and path[2] == "signals":
            message = f"signal {key!r} is defined twice in asset {path[1]!r}"
            rule = "duplicate-id"
        else:
            message = f"key {key!r} is given twice"
            rule = "duplicate-key"
        checker.problems.append(PlantProblem(checker.file, line, field_path, message, rule))
    return data


class _Checker:
    """Collects problems; knows the line of each key path."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.index = LineIndex()
        self.problems: list[PlantProblem] = []
        self.bad_levels: set[str] = set()  # their hierarchy is not checked: the level is unknown

    def error(self, path: tuple[str, ...], message: str, rule: str) -> None:
        self.problems.append(
            PlantProblem(self.file, self.index.line(path), ".".join(path), message, rule)
        )

    def table(self, value: Any, path: tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, Any]:
        """``value`` as a table; unknown keys are reported with a did-you-mean."""
        if not isinstance(value, dict):
            self.error(path, f"must be a table, not {_kind(value)}", "type")
            return {}
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = (
                    f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(allowed)})"
                )
                self.error((*path, str(key)), f"unknown key {str(key)!r}{hint}", "unknown-key")
        return value

    def text(
        self, table: Mapping[str, Any], key: str, path: tuple[str, ...], *, required: bool = False
    ) -> str | None:
        if key not in table:
            if required:
                self.error((*path, key), "is required", "required")
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.error((*path, key), f"must be text, not {_kind(value)}", "type")
            return None
        value = str(value).strip()
        if not value and required:
            self.error((*path, key), "must not be empty", "required")
            return None
        return value or None

    def number(self, table: Mapping[str, Any], key: str, path: tuple[str, ...]) -> float | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error((*path, key), f"must be a number, not {_kind(value)}", "type")
            return None
        if math.isnan(value):
            self.error((*path, key), "must not be nan", "type")
            return None
        return float(value)


def _kind(value: Any) -> str:
    names = {dict: "a table", list: "a list", str: "text", bool: "a boolean", int: "an integer"}
    return names.get(type(value), f"a {type(value).__name__}")


@dataclass
class _Draft:
    id: str
    name: str
    description: str
    language: str
    assets: tuple[Asset, ...]


def _build(data: Any, check: _Checker, base: Path | None) -> _Draft | None:
    root = check.table(data, (), _TOP_KEYS)
    plant_table = check.table(root.get("plant", {}), ("plant",), _PLANT_KEYS)
    if "plant" not in root:
        check.error(("plant",), "a [plant] table with id and name is required", "required")
    plant_id = check.text(plant_table, "id", ("plant",), required="plant" in root) or "plant"
    if not _PLANT_ID.match(plant_id):
        check.error(
            ("plant", "id"),
            f"{plant_id!r} must start with a letter or digit and use only letters, digits, _ . -",
            "plant-id",
        )
    plant_name = check.text(plant_table, "name", ("plant",), required="plant" in root) or plant_id
    language = check.text(plant_table, "language", ("plant",)) or "en"
    description = check.text(plant_table, "description", ("plant",)) or ""

    assets_table = root.get("assets")
    if assets_table is None:
        check.error(("assets",), "no assets: add at least one [assets.<id>] table", "required")
        return None
    if not isinstance(assets_table, dict):
        check.error(
            ("assets",), f"must be a table of assets by id, not {_kind(assets_table)}", "type"
        )
        return None

    assets: list[Asset] = []
    for asset_id, body in assets_table.items():
        asset = _asset(str(asset_id), body, check, base)
        if asset is not None:
            assets.append(asset)
    _check_relations(assets, check)
    _check_signal_uniqueness(assets, check)
    return _Draft(plant_id, plant_name, description, language, tuple(assets))


def _asset(asset_id: str, body: Any, check: _Checker, base: Path | None) -> Asset | None:
    path = ("assets", asset_id)
    if not _ID_SHORT.match(asset_id):
        check.error(
            path,
            f"asset id {asset_id!r} must start with a letter, use only letters, digits, _ and -, "
            "end with a letter, digit or _, and have at most 64 characters (AAS idShort, AASd-002)",
            "asset-id",
        )
    table = check.table(body, path, _ASSET_KEYS)
    if not table and not isinstance(body, dict):
        return None
    level_text = check.text(table, "level", path, required=True)
    level: Level = "machine"
    if level_text is not None:
        if level_text in LEVELS:
            level = level_text
        else:
            check.bad_levels.add(asset_id)
            close = difflib.get_close_matches(level_text, LEVELS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            check.error(
                (*path, "level"),
                f"unknown level {level_text!r}{hint} (one of {', '.join(LEVELS)})",
                "level",
            )
    global_id = check.text(table, "global_asset_id", path)
    if global_id is not None and not _IRI_OR_IRDI.match(global_id):
        check.error(
            (*path, "global_asset_id"),
            f"{global_id!r} is not an IRI (scheme:rest, e.g. https://… or urn:…) or an IRDI",
            "iri",
        )
    feeds = _feeds(table, path, check)
    image: Path | None = None
    image_text = check.text(table, "image", path)
    if image_text is not None:
        image = (base / image_text) if base is not None else Path(image_text)
        if base is not None and not image.is_file():
            check.error((*path, "image"), f"image file {image_text!r} not found", "file")
        elif image.suffix.lower() not in _IMAGE_TYPES:
            check.error(
                (*path, "image"),
                f"image must be one of {', '.join(sorted(_IMAGE_TYPES))}",
                "file",
            )
    nameplate = (
        _nameplate(table["nameplate"], (*path, "nameplate"), check)
        if "nameplate" in table
        else None
    )
    technical = _technical(table.get("technical_data", {}), (*path, "technical_data"), check)
    signals = _signals(asset_id, table.get("signals", {}), (*path, "signals"), check)
    return Asset(
        id=asset_id,
        level=level,
        name=check.text(table, "name", path) or asset_id,
        parent=check.text(table, "parent", path),
        description=check.text(table, "description", path) or "",
        global_asset_id=global_id,
        nameplate=nameplate,
        technical_data=technical,
        signals=signals,
        feeds=feeds,
        image=image,
        analytics=parse_asset_analytics(table["analytics"], (*path, "analytics"), check)
        if "analytics" in table
        else AssetAnalytics(),
        calendar=parse_calendar(table["calendar"], (*path, "calendar"), check)
        if "calendar" in table
        else None,
    )


_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}


def image_content_type(path: Path) -> str:
    return _IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")


def _feeds(table: Mapping[str, Any], path: tuple[str, ...], check: _Checker) -> tuple[str, ...]:
    value = table.get("feeds", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        check.error((*path, "feeds"), "must be a list of asset ids", "type")
        return ()
    return tuple(value)


def _nameplate(body: Any, path: tuple[str, ...], check: _Checker) -> Nameplate | None:
    table = check.table(body, path, _NAMEPLATE_KEYS)
    if not table:
        return None
    required = {k: check.text(table, k, path, required=True) for k in _NAMEPLATE_REQUIRED}
    optional = {k: check.text(table, k, path) for k in _NAMEPLATE_OPTIONAL}
    year = required["year_of_construction"]
    if year is not None and not re.fullmatch(r"\d{4}", year):
        check.error((*path, "year_of_construction"), f"{year!r} must be a four-digit year", "year")
    uri = required["uri_of_the_product"]
    if uri is not None and not _IRI_OR_IRDI.match(uri):
        check.error((*path, "uri_of_the_product"), f"{uri!r} is not a URI", "iri")
    if optional["product_family"] is None and optional["product_type"] is None:
        check.error(
            path,
            "give product_family or product_type (IDTA 02006-2-0 needs one of them)",
            "required",
        )
    date = _date(table, "date_of_manufacture", path, check)
    contact = None
    if "contact" not in table:
        check.error(
            (*path, "contact"),
            "is required (IDTA 02006-2-0 ContactInformation): a table with company, city, ...",
            "required",
        )
    else:
        contact_table = check.table(table["contact"], (*path, "contact"), _CONTACT_KEYS)
        fields = {k: check.text(contact_table, k, (*path, "contact")) for k in _CONTACT_KEYS}
        if isinstance(table["contact"], dict) and not any(fields.values()):
            check.error((*path, "contact"), "give at least the company", "required")
        contact = ContactInformation(**fields)
    if None in required.values() or contact is None:
        return None
    return Nameplate(
        manufacturer_name=cast(str, required["manufacturer_name"]),
        product_designation=cast(str, required["product_designation"]),
        uri_of_the_product=cast(str, uri),
        year_of_construction=cast(str, year),
        contact=contact,
        date_of_manufacture=date,
        **optional,
    )


def _date(
    table: Mapping[str, Any], key: str, path: tuple[str, ...], check: _Checker
) -> datetime.date | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    check.error((*path, key), f"{value!r} is not a date (YYYY-MM-DD)", "date")
    return None


def _technical(body: Any, path: tuple[str, ...], check: _Checker) -> tuple[TechnicalProperty, ...]:
    if not isinstance(body, dict):
        check.error(path, f"must be a table of name = value, not {_kind(body)}", "type")
        return ()
    found = []
    for name, value in body.items():
        here = (*path, str(name))
        if not _ID_SHORT.match(str(name)):
            check.error(
                here, f"{name!r} must be usable as an AAS idShort (letters, digits, _)", "id-short"
            )
        unit = semantic_id = None
        description = ""
        if isinstance(value, dict):
            item = check.table(value, here, _TECHNICAL_KEYS)
            if "value" not in item:
                check.error((*here, "value"), "is required", "required")
                continue
            unit = check.text(item, "unit", here)
            semantic_id = check.text(item, "semantic_id", here)
            description = check.text(item, "description", here) or ""
            value = item["value"]
        if isinstance(value, datetime.date):
            value = value.isoformat()
        if not isinstance(value, str | int | float | bool):
            check.error(here, f"must be text, a number or a boolean, not {_kind(value)}", "type")
            continue
        if unit is not None and (problem := ucum_problem(unit)):
            check.error((*here, "unit"), problem, "unit")
        if semantic_id is not None and not _IRI_OR_IRDI.match(semantic_id):
            check.error((*here, "semantic_id"), f"{semantic_id!r} is not an IRI or IRDI", "iri")
        found.append(TechnicalProperty(str(name), value, unit, semantic_id, description))
    return tuple(found)


def _signals(
    asset_id: str, body: Any, path: tuple[str, ...], check: _Checker
) -> tuple[PlantSignal, ...]:
    if not isinstance(body, dict):
        check.error(path, f"must be a table of signals by name, not {_kind(body)}", "type")
        return ()
    found = []
    for name, spec in body.items():
        here = (*path, str(name))
        if not _ID_SHORT.match(str(name)):
            check.error(
                here,
                f"signal name {name!r} must start with a letter and use only letters, digits, _ "
                "and - (AAS idShort, AASd-002)",
                "id-short",
            )
        table = check.table(spec, here, _SIGNAL_KEYS)
        if not isinstance(spec, dict):
            continue
        signal_id = check.text(table, "id", here) or f"{asset_id}.{name}"
        unit = check.text(table, "unit", here) or "1"
        if "unit" in table and (problem := ucum_problem(str(table["unit"]))):
            check.error((*here, "unit"), problem, "unit")
            unit = "1"
        minimum = check.number(table, "minimum", here)
        maximum = check.number(table, "maximum", here)
        if minimum is not None and maximum is not None and minimum > maximum:
            check.error(
                (*here, "minimum"),
                f"minimum {minimum:g} is above maximum {maximum:g}",
                "range-order",
            )
            minimum = maximum = None
        interval = check.number(table, "expected_interval_s", here)
        if interval is not None and interval <= 0:
            check.error((*here, "expected_interval_s"), "must be above 0", "range")
            interval = None
        data_type = _data_type(table, here, check)
        semantic_id = check.text(table, "semantic_id", here)
        if semantic_id is not None and not _IRI_OR_IRDI.match(semantic_id):
            check.error((*here, "semantic_id"), f"{semantic_id!r} is not an IRI or IRDI", "iri")
        source = (
            _source(table.get("source"), (*here, "source"), check) if "source" in table else None
        )
        try:
            signal = Signal(
                id=signal_id,
                unit=unit,
                description=check.text(table, "description", here) or "",
                minimum=-math.inf if minimum is None else minimum,
                maximum=math.inf if maximum is None else maximum,
                asset=asset_id,
                expected_interval_s=interval,
            )
        except ValidationError as error:
            check.error((*here, error.field or "id"), str(error), error.rule)
            continue
        analytics = (
            parse_signal_analytics(table["analytics"], (*here, "analytics"), check)
            if "analytics" in table
            else SignalAnalytics()
        )
        found.append(PlantSignal(signal, str(name), data_type, source, semantic_id, analytics))
    return tuple(found)


def _data_type(table: Mapping[str, Any], path: tuple[str, ...], check: _Checker) -> DataType:
    text = check.text(table, "data_type", path)
    if text is None or text in DATA_TYPES:
        return text or "double"
    suggestion = _DATA_TYPE_ALIASES.get(text.lower()) or next(
        iter(difflib.get_close_matches(text, DATA_TYPES, n=1)), None
    )
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    check.error(
        (*path, "data_type"),
        f"unknown data type {text!r}{hint} (one of {', '.join(DATA_TYPES)})",
        "data-type",
    )
    return "double"


def _source(body: Any, path: tuple[str, ...], check: _Checker) -> SourceBinding | None:
    table = check.table(body, path, PROTOCOLS)
    given = [k for k in table if k in PROTOCOLS]
    if not isinstance(body, dict):
        return None
    if len(given) != 1:
        if not table or given:
            check.error(
                path,
                f"give exactly one of {', '.join(PROTOCOLS)}, "
                'e.g. { opcua = "ns=2;s=Press1.Temp" }',
                "source",
            )
        return None
    protocol: Protocol = given[0]
    address = check.text(table, protocol, path, required=True)
    if address is None:
        return None
    rules = {
        "opcua": (_OPCUA_NODE, "an OPC UA node id such as ns=2;s=Press1.Temp or ns=0;i=2258"),
        "sparkplug": (
            _SPARKPLUG,
            "Group/Node[/Device]:Metric, e.g. Plant1/Line1/Press1:Temperature",
        ),
        "modbus": (_MODBUS, "unit:table:address[:type], e.g. 1:holding:40001:float32"),
    }
    if protocol in rules:
        pattern, expected = rules[protocol]
        if not pattern.match(address):
            check.error((*path, protocol), f"{address!r} is not {expected}", "source")
            return None
    elif protocol == "mqtt" and (
        any(c in address for c in "#+") or any(c.isspace() for c in address)
    ):
        check.error(
            (*path, protocol),
            f"{address!r}: an MQTT source is one topic, without wildcards or spaces",
            "source",
        )
        return None
    return SourceBinding(protocol, address)


def _check_relations(assets: list[Asset], check: _Checker) -> None:
    by_id = {a.id: a for a in assets}
    ids = list(by_id)
    for asset in assets:
        path = ("assets", asset.id)
        allowed = ALLOWED_PARENTS[asset.level]
        if asset.id in check.bad_levels:
            if asset.parent is not None and asset.parent not in by_id:
                check.error(
                    (*path, "parent"),
                    f"unknown asset {asset.parent!r}{_hint(asset.parent, ids)}",
                    "parent-unknown",
                )
        elif asset.parent is None:
            if allowed:
                check.error(
                    (*path, "level"),
                    f"a {asset.level} needs a parent ({' or '.join(sorted(allowed))}); "
                    "only a site stands alone",
                    "parent-missing",
                )
        elif asset.parent not in by_id:
            check.error(
                (*path, "parent"),
                f"unknown asset {asset.parent!r}{_hint(asset.parent, ids)}",
                "parent-unknown",
            )
        else:
            parent = by_id[asset.parent]
            if parent.level not in allowed and parent.id not in check.bad_levels:
                where = " or ".join(sorted(allowed)) if allowed else "nothing: a site is a root"
                check.error(
                    (*path, "parent"),
                    f"a {asset.level} cannot sit in {parent.level} {parent.id!r} "
                    f"(ISA-95: a {asset.level} sits in {where})",
                    "parent-level",
                )
        for target in asset.feeds:
            if target == asset.id:
                check.error((*path, "feeds"), f"{asset.id!r} cannot feed itself", "feeds-self")
            elif target not in by_id:
                check.error(
                    (*path, "feeds"),
                    f"unknown asset {target!r}{_hint(target, ids)}",
                    "feeds-unknown",
                )
            elif asset.level not in FEEDING_LEVELS or by_id[target].level not in FEEDING_LEVELS:
                check.error(
                    (*path, "feeds"),
                    f"material flows between cells and equipment; {asset.id!r} is a "
                    f"{asset.level} and {target!r} a {by_id[target].level}",
                    "feeds-level",
                )
        if len(set(asset.feeds)) != len(asset.feeds):
            check.error((*path, "feeds"), "lists an asset twice", "duplicate-id")
    # A cycle in the parent chain (only possible with hand-made levels, but never loop forever).
    for asset in assets:
        seen = [asset.id]
        current = asset.parent
        while current is not None and current in by_id:
            if current in seen:
                if current == asset.id:
                    chain = " -> ".join([*seen, current])
                    check.error(("assets", asset.id, "parent"), f"parent cycle: {chain}", "cycle")
                break
            seen.append(current)
            current = by_id[current].parent
    used: dict[str, str] = {}
    for asset in assets:
        global_id = asset.global_asset_id
        if global_id is None:
            continue
        if global_id in used:
            check.error(
                ("assets", asset.id, "global_asset_id"),
                f"{global_id!r} is already the global asset id of {used[global_id]!r}",
                "duplicate-id",
            )
        used.setdefault(global_id, asset.id)


def _check_signal_uniqueness(assets: list[Asset], check: _Checker) -> None:
    ids: dict[str, tuple[str, ...]] = {}
    sources: dict[tuple[str, str], tuple[str, ...]] = {}
    for asset in assets:
        for signal in asset.signals:
            path = ("assets", asset.id, "signals", signal.name)
            if signal.id in ids:
                other = ".".join(ids[signal.id])
                check.error(
                    path, f"signal id {signal.id!r} is already used by {other}", "duplicate-id"
                )
            ids.setdefault(signal.id, path)
            if signal.source is None:
                continue
            key = (signal.source.protocol, signal.source.address)
            if key in sources:
                first = sources[key]
                line = check.index.line((*first, "source"))
                at = f" (line {line})" if line else ""
                check.error(
                    (*path, "source"),
                    f"{signal.source} is already bound to {'.'.join(first)}{at}",
                    "duplicate-source",
                )
            sources.setdefault(key, path)


def _hint(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
