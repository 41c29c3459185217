"""Corrections by the local authority's Signpost team (rectification, UK GDPR Art. 16), and
shielding.

A correction rewrites the child's own fields (names, date of birth, gender, address) and its
parents' and carers' names, relationships and telephone numbers, with a reason code. Each
changed field is audited as ``record.corrected`` with the field's name and a keyed hash of the
old value and of the new one (16 hex digits of an HMAC under a key derived from the record
key), never the values: the trail shows that a field changed, and lets someone holding both
values check which, without holding either itself.

Shielding is set with a reason category and a review date (six months ahead unless the admin
chooses another), changed, or lifted with a reason; the privacy officer sees the shielded
records whose review date has passed, or that have none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime
from hashlib import sha256

from msgspec.structs import replace as evolve

from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.consent.dates import uk_date
from app.crypto.keyring import Keyring
from app.database import Tx
from app.feeds.importer import write_details
from app.feeds.tables import Shielding
from app.records.schemas import ChildDetails, PersonName
from app.records.service import load_child
from app.records.tables import Child
from app.subject_access.deadlines import add_months

SHIELD_REASONS: dict[str, str] = {
    "refuge": "Living in a refuge",
    "adoptive_placement": "Adoptive placement at risk",
    "risk_from_known_person": "At risk of harm from a known person",
    "court_order": "A court order or witness protection",
    "other_assessed_risk": "Another risk assessed by the local authority",
}
LIFT_REASONS: dict[str, str] = {
    "risk_ended": "The risk has ended",
    "review_found_not_needed": "A review found shielding no longer needed",
    "set_in_error": "Shielded in error",
}
REVIEW_MONTHS = 6


class ChangedMeanwhileError(ValueError):
    """The record changed after the form was shown; nothing was written."""


def value_hash(keyring: Keyring, field: str, value: object) -> str:
    """The keyed hash an audit row holds instead of a value."""
    key = keyring.mac_key(keyring.active_version, "correction-audit")
    return hmac.new(key, f"{field}|{value}".encode(), sha256).hexdigest()[:16]


def _fields(child: ChildDetails) -> dict[str, object]:
    fields: dict[str, object] = {
        "given_name": child.given_name,
        "family_name": child.family_name,
        "date_of_birth": child.date_of_birth.isoformat(),
        "gender": child.gender.value,
        "address": child.address,
        "former_names": child.former_names,
        "education_setting": child.education_setting_id,
        "education_start_date": child.education_start_date,
        "gp_practice": child.gp_practice_id,
    }
    for i, carer in enumerate(child.carers):
        fields[f"carer_{i + 1}_name"] = carer.name
        fields[f"carer_{i + 1}_relationship"] = carer.relationship.value
        fields[f"carer_{i + 1}_telephone"] = carer.telephone
    return fields


def changes(keyring: Keyring, old: ChildDetails, new: ChildDetails) -> list[dict[str, str]]:
    """Each changed field as ``{"field", "old", "new"}`` with hashed values."""
    before, after = _fields(old), _fields(new)
    return [
        {
            "field": name,
            "old": value_hash(keyring, name, before.get(name)),
            "new": value_hash(keyring, name, after.get(name)),
        }
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def with_former_name(old: ChildDetails, new: ChildDetails) -> ChildDetails:
    """``new`` keeping ``old``'s name as a former name, when the name changed."""
    if (old.given_name, old.family_name) == (new.given_name, new.family_name):
        return new
    former = PersonName(old.given_name, old.family_name)
    if former in new.former_names:
        return new
    return evolve(new, former_names=(*new.former_names, former))


