"""The privacy officer's pages, end to end through the web app with real security-key sign-in:
role checks, own-authority limits, the alert queue, and the audit search; plus the promise that
the audit and the log hold no personal data, and that a failed audit write saves nothing."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest

from app.audit import alerts, service
from app.audit.tables import Alert, AuditEntry
from app.crypto.keyring import Keyring
from app.identity.service import Role, actor_for, find_by_email
from app.records.ids import format_signpost_id
from app.records.service import create_child
from tests.factories import child_details
from tests.identity_flow import FakeClock, make_person, sign_in, signed_in_as
from tests.integration.test_audit import allow_audit_inserts, refuse_audit_inserts
from tests.pagecheck import CheckedClient

ORIGIN = "http://testserver.local"
OFFICER_EMAIL = "privacy@northshire.example.org"


def csrf(web: CheckedClient) -> dict[str, str]:
    return {"_csrf_token": web.cookies["csrftoken"]}


async def officer(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> Any:
    person, _ = await signed_in_as(web, keyring, clock.now, ORIGIN, Role.privacy_officer, OFFICER_EMAIL)
    return person


async def test_only_privacy_officers_reach_the_pages(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    assert (await web.get("/privacy/alerts", follow_redirects=False)).headers["location"] == "/login"
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org")
    for url in ("/privacy/alerts", "/privacy/audit"):
        assert (await web.get(url)).status_code == 403
    assert (await web.post("/privacy/audit", data=csrf(web))).status_code == 403


async def test_the_alert_queue_is_the_officers_authority_and_each_action_is_audited(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    north_officer = await officer(web, keyring, clock)
    south = await make_person(
        keyring, clock.now, email="bo@south.example.org", authority="Southshire Council"
    )
    ada = await make_person(keyring, clock.now, email="ada@riverside.example.org")
    await alerts.raise_alert(
        alerts.AlertKind.shielded_access,
        authority_id=north_officer.authority_id,
        at=clock.now,
        dedupe_key="north",
        practitioner_id=ada.id,
    )
    await alerts.raise_alert(
        alerts.AlertKind.break_glass,
        authority_id=south.authority_id,
        at=clock.now,
        dedupe_key="south",
        practitioner_id=south.id,
    )
    ids = {a["authority_id"]: a["id"] for a in await Alert.select().run()}

    page = await web.get("/privacy/alerts")
    assert page.status_code == 200
    assert "Access to a shielded record" in page.text
    assert "Ada Okafor" in page.text
    assert "Break-glass" not in page.text  # another authority's alert is not listed
    assert "1 alert needs looking at" in page.text

    south_alert = await web.post(f"/privacy/alerts/{ids[south.authority_id]}/acknowledge", data=csrf(web))
    assert south_alert.status_code == 404
    done = await web.post(f"/privacy/alerts/{ids[north_officer.authority_id]}/acknowledge", data=csrf(web))
    assert done.status_code == 200
    assert "No alerts need looking at" in done.text
    escalated = await web.post(f"/privacy/alerts/{ids[north_officer.authority_id]}/escalate", data=csrf(web))
    assert "Escalated" in escalated.text
    handled = (
        await AuditEntry.select().where(AuditEntry.action.like("alert.%")).order_by(AuditEntry.seq).run()
    )
    assert [(r["action"], r["actor_id"], r["role"]) for r in handled] == [
        ("alert.acknowledged", north_officer.id, "privacy_officer"),
        ("alert.escalated", north_officer.id, "privacy_officer"),
    ]
    statuses = {a["authority_id"]: a["status"] for a in await Alert.select().run()}
    assert statuses == {north_officer.authority_id: "escalated", south.authority_id: "open"}


async def test_the_audit_search_filters_pages_and_stays_in_the_authority(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    north_officer = await officer(web, keyring, clock)
    ada = await make_person(keyring, clock.now, email="ada@riverside.example.org")
    bo = await make_person(keyring, clock.now, email="bo@south.example.org", authority="Southshire Council")
    ada_actor, bo_actor = await actor_for(ada.id), await actor_for(bo.id)
    assert ada_actor is not None
    assert bo_actor is not None
    ours = await create_child(keyring, child_details(north_officer.authority_id))
    theirs = await create_child(keyring, child_details(bo.authority_id, given_name="Ffion"))
    start = clock.now
    for n in range(60):
        await service.record(
            "record.result_returned", ada_actor, at=start + timedelta(minutes=n), child_id=900 + n
        )
    await service.record(
        "record.view",
        bo_actor,
        at=start,
        child_id=ours.id,
        child_authority_id=north_officer.authority_id,
        reason="safeguarding_concern",
    )
    await service.record(
        "record.view",
        bo_actor,
        at=start,
        child_id=theirs.id,
        child_authority_id=bo.authority_id,
        reason="assessment",
    )

    by_ada = await web.post("/privacy/audit", data={**csrf(web), "practitioner": str(ada.id)})
    assert by_ada.status_code == 200
    assert "50 entries on this page" in by_ada.text
    assert "Older entries" in by_ada.text
    before = re.search(r'name="before" value="(\d+)"', by_ada.text)
    assert before is not None
    older = await web.post(
        "/privacy/audit", data={**csrf(web), "practitioner": str(ada.id), "before": before.group(1)}
    )
    assert "10 entries" in older.text
    assert "Older entries" not in older.text

    by_child = await web.post(
        "/privacy/audit", data={**csrf(web), "signpost_id": format_signpost_id(ours.signpost_id)}
    )
    assert "1 entry" in by_child.text
    assert "Safeguarding concern" in by_child.text
    assert "Opened the record" in by_child.text
    assert "Practitioner in another authority" in by_child.text  # Bo is not named to Northshire's officer

    other_child = await web.post("/privacy/audit", data={**csrf(web), "signpost_id": theirs.signpost_id})
    assert other_child.status_code == 400
    assert "Enter the Signpost ID of a child in your local authority" in other_child.text
    other_person = await web.post("/privacy/audit", data={**csrf(web), "practitioner": str(bo.id)})
    assert other_person.status_code == 400

    day = start.date()
    tomorrow = day + timedelta(days=1)
    dated = {"to-day": str(tomorrow.day), "to-month": str(tomorrow.month), "to-year": str(tomorrow.year)}
    window = await web.post(
        "/privacy/audit",
        data={
            **csrf(web),
            "from-day": str(tomorrow.day),
            "from-month": str(tomorrow.month),
            "from-year": str(tomorrow.year),
            **dated,
        },
    )
    assert "0 entries" in window.text
    bad = await web.post(
        "/privacy/audit", data={**csrf(web), "from-day": "31", "from-month": "2", "from-year": "2026"}
    )
    assert bad.status_code == 400
    assert "The from date must be a real date" in bad.text
    backwards = await web.post(
        "/privacy/audit",
        data={
            **csrf(web),
            "from-day": str(tomorrow.day),
            "from-month": str(tomorrow.month),
            "from-year": str(tomorrow.year),
            "to-day": str(day.day),
            "to-month": str(day.month),
            "to-year": str(day.year),
        },
    )
    assert backwards.status_code == 400
    assert "must be the same as or after the from date" in backwards.text

    searches = (
        await AuditEntry.select().where(AuditEntry.action == "audit.search").order_by(AuditEntry.seq).run()
    )
    assert len(searches) == 4  # the successful searches, each audited
    assert searches[2]["child_id"] == ours.id
    assert searches[2]["actor_id"] == north_officer.id


async def test_a_failed_audit_write_shows_an_error_and_saves_nothing(
    web: CheckedClient, keyring: Keyring, clock: FakeClock, engine: Any
) -> None:
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org")
    await refuse_audit_inserts(engine)
    form = {
        **csrf(web),
        "name": "Cara Nwosu",
        "email": "cara@health.example.org",
        "role": "practitioner",
        "organisation": "Northshire Health Visiting",
    }
    failed = await web.post("/admin/users/new", data=form)
    assert failed.status_code == 503
    assert "could not record this in its audit trail, so nothing was done" in failed.text
    assert await find_by_email(keyring, "cara@health.example.org") is None
    await allow_audit_inserts(engine)
    assert (await web.post("/admin/users/new", data=form)).status_code == 200
    assert await find_by_email(keyring, "cara@health.example.org") is not None


async def test_no_personal_data_reaches_the_audit_or_the_log(
    web: CheckedClient, keyring: Keyring, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A scenario across every audited feature so far, then every audit column and every log
    line searched for each personal value involved."""
    caplog.set_level(logging.DEBUG)
    north_officer_email = OFFICER_EMAIL
    admin, admin_key = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org"
    )
    child = await create_child(keyring, child_details(admin.authority_id))
    form = {
        **csrf(web),
        "name": "Cara Nwosu",
        "email": "cara@health.example.org",
        "role": "practitioner",
        "organisation": "Northshire Health Visiting",
    }
    assert (await web.post("/admin/users/new", data=form)).status_code == 200
    cara = await find_by_email(keyring, "cara@health.example.org")
    await web.post(f"/admin/users/{cara}/code", data=csrf(web))
    await web.post(f"/admin/users/{cara}/revoke", data=csrf(web))
    await web.post("/logout", data=csrf(web))
    assert (
        await sign_in(web, admin_key, ORIGIN, email="team@northshire.example.org", counter=0)
    ).status_code == 401
    await web.post(
        "/enrol", data={**csrf(web), "email": "nobody@nowhere.example.org", "code": "ABCD-EFGH-JKMN-PQRS"}
    )
    await officer(web, keyring, clock)
    await web.post("/privacy/audit", data={**csrf(web), "signpost_id": child.signpost_id})
    admin_actor = await actor_for(admin.id)
    assert admin_actor is not None
    await service.record(
        "record.view",
        admin_actor,
        at=clock.now,
        child_id=child.id,
        child_authority_id=admin.authority_id,
        reason="assessment",
    )

    details = child.details
    assert details.address is not None
    personal = [
        details.given_name,
        details.family_name,
        details.date_of_birth.isoformat(),
        details.date_of_birth.strftime("%d/%m/%Y"),
        details.address.postcode,
        details.address.town,
        *details.address.lines,
        details.carers[0].name,
        details.carers[0].telephone,
        "Ada Okafor",
        "Cara Nwosu",
        "cara@health.example.org",
        "team@northshire.example.org",
        north_officer_email,
        "nobody@nowhere.example.org",
        "ABCD-EFGH-JKMN-PQRS",
    ]
    rows = await AuditEntry.select().run()
    actions = {r["action"] for r in rows}
    assert {
        "practitioner.created",
        "practitioner.code_reissued",
        "practitioner.revoked",
        "auth.login",
        "auth.login_failed",
        "auth.logout",
        "auth.enrolment_failed",
        "auth.key_added",
        "auth.counter_regression",
        "audit.search",
        "record.view",
    } <= actions
    audit_text = "\n".join(repr(sorted(r.items())) for r in rows).lower()
    log_text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records).lower()
    assert log_text, "the scenario should have logged something"
    for value in filter(None, personal):
        assert value.lower() not in audit_text, value
        assert value.lower() not in log_text, value
