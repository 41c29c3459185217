"""Subject access requests, from the citizen's form to the privacy officer's release.

A request is stored without looking for the child: matching is the officer's job, so the
citizen's page cannot tell whether a record exists. Every step the officer takes is a write
unit that changes the request only from the state the step expects (``UPDATE ... WHERE status
... RETURNING``) and appends its audit row in the same transaction.

On release Signpost makes a one-time access code (80 bits, stored as argon2id, valid 30 days).
Five wrong tries at the response page lock the pack until an officer issues a new code.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from hashlib import sha256
from typing import Any

from piccolo.columns.combination import And, Where

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.crypto.keyring import Keyring
from app.database import Tx
from app.identity.service import canonical_code, code_matches, hash_code, new_enrolment_code
from app.records.ids import ALPHABET, row_ids
from app.records.schemas import Address, ChildRecord
from app.records.service import decode_address, encode_address, find_by_name_and_birth_date
from app.records.tables import Child, LocalAuthority
from app.search import counters
from app.subject_access.codes import (
    OPEN_STATUSES,
    ExtensionReason,
    IdentityMethod,
    RequesterKind,
    Status,
)
from app.subject_access.deadlines import MAX_EXTENSION_MONTHS, due_date, uk_date
from app.subject_access.tables import SubjectAccessRequest as Sar

CODE_LIFETIME = timedelta(days=30)
MAX_WRONG_CODES = 5
COMPETENCE_AGE = 12
DUE_SOON = timedelta(days=7)
REFERENCE_SYMBOLS = 10  # 50 bits: not a secret (the code is), but not guessable either
_TABLE = "subject_access_request"
_CONFUSABLE = str.maketrans("OIL", "011")


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A request as the citizen's form gives it, validated."""

    authority_id: int
    requester_kind: RequesterKind
    requester_name: str
    requester_address: Address
    child_given_name: str
    child_family_name: str
    child_date_of_birth: date
    child_postcode: str | None


@dataclass(frozen=True, slots=True)
class Receipt:
    reference: str
    received_on: date
    due_on: date
    authority_name: str


def new_reference() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(REFERENCE_SYMBOLS))


def format_reference(reference: str) -> str:
    return f"{reference[:5]}-{reference[5:]}"


def parse_reference(text: str) -> str | None:
    """A reference as typed (any case, with or without spaces and hyphens), or None."""
    canonical = canonical_code(text[:40]).translate(_CONFUSABLE)
    if len(canonical) != REFERENCE_SYMBOLS or any(ch not in ALPHABET for ch in canonical):
        return None
    return canonical


def client_key(keyring: Keyring, host: str) -> str:
    """What the per-client rate limit counts: a keyed hash of the address, never the address."""
    key = keyring.mac_key(keyring.active_version, "subject-access-client")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and address.version == 6:  # one client holds a whole /64
        host = str(ipaddress.ip_network(f"{address}/64", strict=False))
    return hmac.new(key, host.encode("utf-8"), sha256).hexdigest()[:24]


async def use_client_allowance(client: str, purpose: str, limit: int, now: datetime) -> bool:
    """Count one use of ``purpose`` by this client in the current hour; whether it is allowed."""
    label, ends = counters.window(now, hourly=True)

    async def unit(tx: Tx) -> int:
        return await counters.add(tx, f"sar-{purpose}:{client}:{label}", ends)

    return await audit.write(unit) <= limit


def retry_after(now: datetime) -> int:
    _, ends = counters.window(now, hourly=True)
    return max(1, int((ends - now).total_seconds()))


