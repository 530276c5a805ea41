"""What the AAS API derives from one version of one submodel, computed once and kept.

A ``SubmodelView`` holds a submodel's path index, its live bindings and the responses already
rendered from it. Reads answer from those renders: a GET of a submodel without live values sends
bytes serialised when the submodel was written. A submodel with bound Properties gets a *live
snapshot*: a copy with the latest values written in, rebuilt only when one of its signals has a
newer sample, so a burst of reads between two samples renders once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from werk.api.aas import live
from werk.api.aas.elements import Node, has_blob_values, index_elements
from werk.api.aas.live import Binding, Sample
from werk.twin.repository import JsonObject, Stored, dumps
from werk.twin.state import LiveState

MAX_RENDERS = 512

# The render key of a plain GET of the submodel: (what, modifier, deep, with blob values).
PLAIN = ("submodel", None, True, False)
MAX_VIEWS = 4096


@dataclass(slots=True)
class Snapshot:
    """A submodel's JSON as it reads now, its index, and responses rendered from it."""

    data: JsonObject
    index: dict[str, Node]
    renders: dict[Hashable, bytes] = field(default_factory=dict)

    def render(self, key: Hashable, make: Callable[[], Any]) -> bytes:
        body = self.renders.get(key)
        if body is None:
            if len(self.renders) >= MAX_RENDERS:
                self.renders.clear()
            body = dumps(make())
            self.renders[key] = body
        return body


class SubmodelView:
    def __init__(self, stored: Stored) -> None:
        self.stored = stored
        index = index_elements(stored.data)
        self.static = Snapshot(stored.data, index)
        self.static.renders[PLAIN] = stored.json
        self.bindings = live.find_bindings(index)
        self.signals = sorted({b.signal for b in self.bindings.values()})
        self.live_paths = _with_ancestors(self.bindings, index)
        self.blobs = has_blob_values(stored.data)
        if self.blobs:
            del self.static.renders[PLAIN]
        self._live: tuple[tuple[Sample | None, ...], Snapshot] | None = None

    def snapshot(self, state: LiveState, path: str | None = None) -> Snapshot:
        """The snapshot to read ``path`` (the whole submodel: ``None``) from."""
        if not self.bindings or (path is not None and path not in self.live_paths):
            return self.static
        latest = state.get(self.signals)
        key = tuple(latest.get(s) for s in self.signals)
        current = self._live
        if current is not None and current[0] == key:
            return current[1]
        snapshot = self._live_snapshot(latest)
        self._live = (key, snapshot)
        return snapshot

    def _live_snapshot(self, latest: dict[str, Sample]) -> Snapshot:
        data = json.loads(self.stored.json)
        index = index_elements(data)
        for binding in self.bindings.values():
            sample = latest.get(binding.signal)
            if sample is not None:
                set_live_value(index[binding.path].element, binding, sample)
        return Snapshot(data, index)

    def bound(self, path: str) -> Binding | None:
        return self.bindings.get(path)


def set_live_value(element: JsonObject, binding: Binding, sample: Sample) -> None:
    text = live.lexical(sample[1], binding.value_type)
    if text is None:
        element.pop("value", None)
    else:
        element["value"] = text


def _with_ancestors(bindings: dict[str, Binding], index: dict[str, Node]) -> frozenset[str]:
    paths: set[str] = set()
    for path in bindings:
        keys = index[path].keys[1:]  # the submodel's key first
        prefix = ""
        in_list = False
        for key in keys:
            if in_list:
                prefix = f"{prefix}[{key['value']}]"
            else:
                prefix = f"{prefix}.{key['value']}" if prefix else key["value"]
            paths.add(prefix)
            in_list = key["type"] == "SubmodelElementList"
    return frozenset(paths)


class Views:
    """One view per submodel, rebuilt when the repository holds a newer version."""

    def __init__(self) -> None:
        self._views: dict[str, SubmodelView] = {}

    def of(self, stored: Stored) -> SubmodelView:
        view = self._views.get(stored.id)
        if view is None or view.stored is not stored:
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()
            view = SubmodelView(stored)
            self._views[stored.id] = view
        return view
