"""AAS files in and out: AASX packages (with supplementary files), AAS JSON and AAS XML (V3.0).

``export_environment(env, path)`` writes by suffix. ``import_environment(path, strict=...)``
reads a file werk or any other tool wrote and reports every problem with where it is (a JSON
path such as ``submodels[2].submodelElements[4]``, or an XML line) and the rule it broke (the
AASd constraint where basyx names one, else ``metamodel``, ``json-syntax``, ``duplicate-id``, ...):

- **strict** refuses the whole file on the first violation: :class:`TwinImportError`, a
  ``ValidationError`` whose ``field`` is the path and ``rule`` the rule;
- **failsafe** keeps every identifiable and element it can and reports what it dropped.

A JSON environment is decoded one identifiable at a time; when basyx refuses one, the descent
into its elements finds the innermost element at fault, so the report names it and, in failsafe
mode, basyx's failsafe decoder keeps the rest of that identifiable.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json.json_deserialization import (
    AASFromJsonDecoder,
    StrictAASFromJsonDecoder,
)
from basyx.aas.adapter.json.json_serialization import write_aas_json_file
from basyx.aas.adapter.xml.xml_deserialization import read_aas_xml_file_into
from basyx.aas.adapter.xml.xml_serialization import write_aas_xml_file
from basyx.aas.model.concept import ConceptDescription
from basyx.aas.util import traversal
from lxml import etree
from pyecma376_2.core_properties import OPCCoreProperties
from pyecma376_2.package_model import part_realpath
from pyecma376_2.zip_package import ZipPackageReader

from werk import __version__
from werk.core.errors import ValidationError
from werk.twin._gc import paused_gc
from werk.twin.aas import SupplementaryFile, TwinEnvironment

FORMATS = ("aasx", "json", "xml")
AASX_PART = "/aasx/data.xml"
_AAS_XML_NAMESPACE = "https://admin-shell.io/aas/3/0"
_ENVIRONMENT_KEYS = {
    "assetAdministrationShells": model.AssetAdministrationShell,
    "submodels": model.Submodel,
    "conceptDescriptions": ConceptDescription,
}
_CONSTRAINT = re.compile(r"Constraint (AASd-\d{3})")
_FAILED_AT = re.compile(r"Failed to construct (\S+) on line (\d+)")
_DEPRECATED_ORIGIN = "http://www.admin-shell.io/aasx/relationships/aasx-origin"
_DEPRECATED_SPEC = "http://www.admin-shell.io/aasx/relationships/aas-spec"


class TwinImportError(ValidationError):
    """A strict import refused a file; ``field`` is where (a path or line), ``rule`` why."""


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """One problem found reading a file; ``dropped`` says what a failsafe import left out."""

    path: str
    rule: str
    message: str
    level: Literal["error", "warning"] = "error"
    dropped: str = ""

    def __str__(self) -> str:
        tail = f" [{self.dropped} dropped]" if self.dropped else ""
        return f"{self.path}: {self.message} ({self.rule}){tail}"


@dataclass
class ImportResult:
    """What an import kept (``env``) and what it found wrong (``report``)."""

    env: TwinEnvironment
    report: list[ImportIssue] = field(default_factory=list)
    format: str = ""

    @property
    def errors(self) -> list[ImportIssue]:
        return [i for i in self.report if i.level == "error"]


# ------------------------------------------------------------------------------------------------
# export


def export_environment(
    env: TwinEnvironment,
    path: str | Path,
    *,
    fmt: str | None = None,
    created: datetime.datetime | None = None,
) -> Path:
    """Write ``env`` to ``path`` as AASX, JSON or XML (by ``fmt``, else by the suffix)."""
    target = Path(path)
    kind = (fmt or target.suffix.lstrip(".")).lower()
    if kind not in FORMATS:
        raise ValidationError(
            f"{target}: unknown AAS file format {kind!r}; use .aasx, .json or .xml",
            field="format",
            rule="format",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with paused_gc():
        _write(env, target, kind, created)
    return target


def _write(
    env: TwinEnvironment, target: Path, kind: str, created: datetime.datetime | None
) -> None:
    if kind == "json":
        with target.open("w", encoding="utf-8") as file:
            write_aas_json_file(file, env.objects, indent=1)
    elif kind == "xml":
        with target.open("wb") as file:
            write_aas_xml_file(file, env.objects, pretty_print=True)
    else:
        _write_aasx(env, target, created)


def _write_aasx(env: TwinEnvironment, target: Path, created: datetime.datetime | None) -> None:
    files = aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]
    for supplementary in env.files:
        data = supplementary.data
        if data is None and supplementary.source is not None:
            data = Path(supplementary.source).read_bytes()
        stored = files.add_file(
            supplementary.name, io.BytesIO(data or b""), supplementary.content_type
        )
        if stored != supplementary.name:  # pragma: no cover - werk's names are unique
            raise ValidationError(
                f"supplementary file {supplementary.name} given twice", rule="aasx"
            )
    properties = OPCCoreProperties()  # type: ignore[no-untyped-call]
    properties.creator = "werk"
    properties.title = _title(env)
    properties.created = created or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    properties.version = "3.0"
    properties.description = f"AAS V3.0 environment written by werk {__version__}"
    with aasx.AASXWriter(target, failsafe=False) as writer:
        writer.write_all_aas_objects(AASX_PART, env.objects, files)
        writer.write_core_properties(properties)
        thumbnail = next(
            (f for f in env.files if f.content_type.startswith("image/") and f.source), None
        )
        if thumbnail is not None and thumbnail.source is not None:
            writer.write_thumbnail(
                "/aasx/thumbnail" + Path(thumbnail.name).suffix,
                bytearray(Path(thumbnail.source).read_bytes()),
                thumbnail.content_type,
            )


def _title(env: TwinEnvironment) -> str:
    shells = env.shells()
    return f"{len(shells)} asset administration shells" if shells else "AAS environment"


# ------------------------------------------------------------------------------------------------
# import


def import_environment(path: str | Path, *, strict: bool) -> ImportResult:
    """Read an AASX, JSON or XML file; see the module docstring for strict and failsafe."""
    source = Path(path)
    kind = source.suffix.lstrip(".").lower()
    if kind not in FORMATS:
        raise TwinImportError(
            f"{source}: unknown AAS file format {kind!r}; use .aasx, .json or .xml",
            field=str(source),
            rule="format",
        )
    if not source.is_file():
        raise TwinImportError(f"{source} not found", field=str(source), rule="file")
    reader = _Reader(strict)
    with _quiet_basyx(), paused_gc():
        if kind == "aasx":
            objects, files = reader.aasx(source)
        else:
            objects, files = reader.document(source.read_bytes(), kind, ""), []
    store: model.DictObjectStore[model.Identifiable] = model.DictObjectStore()
    seen: set[str] = set()
    for obj in objects:
        if obj.id in seen:
            reader.issue(
                f"{_describe(obj)}",
                "duplicate-id",
                f"id {obj.id!r} is used twice",
                dropped="second one",
            )
            continue
        seen.add(obj.id)
        store.add(obj)
    reader.dangling_references(store, seen)
    return ImportResult(TwinEnvironment(store, files), reader.report, kind)


class _Reader:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.report: list[ImportIssue] = []

    def issue(
        self,
        path: str,
        rule: str,
        message: str,
        *,
        dropped: str = "",
        level: Literal["error", "warning"] = "error",
        cause: BaseException | None = None,
    ) -> None:
        if self.strict and level == "error":
            raise TwinImportError(f"{path}: {message} ({rule})", field=path, rule=rule) from cause
        self.report.append(ImportIssue(path, rule, message, level, dropped))

    # --- documents ------------------------------------------------------------------------------

    def document(self, data: bytes, kind: str, where: str) -> list[model.Identifiable]:
        if kind == "json":
            return self.json(data, where)
        return self.xml(data, where)

    def json(self, data: bytes, where: str) -> list[model.Identifiable]:
        prefix = f"{where}:" if where else ""
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            self.issue(f"{prefix}byte {error.start}", "json-syntax", "not UTF-8 text", cause=error)
            return []
        except json.JSONDecodeError as error:
            self.issue(
                f"{prefix}line {error.lineno} column {error.colno}",
                "json-syntax",
                f"not valid JSON: {error.msg}",
                cause=error,
            )
            return []
        if not isinstance(document, dict):
            self.issue(prefix + "$", "metamodel", "an AAS environment is a JSON object")
            return []
        found: list[model.Identifiable] = []
        for key, value in document.items():
            if key not in _ENVIRONMENT_KEYS:
                self.issue(
                    f"{prefix}{key}",
                    "metamodel",
                    f"unknown key {key!r} in an environment "
                    f"(known: {', '.join(_ENVIRONMENT_KEYS)})",
                    dropped="key",
                )
                continue
            if not isinstance(value, list):
                self.issue(f"{prefix}{key}", "metamodel", "must be a list", dropped="key")
                continue
            for position, item in enumerate(value):
                obj = self.json_identifiable(
                    item, f"{prefix}{key}[{position}]", _ENVIRONMENT_KEYS[key]
                )
                if obj is not None:
                    found.append(obj)
        return found

    def json_identifiable(self, item: Any, path: str, expected: type) -> model.Identifiable | None:
        obj: Any = None
        for _ in range(_MAX_REPAIRS):
            try:
                obj = _decode(item, StrictAASFromJsonDecoder)
                break
            except Exception as error:
                culprits = _culprits(item, ()) or [((), item, error)]
                for keys, element, cause in culprits:
                    where = path + _format_path(keys) + _label(element)
                    self.issue(where, _rule(cause), _message(cause, element), cause=cause)
                    dropped = "element" if keys else _kind(item)
                    self.report[-1] = ImportIssue(
                        where, _rule(cause), _message(cause, element), "error", dropped
                    )
                if any(not keys for keys, _, _ in culprits):
                    return None
                item = _prune(item, [keys for keys, _, _ in culprits])
        else:  # pragma: no cover - an identifiable that keeps breaking as elements are removed
            self.report.append(
                ImportIssue(path, "metamodel", "gave up repairing it", "error", _kind(item))
            )
            return None
        if not isinstance(obj, expected):
            self.issue(
                path,
                "metamodel",
                f"a {type(obj).__name__} in the list of {expected.__name__}s",
                dropped=_kind(item),
            )
            return None
        return cast(model.Identifiable, obj)

    def xml(self, data: bytes, where: str) -> list[model.Identifiable]:
        prefix = f"{where}:" if where else ""
        parser = etree.XMLParser(remove_blank_text=True, huge_tree=True, resolve_entities=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as error:
            line = error.lineno or 0
            self.issue(
                f"{prefix}line {line}", "xml-syntax", f"not valid XML: {error.msg}", cause=error
            )
            return []
        namespace = etree.QName(root).namespace
        if namespace != _AAS_XML_NAMESPACE:
            self.issue(
                f"{prefix}line {root.sourceline}",
                "xml-namespace",
                f"root element {etree.QName(root).localname!r} in namespace {namespace!r}; "
                f"werk reads AAS V3.0 ({_AAS_XML_NAMESPACE})",
            )
            return []
        store: model.DictObjectStore[model.Identifiable] = model.DictObjectStore()
        records: list[logging.LogRecord] = []
        with _capture("basyx.aas.adapter.xml", records):
            try:
                read_aas_xml_file_into(
                    store, io.BytesIO(data), failsafe=not self.strict, huge_tree=True
                )
            except Exception as error:
                path, message = _xml_location(error)
                self.issue(f"{prefix}{path}", _rule(error), message, cause=error)
                return []
        for record in records:
            text = record.getMessage()
            if record.levelno < logging.WARNING:
                continue
            located = _FAILED_AT.search(text)
            path = f"line {located.group(2)} ({located.group(1)})" if located else "document"
            reason = text.split("\n", 1)[0]
            reason = re.sub(r"^\w+(Error|Violation): ", "", reason)
            reason = re.sub(r"\s*\(Constraint AASd-\d{3}\)", "", reason)
            self.report.append(
                ImportIssue(
                    f"{prefix}{path}",
                    _rule_of_text(text),
                    reason,
                    "error" if record.levelno >= logging.ERROR else "warning",
                    "element" if located else "",
                )
            )
        return list(store)

    # --- AASX -----------------------------------------------------------------------------------

    def aasx(self, source: Path) -> tuple[list[model.Identifiable], list[SupplementaryFile]]:
        try:
            package = ZipPackageReader(source)
        except Exception as error:
            self.issue(
                str(source.name), "aasx-package", f"not an AASX (OPC) package: {error}", cause=error
            )
            return [], []
        try:
            return self._aasx_contents(package)
        finally:
            package.close()

    def _aasx_contents(
        self, package: ZipPackageReader
    ) -> tuple[list[model.Identifiable], list[SupplementaryFile]]:
        relations = package.get_related_parts_by_type()
        origins = relations[aasx.RELATIONSHIP_TYPE_AASX_ORIGIN] or relations[_DEPRECATED_ORIGIN]
        if not origins:
            self.issue(
                "/_rels/.rels", "aasx-origin", "no aasx-origin relationship: not an AASX package"
            )
            return [], []
        if not relations[aasx.RELATIONSHIP_TYPE_AASX_ORIGIN]:
            self.issue(
                "/_rels/.rels",
                "aasx-deprecated",
                "uses the deprecated www.admin-shell.io relationship types; read anyway",
                level="warning",
            )
        spec_relations = package.get_related_parts_by_type(origins[0])
        parts = spec_relations[aasx.RELATIONSHIP_TYPE_AAS_SPEC] or spec_relations[_DEPRECATED_SPEC]
        if not parts:
            self.issue(
                origins[0], "aasx-spec", "the package holds no AAS part (aas-spec relationship)"
            )
        objects: list[model.Identifiable] = []
        for part in parts:
            content_type = package.get_content_type(part).split(";")[0]
            suffix = part.rsplit(".", 1)[-1].lower()
            if content_type.endswith("json") or suffix == "json":
                kind = "json"
            elif content_type.endswith("xml") or suffix == "xml":
                kind = "xml"
            else:
                self.issue(part, "aasx-spec", f"AAS part of unknown type {content_type!r}")
                continue
            try:
                with package.open_part(part) as stream:
                    data = stream.read()
            except KeyError as error:
                self.issue(
                    part, "aasx-spec", "the AAS part is missing from the package", cause=error
                )
                continue
            objects.extend(self.document(data, kind, part))
        return objects, self._supplementary(package, objects, parts[0] if parts else "/")

    def _supplementary(
        self, package: ZipPackageReader, objects: list[model.Identifiable], base: str
    ) -> list[SupplementaryFile]:
        found: dict[str, SupplementaryFile] = {}
        for reference, where in _file_references(objects):
            if reference.startswith("//") or ":" in reference.split("/")[0]:
                continue  # an absolute URI: not a file in the package
            name = part_realpath(reference, base)
            if name in found:
                continue
            try:
                with package.open_part(name) as stream:
                    data = stream.read()
                content_type = package.get_content_type(name)
            except KeyError:
                self.issue(
                    where,
                    "aasx-missing-file",
                    f"refers to {reference!r}, which the package does not hold",
                    level="warning",
                )
                continue
            found[name] = SupplementaryFile(name, content_type, data=data)
        return list(found.values())

    # --- cross-checks ---------------------------------------------------------------------------

    def dangling_references(
        self, store: model.DictObjectStore[model.Identifiable], ids: set[str]
    ) -> None:
        for obj in store:
            if not isinstance(obj, model.AssetAdministrationShell):
                continue
            for reference in obj.submodel:
                target = reference.key[-1].value if reference.key else ""
                if target not in ids:
                    self.report.append(
                        ImportIssue(
                            _describe(obj),
                            "dangling-reference",
                            f"refers to submodel {target!r}, which the file does not hold",
                            "warning",
                        )
                    )


# ------------------------------------------------------------------------------------------------
# helpers


def _decode(item: Any, decoder: type[AASFromJsonDecoder]) -> Any:
    """Apply basyx's JSON object hook bottom-up, as ``json.loads(..., cls=decoder)`` would."""
    hook: Callable[[dict[str, Any]], Any] = decoder.object_hook

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return hook({k: walk(v) for k, v in value.items()})
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(item)


