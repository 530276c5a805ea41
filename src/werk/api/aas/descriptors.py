"""A read-only registry and discovery view of the twin (AAS Part 2 registry/discovery interfaces).

werk is its own registry: every shell it holds has a descriptor whose endpoints point back at
this API, derived on each read, so it can never disagree with the repository.

- ``GET /shell-descriptors`` (paged), ``/shell-descriptors/{aasId}``,
  ``/shell-descriptors/{aasId}/submodel-descriptors`` (paged) and ``.../{submodelId}``
- ``GET /submodel-descriptors`` (paged), ``/submodel-descriptors/{submodelId}``
- ``GET /lookup/shells?assetIds=...`` (paged AAS ids), ``/lookup/shells/{aasId}`` (asset ids)
"""

from __future__ import annotations

import json
from typing import Any

from werk.api.aas.context import Context
from werk.api.aas.http import (
    Response,
    bad_request,
    identifier,
    not_found,
    ok,
    page_by_id,
    page_by_position,
    paged,
)
from werk.twin.repository import JsonObject, Kind, b64url_decode, b64url_encode, dumps

_DESCRIBED = ("description", "displayName", "extensions", "administration", "idShort")


def parse_asset_id(raw: str) -> tuple[str, str]:
    """An ``assetIds`` query value: a base64url-encoded SpecificAssetId (``{"name", "value"}``)."""
    try:
        data = json.loads(b64url_decode(raw))
    except ValueError:
        raise bad_request(
            f"assetIds entry {raw!r} is not a base64url-encoded JSON SpecificAssetId"
        ) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("name"), str)
        or not isinstance(data.get("value"), str)
    ):
        raise bad_request('an assetIds entry is {"name": ..., "value": ...}, base64url-encoded')
    return data["name"], data["value"]


def asset_ids(shell: JsonObject) -> list[tuple[str, str]]:
    """A shell's asset ids; the global one is named ``globalAssetId``, as the spec does."""
    information = shell.get("assetInformation") or {}
    found = []
    if information.get("globalAssetId"):
        found.append(("globalAssetId", information["globalAssetId"]))
    for specific in information.get("specificAssetIds") or ():
        found.append((specific.get("name", ""), specific.get("value", "")))
    return found


def has_asset_ids(shell: JsonObject, wanted: list[tuple[str, str]]) -> bool:
    own = set(asset_ids(shell))
    return all(asset_id in own for asset_id in wanted)


def _endpoint(interface: str, href: str) -> JsonObject:
    return {
        "interface": interface,
        "protocolInformation": {
            "href": href,
            "endpointProtocol": "HTTP",
            "endpointProtocolVersion": ["1.1"],
        },
    }


def submodel_descriptor(context: Context, submodel_id: str) -> JsonObject:
    descriptor: JsonObject = {"id": submodel_id}
    stored = context.twin.get(Kind.SUBMODEL, submodel_id)
    if stored is not None:
        for key in (*_DESCRIBED, "semanticId", "supplementalSemanticIds"):
            if key in stored.data:
                descriptor[key] = stored.data[key]
    href = f"{context.request.base_url}/submodels/{b64url_encode(submodel_id)}"
    descriptor["endpoints"] = [_endpoint("SUBMODEL-3.0", href)]
    return descriptor


def shell_descriptor(context: Context, shell: JsonObject) -> JsonObject:
    descriptor: JsonObject = {"id": shell["id"]}
    for key in _DESCRIBED:
        if key in shell:
            descriptor[key] = shell[key]
    information = shell.get("assetInformation") or {}
    for key in ("assetKind", "assetType", "globalAssetId", "specificAssetIds"):
        if key in information:
            descriptor[key] = information[key]
    href = f"{context.request.base_url}/shells/{b64url_encode(shell['id'])}"
    descriptor["endpoints"] = [_endpoint("AAS-3.0", href)]
    submodels = [submodel_descriptor(context, i) for i in _submodel_ids(shell)]
    if submodels:
        descriptor["submodelDescriptors"] = submodels
    return descriptor


def _submodel_ids(shell: JsonObject) -> list[str]:
    return [
        ref["keys"][-1]["value"]
        for ref in shell.get("submodels") or ()
        if ref.get("keys") and ref["keys"][-1].get("type") == "Submodel"
    ]


def shell_descriptors(context: Context, rest: list[str]) -> Response:
    if not rest:
        shells = context.twin.list(Kind.SHELL)
        kind = context.request.param("assetKind")
        if kind is not None:
            shells = [s for s in shells if s.data["assetInformation"].get("assetKind") == kind]
        chosen, cursor = page_by_id(shells, context.request)
        return paged([dumps(shell_descriptor(context, s.data)) for s in chosen], cursor)
    shell = context.twin.require(Kind.SHELL, identifier(rest[0], "shell id")).data
    if len(rest) == 1:
        return ok(dumps(shell_descriptor(context, shell)))
    if rest[1] != "submodel-descriptors" or len(rest) > 3:
        raise not_found("no such resource under a shell descriptor")
    ids = _submodel_ids(shell)
    if len(rest) == 2:
        positions, cursor = page_by_position(len(ids), context.request)
        return paged([dumps(submodel_descriptor(context, ids[i])) for i in positions], cursor)
    submodel_id = identifier(rest[2], "submodel id")
    if submodel_id not in ids:
        raise not_found(f"shell {shell['id']!r} has no submodel {submodel_id!r}")
    return ok(dumps(submodel_descriptor(context, submodel_id)))


def submodel_descriptors(context: Context, rest: list[str]) -> Response:
    if not rest:
        chosen, cursor = page_by_id(context.twin.list(Kind.SUBMODEL), context.request)
        return paged([dumps(submodel_descriptor(context, s.id)) for s in chosen], cursor)
    if len(rest) > 1:
        raise not_found("no such resource under a submodel descriptor")
    submodel_id = identifier(rest[0], "submodel id")
    context.twin.require(Kind.SUBMODEL, submodel_id)
    return ok(dumps(submodel_descriptor(context, submodel_id)))


def lookup(context: Context, rest: list[str]) -> Response:
    if not rest or rest[0] != "shells" or len(rest) > 2:
        raise not_found("the discovery interface is /lookup/shells")
    if len(rest) == 1:
        wanted = [parse_asset_id(raw) for raw in context.request.params("assetIds")]
        shells = [s for s in context.twin.list(Kind.SHELL) if has_asset_ids(s.data, wanted)]
        chosen, cursor = page_by_id(shells, context.request)
        return paged([dumps(s.id) for s in chosen], cursor)
    shell = context.twin.require(Kind.SHELL, identifier(rest[1], "shell id")).data
    found: list[Any] = [{"name": n, "value": v} for n, v in asset_ids(shell)]
    return ok(dumps(found))
