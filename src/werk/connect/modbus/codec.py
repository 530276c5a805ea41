"""Modbus without a network: addresses, data types, read planning, decoding and encoding.

Addresses are the plant file's ``unit:table:address[:type]``:

- ``unit``: the device (unit / slave id) behind the host, 0..247;
- ``table``: ``coil``, ``discrete`` (discrete input), ``input`` (input register) or ``holding``;
- ``address``: the 0-based protocol address (``1:holding:100`` reads register 100), **or** the
  classic 1-based 5-digit reference whose first digit names the table — ``0xxxx`` coils,
  ``1xxxx`` discrete inputs, ``3xxxx`` input registers, ``4xxxx`` holding registers — which
  maps to that reference minus the table digit minus one: ``1:holding:40001`` is register 0,
  ``1:coil:00010`` coil 9, ``1:input:30005`` input register 4. A device whose manual gives
  0-based addresses of 10000 or more in such a table sets the option ``zero_based = true``;
- ``type``: ``int16``, ``uint16``, ``int32``, ``uint32``, ``float32``, ``int64``, ``uint64``,
  ``float64`` for registers (default from the signal's data type: short → int16, int → int32,
  long → int64, anything else → float32), ``bool`` for coils and discrete inputs.

Multi-register values are big-endian words in big-endian order unless ``word_order`` /
``byte_order`` say ``little`` (connector-wide or per signal). Per signal, ``scale`` and
``offset`` turn raw register values into engineering units: ``value = raw * scale + offset``.

Reads are planned per unit and table: neighbouring points go into one request (at most 125
registers or 2000 bits, bridging holes of up to ``max_gap`` unused registers), and each answer is
decoded with numpy per group of points of one layout, not value by value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Table = Literal["coil", "discrete", "input", "holding"]
Order = Literal["big", "little"]
TABLES: tuple[Table, ...] = ("coil", "discrete", "input", "holding")
BIT_TABLES = frozenset({"coil", "discrete"})
WRITABLE = frozenset({"coil", "holding"})
_MODICON_DIGIT = {"coil": "0", "discrete": "1", "input": "3", "holding": "4"}

# type -> (registers, numpy big-endian dtype)
REGISTER_TYPES: dict[str, tuple[int, str]] = {
    "int16": (1, ">i2"),
    "uint16": (1, ">u2"),
    "int32": (2, ">i4"),
    "uint32": (2, ">u4"),
    "float32": (2, ">f4"),
    "int64": (4, ">i8"),
    "uint64": (4, ">u8"),
    "float64": (4, ">f8"),
}
_DEFAULT_TYPE = {"short": "int16", "int": "int32", "long": "int64"}
MAX_REGISTERS = 125  # per read request (Modbus application protocol 6.3)
MAX_BITS = 2000


class AddressError(ValueError):
    """A Modbus address or per-signal option that does not follow the rules above."""


@dataclass(frozen=True, slots=True)
class Point:
    """One signal's place on a device and how to turn its registers into a value."""

    signal: str
    unit: int
    table: Table
    address: int  # 0-based protocol address
    data_type: str  # a REGISTER_TYPES key, or "bool"
    scale: float = 1.0
    offset: float = 0.0
    word_order: Order = "big"
    byte_order: Order = "big"

    @property
    def width(self) -> int:
        """Registers (or bits) the point occupies."""
        return 1 if self.data_type == "bool" else REGISTER_TYPES[self.data_type][0]


def parse_point(
    signal: str,
    address: str,
    data_type: str = "double",
    options: Mapping[str, Any] | None = None,
    *,
    zero_based: bool = False,
) -> Point:
    """A :class:`Point` from a plant-file address and the signal's options (``scale``,
    ``offset``, ``word_order``, ``byte_order``; connector-wide defaults merged in by the caller).
    Raises :class:`AddressError` naming the rule that is broken."""
    options = options or {}
    parts = address.split(":")
    if len(parts) not in (3, 4):
        raise AddressError(f"{signal}: modbus address {address!r} is not unit:table:address[:type]")
    unit_text, table, number = parts[:3]
    if not unit_text.isdigit() or int(unit_text) > 247:
        raise AddressError(f"{signal}: unit {unit_text!r} in {address!r} is not 0..247")
    if table not in TABLES:
        raise AddressError(
            f"{signal}: table {table!r} in {address!r} is not one of {', '.join(TABLES)}"
        )
    if not number.isdigit():
        raise AddressError(f"{signal}: address {number!r} in {address!r} is not a number")
    protocol_address = int(number)
    if not zero_based and len(number) == 5 and number[0] == _MODICON_DIGIT[table]:
        protocol_address = int(number[1:]) - 1  # 40001 -> 0
        if protocol_address < 0:
            raise AddressError(f"{signal}: {number} is no register reference (they start at 1)")
    if protocol_address > 65535:
        raise AddressError(f"{signal}: address {number} in {address!r} is beyond 65535")
    if table in BIT_TABLES:
        kind = parts[3] if len(parts) == 4 else "bool"
        if kind != "bool":
            raise AddressError(f"{signal}: a {table} holds one bit; type must be bool, not {kind}")
    else:
        kind = parts[3] if len(parts) == 4 else _DEFAULT_TYPE.get(data_type, "float32")
        if kind not in REGISTER_TYPES:
            raise AddressError(
                f"{signal}: type {kind!r} in {address!r} is not one of {', '.join(REGISTER_TYPES)}"
            )
    scale, offset = _float(signal, options, "scale", 1.0), _float(signal, options, "offset", 0.0)
    if scale == 0:
        raise AddressError(f"{signal}: scale must not be 0")
    return Point(
        signal,
        int(unit_text),
        table,  # checked against TABLES above
        protocol_address,
        kind,
        scale,
        offset,
        _order(signal, options, "word_order"),
        _order(signal, options, "byte_order"),
    )


