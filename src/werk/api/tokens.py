"""API tokens: roles, and a file that holds only hashes of the tokens it issued.

A token reads ``werk_<id>_<secret>``. The id is public (it names the token in lists, logs and the
rate limiter); the secret is 32 random bytes from ``secrets``. The file keeps the SHA-256 of the
whole token, never the token itself: whoever reads the file cannot call the API.

The CLI (``werk token create``) writes the file while a server runs, so every lookup checks the
file's modification signature (one ``stat``) and reloads it when it changed.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from werk.core import ConfigError, iso

log = logging.getLogger(__name__)

PREFIX = "werk"
_FORMAT_VERSION = 1


class Role(IntEnum):
    """What a token may do; a higher role may do everything a lower one may."""

    viewer = 1
    operator = 2
    engineer = 3
    admin = 4

    @classmethod
    def parse(cls, value: str | int) -> Role:
        """A role name (case-insensitive) or its number."""
        if isinstance(value, str):
            key = value.strip().lower()
            if key.isdigit():
                return cls(int(key))
            try:
                return cls[key]
            except KeyError:
                names = ", ".join(r.name for r in cls)
                raise ValueError(f"unknown role {value!r}; expected one of {names}") from None
        return cls(int(value))


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    role: Role
    created: int  # ns since the epoch, UTC

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.name,
            "created": iso(self.created),
        }


def _digest(token: str) -> str:
    # The secret is 32 bytes from a CSPRNG, so guessing it is hopeless however fast the hash is:
    # a slow password hash (bcrypt, argon2) buys nothing here and would cost on every request.
    return hashlib.sha256(token.encode()).hexdigest()


# Compared against when the id is unknown, so a miss costs about what a hit costs.
_NO_MATCH = _digest("werk_none_none")


@dataclass(frozen=True, slots=True)
class _Record:
    info: TokenInfo
    sha256: str


class TokenStore:
    """Tokens in a JSON file (mode 0600). Plaintext tokens are returned once by ``create``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._signature: tuple[int, int, int] | None = None

    # -- issuing and revoking --------------------------------------------------------------------

    def create(self, role: Role | str | int, name: str) -> tuple[TokenInfo, str]:
        """Issue a token; return its info and the plaintext, which is not kept anywhere."""
        role = Role.parse(role) if not isinstance(role, Role) else role
        name = name.strip()
        if not name:
            raise ValueError("a token needs a name (who or what uses it)")
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(token_id, name, role, time.time_ns())
        with self._mutating() as records:
            records[token_id] = _Record(info, _digest(token))
        return info, token

    def revoke(self, token_id: str) -> bool:
        """Forget a token; ``False`` if there was none with this id."""
        with self._mutating() as records:
            return records.pop(token_id, None) is not None

    # -- checking --------------------------------------------------------------------------------

    def verify(self, token: str) -> TokenInfo | None:
        """The token's info, or ``None`` for a malformed, unknown or revoked token."""
        parts = token.split("_", 2) if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        self._refresh()
        record = self._records.get(parts[1])
        digest = _digest(token)
        expected = record.sha256 if record is not None else _NO_MATCH
        if hmac.compare_digest(digest, expected) and record is not None:
            return record.info
        return None

    def list(self) -> builtins.list[TokenInfo]:
        self._refresh()
        return sorted((r.info for r in self._records.values()), key=lambda i: i.created)

    def get(self, token_id: str) -> TokenInfo | None:
        self._refresh()
        record = self._records.get(token_id)
        return record.info if record is not None else None

    # -- the file --------------------------------------------------------------------------------

    def _stat_signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self, force: bool = False) -> None:
        signature = self._stat_signature()
        if signature == self._signature and not force:
            return
        with self._lock:
            try:
                self._records = self._read() if signature is not None else {}
            except ConfigError as error:
                # Keep the tokens last read rather than lock everyone out; say so once per change.
                log.error("%s; keeping the %d tokens read before", error, len(self._records))
            self._signature = signature

    def _read(self) -> dict[str, _Record]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            records = {}
            for item in raw.get("tokens", []):
                info = TokenInfo(
                    str(item["id"]),
                    str(item["name"]),
                    Role.parse(item["role"]),
                    int(item["created"]),
                )
                records[info.id] = _Record(info, str(item["sha256"]))
            return records
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"tokens file {self.path} is not valid: {error}") from error

    @contextlib.contextmanager
    def _mutating(self) -> Iterator[dict[str, _Record]]:
        """Read-modify-write under a file lock, so a CLI and a server never undo each other."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, _file_lock(self.path.with_name(self.path.name + ".lock")):
            records = self._read()
            yield records
            self._write(records)
            self._records = records
            self._signature = self._stat_signature()

    def _write(self, records: dict[str, _Record]) -> None:
        document = {
            "version": _FORMAT_VERSION,
            "tokens": [
                {
                    "id": r.info.id,
                    "name": r.info.name,
                    "role": r.info.role.name,
                    "created": r.info.created,
                    "sha256": r.sha256,
                }
                for r in records.values()
            ],
        }
        # mkstemp creates the file with mode 0600; os.replace makes the change atomic, so a
        # reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(document, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: a single writer is the caller's responsibility
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
