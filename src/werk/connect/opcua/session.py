"""Opening an asyncua client the way werk.toml says: timeouts, security policy and mode,
certificates, user name and password — shared by the connector and ``werk connect browse``.

Options (``[connectors.options]``):

- ``security_policy``: ``None`` (default; for local tests) or ``Basic256Sha256``;
  ``security_mode``: ``Sign`` or ``SignAndEncrypt`` (default);
- ``certificate`` / ``private_key``: werk's application instance certificate and key (PEM or DER,
  made by ``werk certs``); ``server_certificate``: the server's, when it should be pinned
  (otherwise taken from the server's endpoint list);
- ``username`` with ``password``, or ``password_env`` naming an environment variable that holds
  it (so the secret stays out of werk.toml). Passwords are never logged or shown in errors;
- ``timeout_s`` (request timeout, default 4), ``watchdog_s`` (how often a silent connection is
  probed, default 1), ``reconnect_max_s`` (longest wait between reconnect attempts, default 30).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies
from asyncua.ua.status_codes import get_name_and_doc
from asyncua.ua.uaerrors import UaStatusCodeError
from cryptography import x509

from werk.connect.base import ConnectError
from werk.core import ConfigError

log = logging.getLogger(__name__)

POLICIES = {"None": None, "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256}
MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}


class OpcUaError(ConnectError):
    """An OPC UA server refused a connection, a subscription or a write."""


@dataclass(frozen=True)
class ClientOptions:
    timeout_s: float = 4.0
    watchdog_s: float = 1.0
    reconnect_max_s: float = 30.0
    security_policy: str = "None"
    security_mode: str = "SignAndEncrypt"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str = "opc.tcp") -> ClientOptions:
        def number(key: str, default: float) -> float:
            value = options.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{where}: option {key} must be a positive number, not {value!r}")
            return float(value)

        policy = str(options.get("security_policy", "None"))
        if policy not in POLICIES:
            raise ConfigError(
                f"{where}: security_policy {policy!r} is not one of {', '.join(POLICIES)}"
            )
        mode = str(options.get("security_mode", "SignAndEncrypt"))
        if mode not in MODES:
            raise ConfigError(f"{where}: security_mode {mode!r} is not one of {', '.join(MODES)}")
        certificate, private_key = options.get("certificate"), options.get("private_key")
        if policy != "None" and not (certificate and private_key):
            raise ConfigError(
                f"{where}: security_policy {policy} needs the options certificate and private_key "
                "(make them with `werk certs`)"
            )
        for key in ("certificate", "private_key", "server_certificate"):
            path = options.get(key)
            if path and not Path(path).is_file():
                raise ConfigError(f"{where}: option {key}: file {path} not found")
        password = options.get("password")
        variable = options.get("password_env")
        if variable:
            password = os.environ.get(str(variable))
            if password is None:
                raise ConfigError(
                    f"{where}: environment variable {variable} (option password_env) is not set"
                )
        username = options.get("username")
        if password is not None and not username:
            raise ConfigError(f"{where}: a password needs the option username")
        return cls(
            timeout_s=number("timeout_s", 4.0),
            watchdog_s=number("watchdog_s", 1.0),
            reconnect_max_s=number("reconnect_max_s", 30.0),
            security_policy=policy,
            security_mode=mode,
            certificate=str(certificate) if certificate else None,
            private_key=str(private_key) if private_key else None,
            server_certificate=str(options["server_certificate"])
            if options.get("server_certificate")
            else None,
            username=str(username) if username else None,
            password=None if password is None else str(password),
        )


async def new_client(url: str, options: ClientOptions) -> Client:
    """A configured, not yet connected client. With a security policy and no pinned server
    certificate this asks the server for its endpoints, so it can fail like a connect."""
    quiet_asyncua()
    client = Client(url, timeout=options.timeout_s, watchdog_intervall=options.watchdog_s)
    client.name = client.description = "werk"
    if options.username:
        client.set_user(options.username)
    if options.password is not None:
        client.set_password(options.password)
    policy = POLICIES[options.security_policy]
    if policy is not None:
        assert options.certificate and options.private_key  # checked by ClientOptions.parse
        uri = application_uri(Path(options.certificate))
        if uri:
            client.application_uri = uri  # must match the certificate (OPC 10000-4 6.1.3)
        await client.set_security(
            policy,
            certificate=options.certificate,
            private_key=options.private_key,
            server_certificate=options.server_certificate,
            mode=MODES[options.security_mode],
        )
    return client


def application_uri(certificate: Path) -> str | None:
    """The application URI in a certificate's subjectAltName (None if it has none)."""
    data = certificate.read_bytes()
    cert = (
        x509.load_pem_x509_certificate(data)
        if data.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


_CREDENTIALS = {
    "BadUserAccessDenied",
    "BadIdentityTokenRejected",
    "BadIdentityTokenInvalid",
    "BadUserSignatureInvalid",
}
_SECURITY = {
    "BadSecurityChecksFailed",
    "BadCertificateUntrusted",
    "BadCertificateInvalid",
    "BadSecurityPolicyRejected",
    "BadSecurityModeRejected",
    "BadCertificateUriInvalid",
}


def status_name(error: BaseException) -> str | None:
    """The OPC UA status name of an asyncua error (``BadUserAccessDenied``), if it has one."""
    if isinstance(error, UaStatusCodeError):
        name, _ = get_name_and_doc(error.code)
        return name
    return None


def describe(error: BaseException) -> str:
    """A line for the log and the connector's ``last_error`` that says what to fix."""
    name = status_name(error)
    if name in _CREDENTIALS:
        return f"the server rejected the user name or password ({name})"
    if name in _SECURITY:
        return f"the server refused the secure channel or certificate ({name})"
    if name:
        return name
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _QuietRetries(logging.Filter):
    """asyncua logs every failed retry and every publish attempt during an outage (with a
    traceback each second); werk logs the transition once, so those lines go to debug."""

    NOISE = (
        "Publish iteration crashed",
        "Reconnect attempt failed",
        "Revised values returned differ",
        "Requested session timeout",
        "No encrypting policy available",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(self.NOISE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = None
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_QUIET = _QuietRetries()


def quiet_asyncua() -> None:
    for name in (
        "asyncua.client.ua_session.UaSession",
        "asyncua.client.client",
        "asyncua.client.ua_client.UaClient",
    ):
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
