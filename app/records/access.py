"""Opening a child's record: who may, why, and what they see.

A practitioner opens a record only after Signpost showed it to them (in a search within the last
:data:`OPEN_AFTER_SEARCH`) or while they are recorded as involved: changing the number in a
record's address never opens a record nobody searched for. Each opening states a reason from the
fixed list, counts against the daily view quota, and is audited with the reason (one write unit).

What they see is the data dictionary's contact view, nothing more. A sensitive service appears to
others only as "a sensitive service is involved"; its recorder sees it in full. A shielded record
shows only name, gender, date of birth and Signpost ID, with the local Signpost team's number, to
everyone but that authority's Signpost team; each such opening alerts the privacy officer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor
from app.audit.tables import AuditEntry
from app.crypto.keyring import Keyring
from app.database import Tx
from app.identity.tables import ShieldOverride
from app.records.codes import SENSITIVE_SERVICES, Gender, Relationship, RetentionState, ServiceType
from app.records.schemas import Address
from app.records.service import load_child
from app.records.tables import Child, EducationSetting, GpPractice, Involvement, LocalAuthority
from app.search import quotas
from app.search.quotas import Quota

OPEN_AFTER_SEARCH = timedelta(hours=24)


class AccessEndedError(Exception):
    """The grant a view relied on (a police disclosure) ended before the view was written."""


@dataclass(frozen=True, slots=True)
class CarerView:
    name: str
    relationship: Relationship
    telephone: str | None
    address: Address | None


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service involved. ``hidden``: a sensitive service someone else recorded, shown only as
    "a sensitive service is involved"; every other field is then empty."""

    hidden: bool
    involvement_id: int = 0
    service_name: str = ""
    service_type: ServiceType | None = None
    practitioner_name: str = ""
    role: str = ""
    telephone: str = ""
    email: str = ""
    start_date: date | None = None
    lead_professional: bool = False
    assessment_undertaken: bool = False
    mine: bool = False


@dataclass(frozen=True, slots=True)
class RecordView:
    child_id: int
    signpost_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    restricted: bool  # shielded, and the viewer is not the authority's Signpost team
    team_name: str
    team_telephone: str
    team_email: str
    kept_until: date | None = None  # kept past 18 with the young person's consent, until then
    team: bool = False  # the viewer is the child's authority's Signpost team (may correct, shield)
    address: Address | None = None
    carers: tuple[CarerView, ...] = ()
    education: tuple[str, str, date | None] | None = None  # name, telephone, start date
    gp: tuple[str, str] | None = None  # name, telephone
    services: tuple[ServiceView, ...] = ()


async def authority_of(child_id: int) -> int | None:
    rows = await Child.select(Child.local_authority).where(Child.id == child_id).run()
    return int(rows[0]["local_authority"]) if rows else None


# Every record view reads these: fixed statements, not ORM queries built each time.
_MOVED_AT = 'SELECT "moved_at" FROM "child" WHERE "id" = {}'
#: Whether a search showed this child to this practitioner since a time: one index range
#: (``audit_entry_child_actor``), never a read of every entry about the child.
SHOWN_LATELY = (
    'SELECT 1 FROM "audit_entry" WHERE "child_id" = {} AND "actor_id" = {} '
    'AND "action" = \'record.result_returned\' AND "at" >= {} LIMIT 1'
)
_INVOLVED = (
    'SELECT 1 FROM "involvement" WHERE "child" = {} AND "recorded_by" = {} AND "end_date" IS NULL LIMIT 1'
)
_AUTHORITY = 'SELECT * FROM "local_authority" WHERE "id" = {}'
_SETTING = 'SELECT "name", "telephone" FROM "education_setting" WHERE "id" = {}'
_GP = 'SELECT "name", "telephone" FROM "gp_practice" WHERE "id" = {}'


async def may_open(practitioner_id: int, child_id: int, now: datetime) -> bool:
    """Shown to this practitioner by a search lately, or they are involved with the child. A
    search from before a feed moved the record to another authority no longer counts: the old
    authority's people keep access only through an active involvement."""
    moved = await Child.raw(_MOVED_AT, child_id).run()
    since = moved[0]["moved_at"] if moved else None
    start = now - OPEN_AFTER_SEARCH if since is None else max(now - OPEN_AFTER_SEARCH, since)
    if await AuditEntry.raw(SHOWN_LATELY, child_id, practitioner_id, start).run():
        return True
    return bool(await Involvement.raw(_INVOLVED, child_id, practitioner_id).run())


async def is_shielded(child_id: int) -> bool:
    rows = await Child.select(Child.shielded).where(Child.id == child_id).run()
    return bool(rows and rows[0]["shielded"])


async def overridden(session_id: int | None, child_id: int) -> bool:
    """Whether this session broke the glass for this child."""
    if session_id is None:
        return False
    return bool(
        await ShieldOverride.exists()
        .where((ShieldOverride.session == session_id) & (ShieldOverride.child_id == child_id))
        .run()
    )


async def _break_glass(
    tx: Tx, session_id: int, child_id: int, authority: int, viewer: Actor, reason: str, now: datetime
) -> None:
    await tx.run(ShieldOverride.insert(ShieldOverride(session=session_id, child_id=child_id, granted_at=now)))
    [seq] = await audit.append(
        tx,
        [
            audit.Entry(
                "record.break_glass",
                viewer,
                now,
                child_id=child_id,
                child_authority_id=authority,
                reason=reason,
                detail={"shielded": True},
            )
        ],
    )
    await alerts.raise_alert(
        alerts.AlertKind.break_glass,
        authority_id=authority,
        at=now,
        dedupe_key=f"{session_id}:{child_id}",
        practitioner_id=viewer.id,
        child_id=child_id,
        audit_seq=seq,
        tx=tx,
    )


