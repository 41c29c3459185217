"""The privacy officer's pages: the alert queue, and a search of the audit trail.

Both are limited to the officer's own local authority: alerts raised for it, and audit rows
whose actor belongs to it or whose child is one of its records. Anything else answers 404.
Searches are POSTs (a Signpost ID never goes in a URL) and are themselves audited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from app.audit import alerts
from app.audit import service as audit
from app.audit.alerts import AlertStatus
from app.audit.labels import ACTION_LABELS, OUTCOME_LABELS, REASON_LABELS, actor_label
from app.audit.service import Actor
from app.audit.tables import AuditEntry
from app.identity.service import (
    ROLE_LABELS,
    PractitionerView,
    Role,
    organisation_names,
    practitioners_of_authority,
)
from app.identity.sessions import signed_in_with_role
from app.records.ids import format_signpost_id, parse_signpost_id
from app.records.tables import Child
from app.web.forms import date_from_fields

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
PRIVACY = {"roles": (Role.privacy_officer,)}
PAGE_SIZE = 50


def _small_number(text: str) -> bool:
    """ASCII digits that fit a 64-bit column (``isdigit`` also accepts "²")."""
    return text.isascii() and text.isdecimal() and len(text) <= 18


def _officer(request: Request[Any, Any, Any]) -> PractitionerView:
    user: PractitionerView = request.scope["user"]
    return user


async def _people(state: State, authority_id: int) -> dict[int, PractitionerView]:
    return {p.id: p for p in await practitioners_of_authority(state.keyring, authority_id)}


async def _signpost_ids(child_ids: set[int]) -> dict[int, str]:
    if not child_ids:
        return {}
    rows = await Child.select(Child.id, Child.signpost_id).where(Child.id.is_in(list(child_ids))).run()
    return {r["id"]: format_signpost_id(r["signpost_id"]) for r in rows}


@get("/privacy/alerts", guards=[signed_in_with_role], opt=PRIVACY)
async def alert_queue(request: Request[Any, Any, Any], state: State) -> Template:
    officer = _officer(request)
    queue = await alerts.queue(officer.local_authority_id)
    # The queue names practitioners and children: looking at it is itself an access.
    await audit.record("audit.alerts_viewed", Actor.of(officer), at=state.clock(), result_count=len(queue))
    return Template(
        "privacy/alerts.html",
        context={
            "alerts": queue,
            "people": await _people(state, officer.local_authority_id),
            "children": await _signpost_ids({a.child_id for a in queue if a.child_id}),
            "open_count": sum(1 for a in queue if a.status == AlertStatus.open),
        },
    )


async def _handle(
    request: Request[Any, Any, Any], state: State, alert_id: int, status: AlertStatus
) -> Redirect:
    if not await alerts.handle(alert_id, Actor.of(_officer(request)), status, state.clock()):
        raise NotFoundException()
    return Redirect("/privacy/alerts", status_code=303)


@post("/privacy/alerts/{alert_id:int}/acknowledge", guards=[signed_in_with_role], opt=PRIVACY)
async def acknowledge_alert(
    request: Request[Any, Any, Any], state: State, alert_id: FromPath[int]
) -> Redirect:
    return await _handle(request, state, alert_id, AlertStatus.acknowledged)


@post("/privacy/alerts/{alert_id:int}/escalate", guards=[signed_in_with_role], opt=PRIVACY)
async def escalate_alert(request: Request[Any, Any, Any], state: State, alert_id: FromPath[int]) -> Redirect:
    return await _handle(request, state, alert_id, AlertStatus.escalated)


def _search_page(
    people: dict[int, PractitionerView],
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    results: list[dict[str, Any]] | None = None,
    more: int | None = None,
) -> Template:
    return Template(
        "privacy/audit.html",
        status_code=400 if errors else 200,
        context={
            "people": sorted(people.values(), key=lambda p: p.name),
            "values": values or {},
            "errors": errors or {},
            "results": results,
            "more": more,
        },
    )


@get("/privacy/audit", guards=[signed_in_with_role], opt=PRIVACY)
async def audit_search_page(request: Request[Any, Any, Any], state: State) -> Template:
    return _search_page(await _people(state, _officer(request).local_authority_id))


@post("/privacy/audit", guards=[signed_in_with_role], opt=PRIVACY)
async def audit_search(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    officer = _officer(request)
    authority = officer.local_authority_id
    people = await _people(state, authority)
    errors: dict[str, str] = {}
    practitioner_text = data.get("practitioner", "").strip()
    practitioner_id: int | None = None
    if practitioner_text:
        if not _small_number(practitioner_text) or int(practitioner_text) not in people:
            errors["practitioner"] = "Select a person from your local authority"
        else:
            practitioner_id = int(practitioner_text)
    signpost_text = data.get("signpost_id", "").strip()[:40]
    child_id: int | None = None
    if signpost_text:
        signpost_id = parse_signpost_id(signpost_text)
        rows = (
            await Child.select(Child.id)
            .where((Child.signpost_id == signpost_id) & (Child.local_authority == authority))
            .run()
            if signpost_id
            else []
        )
        if not rows:
            errors["signpost_id"] = (
                "Enter the Signpost ID of a child in your local authority, like 7K3M 9Q2X R4TD"
            )
        else:
            child_id = rows[0]["id"]
    start, start_error, start_values = date_from_fields(data, "from", "The from date")
    end, end_error, end_values = date_from_fields(data, "to", "The to date")
    if start_error:
        errors["from-day"] = start_error
    if end_error:
        errors["to-day"] = end_error
    if start and end and end < start:
        errors["to-day"] = "The to date must be the same as or after the from date"
    before_text = data.get("before", "")
    before = int(before_text) if _small_number(before_text) else None
    values = {
        "practitioner": practitioner_text,
        "signpost_id": signpost_text,
        "from": start_values,
        "to": end_values,
    }
    if errors:
        return _search_page(people, values=values, errors=errors)

    query = AuditEntry.select().where(
        (AuditEntry.authority_id == authority) | (AuditEntry.child_authority_id == authority)
    )
    if practitioner_id is not None:
        query = query.where(AuditEntry.actor_id == practitioner_id)
    if child_id is not None:
        query = query.where(AuditEntry.child_id == child_id)
    if start is not None:
        query = query.where(AuditEntry.at >= datetime.combine(start, time(), tzinfo=UTC))
    if end is not None:
        query = query.where(AuditEntry.at < datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC))
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    rows = await query.order_by(AuditEntry.seq, ascending=False).limit(PAGE_SIZE + 1).run()
    more = rows[PAGE_SIZE - 1]["seq"] if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]

    await audit.record(
        "audit.search",
        Actor.of(officer),
        at=state.clock(),
        child_id=child_id,
        child_authority_id=authority if child_id is not None else None,
        subjects=[f"practitioner:{practitioner_id}"] if practitioner_id is not None else [],
        result_count=len(rows),
    )
    organisations = await organisation_names({r["organisation_id"] for r in rows if r["organisation_id"]})
    children = await _signpost_ids({r["child_id"] for r in rows if r["child_id"]})
    results = [
        {
            "seq": r["seq"],
            "at": r["at"],
            "who": people[r["actor_id"]].name if r["actor_id"] in people else actor_label(r["actor_kind"]),
            "organisation": organisations.get(r["organisation_id"], ""),
            "role": ROLE_LABELS[Role(r["role"])] if r["role"] in Role.__members__ else "",
            "action": ACTION_LABELS.get(r["action"], r["action"]),
            "reason": REASON_LABELS.get(r["reason"] or "", r["reason"] or ""),
            "outcome": OUTCOME_LABELS.get(r["outcome"], r["outcome"]),
            "child": children.get(r["child_id"], "") if r["child_id"] else "",
            "results": r["result_count"],
            "subjects": ", ".join(json.loads(r["subjects"])),
        }
        for r in rows
    ]
    return _search_page(people, values=values, results=results, more=more)


ROUTES = [alert_queue, acknowledge_alert, escalate_alert, audit_search_page, audit_search]
