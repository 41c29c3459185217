"""The response pack (UK GDPR Art. 15): what Signpost holds about the child, why, from where, for
how long, who has looked at it, and the requester's rights. One structure feeds the printable
page and the JSON download, so the two always say the same thing.

Also the officer's side of the access list: entries withheld under a recorded exemption until a
review date, and lifted again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from app.api import on_behalf
from app.api.tables import ApiClient
from app.audit import service as audit
from app.audit.labels import ACTION_LABELS, REASON_LABELS
from app.audit.service import Actor, Entry
from app.audit.tables import AuditEntry, AuditWithholding
from app.consent.dates import eighteenth_birthday
from app.crypto.keyring import Keyring
from app.database import Tx
from app.disclosure import service as disclosure
from app.identity.service import ROLE_LABELS, Role, organisation_names
from app.records.codes import GENDER_LABELS, RELATIONSHIP_LABELS, SERVICE_TYPE_LABELS, RetentionState
from app.records.ids import format_signpost_id, row_ids
from app.records.schemas import Address, ChildDetails
from app.records.service import RecordNotFoundError, load_child
from app.records.tables import EducationSetting, GpPractice, LocalAuthority
from app.subject_access.codes import EXEMPTION_LABELS, REQUESTER_LABELS, Exemption, RequesterKind
from app.subject_access.deadlines import uk_date
from app.subject_access.service import Opened, RequestView, StepRefusedError
from app.subject_access.tables import SubjectAccessRequest as Sar

PURPOSES = (
    "To let people who work with a child (teachers, GPs, health visitors, social workers) find "
    "out who else is working with the child and how to contact them, so that they can work "
    "together to support and protect the child.",
)
LAWFUL_BASIS = (
    "UK GDPR Article 6(1)(e): a task carried out in the public interest, under section 12 of "
    "the Children Act 2004 (information databases about children).",
    "UK GDPR Article 9(2)(g) and the Data Protection Act 2018, Schedule 1, paragraph 18 "
    "(safeguarding of children): for the fact that a health or other sensitive service is "
    "involved with the child.",
)
CATEGORIES = (
    "The child's identifiers: Signpost ID, names and former names, date of birth, gender",
    "The child's current address",
    "Parents and carers with parental responsibility: names, relationship, telephone, address",
    "Education setting and GP practice, with their telephone numbers",
    "Services involved with the child: the practitioner's name, role and work contact details, "
    "and the dates of their involvement",
    "A record of every time someone looked at or changed the record",
)
RIGHTS = (
    (
        "Rectification",
        "If anything here is wrong, tell the local authority's Signpost team. They correct it "
        "and the change is recorded.",
    ),
    (
        "Erasure",
        "You can ask for the record to be deleted. Records are deleted on the 18th birthday "
        "unless the young person has chosen to keep theirs.",
    ),
    (
        "Restriction",
        "You can ask for the record to be restricted while a correction or an objection is being looked at.",
    ),
    (
        "Objection",
        "You can object to Signpost holding the record. The local authority must then show "
        "why it needs to keep it, or delete it.",
    ),
)
COMPLAINT = (
    "If you are unhappy with how your request or the record has been handled, you can complain "
    "to the Information Commissioner's Office (ICO): ico.org.uk/make-a-complaint, telephone "
    "0303 123 1113, or write to Information Commissioner's Office, Wycliffe House, Water Lane, "
    "Wilmslow, Cheshire SK9 5AF."
)

_ACTOR_ROLES = {
    "citizen": "The person who asked (this page)",
    "system": "Signpost",
    "operator": "Signpost's technical operators",
    "anonymous": "Someone not signed in",
}


@dataclass(frozen=True, slots=True)
class AccessLine:
    """One entry of the access list, as a citizen sees it: no practitioner's name."""

    seq: int
    at: datetime
    organisation: str
    role: str
    action: str
    reason: str
    #: Made for someone without Signpost access: their name, role and organisation.
    on_behalf_of: str = ""
    #: Made through an organisation's case-management system (the API): the system's name.
    through: str = ""


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    telephone: str
    start_date: date | None = None


@dataclass(frozen=True, slots=True)
class Pack:
    reference: str
    requester_kind: RequesterKind
    received_on: date
    answered_on: date | None
    authority: Contact
    authority_email: str
    held: bool  # Signpost holds a record about the child
    signpost_id: str | None
    record: ChildDetails | None  # None: none held, or left out to keep someone safe
    education: Contact | None
    gp: Contact | None
    left_out_for_safety: bool
    accesses: list[AccessLine]
    retention: str
    retention_date: date | None
    sources: list[str]


