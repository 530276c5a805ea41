"""OPC UA security: Basic256Sha256 with certificates made by ``werk certs``' code, user names
and passwords (also from the environment), and a wrong password that fails clearly and keeps
retrying without crashing the connector."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.connect.harness import Downstream, running, wait_for
from tests.connect.test_opcua import OpcUaServer, PasswordUsers, serving
from werk.connect import Binding, ConnectorConfig, ConnectorStats
from werk.connect.opcua.certs import make_certificate
from werk.connect.opcua.connector import OpcUaConnector
from werk.core import ConfigError

TEMPERATURE = Binding("press1.temperature", OpcUaServer.address("Press1.Temperature"))
FAST = {"publishing_interval_ms": 20, "batch_ms": 5, "watchdog_s": 0.3, "reconnect_max_s": 0.5}


@contextlib.asynccontextmanager
async def connected(url: str, **options: Any) -> AsyncIterator[tuple[OpcUaConnector, Downstream]]:
    connector = OpcUaConnector(url, ConnectorConfig("plc", (TEMPERATURE,), {**FAST, **options}))
    async with running(connector) as run:
        yield connector, run.downstream


async def test_basic256sha256_sign_and_encrypt_with_werk_certificates(tmp_path: Path) -> None:
    server_files = make_certificate(tmp_path / "server", "plc", ["127.0.0.1"])
    client_files = make_certificate(tmp_path / "client", "werk", ["127.0.0.1"])
    server = OpcUaServer(certificate=server_files.certificate, private_key=server_files.private_key)
    with serving(server):
        for mode in ("SignAndEncrypt", "Sign"):
            options = {
                "security_policy": "Basic256Sha256",
                "security_mode": mode,
                "certificate": str(client_files.certificate),
                "private_key": str(client_files.private_key),
            }
            if mode == "Sign":  # pinned instead of taken from the endpoint list
                options["server_certificate"] = str(server_files.certificate)
            async with connected(server.url, **options) as (connector, collected):
                await wait_for(lambda c=connector: c.stats.state == "connected", what=mode)
                value = 40.0 if mode == "Sign" else 41.0
                await asyncio.to_thread(server.write, "Press1.Temperature", value)
                await wait_for(lambda c=collected, v=value: v in c.values(), what=f"{mode} value")


async def test_user_name_and_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-Pa55"
    monkeypatch.setenv("WERK_TEST_OPCUA_PASSWORD", secret)
    server = OpcUaServer(users=PasswordUsers("werk", secret))
    caplog.set_level(logging.DEBUG, logger="werk")
    with serving(server):
        async with connected(
            server.url, username="werk", password_env="WERK_TEST_OPCUA_PASSWORD"
        ) as (connector, collected):
            await wait_for(lambda: connector.stats.state == "connected", what="logged in")
            await asyncio.to_thread(server.write, "Press1.Temperature", 42.0)
            await wait_for(lambda: 42.0 in collected.values(), what="value")

        async with connected(server.url, username="werk", password="wrong") as (connector, _):
            await wait_for(lambda: connector.stats.state == "disconnected", what="refused")
            assert "rejected the user name or password" in connector.stats.last_error
            first = connector.stats.since_ns
            await asyncio.sleep(1.5)  # several retries with backoff, one transition logged
            assert connector.stats.state == "disconnected" and connector.stats.since_ns == first

        # This server offers no security policy: asking for one fails clearly, and retries.
        client_files = make_certificate(tmp_path, "werk", ["127.0.0.1"])
        secure = {
            "security_policy": "Basic256Sha256",
            "certificate": str(client_files.certificate),
            "private_key": str(client_files.private_key),
        }
        async with connected(server.url, **secure) as (connector, _):
            await wait_for(lambda: connector.stats.state == "disconnected", what="refused")
            assert connector.stats.last_error
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in text and "wrong" not in text.replace("wrong password", "")
    transitions = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(transitions) == 2  # once for the wrong password, once for the policy


def test_options_are_checked_with_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def config(**options: Any) -> ConnectorConfig:
        return ConnectorConfig("plc", (TEMPERATURE,), options)

    url = "opc.tcp://127.0.0.1:4840"
    with pytest.raises(ConfigError, match="needs the options certificate and private_key"):
        OpcUaConnector(url, config(security_policy="Basic256Sha256"))
    with pytest.raises(ConfigError, match="security_policy 'Basic128'"):
        OpcUaConnector(url, config(security_policy="Basic128"))
    with pytest.raises(ConfigError, match="security_mode"):
        OpcUaConnector(url, config(security_mode="Encrypt"))
    with pytest.raises(ConfigError, match=r"file .* not found"):
        OpcUaConnector(
            url,
            config(
                security_policy="Basic256Sha256",
                certificate=str(tmp_path / "no.der"),
                private_key=str(tmp_path / "no.pem"),
            ),
        )
    monkeypatch.delenv("NO_SUCH_PASSWORD_VARIABLE", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_PASSWORD_VARIABLE"):
        OpcUaConnector(url, config(username="u", password_env="NO_SUCH_PASSWORD_VARIABLE"))
    with pytest.raises(ConfigError, match="publishing_interval_ms"):
        OpcUaConnector(url, config(publishing_interval_ms=0))
    connector = OpcUaConnector(url, config(username="u", password="hidden"))
    assert "hidden" not in repr(connector.client_options)
    assert isinstance(connector.stats, ConnectorStats)
