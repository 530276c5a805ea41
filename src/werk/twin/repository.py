"""Where the twin lives: AAS identifiables in memory, each persisted as one JSON file.

A ``TwinRepository`` holds the shells, submodels and concept descriptions of the plant as their
canonical AAS JSON (IDTA-01001 v3.0), together with that JSON already serialised, so a read costs
a dictionary lookup and no serialisation. Every write is checked by basyx's strict decoder (the
metamodel and its AASd constraints), re-encoded to the canonical form and written to disk before it
becomes visible::

    directory/
      shells/<base64url id>.json
      submodels/<base64url id>.json
      concept-descriptions/<base64url id>.json
      plant.json          which identifiables came from the plant file, and its fingerprint

A file is written to a temporary name, flushed to disk and renamed over the old one, so a crash
leaves either the old or the new version, never half of one. Everything is loaded at start.

**The plant and the API.** ``sync_plant(environment)`` is what the composition root calls with the
environment built from the plant file. An empty repository takes all of it. A repository that
already holds data keeps it as long as the plant's fingerprint is unchanged, so edits made through
the API survive restarts. When the plant file changes, the identifiables that come from the plant
are replaced by the new plant's version (API edits to them are lost, and the report says how many
were replaced), those the plant no longer has are removed, and identifiables created through the
API are kept.

Thread-safe: writers take a lock; readers never wait, because an entry is replaced as a whole.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from werk.core import ValidationError, WerkError

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]


class Kind(StrEnum):
    """The three kinds of identifiable a repository holds; the value names their folder."""

    SHELL = "shells"
    SUBMODEL = "submodels"
    CONCEPT_DESCRIPTION = "concept-descriptions"

    @property
    def model_type(self) -> str:
        return _MODEL_TYPES[self]

    @property
    def environment_key(self) -> str:
        return _ENVIRONMENT_KEYS[self]


_MODEL_TYPES = {
    Kind.SHELL: "AssetAdministrationShell",
    Kind.SUBMODEL: "Submodel",
    Kind.CONCEPT_DESCRIPTION: "ConceptDescription",
}
_ENVIRONMENT_KEYS = {
    Kind.SHELL: "assetAdministrationShells",
    Kind.SUBMODEL: "submodels",
    Kind.CONCEPT_DESCRIPTION: "conceptDescriptions",
}
_KIND_OF_MODEL_TYPE = {v: k for k, v in _MODEL_TYPES.items()}

PLANT_FILE = "plant.json"
_LONGEST_FILE_STEM = 200  # most file systems allow 255 bytes per name
ABANDONED_WRITE_S = 600.0  # a temporary file this old is no write in flight


class TwinError(WerkError):
    """The twin repository refused or failed an operation."""


class IdentifiableNotFound(TwinError):
    def __init__(self, kind: Kind, identifier: str) -> None:
        super().__init__(f"no {kind.model_type} with id {identifier!r}")
        self.kind = kind
        self.identifier = identifier


class IdentifiableExists(TwinError):
    def __init__(self, kind: Kind, identifier: str) -> None:
        super().__init__(f"a {kind.model_type} with id {identifier!r} exists already")
        self.kind = kind
        self.identifier = identifier


class InvalidModel(ValidationError):
    """The JSON is not a valid AAS object; ``rule`` names the AASd constraint where there is one."""


@dataclass(frozen=True, slots=True)
class Stored:
    """One identifiable as held: its canonical JSON (never mutate it) and that JSON as bytes.

    ``version`` grows with every write to the repository, so ``(id, version)`` names one state of
    one identifiable; caches key on it.
    """

    kind: Kind
    id: str
    data: JsonObject
    json: bytes
    version: int


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``sync_plant`` did: ids added, replaced and removed, per kind (empty when unchanged)."""

    fingerprint: str
    changed: bool
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


