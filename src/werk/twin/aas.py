"""The AAS model of a plant: one Asset Administration Shell per asset, built with basyx.

Each shell (id ``urn:werk:<plant>:aas:<asset>``, idShort the asset id) carries the submodels
that apply to its asset, with ids ``urn:werk:<plant>:sm:<asset>:<Submodel>``:

- ``Nameplate``: IDTA 02006-2-0 Digital Nameplate (assets with a nameplate);
- ``TechnicalData``: IDTA 02003-1-2 (assets with technical data);
- ``TimeSeries``: IDTA 02008-1-1, one LinkedSegment per signal whose Endpoint and Query point at
  werk's history API (``{base_url}/api/v1/history`` + ``signal=<id>``);
- ``OperationalData``: werk's own (``https://werk.dev/aas/OperationalData/1/0``), one Property
  per signal; its value is the signal's live value, filled in when served (see
  :func:`live_bindings`);
- ``HierarchicalStructures``: IDTA 02011-1-0, ArcheType OneDown: the asset's children (assets
  with children);
- ``MaterialFlow``: werk's own: which assets this one feeds (assets with ``feeds``);
- ``PlantDefinition``: werk's own, on the root shells: the plant file itself, a supplementary file
  of the AASX.

The same plant always gives the same ids and the same serialisation. Building is pure: image and
plant files are read by :mod:`werk.twin.files` at export, not here.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import quote

from basyx.aas import model
from basyx.aas.model.concept import ConceptDescription

from werk.twin import semantics as sem
from werk.twin._gc import paused_gc
from werk.twin.plant import (
    Asset,
    DataType,
    Nameplate,
    Plant,
    PlantSignal,
    TechnicalProperty,
    image_content_type,
)

_VALUE_TYPES: dict[DataType, type] = {
    "double": model.datatypes.Double,
    "float": model.datatypes.Float,
    "long": model.datatypes.Long,
    "int": model.datatypes.Int,
    "short": model.datatypes.Short,
    "boolean": model.datatypes.Boolean,
    "string": model.datatypes.String,
}


@dataclass(frozen=True, slots=True)
class SupplementaryFile:
    """A file the AASX carries: its part name in the package and where its bytes come from."""

    name: str
    content_type: str
    source: str | None = None  # a local path to read at export
    data: bytes | None = None


@dataclass
class TwinEnvironment:
    """Shells, submodels and concept descriptions (a basyx store) plus supplementary files."""

    objects: model.DictObjectStore[model.Identifiable]
    files: list[SupplementaryFile] = field(default_factory=list)

    def shells(self) -> list[model.AssetAdministrationShell]:
        return sorted(
            (o for o in self.objects if isinstance(o, model.AssetAdministrationShell)),
            key=lambda o: o.id,
        )

    def submodels(self) -> list[model.Submodel]:
        return sorted(
            (o for o in self.objects if isinstance(o, model.Submodel)), key=lambda o: o.id
        )

    def concept_descriptions(self) -> list[ConceptDescription]:
        return sorted(
            (o for o in self.objects if isinstance(o, ConceptDescription)),
            key=lambda o: o.id,
        )

    def get(self, identifier: str) -> model.Identifiable:
        return self.objects.get_identifiable(identifier)

    def __len__(self) -> int:
        return len(self.objects)


def shell_id(plant: Plant, asset_id: str) -> str:
    return f"urn:werk:{plant.id}:aas:{asset_id}"


def submodel_id(plant: Plant, asset_id: str, name: str) -> str:
    return f"urn:werk:{plant.id}:sm:{asset_id}:{name}"


def history_endpoint(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/history"


def build_environment(plant: Plant, *, base_url: str) -> TwinEnvironment:
    """The AAS environment of ``plant``; time series link to the werk API at ``base_url``."""
    with paused_gc():
        return _build(plant, base_url)


def _build(plant: Plant, base_url: str) -> TwinEnvironment:
    objects: model.DictObjectStore[model.Identifiable] = model.DictObjectStore()
    files: list[SupplementaryFile] = []
    builder = _Builder(plant, base_url)
    roots = {a.id for a in plant.roots()}
    for asset in plant.assets:
        submodels = list(builder.submodels(asset))
        if asset.id in roots and plant.source_text and asset.id == plant.roots()[0].id:
            plant_file = builder.plant_definition(asset)
            submodels.append(plant_file)
            files.append(
                SupplementaryFile(
                    _plant_part_name(plant),
                    _plant_content_type(plant),
                    data=plant.source_text.encode("utf-8"),
                )
            )
        thumbnail = None
        if asset.image is not None:
            part = f"/aasx/files/{asset.id}{asset.image.suffix.lower()}"
            content_type = image_content_type(asset.image)
            thumbnail = model.Resource(part, content_type)
            files.append(SupplementaryFile(part, content_type, source=str(asset.image)))
        shell = builder.shell(asset, submodels, thumbnail)
        objects.add(shell)
        for submodel in submodels:
            objects.add(submodel)
    return TwinEnvironment(objects, files)


def live_bindings(objects: Iterable[model.Identifiable]) -> dict[tuple[str, str], str]:
    """``(submodel id, idShort path) -> signal id`` for every Operational Data property.

    Works on any environment werk built or imported: the binding is the ``WerkSignal`` qualifier
    each Operational Data property carries. The API fills these properties with live values.
    """
    bindings: dict[tuple[str, str], str] = {}
    for submodel in objects:
        if not isinstance(submodel, model.Submodel) or not _has_semantic(
            submodel, sem.OPERATIONAL_DATA
        ):
            continue
        for path, element in _walk(submodel.submodel_element, ""):
            if not isinstance(element, model.Property):
                continue
            for qualifier in element.qualifier:
                if qualifier.type == sem.SIGNAL_QUALIFIER and qualifier.value:
                    bindings[(submodel.id, path)] = str(qualifier.value)
    return bindings


def _walk(
    elements: Iterable[model.SubmodelElement], prefix: str
) -> Iterator[tuple[str, model.SubmodelElement]]:
    for position, element in enumerate(elements):
        if element.id_short is not None:
            path = f"{prefix}.{element.id_short}" if prefix else element.id_short
        else:  # an element of a SubmodelElementList
            path = f"{prefix}[{position}]"
        yield path, element
        if isinstance(element, model.SubmodelElementCollection | model.SubmodelElementList):
            yield from _walk(element.value, path)


def _has_semantic(element: model.HasSemantics, iri: str) -> bool:
    reference = element.semantic_id
    return reference is not None and bool(reference.key) and reference.key[0].value == iri


def _plant_part_name(plant: Plant) -> str:
    suffix = plant.source.suffix.lower() if plant.source is not None else ".toml"
    return f"/aasx/files/plant{suffix or '.toml'}"


def _plant_content_type(plant: Plant) -> str:
    suffix = plant.source.suffix.lower() if plant.source is not None else ".toml"
    return "application/yaml" if suffix in {".yaml", ".yml"} else "application/toml"


@functools.lru_cache(maxsize=4096)
def _ref(iri: str) -> model.ExternalReference:
    # References are immutable in basyx: one object per IRI serves every element (and saves a
    # third of the build time of a large plant).
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


_IEC61360 = _ref(sem.DATA_SPECIFICATION_IEC61360)


class _Builder:
    def __init__(self, plant: Plant, base_url: str) -> None:
        self.plant = plant
        self.base_url = base_url
        self.language = plant.language
        # Embedded data specifications carry no parent: equal ones are shared, not rebuilt.
        self._specifications: dict[
            tuple[str, str | None, type, str], list[model.EmbeddedDataSpecification]
        ] = {}

    def text(self, value: str) -> model.MultiLanguageTextType:
        return model.MultiLanguageTextType({self.language: value})

    def name(self, value: str) -> model.MultiLanguageNameType:
        return model.MultiLanguageNameType({self.language: value[:128]})

    # --- shells ---------------------------------------------------------------------------------

    def shell(
        self,
        asset: Asset,
        submodels: list[model.Submodel],
        thumbnail: model.Resource | None,
    ) -> model.AssetAdministrationShell:
        return model.AssetAdministrationShell(
            asset_information=model.AssetInformation(
                asset_kind=model.AssetKind.INSTANCE,
                global_asset_id=self.plant.global_asset_id(asset.id),
                default_thumbnail=thumbnail,
            ),
            id_=shell_id(self.plant, asset.id),
            id_short=asset.id,
            display_name=self.name(asset.name) if asset.name else None,
            description=self.text(asset.description) if asset.description else None,
            submodel={model.ModelReference.from_referable(s) for s in submodels},
            extension=[
                model.Extension(
                    name=sem.LEVEL_EXTENSION,
                    value_type=model.datatypes.String,
                    value=asset.level,
                    semantic_id=_ref(sem.ISA95_LEVEL),
                )
            ],
        )

    def submodels(self, asset: Asset) -> Iterator[model.Submodel]:
        if asset.nameplate is not None:
            yield self.nameplate(asset, asset.nameplate)
        if asset.technical_data:
            yield self.technical_data(asset)
        if asset.signals:
            yield self.time_series(asset)
            yield self.operational_data(asset)
        children = (
            self.plant.children(asset.id)
            if asset.level not in {"machine", "buffer", "conveyor"}
            else []
        )
        if children:
            yield self.hierarchy(asset, children)
        if asset.feeds:
            yield self.material_flow(asset)

    def submodel(
        self, asset: Asset, name: str, semantic_id: str, elements: Iterable[model.SubmodelElement]
    ) -> model.Submodel:
        return model.Submodel(
            id_=submodel_id(self.plant, asset.id, name),
            id_short=name,
            semantic_id=_ref(semantic_id),
            submodel_element=elements,
            kind=model.ModellingKind.INSTANCE,
        )

    # --- Digital Nameplate (IDTA 02006-2-0) -----------------------------------------------------

    def nameplate(self, asset: Asset, plate: Nameplate) -> model.Submodel:
        elements: list[model.SubmodelElement] = []
        for key, (id_short, semantic_id, multi) in sem.NAMEPLATE_ELEMENTS.items():
            value = getattr(plate, key)
            if value is None:
                continue
            if multi:
                elements.append(
                    model.MultiLanguageProperty(
                        id_short, self.text(value), semantic_id=_ref(semantic_id)
                    )
                )
            elif isinstance(value, datetime.date):
                elements.append(
                    model.Property(
                        id_short, model.datatypes.Date, value, semantic_id=_ref(semantic_id)
                    )
                )
            else:
                elements.append(
                    model.Property(
                        id_short, model.datatypes.String, value, semantic_id=_ref(semantic_id)
                    )
                )
        elements.append(self.contact(plate))
        return self.submodel(asset, "Nameplate", sem.NAMEPLATE, elements)

    def contact(self, plate: Nameplate) -> model.SubmodelElementCollection:
        contact = plate.contact
        elements: list[model.SubmodelElement] = []
        for key, (id_short, semantic_id) in sem.CONTACT_ELEMENTS.items():
            value = getattr(contact, key)
            if value is not None:
                elements.append(
                    model.MultiLanguageProperty(
                        id_short, self.text(value), semantic_id=_ref(semantic_id)
                    )
                )
        if contact.phone:
            elements.append(
                model.SubmodelElementCollection(
                    "Phone",
                    [
                        model.MultiLanguageProperty(
                            "TelephoneNumber",
                            self.text(contact.phone),
                            semantic_id=_ref(sem.TELEPHONE_NUMBER),
                        )
                    ],
                    semantic_id=_ref(sem.PHONE),
                )
            )
        if contact.email:
            elements.append(
                model.SubmodelElementCollection(
                    "Email",
                    [
                        model.Property(
                            "EmailAddress",
                            model.datatypes.String,
                            contact.email,
                            semantic_id=_ref(sem.EMAIL_ADDRESS),
                        )
                    ],
                    semantic_id=_ref(sem.EMAIL),
                )
            )
        if contact.website:
            elements.append(
                model.Property(
                    "AddressOfAdditionalLink",
                    model.datatypes.String,
                    contact.website,
                    semantic_id=_ref(sem.ADDRESS_OF_ADDITIONAL_LINK),
                )
            )
        return model.SubmodelElementCollection(
            "ContactInformation", elements, semantic_id=_ref(sem.CONTACT_INFORMATION)
        )

    # --- Technical Data (IDTA 02003-1-2) --------------------------------------------------------

    def technical_data(self, asset: Asset) -> model.Submodel:
        general: list[model.SubmodelElement] = []
        plate = asset.nameplate
        if plate is not None:
            general.append(
                model.Property(
                    "ManufacturerName",
                    model.datatypes.String,
                    plate.manufacturer_name,
                    semantic_id=_ref(sem.MANUFACTURER_NAME),
                )
            )
            general.append(
                model.MultiLanguageProperty(
                    "ManufacturerProductDesignation",
                    self.text(plate.product_designation),
                    semantic_id=_ref(sem.MANUFACTURER_PRODUCT_DESIGNATION),
                )
            )
            if plate.article_number:
                general.append(
                    model.Property(
                        "ManufacturerArticleNumber",
                        model.datatypes.String,
                        plate.article_number,
                        semantic_id=_ref(sem.MANUFACTURER_ARTICLE_NUMBER),
                    )
                )
            if plate.order_code:
                general.append(
                    model.Property(
                        "ManufacturerOrderCode",
                        model.datatypes.String,
                        plate.order_code,
                        semantic_id=_ref(sem.MANUFACTURER_ORDER_CODE),
                    )
                )
        properties = [self.technical_property(p) for p in asset.technical_data]
        return self.submodel(
            asset,
            "TechnicalData",
            sem.TECHNICAL_DATA,
            [
                model.SubmodelElementCollection(
                    "GeneralInformation", general, semantic_id=_ref(sem.GENERAL_INFORMATION)
                ),
                model.SubmodelElementCollection(
                    "TechnicalProperties", properties, semantic_id=_ref(sem.TECHNICAL_PROPERTIES)
                ),
            ],
        )

    def technical_property(self, item: TechnicalProperty) -> model.Property:
        value = item.value
        value_type: type
        if isinstance(value, bool):
            value_type = model.datatypes.Boolean
        elif isinstance(value, int):
            value_type = model.datatypes.Long
        elif isinstance(value, float):
            value_type = model.datatypes.Double
        else:
            value_type = model.datatypes.String
        return model.Property(
            item.name,
            value_type,
            value,
            semantic_id=_ref(item.semantic_id or sem.SEMANTIC_ID_NOT_AVAILABLE),
            description=self.text(item.description) if item.description else None,
            embedded_data_specifications=self.iec61360(
                item.name, item.unit, value_type, item.description
            ),
        )

    def iec61360(
        self, name: str, unit: str | None, value_type: type, definition: str = ""
    ) -> list[model.EmbeddedDataSpecification]:
        """The unit of a property, as its IEC 61360 data specification says it (no other way)."""
        if unit is None or unit == "1":
            return []
        key = (name, unit, value_type, definition)
        if key not in self._specifications:
            self._specifications[key] = self._iec61360(name, unit, value_type, definition)
        return self._specifications[key]

    def _iec61360(
        self, name: str, unit: str, value_type: type, definition: str
    ) -> list[model.EmbeddedDataSpecification]:
        numeric = value_type in {model.datatypes.Double, model.datatypes.Float}
        data_type = (
            model.DataTypeIEC61360.REAL_MEASURE
            if numeric
            else model.DataTypeIEC61360.INTEGER_MEASURE
        )
        names = {"en": name[:255]}
        if self.language != "en":
            names[self.language] = name[:255]
        content = model.DataSpecificationIEC61360(
            preferred_name=model.PreferredNameTypeIEC61360(names),
            data_type=data_type,
            definition=model.DefinitionTypeIEC61360({self.language: definition})
            if definition
            else None,
            unit=unit,
        )
        return [model.EmbeddedDataSpecification(_IEC61360, content)]

    # --- Time Series Data (IDTA 02008-1-1) ------------------------------------------------------

    def time_series(self, asset: Asset) -> model.Submodel:
        endpoint = history_endpoint(self.base_url)
        record: list[model.SubmodelElement] = [
            model.Property("Time", model.datatypes.DateTime, semantic_id=_ref(sem.TS_UTC_TIME))
        ]
        segments: list[model.SubmodelElement] = []
        for signal in asset.signals:
            record.append(
                model.Property(
                    signal.name,
                    _VALUE_TYPES[signal.data_type],
                    semantic_id=_ref(signal.semantic_id or sem.OPERATIONAL_SIGNAL),
                )
            )
            segment: list[model.SubmodelElement] = [
                model.MultiLanguageProperty(
                    "Name", self.text(signal.id), semantic_id=_ref(sem.TS_SEGMENT_NAME)
                ),
            ]
            if signal.signal.description:
                segment.append(
                    model.MultiLanguageProperty(
                        "Description",
                        self.text(signal.signal.description),
                        semantic_id=_ref(sem.TS_SEGMENT_DESCRIPTION),
                    )
                )
            if signal.signal.expected_interval_s is not None:
                # The template leaves the time unit open: werk gives milliseconds and says so.
                segment.append(
                    model.Property(
                        "SamplingInterval",
                        model.datatypes.Long,
                        round(signal.signal.expected_interval_s * 1000),
                        semantic_id=_ref(sem.TS_SAMPLING_INTERVAL),
                        description=self.text("milliseconds"),
                    )
                )
            segment += [
                model.Property(
                    "Endpoint", model.datatypes.AnyURI, endpoint, semantic_id=_ref(sem.TS_ENDPOINT)
                ),
                model.Property(
                    "Query",
                    model.datatypes.String,
                    f"signal={quote(signal.id, safe='')}",
                    semantic_id=_ref(sem.TS_QUERY),
                ),
            ]
            segments.append(
                model.SubmodelElementCollection(
                    signal.name, segment, semantic_id=_ref(sem.TS_LINKED_SEGMENT)
                )
            )
        metadata: list[model.SubmodelElement] = [
            model.MultiLanguageProperty(
                "Name", self.text(f"{asset.name} signals"), semantic_id=_ref(sem.TS_METADATA_NAME)
            ),
            model.SubmodelElementCollection("Record", record, semantic_id=_ref(sem.TS_RECORD)),
        ]
        return self.submodel(
            asset,
            "TimeSeries",
            sem.TIME_SERIES,
            [
                model.SubmodelElementCollection(
                    "Metadata", metadata, semantic_id=_ref(sem.TS_METADATA)
                ),
                model.SubmodelElementCollection(
                    "Segments", segments, semantic_id=_ref(sem.TS_SEGMENTS)
                ),
            ],
        )

    # --- Operational Data (werk) ----------------------------------------------------------------

    def operational_data(self, asset: Asset) -> model.Submodel:
        return self.submodel(
            asset,
            "OperationalData",
            sem.OPERATIONAL_DATA,
            [self.live_property(signal) for signal in asset.signals],
        )

    def live_property(self, signal: PlantSignal) -> model.Property:
        core = signal.signal
        value_type = _VALUE_TYPES[signal.data_type]
        qualifiers = [model.Qualifier(sem.SIGNAL_QUALIFIER, model.datatypes.String, core.id)]
        if signal.source is not None:
            qualifiers.append(
                model.Qualifier(sem.SOURCE_QUALIFIER, model.datatypes.String, str(signal.source))
            )
        if not math.isinf(core.minimum):
            qualifiers.append(
                model.Qualifier(sem.MINIMUM_QUALIFIER, model.datatypes.Double, core.minimum)
            )
        if not math.isinf(core.maximum):
            qualifiers.append(
                model.Qualifier(sem.MAXIMUM_QUALIFIER, model.datatypes.Double, core.maximum)
            )
        semantic = signal.semantic_id or sem.OPERATIONAL_SIGNAL
        return model.Property(
            signal.name,
            value_type,
            semantic_id=_ref(semantic),
            supplemental_semantic_id=[_ref(sem.OPERATIONAL_SIGNAL)] if signal.semantic_id else (),
            category="VARIABLE",
            description=self.text(core.description) if core.description else None,
            qualifier=qualifiers,
            embedded_data_specifications=self.iec61360(
                signal.name, core.unit, value_type, core.description
            ),
        )

    # --- hierarchy (IDTA 02011-1-0) and material flow (werk) -------------------------------------

    def hierarchy(self, asset: Asset, children: list[Asset]) -> model.Submodel:
        sm_id = submodel_id(self.plant, asset.id, "HierarchicalStructures")
        entry_keys = (
            model.Key(model.KeyTypes.SUBMODEL, sm_id),
            model.Key(model.KeyTypes.ENTITY, "EntryNode"),
        )
        statements: list[model.SubmodelElement] = []
        for child in children:
            statements.append(
                model.Entity(
                    child.id,
                    model.EntityType.SELF_MANAGED_ENTITY,
                    global_asset_id=self.plant.global_asset_id(child.id),
                    semantic_id=_ref(sem.HS_NODE),
                    display_name=self.name(child.name) if child.name else None,
                )
            )
        for child in children:
            statements.append(
                model.RelationshipElement(
                    f"HasPart_{child.id}"[:128],
                    first=model.ModelReference(entry_keys, model.Entity),
                    second=model.ModelReference(
                        (*entry_keys, model.Key(model.KeyTypes.ENTITY, child.id)), model.Entity
                    ),
                    semantic_id=_ref(sem.HS_HAS_PART),
                )
            )
        return self.submodel(
            asset,
            "HierarchicalStructures",
            sem.HIERARCHICAL_STRUCTURES,
            [
                model.Property(
                    "ArcheType",
                    model.datatypes.String,
                    "OneDown",
                    semantic_id=_ref(sem.HS_ARCHE_TYPE),
                ),
                model.Entity(
                    "EntryNode",
                    model.EntityType.SELF_MANAGED_ENTITY,
                    statement=statements,
                    global_asset_id=self.plant.global_asset_id(asset.id),
                    semantic_id=_ref(sem.HS_ENTRY_NODE),
                ),
            ],
        )

    def material_flow(self, asset: Asset) -> model.Submodel:
        own = model.ModelReference(
            (model.Key(model.KeyTypes.ASSET_ADMINISTRATION_SHELL, shell_id(self.plant, asset.id)),),
            model.AssetAdministrationShell,
        )
        relations = [
            model.RelationshipElement(
                f"Feeds_{target}"[:128],
                first=own,
                second=model.ModelReference(
                    (
                        model.Key(
                            model.KeyTypes.ASSET_ADMINISTRATION_SHELL, shell_id(self.plant, target)
                        ),
                    ),
                    model.AssetAdministrationShell,
                ),
                semantic_id=_ref(sem.FEEDS),
            )
            for target in asset.feeds
        ]
        return self.submodel(asset, "MaterialFlow", sem.MATERIAL_FLOW, relations)

    def _plant_file_name(self) -> str:
        return PurePosixPath(str(self.plant.source or "plant.toml")).name

    def plant_definition(self, asset: Asset) -> model.Submodel:
        return self.submodel(
            asset,
            "PlantDefinition",
            sem.PLANT_DEFINITION,
            [
                model.File(
                    "PlantFile",
                    _plant_content_type(self.plant),
                    _plant_part_name(self.plant),
                    semantic_id=_ref(sem.PLANT_FILE),
                    description=self.text(f"the werk plant file {self._plant_file_name()}"),
                )
            ],
        )
