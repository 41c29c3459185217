"""The young person's decision: opening their record with a code and their date of birth,
keeping it past 18 until a date they choose (a consent receipt with a withdrawal code), having it
deleted at 18, withdrawing, or shortening the date; and the authority's invitation letters.

A code is checked like this, whatever it is and whether or not it exists: a try is taken from
the five its lookup allows (one upsert that stops at five), the argon2id check runs (against a
decoy hash when no code has that lookup), the date of birth is compared, and a right answer
gives the try back. So five wrong tries lock a code, tries made at once cannot get past the
lock, and a code that opens nothing gets the same answer, after the same work, as a real one.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from piccolo.querystring import QueryString

from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.consent.codes import (
    HASHER,
    MAX_WRONG_TRIES,
    CodeKind,
    code_matches,
    hash_code,
    new_code,
    parse_code,
    try_key,
)
from app.consent.dates import eighteenth_birthday, latest_keep_until, uk_date
from app.consent.tables import ConsentCodeTry, ConsentInvitation, ConsentReceipt
from app.crypto.keyring import Keyring
from app.database import Tx, WriteUnit
from app.records.codes import RetentionState
from app.records.ids import row_ids
from app.records.service import load_child
from app.records.tables import Child

_TRY = (
    'INSERT INTO "consent_code_try" ("lookup", "failures", "last_at") VALUES ({}, 1, {}) '
    'ON CONFLICT ("lookup") DO UPDATE SET "failures" = "consent_code_try"."failures" + 1, '
    '"last_at" = excluded."last_at" WHERE "consent_code_try"."failures" < {} '
    'RETURNING "failures"'
)


_SUBJECT_KIND = {CodeKind.consent: "consent_invitation", CodeKind.withdrawal: "consent_receipt"}


class CodeRefusedError(Exception):
    """The code and date of birth open nothing. ``locked``: five wrong tries have locked the
    code; ``expired``: the right code, but after it stopped working; ``used``: the right
    consent code, already used to decide (it is one-time)."""

    def __init__(self, *, locked: bool = False, expired: bool = False, used: bool = False) -> None:
        super().__init__("locked" if locked else "expired" if expired else "used" if used else "refused")
        self.locked = locked
        self.expired = expired
        self.used = used


class DecisionError(Exception):
    """The decision cannot be made as asked; the message says why, for the young person."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A code that has just been checked, and whose record it opens."""

    kind: CodeKind
    row_id: int  # the invitation's or the receipt's
    child_id: int
    authority_id: int
    born: date
    state: RetentionState
    keep_until: date | None

    @property
    def eighteenth(self) -> date:
        return eighteenth_birthday(self.born)

    @property
    def latest(self) -> date:
        return latest_keep_until(self.born)

    @property
    def subject(self) -> str:
        return f"{_SUBJECT_KIND[self.kind]}:{self.row_id}"

    def citizen(self) -> Actor:
        return Actor("citizen", authority_id=self.authority_id)


@functools.cache
def _decoy_hash() -> str:
    return HASHER.hash(new_code().code.replace("-", ""))  # the same parameters as every real code


async def _decoy_verify(symbols: str) -> None:
    decoy = await asyncio.to_thread(_decoy_hash)
    await code_matches(decoy, symbols)


async def _find(kind: CodeKind, lookup: str) -> dict[str, Any] | None:
    if kind is CodeKind.consent:
        rows = (
            await ConsentInvitation.select(
                ConsentInvitation.id,
                ConsentInvitation.child,
                ConsentInvitation.code_hash,
                ConsentInvitation.expires_on,
                ConsentInvitation.answered_at,
            )
            .where(ConsentInvitation.lookup == lookup)
            .run()
        )
    else:
        rows = (
            await ConsentReceipt.select(ConsentReceipt.id, ConsentReceipt.child, ConsentReceipt.code_hash)
            .where((ConsentReceipt.lookup == lookup) & ConsentReceipt.ended_at.is_null())
            .run()
        )
    return rows[0] if rows else None


