"""``signpost retention run``: delete every record Signpost may no longer keep, and invite the
young people who are about to decide.

What goes, each with the reason its tombstone gives:

- ``turned_18``: the young person has turned 18 (UK date; app/consent/dates.py) and has not
  consented to keep the record;
- ``consent_ended``: the date they chose has come;
- ``consent_withdrawn``: they withdrew their consent after turning 18.

A deleted child takes with it their former names, parents and carers, involvements, invitation,
receipts, subject access requests about them, notifications and break-glass overrides; the
crime reference, justification and decision note of any police disclosure request about them
are erased (the request's codes and dates stay for the published counts). The audit trail keeps
what it already held (IDs and codes, never personal data) and gains one tombstone per child:
``retention.deleted`` with the child's ID, the reason and the date.

How it finds them without reading 12 million dates of birth: the month each child turns 18 is
held as a 6-bit blind index (``child.bidx_turns_18``), so a run decrypts only the buckets of the
months that matter: from the month of the last finished run to this month (to delete), and from
this month to the month ``SIGNPOST_CONSENT_INVITE_MONTHS`` ahead (to invite). Consent that ended
or was withdrawn is found by its plain end date (``child.keep_until``; withdrawal sets it to the
day of withdrawal). The first run on a database, or a run after rows were written without the
index, reads every row once and fills the index in.

Each batch is one transaction: the deletions, the invitations and their audit entries commit
together or not at all, so a run killed at any point leaves every record whole or gone, and the
next run finishes the job. A second run on the same day finds nothing more to do. Nothing is
held in memory beyond one batch.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import Where

from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.consent.codes import CODE_GRACE_DAYS, hash_code, new_code
from app.consent.dates import eighteenth_birthday, invitation_day, month_key
from app.consent.tables import ConsentCodeTry, ConsentInvitation, RetentionRun
from app.crypto.keyring import Keyring
from app.database import Tx
from app.disclosure.tables import DISCLOSURE_ENCRYPTED, DisclosureRequest
from app.feeds.format import FeedRow
from app.feeds.tables import FeedReview
from app.identity.tables import ShieldOverride
from app.involvement.tables import Notification
from app.records.codes import RetentionState
from app.records.ids import row_ids
from app.records.service import TURNS_18, turns_18_index
from app.records.tables import Child
from app.subject_access.deadlines import add_months
from app.subject_access.tables import SubjectAccessRequest

SWEEP_WEEKDAY = 7  # Sunday
TRIES_KEPT = timedelta(days=30)
BATCH_SIZE = 500  # two audit rows each at most: well inside SQLite's bound-parameter limit
SYSTEM = Actor("system")


async def _review_rows_past_18(keyring: Keyring, today: date) -> list[int]:
    """Feed rows waiting for review whose young person is 18 or over (a few at most: the queue
    is decided by hand, so decrypting each pending row is cheap)."""
    pending = (
        await FeedReview.select(FeedReview.id, FeedReview.row).where(FeedReview.status == "pending").run()
    )
    past = []
    for item in pending:
        text = keyring.decrypt("feed_review.row", item["id"], bytes(item["row"]))
        row = msgspec.json.decode(text, type=FeedRow)
        if eighteenth_birthday(row.child.date_of_birth) <= today:
            past.append(int(item["id"]))
    return past


class Reason(StrEnum):
    turned_18 = "turned_18"
    consent_ended = "consent_ended"
    consent_withdrawn = "consent_withdrawn"


REASON_LABELS: dict[Reason, str] = {
    Reason.turned_18: "turned 18 without consent to keep the record",
    Reason.consent_ended: "the consent to keep the record ended",
    Reason.consent_withdrawn: "consent withdrawn after 18",
}


@dataclass(slots=True)
class Summary:
    """What one run did (or, with ``dry_run``, would do)."""

    today: date
    dry_run: bool
    full_scan: bool = False
    later_run: bool = False  # the day already had a run: only consent that ended is read
    scanned: int = 0
    indexed: int = 0
    deleted: Counter[Reason] = field(default_factory=Counter)
    invited: int = 0
    expired_reviews: int = 0  # feed rows waiting for review about someone now 18, erased
    batches: int = 0
    seconds: float = 0.0

    @property
    def deleted_total(self) -> int:
        return sum(self.deleted.values())


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    authority_id: int
    born: date
    state: RetentionState
    keep_until: date | None
    indexed: bool


def _due(row: _Row, today: date) -> Reason | None:
    """Why ``row`` must go today, or None."""
    if (
        row.state == RetentionState.consent_withdrawn
        and row.keep_until is not None
        and row.keep_until <= today
    ):
        return Reason.consent_withdrawn
    if row.state == RetentionState.kept_with_consent:
        if row.keep_until is None or row.keep_until <= today:
            return Reason.consent_ended
        return None
    if eighteenth_birthday(row.born) <= today:
        return Reason.turned_18
    return None


def _months(first: date, last: date) -> list[str]:
    """``YYYY-MM`` of every month from ``first``'s to ``last``'s."""
    months = []
    day = date(first.year, first.month, 1)
    while day <= last:
        months.append(month_key(day))
        day = add_months(day, 1)
    return months


_COLUMNS = (
    Child.id,
    Child.local_authority,
    Child.date_of_birth,
    Child.retention_state,
    Child.keep_until,
    Child.bidx_turns_18,
)


def _decode(keyring: Keyring, rows: list[dict[str, Any]]) -> list[_Row]:
    return [
        _Row(
            id=r["id"],
            authority_id=r["local_authority"],
            born=date.fromisoformat(
                keyring.decrypt("child.date_of_birth", r["id"], bytes(r["date_of_birth"]))
            ),
            state=RetentionState(r["retention_state"]),
            keep_until=r["keep_until"],
            indexed=r["bidx_turns_18"] is not None,
        )
        for r in rows
    ]


async def _pages(where: Where | Any, batch_size: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows matching ``where``, a batch at a time, in ID order (resumable by ID)."""
    after = -(2**63)
    while True:
        rows = (
            await Child.select(*_COLUMNS)
            .where(where & (Child.id > after))
            .order_by(Child.id)
            .limit(batch_size)
            .run()
        )
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        after = rows[-1]["id"]


