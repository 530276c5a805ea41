"""The AAS Part 2 HTTP/REST API (v3.0) over the twin repository, mounted under ``/api/v3.0``.

Interfaces served (IDTA-01002-3-0):

- AAS repository: ``/shells`` (+ ``$reference``), ``/shells/{aasId}`` (+ ``$reference``,
  ``asset-information``, ``submodel-refs``, ``submodels/{submodelId}/...``)
- Submodel repository: ``/submodels`` (+ ``$metadata``, ``$value``, ``$reference``, ``$path``),
  ``/submodels/{submodelId}`` (+ the same modifiers), ``.../submodel-elements`` and
  ``.../submodel-elements/{idShortPath}`` (+ modifiers)
- Concept descriptions: ``/concept-descriptions``, ``/concept-descriptions/{cdId}``
- Serialization (``/serialization``, JSON or XML by Accept) and ``/description``
- A read-only registry and discovery view of the same shells: ``/shell-descriptors``,
  ``/submodel-descriptors``, ``/lookup/shells``

Ids in paths are base64url-encoded, padding optional. Reads follow the werk API's rule (anonymous
where allowed, else a viewer token); writes need an engineer token and are on disk before the
answer. Errors come in the spec's ``Result`` shape.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from werk.api.aas import descriptors, submodels
from werk.api.aas.context import Context
from werk.api.aas.elements import ElementError, identifiable_reference
from werk.api.aas.http import (
    AasError,
    Request,
    Response,
    bad_request,
    error_response,
    flag_of,
    identifier,
    method_not_allowed,
    no_content,
    not_found,
    ok,
    page_by_id,
    page_by_position,
    paged,
)
from werk.api.aas.serialization import serialization
from werk.api.aas.views import Views
from werk.api.tokens import Role
from werk.core import AuthError, PermissionDenied, ValidationError
from werk.runtime import Runtime
from werk.twin.repository import (
    IdentifiableExists,
    IdentifiableNotFound,
    JsonObject,
    Kind,
    Stored,
    dumps,
)

log = logging.getLogger(__name__)

PREFIX = "/api/v3.0"

PROFILES = [
    "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    "https://admin-shell.io/aas/API/3/0/SubmodelRepositoryServiceSpecification/SSP-002",
    "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRegistryServiceSpecification/SSP-002",
    "https://admin-shell.io/aas/API/3/0/SubmodelRegistryServiceSpecification/SSP-002",
]


class AasApi:
    """The ASGI app. ``runtime.twin`` is read on every request, so it may be set after start."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.views = Views()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            request = Request.from_scope(scope, receive)
            response = await self._handle(request)
        except AasError as error:
            response = error.response()
        except ElementError as error:
            response = error_response(error.status, str(error))
        except PermissionDenied as error:
            response = error_response(403, str(error))
        except AuthError as error:
            response = error_response(401, str(error), {"WWW-Authenticate": "Bearer"})
        except ValidationError as error:
            response = error_response(400, str(error))
        except IdentifiableNotFound as error:
            response = error_response(404, str(error))
        except IdentifiableExists as error:
            response = error_response(409, str(error))
        except Exception as error:
            error_id = uuid.uuid4().hex
            log.error(
                "internal error %s %s %s", error_id, scope["method"], scope["path"], exc_info=error
            )
            response = error_response(500, f"internal error {error_id}")
        await response(send)

    async def _handle(self, request: Request) -> Response:
        twin = getattr(self.runtime, "twin", None)
        if twin is None:
            raise AasError(503, "this werk has no digital twin loaded")
        segments = request.segments
        if not segments:
            raise not_found("see /description, /shells and /submodels")
        handler = _TOP.get(segments[0])
        if handler is None:
            raise not_found(f"no AAS API resource /{segments[0]}")
        context = Context(request, self.runtime, twin, self.views)
        return await handler(context, segments[1:])


# -- generic identifiables (shells, concept descriptions) ---------------------------------------


def _page(
    context: Context, items: list[Stored], render: Callable[[Stored], bytes] | None = None
) -> Response:
    chosen, cursor = page_by_id(items, context.request)
    return paged([render(s) if render else s.json for s in chosen], cursor)


async def _create(context: Context, kind: Kind) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()
    stored = await asyncio.to_thread(context.twin.create, body, kind)
    return ok(stored.json, 201)


async def _replace(context: Context, kind: Kind, identifier_: str) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()
    if body.get("id") != identifier_:
        raise bad_request(f"the body's id {body.get('id')!r} is not the id in the path")
    stored, created = await asyncio.to_thread(context.twin.put, body, kind)
    return ok(stored.json, 201) if created else no_content()


async def _delete(context: Context, kind: Kind, identifier_: str) -> Response:
    context.authorize(Role.engineer)
    if not await asyncio.to_thread(context.twin.delete, kind, identifier_):
        raise IdentifiableNotFound(kind, identifier_)
    return no_content()


