"""The audit trail's hash chain, and the streaming check that finds the first row that is wrong.

Each row carries ``prev_hash`` (the previous row's ``entry_hash``; 32 zero bytes for row 1) and
``entry_hash = SHA-256(prev_hash ‖ canonical encoding of the row)``. The canonical encoding is
compact JSON, keys sorted, ASCII only, of every column but the two hashes; times are UTC with
microseconds (``2026-11-24T10:15:00.000000Z``). A JSON-lines export holds exactly these values,
so a copy shipped elsewhere verifies the same way as the database.

:class:`ChainVerifier` is fed rows in order, one at a time, and keeps only the last two hashes:
verifying ten million rows takes no more memory than verifying ten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

GENESIS = "0" * 64
_HEX_HASH = re.compile(r"^[0-9a-f]{64}\Z")

#: Every column the hash covers, in the order they are listed in the export.
FIELDS = (
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "organisation_id",
    "authority_id",
    "role",
    "action",
    "child_id",
    "child_authority_id",
    "subjects",
    "reason",
    "outcome",
    "result_count",
    "detail",
)
EXPORT_FIELDS = (*FIELDS, "prev_hash", "entry_hash")
_EXPORT_SET = frozenset(EXPORT_FIELDS)


_SORTED_FIELDS = tuple(sorted(FIELDS))
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)  # keys come pre-sorted


def format_time(value: datetime) -> str:
    """UTC with microseconds and a Z, e.g. ``2026-11-24T10:15:00.000000Z``."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    return format_time(value) if isinstance(value, datetime) else value


def canonical(row: Mapping[str, Any]) -> bytes:
    """Compact JSON of the hashed columns, keys sorted, ASCII only."""
    return _ENCODER.encode({name: _plain(row.get(name)) for name in _SORTED_FIELDS}).encode()


def entry_hash(prev_hash: str, row: Mapping[str, Any]) -> str | None:
    """The hash ``row`` should carry after ``prev_hash``; None when ``prev_hash`` is not a hash."""
    if not _HEX_HASH.match(prev_hash):  # lower-case hex only: "A" and "a" must not both pass
        return None
    return sha256(bytes.fromhex(prev_hash) + canonical(row)).hexdigest()


def export_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as it is written to a JSON-lines export."""
    return {name: _plain(row.get(name)) for name in EXPORT_FIELDS}


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong: the sequence number it concerns, a kind and a sentence."""

    seq: int
    kind: str  # changed, missing, inserted, reordered, truncated, checkpoint_forged, ...
    message: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.message}"


@dataclass(frozen=True, slots=True)
class CheckpointClaim:
    """A checkpoint whose signature has already been checked: 'the first ``size`` rows end in
    ``head_hash``'. ``previous`` is the size of the checkpoint before it (0 for the first)."""

    size: int
    head_hash: str
    previous: int


def _intact(row: Mapping[str, Any], as_seq: int) -> bool:
    """Whether ``row`` matches its own hash when numbered ``as_seq``."""
    prev = row.get("prev_hash")
    return isinstance(prev, str) and entry_hash(prev, {**row, "seq": as_seq}) == row.get("entry_hash")


class ChainVerifier:
    """Feed rows in sequence order; :meth:`feed` returns the first problem, :meth:`finish` the
    problems only the end can show. ``first_seq`` and ``start_hash`` let a partial export (rows
    from N onward) be checked from where it starts."""

    def __init__(
        self,
        checkpoints: Sequence[CheckpointClaim] = (),
        *,
        first_seq: int = 1,
        start_hash: str = GENESIS,
    ) -> None:
        self.expected = first_seq
        self.first_seq = first_seq
        self.prev = start_hash
        self.prev_prev: str | None = None
        self.rows = 0
        self.last_hash = start_hash
        self.checkpoints = {c.size: c for c in checkpoints}
        self.problem: Problem | None = None

    def feed(self, row: Mapping[str, Any]) -> Problem | None:
        if self.problem is not None:
            return self.problem
        seq = row.get("seq")
        expected = self.expected
        if not isinstance(seq, int) or isinstance(seq, bool):
            return self._fail(expected, "changed", "its sequence number has been changed")
        stored_prev = row.get("prev_hash")
        stored_hash = row.get("entry_hash")
        if row.keys() != _EXPORT_SET:
            return self._fail(expected, "changed", "has been changed: its columns are not the audit's")
        if seq > expected:
            return self._fail(
                expected, "missing", f"is missing or out of place: row {seq} is where it should be"
            )
        if seq < expected:
            if seq == expected - 1 and stored_prev == self.prev_prev and _intact(row, seq):
                return self._fail(seq, "inserted", "appears twice: one of the two was inserted")
            return self._fail(expected, "reordered", f"is out of order: row {seq} is where it should be")
        computed = entry_hash(stored_prev, row) if isinstance(stored_prev, str) else None
        links = stored_prev == self.prev
        intact = computed is not None and computed == stored_hash
        if (
            not links
            and seq != self.first_seq
            and stored_prev == self.prev_prev
            and (intact or _intact(row, seq - 1))  # this row is genuine, only renumbered at most
        ):
            return self._fail(seq - 1, "inserted", f"was inserted: row {seq} follows on from row {seq - 2}")
        if not intact:
            if links:
                return self._fail(seq, "changed", "has been changed: it does not match its hash")
            return self._fail(
                seq,
                "changed",
                "has been changed, moved or reordered: it neither matches its hash "
                "nor follows the row before it",
            )
        if not links:
            if seq == self.first_seq:
                return self._fail(seq, "changed", "does not start the chain where it should")
            return self._fail(
                seq - 1,
                "changed",
                "has been changed and its hash recomputed: the next row does not follow from it",
            )
        claim = self.checkpoints.get(seq)
        if claim is not None and claim.head_hash != stored_hash:
            return self._fail(
                seq,
                "checkpoint_mismatch",
                f"does not match the signed checkpoint of {seq} rows: rows up to {seq} have been rewritten",
            )
        self.prev_prev, self.prev = self.prev, str(stored_hash)
        self.last_hash = self.prev
        self.expected = seq + 1
        self.rows += 1
        return None

    def finish(self) -> Problem | None:
        if self.problem is not None:
            return self.problem
        last = self.expected - 1
        beyond = [size for size in self.checkpoints if size > last]
        if beyond:
            size = max(beyond)
            return self._fail(
                last + 1,
                "truncated",
                f"and the rows after it are missing: the log ends at row {last} "
                f"but a signed checkpoint covers {size} rows",
            )
        return None

    def _fail(self, seq: int, kind: str, message: str) -> Problem:
        self.problem = Problem(seq, kind, message)
        return self.problem


def checkpoint_chain_problems(claims: Sequence[CheckpointClaim]) -> list[Problem]:
    """Each checkpoint names the one before it; a named checkpoint that is not there is missing."""
    sizes = {c.size for c in claims}
    problems = []
    for claim in claims:
        if claim.previous and claim.previous not in sizes:
            problems.append(
                Problem(
                    claim.previous,
                    "checkpoint_missing",
                    f"the signed checkpoint at {claim.previous} rows is missing "
                    f"(the checkpoint at {claim.size} rows follows it)",
                )
            )
        if claim.previous >= claim.size:
            problems.append(
                Problem(claim.size, "checkpoint_forged", "its checkpoint does not follow the one before it")
            )
    return problems
