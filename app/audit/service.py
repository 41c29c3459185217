"""The one audit service every feature calls.

``record(...)`` appends a row to the hash chain inside the caller's transaction (or its own when
there is none), so an action and its audit row commit together or not at all. If the audit row
cannot be written, :class:`AuditUnavailableError` propagates, the transaction rolls back, and the
user sees a 503 page: never an unaudited success.

A feature that must write its own rows with the audit rows in one short transaction passes a
write unit to :func:`write` and calls :func:`append` inside it (a search counts against the
quota and audits what it returned, in one unit).

One writer at a time: SQLite's ``BEGIN IMMEDIATE`` serialises writers already; on PostgreSQL a
transaction-scoped advisory lock is taken just before the head of the chain is read.

Nothing free-form can be recorded: the action must be a registered one and the reason one of the
fixed reason codes (``app/audit/labels.py``), detail values are numbers or short lower-case
codes, and subjects are ``kind:number`` pairs (checked here).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol, TypeVar

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from app.audit.chain import GENESIS, entry_hash
from app.audit.labels import ACTION_LABELS, REASON_LABELS
from app.audit.tables import AuditEntry, AuditWithholding
from app.database import Tx, WriteUnit, WriteUnitError, write_unit

log = logging.getLogger("signpost.audit")
T = TypeVar("T")

#: Key of the PostgreSQL advisory lock that serialises audit writers (any fixed 64-bit number).
POSTGRES_LOCK_KEY = 0x5167_6E70_6F73_7441

_CODE = re.compile(r"^[a-z0-9_]{1,40}$")
_MAX_DETAIL_NUMBER = 2**53
_SUBJECT = re.compile(r"^[a-z_]{2,20}:\d{1,20}$")

ActorKind = Literal["practitioner", "citizen", "system", "operator", "anonymous"]
Outcome = Literal["success", "refused", "failed", "no_match", "too_many"]


class AuditUnavailableError(Exception):
    """The audit row could not be written, so the action it records did not happen."""


class _Person(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def organisation_id(self) -> int: ...
    @property
    def local_authority_id(self) -> int: ...
    @property
    def role(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a practitioner (with organisation, authority and role), the citizen-facing
    pages, Signpost itself, an operator at the command line, or someone not yet identified."""

    kind: ActorKind
    id: int | None = None
    organisation_id: int | None = None
    authority_id: int | None = None
    role: str | None = None
    #: Subjects added to every entry this actor writes: the API client it called through
    #: (``api_client:ID``) and the person it acted for (``on_behalf:ID``).
    via: tuple[str, ...] = ()

    @classmethod
    def of(cls, person: _Person, via: tuple[str, ...] = ()) -> Actor:
        return cls(
            kind="practitioner",
            id=person.id,
            organisation_id=person.organisation_id,
            authority_id=person.local_authority_id,
            role=str(person.role),
            via=via,
        )


CITIZEN = Actor("citizen")
SYSTEM = Actor("system")
OPERATOR = Actor("operator")


def anonymous(authority_id: int | None = None) -> Actor:
    """Someone not signed in; ``authority_id`` is the authority whose user they tried to be."""
    return Actor("anonymous", authority_id=authority_id)


def _check_codes(
    action: str, reason: str | None, subjects: Iterable[str], detail: Mapping[str, int | str | bool]
) -> None:
    if action not in ACTION_LABELS:
        raise ValueError(f"audit action {action[:60]!r} is not one of the registered actions")
    if reason is not None and reason not in REASON_LABELS:
        raise ValueError("an audit reason must be one of the fixed reason codes")
    for subject in subjects:
        if not _SUBJECT.match(subject):
            raise ValueError("an audit subject must be kind:number")
    for name, value in detail.items():
        if not _CODE.match(name):
            raise ValueError("audit detail names must be codes")
        if isinstance(value, bool) or (isinstance(value, int) and abs(value) < _MAX_DETAIL_NUMBER):
            continue
        if not (isinstance(value, str) and _CODE.match(value)):
            raise ValueError("audit detail values must be codes or numbers")


@dataclass(frozen=True, slots=True)
class Entry:
    """One row to append: what :func:`record` takes, for :func:`record_many`."""

    action: str
    actor: Actor
    at: datetime
    child_id: int | None = None
    child_authority_id: int | None = None
    subjects: tuple[str, ...] = ()
    reason: str | None = None
    outcome: Outcome = "success"
    result_count: int | None = None
    detail: Mapping[str, int | str | bool] | None = None


