"""werk's MQTT client against a Mosquitto that wants a password and speaks TLS: a broker of the
test's own (the shared one on 1883 is anonymous and plain), with a CA and a server certificate
made here. Right credentials and the right CA connect; a wrong password, no password and an
untrusted certificate are refused with a reason that says so; the password never appears in
the error, the address or the log."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import in_ci
from werk.connect import ConnectorStats
from werk.connect.mqtt import MqttSession, Received

USER = "line7"
PASSWORD = "s3cret-Pa55-for-tests"


@dataclass(frozen=True)
class SecureBroker:
    plain_port: int
    tls_port: int
    ca: Path

    def url(self, *, tls: bool, password: str | None = PASSWORD, ca: bool = True) -> str:
        credentials = f"{USER}:{password}@" if password is not None else ""
        if tls:
            query = f"?ca={self.ca}" if ca else ""
            return f"mqtts://{credentials}127.0.0.1:{self.tls_port}{query}"
        return f"mqtt://{credentials}127.0.0.1:{self.plain_port}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    passwd = shutil.which("mosquitto_passwd")
    if mosquitto is None or passwd is None:
        message = "mosquitto and mosquitto_passwd are not installed (Debian: apt install mosquitto)"
        if in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("secure-broker")
    ca = write_certificates(folder)
    subprocess.run([passwd, "-c", "-b", str(folder / "passwords"), USER, PASSWORD], check=True)
    (folder / "passwords").chmod(0o600)
    plain_port, tls_port = free_port(), free_port()
    (folder / "mosquitto.conf").write_text(
        f"""
per_listener_settings false
allow_anonymous false
password_file {folder / "passwords"}
persistence false
user root
listener {plain_port} 127.0.0.1
listener {tls_port} 127.0.0.1
cafile {ca}
certfile {folder / "server.pem"}
keyfile {folder / "server.key"}
"""
    )
    log = folder / "mosquitto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [mosquitto, "-c", str(folder / "mosquitto.conf")], stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + 10
        while not all(listening(p) for p in (plain_port, tls_port)):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the test's mosquitto did not start: {log.read_text()}")
            time.sleep(0.05)
        yield SecureBroker(plain_port, tls_port, ca)
    finally:
        process.terminate()
        process.wait(10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def write_certificates(folder: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 signed by it; returns the CA's file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool):  # type: ignore[no-untyped-def]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("werk test CA", ca_key, "werk test CA", ca_key, ca=True)
    server_cert = certificate("127.0.0.1", server_key, "werk test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (folder / "server.pem").write_bytes(server_cert.public_bytes(pem))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return folder / "ca.pem"


def session_for(url: str, stats: ConnectorStats, topic: str) -> MqttSession:
    return MqttSession(
        url,
        client_id=f"werk-secure-{uuid.uuid4().hex[:8]}",
        subscriptions=[(topic, 1)],
        stats=stats,
        persistent=False,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )


@pytest.mark.parametrize("tls", [False, True], ids=["password", "password+tls"])
async def test_right_credentials_connect_and_messages_flow(broker: SecureBroker, tls: bool):
    topic = f"werktest/{uuid.uuid4().hex[:8]}/x"
    stats = ConnectorStats("secure")
    session = session_for(broker.url(tls=tls), stats, topic)
    async with session:
        await asyncio.wait_for(session.wait_connected(), 10)
        await session.publish(topic, b"42", qos=1)
        received: list[Received] = []
        async with asyncio.timeout(10):
            async for messages in session.batches():
                received += messages
                session.ack(messages)
                break
    assert [m.payload for m in received] == [b"42"]
    assert PASSWORD not in str(session.address)


async def wait_refused(stats: ConnectorStats) -> str:
    deadline = time.monotonic() + 10
    while not stats.last_error:
        assert time.monotonic() < deadline, "no connection error reported within 10 s"
        await asyncio.sleep(0.02)
    assert stats.state != "connected"
    return stats.last_error


@pytest.mark.parametrize(
    ("password", "tls"),
    [("wrong-password-xyz", False), (None, False), ("wrong-password-xyz", True)],
    ids=["wrong-password", "no-password", "wrong-password+tls"],
)
async def test_refused_credentials_say_so_and_never_show_the_password(
    broker: SecureBroker, password: str | None, tls: bool, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    stats = ConnectorStats("secure")
    session = session_for(broker.url(tls=tls, password=password), stats, "werktest/never")
    async with session:
        error = await wait_refused(stats)
        await asyncio.sleep(0.3)  # a few more attempts: the session keeps retrying, calmly
    assert "refused the connection: not authorised" in error, error
    for secret in (PASSWORD, "wrong-password-xyz"):
        assert secret not in error and secret not in caplog.text
        assert secret not in str(session.address)


async def test_an_untrusted_server_certificate_is_refused_with_the_reason(
    broker: SecureBroker, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    stats = ConnectorStats("secure")
    # no ca= : the system's trust store, which does not know the test's CA
    session = session_for(broker.url(tls=True, ca=False), stats, "werktest/never")
    async with session:
        error = await wait_refused(stats)
    assert "certificate verify failed" in error, error
    assert PASSWORD not in error and PASSWORD not in caplog.text
