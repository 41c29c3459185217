"""Recording and ending one's own involvement, on SQLite and PostgreSQL: every field checked on
the server, a sensitive service needs its basis, the others involved are told on their home
page, ending works only on one's own, and all of it is audited."""

from __future__ import annotations

from app.audit.tables import AuditEntry
from app.crypto.keyring import Keyring
from app.identity.service import Role
from app.involvement.tables import Notification
from app.records.schemas import ChildRecord
from app.records.service import create_child
from app.records.tables import Involvement
from tests.factories import child_details
from tests.identity_flow import FakeClock, Person, sign_in, signed_in_as
from tests.pagecheck import CheckedClient
from tests.softkey import SoftKey

ORIGIN = "http://testserver.local"
BORN = {"dob-day": "28", "dob-month": "2", "dob-year": "2014"}
FORM = {
    "service_name": "Riverside Primary School",
    "service_type": "education",
    "role": "Designated safeguarding lead",
    "telephone": "01632 960 123",
    "email": "dsl@riverside.example.org",
    "start-day": "3",
    "start-month": "9",
    "start-year": "2026",
    "lead_professional": "yes",
}


def token(web: CheckedClient) -> dict[str, str]:
    return {"_csrf_token": web.cookies["csrftoken"]}


async def practitioner_who_found(
    web: CheckedClient, keyring: Keyring, clock: FakeClock, email: str, child: ChildRecord | None = None
) -> tuple[Person, ChildRecord, SoftKey]:
    web.cookies.clear()
    person, key = await signed_in_as(web, keyring, clock.now, ORIGIN, Role.practitioner, email)
    if child is None:
        child = await create_child(keyring, child_details(person.authority_id))
    found = await web.post(
        "/search", data={**token(web), "family_name": "O'Brien-Smith", "given_name": "Zoe", **BORN}
    )
    assert "1 child matches" in found.text
    return person, child, key


async def test_every_field_is_checked_and_a_sensitive_service_needs_its_basis(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    _, child, _ = await practitioner_who_found(web, keyring, clock, "ada@riverside.example.org")
    form = await web.get(f"/records/{child.id}/involvement")
    assert 'value="ada@riverside.example.org"' in form.text  # their own email, to start with
    empty = await web.post(f"/records/{child.id}/involvement", data=token(web))
    assert empty.status_code == 400
    for message in (
        "Enter the service",
        "Select the type of service",
        "Enter your role",
        "Enter a telephone number",
        "Enter your work email",
        "Enter the date your involvement started",
    ):
        assert message in empty.text
    sensitive = await web.post(
        f"/records/{child.id}/involvement", data={**token(web), **FORM, "service_type": "sexual_health"}
    )
    assert sensitive.status_code == 400
    assert "A sensitive service needs the basis for recording it" in sensitive.text
    future = await web.post(
        f"/records/{child.id}/involvement", data={**token(web), **FORM, "start-year": "2027"}
    )
    assert "Start date must be today or in the past" in future.text
    assert (
        await Involvement.count().where(Involvement.recorded_by.is_not_null()).run() == 0
    )  # nothing half-saved
    done = await web.post(
        f"/records/{child.id}/involvement",
        data={**token(web), **FORM, "service_type": "sexual_health", "consent_basis": "child_consent"},
    )
    assert done.status_code == 200
    assert "Involvement recorded" in done.text


async def test_the_others_involved_are_told_and_only_the_recorder_ends_it(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    ada, child, ada_key = await practitioner_who_found(web, keyring, clock, "ada@riverside.example.org")
    assert (
        await web.post(f"/records/{child.id}/involvement", data={**token(web), **FORM})
    ).status_code == 200
    assert await Notification.count().run() == 0  # nobody else recorded by a person yet

    bo, _, _ = await practitioner_who_found(web, keyring, clock, "bo@health.example.org", child)
    bo_form = {
        **FORM,
        "service_name": "Northshire Health Visiting",
        "service_type": "health_visiting",
        "email": "bo@health.example.org",
        "lead_professional": "",
    }
    assert (
        await web.post(f"/records/{child.id}/involvement", data={**token(web), **bo_form})
    ).status_code == 200
    notices = await Notification.select().run()
    assert [(n["practitioner_id"], n["child_id"]) for n in notices] == [(ada.id, child.id)]
    rows = await Involvement.select(Involvement.id).where(Involvement.recorded_by == ada.id).run()
    ada_involvement = rows[0]["id"]
    not_bos = await web.post(f"/records/{child.id}/involvement/{ada_involvement}/end", data=token(web))
    assert not_bos.status_code == 404

    # Ada signs in again: the notice is on her home page; she is involved, so the record opens
    # without a search, and shows Bo; she ends her own involvement.
    web.cookies.clear()
    assert (await sign_in(web, ada_key, ORIGIN, email=ada.email)).status_code == 200
    home = await web.get("/home")
    assert "another practitioner is now involved with a child you work with" in home.text
    opened = await web.post(f"/records/{child.id}", data={**token(web), "reason": "contacting_professionals"})
    assert "Northshire Health Visiting" in opened.text
    assert "bo@health.example.org" in opened.text
    ended = await web.post(f"/records/{child.id}/involvement/{ada_involvement}/end", data=token(web))
    assert "Involvement ended" in ended.text
    read = await web.post(f"/notifications/{notices[0]['id']}/read", data=token(web))
    assert "another practitioner is now involved" not in read.text
    assert (
        await web.post(f"/records/{child.id}/involvement/{ada_involvement}/end", data=token(web))
    ).status_code == 404

    audited = (
        await AuditEntry.select()
        .where(AuditEntry.action.like("involvement.%"))
        .order_by(AuditEntry.seq)
        .run()
    )
    assert [(r["action"], r["actor_id"], r["child_id"]) for r in audited] == [
        ("involvement.add", ada.id, child.id),
        ("involvement.add", bo.id, child.id),
        ("involvement.end", ada.id, child.id),
    ]
    assert audited[1]["detail"] == '{"notified":1,"sensitive":false}'