async def open_with_code(
    keyring: Keyring, kind: CodeKind, code_text: str, born: date, now: datetime
) -> Opened:
    """Check a code and the young person's date of birth; the record it opens, or
    :class:`CodeRefusedError`."""
    symbols = parse_code(code_text)
    if symbols is None:  # cannot be a code: no lookup to count against, the same answer
        await _decoy_verify("0" * 24)
        await audit.record("consent.code_failed", audit.anonymous(), at=now, outcome="refused")
        raise CodeRefusedError()
    key = try_key(kind, symbols[:8])

    async def take_a_try(tx: Tx) -> int:
        taken = await tx.run(QueryString(_TRY, key, now, MAX_WRONG_TRIES))
        return int(taken[0]["failures"]) if taken else 0

    this_try = await audit.write(take_a_try)
    if not this_try:
        await _decoy_verify(symbols)
        raise CodeRefusedError(locked=True)
    found = await _find(kind, symbols[:8])
    right = False
    child: dict[str, Any] | None = None
    if found is None:
        await _decoy_verify(symbols)
    else:
        right = await code_matches(found["code_hash"], symbols)
        rows = (
            await Child.select(
                Child.id, Child.local_authority, Child.date_of_birth, Child.retention_state, Child.keep_until
            )
            .where(Child.id == found["child"])
            .run()
        )
        child = rows[0] if rows else None
        stored = (
            keyring.decrypt("child.date_of_birth", child["id"], bytes(child["date_of_birth"]))
            if child
            else None
        )
        right = right and stored == born.isoformat()
    if right and found is not None and child is not None:
        authority = child["local_authority"]
        citizen = Actor("citizen", authority_id=authority)
        subject = f"{_SUBJECT_KIND[kind]}:{found['id']}"
        expired = kind is CodeKind.consent and uk_date(now) > found["expires_on"]
        used = kind is CodeKind.consent and found["answered_at"] is not None
        refused = "expired" if expired else "used" if used else None
        entry = Entry(
            "consent.code_failed" if refused else "consent.viewed",
            citizen,
            now,
            child_id=None if refused else child["id"],
            child_authority_id=None if refused else authority,
            subjects=(subject,),
            outcome="refused" if refused else "success",
            detail={"code": refused} if refused else None,
        )

        async def give_it_back(tx: Tx) -> None:
            await tx.run(
                ConsentCodeTry.update({ConsentCodeTry.failures: ConsentCodeTry.failures - 1}).where(
                    ConsentCodeTry.lookup == key
                )
            )
            await audit.append(tx, [entry])

        await audit.write(give_it_back)
        if refused:
            raise CodeRefusedError(expired=expired, used=used)
        return Opened(
            kind=kind,
            row_id=found["id"],
            child_id=child["id"],
            authority_id=authority,
            born=born,
            state=RetentionState(child["retention_state"]),
            keep_until=child["keep_until"],
        )
    entries = [Entry("consent.code_failed", audit.anonymous(), now, outcome="refused")]
    if this_try >= MAX_WRONG_TRIES:
        entries.append(Entry("consent.locked", audit.anonymous(), now, outcome="refused"))
    await audit.record_many(entries)
    raise CodeRefusedError(locked=this_try >= MAX_WRONG_TRIES)


# The decision


@dataclass(frozen=True, slots=True)
class Receipt:
    """A consent receipt just issued: its row as stored, and its withdrawal code (shown this
    once)."""

    row: dict[str, Any]
    withdrawal_code: str

    @property
    def receipt_id(self) -> str:
        return str(self.row["receipt_id"])


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def check_keep_until(opened: Opened, keep_until: date, today: date, *, shorter: bool = False) -> str | None:
    """Why ``keep_until`` cannot be chosen, or None. ``shorter``: it must also come before the
    date chosen before."""
    first = max(opened.eighteenth, today)
    if keep_until <= first:
        return f"The date must be after {_day(first)}"
    if keep_until > opened.latest:
        return f"The date must be on or before your 25th birthday, {_day(opened.latest)}"
    if shorter and opened.keep_until is not None and keep_until >= opened.keep_until:
        return f"The date must be before {_day(opened.keep_until)}, the date you chose before"
    return None


async def _spend(tx: Tx, opened: Opened, now: datetime, answer: str) -> bool:
    """Use up the code that opened the record: the letter's consent code is one-time, and a
    receipt's withdrawal code ends with its consent. False if it was used meanwhile."""
    if opened.kind is CodeKind.consent:
        spent = await tx.run(
            ConsentInvitation.update({ConsentInvitation.answered_at: now, ConsentInvitation.answer: answer})
            .where((ConsentInvitation.id == opened.row_id) & ConsentInvitation.answered_at.is_null())
            .returning(ConsentInvitation.id)
        )
    else:
        spent = await tx.run(
            ConsentReceipt.select(ConsentReceipt.id).where(
                (ConsentReceipt.id == opened.row_id) & ConsentReceipt.ended_at.is_null()
            )
        )
    return bool(spent)


def _still(opened: Opened) -> Any:
    """The record is as the young person saw it when they chose (no decision made meanwhile)."""
    return (
        (Child.id == opened.child_id)
        & (Child.retention_state == opened.state.value)
        & (Child.keep_until.is_null() if opened.keep_until is None else Child.keep_until == opened.keep_until)
    )


async def _receipt_row(child_id: int, keep_until: date, now: datetime) -> tuple[dict[str, Any], str]:
    code = new_code()
    code_hash = await hash_code(code.code)
    return (
        {
            "id": row_ids.next(),
            "receipt_id": str(uuid.uuid4()),
            "child": child_id,
            "lookup": code.lookup,
            "code_hash": code_hash,
            "given_at": now,
            "keep_until": keep_until,
        },
        code.code,
    )


