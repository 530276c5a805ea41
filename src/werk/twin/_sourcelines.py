"""Line numbers of keys in TOML and YAML text, so that plant-file errors can point at a line.

tomllib keeps no positions, so TOML is scanned line by line for table headers and ``key =``
lines (inline tables included): good enough for hand-written files. YAML keeps positions in its
node graph, which is walked once; duplicate keys (which PyYAML would silently overwrite) are
reported on the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Path = tuple[str, ...]

_BARE_OR_QUOTED = re.compile(r"""[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'""")
_HEADER = re.compile(r"""^\s*\[\[?\s*(?P<key>[^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$""")
_KEY = re.compile(
    r"""^\s*(?P<key>(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
    r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*="""
)
_INLINE_KEY = re.compile(r"""[{,]\s*(?P<key>[A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


def _split_key(text: str) -> Path:
    return tuple(part.strip("\"'") for part in _BARE_OR_QUOTED.findall(text))


class LineIndex:
    """Maps a key path (``("assets", "press1", "signals")``) to the line where it is written."""

    def __init__(self, lines: dict[Path, int] | None = None) -> None:
        self.lines: dict[Path, int] = lines or {}

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest written ancestor."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None

    @classmethod
    def from_toml(cls, text: str) -> LineIndex:
        lines: dict[Path, int] = {}
        table: Path = ()
        in_multiline: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            if in_multiline:
                if raw.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = _HEADER.match(raw)
            if header and not _KEY.match(raw):
                table = _split_key(header.group("key"))
                lines.setdefault(table, number)
                continue
            key = _KEY.match(raw)
            if key is None:
                continue
            path = table + _split_key(key.group("key"))
            lines.setdefault(path, number)
            rest = raw[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
            if rest.lstrip().startswith("{"):
                for inner in _INLINE_KEY.finditer(rest):
                    lines.setdefault(path + _split_key(inner.group("key")), number)
        return cls(lines)


def yaml_index(text: str) -> tuple[Any, LineIndex, list[tuple[Path, int, str]]]:
    """Parse YAML: the data, its line index, and duplicate keys as (path, line, key)."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    duplicates: list[tuple[Path, int, str]] = []
    if node is not None:
        for path, line, duplicate in _walk(node, ()):
            if duplicate:
                duplicates.append((path[:-1], line, path[-1]))
            else:
                lines.setdefault(path, line)
    return data, LineIndex(lines), duplicates


def _walk(node: Any, path: Path) -> Iterator[tuple[Path, int, bool]]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            yield child, key_node.start_mark.line + 1, key in seen
            seen.add(key)
            yield from _walk(value_node, child)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            child = (*path, str(position))
            yield child, item.start_mark.line + 1, False
            yield from _walk(item, child)
