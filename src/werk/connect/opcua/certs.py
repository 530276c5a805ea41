"""Application instance certificates for OPC UA security (``werk certs``).

OPC UA's Basic256Sha256 needs each side to hold an X.509 certificate whose subjectAltName names
the application URI (OPC 10000-4 6.1, 10000-6 6.2.2) and the host; a server compares that URI
with the one the client announces. asyncua's ``cert_gen`` builds exactly that certificate; this
module chooses the names, writes the files (the key readable by its owner only) and refuses to
overwrite a key that servers may already trust.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from werk.connect.base import ConnectError


@dataclass(frozen=True)
class CertificateFiles:
    certificate: Path  # DER, what OPC UA servers import into their trust lists
    certificate_pem: Path  # the same certificate in PEM, for tools that want it
    private_key: Path  # PEM, mode 0600
    application_uri: str


def default_application_uri(name: str, host: str) -> str:
    return f"urn:{host}:werk:{name}"


def make_certificate(
    directory: Path,
    name: str = "werk",
    hosts: list[str] | None = None,
    application_uri: str | None = None,
    days: int = 3650,
    overwrite: bool = False,
) -> CertificateFiles:
    """Write ``<name>.der``, ``<name>.pem`` and ``<name>.key.pem`` into ``directory``."""
    hosts = hosts or [socket.gethostname()]
    uri = application_uri or default_application_uri(name, hosts[0])
    directory.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles(
        directory / f"{name}.der", directory / f"{name}.pem", directory / f"{name}.key.pem", uri
    )
    existing = [p for p in (files.certificate, files.private_key) if p.exists()]
    if existing and not overwrite:
        raise ConnectError(
            f"{existing[0]} exists; servers may trust it already (use --force to replace it)"
        )
    alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri)]
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    key = cert_gen.generate_private_key()
    certificate = cert_gen.generate_self_signed_app_certificate(
        key,
        name,
        {"organizationName": "werk"},
        alt_names,
        extended=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
        days=days,
    )
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    files.certificate_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    descriptor = os.open(files.private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(cert_gen.dump_private_key_as_pem(key))
    os.chmod(files.private_key, 0o600)
    return files
