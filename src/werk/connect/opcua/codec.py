"""OPC UA without a network: notifications into columns, status codes into quality, setpoints into
variants, server data types and engineering units into the plant file's words.

The async shell (``connector``) hands every data change here as plain fields (a binding position,
the value, the status code's number and the two timestamps); :class:`Notifications` collects them
column-wise and turns a few milliseconds of them into one :class:`~werk.core.SampleBatch`, with
the status-to-quality mapping done on whole arrays. Nothing here opens a socket, so all of it is
tested without a server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from asyncua import ua

from werk.core import Quality, SampleBatch
from werk.twin.units import COMMON_MISTAKES, ucum_problem_free

# A status code's two top bits are its severity (OPC 10000-4 7.39): 00 good, 01 uncertain,
# 10 bad (11 is reserved; treat as bad).
_QUALITY_OF_SEVERITY = np.array(
    [Quality.GOOD, Quality.UNCERTAIN, Quality.BAD, Quality.BAD], dtype=np.uint8
)
# InfoType "DataValue" (0x400) with the Overflow bit (0x80): the server's monitored-item queue
# was full and it discarded values before this one — data lost on the server, worth a counter.
_OVERFLOW = 0x0480

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def quality_of(status: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    """Sample quality for an array of OPC UA status codes (by severity)."""
    result: npt.NDArray[np.uint8] = _QUALITY_OF_SEVERITY[status >> 30]
    return result


def overflowed(status: npt.NDArray[np.uint32]) -> int:
    """How many of these values report that the server's queue discarded older values."""
    return int(np.count_nonzero((status & _OVERFLOW) == _OVERFLOW))


