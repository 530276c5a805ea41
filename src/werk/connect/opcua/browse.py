"""Browsing an OPC UA server's address space into :class:`~werk.connect.base.Discovered` variables
(``werk connect browse opc.tcp://...``).

Walks down from ``root`` (default: the Objects folder) through objects and folders to
``max_depth`` (default 6) levels, and returns each variable whose type werk records: its asset
is the browse name of the object holding it, its name the variable's browse name, its address the
node id, its data type in the plant file's words, its unit from the ``EngineeringUnits`` property
where the display name maps to UCUM, and its description. The server's own diagnostics
(``Server`` object, namespace 0) are skipped unless ``root`` points into them. The security and
user options are the connector's (see ``session``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError

from werk.connect.base import Discovered
from werk.connect.opcua.codec import plant_data_type, ucum_unit
from werk.connect.opcua.session import ClientOptions, OpcUaError, describe, new_client
from werk.core import ConfigError

_CONTAINERS = (ua.NodeClass.Object,)
_REFERENCES = ObjectIds.HierarchicalReferences
_OBJECTS_FOLDER = ua.NodeId.from_string(f"i={ObjectIds.ObjectsFolder}")


async def browse(url: str, options: Mapping[str, Any]) -> list[Discovered]:
    client_options = ClientOptions.parse(options, "browse")
    max_depth = options.get("max_depth", 6)
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise ConfigError(f"browse: max_depth must be a whole number >= 1, not {max_depth!r}")
    try:
        client = await new_client(url, client_options)
        async with client:
            root = client.nodes.objects
            if options.get("root"):
                root = client.get_node(ua.NodeId.from_string(str(options["root"])))
            return await _Walker(client, max_depth).walk(root)
    except UaError as error:
        raise OpcUaError(f"browsing {url} failed: {describe(error)}") from error
    except (ValueError, TypeError) as error:
        raise ConfigError(f"browse: option root: {error}") from error


class _Walker:
    def __init__(self, client: Client, max_depth: int) -> None:
        self.client = client
        self.max_depth = max_depth
        self.found: list[Discovered] = []
        self.seen: set[ua.NodeId] = set()

    async def walk(self, root: Node) -> list[Discovered]:
        name = (await root.read_browse_name()).Name
        inside_server = root.nodeid != _OBJECTS_FOLDER and root.nodeid.NamespaceIndex == 0
        await self._visit(root, name, 1, inside_server)
        return self.found

    async def _visit(self, parent: Node, asset: str, depth: int, inside_server: bool) -> None:
        children = await parent.get_children_descriptions(refs=_REFERENCES)
        variables = []
        for child in children:
            node_id = child.NodeId
            if node_id in self.seen:
                continue
            self.seen.add(node_id)
            if not inside_server and node_id.NamespaceIndex == 0:
                continue  # the Server object and other standard nodes
            if child.NodeClass == ua.NodeClass.Variable:
                variables.append(child)
            elif child.NodeClass in _CONTAINERS and depth < self.max_depth:
                node = self.client.get_node(node_id)
                await self._visit(node, child.BrowseName.Name, depth + 1, inside_server)
        found = await asyncio.gather(*(self._variable(v, asset) for v in variables))
        self.found.extend(f for f in found if f is not None)

    async def _variable(self, child: ua.ReferenceDescription, asset: str) -> Discovered | None:
        node = self.client.get_node(child.NodeId)
        try:
            variant_type = await node.read_data_type_as_variant_type()
        except (UaError, ValueError, KeyError):
            return None  # a structure or a type werk does not know
        data_type = plant_data_type(variant_type)
        if data_type is None:
            return None
        description = ""
        try:
            text = await node.read_description()
            description = text.Text or ""
        except UaError:
            pass
        return Discovered(
            asset=asset,
            name=child.BrowseName.Name,
            address=child.NodeId.to_string(),
            data_type=data_type,
            unit=await self._unit(node),
            description=description,
        )

    async def _unit(self, node: Node) -> str | None:
        try:
            prop = await node.get_child(["0:EngineeringUnits"])
        except UaError:
            prop = None
        if prop is None:
            for candidate in await node.get_properties():
                if (await candidate.read_browse_name()).Name == "EngineeringUnits":
                    prop = candidate
                    break
        if prop is None:
            return None
        try:
            unit = await prop.read_value()
        except UaError:
            return None
        if isinstance(unit, ua.EUInformation) and unit.DisplayName and unit.DisplayName.Text:
            return ucum_unit(unit.DisplayName.Text)
        return None
