"""The Modbus TCP connector (``modbus+tcp://host:502``): polled registers into batches.

Each unit (device id) behind the host is polled on a connection of its own, every
``poll_interval_ms`` (default 1000), with its requests planned by the codec. A unit that does
not answer within ``timeout_s`` (default 1) is marked BAD — its signals only — and retried with
backoff while the other units go on undisturbed. A Modbus exception (illegal data address, device
failure...) is counted by reason and marks the points of that request BAD once, until they read
again.

Options (``[connectors.options]``): ``poll_interval_ms``, ``timeout_s``, ``word_order`` and
``byte_order`` (``big`` default), ``zero_based`` (see the codec's address rules), ``max_gap``
(unused registers a request may bridge, default 16; 0 for devices that refuse reads of
undefined registers), and per signal ``[connectors.options.signals."press1.speed"]`` with
``scale``, ``offset``, ``word_order``, ``byte_order``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from werk.connect.backoff import Backoff
from werk.connect.base import Binding, ConnectError, ConnectorConfig
from werk.connect.modbus.codec import (
    WRITABLE,
    AddressError,
    Point,
    Read,
    decode,
    encode,
    parse_point,
    plan_reads,
)
from werk.connect.outlet import Outlet
from werk.connect.stats import ConnectorStats
from werk.core import ConfigError, Quality, SampleBatch

log = logging.getLogger(__name__)

# Modbus exception codes (Modbus application protocol 7), as counter names.
EXCEPTIONS = {
    1: "illegal-function",
    2: "illegal-address",
    3: "illegal-value",
    4: "device-failure",
    5: "acknowledge",
    6: "device-busy",
    8: "memory-parity-error",
    10: "gateway-path-unavailable",
    11: "gateway-no-response",
}


class ModbusError(ConnectError):
    """A Modbus device refused a write or could not be reached for it."""


class _UnitDown(Exception):
    """A unit did not answer or its connection broke: retry with backoff."""


def _positive(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"modbus+tcp: option {key} must be a positive number, not {value!r}")
    return float(value)


class ModbusConnector:
    def __init__(self, url: str, config: ConnectorConfig) -> None:
        options = config.options
        parts = urlsplit(url)
        if not parts.hostname:
            raise ConfigError(f"connector {config.name}: {url!r} has no host")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 502
        self.name = config.name
        self.bindings: tuple[Binding, ...] = tuple(config.bindings)
        self.stats = ConnectorStats(config.name)
        self.poll_s = _positive(options, "poll_interval_ms", 1000.0) / 1000
        self.timeout_s = _positive(options, "timeout_s", 1.0)
        max_gap = options.get("max_gap", 16)
        if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0:
            raise ConfigError(f"modbus+tcp: max_gap must be a whole number >= 0: {max_gap!r}")
        defaults = {k: options[k] for k in ("word_order", "byte_order") if k in options}
        per_signal: Mapping[str, Mapping[str, Any]] = options.get("signals", {}) or {}
        self.points: dict[str, Point] = {}
        try:
            for binding in self.bindings:
                self.points[binding.signal] = parse_point(
                    binding.signal,
                    binding.address,
                    binding.data_type,
                    {**defaults, **per_signal.get(binding.signal, {})},
                    zero_based=bool(options.get("zero_based", False)),
                )
        except AddressError as error:
            raise ConfigError(f"connector {config.name}: {error}") from error
        self.plans: dict[int, list[Read]] = {}
        for read in plan_reads(self.points.values(), max_gap):
            self.plans.setdefault(read.unit, []).append(read)
        self._clients: dict[int, AsyncModbusTcpClient] = {}
        self._down: set[int] = set()
        self._failing: set[tuple[int, str, int]] = set()  # requests answering with exceptions
        self.stats.extra["units"] = {unit: "starting" for unit in self.plans}

    # -- polling ---------------------------------------------------------------------------------

    async def run(self, outlet: Outlet) -> None:
        self._outlet = outlet
        if not self.plans:
            await asyncio.Event().wait()  # nothing bound: idle until cancelled
        await asyncio.gather(*(self._unit(unit, outlet) for unit in self.plans))

    async def _unit(self, unit: int, outlet: Outlet) -> None:
        backoff = Backoff(initial=min(1.0, self.poll_s), maximum=30.0)
        while True:
            client = AsyncModbusTcpClient(
                self.host,
                port=self.port,
                timeout=self.timeout_s,
                retries=0,
                reconnect_delay=0,  # werk reconnects, with its own backoff
                name=f"{self.name}-unit{unit}",
            )
            try:
                try:
                    connected = await asyncio.wait_for(client.connect(), self.timeout_s * 2)
                except (OSError, TimeoutError, ModbusException) as error:
                    raise _UnitDown(f"cannot connect: {error or type(error).__name__}") from error
                if not connected:
                    raise _UnitDown(f"cannot connect to {self.host}:{self.port}")
                self._clients[unit] = client
                await self._poll(unit, client, outlet, backoff)
            except _UnitDown as error:
                await self._unit_down(unit, str(error), outlet)
            finally:
                self._clients.pop(unit, None)
                client.close()
            await asyncio.sleep(backoff.delay())

    async def _poll(
        self, unit: int, client: AsyncModbusTcpClient, outlet: Outlet, backoff: Backoff
    ) -> None:
        reads = self.plans[unit]
        next_poll = time.monotonic()
        while True:
            now_ns = time.time_ns()
            names: list[str] = []
            values: list[np.ndarray[Any, Any]] = []
            for read in reads:
                answer = await self._read(unit, client, read)
                if answer is None:
                    continue
                names.extend(p.signal for p in read.points)
                values.append(decode(read, answer))
            self.stats.messages += len(reads)
            if unit in self._down or self.stats.extra["units"].get(unit) != "connected":
                self._unit_up(unit)
                backoff.reset()
            if names:
                n = len(names)
                await outlet.deliver(
                    SampleBatch(
                        tuple(names),
                        np.arange(n, dtype=np.int32),
                        np.full(n, now_ns, np.int64),
                        np.concatenate(values),
                        np.zeros(n, np.uint8),
                    )
                )
            next_poll += self.poll_s
            delay = next_poll - time.monotonic()
            if delay < 0:  # slower than the interval: poll again at once, do not pile up
                next_poll = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)

    async def _read(
        self, unit: int, client: AsyncModbusTcpClient, read: Read
    ) -> Sequence[int] | Sequence[bool] | None:
        call = {
            "coil": client.read_coils,
            "discrete": client.read_discrete_inputs,
            "input": client.read_input_registers,
            "holding": client.read_holding_registers,
        }[read.table]
        try:
            response = await call(read.start, count=read.count, device_id=unit)
        except (ModbusException, OSError, TimeoutError) as error:
            raise _UnitDown(f"no answer within {self.timeout_s:g} s ({error})") from error
        key = (unit, read.table, read.start)
        if response.isError():
            reason = EXCEPTIONS.get(response.exception_code, f"exception-{response.exception_code}")
            self.stats.reject(
                reason,
                len(read.points),
                f"unit {unit} {read.table} {read.start}..{read.start + read.count - 1}",
            )
            if key not in self._failing:
                self._failing.add(key)
                await self._mark_points(read.points, Quality.BAD)
            return None
        self._failing.discard(key)
        return response.bits if read.table in ("coil", "discrete") else response.registers

    # -- health ----------------------------------------------------------------------------------

    def _unit_up(self, unit: int) -> None:
        self._down.discard(unit)
        if self.stats.extra["units"].get(unit) != "connected":
            log.info("%s: unit %d answers", self.name, unit)
        self.stats.extra["units"][unit] = "connected"
        if not self._down:
            self.stats.connected()

    async def _unit_down(self, unit: int, error: str, outlet: Outlet) -> None:
        self.stats.extra["units"][unit] = error
        if unit in self._down:
            return
        self._down.add(unit)
        self.stats.disconnected(f"unit {unit}: {error}")
        log.warning("%s: unit %d: %s (its signals marked bad; retrying)", self.name, unit, error)
        await outlet.mark([p.signal for r in self.plans[unit] for p in r.points], Quality.BAD)

    async def _mark_points(self, points: list[Point], quality: Quality) -> None:
        outlet = self._outlet
        if outlet is not None:
            await outlet.mark([p.signal for p in points], quality)

    _outlet: Outlet | None = None

    # -- writes ----------------------------------------------------------------------------------

    async def write(self, binding: Binding, value: float | int | bool | str) -> None:
        point = self.points.get(binding.signal)
        if point is None:
            raise ModbusError(f"{binding.signal} is not bound to {self.name}")
        if point.table not in WRITABLE:
            raise ModbusError(f"{binding.signal}: a {point.table} is read-only")
        try:
            encoded = encode(point, value)
        except ValueError as error:
            raise ModbusError(str(error)) from error
        client = self._clients.get(point.unit)
        if client is None or point.unit in self._down:
            raise ModbusError(f"{binding.signal}: unit {point.unit} is not connected")
        try:
            if isinstance(encoded, bool):
                response = await client.write_coil(point.address, encoded, device_id=point.unit)
            elif len(encoded) == 1:
                response = await client.write_register(
                    point.address, encoded[0], device_id=point.unit
                )
            else:
                response = await client.write_registers(
                    point.address, encoded, device_id=point.unit
                )
        except (ModbusException, OSError, TimeoutError) as error:
            raise ModbusError(f"{binding.signal}: write failed: {error}") from error
        if response.isError():
            reason = EXCEPTIONS.get(response.exception_code, str(response.exception_code))
            raise ModbusError(f"{binding.signal}: the device refused the write: {reason}")