async def open_record(
    keyring: Keyring,
    child_id: int,
    viewer: Actor,
    reason: str,
    now: datetime,
    quota: Quota | tuple[Quota, ...],
    session_id: int | None = None,
    *,
    breaking_glass: bool = False,
    action: str = "record.view",
    subjects: tuple[str, ...] = (),
    still_allowed: Callable[[Tx], Awaitable[bool]] | None = None,
    team_view: bool = True,
) -> RecordView:
    """Decrypt the record for ``viewer``, count the view against ``quota`` and audit it with
    ``reason`` (a code from ``REASON_LABELS``), in one write unit with any shielded-access
    alert. Past the quota: :class:`QuotaExceededError`, and nothing is shown or written but the
    refusal. A shielded record is shown in full to the authority's Signpost team, and in a
    session that broke the glass.

    ``breaking_glass`` (with ``session_id``): override shielding for this child for this
    session, in the same unit, so only for a view the quota allows: audited with the reason
    (``record.break_glass``) and the privacy officer of the child's authority alerted at once.

    A view under a police disclosure is audited as ``action`` against ``subjects`` (the
    request), and ``still_allowed`` is checked inside the same unit, so a grant revoked or
    expired a moment before shows nothing: :class:`AccessEndedError`.

    ``team_view=False`` (the API): the Signpost team's full view of shielded records and
    sensitive services is not given; a team member sees what any practitioner sees."""
    quotas.check(quota, viewer, now)
    record = await load_child(keyring, child_id)
    details = record.details
    rows = await LocalAuthority.raw(_AUTHORITY, details.local_authority_id).run()
    authority = rows[0]
    team = team_view and viewer.role == "la_admin" and viewer.authority_id == details.local_authority_id
    breaking = session_id if breaking_glass and details.shielded and not team else None  # its session
    glass = details.shielded and not team and (breaking is not None or await overridden(session_id, child_id))
    restricted = details.shielded and not team and not glass
    entry = audit.Entry(
        action,
        viewer,
        now,
        child_id=child_id,
        child_authority_id=details.local_authority_id,
        subjects=subjects,
        reason=reason,
        detail={"shielded": True, "break_glass": glass} if details.shielded else None,
    )

    over: list[Quota] = []

    async def unit(tx: Tx) -> str:
        if still_allowed is not None and not await still_allowed(tx):
            return "ended"
        refused = await quotas.use_all(tx, quota, viewer, now)
        if refused is not None:
            over.append(refused)
            return "quota"
        if breaking is not None:
            await _break_glass(tx, breaking, child_id, details.local_authority_id, viewer, reason, now)
        [seq] = await audit.append(tx, [entry])
        await alerts.count_activity(tx, viewer, now, seen=1)
        if restricted:
            await alerts.raise_alert(
                alerts.AlertKind.shielded_access,
                authority_id=details.local_authority_id,
                at=now,
                dedupe_key=f"{viewer.id}:{child_id}:{now.date().isoformat()}",
                practitioner_id=viewer.id,
                child_id=child_id,
                audit_seq=seq,
                tx=tx,
            )
        return "shown"

    written = await audit.write(unit)
    if written == "ended":
        raise AccessEndedError()
    if written == "quota":
        raise quotas.refused(over[-1], viewer, now)
    base = RecordView(
        child_id=child_id,
        signpost_id=record.signpost_id,
        given_name=details.given_name,
        family_name=details.family_name,
        date_of_birth=details.date_of_birth,
        gender=details.gender,
        restricted=restricted,
        team=team,
        team_name=authority["name"],
        team_telephone=authority["team_telephone"],
        team_email=authority["team_email"],
        kept_until=details.keep_until
        if details.retention_state == RetentionState.kept_with_consent
        else None,
    )
    if restricted:
        return base
    services = []
    for involvement, involvement_id, recorder in zip(
        details.involvements, record.involvement_ids, record.involvement_recorders, strict=True
    ):
        if involvement.end_date is not None:
            continue
        mine = recorder is not None and recorder == viewer.id
        if involvement.service_type in SENSITIVE_SERVICES and not (mine or team):  # the team brokers
            services.append(ServiceView(hidden=True))
            continue
        services.append(
            ServiceView(
                hidden=False,
                involvement_id=involvement_id,
                service_name=involvement.service_name,
                service_type=involvement.service_type,
                practitioner_name=involvement.practitioner_name,
                role=involvement.role,
                telephone=involvement.telephone,
                email=involvement.email,
                start_date=involvement.start_date,
                lead_professional=involvement.lead_professional,
                assessment_undertaken=involvement.assessment_undertaken,
                mine=mine,
            )
        )
    education = None
    if details.education_setting_id is not None:
        rows = await EducationSetting.raw(_SETTING, details.education_setting_id).run()
        if rows:
            education = (rows[0]["name"], rows[0]["telephone"], details.education_start_date)
    gp = None
    if details.gp_practice_id is not None:
        rows = await GpPractice.raw(_GP, details.gp_practice_id).run()
        if rows:
            gp = (rows[0]["name"], rows[0]["telephone"])
    return replace(
        base,
        address=details.address,
        carers=tuple(CarerView(c.name, c.relationship, c.telephone, c.address) for c in details.carers),
        education=education,
        gp=gp,
        services=tuple(services),
    )