async def keep(opened: Opened, keep_until: date, now: datetime) -> Receipt:
    """Keep the record until ``keep_until`` (checked here again), with a new receipt; any
    earlier receipt ends, replaced."""
    problem = check_keep_until(opened, keep_until, uk_date(now))
    if problem:
        raise DecisionError(problem)
    row, code = await _receipt_row(opened.child_id, keep_until, now)

    async def unit(tx: Tx) -> bool:
        if not await _spend(tx, opened, now, "keep"):
            return False
        changed = await tx.run(
            Child.update(
                {
                    Child.retention_state: RetentionState.kept_with_consent.value,
                    Child.keep_until: keep_until,
                    Child.updated_at: now,
                }
            )
            .where(_still(opened))
            .returning(Child.id)
        )
        if not changed:
            return False
        await tx.run(
            ConsentReceipt.update(
                {ConsentReceipt.ended_at: now, ConsentReceipt.end_reason: "replaced"}
            ).where((ConsentReceipt.child == opened.child_id) & ConsentReceipt.ended_at.is_null())
        )
        await tx.run(ConsentReceipt.insert(ConsentReceipt(**row)))
        await audit.append(tx, [_entry(opened, "consent.given", now, f"consent_receipt:{row['id']}")])
        return True

    await _write_decision(unit)
    return Receipt(row=row, withdrawal_code=code)


def _entry(opened: Opened, action: str, now: datetime, subject: str) -> Entry:
    """The audit entry of a decision: the young person, as a citizen of their authority."""
    return Entry(
        action,
        opened.citizen(),
        now,
        child_id=opened.child_id,
        child_authority_id=opened.authority_id,
        subjects=(subject,),
    )


async def _write_decision(unit: WriteUnit[bool]) -> None:
    """Run a decision's write unit; it answers False when the record or code changed since the
    page was shown, and nothing is written."""
    if not await audit.write(unit):
        raise DecisionError("Your record changed since you opened it. Start again with your code.")


def _delete_values(opened: Opened, today: date) -> dict[Any, Any]:
    """Before 18: back to deletion on the 18th birthday. From 18: deleted at the next run."""
    if today < opened.eighteenth:
        return {Child.retention_state: RetentionState.delete_at_18.value, Child.keep_until: None}
    return {Child.retention_state: RetentionState.consent_withdrawn.value, Child.keep_until: today}


async def _end(opened: Opened, now: datetime, action: str) -> None:
    today = uk_date(now)

    async def unit(tx: Tx) -> bool:
        if not await _spend(tx, opened, now, "delete_at_18"):
            return False
        changed = await tx.run(
            Child.update({**_delete_values(opened, today), Child.updated_at: now})
            .where(_still(opened))
            .returning(Child.id)
        )
        if not changed:
            return False
        await tx.run(
            ConsentReceipt.update(
                {ConsentReceipt.ended_at: now, ConsentReceipt.end_reason: "withdrawn"}
            ).where((ConsentReceipt.child == opened.child_id) & ConsentReceipt.ended_at.is_null())
        )
        await audit.append(tx, [_entry(opened, action, now, opened.subject)])
        return True

    await _write_decision(unit)


async def delete_at_18(opened: Opened, now: datetime) -> None:
    """The invitation answered "delete my record at 18" (ending any consent given before)."""
    await _end(opened, now, "consent.refused")


async def withdraw(opened: Opened, now: datetime) -> None:
    """Consent withdrawn with the receipt's code."""
    await _end(opened, now, "consent.withdrawn")


async def shorten(opened: Opened, keep_until: date, now: datetime) -> None:
    """Keep the record until an earlier date than the receipt says."""
    problem = check_keep_until(opened, keep_until, uk_date(now), shorter=True)
    if problem:
        raise DecisionError(problem)

    async def unit(tx: Tx) -> bool:
        if not await _spend(tx, opened, now, "keep"):  # the receipt still stands
            return False
        changed = await tx.run(
            Child.update({Child.keep_until: keep_until, Child.updated_at: now})
            .where(_still(opened))
            .returning(Child.id)
        )
        if not changed:
            return False
        await tx.run(
            ConsentReceipt.update(
                {ConsentReceipt.keep_until: keep_until, ConsentReceipt.changed_at: now}
            ).where(ConsentReceipt.id == opened.row_id)
        )
        await audit.append(tx, [_entry(opened, "consent.shortened", now, opened.subject)])
        return True

    await _write_decision(unit)


async def receipt_of(opened: Opened) -> dict[str, Any] | None:
    """The receipt a withdrawal code belongs to."""
    rows = await ConsentReceipt.select().where(ConsentReceipt.id == opened.row_id).run()
    return rows[0] if rows else None


async def signpost_id_of(opened: Opened) -> str | None:
    rows = await Child.select(Child.signpost_id).where(Child.id == opened.child_id).run()
    return str(rows[0]["signpost_id"]) if rows else None


async def record_of(keyring: Keyring, opened: Opened) -> Any:
    return await load_child(keyring, opened.child_id)
