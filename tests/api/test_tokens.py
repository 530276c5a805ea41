from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from werk.api.tokens import Role, TokenStore


def test_roles_are_ordered_and_parse_names_and_numbers() -> None:
    assert Role.viewer < Role.operator < Role.engineer < Role.admin
    assert Role.parse("Operator") is Role.operator
    assert Role.parse(4) is Role.admin
    assert Role.parse("3") is Role.engineer
    with pytest.raises(ValueError, match="expected one of viewer, operator"):
        Role.parse("root")


def test_file_holds_hashes_only_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "var" / "tokens.json"
    tokens = TokenStore(path)
    info, token = tokens.create(Role.operator, "line-3 gateway")

    assert token.startswith(f"werk_{info.id}_")
    secret = token.split("_", 2)[2]
    assert len(secret) >= 43  # 32 random bytes, base64url
    text = path.read_text()
    assert token not in text and secret not in text
    stored = json.loads(text)["tokens"]
    assert stored == [
        {
            "id": info.id,
            "name": "line-3 gateway",
            "role": "operator",
            "created": info.created,
            "sha256": hashlib.sha256(token.encode()).hexdigest(),
        }
    ]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_verify_accepts_the_token_and_nothing_near_it(tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "tokens.json")
    info, token = tokens.create("viewer", "dashboard")
    assert tokens.verify(token) == info
    assert tokens.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert tokens.verify(token.replace("werk_", "work_", 1)) is None
    assert tokens.verify(f"werk_{'0' * 12}_{token.split('_', 2)[2]}") is None
    assert tokens.verify("") is None
    assert tokens.verify("werk_") is None


def test_revoke_and_list(tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "tokens.json")
    first, first_token = tokens.create(Role.admin, "alice")
    second, _ = tokens.create(Role.viewer, "bob")
    assert [i.name for i in tokens.list()] == ["alice", "bob"]
    assert tokens.revoke(first.id) is True
    assert tokens.revoke(first.id) is False
    assert tokens.verify(first_token) is None
    assert tokens.list() == [second]


def test_a_server_sees_tokens_another_process_created(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server = TokenStore(path)
    assert server.list() == []  # no file yet: no tokens, and nothing written
    assert not path.exists()

    cli = TokenStore(path)  # the CLI works on the same file while the server runs
    info, token = cli.create(Role.operator, "from the cli")
    assert server.verify(token) == info

    cli.revoke(info.id)
    assert server.verify(token) is None


def test_two_writers_keep_each_others_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    a, b = TokenStore(path), TokenStore(path)
    _, token_a = a.create(Role.viewer, "a")
    _, token_b = b.create(Role.viewer, "b")  # b had not read the file since a wrote it
    fresh = TokenStore(path)
    assert fresh.verify(token_a) is not None and fresh.verify(token_b) is not None


def test_a_corrupt_file_keeps_the_tokens_read_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    tokens = TokenStore(path)
    _, token = tokens.create(Role.viewer, "kept")
    path.write_text("{ not json")
    with caplog.at_level(logging.ERROR, logger="werk.api.tokens"):
        assert tokens.verify(token) is not None
    assert "not valid" in caplog.text
    assert token not in caplog.text


def test_a_token_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        TokenStore(tmp_path / "t.json").create(Role.viewer, "  ")
