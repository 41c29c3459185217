"""The checkpoint format: a C2SP signed note that round-trips and refuses anything else."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import types
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import database
from app.audit import background, checkpoints
from app.audit.checkpoints import Checkpoint, CheckpointRefusedError
from app.search import quotas

ORIGIN = "signpost.example/signpost-audit"
KEY = Ed25519PrivateKey.generate()
CHECKPOINT = Checkpoint(ORIGIN, 1000, "ab" * 32, datetime(2026, 11, 24, 10, 15, tzinfo=UTC), 0)


def test_the_note_has_the_signed_note_layout_and_key_id() -> None:
    text = checkpoints.sign(CHECKPOINT, KEY)
    body, signature = text.split("\n\n")
    assert body.split("\n") == [
        ORIGIN,
        "1000",
        base64.b64encode(bytes.fromhex("ab" * 32)).decode(),
        "time 2026-11-24T10:15:00Z",
        "previous 0",
    ]
    dash, name, blob = signature.strip().split(" ")
    assert (dash, name) == ("\u2014", ORIGIN)
    raw = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    decoded = base64.b64decode(blob)
    assert decoded[:4] == sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    KEY.public_key().verify(decoded[4:], (body + "\n").encode())  # raises if the signature is wrong


def test_a_note_round_trips() -> None:
    assert checkpoints.parse(checkpoints.sign(CHECKPOINT, KEY), KEY.public_key(), ORIGIN) == CHECKPOINT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not a note", "not a signed note"),
        (checkpoints.sign(CHECKPOINT, Ed25519PrivateKey.generate()), "signature is not good"),
        (checkpoints.sign(CHECKPOINT, KEY).replace("1000", "1001", 1), "signature is not good"),
        (
            checkpoints.sign(Checkpoint("other.example/log", 1, "00" * 32, CHECKPOINT.time, 0), KEY),
            "not a checkpoint of this log",
        ),
    ],
)
def test_anything_else_is_refused(text: str, reason: str) -> None:
    with pytest.raises(CheckpointRefusedError, match=reason):
        checkpoints.parse(text, KEY.public_key(), ORIGIN)


def test_the_public_key_file_verifies_what_the_private_key_signed(tmp_path: object) -> None:
    from pathlib import Path

    keys = Path(str(tmp_path))
    checkpoints.create_signing_key(keys)
    assert oct((keys / checkpoints.SIGNING_KEY_FILE).stat().st_mode & 0o777) == "0o600"
    signer = checkpoints.load_signing_key(keys)
    public = checkpoints.load_public_key(keys / checkpoints.PUBLIC_KEY_FILE)
    assert checkpoints.parse(checkpoints.sign(CHECKPOINT, signer), public, ORIGIN) == CHECKPOINT


def test_one_process_at_a_time_leads_the_background_work(tmp_path: Path) -> None:
    first, second = background._Leader(tmp_path), background._Leader(tmp_path)
    assert first.holds()
    assert first.holds()  # still
    assert not second.holds()  # a separate open of the lock file, as another process has
    first.release()
    assert second.holds()  # the lead passes on when its holder stops
    assert not first.holds()
    second.release()


async def test_a_failing_checkpoint_does_not_stop_the_rest_of_the_background_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def broken(*args: object, **kwargs: object) -> None:
        calls.append("checkpoint")
        raise OSError("checkpoint directory is read-only")

    async def fold(engine: object) -> None:
        calls.append("wal")

    async def purge(now: datetime) -> None:
        calls.append("purge")

    monkeypatch.setattr(background, "checkpoint", broken)
    monkeypatch.setattr(database, "checkpoint_wal", fold)
    monkeypatch.setattr(quotas, "purge", purge)
    monkeypatch.setattr(background, "CHECK_INTERVAL_SECONDS", 0.01)
    settings = types.SimpleNamespace(checkpoint_dir=tmp_path)
    leader = background._Leader(tmp_path)
    task = asyncio.create_task(
        background._rounds(settings, Ed25519PrivateKey.generate(), lambda: datetime.now(UTC), leader)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    leader.release()
    assert calls.count("wal") >= 3  # every round, though every checkpoint failed
    assert calls.count("checkpoint") == calls.count("wal")
    assert calls.count("purge") == 1  # once a minute