def _float(signal: str, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AddressError(f"{signal}: {key} must be a finite number, not {value!r}")
    return float(value)


def _order(signal: str, options: Mapping[str, Any], key: str) -> Order:
    value = options.get(key, "big")
    if value not in ("big", "little"):
        raise AddressError(f"{signal}: {key} must be 'big' or 'little', not {value!r}")
    return "big" if value == "big" else "little"


# -- planning ------------------------------------------------------------------------------------


@dataclass
class Read:
    """One request: ``count`` registers or bits of ``table`` from ``start``, and the points in it
    with their offsets into the answer."""

    unit: int
    table: Table
    start: int
    count: int
    points: list[Point] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


def plan_reads(points: Iterable[Point], max_gap: int = 16) -> list[Read]:
    """As few requests as the limits allow, per unit and table, in address order."""
    groups: dict[tuple[int, Table], list[Point]] = {}
    for point in points:
        groups.setdefault((point.unit, point.table), []).append(point)
    reads: list[Read] = []
    for (unit, table), members in sorted(groups.items()):
        limit = MAX_BITS if table in BIT_TABLES else MAX_REGISTERS
        gap = max_gap * 16 if table in BIT_TABLES else max_gap
        current: Read | None = None
        for point in sorted(members, key=lambda p: (p.address, p.width)):
            end = point.address + point.width
            if (
                current is None
                or point.address > current.start + current.count + gap
                or end - current.start > limit
            ):
                current = Read(unit, table, point.address, 0)
                reads.append(current)
            current.count = max(current.count, end - current.start)
            current.points.append(point)
            current.offsets.append(point.address - current.start)
    return reads


# -- decoding ------------------------------------------------------------------------------------


def decode(read: Read, answer: Sequence[int] | Sequence[bool]) -> npt.NDArray[np.float64]:
    """The values of ``read.points`` (in their order) from a device's answer: registers as
    16-bit numbers, or bits. Points of one layout are decoded together."""
    n = len(read.points)
    values = np.empty(n, dtype=np.float64)
    if read.table in BIT_TABLES:
        bits = np.asarray(answer[: read.count], dtype=bool)
        values[:] = bits[np.asarray(read.offsets, dtype=np.intp)]
        return values
    words = np.asarray(answer[: read.count], dtype=np.uint16)
    layouts: dict[tuple[str, Order, Order], list[int]] = {}
    for i, point in enumerate(read.points):
        layouts.setdefault((point.data_type, point.word_order, point.byte_order), []).append(i)
    offsets = np.asarray(read.offsets, dtype=np.intp)
    for (data_type, word_order, byte_order), members in layouts.items():
        width, dtype = REGISTER_TYPES[data_type]
        where = np.asarray(members, dtype=np.intp)
        block = words[offsets[where, None] + np.arange(width)]  # (points, width)
        if word_order == "little":
            block = block[:, ::-1]
        if byte_order == "little":
            block = block.byteswap()
        raw = np.ascontiguousarray(block).astype(">u2").view(dtype).reshape(-1)
        values[where] = raw
    scale = np.fromiter((p.scale for p in read.points), dtype=np.float64, count=n)
    offset = np.fromiter((p.offset for p in read.points), dtype=np.float64, count=n)
    return values * scale + offset


# -- encoding (writes) ---------------------------------------------------------------------------


def encode(point: Point, value: float | int | bool | str) -> list[int] | bool:
    """Registers (or a bit) that make ``point`` read ``value``: the inverse of :func:`decode`.
    Raises ``ValueError`` for a value that does not fit the type."""
    if point.table not in WRITABLE:
        raise ValueError(f"{point.signal}: a {point.table} is read-only")
    number = _number(point.signal, value)
    if point.data_type == "bool":
        if number not in (0.0, 1.0):
            raise ValueError(f"{point.signal}: {value!r} is not a boolean (0/1, true/false)")
        return bool(number)
    raw = (number - point.offset) / point.scale
    width, dtype = REGISTER_TYPES[point.data_type]
    kind = np.dtype(dtype)
    if kind.kind in "iu":
        whole = round(raw)
        if abs(raw - whole) > 1e-6 * max(1.0, abs(raw)):
            raise ValueError(
                f"{point.signal}: {value!r} is not representable as {point.data_type} "
                f"with scale {point.scale:g} and offset {point.offset:g}"
            )
        info = np.iinfo(kind)
        if not info.min <= whole <= info.max:
            raise ValueError(
                f"{point.signal}: {value!r} is out of the range of {point.data_type} "
                f"({info.min}..{info.max} raw)"
            )
        data = np.array([whole], dtype=kind)
    else:
        if point.data_type == "float32" and abs(raw) > 3.4028234663852886e38:
            raise ValueError(f"{point.signal}: {value!r} is out of the range of float32")
        data = np.array([raw], dtype=kind)
    words = data.view(">u2").astype(np.uint16)
    if point.byte_order == "little":
        words = words.byteswap()
    if point.word_order == "little":
        words = words[::-1]
    assert len(words) == width
    return [int(w) for w in words]


def _number(signal: str, value: float | int | bool | str) -> float:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "on"):
            return 1.0
        if text in ("false", "off"):
            return 0.0
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{signal}: {value!r} is not a number") from None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{signal}: {value!r} is not a finite number")
    return number
