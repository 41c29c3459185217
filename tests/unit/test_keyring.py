from __future__ import annotations

import base64
from pathlib import Path

import pytest

from app.crypto.keyring import BlindIndex, DecryptionError, Keyring, KeyringError, key_path, write_new_key


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "keys", create=True)


def test_round_trip(keyring: Keyring) -> None:
    blob = keyring.encrypt("child.given_name", 42, "Zoë")
    assert b"Zo" not in blob
    assert keyring.decrypt("child.given_name", 42, blob) == "Zoë"


def test_same_plaintext_encrypts_differently_each_time(keyring: Keyring) -> None:
    assert keyring.encrypt("child.given_name", 1, "Ann") != keyring.encrypt("child.given_name", 1, "Ann")


def test_a_ciphertext_copied_to_another_row_fails(keyring: Keyring) -> None:
    blob = keyring.encrypt("child.family_name", 1, "Smith")
    with pytest.raises(DecryptionError):
        keyring.decrypt("child.family_name", 2, blob)


def test_a_ciphertext_copied_to_another_column_fails(keyring: Keyring) -> None:
    blob = keyring.encrypt("child.family_name", 1, "Smith")
    with pytest.raises(DecryptionError):
        keyring.decrypt("child.given_name", 1, blob)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_flipped_byte_is_detected(keyring: Keyring, position: int) -> None:
    blob = bytearray(keyring.encrypt("carer.telephone", 7, "07700 900 123"))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        keyring.decrypt("carer.telephone", 7, bytes(blob))


def test_truncated_ciphertext_is_refused(keyring: Keyring) -> None:
    with pytest.raises(DecryptionError):
        keyring.decrypt("carer.telephone", 7, b"\x00\x01short")


def test_keys_are_per_field(keyring: Keyring) -> None:
    assert keyring._derive(1, "signpost/field/a") != keyring._derive(1, "signpost/field/b")


def test_key_file_is_owner_only(tmp_path: Path) -> None:
    path = write_new_key(tmp_path / "keys", 1)
    assert path.stat().st_mode & 0o777 == 0o600


def test_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="no root key"):
        Keyring(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("not base64!!", "not valid base64"), (base64.b64encode(b"short").decode(), "must hold 32 bytes")],
)
def test_corrupt_key_file_is_named(tmp_path: Path, content: str, fragment: str) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    key_path(keys, 1).write_text(content)
    with pytest.raises(KeyringError, match=fragment) as caught:
        Keyring(keys)
    assert "root-0001.key" in str(caught.value)


def test_blind_index_is_keyed_deterministic_and_truncated(tmp_path: Path, keyring: Keyring) -> None:
    index = BlindIndex("name_dob", 20)
    value = keyring.blind_index(index, "smith|2015-03-01")
    assert value == keyring.blind_index(index, "smith|2015-03-01")
    assert 0 <= value < 2**20
    other = Keyring(tmp_path / "other-keys", create=True)
    values = {other.blind_index(index, f"smith|2015-03-{d:02d}") for d in range(1, 29)}
    mine = {keyring.blind_index(index, f"smith|2015-03-{d:02d}") for d in range(1, 29)}
    assert values != mine  # a different root key gives different indexes


def test_old_versions_stay_readable_and_new_writes_use_the_newest(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keyring = Keyring(keys, create=True)
    old = keyring.encrypt("child.given_name", 9, "Ann")
    write_new_key(keys, 2)
    keyring.refresh(force=True)
    assert keyring.active_version == 2
    assert Keyring.version_of(keyring.encrypt("child.given_name", 9, "Ann")) == 2
    assert keyring.decrypt("child.given_name", 9, old) == "Ann"
    index = BlindIndex("name_dob", 20)
    assert len(keyring.blind_index_candidates(index, "ann|2015-01-01")) in (1, 2)
