"""Recording and ending one's own involvement with a child.

The form's fields are ``service_name``, ``service_type``, ``role``, ``telephone``, ``email``,
``start-day``/``start-month``/``start-year``, ``lead_professional`` and
``assessment_undertaken`` (checkboxes, value ``yes``), and ``consent_basis`` (required for a
sensitive service). The practitioner's name comes from their account. The involvement, its
audit row and a notice for every other practitioner involved are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.audit import service as audit
from app.audit.service import Actor
from app.crypto.keyring import Keyring
from app.database import write_transaction
from app.involvement.tables import Notification
from app.records.codes import SENSITIVE_SERVICES, ConsentBasis, ServiceType
from app.records.ids import row_ids
from app.records.schemas import InvolvementDetails
from app.records.service import involvement_row
from app.records.tables import Involvement
from app.records.validation import is_email, is_org_text, is_telephone
from app.web.forms import date_from_fields


def details_from_form(
    data: Mapping[str, str], practitioner_name: str, today: date
) -> tuple[InvolvementDetails | None, dict[str, str], dict[str, Any]]:
    """The involvement, or an error per field (keyed by field id), and the values to show again."""
    text = {
        name: data.get(name, "").strip()[:255]
        for name in ("service_name", "service_type", "role", "telephone", "email", "consent_basis")
    }
    started, start_error, start_values = date_from_fields(data, "start", "Start date")
    flags = {name: data.get(name) == "yes" for name in ("lead_professional", "assessment_undertaken")}
    values: dict[str, Any] = {**text, **flags, "start": start_values}
    errors: dict[str, str] = {}
    if not text["service_name"] or len(text["service_name"]) > 120 or not is_org_text(text["service_name"]):
        errors["service_name"] = "Enter the service's name using letters and numbers"
    try:
        service_type: ServiceType | None = ServiceType(text["service_type"])
    except ValueError:
        service_type = None
        errors["service_type"] = "Select the type of service"
    if not text["role"] or len(text["role"]) > 60 or not is_org_text(text["role"]):
        errors["role"] = "Enter your role, for example School nurse"
    if not is_telephone(text["telephone"]):
        errors["telephone"] = "Enter a telephone number, like 01632 960 001"
    if len(text["email"]) > 254 or not is_email(text["email"]):
        errors["email"] = "Enter your work email address, like name@example.org"
    if start_error:
        errors["start-day"] = start_error
    elif started is None:
        errors["start-day"] = "Enter the date your involvement started"
    elif started > today:
        errors["start-day"] = "Start date must be today or in the past"
    basis: ConsentBasis | None = None
    if text["consent_basis"]:
        try:
            basis = ConsentBasis(text["consent_basis"])
        except ValueError:
            errors["consent_basis"] = "Select the basis for recording this service"
    if service_type in SENSITIVE_SERVICES and basis is None and "consent_basis" not in errors:
        errors["consent_basis"] = (
            "A sensitive service needs the basis for recording it: consent, or significant harm"
        )
    if errors or service_type is None or started is None:
        return None, errors, values
    return (
        InvolvementDetails(
            service_name=text["service_name"],
            service_type=service_type,
            practitioner_name=practitioner_name,
            role=text["role"],
            telephone=text["telephone"],
            email=text["email"],
            start_date=started,
            lead_professional=flags["lead_professional"],
            assessment_undertaken=flags["assessment_undertaken"],
            consent_basis=basis if service_type in SENSITIVE_SERVICES else None,
        ),
        errors,
        values,
    )


async def add(
    keyring: Keyring,
    child_id: int,
    child_authority_id: int,
    details: InvolvementDetails,
    actor: Actor,
    now: datetime,
) -> int:
    """Record the involvement; tell everyone else currently involved. Returns its ID."""
    involvement_id = row_ids.next()
    row = involvement_row(keyring, involvement_id, child_id, details, recorded_by=actor.id)
    async with write_transaction(Involvement._meta.db):
        others = {
            r["recorded_by"]
            for r in await Involvement.select(Involvement.recorded_by)
            .where(
                (Involvement.child == child_id)
                & Involvement.end_date.is_null()
                & Involvement.recorded_by.is_not_null()
                & (Involvement.recorded_by != actor.id)
            )
            .run()
        }
        await Involvement.insert(Involvement(**row)).run()
        for practitioner_id in sorted(others):
            await Notification.insert(
                Notification(
                    id=row_ids.next(), practitioner_id=practitioner_id, child_id=child_id, created_at=now
                )
            ).run()
        await audit.record(
            "involvement.add",
            actor,
            at=now,
            child_id=child_id,
            child_authority_id=child_authority_id,
            subjects=[f"involvement:{involvement_id}"],
            # Not the service type: the trail outlives the record, and must not keep health details.
            detail={"sensitive": details.service_type in SENSITIVE_SERVICES, "notified": len(others)},
        )
    return involvement_id


async def end(
    child_id: int, child_authority_id: int, involvement_id: int, actor: Actor, today: date, now: datetime
) -> bool:
    """End the practitioner's own live involvement; False if there is none with that ID."""
    async with write_transaction(Involvement._meta.db):
        ended = (
            await Involvement.update({Involvement.end_date: today})
            .where(
                (Involvement.id == involvement_id)
                & (Involvement.child == child_id)
                & (Involvement.recorded_by == actor.id)
                & Involvement.end_date.is_null()
            )
            .returning(Involvement.id)
            .run()
        )
        if ended:
            await audit.record(
                "involvement.end",
                actor,
                at=now,
                child_id=child_id,
                child_authority_id=child_authority_id,
                subjects=[f"involvement:{involvement_id}"],
            )
    return bool(ended)


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    child_id: int
    created_at: datetime


async def unread(practitioner_id: int) -> list[Notice]:
    rows = (
        await Notification.select()
        .where((Notification.practitioner_id == practitioner_id) & Notification.read_at.is_null())
        .order_by(Notification.created_at, ascending=False)
        .limit(50)
        .run()
    )
    return [Notice(r["id"], r["child_id"], r["created_at"]) for r in rows]


async def mark_read(practitioner_id: int, notice_id: int, now: datetime) -> bool:
    done = (
        await Notification.update({Notification.read_at: now})
        .where((Notification.id == notice_id) & (Notification.practitioner_id == practitioner_id))
        .returning(Notification.id)
        .run()
    )
    return bool(done)