async def submit(keyring: Keyring, request: NewRequest, now: datetime) -> Receipt:
    """Store the request and audit its receipt. Looks at no child record, on purpose."""
    row_id = row_ids.next()
    version = keyring.active_version
    received_on = uk_date(now)
    due_on = due_date(received_on)
    reference = new_reference()

    def seal(column: str, value: str) -> bytes:
        return keyring.encrypt(f"{_TABLE}.{column}", row_id, value, version)

    address = encode_address(request.requester_address) or ""
    row = Sar(
        id=row_id,
        reference=reference,
        local_authority=request.authority_id,
        requester_kind=request.requester_kind.value,
        requester_name=seal("requester_name", request.requester_name),
        requester_address=seal("requester_address", address),
        child_given_name=seal("child_given_name", request.child_given_name),
        child_family_name=seal("child_family_name", request.child_family_name),
        child_date_of_birth=seal("child_date_of_birth", request.child_date_of_birth.isoformat()),
        child_postcode=seal("child_postcode", request.child_postcode) if request.child_postcode else None,
        received_at=now,
        received_on=received_on,
        status=Status.received.value,
        due_on=due_on,
        key_version=version,
    )
    entry = Entry(
        "sar.received",
        Actor("citizen", authority_id=request.authority_id),
        now,
        subjects=(f"subject_access:{row_id}",),
        detail={"requester": request.requester_kind.value},
    )

    async def unit(tx: Tx) -> None:
        await tx.run(Sar.insert(row))
        await audit.append(tx, [entry])

    await audit.write(unit)
    return Receipt(reference, received_on, due_on, await authority_name(request.authority_id))


# The officer's side


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: int
    reference: str
    requester_kind: RequesterKind
    received_on: date
    due_on: date
    status: Status
    overdue: bool
    due_soon: bool


def _queue_item(row: dict[str, Any], today: date) -> QueueItem:
    status = Status(row["status"])
    is_open = status == Status.received  # a paused request's clock is stopped: never overdue
    return QueueItem(
        id=row["id"],
        reference=format_reference(row["reference"]),
        requester_kind=RequesterKind(row["requester_kind"]),
        received_on=row["received_on"],
        due_on=row["due_on"],
        status=status,
        overdue=is_open and row["due_on"] < today,
        due_soon=is_open and today <= row["due_on"] <= today + DUE_SOON,
    )


async def queue(
    authority_id: int, today: date, answered: int = 20
) -> tuple[list[QueueItem], list[QueueItem]]:
    """The authority's open requests, soonest deadline first, and the latest answered ones."""
    columns = (Sar.id, Sar.reference, Sar.requester_kind, Sar.received_on, Sar.due_on, Sar.status)
    open_rows = (
        await Sar.select(*columns)
        .where((Sar.local_authority == authority_id) & Sar.status.is_in([s.value for s in OPEN_STATUSES]))
        .order_by(Sar.due_on)
        .order_by(Sar.received_at)
        .run()
    )
    done_rows = (
        await Sar.select(*columns)
        .where((Sar.local_authority == authority_id) & Sar.status.not_in([s.value for s in OPEN_STATUSES]))
        .order_by(Sar.answered_at, ascending=False)
        .limit(answered)
        .run()
    )
    return [_queue_item(r, today) for r in open_rows], [_queue_item(r, today) for r in done_rows]


@dataclass(frozen=True, slots=True)
class RequestView:
    """One request as its officer sees it, decrypted."""

    id: int
    reference: str
    authority_id: int
    requester_kind: RequesterKind
    requester_name: str
    requester_address: Address | None
    child_given_name: str
    child_family_name: str
    child_date_of_birth: date
    child_postcode: str | None
    received_on: date
    due_on: date
    status: Status
    extension_months: int
    extension_reason: ExtensionReason | None
    paused_on: date | None
    paused_days: int
    child_id: int | None
    no_record: bool
    identity_method: IdentityMethod | None
    identity_checked_on: date | None
    child_competent: bool | None
    child_agrees: bool | None
    answered_at: datetime | None
    code_expires_at: datetime | None
    failed_codes: int

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def locked(self) -> bool:
        return self.failed_codes >= MAX_WRONG_CODES

    @property
    def subject(self) -> str:
        return f"subject_access:{self.id}"


def _decrypt(keyring: Keyring, row: dict[str, Any], column: str) -> str | None:
    blob = row[column]
    return None if blob is None else keyring.decrypt(f"{_TABLE}.{column}", row["id"], bytes(blob))