async def last_run_on(today: date) -> date | None:
    rows = (
        await RetentionRun.select(RetentionRun.run_on)
        .where(RetentionRun.run_on <= today)
        .order_by(RetentionRun.run_on, ascending=False)
        .limit(1)
        .run()
    )
    return rows[0]["run_on"] if rows else None


def _wheres(keyring: Keyring, today: date, since: date | None, invite_months: int) -> list[Where | Any]:
    """The queries whose rows together hold every record a run must look at: consent ended,
    rows not yet indexed, then the buckets of the months due (disjoint by index value). A later
    run on a day that already had one reads only the first two: birthdays and invitations go by
    the day, and the day's first run has dealt with them."""
    if since is None:
        return [Child.id.is_not_null()]  # the first run reads everything once
    ended = Child.keep_until.is_not_null() & (Child.keep_until <= today)
    if since >= today:
        return [ended, Child.bidx_turns_18.is_null()]
    months = set(_months(min(since, today), today)) | set(_months(today, add_months(today, invite_months)))
    buckets = sorted({v for m in months for v in keyring.blind_index_candidates(TURNS_18, m)})
    return [ended, Child.bidx_turns_18.is_null(), *(Child.bidx_turns_18 == b for b in buckets)]


async def _invitation_rows(
    keyring: Keyring, children: list[_Row], today: date, now: datetime
) -> list[dict[str, Any]]:
    """One invitation per child: the code is hashed in worker threads (argon2 is CPU work)."""
    codes = [new_code() for _ in children]
    workers = asyncio.Semaphore(os.cpu_count() or 2)

    async def hashed(code: str) -> str:
        async with workers:
            return await hash_code(code)

    hashes = await asyncio.gather(*(hashed(c.code) for c in codes))
    version = keyring.active_version
    rows = []
    for child, code, code_hash in zip(children, codes, hashes, strict=True):
        row_id = row_ids.next()
        rows.append(
            {
                "id": row_id,
                "child": child.id,
                "lookup": code.lookup,
                "code_hash": code_hash,
                "letter_code": keyring.encrypt("consent_invitation.letter_code", row_id, code.code, version),
                "expires_on": eighteenth_birthday(child.born) + timedelta(days=CODE_GRACE_DAYS),
                "created_at": now,
                "key_version": version,
            }
        )
    return rows