def _role(kind: str, role: str | None) -> str:
    if kind != "practitioner":
        return _ACTOR_ROLES.get(kind, kind)
    return ROLE_LABELS[Role(role)] if role is not None and role in Role.__members__ else ""


def _ids(entries: list[audit.AccessEntry], kind: str) -> set[int]:
    prefix = kind + ":"
    return {int(s[len(prefix) :]) for e in entries for s in e.subjects if s.startswith(prefix)}


async def access_lines(entries: list[audit.AccessEntry], keyring: Keyring | None = None) -> list[AccessLine]:
    """The citizen's lines; with ``keyring``, each names the person it was made for, if any."""
    names = await organisation_names({e.organisation_id for e in entries if e.organisation_id})
    people = await on_behalf.people(keyring, _ids(entries, "on_behalf")) if keyring else {}
    systems = {
        r["id"]: r["name"]
        for r in await ApiClient.select(ApiClient.id, ApiClient.name)
        .where(ApiClient.id.is_in(sorted(_ids(entries, "api_client")) or [0]))
        .run()
    }

    def behalf(entry: audit.AccessEntry) -> str:
        for subject in entry.subjects:
            kind, _, number = subject.partition(":")
            if kind == "on_behalf" and int(number) in people:
                person = people[int(number)]
                return f"{person.name}, {person.role}, {person.organisation}"
        return ""

    def through(entry: audit.AccessEntry) -> str:
        for subject in entry.subjects:
            kind, _, number = subject.partition(":")
            if kind == "api_client" and int(number) in systems:
                return str(systems[int(number)])
        return ""

    return [
        AccessLine(
            seq=e.seq,
            at=e.at,
            organisation=names.get(e.organisation_id, "") if e.organisation_id else "",
            role=_role(e.actor_kind, e.role),
            action=ACTION_LABELS.get(e.action, e.action),
            reason=REASON_LABELS.get(e.reason or "", ""),
            on_behalf_of=behalf(e),
            through=through(e),
        )
        for e in entries
    ]


def _retention(details: ChildDetails) -> tuple[str, date]:
    eighteen = eighteenth_birthday(details.date_of_birth)
    if details.retention_state == RetentionState.kept_with_consent and details.keep_until is not None:
        return (
            "Kept past the 18th birthday because the young person agreed, until the date they chose "
            "(at most their 25th birthday). They can withdraw their consent at any time.",
            details.keep_until,
        )
    if details.retention_state == RetentionState.consent_withdrawn:
        return "The young person withdrew their consent: the record is deleted within a day.", (
            details.keep_until or eighteen
        )
    return "Deleted on the child's 18th birthday, unless the young person agrees to keep it.", eighteen


async def build(keyring: Keyring, opened: Opened, today: date) -> Pack:
    """The pack of an opened request, as of today (withheld entries whose review date has come
    are shown)."""
    rows = await Sar.select().where(Sar.id == opened.request_id).run()
    row = rows[0]
    authority = (await LocalAuthority.select().where(LocalAuthority.id == opened.authority_id).run())[0]
    requester = RequesterKind(row["requester_kind"])
    record = None
    if opened.child_id is not None:
        try:
            record = await load_child(keyring, opened.child_id)
        except RecordNotFoundError:
            record = None  # deleted since the answer was released: nothing is held now
    base = {
        "reference": row["reference"],
        "requester_kind": requester,
        "received_on": row["received_on"],
        "answered_on": uk_date(row["answered_at"]) if row["answered_at"] else None,
        "authority": Contact(authority["name"], authority["team_telephone"]),
        "authority_email": authority["team_email"],
    }
    if record is None:
        # No record, or one deleted since: who looked at it while it existed is still held.
        trail = (
            await audit.citizen_view(
                opened.child_id, today, await disclosure.exempt_subjects(opened.child_id, today)
            )
            if opened.child_id is not None
            else []
        )
        return Pack(
            **base,
            held=False,
            signpost_id=None,
            record=None,
            education=None,
            gp=None,
            left_out_for_safety=False,
            accesses=await access_lines(trail, keyring),
            retention="",
            retention_date=None,
            sources=[],
        )
    details = record.details
    hidden = await disclosure.exempt_subjects(record.id, today)
    accesses = await access_lines(await audit.citizen_view(record.id, today, hidden), keyring)
    retention, retention_date = _retention(details)
    if details.shielded and requester == RequesterKind.parent_carer:
        # A shielded child may be hiding from a parent: the pack says a record is held and who
        # looked (when, in what role, why), but nothing that could lead to the child: no names
        # or Signpost ID, no address, school, GP or service, and no organisation.
        return Pack(
            **base,
            held=True,
            signpost_id=None,
            record=None,
            education=None,
            gp=None,
            left_out_for_safety=True,
            accesses=[replace(line, organisation="", on_behalf_of="", through="") for line in accesses],
            retention=retention,
            retention_date=retention_date,
            sources=[],
        )
    education = gp = None
    if details.education_setting_id is not None:
        found = (
            await EducationSetting.select().where(EducationSetting.id == details.education_setting_id).run()
        )
        education = (
            Contact(found[0]["name"], found[0]["telephone"], details.education_start_date) if found else None
        )
    if details.gp_practice_id is not None:
        found = await GpPractice.select().where(GpPractice.id == details.gp_practice_id).run()
        gp = Contact(found[0]["name"], found[0]["telephone"]) if found else None
    sources = [f"The {details.source} feed, which supplied the record"]
    if any(r is not None for r in record.involvement_recorders):
        sources.append("Practitioners who recorded their own involvement with the child in Signpost")
    return Pack(
        **base,
        held=True,
        signpost_id=format_signpost_id(record.signpost_id),
        record=details,
        education=education,
        gp=gp,
        left_out_for_safety=False,
        accesses=accesses,
        retention=retention,
        retention_date=retention_date,
        sources=sources,
    )


