"""The OPC UA codec without a network: columns, quality, timestamps, setpoints, types, units,
and the certificates ``werk certs`` makes."""

from __future__ import annotations

import math
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from asyncua import ua
from cryptography import x509
from typer.testing import CliRunner

from werk.cli import app
from werk.connect import ConnectError
from werk.connect.opcua.certs import make_certificate
from werk.connect.opcua.codec import (
    Notifications,
    datetime_ns,
    plant_data_type,
    quality_of,
    setpoint_variant,
    ucum_unit,
)
from werk.connect.opcua.session import application_uri, describe
from werk.core import Quality

GOOD, UNCERTAIN, BAD = 0x00000000, 0x40000000, 0x80340000  # Good, Uncertain, BadNodeIdUnknown


def test_status_codes_map_to_quality_by_severity() -> None:
    status = np.array([GOOD, UNCERTAIN, BAD, 0xC0000000, 0x00000480], dtype=np.uint32)
    assert quality_of(status).tolist() == [
        Quality.GOOD,
        Quality.UNCERTAIN,
        Quality.BAD,
        Quality.BAD,
        Quality.GOOD,  # good, with the overflow info bits
    ]


def test_datetimes_become_exact_nanoseconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    expected = int(moment.timestamp()) * 10**9 + 123_456_000
    assert datetime_ns(moment) == expected
    assert datetime_ns(moment.replace(tzinfo=None)) == expected  # naive means UTC in asyncua


def test_notifications_gather_into_one_batch() -> None:
    names = ("a", "b", "c")
    buffer = Notifications(names)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    buffer.add([0], 1.5, GOOD, t, None, 7)
    buffer.add([1], True, UNCERTAIN, None, t + timedelta(seconds=1), 7)  # server time
    buffer.add([2], 42, GOOD | 0x480, None, None, 99)  # arrival time; server queue overflowed
    buffer.add([0], None, BAD, t, None, 7)  # a bad status without a value
    buffer.add([1, 2], 3, GOOD, t, None, 7)  # one node bound to two signals
    buffer.add([0], "text", GOOD, t, None, 7)
    buffer.add([0], [1.0, 2.0], GOOD, t, None, 7)
    assert len(buffer) == 6 and buffer.unsupported == 2
    batch, overflowed = buffer.take()
    assert len(buffer) == 0 and overflowed == 1
    assert batch.names == names
    assert batch.index.tolist() == [0, 1, 2, 0, 1, 2]
    base = datetime_ns(t)
    assert batch.timestamps.tolist() == [base, base + 10**9, 99, base, base, base]
    values = batch.values.tolist()
    assert values[:3] == [1.5, 1.0, 42.0] and math.isnan(values[3]) and values[4:] == [3.0, 3.0]
    assert batch.quality.tolist() == [0, 1, 0, 2, 0, 0]


def test_repeated_timestamps_reuse_the_conversion_and_stay_exact() -> None:
    buffer = Notifications(("a", "b"))
    t = datetime(2026, 1, 1, 12, tzinfo=UTC)
    later = t + timedelta(microseconds=1)
    naive = datetime(2026, 1, 1, 12, 0, 0, 1)  # asyncua's naive datetimes are UTC: = later
    berlin = t.astimezone(timezone(timedelta(hours=1)))  # the same instant as t
    for moment in (t, t, later, t, naive, naive, berlin, later):
        buffer.add([0], 1.0, GOOD, moment, None, 7)
    buffer.add([1], 1.0, GOOD, None, later, 7)  # the server's time takes the same path
    batch, _ = buffer.take()
    base = datetime_ns(t)
    assert batch.timestamps.tolist() == [
        base,
        base,
        base + 1000,
        base,
        base + 1000,
        base + 1000,
        base,
        base + 1000,
        base + 1000,
    ]


def test_setpoints_take_the_nodes_type() -> None:
    vt = ua.VariantType
    assert setpoint_variant(77.0, vt.Int16) == ua.Variant(77, vt.Int16)
    assert setpoint_variant("12", vt.UInt32) == ua.Variant(12, vt.UInt32)
    assert setpoint_variant(1, vt.Double) == ua.Variant(1.0, vt.Double)
    assert setpoint_variant("on", vt.Boolean) == ua.Variant(True, vt.Boolean)
    assert setpoint_variant(0, vt.Boolean) == ua.Variant(False, vt.Boolean)
    assert setpoint_variant(5, vt.String) == ua.Variant("5", vt.String)
    for value, variant_type, message in [
        (1e6, vt.Int16, "out of the range of Int16"),
        (-1, vt.Byte, "out of the range of Byte"),
        (1.5, vt.Int32, "not a whole number"),
        ("abc", vt.Double, "not a number"),
        (math.inf, vt.Double, "not a finite number"),
        (1e39, vt.Float, "out of the range of a Float"),
        (2, vt.Boolean, "not a boolean"),
        ("maybe", vt.Boolean, "not a boolean"),
        (1, vt.DateTime, "not supported"),
    ]:
        with pytest.raises(ValueError, match=message):
            setpoint_variant(value, variant_type)


def test_server_types_and_units_in_the_plant_files_words() -> None:
    vt = ua.VariantType
    assert [plant_data_type(t) for t in (vt.Double, vt.Float, vt.Int64, vt.Int32, vt.Int16)] == [
        "double",
        "float",
        "long",
        "int",
        "short",
    ]
    assert plant_data_type(vt.Boolean) == "boolean" and plant_data_type(vt.String) == "string"
    assert plant_data_type(vt.ExtensionObject) is None and plant_data_type(None) is None
    assert [ucum_unit(u) for u in ("°C", "rpm", "bar", "mm/s", "U/min", "Nm", "%")] == [
        "Cel",
        "/min",
        "bar",
        "mm/s",
        "/min",
        "N.m",
        "%",
    ]
    assert ucum_unit("furlongs per fortnight") is None and ucum_unit(" ") is None


def test_status_errors_are_described_for_people() -> None:
    assert "user name or password" in describe(
        ua.UaStatusCodeError(ua.StatusCodes.BadUserAccessDenied)
    )
    assert "certificate" in describe(ua.UaStatusCodeError(ua.StatusCodes.BadCertificateUntrusted))
    assert describe(ConnectionRefusedError(111, "Connection refused")).startswith(
        "ConnectionRefusedError"
    )
    assert describe(TimeoutError()) == "TimeoutError"


def test_certificates_carry_the_application_uri_and_hosts(tmp_path: Path) -> None:
    files = make_certificate(tmp_path, "werk", ["plant-gw", "10.0.0.5"])
    cert = x509.load_der_x509_certificate(files.certificate.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:plant-gw:werk:werk"]
    assert names.get_values_for_type(x509.DNSName) == ["plant-gw"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert application_uri(files.certificate) == application_uri(files.certificate_pem)
    assert stat.S_IMODE(files.private_key.stat().st_mode) == 0o600
    with pytest.raises(ConnectError, match="exists"):
        make_certificate(tmp_path, "werk", ["plant-gw"])


def test_werk_certs_command(tmp_path: Path) -> None:
    out = tmp_path / "pki"
    result = CliRunner().invoke(app, ["certs", "--out", str(out), "--host", "127.0.0.1"])
    assert result.exit_code == 0, result.output
    assert "urn:127.0.0.1:werk:werk" in result.stdout
    assert 'security_policy = "Basic256Sha256"' in result.stdout
    assert {p.name for p in out.iterdir()} == {"werk.der", "werk.pem", "werk.key.pem"}
    again = CliRunner().invoke(app, ["certs", "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.output