Keys = tuple[str | int, ...]
_MAX_REPAIRS = 20


def _children(item: Any) -> Iterator[tuple[Keys, Any]]:
    """Nested objects with a modelType (elements, statements, ...), with their relative keys."""
    if not isinstance(item, dict):
        return
    for key, value in item.items():
        if isinstance(value, list):
            for position, child in enumerate(value):
                if isinstance(child, dict) and "modelType" in child:
                    yield (key, position), child
        elif isinstance(value, dict) and "modelType" in value:
            yield (key,), value


def _culprits(item: Any, keys: Keys) -> list[tuple[Keys, Any, BaseException]]:
    """The innermost objects under ``item`` that basyx's strict decoder refuses."""
    try:
        _decode(item, StrictAASFromJsonDecoder)
    except Exception as error:
        below: list[tuple[Keys, Any, BaseException]] = []
        for child_keys, child in _children(item):
            below.extend(_culprits(child, keys + child_keys))
        if not below:
            # Rules about an element among its siblings fail on the parent: name the elements.
            rule = _rule(error)
            seen: set[str] = set()
            for child_keys, child in _children(item):
                name = child.get("idShort")
                if (rule == "AASd-117" and not name) or (rule == "AASd-022" and name in seen):
                    below.append((keys + child_keys, child, error))
                if isinstance(name, str):
                    seen.add(name)
        return below or [(keys, item, error)]
    return []


