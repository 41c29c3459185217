"""Police exceptional disclosure, from the officer's request to the time-limited view.

A police officer names one child with the identifiers a search needs. Unless they match exactly
one record the request goes no further, and the officer learns nothing about near matches: the
answer is the same for none and for several. The match is kept as a draft that the officer sends
with a key touch. An approver of the child's local authority (never the requester, never someone
of the requester's force) decides, with a reason and a key touch. Approval lets the requester
open that one record, in its minimal view (the page a practitioner outside the authority's
Signpost team sees), until ``access_until``, while the child stays in that authority; the
approver can end it sooner.

Every step is one write unit that changes the request only from the state the step expects
(``UPDATE ... WHERE ... RETURNING``) and appends its audit row, against the request
(``disclosure:<id>``) and the child. An approver may record that a request is kept
out of the child's subject access answer until a review date (crime prevention); until then
every entry about the request is left out.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from piccolo.columns.combination import And, Where
from piccolo.engine.postgres import PostgresEngine

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.audit.tables import Alert
from app.crypto.keyring import Keyring
from app.database import Tx
from app.disclosure.codes import (
    APPROVAL_REASON,
    EXEMPTION,
    EXEMPTION_LABEL,
    UNDECIDED,
    LawfulBasis,
    Offence,
    RefusalReason,
    RevokeReason,
    Status,
    Urgency,
)
from app.disclosure.tables import DisclosureRequest as Dr
from app.records import access
from app.records.ids import row_ids
from app.records.tables import Child, LocalAuthority
from app.search import quotas
from app.search import service as search
from app.search.quotas import Quota
from app.subject_access.deadlines import uk_date

_TABLE = "disclosure_request"
#: A draft not sent within this long must be made again (the match may be out of date).
DRAFT_LIFETIME = timedelta(hours=24)
#: Decided requests the approver's queue shows, newest first, after every undecided one.
RECENT_DECISIONS = 50
CRIME_REFERENCE_LIMIT = 40
JUSTIFICATION_MIN, JUSTIFICATION_LIMIT = 50, 2000
NOTE_MIN, NOTE_LIMIT = 10, 1000


@dataclass(frozen=True, slots=True)
class Case:
    """What the officer says about the case, validated."""

    crime_reference: str
    offence: Offence
    lawful_basis: LawfulBasis
    urgency: Urgency
    justification: str


class NotUniqueError(Exception):
    """The identifiers match no record, or more than one: the request goes no further."""


class StepRefusedError(Exception):
    """The request is not in a state that allows the step, or this person may not take it."""


@dataclass(frozen=True, slots=True)
class RequestView:
    id: int
    requester_id: int
    force_id: int
    authority_id: int
    child_id: int
    crime_reference: str
    offence: Offence
    lawful_basis: LawfulBasis
    urgency: Urgency
    justification: str
    status: Status
    created_at: datetime
    submitted_at: datetime | None
    decide_by: datetime | None
    decided_by: int | None
    decided_at: datetime | None
    decision_reason: str | None
    decision_note: str | None
    access_until: datetime | None
    revoked_at: datetime | None
    revoke_reason: RevokeReason | None
    exempt_until: date | None

    @property
    def subject(self) -> str:
        return f"disclosure:{self.id}"

    def access_open(self, now: datetime) -> bool:
        return self.status == Status.approved and self.access_until is not None and now < self.access_until

    def overdue(self, now: datetime) -> bool:
        return self.status == Status.pending and self.decide_by is not None and now > self.decide_by

    def exempt(self, today: date) -> bool:
        return self.exempt_until is not None and today < self.exempt_until


def _view(keyring: Keyring, row: dict[str, Any]) -> RequestView:
    def plain(column: str) -> str | None:
        blob = row[column]
        return None if blob is None else keyring.decrypt(f"{_TABLE}.{column}", row["id"], bytes(blob))

    return RequestView(
        id=row["id"],
        requester_id=row["requester"],
        force_id=row["force"],
        authority_id=row["local_authority"],
        child_id=row["child_id"],
        crime_reference=plain("crime_reference") or "",
        offence=Offence(row["offence"]),
        lawful_basis=LawfulBasis(row["lawful_basis"]),
        urgency=Urgency(row["urgency"]),
        justification=plain("justification") or "",
        status=Status(row["status"]),
        created_at=row["created_at"],
        submitted_at=row["submitted_at"],
        decide_by=row["decide_by"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_reason=row["decision_reason"],
        decision_note=plain("decision_note"),
        access_until=row["access_until"],
        revoked_at=row["revoked_at"],
        revoke_reason=RevokeReason(row["revoke_reason"]) if row["revoke_reason"] else None,
        exempt_until=row["exempt_until"],
    )


async def load(keyring: Keyring, request_id: int) -> RequestView | None:
    rows = await Dr.select().where(Dr.id == request_id).run()
    return _view(keyring, rows[0]) if rows else None


def _entry(
    action: str,
    actor: Actor,
    request: RequestView,
    now: datetime,
    *,
    outcome: audit.Outcome = "success",
    detail: dict[str, int | str | bool] | None = None,
) -> Entry:
    """An audit row against the request and its child."""
    return Entry(
        action,
        actor,
        now,
        child_id=request.child_id,
        child_authority_id=request.authority_id,
        subjects=(request.subject,),
        reason="police_disclosure",
        outcome=outcome,
        detail=detail,
    )


# The officer's side


async def draft(
    keyring: Keyring, officer: Actor, criteria: search.Criteria, case: Case, now: datetime, quota: Quota
) -> int:
    """Match ``criteria`` to exactly one record and keep the request as a draft; its ID.

    Counted against ``quota`` whether or not it matched (so identifiers cannot be tried without
    limit), and audited: ``disclosure.drafted`` against the request, or
    ``disclosure.match_refused`` with no child and no count. :class:`NotUniqueError` when
    there is no single match; :class:`QuotaExceededError` past the quota."""
    if officer.id is None or officer.organisation_id is None:
        raise StepRefusedError("an officer must be a practitioner")
    quotas.check(quota, officer, now)
    found = await search.find(keyring, criteria)
    unique = found.results[0] if found.outcome == "success" and found.matches == 1 else None
    row_id = 0
    if unique is not None:
        row_id = row_ids.next()
        version = keyring.active_version

        def seal(column: str, value: str) -> bytes:
            return keyring.encrypt(f"{_TABLE}.{column}", row_id, value, version)

        row = Dr(
            id=row_id,
            requester=officer.id,
            force=officer.organisation_id,
            local_authority=unique.authority_id,
            child_id=unique.child_id,
            crime_reference=seal("crime_reference", case.crime_reference),
            offence=case.offence.value,
            lawful_basis=case.lawful_basis.value,
            urgency=case.urgency.value,
            justification=seal("justification", case.justification),
            status=Status.draft.value,
            created_at=now,
            key_version=version,
        )
        # The match confirmed that these identifiers are one child's: the child is named, so the
        # privacy officer sees it in the child's trail (the subject access answer leaves an
        # undecided request out: see exempt_subjects).
        entry = Entry(
            "disclosure.drafted",
            officer,
            now,
            child_id=unique.child_id,
            child_authority_id=unique.authority_id,
            subjects=(f"disclosure:{row_id}",),
            reason="police_disclosure",
        )
    else:
        entry = Entry(
            "disclosure.match_refused",
            officer,
            now,
            outcome="refused",
            reason="police_disclosure",
            detail={"by": criteria.kind},
        )

    async def unit(tx: Tx) -> bool:
        if not await quotas.use(tx, quota, officer, now):
            return False
        if unique is not None:
            await tx.run(Dr.insert(row))
        await audit.append(tx, [entry])
        return True

    if not await audit.write(unit):
        raise quotas.refused(quota, officer, now)
    if unique is None:
        raise NotUniqueError()
    return row_id


async def _step(
    request: RequestView,
    changes: dict[Any, Any],
    condition: Where | And,
    entries: list[Entry],
    *,
    child_still_theirs: bool = False,
) -> None:
    """Apply ``changes`` if ``condition`` still holds (and, with ``child_still_theirs``, the
    child's record is still the request's authority's), with ``entries``, in one unit."""

    async def unit(tx: Tx) -> bool:
        if child_still_theirs and not await tx.run(_still_theirs(request)):
            return False
        changed = await tx.run(Dr.update(changes).where((Dr.id == request.id) & condition).returning(Dr.id))
        if not changed:
            return False
        await audit.append(tx, entries)
        return True

    if not await audit.write(unit):
        raise StepRefusedError(str(request.id))


def _still_theirs(request: RequestView) -> Any:
    """The query: is the child's record still held, by the authority the request went to? (A
    child who moved since is another authority's to decide about.) On PostgreSQL the row is
    share-locked until the transaction ends, so a move cannot commit in between."""
    query = Child.select(Child.id).where(
        (Child.id == request.child_id) & (Child.local_authority == request.authority_id)
    )
    return query.lock_rows("SHARE") if isinstance(Child._meta.db, PostgresEngine) else query


def decision_deadline(urgency: Urgency, sent: datetime, *, routine_hours: int, urgent_hours: int) -> datetime:
    return sent + timedelta(hours=urgent_hours if urgency == Urgency.urgent else routine_hours)


async def send(officer: Actor, request: RequestView, now: datetime, decide_by: datetime) -> None:
    """Send the officer's own draft to the child's authority (the route asks for a key touch).
    Refused if it is not their draft, it is older than :data:`DRAFT_LIFETIME`, or the record
    has gone or moved to another authority since."""
    if request.requester_id != officer.id or now - request.created_at > DRAFT_LIFETIME:
        raise StepRefusedError(str(request.id))
    entry = _entry(
        "disclosure.requested",
        officer,
        request,
        now,
        detail={"urgency": request.urgency.value, "offence": request.offence.value},
    )

    async def unit(tx: Tx) -> bool:
        if not await tx.run(_still_theirs(request)):
            return False
        changed = await tx.run(
            Dr.update({Dr.status: Status.pending.value, Dr.submitted_at: now, Dr.decide_by: decide_by})
            .where(
                (Dr.id == request.id)
                & (Dr.status == Status.draft.value)
                & (Dr.requester == officer.id)
                & (Dr.created_at >= now - DRAFT_LIFETIME)
            )
            .returning(Dr.id)
        )
        if not changed:
            return False
        await audit.append(tx, [entry])
        return True

    if not await audit.write(unit):
        raise StepRefusedError(str(request.id))


async def cancel(officer: Actor, request: RequestView, now: datetime) -> None:
    """The officer's own unsent draft is withdrawn (kept, and audited: the match it made is an
    access to the child's identifiers)."""
    if request.requester_id != officer.id:
        raise StepRefusedError(str(request.id))
    await _step(
        request,
        {Dr.status: Status.withdrawn.value},
        (Dr.status == Status.draft.value) & (Dr.requester == officer.id),
        [_entry("disclosure.withdrawn", officer, request, now)],
    )


@dataclass(frozen=True, slots=True)
class Listed:
    id: int
    status: Status
    urgency: Urgency
    offence: Offence
    authority_name: str
    created_at: datetime
    submitted_at: datetime | None
    decide_by: datetime | None
    access_until: datetime | None
    overdue: bool
    access_open: bool


def _listed(row: dict[str, Any], names: dict[int, str], now: datetime) -> Listed:
    status = Status(row["status"])
    until = row["access_until"]
    return Listed(
        id=row["id"],
        status=status,
        urgency=Urgency(row["urgency"]),
        offence=Offence(row["offence"]),
        authority_name=names.get(row["local_authority"], ""),
        created_at=row["created_at"],
        submitted_at=row["submitted_at"],
        decide_by=row["decide_by"],
        access_until=until,
        overdue=status == Status.pending and row["decide_by"] is not None and now > row["decide_by"],
        access_open=status == Status.approved and until is not None and now < until,
    )


async def authority_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await LocalAuthority.select(LocalAuthority.id, LocalAuthority.name).where(
        LocalAuthority.id.is_in(sorted(ids))
    )
    return {r["id"]: r["name"] for r in rows}


_LISTED_COLUMNS = (
    Dr.id,
    Dr.status,
    Dr.urgency,
    Dr.offence,
    Dr.local_authority,
    Dr.created_at,
    Dr.submitted_at,
    Dr.decide_by,
    Dr.access_until,
)


async def officers_requests(officer_id: int, now: datetime) -> list[Listed]:
    """The officer's own requests, newest first (unsent, withdrawn and lapsed drafts too)."""
    rows = (
        await Dr.select(*_LISTED_COLUMNS)
        .where(Dr.requester == officer_id)
        .order_by(Dr.created_at, ascending=False)
        .limit(200)
        .run()
    )
    names = await authority_names({r["local_authority"] for r in rows})
    return [_listed(r, names, now) for r in rows]


async def open_record(
    keyring: Keyring, officer: Actor, request: RequestView, now: datetime, quota: Quota
) -> access.RecordView:
    """The one record an approved request opens, to its requester, while the access lasts and
    the child stays in the authority that approved it:
    audited as ``disclosure.record_viewed`` against the request. The grant is checked again in
    the same write unit as the audit row, so a revocation or expiry a moment before shows
    nothing (:class:`access.AccessEndedError`)."""
    if request.requester_id != officer.id or not request.access_open(now):
        raise access.AccessEndedError()
    granted = Dr.select(Dr.id).where(
        (Dr.id == request.id)
        & (Dr.requester == officer.id)
        & (Dr.status == Status.approved.value)
        & (Dr.access_until > now)
    )
    if isinstance(Dr._meta.db, PostgresEngine):
        # Held until the view commits: a revocation waits for it, and a revocation already
        # made is seen (SQLite's single writer serialises the two anyway).
        granted = granted.lock_rows("SHARE")

    async def still_allowed(tx: Tx) -> bool:
        return bool(await tx.run(granted)) and bool(await tx.run(_still_theirs(request)))

    return await access.open_record(
        keyring,
        request.child_id,
        officer,
        "police_disclosure",
        now,
        quota,
        action="disclosure.record_viewed",
        subjects=(request.subject,),
        still_allowed=still_allowed,
    )


# The approver's side


def may_decide(approver: Actor, request: RequestView) -> bool:
    """Two people, two organisations: an approver of the child's authority who is neither the
    requester nor of the requester's force."""
    return (
        approver.role == "disclosure_approver"
        and approver.authority_id == request.authority_id
        and approver.id != request.requester_id
        and approver.organisation_id != request.force_id
    )


def _decider(approver: Actor) -> And:
    """The same rule as :func:`may_decide`, for the guarded UPDATE."""
    return (
        (Dr.local_authority == approver.authority_id)
        & (Dr.requester != approver.id)
        & (Dr.force != approver.organisation_id)
    )


@dataclass(frozen=True, slots=True)
class Queue:
    undecided: list[Listed]  # urgent first, then by deadline
    decided: list[Listed]  # newest first


async def queue(approver: Actor, now: datetime) -> Queue:
    """The requests of the approver's authority they may decide (none from their own
    organisation)."""
    theirs = (Dr.local_authority == approver.authority_id) & (Dr.force != approver.organisation_id)
    pending = await Dr.select(*_LISTED_COLUMNS).where(theirs & (Dr.status == Status.pending.value)).run()
    decided = (
        await Dr.select(*_LISTED_COLUMNS)
        .where(theirs & Dr.status.is_in([Status.approved.value, Status.refused.value, Status.revoked.value]))
        .order_by(Dr.decided_at, ascending=False)
        .limit(RECENT_DECISIONS)
        .run()
    )
    names = await authority_names({approver.authority_id or 0})
    undecided = sorted(
        (_listed(r, names, now) for r in pending),
        key=lambda item: (item.urgency != Urgency.urgent, item.decide_by or now, item.id),
    )
    return Queue(undecided, [_listed(r, names, now) for r in decided])


async def record_viewed(approver: Actor, request: RequestView, now: datetime) -> None:
    """Audit an approver looking at a sent request and the minimal view of its child."""
    await audit.record_many([_entry("disclosure.request_viewed", approver, request, now)])


async def approve(
    approver: Actor, request: RequestView, note: str, now: datetime, hours: int, keyring: Keyring
) -> None:
    """Approve a waiting request: its requester may open the record for ``hours``."""
    if not may_decide(approver, request):
        raise StepRefusedError(str(request.id))
    until = now + timedelta(hours=hours)
    await _step(
        request,
        {
            Dr.status: Status.approved.value,
            Dr.decided_by: approver.id,
            Dr.decided_at: now,
            Dr.decision_reason: APPROVAL_REASON,
            Dr.decision_note: _seal_note(keyring, request.id, note),
            Dr.access_until: until,
        },
        (Dr.status == Status.pending.value) & _decider(approver),
        [_entry("disclosure.approved", approver, request, now, detail={"hours": hours})],
        child_still_theirs=True,
    )


async def refuse(
    approver: Actor, request: RequestView, reason: RefusalReason, note: str, now: datetime, keyring: Keyring
) -> None:
    if not may_decide(approver, request):
        raise StepRefusedError(str(request.id))
    await _step(
        request,
        {
            Dr.status: Status.refused.value,
            Dr.decided_by: approver.id,
            Dr.decided_at: now,
            Dr.decision_reason: reason.value,
            Dr.decision_note: _seal_note(keyring, request.id, note),
        },
        (Dr.status == Status.pending.value) & _decider(approver),
        [
            _entry(
                "disclosure.refused", approver, request, now, outcome="refused", detail={"why": reason.value}
            )
        ],
    )


def _seal_note(keyring: Keyring, request_id: int, note: str) -> bytes:
    return keyring.encrypt(f"{_TABLE}.decision_note", request_id, note)


async def revoke(approver: Actor, request: RequestView, reason: RevokeReason, now: datetime) -> None:
    """End an approved access before its time."""
    if not may_decide(approver, request):
        raise StepRefusedError(str(request.id))
    await _step(
        request,
        {
            Dr.status: Status.revoked.value,
            Dr.revoked_by: approver.id,
            Dr.revoked_at: now,
            Dr.revoke_reason: reason.value,
        },
        (Dr.status == Status.approved.value) & (Dr.access_until > now) & _decider(approver),
        [_entry("disclosure.revoked", approver, request, now, detail={"why": reason.value})],
    )


async def record_exemption(
    approver: Actor, request: RequestView, review_on: date | None, now: datetime
) -> None:
    """Keep the request out of the child's subject access answer until ``review_on`` (None:
    lift the exemption now)."""
    if not may_decide(approver, request) or request.submitted_at is None:
        raise StepRefusedError(str(request.id))
    if review_on is None:
        changes: dict[Any, Any] = {Dr.exemption: None, Dr.exempt_until: None}
        entry = _entry("disclosure.exemption_lifted", approver, request, now)
    else:
        changes = {Dr.exemption: EXEMPTION, Dr.exempt_until: review_on}
        entry = _entry("disclosure.exemption_recorded", approver, request, now)
    await _step(request, changes, Dr.submitted_at.is_not_null() & _decider(approver), [entry])


def _left_out(child_id: int, today: date) -> Any:
    return (Dr.child_id == child_id) & (
        Dr.status.is_in([s.value for s in UNDECIDED])
        | (Dr.exemption.is_not_null() & (Dr.exempt_until > today))
    )


async def exempt_subjects(child_id: int, today: date) -> frozenset[str]:
    """The child's disclosure requests left out of subject access today, as audit subjects:
    every undecided one (a draft, withdrawn or lapsed draft, or a request waiting for a
    decision), and every one under an exemption whose review date is still to come."""
    rows = await Dr.select(Dr.id).where(_left_out(child_id, today))
    return frozenset(f"disclosure:{r['id']}" for r in rows)


@dataclass(frozen=True, slots=True)
class LeftOut:
    why: str
    until: date | None  # the review date of an exemption; None while undecided


async def exemptions(child_id: int, today: date) -> dict[str, LeftOut]:
    """The same, with why and until when (for the privacy officer's view of the access list)."""
    rows = await Dr.select(Dr.id, Dr.status, Dr.exempt_until, Dr.exemption).where(_left_out(child_id, today))
    return {
        f"disclosure:{r['id']}": LeftOut(EXEMPTION_LABEL, r["exempt_until"])
        if r["exemption"] is not None and r["exempt_until"] is not None and r["exempt_until"] > today
        else LeftOut("a police disclosure request not decided, or never sent", None)
        for r in rows
    }


# Background work


async def raise_overdue(now: datetime) -> int:
    """Alert the privacy officer of the child's authority, once, for each sent request still
    undecided after its deadline; audited as ``alert.raised``. Returns how many were raised."""
    overdue = await Dr.select(Dr.id, Dr.local_authority).where(
        (Dr.status == Status.pending.value) & (Dr.decide_by < now)
    )
    keys = [f"{alerts.AlertKind.disclosure_overdue.value}:{r['id']}" for r in overdue]
    alerted = (
        {r["dedupe_key"] for r in await Alert.select(Alert.dedupe_key).where(Alert.dedupe_key.is_in(keys))}
        if keys
        else set()
    )
    rows = [r for r, key in zip(overdue, keys, strict=True) if key not in alerted]
    raised = 0
    for row in rows:
        authority = row["local_authority"]

        async def unit(tx: Tx, request_id: int = row["id"], authority: int = authority) -> bool:
            if not await alerts.raise_alert(
                alerts.AlertKind.disclosure_overdue,
                authority_id=authority,
                at=now,
                dedupe_key=str(request_id),
                tx=tx,
            ):
                return False
            await audit.append(
                tx,
                [
                    Entry(
                        "alert.raised",
                        Actor("system", authority_id=authority),
                        now,
                        subjects=(f"disclosure:{request_id}",),
                        detail={"kind": alerts.AlertKind.disclosure_overdue.value},
                    )
                ],
            )
            return True

        raised += await audit.write(unit)
    return raised


async def lapse_drafts(now: datetime) -> int:
    """Drafts not sent within :data:`DRAFT_LIFETIME` lapse (kept, and audited: the match each
    made is an access to the child's identifiers). Returns how many lapsed."""

    async def unit(tx: Tx) -> int:
        lapsed = await tx.run(
            Dr.update({Dr.status: Status.lapsed.value})
            .where((Dr.status == Status.draft.value) & (Dr.created_at < now - DRAFT_LIFETIME))
            .returning(Dr.id, Dr.child_id, Dr.local_authority)
        )
        await audit.append(
            tx,
            [
                Entry(
                    "disclosure.lapsed",
                    Actor("system", authority_id=r["local_authority"]),
                    now,
                    child_id=r["child_id"],
                    child_authority_id=r["local_authority"],
                    subjects=(f"disclosure:{r['id']}",),
                )
                for r in lapsed
            ],
        )
        return len(lapsed)

    return await audit.write(unit)


# Public figures


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: date  # its first day
    authority: str
    requests: int
    approved: int
    refused: int
    median_hours: float | None  # from sending to decision, of the decided ones


async def figures(today: date, months: int = 12) -> list[MonthFigures]:
    """The last ``months`` complete months (UK dates), newest first, by the child's local
    authority: requests sent that month; approvals (revoked ones included) and refusals decided
    that month, and the median time from sending to decision of those decisions.

    Only complete months, each counted by when its events happened, are shown: a published
    row never changes, so an officer watching the page cannot tell from a count that moves
    which authority their own request went to, or when it was refused."""
    this_month = date(today.year, today.month, 1)
    first = this_month
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    since = datetime(first.year, first.month, 1, tzinfo=UTC) - timedelta(days=1)  # UK is UTC+0 or +1
    rows = await Dr.select(Dr.local_authority, Dr.submitted_at, Dr.decided_at, Dr.status).where(
        (Dr.submitted_at >= since) | (Dr.decided_at >= since)
    )
    names = await authority_names({r["local_authority"] for r in rows})
    counts: dict[tuple[date, str], list[int]] = {}  # requests, approved, refused
    hours: dict[tuple[date, str], list[float]] = {}

    def published(moment: datetime) -> date | None:
        month = uk_date(moment).replace(day=1)
        return month if first <= month < this_month else None

    for row in rows:
        authority = names.get(row["local_authority"], "")
        sent = published(row["submitted_at"]) if row["submitted_at"] is not None else None
        if sent is not None:
            counts.setdefault((sent, authority), [0, 0, 0])[0] += 1
        decided = published(row["decided_at"]) if row["decided_at"] is not None else None
        if decided is not None:
            tally = counts.setdefault((decided, authority), [0, 0, 0])
            tally[1 if row["status"] in (Status.approved.value, Status.revoked.value) else 2] += 1
            waited = (row["decided_at"] - row["submitted_at"]).total_seconds() / 3600
            hours.setdefault((decided, authority), []).append(waited)
    table = [
        MonthFigures(
            month=month,
            authority=authority,
            requests=tally[0],
            approved=tally[1],
            refused=tally[2],
            median_hours=round(statistics.median(hours[key]), 1)
            if (key := (month, authority)) in hours
            else None,
        )
        for (month, authority), tally in counts.items()
    ]
    return sorted(table, key=lambda f: (-f.month.toordinal(), f.authority))