async def correct(
    keyring: Keyring,
    child_id: int,
    expected: ChildDetails,
    new: ChildDetails,
    reason: str,
    actor: Actor,
    now: datetime,
) -> int:
    """Write the corrected details if the record still reads as ``expected`` (what the form
    showed); the number of fields changed. The caller has validated ``new``."""

    async def unit(tx: Tx) -> int:
        record = await load_child(keyring, child_id, tx)
        old = evolve(record.details, involvements=())
        if old != evolve(expected, involvements=()):
            raise ChangedMeanwhileError()
        changed = changes(keyring, old, new)
        if not changed:
            return 0
        await write_details(tx, keyring, child_id, record.signpost_id, old, evolve(new, involvements=()), now)
        await audit.append(
            tx,
            [
                Entry(
                    "record.corrected",
                    actor,
                    now,
                    child_id=child_id,
                    child_authority_id=old.local_authority_id,
                    reason=reason,
                    detail=change,
                )
                for change in changed
            ],
        )
        return len(changed)

    return await audit.write(unit)


@dataclass(frozen=True, slots=True)
class ShieldState:
    shielded: bool
    reason: str | None = None
    review_date: date | None = None


async def shield_state(child_id: int) -> ShieldState:
    rows = await Child.select(Child.shielded).where(Child.id == child_id).run()
    shielding = await Shielding.select().where(Shielding.child == child_id).run()
    if not rows or not rows[0]["shielded"]:
        return ShieldState(False)
    if not shielding:
        return ShieldState(True)
    return ShieldState(True, shielding[0]["reason"], shielding[0]["review_date"])


def default_review_date(now: datetime) -> date:
    return add_months(uk_date(now), REVIEW_MONTHS)


async def set_shielding(
    child_id: int, authority_id: int, reason: str, review_date: date, actor: Actor, now: datetime
) -> None:
    """Shield the record (or change the reason or review date of its shielding)."""

    async def unit(tx: Tx) -> None:
        rows = await tx.run(Child.select(Child.shielded).where(Child.id == child_id))
        was = bool(rows and rows[0]["shielded"])
        await tx.run(Shielding.delete().where(Shielding.child == child_id))
        await tx.run(
            Shielding.insert(
                Shielding(child=child_id, reason=reason, review_date=review_date, set_by=actor.id, set_at=now)
            )
        )
        await tx.run(Child.update({Child.shielded: True, Child.updated_at: now}).where(Child.id == child_id))
        await audit.append(
            tx,
            [
                Entry(
                    "record.shielding_changed" if was else "record.shielded",
                    actor,
                    now,
                    child_id=child_id,
                    child_authority_id=authority_id,
                    detail={"category": reason, "review_in_days": (review_date - uk_date(now)).days},
                )
            ],
        )

    await audit.write(unit)


async def lift_shielding(child_id: int, authority_id: int, reason: str, actor: Actor, now: datetime) -> None:
    async def unit(tx: Tx) -> None:
        await tx.run(Shielding.delete().where(Shielding.child == child_id))
        await tx.run(Child.update({Child.shielded: False, Child.updated_at: now}).where(Child.id == child_id))
        await audit.append(
            tx,
            [
                Entry(
                    "record.unshielded",
                    actor,
                    now,
                    child_id=child_id,
                    child_authority_id=authority_id,
                    detail={"category": reason},
                )
            ],
        )

    await audit.write(unit)


@dataclass(frozen=True, slots=True)
class DueReview:
    child_id: int
    signpost_id: str
    review_date: date | None  # None: shielded without a recorded review date
    reason: str | None


async def reviews_due(authority_id: int, today: date) -> list[DueReview]:
    """Shielded records of the authority whose review date has come, or that have none."""
    children = (
        await Child.select(Child.id, Child.signpost_id)
        .where((Child.local_authority == authority_id) & (Child.shielded == True))  # noqa: E712
        .run()
    )
    ids = [int(c["id"]) for c in children]
    shielding = {
        int(s["child"]): s
        for start in range(0, len(ids), 500)
        for s in await Shielding.select().where(Shielding.child.is_in(ids[start : start + 500])).run()
    }
    due = []
    for child in children:
        s = shielding.get(int(child["id"]))
        if s is None or s["review_date"] <= today:
            due.append(
                DueReview(
                    child_id=int(child["id"]),
                    signpost_id=child["signpost_id"],
                    review_date=None if s is None else s["review_date"],
                    reason=None if s is None else s["reason"],
                )
            )
    return sorted(due, key=lambda d: (d.review_date or date.min, d.signpost_id))
