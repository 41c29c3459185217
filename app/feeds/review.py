"""The review queue: rows the importer would not guess about, and the admin's decision.

The local-authority admin sees each pending row of their own authority beside its possible
records. A record held by their authority is shown in full (they are its Signpost team); one
held by another authority only as name, date of birth, gender, Signpost ID and who to call
there. Showing a possible record is audited against that record.

The decision is one of:

- **merge** into one of the possible records: the row updates it (a changed name is kept as a
  former name), and any other possible record of the same authority the admin marks as the same
  child is merged into it too: its involvements, requests and notifications move across, its
  names become former names, and it is removed. A merge never loses shielding.
- **create** a new record from the row;
- **reject** the row.

Creating a record beside a shielded one, or merging into another authority's record (which
moves it here), needs the admin to say they checked with the Signpost team holding it. Every
decision is audited on both sides (the row and each record), and erases the queued row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec
from msgspec.structs import replace as evolve

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.audit.tables import AuditWithholding
from app.consent.dates import eighteenth_birthday, uk_date
from app.consent.tables import ConsentInvitation, ConsentReceipt
from app.crypto.keyring import Keyring
from app.database import Tx
from app.disclosure.tables import DisclosureRequest
from app.feeds.format import FeedRow
from app.feeds.importer import Places, apply_row, merged_names, with_places, write_details, write_new_child
from app.feeds.tables import FeedImport, FeedReview, Shielding
from app.identity.tables import ShieldOverride
from app.involvement.tables import Notification
from app.records.codes import Gender, RetentionState
from app.records.schemas import Address, ChildDetails
from app.records.service import RecordNotFoundError, load_child
from app.records.tables import Child, Involvement, LocalAuthority
from app.subject_access.tables import SubjectAccessRequest

WHY_LABELS = {
    "several": "More than one record could be this child",
    "uncertain": "A record is alike but not the same",
    "shielded": "It could be a shielded child",
    "signpost_id": "The Signpost ID does not fit the row",
    "other_authority": "The record is held by another authority",
}


class ReviewError(ValueError):
    """The decision cannot be made as asked; the message says why, for the admin. (A ValueError,
    so that the audit's write passes it on as it is, after rolling the unit back.)"""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    line: int
    why: str
    candidates: int
    source: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PossibleRecord:
    child_id: int
    signpost_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    shielded: bool
    ours: bool  # held by the admin's authority: shown in full
    authority_id: int
    authority_name: str
    team_telephone: str
    former_names: tuple[str, ...] = ()
    address: Address | None = None
    involvements: int = 0
    hidden: bool = False  # shielded and held by another authority: shown as no more than that


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    line: int
    why: str
    row: FeedRow
    records: tuple[PossibleRecord, ...]


async def pending(authority_id: int) -> list[Pending]:
    rows = (
        await FeedReview.select(
            FeedReview.id,
            FeedReview.line,
            FeedReview.why,
            FeedReview.candidates,
            FeedReview.created_at,
            FeedReview.feed_import,
        )
        .where((FeedReview.local_authority == authority_id) & (FeedReview.status == "pending"))
        .order_by(FeedReview.created_at)
        .order_by(FeedReview.line)
        .run()
    )
    imports = {r["feed_import"] for r in rows}
    sources = {
        i["id"]: i["source"]
        for i in (
            await FeedImport.select(FeedImport.id, FeedImport.source)
            .where(FeedImport.id.is_in(list(imports)))
            .run()
            if imports
            else []
        )
    }
    return [
        Pending(
            id=r["id"],
            line=r["line"],
            why=r["why"],
            candidates=len([c for c in r["candidates"].split(",") if c]),
            source=sources.get(r["feed_import"], ""),
            created_at=r["created_at"],
        )
        for r in rows
    ]


def _ids(text: str) -> list[int]:
    return [int(c) for c in text.split(",") if c]


async def _pending_row(item_id: int, authority_id: int) -> dict[str, Any] | None:
    rows = (
        await FeedReview.select()
        .where(
            (FeedReview.id == item_id)
            & (FeedReview.local_authority == authority_id)
            & (FeedReview.status == "pending")
        )
        .run()
    )
    return rows[0] if rows else None


def _row_of(keyring: Keyring, item: dict[str, Any]) -> FeedRow:
    text = keyring.decrypt("feed_review.row", int(item["id"]), bytes(item["row"]))
    return msgspec.json.decode(text, type=FeedRow)


async def load_item(
    keyring: Keyring, item_id: int, authority_id: int, viewer: Actor, now: datetime
) -> Item | None:
    """A pending row of this authority with its possible records, each showing audited; None
    if there is no such pending row. A shielded record another authority holds is shown only as
    that: no name, no Signpost ID; and its authority's privacy officer is alerted, since a made-up
    row could otherwise be a way of looking for a shielded child."""
    item = await _pending_row(item_id, authority_id)
    if item is None:
        return None
    row = _row_of(keyring, item)
    authorities = {a["id"]: a for a in await LocalAuthority.select().run()}
    records = []
    for child_id in _ids(item["candidates"]):
        try:
            record = await load_child(keyring, child_id)
        except RecordNotFoundError:
            continue  # removed since (a retention run, or another merge)
        d = record.details
        ours = d.local_authority_id == authority_id
        authority = authorities[d.local_authority_id]
        if d.shielded and not ours:
            records.append(
                PossibleRecord(
                    child_id=record.id,
                    signpost_id="",
                    given_name="",
                    family_name="",
                    date_of_birth=d.date_of_birth,
                    gender=Gender.not_specified,
                    shielded=True,
                    ours=False,
                    authority_id=d.local_authority_id,
                    authority_name=authority["name"],
                    team_telephone=authority["team_telephone"],
                    hidden=True,
                )
            )
            continue
        records.append(
            PossibleRecord(
                child_id=record.id,
                signpost_id=record.signpost_id,
                given_name=d.given_name,
                family_name=d.family_name,
                date_of_birth=d.date_of_birth,
                gender=d.gender,
                shielded=d.shielded,
                ours=ours,
                authority_id=d.local_authority_id,
                authority_name=authority["name"],
                team_telephone=authority["team_telephone"],
                former_names=tuple(f"{f.given_name} {f.family_name}" for f in d.former_names) if ours else (),
                address=d.address if ours else None,
                involvements=len([i for i in d.involvements if i.end_date is None]) if ours else 0,
            )
        )
    entries = [
        Entry(
            "feed.review_viewed",
            viewer,
            now,
            child_id=r.child_id,
            child_authority_id=r.authority_id,
            subjects=(f"feed_review:{item_id}",),
            detail={"shielded": True} if r.shielded else None,
        )
        for r in records
    ] or [Entry("feed.review_viewed", viewer, now, subjects=(f"feed_review:{item_id}",))]

    async def unit(tx: Tx) -> None:
        seqs = await audit.append(tx, entries)
        for record, seq in zip(records, seqs, strict=False):
            if record.hidden:
                await alerts.raise_alert(
                    alerts.AlertKind.shielded_access,
                    authority_id=record.authority_id,
                    at=now,
                    dedupe_key=f"review:{item_id}:{record.child_id}:{viewer.id}",
                    practitioner_id=viewer.id,
                    child_id=record.child_id,
                    audit_seq=seq,
                    tx=tx,
                )

    await audit.write(unit)
    return Item(id=item_id, line=int(item["line"]), why=item["why"], row=row, records=tuple(records))


@dataclass(frozen=True, slots=True)
class Choice:
    action: str  # "merge", "create" or "reject"
    target: int | None = None  # for "merge": the record the row goes into
    also: tuple[int, ...] = ()  # for "merge": other records of this authority that are the same child
    checked_with_team: bool = False


async def merge_records(tx: Tx, keyring: Keyring, keep: int, other: int, now: datetime) -> None:
    """Merge the record ``other`` into ``keep`` and remove it: involvements, subject access
    requests, police requests and notifications move across (break-glass overrides of it end);
    its names become former names; shielding, with its reason and review date, is kept if
    either was shielded. A record holding the young person's invitation, consent or decision
    about 18 is never the one removed."""
    kept = await load_child(keyring, keep, tx)
    gone = await load_child(keyring, other, tx)
    decided = await tx.run(
        ConsentInvitation.select(ConsentInvitation.id).where(ConsentInvitation.child == other)
    )
    receipts = await tx.run(ConsentReceipt.select(ConsentReceipt.id).where(ConsentReceipt.child == other))
    if decided or receipts or gone.details.retention_state != RetentionState.delete_at_18:
        raise ReviewError(
            "also",
            "The other record holds the young person's invitation or decision about 18: "
            "choose it as the record to keep",
        )
    old = evolve(kept.details, involvements=())
    new = evolve(
        old,
        former_names=merged_names(gone.details, old),
        carers=old.carers or gone.details.carers,
        shielded=old.shielded or gone.details.shielded,
    )
    await tx.run(Involvement.update({Involvement.child: keep}).where(Involvement.child == other))
    await tx.run(
        SubjectAccessRequest.update({SubjectAccessRequest.child_id: keep}).where(
            SubjectAccessRequest.child_id == other
        )
    )
    await tx.run(
        DisclosureRequest.update({DisclosureRequest.child_id: keep}).where(
            DisclosureRequest.child_id == other
        )
    )
    await tx.run(Notification.update({Notification.child_id: keep}).where(Notification.child_id == other))
    # Entries withheld from subject access stay withheld in the merged record's answer.
    await tx.run(
        AuditWithholding.update({AuditWithholding.child_id: keep}).where(AuditWithholding.child_id == other)
    )
    await tx.run(ShieldOverride.delete().where(ShieldOverride.child_id == other))
    if not await tx.run(Shielding.select(Shielding.id).where(Shielding.child == keep)):
        await tx.run(Shielding.update({Shielding.child: keep}).where(Shielding.child == other))
    await tx.run(Child.delete().where(Child.id == other))
    await write_details(tx, keyring, keep, kept.signpost_id, old, new, now)


async def decide(
    keyring: Keyring, item_id: int, authority_id: int, choice: Choice, actor: Actor, now: datetime
) -> int | None:
    """Carry out the admin's decision on a pending row in one write unit; the record it went
    into or created (None for a rejection). :class:`ReviewError` when it cannot be done as
    asked, and then nothing changes."""

    async def unit(tx: Tx) -> int | None:
        # Claim the row first: a second decision sent at the same moment waits for this one,
        # then finds nothing pending (PostgreSQL re-checks the condition after the wait).
        claimed = await tx.run(
            FeedReview.update({FeedReview.status: "deciding"})
            .where(
                (FeedReview.id == item_id)
                & (FeedReview.local_authority == authority_id)
                & (FeedReview.status == "pending")
            )
            .returning(FeedReview.id)
        )
        if not claimed:
            raise ReviewError("decision", "This row has already been decided")
        [item] = await tx.run(FeedReview.select().where(FeedReview.id == item_id))
        row = _row_of(keyring, item)
        candidates = _ids(item["candidates"])
        found = {
            int(r["id"]): r
            for r in await tx.run(
                Child.select(Child.id, Child.local_authority, Child.shielded, Child.updated_at).where(
                    Child.id.is_in(candidates or [0])
                )
            )
        }
        subjects = (f"feed_review:{item_id}",)
        entries: list[Entry] = []
        result: int | None = None
        if choice.action == "reject":
            entries.append(
                Entry("feed.review_rejected", actor, now, child_authority_id=authority_id, subjects=subjects)
            )
        elif choice.action == "create":
            if any(r["shielded"] for r in found.values()) and not choice.checked_with_team:
                raise ReviewError(
                    "checked_with_team",
                    "A possible record is shielded: check with the Signpost team that holds it, then say so",
                )
            if eighteenth_birthday(row.child.date_of_birth) <= uk_date(now):
                raise ReviewError("decision", "This young person is 18 or over: Signpost keeps no new record")
            child = await with_places(tx, row, row.child, {})
            result = await write_new_child(tx, keyring, child, now)
            entries.append(
                Entry(
                    "feed.review_created",
                    actor,
                    now,
                    child_id=result,
                    child_authority_id=authority_id,
                    subjects=subjects,
                )
            )
        elif choice.action == "merge":
            target = choice.target
            if target is None or target not in found:
                raise ReviewError("target", "Select the record this row is about")
            holder = int(found[target]["local_authority"])
            if holder != authority_id and not choice.checked_with_team:
                raise ReviewError(
                    "checked_with_team",
                    "That record is held by another authority: check with their Signpost team, then say so",
                )
            cache: Places = {}

            async def places(r: FeedRow, c: ChildDetails) -> ChildDetails:
                return await with_places(tx, r, c, cache)

            if found[target]["updated_at"] > item["created_at"]:
                # The record changed after the row arrived (a later feed, a correction): its
                # newer details stand, and the row only moves it here if it is held elsewhere.
                current = (await load_child(keyring, target, tx)).details
                row = evolve(
                    row,
                    child=evolve(
                        current,
                        involvements=(),
                        local_authority_id=row.child.local_authority_id,
                        source=row.child.source,
                    ),
                    education=None,
                    gp=None,
                )
            await apply_row(tx, keyring, target, row, now, places)
            entries.append(
                Entry(
                    "feed.review_merged",
                    actor,
                    now,
                    child_id=target,
                    child_authority_id=authority_id,
                    subjects=subjects if holder == authority_id else (*subjects, f"from_authority:{holder}"),
                )
            )
            for other in choice.also:
                if (
                    other == target
                    or other not in found
                    or int(found[other]["local_authority"]) != authority_id
                ):
                    raise ReviewError(
                        "also", "Only other possible records of your own authority can be merged"
                    )
                await merge_records(tx, keyring, target, other, now)
                entries.append(
                    Entry(
                        "record.merged",
                        actor,
                        now,
                        child_id=target,
                        child_authority_id=authority_id,
                        subjects=(*subjects, f"child:{other}"),
                    )
                )
                entries.append(
                    Entry(
                        "record.merged_away",
                        actor,
                        now,
                        child_id=other,
                        child_authority_id=authority_id,
                        subjects=(*subjects, f"child:{target}"),
                    )
                )
            result = target
        else:
            raise ReviewError("decision", "Choose what to do with this row")
        await tx.run(
            FeedReview.update(
                {
                    FeedReview.status: {"merge": "merged", "create": "created", "reject": "rejected"}[
                        choice.action
                    ],
                    FeedReview.row: None,
                    FeedReview.child: result,
                    FeedReview.decided_by: actor.id,
                    FeedReview.decided_at: now,
                }
            ).where(FeedReview.id == item_id)
        )
        await audit.append(tx, entries)
        return result

    return await audit.write(unit)