def _address(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {"lines": list(address.lines), "town": address.town, "postcode": address.postcode}


def document(pack: Pack) -> dict[str, Any]:
    """The pack as a JSON document (documented in docs/subject-access.md)."""
    held: dict[str, Any] | None = None
    if pack.record is not None:
        d = pack.record
        held = {
            "signpost_id": pack.signpost_id,
            "given_name": d.given_name,
            "family_name": d.family_name,
            "former_names": [
                {"given_name": f.given_name, "family_name": f.family_name} for f in d.former_names
            ],
            "date_of_birth": d.date_of_birth.isoformat(),
            "gender": GENDER_LABELS[d.gender],
            "address": _address(d.address),
            "carers": [
                {
                    "name": c.name,
                    "relationship": RELATIONSHIP_LABELS[c.relationship],
                    "telephone": c.telephone,
                    "address": _address(c.address),
                }
                for c in d.carers
            ],
            "education_setting": None
            if pack.education is None
            else {
                "name": pack.education.name,
                "telephone": pack.education.telephone,
                "start_date": pack.education.start_date.isoformat() if pack.education.start_date else None,
            },
            "gp_practice": None
            if pack.gp is None
            else {"name": pack.gp.name, "telephone": pack.gp.telephone},
            "services": [
                {
                    "service_name": i.service_name,
                    "service_type": SERVICE_TYPE_LABELS[i.service_type],
                    "practitioner_name": i.practitioner_name,
                    "role": i.role,
                    "telephone": i.telephone,
                    "email": i.email,
                    "start_date": i.start_date.isoformat(),
                    "end_date": i.end_date.isoformat() if i.end_date else None,
                    "lead_professional": i.lead_professional,
                    "assessment_undertaken": i.assessment_undertaken,
                }
                for i in d.involvements
            ],
            "shielded": d.shielded,
            "retention_state": d.retention_state.value,
        }
    return {
        "reference": pack.reference,
        "requester": REQUESTER_LABELS[pack.requester_kind],
        "received_on": pack.received_on.isoformat(),
        "answered_on": pack.answered_on.isoformat() if pack.answered_on else None,
        "controller": {
            "name": pack.authority.name,
            "telephone": pack.authority.telephone,
            "email": pack.authority_email,
        },
        "record_held": pack.held,
        "record": held,
        "details_left_out_for_safety": pack.left_out_for_safety,
        "purposes": list(PURPOSES),
        "lawful_basis": list(LAWFUL_BASIS),
        "categories": list(CATEGORIES) if pack.held else [],
        "recipients": [
            {
                "date": line.at.isoformat(),
                "organisation": line.organisation,
                "role": line.role,
                "action": line.action,
                "reason": line.reason,
                "on_behalf_of": line.on_behalf_of or None,
                "through_system": line.through or None,
            }
            for line in pack.accesses
        ],
        "retention": {
            "rule": pack.retention,
            "applies_on": pack.retention_date.isoformat() if pack.retention_date else None,
        },
        "sources": pack.sources,
        "consent": {
            "kept_past_18_with_consent": pack.record is not None
            and pack.record.retention_state == RetentionState.kept_with_consent,
            "receipts": [],
        },
        "rights": [{"right": name, "how": how} for name, how in RIGHTS],
        "complaint": COMPLAINT,
    }


# Withholding entries (the officer's side)


class OwnEntryError(StepRefusedError):
    """An officer may not withhold a record of their own access: another officer decides."""


@dataclass(frozen=True, slots=True)
class OfficerLine:
    line: AccessLine
    withholding_id: int | None  # None: shown, or left out as a police disclosure request
    exemption: str  # why it is left out; empty when shown
    review_on: date | None  # until when; None for a police request not yet decided


async def officer_lines(child_id: int, today: date, keyring: Keyring | None = None) -> list[OfficerLine]:
    """Every access to the child, with the withholding in force on each (if any): the privacy
    officer's own, or a police disclosure's that its approver recorded."""
    trail = await audit.child_trail(child_id)
    police = await disclosure.exemptions(child_id, today)
    kept_out = {
        entry.seq: police[subject] for entry, subjects in trail for subject in subjects if subject in police
    }
    entries = [entry for entry, _ in trail]
    held = (
        await AuditWithholding.select()
        .where(
            (AuditWithholding.child_id == child_id)
            & AuditWithholding.lifted_at.is_null()
            & (AuditWithholding.review_on > today)
        )
        .run()
    )
    by_seq = {h["seq"]: h for h in held}

    def line_of(line: AccessLine) -> OfficerLine:
        if line.seq in by_seq:
            held = by_seq[line.seq]
            return OfficerLine(
                line, held["id"], EXEMPTION_LABELS[Exemption(held["exemption"])], held["review_on"]
            )
        if line.seq in kept_out:
            why = kept_out[line.seq]
            return OfficerLine(line, None, why.why, why.until)
        return OfficerLine(line, None, "", None)

    return [line_of(line) for line in await access_lines(entries, keyring)]


def _withholding_entry(
    action: str, officer: Actor, request: RequestView, seq: int, now: datetime, **detail: int | str
) -> Entry:
    # The child is named in the subjects, not in child_id: an entry in the child's own trail
    # would tell the requester what is being withheld from them.
    return Entry(
        action,
        officer,
        now,
        subjects=(request.subject, f"child:{request.child_id}", f"audit_entry:{seq}"),
        detail=detail or None,
    )


async def withhold(
    officer: Actor, request: RequestView, seq: int, exemption: Exemption, review_on: date, now: datetime
) -> None:
    """Withhold the child's access entry ``seq`` until ``review_on``, under ``exemption``."""
    if request.child_id is None or officer.id is None:
        raise StepRefusedError(request.reference)
    rows = (
        await AuditEntry.select(AuditEntry.actor_kind, AuditEntry.actor_id)
        .where((AuditEntry.seq == seq) & (AuditEntry.child_id == request.child_id))
        .run()
    )
    if not rows:
        raise StepRefusedError(request.reference)
    if rows[0]["actor_kind"] == "practitioner" and rows[0]["actor_id"] == officer.id:
        raise OwnEntryError(request.reference)
    row = AuditWithholding(
        id=row_ids.next(),
        seq=seq,
        child_id=request.child_id,
        exemption=exemption.value,
        review_on=review_on,
        recorded_by=officer.id,
        recorded_at=now,
    )
    entry = _withholding_entry(
        "sar.entry_withheld",
        officer,
        request,
        seq,
        now,
        exemption=exemption.value,
        review_on=int(review_on.strftime("%Y%m%d")),
    )

    async def unit(tx: Tx) -> None:
        # One withholding in force per entry: a new one replaces the old.
        await tx.run(
            AuditWithholding.update({AuditWithholding.lifted_at: now}).where(
                (AuditWithholding.seq == seq) & AuditWithholding.lifted_at.is_null()
            )
        )
        await tx.run(AuditWithholding.insert(row))
        await audit.append(tx, [entry])

    await audit.write(unit)


async def lift(officer: Actor, request: RequestView, withholding_id: int, now: datetime) -> None:
    """Stop withholding an entry: it shows in the next pack opened."""
    if request.child_id is None:
        raise StepRefusedError(request.reference)
    rows = (
        await AuditWithholding.select(AuditWithholding.seq)
        .where(
            (AuditWithholding.id == withholding_id)
            & (AuditWithholding.child_id == request.child_id)
            & AuditWithholding.lifted_at.is_null()
        )
        .run()
    )
    if not rows:
        raise StepRefusedError(request.reference)
    entry = _withholding_entry("sar.entry_released", officer, request, rows[0]["seq"], now)

    async def unit(tx: Tx) -> bool:
        lifted = await tx.run(
            AuditWithholding.update({AuditWithholding.lifted_at: now})
            .where((AuditWithholding.id == withholding_id) & AuditWithholding.lifted_at.is_null())
            .returning(AuditWithholding.id)
        )
        if lifted:
            await audit.append(tx, [entry])
        return bool(lifted)

    if not await audit.write(unit):
        raise StepRefusedError(request.reference)