def _format_path(keys: Keys) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys)


def _prune(item: Any, paths: list[Keys]) -> Any:
    """A copy of ``item`` without the objects at ``paths`` (failsafe keeps the rest)."""
    pruned = copy.deepcopy(item)
    # Deepest and highest index first, so earlier removals do not shift later paths.
    for keys in sorted(
        paths, key=lambda k: (len(k), k[-1] if isinstance(k[-1], int) else 0), reverse=True
    ):
        container = pruned
        for key in keys[:-1]:
            container = container[key]
        del container[keys[-1]]
    return pruned


def _label(element: Any) -> str:
    if isinstance(element, dict):
        name = element.get("idShort") or element.get("id")
        kind = element.get("modelType")
        if isinstance(name, str) and isinstance(kind, str):
            return f" ({kind} {name!r})"
        if isinstance(kind, str):
            return f" ({kind})"
    return ""


def _kind(item: Any) -> str:
    kind = item.get("modelType") if isinstance(item, dict) else None
    return kind if isinstance(kind, str) else "object"


def _describe(obj: model.Identifiable) -> str:
    return f"{type(obj).__name__} {obj.id!r}"


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _rule(error: BaseException) -> str:
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, model.AASConstraintViolation):
            return f"AASd-{current.constraint_id:03d}"
        current = current.__cause__
    return _rule_of_text(str(error))