# -- canonical JSON ------------------------------------------------------------------------------


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON, the form every response and file uses."""
    return _ENCODER.encode(data).encode()


def canonical(data: Mapping[str, Any] | object, kind: Kind | None = None) -> JsonObject:
    """The canonical JSON of an identifiable given as JSON or as a basyx object.

    Raises ``InvalidModel`` when basyx's strict decoder rejects it: a missing or mistyped attribute,
    or a broken AASd constraint (named in ``rule``).
    """
    from basyx.aas import model
    from basyx.aas.adapter.json.json_deserialization import StrictAASFromJsonDecoder
    from basyx.aas.adapter.json.json_serialization import AASToJsonEncoder

    if isinstance(data, Mapping):
        model_type = data.get("modelType")
        expected = kind.model_type if kind is not None else None
        if expected is not None and model_type != expected:
            raise InvalidModel(
                f"modelType must be {expected!r}, not {model_type!r}",
                field="modelType",
                rule="model-type",
            )
        try:
            obj = json.loads(json.dumps(data), cls=StrictAASFromJsonDecoder)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            violation = _constraint_violation(error, model.AASConstraintViolation)
            if violation is not None:
                rule = f"AASd-{violation.constraint_id:03d}"
                raise InvalidModel(str(violation), field="", rule=rule) from error
            raise InvalidModel(_describe(error), field="", rule="metamodel") from error
    else:
        obj = data
    if not isinstance(obj, model.Identifiable):
        raise InvalidModel(
            "modelType must name an identifiable "
            "(AssetAdministrationShell, Submodel or ConceptDescription)",
            field="modelType",
            rule="model-type",
        )
    encoded = json.loads(json.dumps(obj, cls=AASToJsonEncoder))
    if kind is not None and encoded.get("modelType") != kind.model_type:
        raise InvalidModel(
            f"modelType must be {kind.model_type!r}", field="modelType", rule="model-type"
        )
    result = _drop_empty_lists(encoded)
    if isinstance(data, Mapping):
        result = _in_given_order(result, data)
    assert isinstance(result, dict)
    return result


def _constraint_violation(error: BaseException, violation_type: type[Any]) -> Any:
    # basyx wraps a broken constraint in the TypeError of the object it was decoding.
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, violation_type):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return f"missing attribute {error.args[0]!r}" if error.args else "missing attribute"
    return str(error) or type(error).__name__


def _drop_empty_lists(value: Any) -> Any:
    # Every list in the AAS JSON schema has at least one item; basyx writes some empty ones
    # (an Entity's specificAssetIds) that strict readers reject.
    if isinstance(value, dict):
        return {k: _drop_empty_lists(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [_drop_empty_lists(v) for v in value]
    return value


def _in_given_order(encoded: Any, given: Any) -> Any:
    # basyx keeps some lists as sets (a shell's submodel references, value lists), so encoding
    # loses their order. Where a list holds exactly the items it was given, give them back in
    # that order; content never changes here, only the order of equal items.
    if isinstance(encoded, dict):
        if not isinstance(given, Mapping):
            return encoded
        return {k: _in_given_order(v, given.get(k)) for k, v in encoded.items()}
    if isinstance(encoded, list) and isinstance(given, list) and len(given) == len(encoded):
        by_text: dict[str, list[Any]] = {}
        for item in encoded:
            by_text.setdefault(_sorted_text(item), []).append(item)
        ordered = []
        for item in given:
            same = by_text.get(_sorted_text(item))
            if not same:
                return [_in_given_order(e, g) for e, g in zip(encoded, given, strict=True)]
            ordered.append(same.pop())
        return ordered
    return encoded


def _sorted_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def kind_of(data: Mapping[str, Any]) -> Kind:
    model_type = data.get("modelType")
    kind = _KIND_OF_MODEL_TYPE.get(model_type) if isinstance(model_type, str) else None
    if kind is None:
        raise InvalidModel(
            f"modelType {model_type!r} is not an identifiable", field="modelType", rule="model-type"
        )
    return kind


def b64url_encode(text: str) -> str:
    """The base64url form (no padding) the AAS API and the file names use for ids."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def b64url_decode(text: str) -> str:
    """Decode base64url with or without padding; ``ValueError`` when it is not base64url UTF-8."""
    stripped = text.rstrip("=")
    if not stripped or len(stripped) % 4 == 1:
        raise ValueError(f"{text!r} is not base64url")
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        raw = base64.b64decode(padded.translate(_URLSAFE_TO_STANDARD), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{text!r} is not base64url-encoded UTF-8") from error


_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


# -- the repository ------------------------------------------------------------------------------


class TwinRepository:
    """Shells, submodels and concept descriptions, in memory and on disk under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.RLock()
        self._entries: dict[Kind, dict[str, Stored]] = {kind: {} for kind in Kind}
        self._sorted: dict[Kind, list[Stored] | None] = {kind: None for kind in Kind}
        self._version = 0
        self._load()

    # -- reading ---------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Grows with every write; equal versions mean nothing changed in between."""
        return self._version

    def get(self, kind: Kind, identifier: str) -> Stored | None:
        return self._entries[kind].get(identifier)

    def require(self, kind: Kind, identifier: str) -> Stored:
        stored = self._entries[kind].get(identifier)
        if stored is None:
            raise IdentifiableNotFound(kind, identifier)
        return stored

    def list(self, kind: Kind) -> list[Stored]:
        """Every identifiable of ``kind``, ordered by id (the order paging walks)."""
        ordered = self._sorted[kind]
        if ordered is None:
            entries = self._entries[kind]
            ordered = [entries[i] for i in sorted(entries)]
            self._sorted[kind] = ordered
        return ordered

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    def is_empty(self) -> bool:
        return len(self) == 0

    def environment(
        self,
        shells: Iterable[str] | None = None,
        submodels: Iterable[str] | None = None,
        *,
        concept_descriptions: bool = True,
    ) -> JsonObject:
        """An AAS environment of the given ids (all when ``None``); empty lists are left out."""
        selected: dict[Kind, Iterable[str] | None] = {
            Kind.SHELL: shells,
            Kind.SUBMODEL: submodels,
            Kind.CONCEPT_DESCRIPTION: None if concept_descriptions else (),
        }
        environment: JsonObject = {}
        for kind, ids in selected.items():
            if ids is None:
                items = [s.data for s in self.list(kind)]
            else:
                items = [self.require(kind, i).data for i in dict.fromkeys(ids)]
            if items:
                environment[kind.environment_key] = items
        return environment

    # -- writing ---------------------------------------------------------------------------------

    def put(
        self, data: Mapping[str, Any] | object, kind: Kind | None = None
    ) -> tuple[Stored, bool]:
        """Create or replace an identifiable; return it as stored and whether it was new."""
        document = canonical(data, kind)
        kind = kind_of(document)
        with self._lock:
            created = document["id"] not in self._entries[kind]
            return self._write(kind, document), created

    def create(self, data: Mapping[str, Any] | object, kind: Kind | None = None) -> Stored:
        """Add a new identifiable; ``IdentifiableExists`` if its id is taken."""
        document = canonical(data, kind)
        kind = kind_of(document)
        with self._lock:
            if document["id"] in self._entries[kind]:
                raise IdentifiableExists(kind, document["id"])
            return self._write(kind, document)

    def update(
        self, kind: Kind, identifier: str, change: Callable[[JsonObject], JsonObject]
    ) -> Stored:
        """Apply ``change`` to a copy of the stored JSON and store the result, atomically.

        ``change`` may raise to refuse; the stored version stays as it was. The id cannot change.
        """
        with self._lock:
            current = self.require(kind, identifier)
            document = canonical(change(copy.deepcopy(current.data)), kind)
            if document["id"] != identifier:
                raise InvalidModel(
                    f"the id cannot change (from {identifier!r} to {document['id']!r})",
                    field="id",
                    rule="id-immutable",
                )
            return self._write(kind, document)

    def delete(self, kind: Kind, identifier: str) -> bool:
        """Remove an identifiable; ``False`` if there was none."""
        with self._lock:
            if identifier not in self._entries[kind]:
                return False
            path = self._path(kind, identifier)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            _sync_directory(path.parent)
            self._version += 1
            entries = dict(self._entries[kind])
            del entries[identifier]
            self._publish(kind, entries)
            return True

    def replace_all(self, objects: Iterable[Mapping[str, Any] | object]) -> None:
        """Make the repository hold exactly ``objects`` (and forget where they came from)."""
        documents = [canonical(obj) for obj in objects]
        with self._lock:
            for kind in Kind:
                for identifier in list(self._entries[kind]):
                    self.delete(kind, identifier)
            for document in documents:
                self._write(kind_of(document), document)
            with contextlib.suppress(FileNotFoundError):
                (self.directory / PLANT_FILE).unlink()

    def load_environment(self, environment: Mapping[str, Any] | Iterable[object]) -> int:
        """Add or replace every identifiable of an environment; return how many."""
        documents = [canonical(obj) for obj in _identifiables(environment)]
        with self._lock:
            for document in documents:
                self._write(kind_of(document), document)
        return len(documents)

    def sync_plant(
        self,
        environment: Mapping[str, Any] | Iterable[object],
        *,
        fingerprint: str | None = None,
        force: bool = False,
    ) -> SyncReport:
        """Bring the plant's identifiables in; see the module docstring for the rules.

        ``fingerprint`` names the plant's version cheaply (a hash of the plant file, say): when
        it matches the last sync, nothing is encoded at all. Without it, the fingerprint is the
        hash of the environment's canonical JSON, which costs an encoding of every object.
        """
        known = self._read_plant_file().get("fingerprint")
        if fingerprint is not None and not force and known == fingerprint:
            return SyncReport(fingerprint, changed=False)
        documents = [canonical(obj) for obj in _identifiables(environment)]
        fingerprint = fingerprint or _fingerprint(documents)
        with self._lock:
            previous = self._read_plant_file()
            if not force and previous.get("fingerprint") == fingerprint:
                return SyncReport(fingerprint, changed=False)
            report = SyncReport(fingerprint, changed=True)
            new_keys = set()
            for document in documents:
                kind = kind_of(document)
                new_keys.add((kind, document["id"]))
                current = self._entries[kind].get(document["id"])
                if current is None:
                    report.added.append(document["id"])
                elif current.data != document:
                    report.replaced.append(document["id"])
                else:
                    continue
                self._write(kind, document)
            for kind_name, identifier in previous.get("ids", []):
                kind = Kind(kind_name)
                if (kind, identifier) not in new_keys and self.delete(kind, identifier):
                    report.removed.append(identifier)
            self._write_plant_file(
                {
                    "fingerprint": fingerprint,
                    "ids": sorted([k.value, i] for k, i in new_keys),
                }
            )
        return report

    # -- internals -------------------------------------------------------------------------------

    def _write(self, kind: Kind, document: JsonObject) -> Stored:
        identifier = document["id"]
        raw = dumps(document)
        _atomic_write(self._path(kind, identifier), raw)
        self._version += 1
        stored = Stored(kind, identifier, document, raw, self._version)
        entries = dict(self._entries[kind])
        entries[identifier] = stored
        self._publish(kind, entries)
        return stored

    def _publish(self, kind: Kind, entries: dict[str, Stored]) -> None:
        # Readers see either the old dict or the new one: no reader ever takes the lock.
        self._entries[kind] = entries
        self._sorted[kind] = None

    def _path(self, kind: Kind, identifier: str) -> Path:
        stem = b64url_encode(identifier)
        if len(stem) > _LONGEST_FILE_STEM:
            stem = "sha256-" + hashlib.sha256(identifier.encode()).hexdigest()
        return self.directory / kind.value / f"{stem}.json"

    def _load(self) -> None:
        for kind in Kind:
            folder = self.directory / kind.value
            folder.mkdir(parents=True, exist_ok=True)
            entries: dict[str, Stored] = {}
            for path in sorted(folder.iterdir()):
                if path.name.endswith(".tmp"):
                    _remove_if_abandoned(path)
                    continue
                if path.suffix != ".json":
                    continue
                document = self._read_file(path, kind)
                if document is not None:
                    self._version += 1
                    raw = dumps(document)
                    entries[document["id"]] = Stored(
                        kind, document["id"], document, raw, self._version
                    )
            self._entries[kind] = entries
        log.info(
            "twin repository %s: %s",
            self.directory,
            ", ".join(f"{len(e)} {k.value}" for k, e in self._entries.items()),
        )

    @staticmethod
    def _read_file(path: Path, kind: Kind) -> JsonObject | None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.error("twin repository: skipping unreadable %s: %s", path, error)
            return None
        if (
            not isinstance(document, dict)
            or document.get("modelType") != kind.model_type
            or not isinstance(document.get("id"), str)
        ):
            log.error("twin repository: skipping %s: not a %s", path, kind.model_type)
            return None
        return document

    def _read_plant_file(self) -> JsonObject:
        try:
            data = json.loads((self.directory / PLANT_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            log.error("twin repository: ignoring unreadable %s: %s", PLANT_FILE, error)
            return {}
        return data if isinstance(data, dict) else {}

    def _write_plant_file(self, data: JsonObject) -> None:
        _atomic_write(self.directory / PLANT_FILE, dumps(data))


def _identifiables(environment: Mapping[str, Any] | Iterable[object]) -> Iterator[object]:
    if isinstance(environment, Mapping):
        for kind in Kind:
            yield from environment.get(kind.environment_key, None) or ()
    else:
        yield from environment


def _fingerprint(documents: list[JsonObject]) -> str:
    ordered = sorted(documents, key=lambda d: (d["modelType"], d["id"]))
    text = json.dumps(ordered, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _remove_if_abandoned(temporary: Path) -> None:
    """Remove a temporary file that a crash left behind; the old file beside it is intact.

    Processes of a scaled-out werk share the twin folder, so a young one may be another process's
    write in flight: only one older than ``ABANDONED_WRITE_S`` is abandoned.
    """
    with contextlib.suppress(FileNotFoundError):
        if time.time() - temporary.stat().st_mtime > ABANDONED_WRITE_S:
            temporary.unlink()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem[:40], suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
