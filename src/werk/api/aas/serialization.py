"""``GET /serialization``: an AAS environment of chosen shells and submodels, as JSON or XML."""

from __future__ import annotations

import io
import json

from werk.api.aas.context import Context
from werk.api.aas.http import AasError, Response, ok
from werk.twin.repository import JsonObject, Kind, dumps

XML_TYPES = ("application/xml", "text/xml")
AASX_TYPE = "application/asset-administration-shell-package+xml"


def serialization(
    context: Context,
    shell_ids: list[str] | None,
    submodel_ids: list[str] | None,
    include_concept_descriptions: bool,
) -> Response:
    """``None`` for both id lists means everything. Submodels show their live values."""
    twin = context.twin
    shells = (
        [s.data for s in twin.list(Kind.SHELL)]
        if shell_ids is None
        else [twin.require(Kind.SHELL, i).data for i in dict.fromkeys(shell_ids)]
    )
    stored_submodels = (
        twin.list(Kind.SUBMODEL)
        if submodel_ids is None
        else [twin.require(Kind.SUBMODEL, i) for i in dict.fromkeys(submodel_ids)]
    )
    submodels = [context.views.of(s).snapshot(context.runtime.state).data for s in stored_submodels]
    concept_descriptions = (
        [s.data for s in twin.list(Kind.CONCEPT_DESCRIPTION)]
        if include_concept_descriptions
        else []
    )
    environment: JsonObject = {}
    for key, items in (
        ("assetAdministrationShells", shells),
        ("submodels", submodels),
        ("conceptDescriptions", concept_descriptions),
    ):
        if items:
            environment[key] = items
    media_type = _negotiate(context.request.header(b"accept"))
    if media_type == "xml":
        return Response(200, _to_xml(environment), "application/xml")
    return ok(dumps(environment))


def _negotiate(accept: str | None) -> str:
    if not accept:
        return "json"
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    for media_type in offered:
        if media_type in ("application/json", "*/*", "application/*"):
            return "json"
        if media_type in XML_TYPES:
            return "xml"
    if AASX_TYPE in offered:
        raise AasError(406, "AASX packages are not served here yet; ask for JSON or XML")
    raise AasError(406, f"cannot answer {accept!r}; ask for application/json or application/xml")


def _to_xml(environment: JsonObject) -> bytes:
    from basyx.aas import model
    from basyx.aas.adapter.json.json_deserialization import StrictAASFromJsonDecoder
    from basyx.aas.adapter.xml.xml_serialization import write_aas_xml_file

    store: model.DictObjectStore[model.Identifiable] = model.DictObjectStore()
    for items in environment.values():
        for item in items:
            store.add(json.loads(json.dumps(item), cls=StrictAASFromJsonDecoder))
    buffer = io.BytesIO()
    write_aas_xml_file(buffer, store)
    return buffer.getvalue()