def _rule_of_text(text: str) -> str:
    found = _CONSTRAINT.search(text)
    return found.group(1) if found else "metamodel"


def _message(error: BaseException, element: Any = None) -> str:
    cause = _root_cause(error)
    attributes = element if isinstance(element, dict) else {}
    if isinstance(cause, KeyError) and cause.args:
        key = cause.args[0]
        for name, value in attributes.items():
            if value == key:
                return f"{name} {key!r} is not one the metamodel knows"
        return f"missing attribute {key!r}"
    if isinstance(cause, ValueError) and "value" in attributes and "valueType" in attributes:
        return f"value {attributes['value']!r} is not a valid {attributes['valueType']}: {cause}"
    text = str(cause).split(" >>> ", 1)[0]
    text = re.sub(r"^Error while trying to convert JSON object into \w+: ", "", text)
    text = re.sub(r"\s*\(Constraint AASd-\d{3}\)", "", text)
    return text or type(cause).__name__


def _xml_location(error: BaseException) -> tuple[str, str]:
    """(``line N (element)``, reason) from basyx's chain of 'Failed to construct' errors."""
    location = "document"
    current: BaseException | None = error
    while current is not None:
        found = _FAILED_AT.search(str(current))
        if found:
            location = f"line {found.group(2)} ({found.group(1)})"
        current = current.__cause__
    cause = _root_cause(error)
    message = re.sub(r"\s*\(Constraint AASd-\d{3}\)", "", str(cause))
    if isinstance(cause, KeyError):
        message = message.strip("'\"")
    return location, message