async def record(
    action: str,
    actor: Actor,
    *,
    at: datetime,
    child_id: int | None = None,
    child_authority_id: int | None = None,
    subjects: Iterable[str] = (),
    reason: str | None = None,
    outcome: Outcome = "success",
    result_count: int | None = None,
    detail: Mapping[str, int | str | bool] | None = None,
) -> int:
    """Append one row to the audit trail and return its sequence number."""
    entry = Entry(
        action,
        actor,
        at,
        child_id,
        child_authority_id,
        tuple(subjects),
        reason,
        outcome,
        result_count,
        detail,
    )
    return (await record_many([entry]))[0]


async def record_many(entries: Iterable[Entry]) -> list[int]:
    """Append rows in order, under one lock and one read of the chain's head (a search and
    each record it returned); return their sequence numbers."""
    batch = list(entries)
    return await write(lambda tx: append(tx, batch))


async def write(unit: WriteUnit[T]) -> T:
    """Run a write unit that appends to the audit trail (see :func:`app.database.write_unit`):
    the action and its audit rows commit together, or :class:`AuditUnavailableError` says that
    neither did."""
    try:
        return await write_unit(AuditEntry._meta.db, unit)
    except (ValueError, WriteUnitError):  # a programming error, not the database's
        raise
    except Exception as exc:  # any driver error: the action must not stand without its audit
        log.error("audit.write_failed error=%s", type(exc).__name__)
        raise AuditUnavailableError(type(exc).__name__) from exc


async def append(tx: Tx, entries: Iterable[Entry]) -> list[int]:
    """Append rows in order inside the write unit ``tx`` and return their sequence numbers."""
    batch = list(entries)
    for entry in batch:
        _check_codes(entry.action, entry.reason, _subjects(entry), dict(entry.detail or {}))
    if not batch:
        return []
    if isinstance(AuditEntry._meta.db, PostgresEngine):
        await tx.run(f"SELECT pg_advisory_xact_lock({POSTGRES_LOCK_KEY})")
    head = await tx.run(QueryString(_HEAD))
    seq = int(head[0]["seq"]) if head else 0
    prev = str(head[0]["entry_hash"]) if head else GENESIS
    rows = []
    for entry in batch:
        seq += 1
        row = _row(seq, prev, entry)
        prev = row["entry_hash"]
        rows.append(row)
    await tx.run(_insert(rows))
    return [int(r["seq"]) for r in rows]


#: The head of the chain, read under the writer lock by every append.
_HEAD = 'SELECT "seq", "entry_hash" FROM "audit_entry" ORDER BY "seq" DESC LIMIT 1'

#: The columns of an audit row, in the order :func:`_row` gives them.
_COLUMN_NAMES = tuple(c._meta.db_column_name for c in AuditEntry._meta.columns)
_COLUMNS = ", ".join(f'"{name}"' for name in _COLUMN_NAMES)


def _insert(rows: list[dict[str, Any]]) -> QueryString:
    """One INSERT of ``rows`` (the ORM's would build a table object per row first)."""
    if any(list(row) != list(_COLUMN_NAMES) for row in rows):
        raise ValueError("an audit row must have exactly the audit columns, in order")
    one = "(" + ", ".join("{}" for _ in _COLUMN_NAMES) + ")"
    values = [value for row in rows for value in row.values()]
    return QueryString(
        f'INSERT INTO "audit_entry" ({_COLUMNS}) VALUES {", ".join(one for _ in rows)}',  # noqa: S608
        *values,
    )


def _subjects(entry: Entry) -> list[str]:
    return [*entry.subjects, *(s for s in entry.actor.via if s not in entry.subjects)]


def _row(seq: int, prev: str, entry: Entry) -> dict[str, Any]:
    actor = entry.actor
    row: dict[str, Any] = {
        "seq": seq,
        "at": entry.at.astimezone(UTC),
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "organisation_id": actor.organisation_id,
        "authority_id": actor.authority_id,
        "role": actor.role,
        "action": entry.action,
        "child_id": entry.child_id,
        "child_authority_id": entry.child_authority_id,
        "subjects": json.dumps(_subjects(entry), separators=(",", ":")),
        "reason": entry.reason,
        "outcome": entry.outcome,
        "result_count": entry.result_count,
        "detail": json.dumps(dict(entry.detail or {}), sort_keys=True, separators=(",", ":")),
        "prev_hash": prev,
    }
    row["entry_hash"] = entry_hash(prev, row)
    return row


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    entry_hash: str