def datetime_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch, exact to the microsecond OPC UA's datetimes carry
    through asyncua (naive datetimes are UTC there)."""
    epoch = _EPOCH_NAIVE if moment.tzinfo is None else _EPOCH
    return ((moment - epoch) // _MICROSECOND) * 1000


class Notifications:
    """Data changes collected column-wise until the shell delivers them as one batch.

    ``add`` is the per-notification hot path: a few type checks and list appends, no numpy and
    no objects per sample beyond the lists' numbers. Strings, byte strings, arrays and other
    values that are not numbers are counted in :attr:`unsupported`, not delivered. The last
    timestamp's nanoseconds are remembered: a server stamps the values it samples together
    with one time, so most changes skip the conversion.
    """

    __slots__ = (
        "_index",
        "_last_ns",
        "_last_time",
        "_status",
        "_timestamps",
        "_values",
        "names",
        "unsupported",
    )

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.unsupported = 0
        self._index: list[int] = []
        self._timestamps: list[int] = []
        self._values: list[float] = []
        self._status: list[int] = []
        self._last_time: datetime | None = None
        self._last_ns = 0

    def __len__(self) -> int:
        return len(self._index)

    def add(
        self,
        positions: Sequence[int],
        value: Any,
        status: int,
        source_time: datetime | None,
        server_time: datetime | None,
        arrival_ns: int,
    ) -> None:
        kind = type(value)
        if kind is float or kind is int or kind is bool:
            number = float(value)
        elif value is None:  # a bad status often comes without a value
            number = math.nan
        else:
            self.unsupported += len(positions)
            return
        moment = source_time if source_time is not None else server_time
        if moment is None:
            when = arrival_ns
        elif moment == self._last_time:  # equal datetimes are the same instant (or naive UTC)
            when = self._last_ns
        else:
            when = self._last_ns = datetime_ns(moment)
            self._last_time = moment
        for position in positions:
            self._index.append(position)
            self._timestamps.append(when)
            self._values.append(number)
            self._status.append(status)

    def take(self) -> tuple[SampleBatch, int]:
        """The collected samples as one batch, and how many of them report a server-side queue
        overflow; the buffer starts empty again."""
        status = np.array(self._status, dtype=np.uint32)
        batch = SampleBatch(
            self.names,
            np.array(self._index, dtype=np.int32),
            np.array(self._timestamps, dtype=np.int64),
            np.array(self._values, dtype=np.float64),
            quality_of(status),
        )
        self._index, self._timestamps, self._values, self._status = [], [], [], []
        return batch, overflowed(status)


# -- setpoints -----------------------------------------------------------------------------------

_INTEGER_RANGES: dict[ua.VariantType, tuple[int, int]] = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def setpoint_variant(value: float | int | bool | str, variant_type: ua.VariantType) -> ua.Variant:
    """``value`` as a variant of the node's own type, so the server does not answer
    ``BadTypeMismatch`` to a Double written into an Int16. Raises ``ValueError`` naming the rule
    (not a number, not whole, out of range) when it does not fit."""
    name = variant_type.name
    if variant_type == ua.VariantType.Boolean:
        if isinstance(value, str):
            text = value.strip().lower()
            if text not in _TRUE | _FALSE:
                raise ValueError(f"{value!r} is not a boolean (true/false, 1/0)")
            return ua.Variant(text in _TRUE, variant_type)
        if isinstance(value, bool) or value in (0, 1):
            return ua.Variant(bool(value), variant_type)
        raise ValueError(f"{value!r} is not a boolean (true/false, 1/0)")
    if variant_type == ua.VariantType.String:
        return ua.Variant(value if isinstance(value, str) else str(value), variant_type)
    number = _number(value)
    if variant_type in (ua.VariantType.Double, ua.VariantType.Float):
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        if variant_type == ua.VariantType.Float and abs(number) > 3.4028234663852886e38:
            raise ValueError(f"{value!r} is out of the range of a Float")
        return ua.Variant(number, variant_type)
    if variant_type in _INTEGER_RANGES:
        if not (math.isfinite(number) and number == int(number)):
            raise ValueError(f"{value!r} is not a whole number, and the node is {name}")
        low, high = _INTEGER_RANGES[variant_type]
        whole = int(number) if not isinstance(value, int) else value
        if not low <= whole <= high:
            raise ValueError(f"{value!r} is out of the range of {name} ({low}..{high})")
        return ua.Variant(whole, variant_type)
    raise ValueError(f"writing to a node of type {name} is not supported")


def _number(value: float | int | bool | str) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    return float(value)


# -- browsing ------------------------------------------------------------------------------------

_PLANT_TYPE: dict[ua.VariantType, str] = {
    ua.VariantType.Double: "double",
    ua.VariantType.Float: "float",
    ua.VariantType.Int64: "long",
    ua.VariantType.UInt64: "long",
    ua.VariantType.UInt32: "long",
    ua.VariantType.Int32: "int",
    ua.VariantType.UInt16: "int",
    ua.VariantType.Int16: "short",
    ua.VariantType.SByte: "short",
    ua.VariantType.Byte: "short",
    ua.VariantType.Boolean: "boolean",
    ua.VariantType.String: "string",
    ua.VariantType.LocalizedText: "string",
}


def plant_data_type(variant_type: ua.VariantType | None) -> str | None:
    """The plant file's data type for a server's variable type; None for types werk does not
    record (structures, byte strings, date-times...)."""
    return _PLANT_TYPE.get(variant_type) if variant_type is not None else None


# Engineering-unit display names that are neither UCUM nor among the twin's known mistakes.
_EU_TO_UCUM = {
    "°": "deg",
    "U/min": "/min",
    "1/s": "/s",
    "l/min": "L/min",
    "l/h": "L/h",
    "m³/h": "m3/h",
    "m³": "m3",
    "m²": "m2",
    "m/s²": "m/s2",
    "µm": "um",
    "μm": "um",
    "µs": "us",
    "Ω": "Ohm",
    "kΩ": "kOhm",
    "‰": "[ppth]",
}


def ucum_unit(display_name: str) -> str | None:
    """UCUM for an EUInformation display name where the match is obvious (``°C`` → ``Cel``,
    ``rpm`` → ``/min``); None when it is not, rather than a wrong unit in the plant file."""
    text = display_name.strip()
    if not text:
        return None
    if text in COMMON_MISTAKES:
        return COMMON_MISTAKES[text]
    if text in _EU_TO_UCUM:
        return _EU_TO_UCUM[text]
    return text if ucum_problem_free(text) else None
