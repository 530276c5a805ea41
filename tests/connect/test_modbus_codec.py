"""The Modbus codec without a network: address rules, read planning, decoding and encoding."""

from __future__ import annotations

import numpy as np
import pytest

from werk.connect.modbus.codec import AddressError, Point, decode, encode, parse_point, plan_reads


def test_addresses_zero_based_or_five_digit_references() -> None:
    assert parse_point("s", "1:holding:40001").address == 0
    assert parse_point("s", "1:holding:49999").address == 9998
    assert parse_point("s", "1:holding:100").address == 100
    assert parse_point("s", "1:input:30005").address == 4
    assert parse_point("s", "1:input:40005").address == 40005  # not an input reference
    assert parse_point("s", "1:coil:00010").address == 9
    assert parse_point("s", "1:coil:10").address == 10
    assert parse_point("s", "1:discrete:10001").address == 0
    assert parse_point("s", "1:holding:40001", zero_based=True).address == 40001
    assert parse_point("s", "2:holding:0").data_type == "float32"
    assert parse_point("s", "2:holding:0", "int").data_type == "int32"
    assert parse_point("s", "2:coil:0").data_type == "bool"
    for bad, rule in [
        ("1:holding", "unit:table:address"),
        ("300:holding:0", "0..247"),
        ("1:register:0", "table"),
        ("1:holding:40000", "start at 1"),
        ("1:holding:0:int12", "type"),
        ("1:coil:0:float32", "bool"),
    ]:
        with pytest.raises(AddressError, match=rule):
            parse_point("s", bad)
    with pytest.raises(AddressError, match="scale must not be 0"):
        parse_point("s", "1:holding:0", options={"scale": 0})


def test_reads_are_planned_within_the_protocol_limits() -> None:
    points = [parse_point(f"r{i}", f"1:holding:{i * 2}:float32") for i in range(100)]
    points += [parse_point("c", "1:coil:0"), parse_point("u2", "2:holding:0:int16")]
    reads = plan_reads(points)
    holding = [r for r in reads if r.unit == 1 and r.table == "holding"]
    assert [(r.start, r.count) for r in holding] == [(0, 124), (124, 76)]  # 125 at most
    assert sum(len(r.points) for r in reads) == len(points)
    assert [(r.start, r.count) for r in plan_reads(points[:2] + points[10:11], max_gap=0)] == [
        (0, 4),
        (20, 2),
    ]


def test_decode_and_encode_are_inverse() -> None:
    layouts = [
        ("int16", "big", "big", -5.0, 1.0, 0.0),
        ("uint32", "little", "big", 4_000_000_000.0, 1.0, 0.0),
        ("float32", "big", "little", 3.5, 1.0, 0.0),
        ("float64", "little", "little", -1e-3, 1.0, 0.0),
        ("int32", "big", "big", 12.3, 0.1, 0.0),
        ("uint16", "big", "big", 20.0, 0.5, -10.0),
    ]
    points, registers, address = [], [0] * 64, 0
    for i, (kind, words, byte_order, value, scale, offset) in enumerate(layouts):
        point = Point(f"p{i}", 1, "holding", address, kind, scale, offset, words, byte_order)  # type: ignore[arg-type]
        encoded = encode(point, value)
        assert isinstance(encoded, list)
        registers[address : address + len(encoded)] = encoded
        points.append(point)
        address += point.width + 1
    (read,) = plan_reads(points)
    decoded = decode(read, registers)
    assert decoded.tolist() == pytest.approx([layout[3] for layout in layouts])
    # A float32 big-endian 1.0 is 0x3F80 0x0000, as the Modbus world writes it.
    assert encode(parse_point("f", "1:holding:0:float32"), 1.0) == [0x3F80, 0]
    coil = parse_point("c", "1:coil:3")
    assert encode(coil, "true") is True and encode(coil, 0) is False
    (bits,) = plan_reads([coil, parse_point("d", "1:coil:5")])
    assert (bits.start, bits.count) == (3, 3)
    answer = [True, False, False, False, False, False, False, False]  # padded to a byte
    assert decode(bits, answer).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="not representable"):
        encode(parse_point("i", "1:holding:0:int16", options={"scale": 0.5}), 0.3)
    with pytest.raises(ValueError, match="read-only"):
        encode(parse_point("i", "1:input:0:int16"), 1)
    with pytest.raises(ValueError, match="not a number"):
        encode(parse_point("i", "1:holding:0:int16"), "x")
    assert np.isfinite(decoded).all()