async def load(keyring: Keyring, request_id: int, authority_id: int) -> RequestView | None:
    """The request, if it is this authority's."""
    rows = await Sar.select().where((Sar.id == request_id) & (Sar.local_authority == authority_id)).run()
    if not rows:
        return None
    row = rows[0]
    return RequestView(
        id=row["id"],
        reference=format_reference(row["reference"]),
        authority_id=row["local_authority"],
        requester_kind=RequesterKind(row["requester_kind"]),
        requester_name=_decrypt(keyring, row, "requester_name") or "",
        requester_address=decode_address(_decrypt(keyring, row, "requester_address")),
        child_given_name=_decrypt(keyring, row, "child_given_name") or "",
        child_family_name=_decrypt(keyring, row, "child_family_name") or "",
        child_date_of_birth=date.fromisoformat(_decrypt(keyring, row, "child_date_of_birth") or ""),
        child_postcode=_decrypt(keyring, row, "child_postcode"),
        received_on=row["received_on"],
        due_on=row["due_on"],
        status=Status(row["status"]),
        extension_months=row["extension_months"],
        extension_reason=ExtensionReason(row["extension_reason"]) if row["extension_reason"] else None,
        paused_on=row["paused_on"],
        paused_days=row["paused_days"],
        child_id=row["child_id"],
        no_record=bool(row["no_record"]),
        identity_method=IdentityMethod(row["identity_method"]) if row["identity_method"] else None,
        identity_checked_on=row["identity_checked_on"],
        child_competent=row["child_competent"],
        child_agrees=row["child_agrees"],
        answered_at=row["answered_at"],
        code_expires_at=row["code_expires_at"],
        failed_codes=row["failed_codes"],
    )


async def candidates(keyring: Keyring, request: RequestView) -> list[ChildRecord]:
    """Records of the officer's authority with the family name (current or former) and date of
    birth the requester gave: what the officer chooses the match from."""
    found = await find_by_name_and_birth_date(keyring, request.child_family_name, request.child_date_of_birth)
    return [r for r in found if r.details.local_authority_id == request.authority_id]


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def needs_competence(request: RequestView, child_born: date | None, today: date) -> bool:
    """A parent's request about a child of 12 or over: the officer records whether the child is
    competent and, if so, whether they agree to the parent receiving the answer."""
    return (
        request.requester_kind == RequesterKind.parent_carer
        and child_born is not None
        and age_on(child_born, today) >= COMPETENCE_AGE
    )


def release_blockers(request: RequestView, child_born: date | None, today: date) -> list[str]:
    """What still stands between the request and its release, in plain words (none: ready)."""
    blockers = []
    if request.child_id is not None and child_born is None:
        blockers.append("The matched record no longer exists: match again, or confirm that none matches")
    if request.status == Status.paused:
        blockers.append("The request is paused for clarification: restart the clock first")
    if request.child_id is None and not request.no_record:
        blockers.append("Match the request to a record, or confirm that no record matches")
    if request.identity_method is None:
        blockers.append("Record how the requester's identity was checked")
    if needs_competence(request, child_born, today):
        if request.child_competent is None:
            blockers.append("Record whether the child is competent to decide")
        elif request.child_competent and request.child_agrees is None:
            blockers.append("Record whether the child agrees to their parent or carer receiving it")
        elif request.child_competent and request.child_agrees is False:
            blockers.append("The child does not agree: answer without the pack")
    return blockers


class StepRefusedError(Exception):
    """The request is not in a state that allows the step (answered, paused, or changed since)."""


async def _step(
    request: RequestView,
    changes: dict[Any, Any],
    condition: Where | And,
    entry: Entry,
) -> None:
    """Apply ``changes`` to the request if ``condition`` still holds, with ``entry``, in one unit."""

    async def unit(tx: Tx) -> bool:
        changed = await tx.run(
            Sar.update(changes).where((Sar.id == request.id) & condition).returning(Sar.id)
        )
        if not changed:
            return False
        await audit.append(tx, [entry])
        return True

    if not await audit.write(unit):
        raise StepRefusedError(request.reference)


def _open() -> Where:
    return Sar.status.is_in([s.value for s in OPEN_STATUSES])


def _entry(
    action: str,
    officer: Actor,
    request: RequestView,
    now: datetime,
    child_id: int | None = None,
    detail: dict[str, int | str | bool] | None = None,
) -> Entry:
    child = child_id if child_id is not None else request.child_id
    return Entry(
        action,
        officer,
        now,
        child_id=child,
        child_authority_id=request.authority_id if child is not None else None,
        subjects=(request.subject,),
        detail=detail,
    )