def _still_due(today: date) -> Any:
    """Checked again by the delete itself: the record is still due for deletion as it was read
    (a young person who consents between the read and the delete keeps their record)."""
    ended = Child.keep_until.is_not_null() & (Child.keep_until <= today)
    return (Child.retention_state == RetentionState.delete_at_18.value) | ended


async def _commit(
    keyring: Keyring,
    doomed: list[tuple[_Row, Reason]],
    invite: list[_Row],
    index: list[_Row],
    today: date,
    now: datetime,
) -> tuple[set[int], int]:
    """Delete, invite and index one batch in one transaction. Returns the IDs of the records
    deleted and how many invitations were made."""
    doomed_ids = [row.id for row, _ in doomed]
    invitations = await _invitation_rows(keyring, invite, today, now) if invite else []
    indexes = [(row.id, turns_18_index(keyring, row.born)) for row in index]
    version = keyring.active_version
    erased_columns = DISCLOSURE_ENCRYPTED[DisclosureRequest]

    async def unit(tx: Tx) -> tuple[set[int], int]:
        for child_id, value in indexes:
            await tx.run(Child.update({Child.bidx_turns_18: value}).where(Child.id == child_id))
        gone: set[int] = set()
        if doomed_ids:
            # Former names, carers, involvements, invitations and receipts go with the child.
            deleted = await tx.run(
                Child.delete().where(Child.id.is_in(doomed_ids) & _still_due(today)).returning(Child.id)
            )
            gone = {r["id"] for r in deleted}
        if gone:
            ids = list(gone)
            await tx.run(SubjectAccessRequest.delete().where(SubjectAccessRequest.child_id.is_in(ids)))
            await tx.run(Notification.delete().where(Notification.child_id.is_in(ids)))
            await tx.run(ShieldOverride.delete().where(ShieldOverride.child_id.is_in(ids)))
            # A police request keeps its codes and dates (the public figures count them); its
            # text may name the child, so it is replaced by an encrypted empty text.
            requests = await tx.run(
                DisclosureRequest.select(DisclosureRequest.id).where(DisclosureRequest.child_id.is_in(ids))
            )
            for request in requests:
                erased: dict[Column | str, Any] = {
                    column: keyring.encrypt(f"disclosure_request.{column}", request["id"], "", version)
                    for column in erased_columns
                }
                await tx.run(
                    DisclosureRequest.update({**erased, DisclosureRequest.key_version: version}).where(
                        DisclosureRequest.id == request["id"]
                    )
                )
        made: list[dict[str, Any]] = []
        if invitations:
            # One invitation per child, by constraint: a child another run invited meanwhile is
            # left as it is.
            made = await tx.run(
                ConsentInvitation.insert(*(ConsentInvitation(**i) for i in invitations))
                .on_conflict(action="DO NOTHING")
                .returning(ConsentInvitation.id, ConsentInvitation.child)
            )
        authority = {row.id: row.authority_id for row, _ in doomed} | {
            row.id: row.authority_id for row in invite
        }
        entries = [
            Entry(
                "retention.deleted",
                SYSTEM,
                now,
                child_id=row.id,
                child_authority_id=row.authority_id,
                detail={"reason": reason.value, "on": today.isoformat().replace("-", "")},
            )
            for row, reason in doomed
            if row.id in gone
        ] + [
            Entry(
                "consent.invited",
                SYSTEM,
                now,
                child_id=i["child"],
                child_authority_id=authority[i["child"]],
                subjects=(f"consent_invitation:{i['id']}",),
            )
            for i in made
        ]
        await audit.append(tx, entries)
        return gone, len(made)

    return await audit.write(unit)