def _file_references(objects: Iterable[model.Identifiable]) -> Iterator[tuple[str, str]]:
    for obj in objects:
        if isinstance(obj, model.AssetAdministrationShell):
            thumbnail = obj.asset_information.default_thumbnail
            if thumbnail is not None and thumbnail.path:
                yield thumbnail.path, f"{_describe(obj)} defaultThumbnail"
        elif isinstance(obj, model.Submodel):
            for element in traversal.walk_submodel(obj):
                if isinstance(element, model.File) and element.value:
                    yield element.value, f"{_describe(obj)} File {element.id_short!r}"


class _ListHandler(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _capture(name: str, records: list[logging.LogRecord]) -> Iterator[None]:
    logger = logging.getLogger(name)
    handler = _ListHandler(records)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextlib.contextmanager
def _quiet_basyx() -> Iterator[None]:
    """basyx logs every failsafe drop; werk reports them itself, so keep them off the console."""
    logger = logging.getLogger("basyx")
    propagate = logger.propagate
    silent = logging.NullHandler()  # without a handler, logging would print to stderr itself
    logger.addHandler(silent)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(silent)
        logger.propagate = propagate


def canonical_json(env: TwinEnvironment | Iterable[model.Identifiable]) -> dict[str, Any]:
    """The AAS JSON of an environment in a stable order, for comparing two environments.

    basyx keeps several lists of the metamodel in sets (a shell's submodel references, an
    element's qualifiers, value lists), so their serialised order changes from run to run. Every
    list is sorted here except those whose order means something: reference keys and the values
    of a SubmodelElementList.
    """
    objects = env.objects if isinstance(env, TwinEnvironment) else env
    store: model.DictObjectStore[model.Identifiable] = model.DictObjectStore(objects)
    buffer = io.StringIO()
    write_aas_json_file(buffer, store)
    document: dict[str, Any] = _sorted_lists(json.loads(buffer.getvalue()), ordered=False)
    return document


def _sorted_lists(value: Any, ordered: bool) -> Any:
    if isinstance(value, dict):
        is_list = value.get("modelType") == "SubmodelElementList"
        return {
            key: _sorted_lists(item, ordered=key == "keys" or (is_list and key == "value"))
            for key, item in value.items()
        }
    if isinstance(value, list):
        items = [_sorted_lists(item, ordered=False) for item in value]
        return (
            items if ordered else sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
        )
    return value
