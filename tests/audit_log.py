"""Synthetic audit logs for the tamper tests and the verification benchmark: rows built exactly
as ``app.audit.service.record`` builds them, hash-chained, with signed checkpoints."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit import checkpoints
from app.audit.chain import GENESIS, entry_hash, export_row

ORIGIN = "signpost.test/signpost-audit"
ACTIONS = ("record.search", "record.result_returned", "record.view", "auth.login", "involvement.add")
REASONS = (None, "safeguarding_concern", "assessment", "new_to_caseload")


def make_rows(count: int, *, seed: int = 1, start: datetime | None = None) -> list[dict[str, Any]]:
    """``count`` chained rows, as the export writes them (times as strings)."""
    rng = random.Random(seed)
    moment = start or datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    rows = []
    prev = GENESIS
    for seq in range(1, count + 1):
        moment += timedelta(milliseconds=rng.randint(1, 5000))
        action = rng.choice(ACTIONS)
        child = rng.randint(10**15, 10**16) if action.startswith(("record.r", "record.v", "inv")) else None
        row: dict[str, Any] = {
            "seq": seq,
            "at": moment,
            "actor_kind": "practitioner",
            "actor_id": rng.randint(1, 50),
            "organisation_id": rng.randint(1, 10),
            "authority_id": 1,
            "role": "practitioner",
            "action": action,
            "child_id": child,
            "child_authority_id": 1 if child else None,
            "subjects": "[]",
            "reason": rng.choice(REASONS) if action == "record.view" else None,
            "outcome": rng.choice(("success", "no_match", "too_many"))
            if action == "record.search"
            else "success",
            "result_count": rng.randint(0, 10) if action == "record.search" else None,
            "detail": "{}",
            "prev_hash": prev,
        }
        row["entry_hash"] = prev = str(entry_hash(prev, row))
        rows.append(export_row(row))
    return rows


def write_checkpoints(
    directory: Path, key: Ed25519PrivateKey, rows: list[dict[str, Any]], sizes: list[int]
) -> None:
    """Signed checkpoints at each of ``sizes`` (ascending), each naming the one before it."""
    directory.mkdir(parents=True, exist_ok=True)
    previous = 0
    for size in sizes:
        checkpoint = checkpoints.Checkpoint(
            origin=ORIGIN,
            size=size,
            head_hash=rows[size - 1]["entry_hash"],
            time=datetime(2026, 11, 24, 12, 0, tzinfo=UTC) + timedelta(minutes=size),
            previous=previous,
        )
        (directory / f"checkpoint-{size:012d}.txt").write_text(checkpoints.sign(checkpoint, key), "utf-8")
        previous = size


def to_lines(rows: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(row, separators=(",", ":")) for row in rows]
