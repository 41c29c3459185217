"""Signed checkpoints of the audit trail, written outside the database.

A checkpoint says "the first N rows of this log end in this hash, at this time", signed with an
Ed25519 key that lives in the keys directory, never in the database. The format is a C2SP
signed note (https://c2sp.org/signed-note) holding a tlog-checkpoint-style body::

    signpost.example/signpost-audit
    1000
    <base64 of the head row's entry_hash>
    time 2026-11-24T10:15:00Z
    previous 0

    — signpost.example/signpost-audit <base64 of key ID (4 bytes) ‖ Ed25519 signature>

The ``previous`` line names the checkpoint before it, so a checkpoint deleted from the middle
is noticed. Files are ``checkpoint-000000001000.txt``; a copy of the directory can be shipped
anywhere and checked with ``signpost audit verify --checkpoints DIR``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.audit.chain import CheckpointClaim, Problem

SIGNING_KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"
_FILE = re.compile(r"^checkpoint-(\d{12})\.txt$")
_EM_DASH = "\u2014"
_ED25519_ALGORITHM = b"\x01"


class CheckpointKeyError(Exception):
    """The audit signing key is missing, unreadable or malformed (one line for an operator)."""


def key_id(name: str, public_key: bytes) -> bytes:
    """The signed-note key ID: the first four bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ key)."""
    return sha256(name.encode() + b"\n" + _ED25519_ALGORITHM + public_key).digest()[:4]


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def create_signing_key(keys_dir: Path) -> Path:
    """Write a new Ed25519 signing key (mode 0600) and its public half beside it."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / SIGNING_KEY_FILE
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    (keys_dir / PUBLIC_KEY_FILE).write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def load_signing_key(keys_dir: Path, *, create: bool = False) -> Ed25519PrivateKey:
    path = keys_dir / SIGNING_KEY_FILE
    if not path.exists():
        if not create:
            raise CheckpointKeyError(f"no audit signing key at {path}: run 'signpost keys init' to create it")
        create_signing_key(keys_dir)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointKeyError(
            f"the audit signing key {path} cannot be read ({type(exc).__name__})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"the audit signing key {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A verifier's public key: the PEM ``audit-signing.pub``, or the private key it came from."""
    try:
        data = path.read_bytes()
    except OSError:
        raise CheckpointKeyError(f"cannot read the audit public key {path}") from None
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return private.public_key()
        else:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public
    except (ValueError, TypeError):
        pass
    raise CheckpointKeyError(f"{path} is not an Ed25519 key")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    head_hash: str  # hex
    time: datetime
    previous: int

    def body(self) -> str:
        head = base64.b64encode(bytes.fromhex(self.head_hash)).decode()
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.origin}\n{self.size}\n{head}\ntime {stamp}\nprevious {self.previous}\n"

    def claim(self) -> CheckpointClaim:
        return CheckpointClaim(size=self.size, head_hash=self.head_hash, previous=self.previous)


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    body = checkpoint.body()
    signature = key.sign(body.encode())
    blob = base64.b64encode(key_id(checkpoint.origin, _raw(key.public_key())) + signature).decode()
    return f"{body}\n{_EM_DASH} {checkpoint.origin} {blob}\n"


class CheckpointRefusedError(Exception):
    pass


def parse(text: str, public_key: Ed25519PublicKey, origin: str) -> Checkpoint:
    """A checkpoint whose signature by ``public_key`` for ``origin`` is good; else raise."""
    body, separator, signatures = text.partition("\n\n")
    if not separator:
        raise CheckpointRefusedError("it is not a signed note")
    body += "\n"
    lines = body.splitlines()
    if len(lines) < 5 or lines[0] != origin:
        raise CheckpointRefusedError("it is not a checkpoint of this log")
    wanted_id = key_id(origin, _raw(public_key))
    good = False
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _EM_DASH or parts[1] != origin:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            continue
        if blob[:4] != wanted_id:
            continue
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature:
            continue
        good = True
    if not good:
        raise CheckpointRefusedError("its signature is not good")
    try:
        size = int(lines[1])
        head = base64.b64decode(lines[2], validate=True).hex()
        time = datetime.strptime(lines[3].removeprefix("time "), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        previous = int(lines[4].removeprefix("previous "))
    except (ValueError, binascii.Error):
        raise CheckpointRefusedError("its body is malformed") from None
    return Checkpoint(origin=origin, size=size, head_hash=head, time=time, previous=previous)


def files(directory: Path) -> list[tuple[int, Path]]:
    """The checkpoint files, by the size their name gives, smallest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def read_all(
    directory: Path, public_key: Ed25519PublicKey, origin: str
) -> tuple[list[Checkpoint], list[Problem]]:
    """Every checkpoint that verifies, and a problem for each one that does not."""
    good: list[Checkpoint] = []
    problems: list[Problem] = []
    for size, path in files(directory):
        try:
            checkpoint = parse(path.read_text("utf-8"), public_key, origin)
        except (CheckpointRefusedError, OSError, UnicodeDecodeError) as exc:
            problems.append(
                Problem(size, "checkpoint_forged", f"its checkpoint {path.name} is refused: {exc}")
            )
            continue
        if checkpoint.size != size:
            problems.append(
                Problem(
                    size,
                    "checkpoint_forged",
                    f"its checkpoint {path.name} is signed for {checkpoint.size} rows",
                )
            )
            continue
        good.append(checkpoint)
    return good, problems


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One checkpoint writer at a time across every worker process."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def newest(directory: Path, public_key: Ed25519PublicKey, origin: str) -> Checkpoint | None:
    """The newest checkpoint whose signature is good, or None."""
    for _size, path in reversed(files(directory)):
        try:
            return parse(path.read_text("utf-8"), public_key, origin)
        except (CheckpointRefusedError, OSError, UnicodeDecodeError):
            continue
    return None


def is_due(
    latest: Checkpoint | None, size: int, now: datetime, *, every_rows: int, every: timedelta, force: bool
) -> bool:
    """A log of ``size`` rows needs a new checkpoint: it has grown since ``latest``, and enough
    rows or time have passed (or ``force``). The first rows are signed at once."""
    if latest is None:
        return size > 0
    if size <= latest.size:
        return False
    return force or size - latest.size >= every_rows or now - latest.time >= every


def write_if_due(
    directory: Path,
    key: Ed25519PrivateKey,
    origin: str,
    *,
    size: int,
    head_hash: str,
    now: datetime,
    every_rows: int,
    every: timedelta,
    force: bool = False,
) -> Checkpoint | None:
    """Sign and write a checkpoint of the first ``size`` rows if ``every_rows`` rows or ``every``
    time have passed since the newest one (or ``force``), and the log has grown since it."""
    with _locked(directory):
        latest = newest(directory, key.public_key(), origin)
        if not is_due(latest, size, now, every_rows=every_rows, every=every, force=force):
            return None
        last_size = latest.size if latest else 0
        checkpoint = Checkpoint(origin=origin, size=size, head_hash=head_hash, time=now, previous=last_size)
        path = directory / f"checkpoint-{size:012d}.txt"
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(sign(checkpoint, key))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        return checkpoint
