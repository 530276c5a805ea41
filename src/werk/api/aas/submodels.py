"""Submodels and their elements: ``/submodels/...`` and ``/shells/{aasId}/submodels/...``.

Reads render from a ``SubmodelView`` (cached per submodel version, live values written in);
writes change a copy of the submodel's JSON under the repository's lock, which validates the
whole submodel again before it is stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from typing import Any

from werk.api.aas import elements, live
from werk.api.aas.context import Context
from werk.api.aas.elements import (
    CHILDREN,
    CONTAINERS,
    ElementError,
    Node,
    index_elements,
)
from werk.api.aas.http import (
    AasError,
    Response,
    bad_request,
    extent_of,
    level_of,
    method_not_allowed,
    no_content,
    not_found,
    ok,
    page_by_id,
    page_by_position,
    paged,
)
from werk.api.aas.views import Snapshot, SubmodelView, Views, set_live_value
from werk.api.tokens import Role
from werk.twin.repository import JsonObject, Kind, Stored, b64url_decode, dumps

__all__ = ["Views", "submodel", "submodel_list"]

MODIFIERS = ("$metadata", "$value", "$reference", "$path")


# -- the submodel repository's list ---------------------------------------------------------------


def submodel_list(context: Context, modifier: str | None) -> Response:
    if modifier is not None and modifier not in MODIFIERS:
        raise not_found(f"no modifier {modifier}")
    request = context.request
    deep, blobs = level_of(request), extent_of(request)
    items = context.twin.list(Kind.SUBMODEL)
    id_short = request.param("idShort")
    if id_short is not None:
        items = [s for s in items if s.data.get("idShort") == id_short]
    semantic_id = request.param("semanticId")
    if semantic_id is not None:
        try:
            wanted = b64url_decode(semantic_id)
        except ValueError:
            raise bad_request(f"semanticId {semantic_id!r} is not base64url-encoded") from None
        items = [s for s in items if _semantic_id(s.data) == wanted]
    if modifier == "$path":
        items = [s for s in items if s.data.get("idShort")]
    chosen, cursor = page_by_id(items, request)
    if modifier == "$path":
        return paged([dumps(s.data["idShort"]) for s in chosen], cursor)
    return paged([_render_submodel(context, s, modifier, deep, blobs) for s in chosen], cursor)


def _semantic_id(data: JsonObject) -> str | None:
    keys = (data.get("semanticId") or {}).get("keys") or []
    return keys[0].get("value") if keys else None


def _render_submodel(
    context: Context, stored: Stored, modifier: str | None, deep: bool, blobs: bool
) -> bytes:
    view = context.views.of(stored)
    snapshot = view.snapshot(context.runtime.state)
    data = snapshot.data

    def make() -> Any:
        if modifier is None:
            result = data if deep else elements.core(data, "submodelElements")
            return elements.without_blob_values(result) if view.blobs and not blobs else result
        if modifier == "$metadata":
            return elements.submodel_metadata(data)
        if modifier == "$value":
            return elements.children_values(
                data.get("submodelElements") or [], deep=deep, blobs=blobs
            )
        if modifier == "$reference":
            return elements.identifiable_reference("Submodel", stored.id)
        return elements.submodel_paths(data, snapshot.index, deep=deep)

    return snapshot.render(("submodel", modifier, deep, blobs), make)


# -- one submodel ----------------------------------------------------------------------------------


async def submodel(context: Context, submodel_id: str, rest: list[str]) -> Response:
    method = context.request.method
    if not rest:
        if method == "GET":
            context.authorize(Role.viewer)
            return _get_submodel(context, submodel_id, None)
        if method == "PUT":
            return await _put_submodel(context, submodel_id)
        if method == "PATCH":
            return await _patch_submodel(context, submodel_id, metadata_only=False)
        if method == "DELETE":
            context.authorize(Role.engineer)
            if not await asyncio.to_thread(context.twin.delete, Kind.SUBMODEL, submodel_id):
                raise not_found(f"no Submodel with id {submodel_id!r}")
            return no_content()
        raise _not_allowed(context, "GET", "PUT", "PATCH", "DELETE")
    head = rest[0]
    if head in MODIFIERS and len(rest) == 1:
        if method == "GET":
            context.authorize(Role.viewer)
            return _get_submodel(context, submodel_id, head)
        if method == "PATCH" and head == "$metadata":
            return await _patch_submodel(context, submodel_id, metadata_only=True)
        if method == "PATCH" and head == "$value":
            return await _patch_submodel_value(context, submodel_id)
        raise _not_allowed(context, "GET")
    if head == "submodel-elements":
        return await _submodel_elements(context, submodel_id, rest[1:])
    raise not_found(f"no resource {'/'.join(rest)} under a submodel")


def _get_submodel(context: Context, submodel_id: str, modifier: str | None) -> Response:
    stored = context.twin.require(Kind.SUBMODEL, submodel_id)
    deep, blobs = level_of(context.request), extent_of(context.request)
    return ok(_render_submodel(context, stored, modifier, deep, blobs))


async def _put_submodel(context: Context, submodel_id: str) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()
    if body.get("id") != submodel_id:
        raise bad_request(f"the body's id {body.get('id')!r} is not the id in the path")
    stored, created = await asyncio.to_thread(context.twin.put, body, Kind.SUBMODEL)
    return ok(stored.json, 201) if created else no_content()


async def _patch_submodel(context: Context, submodel_id: str, *, metadata_only: bool) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()
    if metadata_only:
        body.pop("submodelElements", None)

    def change(data: JsonObject) -> JsonObject:
        data.update(body)
        return data

    await asyncio.to_thread(context.twin.update, Kind.SUBMODEL, submodel_id, change)
    return no_content()


async def _patch_submodel_value(context: Context, submodel_id: str) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()
    view = context.views.of(context.twin.require(Kind.SUBMODEL, submodel_id))
    _refuse_bound(view, _bound_paths_in(view, body))

    def change(data: JsonObject) -> JsonObject:
        elements.apply_children_values(data.get("submodelElements") or [], body)
        return data

    await asyncio.to_thread(context.twin.update, Kind.SUBMODEL, submodel_id, change)
    return no_content()


# -- submodel elements ----------------------------------------------------------------------------


async def _submodel_elements(context: Context, submodel_id: str, rest: list[str]) -> Response:
    method = context.request.method
    if not rest or (rest[0] in MODIFIERS and len(rest) == 1):
        modifier = rest[0] if rest else None
        if method == "GET":
            context.authorize(Role.viewer)
            return _element_list(context, submodel_id, modifier)
        if method == "POST" and modifier is None:
            return await _add_element(context, submodel_id, None)
        raise _not_allowed(context, *(("GET",) if rest else ("GET", "POST")))
    path = rest[0]
    tail = rest[1:]
    if not tail:
        if method == "GET":
            context.authorize(Role.viewer)
            return _get_element(context, submodel_id, path, None)
        if method == "PUT":
            return await _put_element(context, submodel_id, path)
        if method == "PATCH":
            return await _patch_element(context, submodel_id, path, metadata_only=False)
        if method == "POST":
            return await _add_element(context, submodel_id, path)
        if method == "DELETE":
            return await _delete_element(context, submodel_id, path)
        raise _not_allowed(context, "GET", "PUT", "PATCH", "POST", "DELETE")
    if len(tail) == 1 and tail[0] in MODIFIERS:
        if method == "GET":
            context.authorize(Role.viewer)
            return _get_element(context, submodel_id, path, tail[0])
        if method == "PATCH" and tail[0] == "$value":
            return await _patch_element_value(context, submodel_id, path)
        if method == "PATCH" and tail[0] == "$metadata":
            return await _patch_element(context, submodel_id, path, metadata_only=True)
        allowed = ("GET", "PATCH") if tail[0] in ("$value", "$metadata") else ("GET",)
        raise _not_allowed(context, *allowed)
    if tail == ["attachment"]:
        if method != "GET":
            raise _not_allowed(context, "GET")
        context.authorize(Role.viewer)
        return _attachment(context, submodel_id, path)
    raise not_found(f"no resource {'/'.join(tail)} under a submodel element")


def _view(context: Context, submodel_id: str) -> SubmodelView:
    return context.views.of(context.twin.require(Kind.SUBMODEL, submodel_id))


def _find(snapshot: Snapshot, path: str) -> Node:
    node = snapshot.index.get(path)
    if node is None:
        canonical = elements.format_path(elements.parse_path(path))
        node = snapshot.index.get(canonical)
        if node is None:
            raise not_found(f"no submodel element at {path!r}")
    return node


def _element_list(context: Context, submodel_id: str, modifier: str | None) -> Response:
    view = _view(context, submodel_id)
    snapshot = view.snapshot(context.runtime.state)
    request = context.request
    deep, blobs = level_of(request), extent_of(request)
    top: list[JsonObject] = snapshot.data.get("submodelElements") or []
    if modifier == "$path":
        paths = elements.submodel_paths(snapshot.data, snapshot.index, deep=deep)
        positions, cursor = page_by_position(len(paths), request)
        return paged([dumps(paths[i]) for i in positions], cursor)
    if modifier == "$value":
        top = [e for e in top if elements.has_value(e)]
    positions, cursor = page_by_position(len(top), request)
    items = []
    for i in positions:
        element = top[i]

        def make(element: JsonObject = element) -> Any:
            return _list_item(submodel_id, element, modifier, deep, blobs, view)

        items.append(snapshot.render(("elements", i, modifier, deep, blobs), make))
    return paged(items, cursor)


def _list_item(
    submodel_id: str,
    element: JsonObject,
    modifier: str | None,
    deep: bool,
    blobs: bool,
    view: SubmodelView,
) -> Any:
    if modifier is None:
        return _shaped(element, deep, blobs, view)
    if modifier == "$metadata":
        dropped = elements.VALUE_ATTRIBUTES.get(element.get("modelType", ""), ())
        if element.get("modelType") == "Operation":
            dropped = ("inputVariables", "outputVariables", "inoutputVariables")
        return {k: v for k, v in element.items() if k not in dropped}
    if modifier == "$value":
        return {element["idShort"]: elements.value_only(element, deep=deep, blobs=blobs)}
    return {
        "type": "ModelReference",
        "keys": [
            {"type": "Submodel", "value": submodel_id},
            {"type": element.get("modelType"), "value": element.get("idShort")},
        ],
    }


def _shaped(element: JsonObject, deep: bool, blobs: bool, view: SubmodelView) -> JsonObject:
    key = CHILDREN.get(element.get("modelType", ""))
    if not deep and key and element.get("modelType") in CONTAINERS:
        element = elements.core(element, key)
    if view.blobs and not blobs:
        element = elements.without_blob_values(element)
    return element


def _get_element(context: Context, submodel_id: str, path: str, modifier: str | None) -> Response:
    deep, blobs = level_of(context.request), extent_of(context.request)
    view = _view(context, submodel_id)
    binding = view.bindings.get(path)
    if binding is not None and modifier in (None, "$value"):
        return ok(_bound_property(context, view, binding, modifier))
    snapshot = view.snapshot(context.runtime.state, path)
    node = _find(snapshot, path)
    if node.path != path and node.path in view.live_paths and snapshot is view.static:
        snapshot = view.snapshot(context.runtime.state, node.path)
        node = snapshot.index[node.path]
    element = node.element

    def make() -> Any:
        if modifier is None:
            return _shaped(element, deep, blobs, view)
        if modifier == "$metadata":
            return elements.metadata(element)
        if modifier == "$value":
            value = elements.value_only(element, deep=deep, blobs=blobs)
            return {element["idShort"]: value} if "idShort" in element else value
        if modifier == "$reference":
            return {"type": "ModelReference", "keys": node.keys}
        if element.get("modelType") not in CONTAINERS:
            raise ElementError(f"the $path modifier does not apply to {element.get('modelType')}")
        paths = elements.descendant_paths(node.path, snapshot.index)
        if not deep:
            depth = node.path.count(".") + node.path.count("[") + 1
            paths = [p for p in paths if p.count(".") + p.count("[") <= depth]
        return paths

    return ok(snapshot.render(("element", node.path, modifier, deep, blobs), make))


def _bound_property(
    context: Context, view: SubmodelView, binding: live.Binding, modifier: str | None
) -> bytes:
    # The hot path of live reads: one state lookup, no snapshot.
    element = view.static.index[binding.path].element
    sample = context.runtime.state.get((binding.signal,)).get(binding.signal)
    if modifier == "$value":
        if sample is None:
            value = elements.value_only(element)
        else:
            value = live.typed(sample[1], binding.value_type)
        return dumps({element["idShort"]: value} if "idShort" in element else value)
    if sample is None:
        return dumps(element)
    current = dict(element)
    set_live_value(current, binding, sample)
    return dumps(current)


def _attachment(context: Context, submodel_id: str, path: str) -> Response:
    view = _view(context, submodel_id)
    node = _find(view.static, path)
    element = node.element
    if element.get("modelType") == "Blob" and "value" in element:
        try:
            content = base64.b64decode(element["value"], validate=True)
        except (binascii.Error, ValueError):
            raise AasError(500, "the Blob's value is not base64") from None
        return Response(200, content, element.get("contentType") or "application/octet-stream")
    if element.get("modelType") not in ("File", "Blob"):
        raise bad_request(f"{element.get('modelType')} elements have no attachment")
    raise not_found(f"werk stores no file content for {path!r}; its value names where it lives")


# -- element writes -------------------------------------------------------------------------------


async def _change(
    context: Context, submodel_id: str, change: Callable[[JsonObject], JsonObject]
) -> Stored:
    return await asyncio.to_thread(context.twin.update, Kind.SUBMODEL, submodel_id, change)


def _locate(data: JsonObject, path: str) -> Node:
    index = index_elements(data)
    node = index.get(path) or index.get(elements.format_path(elements.parse_path(path)))
    if node is None:
        raise ElementError(f"no submodel element at {path!r}", 404)
    return node


async def _add_element(context: Context, submodel_id: str, path: str | None) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()
    added_path: list[str] = []

    def change(data: JsonObject) -> JsonObject:
        if path is None:
            siblings = data.setdefault("submodelElements", [])
            parent_path, in_list = "", False
        else:
            node = _locate(data, path)
            model_type = node.element.get("modelType", "")
            if model_type not in CONTAINERS:
                raise ElementError(f"a {model_type} cannot hold submodel elements")
            siblings = node.element.setdefault(CHILDREN[model_type], [])
            parent_path, in_list = node.path, model_type == "SubmodelElementList"
        if in_list:
            if "idShort" in body:
                raise ElementError("items of a SubmodelElementList have no idShort (AASd-120)")
            added_path.append(f"{parent_path}[{len(siblings)}]")
        else:
            id_short = body.get("idShort")
            if not isinstance(id_short, str) or not id_short:
                raise ElementError("the new element needs an idShort")
            if any(s.get("idShort") == id_short for s in siblings):
                raise ElementError(f"an element {id_short!r} exists here already", 409)
            added_path.append(f"{parent_path}.{id_short}" if parent_path else id_short)
        siblings.append(body)
        return data

    stored = await _change(context, submodel_id, change)
    element = _locate(stored.data, added_path[0]).element
    return ok(dumps(element), 201)


async def _put_element(context: Context, submodel_id: str, path: str) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()

    def change(data: JsonObject) -> JsonObject:
        node = _locate(data, path)
        if node.element.get("idShort") != body.get("idShort"):
            raise ElementError(
                f"the body's idShort {body.get('idShort')!r} does not match the path {path!r}"
            )
        node.siblings[node.position] = body
        return data

    await _change(context, submodel_id, change)
    return no_content()


async def _patch_element(
    context: Context, submodel_id: str, path: str, *, metadata_only: bool
) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json_object()

    def change(data: JsonObject) -> JsonObject:
        node = _locate(data, path)
        element = node.element
        for key in ("modelType", "idShort"):
            if key in body and body[key] != element.get(key):
                raise ElementError(f"PATCH cannot change {key}; PUT a new element instead")
        update = dict(body)
        if metadata_only:
            for key in elements.VALUE_ATTRIBUTES.get(element.get("modelType", ""), ()):
                update.pop(key, None)
        element.update(update)
        return data

    await _change(context, submodel_id, change)
    return no_content()


async def _patch_element_value(context: Context, submodel_id: str, path: str) -> Response:
    context.authorize(Role.engineer)
    body = await context.request.json()
    view = _view(context, submodel_id)
    node = _find(view.static, path)
    if node.path in view.bindings:
        _refuse_bound(view, [node.path])
    _refuse_bound(view, [p for p in view.bindings if p.startswith(node.path + ".")])
    element_value = body
    if (
        isinstance(body, dict)
        and "idShort" in node.element
        and set(body) == {node.element["idShort"]}
    ):
        element_value = body[node.element["idShort"]]

    def change(data: JsonObject) -> JsonObject:
        elements.apply_value(_locate(data, node.path).element, element_value)
        return data

    await _change(context, submodel_id, change)
    return no_content()


async def _delete_element(context: Context, submodel_id: str, path: str) -> Response:
    context.authorize(Role.engineer)

    def change(data: JsonObject) -> JsonObject:
        node = _locate(data, path)
        del node.siblings[node.position]
        return data

    await _change(context, submodel_id, change)
    return no_content()


def _bound_paths_in(view: SubmodelView, values: Any, prefix: str = "") -> list[str]:
    if not isinstance(values, dict):
        return []
    found = []
    for id_short, value in values.items():
        path = f"{prefix}.{id_short}" if prefix else str(id_short)
        if path in view.bindings:
            found.append(path)
        found.extend(_bound_paths_in(view, value, path))
    return found


def _refuse_bound(view: SubmodelView, paths: list[str]) -> None:
    if paths:
        binding = view.bindings[paths[0]]
        raise AasError(
            409,
            f"{binding.path} shows the live value of signal {binding.signal!r}; "
            "its value comes from the plant and cannot be written here",
        )


def _not_allowed(context: Context, *allowed: str) -> AasError:
    return method_not_allowed(context.request, *allowed)