async def record_viewed(officer: Actor, request: RequestView, shown: list[int], now: datetime) -> None:
    """Audit an officer looking at a request, and each record shown to them as a possible match
    (in that child's own trail, as a search result is)."""
    entries = [_entry("sar.viewed", officer, request, now)]
    entries += [_entry("sar.candidate_shown", officer, request, now, child_id=c) for c in shown]
    await audit.record_many(entries)


async def match(officer: Actor, request: RequestView, child_id: int | None, now: datetime) -> None:
    """Match the request to ``child_id`` (one of the candidates), or, with None, record that no
    record of the authority matches."""
    if child_id is None:
        await _step(
            request,
            {Sar.child_id: None, Sar.no_record: True},
            _open(),
            _entry("sar.no_match", officer, request, now, child_id=None),
        )
        return
    await _step(
        request,
        {Sar.child_id: child_id, Sar.no_record: False, Sar.child_competent: None, Sar.child_agrees: None},
        _open(),
        _entry("sar.matched", officer, request, now, child_id=child_id),
    )


async def record_identity(
    officer: Actor, request: RequestView, method: IdentityMethod, checked_on: date, now: datetime
) -> None:
    await _step(
        request,
        {Sar.identity_method: method.value, Sar.identity_checked_on: checked_on},
        _open(),
        _entry("sar.identity_verified", officer, request, now, detail={"method": method.value}),
    )


async def record_competence(
    officer: Actor, request: RequestView, competent: bool, agrees: bool | None, now: datetime
) -> None:
    detail: dict[str, int | str | bool] = {"competent": competent}
    if competent and agrees is not None:
        detail["agrees"] = agrees
    await _step(
        request,
        {Sar.child_competent: competent, Sar.child_agrees: agrees if competent else None},
        _open() & (Sar.child_id == request.child_id),
        _entry("sar.competence_recorded", officer, request, now, detail=detail),
    )


async def extend(
    officer: Actor, request: RequestView, months: int, reason: ExtensionReason, now: datetime
) -> None:
    """Extend to ``months`` further months in all (one or two), with a reason the requester is
    told by letter."""
    today = uk_date(now)
    if (
        not 1 <= months <= MAX_EXTENSION_MONTHS
        or months <= request.extension_months
        or today > request.due_on
    ):
        raise StepRefusedError(request.reference)
    due_on = due_date(request.received_on, extension_months=months, paused_days=request.paused_days)
    await _step(
        request,
        {Sar.extension_months: months, Sar.extension_reason: reason.value, Sar.due_on: due_on},
        (Sar.status == Status.received.value)
        & (Sar.extension_months == request.extension_months)
        & (Sar.paused_days == request.paused_days)
        & (Sar.due_on >= today),
        _entry("sar.extended", officer, request, now, detail={"months": months, "reason": reason.value}),
    )


async def pause(officer: Actor, request: RequestView, now: datetime) -> None:
    await _step(
        request,
        {Sar.status: Status.paused.value, Sar.paused_on: uk_date(now)},
        Sar.status == Status.received.value,
        _entry("sar.paused", officer, request, now),
    )


async def resume(officer: Actor, request: RequestView, now: datetime) -> None:
    """Restart the clock: the days it stood still are added to the deadline."""
    if request.paused_on is None:
        raise StepRefusedError(request.reference)
    days = request.paused_days + max(0, (uk_date(now) - request.paused_on).days)
    due_on = due_date(request.received_on, extension_months=request.extension_months, paused_days=days)
    await _step(
        request,
        {Sar.status: Status.received.value, Sar.paused_on: None, Sar.paused_days: days, Sar.due_on: due_on},
        (Sar.status == Status.paused.value)
        & (Sar.paused_on == request.paused_on)
        & (Sar.extension_months == request.extension_months),
        _entry("sar.resumed", officer, request, now, detail={"paused_days": days}),
    )