async def run(
    keyring: Keyring,
    *,
    today: date,
    now: datetime,
    invite_months: int,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    after_batch: Callable[[Summary], None] | None = None,
) -> Summary:
    """One retention run for the UK day ``today``. ``after_batch`` is called after each batch
    has committed (progress for the command line; tests use it to kill a run part-way)."""
    started = time.monotonic()
    since = await last_run_on(today)
    # Every record is read on the first run, and again on the first run of each UK Sunday: a
    # sweep that catches any record the monthly buckets could miss (say, one written by a
    # future import with a date of birth already past 18).
    sweep = since is None or (today.isoweekday() == SWEEP_WEEKDAY and since < today)
    summary = Summary(today=today, dry_run=dry_run, full_scan=sweep, later_run=not sweep and since == today)
    # The IDs read by the first two queries (consent ended, and rows not yet indexed: a few a
    # day), so that a bucket query does not handle them again; the bucket queries never share a
    # row, so memory stays at one batch.
    handled: set[int] = set()
    for number, where in enumerate(_wheres(keyring, today, None if sweep else since, invite_months)):
        async for page in _pages(where, batch_size):
            rows = [r for r in _decode(keyring, page) if r.id not in handled]
            if number < 2 and not sweep:
                handled.update(r.id for r in rows)
            summary.scanned += len(rows)
            doomed = [(r, reason) for r in rows if (reason := _due(r, today)) is not None]
            going = {r.id for r, _ in doomed}
            maybe_invite = [
                r
                for r in rows
                if r.id not in going
                and r.state == RetentionState.delete_at_18
                and invitation_day(r.born, invite_months) <= today < eighteenth_birthday(r.born)
            ]
            invite: list[_Row] = []
            if maybe_invite:
                have = {
                    h["child"]
                    for h in await ConsentInvitation.select(ConsentInvitation.child)
                    .where(ConsentInvitation.child.is_in([r.id for r in maybe_invite]))
                    .run()
                }
                invite = [r for r in maybe_invite if r.id not in have]
            index = [r for r in rows if not r.indexed and r.id not in going]
            if dry_run:
                for _, reason in doomed:
                    summary.deleted[reason] += 1
                summary.invited += len(invite)
                continue
            if doomed or invite or index:
                gone, invited = await _commit(keyring, doomed, invite, index, today, now)
                summary.invited += invited
                summary.indexed += len(index)
                # Only what this run deleted counts (another run may have been first).
                summary.deleted.update(reason for r, reason in doomed if r.id in gone)
                summary.batches += 1
                if after_batch is not None:
                    after_batch(summary)
    expired = await _review_rows_past_18(keyring, today)
    summary.expired_reviews = len(expired)
    if not dry_run:
        finished = now + timedelta(seconds=time.monotonic() - started)

        async def record_run(tx: Tx) -> None:
            # Feed rows still waiting for review about someone now 18: Signpost will keep no
            # new record of them, so the row goes (the decision's own line stays).
            for start in range(0, len(expired), BATCH_SIZE):
                await tx.run(
                    FeedReview.update({FeedReview.status: "expired", FeedReview.row: None}).where(
                        FeedReview.id.is_in(expired[start : start + BATCH_SIZE])
                        & (FeedReview.status == "pending")
                    )
                )
            # Tries at lookups untouched for a while are forgotten (a made-up lookup would
            # otherwise stay for ever); a code locked that long unlocks, or gets a new letter.
            await tx.run(ConsentCodeTry.delete().where(ConsentCodeTry.last_at < now - TRIES_KEPT))
            await tx.run(
                RetentionRun.insert(
                    RetentionRun(
                        run_on=today,
                        started_at=now,
                        finished_at=finished,
                        deleted=summary.deleted_total,
                        invited=summary.invited,
                    )
                )
            )
            await audit.append(
                tx,
                [
                    Entry(
                        "retention.run",
                        SYSTEM,
                        now,
                        result_count=summary.deleted_total,
                        detail={
                            "deleted": summary.deleted_total,
                            "invited": summary.invited,
                            "review_rows_expired": summary.expired_reviews,
                        },
                    )
                ],
            )

        await audit.write(record_run)
    summary.seconds = time.monotonic() - started
    return summary