async def _identifiable(context: Context, kind: Kind, identifier_: str) -> Response:
    """GET, PUT or DELETE of one shell or concept description."""
    method = context.request.method
    if method == "GET":
        context.authorize(Role.viewer)
        return ok(context.twin.require(kind, identifier_).json)
    if method == "PUT":
        return await _replace(context, kind, identifier_)
    if method == "DELETE":
        return await _delete(context, kind, identifier_)
    raise _method_not_allowed(context, "GET", "PUT", "DELETE")


def _method_not_allowed(context: Context, *allowed: str) -> AasError:
    return method_not_allowed(context.request, *allowed)


# -- /shells --------------------------------------------------------------------------------------


async def _shells(context: Context, rest: list[str]) -> Response:
    method = context.request.method
    if not rest:
        if method == "GET":
            context.authorize(Role.viewer)
            return _page(context, _filtered_shells(context))
        if method == "POST":
            return await _create(context, Kind.SHELL)
        raise _method_not_allowed(context, "GET", "POST")
    if rest == ["$reference"]:
        _only_get(context)
        return _page(
            context, _filtered_shells(context), lambda s: dumps(_reference(Kind.SHELL, s.id))
        )
    aas_id = identifier(rest[0], "shell id")
    tail = rest[1:]
    if not tail:
        return await _identifiable(context, Kind.SHELL, aas_id)
    if tail == ["$reference"]:
        _only_get(context)
        context.twin.require(Kind.SHELL, aas_id)
        return ok(dumps(_reference(Kind.SHELL, aas_id)))
    if tail[0] == "asset-information":
        return await _asset_information(context, aas_id, tail[1:])
    if tail[0] == "submodel-refs":
        return await _submodel_refs(context, aas_id, tail[1:])
    if tail[0] == "submodels" and len(tail) >= 2:
        submodel_id = identifier(tail[1], "submodel id")
        shell = context.twin.require(Kind.SHELL, aas_id)
        if submodel_id not in _submodel_ids(shell.data):
            raise not_found(f"shell {aas_id!r} has no submodel {submodel_id!r}")
        if not tail[2:] and method == "DELETE":
            response = await submodels.submodel(context, submodel_id, [])
            await _remove_submodel_ref(context, aas_id, submodel_id, missing_ok=True)
            return response
        return await submodels.submodel(context, submodel_id, tail[2:])
    raise not_found(f"no resource {'/'.join(tail)} under a shell")


def _filtered_shells(context: Context) -> list[Stored]:
    shells = context.twin.list(Kind.SHELL)
    id_short = context.request.param("idShort")
    if id_short is not None:
        shells = [s for s in shells if s.data.get("idShort") == id_short]
    asset_ids = [descriptors.parse_asset_id(raw) for raw in context.request.params("assetIds")]
    if asset_ids:
        shells = [s for s in shells if descriptors.has_asset_ids(s.data, asset_ids)]
    return shells


def _submodel_ids(shell: JsonObject) -> list[str]:
    return [
        ref["keys"][-1]["value"]
        for ref in shell.get("submodels") or ()
        if ref.get("keys") and ref["keys"][-1].get("type") == "Submodel"
    ]


async def _asset_information(context: Context, aas_id: str, rest: list[str]) -> Response:
    method = context.request.method
    if rest == ["thumbnail"]:
        _only_get(context)
        context.twin.require(Kind.SHELL, aas_id)
        raise not_found("werk stores no thumbnail files; see assetInformation.defaultThumbnail")
    if rest:
        raise not_found("no such resource under asset-information")
    if method == "GET":
        context.authorize(Role.viewer)
        return ok(dumps(context.twin.require(Kind.SHELL, aas_id).data["assetInformation"]))
    if method == "PUT":
        context.authorize(Role.engineer)
        body = await context.request.json_object()

        def change(shell: JsonObject) -> JsonObject:
            shell["assetInformation"] = body
            return shell

        await asyncio.to_thread(context.twin.update, Kind.SHELL, aas_id, change)
        return no_content()
    raise _method_not_allowed(context, "GET", "PUT")


async def _submodel_refs(context: Context, aas_id: str, rest: list[str]) -> Response:
    method = context.request.method
    if not rest:
        if method == "GET":
            context.authorize(Role.viewer)
            refs = context.twin.require(Kind.SHELL, aas_id).data.get("submodels") or []
            positions, cursor = page_by_position(len(refs), context.request)
            return paged([dumps(refs[i]) for i in positions], cursor)
        if method == "POST":
            context.authorize(Role.engineer)
            reference = await context.request.json_object()

            def add(shell: JsonObject) -> JsonObject:
                if reference in (shell.get("submodels") or []):
                    raise AasError(409, "the shell has this submodel reference already")
                shell.setdefault("submodels", []).append(reference)
                return shell

            await asyncio.to_thread(context.twin.update, Kind.SHELL, aas_id, add)
            return ok(dumps(reference), 201)
        raise _method_not_allowed(context, "GET", "POST")
    if len(rest) == 1:
        if method != "DELETE":
            raise _method_not_allowed(context, "DELETE")
        context.authorize(Role.engineer)
        await _remove_submodel_ref(context, aas_id, identifier(rest[0], "submodel id"))
        return no_content()
    raise not_found("no such resource under submodel-refs")