async def release(officer: Actor, request: RequestView, now: datetime, *, reissue: bool = False) -> str:
    """Answer the request (or, with ``reissue``, replace the code of an answered one): a new
    one-time access code, returned here once and stored only as its hash."""
    code = new_enrolment_code()
    code_hash = await hash_code(code)
    changes: dict[Any, Any] = {
        Sar.code_hash: code_hash,
        Sar.code_expires_at: now + CODE_LIFETIME,
        Sar.failed_codes: 0,
    }
    if reissue:
        condition: Where | And = Sar.status == Status.released.value
        action = "sar.code_reissued"
    else:
        changes |= {Sar.status: Status.released.value, Sar.answered_at: now}
        condition = (Sar.status == Status.received.value) & _as_checked(request)
        action = "sar.released"
    await _step(request, changes, condition, _entry(action, officer, request, now))
    return code


def _as_checked(request: RequestView) -> Where | And:
    """The request still as the officer saw it when they released it: the same match, identity
    check and child's view (another officer may have changed them meanwhile)."""
    condition: Any = Sar.identity_method.is_not_null() & (Sar.no_record == request.no_record)
    for column, value in (
        (Sar.child_id, request.child_id),
        (Sar.child_competent, request.child_competent),
        (Sar.child_agrees, request.child_agrees),
    ):
        condition &= column.is_null() if value is None else column == value
    return condition  # type: ignore[no-any-return]


async def refuse(officer: Actor, request: RequestView, now: datetime) -> None:
    """Answer a parent without the pack: the competent child did not agree."""
    await _step(
        request,
        {Sar.status: Status.refused.value, Sar.answered_at: now},
        (Sar.status == Status.received.value)
        & (Sar.requester_kind == RequesterKind.parent_carer.value)
        & (Sar.child_competent == True)  # noqa: E712
        & (Sar.child_agrees == False),  # noqa: E712
        _entry("sar.refused", officer, request, now, detail={"why": "child_did_not_agree"}),
    )


# The requester's side


class PackRefusedError(Exception):
    """The reference, code and date of birth do not open a pack. ``locked``: five wrong tries
    have locked it; ``expired``: the right code, but too late."""

    def __init__(self, *, locked: bool = False, expired: bool = False, authority: str = "") -> None:
        super().__init__("locked" if locked else "expired" if expired else "refused")
        self.locked = locked
        self.expired = expired
        self.authority = authority


@functools.cache
def _decoy_hash() -> str:
    from app.identity.service import _hasher  # the same parameters as every real code

    return _hasher.hash(new_enrolment_code())


async def _decoy_verify(code: str) -> None:
    """The work a real check does, for a reference that opens nothing (the same timing class)."""
    decoy = await asyncio.to_thread(_decoy_hash)
    await code_matches(decoy, code)


@dataclass(frozen=True, slots=True)
class Opened:
    """A request whose pack the requester has just opened."""

    request_id: int
    authority_id: int
    child_id: int | None


