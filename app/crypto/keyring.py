"""Field encryption and blind indexes under root keys held outside the database.

Layout of the keys directory: one file per root-key version, ``root-0001.key``, ``root-0002.key``,
..., each holding 32 random bytes in base64. The highest version is the active one: new
ciphertexts and blind indexes use it; older versions remain readable until ``signpost keys
rotate`` has moved every row off them and deleted them.

A ciphertext is ``version (2 bytes, big-endian) || nonce (12 bytes) || AES-256-GCM-SIV(...)``.
Each field has its own key, derived with HKDF-SHA256 from the root key and the field's name, and
the associated data binds the ciphertext to its field and row: a ciphertext copied into another
row, or another column, fails to decrypt.

A blind index is a keyed HMAC-SHA256 of a normalised value, truncated to a number of bits chosen
for the design point of 12 million records (see docs/encryption.md): a lookup returns a small set
of candidates, which the service decrypts and filters exactly.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import stat
import threading
import time
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION_BYTES = 2
_KEY_FILE = re.compile(r"^root-(\d{4})\.key$")
REFRESH_SECONDS = 2.0


class KeyringError(Exception):
    """The key material cannot be used; the message says which file and why, never the key."""


class DecryptionError(Exception):
    """A ciphertext did not decrypt: wrong row, wrong field, unknown key version or tampering."""


@dataclass(frozen=True, slots=True)
class BlindIndex:
    """A named blind index and the number of bits kept from its HMAC."""

    name: str
    bits: int


def key_path(keys_dir: Path, version: int) -> Path:
    return keys_dir / f"root-{version:04d}.key"


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyringError(f"cannot read key file {path}: {type(exc).__name__}") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"key file {path} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyringError(f"key file {path} must hold {KEY_BYTES} bytes, not {len(key)}")
    return key


def write_new_key(keys_dir: Path, version: int) -> Path:
    """Create a fresh random root key file readable by its owner only; never overwrite one."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_path(keys_dir, version)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path


def key_versions(keys_dir: Path) -> list[int]:
    """The root-key versions present in ``keys_dir``, oldest first."""
    if not keys_dir.is_dir():
        return []
    found = []
    for entry in keys_dir.iterdir():
        match = _KEY_FILE.match(entry.name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def check_key_permissions(keys_dir: Path) -> list[str]:
    """Problems with who may read the key files (root keys and the audit signing key)."""
    problems = []
    for path in sorted(keys_dir.glob("*.key")) if keys_dir.is_dir() else []:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(f"key file {path} is readable by group or others (chmod 600 it)")
    return problems


class Keyring:
    """The root keys and everything derived from them. Safe to share between threads."""

    def __init__(self, keys_dir: Path, *, create: bool = False) -> None:
        self.keys_dir = keys_dir
        self._lock = threading.Lock()
        self._roots: dict[int, bytes] = {}
        self._aeads: dict[tuple[int, str], AESGCMSIV] = {}
        self._macs: dict[tuple[int, str], bytes] = {}
        self._checked_at = 0.0
        if create and not key_versions(keys_dir):
            write_new_key(keys_dir, 1)
        self._load()
        if not self._roots:
            raise KeyringError(f"no root key in {keys_dir} (run 'signpost keys init' or 'signpost check')")

    def _load(self) -> None:
        versions = key_versions(self.keys_dir)
        roots = {version: _read_key(key_path(self.keys_dir, version)) for version in versions}
        with self._lock:
            self._roots = roots
            self._aeads = {k: v for k, v in self._aeads.items() if k[0] in roots}
            self._macs = {k: v for k, v in self._macs.items() if k[0] in roots}
            self._checked_at = time.monotonic()

    def refresh(self, *, force: bool = False) -> None:
        """Pick up a key added or retired by ``signpost keys rotate`` in another process."""
        if force or time.monotonic() - self._checked_at > REFRESH_SECONDS:
            self._load()

    @property
    def versions(self) -> list[int]:
        return sorted(self._roots)

    @property
    def active_version(self) -> int:
        self.refresh()
        return max(self._roots)

    def _derive(self, version: int, purpose: str) -> bytes:
        root = self._roots.get(version)
        if root is None:
            self.refresh(force=True)
            root = self._roots.get(version)
            if root is None:
                raise DecryptionError(f"no root key version {version}")
        return HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode("ascii")
        ).derive(root)

    def _aead(self, version: int, field: str) -> AESGCMSIV:
        aead = self._aeads.get((version, field))
        if aead is None:
            aead = AESGCMSIV(self._derive(version, f"signpost/field/{field}"))
            self._aeads[(version, field)] = aead
        return aead

    def mac_key(self, version: int, index: str) -> bytes:
        key = self._macs.get((version, index))
        if key is None:
            key = self._derive(version, f"signpost/blind-index/{index}")
            self._macs[(version, index)] = key
        return key

    @staticmethod
    def _associated_data(field: str, row_id: int) -> bytes:
        return f"{field}|{row_id}".encode("ascii")

    def encrypt(self, field: str, row_id: int, plaintext: str, version: int | None = None) -> bytes:
        """Encrypt ``plaintext`` for column ``field`` (``table.column``) of row ``row_id``.

        This runs some twenty times per child when seeding 12 million, so it stays lean: the
        nonce comes straight from ``os.urandom`` (what ``secrets`` uses) and the AEAD is cached.
        """
        use = self.active_version if version is None else version
        aead = self._aeads.get((use, field)) or self._aead(use, field)
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext.encode("utf-8"), self._associated_data(field, row_id))
        return use.to_bytes(VERSION_BYTES, "big") + nonce + sealed

    def decrypt(self, field: str, row_id: int, blob: bytes) -> str:
        if len(blob) < VERSION_BYTES + NONCE_BYTES + 16:
            raise DecryptionError(f"{field} of row {row_id} is too short to be a ciphertext")
        version = int.from_bytes(blob[:VERSION_BYTES], "big")
        nonce = blob[VERSION_BYTES : VERSION_BYTES + NONCE_BYTES]
        try:
            plain = self._aead(version, field).decrypt(
                nonce, blob[VERSION_BYTES + NONCE_BYTES :], self._associated_data(field, row_id)
            )
        except InvalidTag:
            raise DecryptionError(f"{field} of row {row_id} failed authentication") from None
        return plain.decode("utf-8")

    @staticmethod
    def version_of(blob: bytes) -> int:
        return int.from_bytes(blob[:VERSION_BYTES], "big")

    def blind_index(self, index: BlindIndex, value: str, version: int | None = None) -> int:
        """The truncated keyed HMAC of an already normalised ``value``."""
        use = self.active_version if version is None else version
        digest = hmac.new(self.mac_key(use, index.name), value.encode("utf-8"), sha256).digest()
        return int.from_bytes(digest[:4], "big") >> (32 - index.bits)

    def blind_index_candidates(self, index: BlindIndex, value: str) -> list[int]:
        """The index values to look up: one per live key version (two while a rotation runs)."""
        self.refresh()
        return sorted({self.blind_index(index, value, version) for version in self.versions})