async def _remove_submodel_ref(
    context: Context, aas_id: str, submodel_id: str, *, missing_ok: bool = False
) -> None:
    def remove(shell: JsonObject) -> JsonObject:
        refs = shell.get("submodels") or []
        kept = [r for r in refs if (r.get("keys") or [{}])[-1].get("value") != submodel_id]
        if len(kept) == len(refs) and not missing_ok:
            raise not_found(f"shell {aas_id!r} has no reference to submodel {submodel_id!r}")
        shell["submodels"] = kept
        return shell

    await asyncio.to_thread(context.twin.update, Kind.SHELL, aas_id, remove)


def _reference(kind: Kind, identifier_: str) -> JsonObject:
    return identifiable_reference(kind.model_type, identifier_)


def _only_get(context: Context) -> None:
    if context.request.method != "GET":
        raise _method_not_allowed(context, "GET")
    context.authorize(Role.viewer)


# -- /concept-descriptions ----------------------------------------------------------------------


async def _concept_descriptions(context: Context, rest: list[str]) -> Response:
    method = context.request.method
    if not rest:
        if method == "GET":
            context.authorize(Role.viewer)
            items = context.twin.list(Kind.CONCEPT_DESCRIPTION)
            id_short = context.request.param("idShort")
            if id_short is not None:
                items = [s for s in items if s.data.get("idShort") == id_short]
            return _page(context, items)
        if method == "POST":
            return await _create(context, Kind.CONCEPT_DESCRIPTION)
        raise _method_not_allowed(context, "GET", "POST")
    if len(rest) != 1:
        raise not_found("no such resource under a concept description")
    cd_id = identifier(rest[0], "concept description id")
    return await _identifiable(context, Kind.CONCEPT_DESCRIPTION, cd_id)


# -- /submodels, /serialization, /description, registry -----------------------------------------


async def _submodels(context: Context, rest: list[str]) -> Response:
    if not rest:
        if context.request.method == "POST":
            context.authorize(Role.engineer)
            body = await context.request.json_object()
            stored = await asyncio.to_thread(context.twin.create, body, Kind.SUBMODEL)
            return ok(stored.json, 201)
        if context.request.method != "GET":
            raise _method_not_allowed(context, "GET", "POST")
        context.authorize(Role.viewer)
        return submodels.submodel_list(context, None)
    if rest[0].startswith("$") and len(rest) == 1:
        _only_get(context)
        return submodels.submodel_list(context, rest[0])
    return await submodels.submodel(context, identifier(rest[0], "submodel id"), rest[1:])


async def _serialization(context: Context, rest: list[str]) -> Response:
    if rest:
        raise not_found("no such resource under /serialization")
    _only_get(context)
    request = context.request
    shell_ids = [identifier(raw, "aasIds entry") for raw in request.params("aasIds")]
    submodel_ids = [identifier(raw, "submodelIds entry") for raw in request.params("submodelIds")]
    include_cds = flag_of(request, "includeConceptDescriptions", True)
    everything = not shell_ids and not submodel_ids
    return serialization(
        context,
        None if everything else shell_ids,
        None if everything else submodel_ids,
        include_cds,
    )


async def _description(context: Context, rest: list[str]) -> Response:
    if rest:
        raise not_found("no such resource under /description")
    _only_get(context)
    return ok(dumps({"profiles": PROFILES}))


async def _shell_descriptors(context: Context, rest: list[str]) -> Response:
    _only_get(context)
    return descriptors.shell_descriptors(context, rest)


async def _submodel_descriptors(context: Context, rest: list[str]) -> Response:
    _only_get(context)
    return descriptors.submodel_descriptors(context, rest)


async def _lookup(context: Context, rest: list[str]) -> Response:
    _only_get(context)
    return descriptors.lookup(context, rest)


_TOP: dict[str, Callable[[Context, list[str]], Awaitable[Response]]] = {
    "shells": _shells,
    "submodels": _submodels,
    "concept-descriptions": _concept_descriptions,
    "serialization": _serialization,
    "description": _description,
    "shell-descriptors": _shell_descriptors,
    "submodel-descriptors": _submodel_descriptors,
    "lookup": _lookup,
}


def create_aas_app(runtime: Runtime) -> AasApi:
    return AasApi(runtime)


class AasMount:
    """ASGI middleware: requests under ``/api/v3.0`` go to the AAS app, the rest pass on.

    werk adds it as the innermost of its middleware, so AAS requests get the same limits (body
    size, rate, catch-all) without the framework's router matching every v1 route first.
    """

    def __init__(self, app: ASGIApp, aas: AasApi, prefix: str = PREFIX) -> None:
        self.app = app
        self.aas = aas
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self.prefix) and (
                len(path) == len(self.prefix) or path[len(self.prefix)] == "/"
            ):
                root = scope.get("root_path", "") + self.prefix
                await self.aas({**scope, "root_path": root}, receive, send)
                return
        await self.app(scope, receive, send)