async def head() -> Head:
    rows = (
        await AuditEntry.select(AuditEntry.seq, AuditEntry.entry_hash)
        .order_by(AuditEntry.seq, ascending=False)
        .limit(1)
        .run()
    )
    return Head(rows[0]["seq"], rows[0]["entry_hash"]) if rows else Head(0, GENESIS)


async def rows_from(first_seq: int = 1, *, page: int = 5000) -> AsyncIterator[dict[str, Any]]:
    """Every row from ``first_seq`` on, in order, a page at a time (constant memory)."""
    after = first_seq - 1
    while True:
        batch = (
            await AuditEntry.select().where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(page).run()
        )
        for row in batch:
            yield row
        if len(batch) < page:
            return
        after = batch[-1]["seq"]


async def first_seq_at_or_after(moment: datetime) -> int:
    rows = (
        await AuditEntry.select(AuditEntry.seq)
        .where(AuditEntry.at >= moment)
        .order_by(AuditEntry.seq)
        .limit(1)
        .run()
    )
    return int(rows[0]["seq"]) if rows else (await head()).size + 1


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One line of the citizen view: when, which organisation, in what role, did what, and why."""

    seq: int
    at: datetime
    actor_kind: str
    organisation_id: int | None
    role: str | None
    action: str
    reason: str | None
    subjects: frozenset[str] = frozenset()  # ``kind:id``: the client and the person acted for too


async def withheld_seqs(child_id: int, today: date) -> set[int]:
    """The child's entries withheld today: an exemption recorded, not lifted, and its review
    date still to come (on the review date the entry shows again unless withheld anew)."""
    return {
        r["seq"]
        for r in await AuditWithholding.select(AuditWithholding.seq)
        .where(
            (AuditWithholding.child_id == child_id)
            & AuditWithholding.lifted_at.is_null()
            & (AuditWithholding.review_on > today)
        )
        .run()
    }


async def merged_into(child_id: int) -> list[int]:
    """The child's ID and those of every duplicate record merged into it (``record.merged``
    names each as ``child:ID``), and of those merged into them, and so on."""
    ids = [child_id]
    for current in ids:
        merges = (
            await AuditEntry.select(AuditEntry.subjects)
            .where((AuditEntry.child_id == current) & (AuditEntry.action == "record.merged"))
            .run()
        )
        for merge in merges:
            for subject in json.loads(merge["subjects"]):
                kind, _, number = subject.partition(":")
                if kind == "child" and int(number) not in ids:
                    ids.append(int(number))
    return ids


async def child_trail(child_id: int) -> list[tuple[AccessEntry, frozenset[str]]]:
    """Every entry naming one child, oldest first, each with its subjects (``kind:id``),
    including the entries of duplicate records merged into it."""
    ids = await merged_into(child_id)
    rows = (
        await AuditEntry.select(
            AuditEntry.seq,
            AuditEntry.at,
            AuditEntry.actor_kind,
            AuditEntry.organisation_id,
            AuditEntry.role,
            AuditEntry.action,
            AuditEntry.reason,
            AuditEntry.subjects,
        )
        .where(AuditEntry.child_id.is_in(ids))
        .order_by(AuditEntry.seq)
        .run()
    )
    return [
        (
            AccessEntry(
                seq=r["seq"],
                at=r["at"],
                actor_kind=r["actor_kind"],
                organisation_id=r["organisation_id"],
                role=r["role"],
                action=r["action"],
                reason=r["reason"],
                subjects=frozenset(json.loads(r["subjects"])),
            ),
            frozenset(json.loads(r["subjects"])),
        )
        for r in rows
    ]


async def citizen_view(
    child_id: int, today: date, hidden_subjects: frozenset[str] = frozenset()
) -> list[AccessEntry]:
    """Every access to one child's record, oldest first, except entries withheld today and
    entries about any of ``hidden_subjects`` (police disclosure requests not yet decided, or kept
    out under an exemption until its review date)."""
    withheld = await withheld_seqs(child_id, today)
    return [
        entry
        for entry, subjects in await child_trail(child_id)
        if entry.seq not in withheld and not hidden_subjects & subjects
    ]