async def open_pack(keyring: Keyring, reference_text: str, code: str, born: date, now: datetime) -> Opened:
    """Check the reference, code and the child's date of birth as the requester gave it.

    A try is taken from the pack's five before the code is checked (one ``UPDATE ... WHERE
    failed_codes < 5``), so tries made at once cannot get past the lock; a right answer gives it
    back. The fifth wrong try locks the pack and alerts the authority's privacy officer. A
    reference that opens nothing gets the same argon2 work and an audited refusal, like a real
    one."""
    reference = parse_reference(reference_text)
    rows = (
        await Sar.select().where((Sar.reference == reference) & (Sar.status == Status.released.value)).run()
        if reference
        else []
    )
    if not rows or rows[0]["code_hash"] is None:
        await _decoy_verify(code)
        await audit.record("sar.code_failed", audit.anonymous(), at=now, outcome="refused")
        raise PackRefusedError()
    row = rows[0]
    authority = await authority_name(row["local_authority"])
    citizen = Actor("citizen", authority_id=row["local_authority"])
    subject = (f"subject_access:{row['id']}",)

    async def take_a_try(tx: Tx) -> int:
        """Which of the five tries this is (0: none is left)."""
        taken = await tx.run(
            Sar.update({Sar.failed_codes: Sar.failed_codes + 1})
            .where((Sar.id == row["id"]) & (Sar.failed_codes < MAX_WRONG_CODES))
            .returning(Sar.failed_codes)
        )
        return int(taken[0]["failed_codes"]) if taken else 0

    this_try = await audit.write(take_a_try)
    if not this_try:
        await _decoy_verify(code)
        raise PackRefusedError(locked=True, authority=authority)
    right = await code_matches(row["code_hash"], code)
    right = right and _decrypt(keyring, row, "child_date_of_birth") == born.isoformat()
    child_id = row["child_id"]
    if right:
        expired = now > row["code_expires_at"]
        entry = Entry(
            "sar.code_expired" if expired else "sar.pack_viewed",
            citizen,
            now,
            child_id=None if expired else child_id,
            child_authority_id=row["local_authority"] if child_id and not expired else None,
            subjects=subject,
            outcome="refused" if expired else "success",
        )

        async def give_it_back(tx: Tx) -> None:
            await tx.run(Sar.update({Sar.failed_codes: Sar.failed_codes - 1}).where(Sar.id == row["id"]))
            await audit.append(tx, [entry])

        await audit.write(give_it_back)
        if expired:
            raise PackRefusedError(expired=True, authority=authority)
        return Opened(row["id"], row["local_authority"], child_id)

    async def count_the_failure(tx: Tx) -> None:
        entries = [Entry("sar.code_failed", citizen, now, subjects=subject, outcome="refused")]
        if this_try == MAX_WRONG_CODES:  # the last try: lock, once
            entries.append(Entry("sar.locked", citizen, now, subjects=subject, outcome="refused"))
            await alerts.raise_alert(
                alerts.AlertKind.subject_access_locked,
                authority_id=row["local_authority"],
                at=now,
                dedupe_key=f"sar-locked:{row['id']}:{now.isoformat()}",
                tx=tx,
            )
        await audit.append(tx, entries)

    await audit.write(count_the_failure)
    raise PackRefusedError(locked=this_try >= MAX_WRONG_CODES, authority=authority)


# Public figures


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: date  # its first day
    received: int
    answered_in_time: int
    extended: int
    overdue: int


async def figures(today: date, months: int = 12) -> list[MonthFigures]:
    """Requests received in each of the last ``months`` months (newest first): how many, how
    many were answered by their deadline, how many were extended, and how many went past their
    deadline (still open after it, or answered late)."""
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    rows = (
        await Sar.select(
            Sar.received_on, Sar.due_on, Sar.answered_at, Sar.extension_months, Sar.status, Sar.paused_on
        )
        .where(Sar.received_on >= first)
        .run()
    )
    table: dict[date, list[int]] = {}
    month = first
    while month <= today:
        table[month] = [0, 0, 0, 0]
        month = (month + timedelta(days=32)).replace(day=1)
    for row in rows:
        counts = table.setdefault(row["received_on"].replace(day=1), [0, 0, 0, 0])
        counts[0] += 1
        answered_on = uk_date(row["answered_at"]) if row["answered_at"] is not None else None
        if answered_on is not None and answered_on <= row["due_on"]:
            counts[1] += 1
        if row["extension_months"]:
            counts[2] += 1
        due_on = row["due_on"]
        if row["status"] == Status.paused.value and row["paused_on"] is not None:
            due_on += today - row["paused_on"]  # the clock is stopped: the deadline moves with it
        late = answered_on > due_on if answered_on is not None else due_on < today
        if late:
            counts[3] += 1
    return [MonthFigures(m, *c) for m, c in sorted(table.items(), reverse=True)]


async def authorities() -> list[dict[str, Any]]:
    """Every local authority, by name: what the citizen's form offers."""
    return list(
        await LocalAuthority.select(LocalAuthority.id, LocalAuthority.name)
        .order_by(LocalAuthority.name)
        .run()
    )


async def authority_name(authority_id: int) -> str:
    rows = await LocalAuthority.select(LocalAuthority.name).where(LocalAuthority.id == authority_id).run()
    return str(rows[0]["name"]) if rows else ""


async def child_born(child_id: int | None, keyring: Keyring) -> date | None:
    if child_id is None:
        return None
    rows = await Child.select(Child.id, Child.date_of_birth).where(Child.id == child_id).run()
    if not rows:
        return None
    return date.fromisoformat(
        keyring.decrypt("child.date_of_birth", child_id, bytes(rows[0]["date_of_birth"]))
    )
