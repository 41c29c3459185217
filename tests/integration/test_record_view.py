"""Opening a child's record through the web app, on SQLite and PostgreSQL: only after a search
showed it, with a reason from the fixed list, audited; the contact view and nothing more;
sensitive services hidden from all but their recorder; shielded records minimal (but for the
authority's Signpost team) with an alert; a daily view quota."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from app.audit.tables import Alert, AuditEntry
from app.crypto.keyring import Keyring
from app.identity.service import Role
from app.identity.tables import Practitioner, Session, ShieldOverride
from app.records.codes import RetentionState
from app.records.schemas import ChildRecord
from app.records.service import create_child
from app.records.tables import Carer, Child, FormerName, Involvement
from app.settings import DatabaseUrl
from tests.conftest import dev_settings_for
from tests.factories import child_details
from tests.identity_flow import FakeClock, Person, make_person, sign_in, signed_in_as
from tests.pagecheck import CheckedClient

ORIGIN = "http://testserver.local"
BORN = {"dob-day": "28", "dob-month": "2", "dob-year": "2014"}


@pytest.fixture
async def web(
    app_factory: Any, data_dir: Path, db_url: DatabaseUrl, clock: FakeClock
) -> AsyncIterator[CheckedClient]:
    app = app_factory(
        settings=dev_settings_for(data_dir, db_url, SIGNPOST_QUOTA_VIEWS_PER_DAY="6"), clock=clock
    )
    async with CheckedClient(app=app, base_url=ORIGIN) as client:
        yield client


@pytest.fixture
async def ada(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> Person:
    person, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org"
    )
    return person


def token(web: CheckedClient) -> dict[str, str]:
    return {"_csrf_token": web.cookies["csrftoken"]}


async def search_for(web: CheckedClient, family: str = "O'Brien-Smith") -> None:
    found = await web.post("/search", data={**token(web), "family_name": family, "given_name": "Zoe", **BORN})
    assert "1 child matches" in found.text


async def open_with(web: CheckedClient, child: ChildRecord, reason: str = "safeguarding_concern") -> Any:
    return await web.post(f"/records/{child.id}", data={**token(web), "reason": reason})


async def test_a_record_deleted_after_a_search_showed_it_is_not_found(
    web: CheckedClient, ada: Person, keyring: Keyring
) -> None:
    child = await create_child(keyring, child_details(ada.authority_id))
    await search_for(web)
    for table in (Carer, Involvement, FormerName):
        await table.delete().where(table.child == child.id).run()
    await Child.delete().where(Child.id == child.id).run()
    assert (await open_with(web, child)).status_code == 404
    assert await AuditEntry.count().where(AuditEntry.action == "record.view").run() == 0


async def test_a_record_opens_only_after_a_search_showed_it(
    web: CheckedClient, ada: Person, keyring: Keyring
) -> None:
    child = await create_child(keyring, child_details(ada.authority_id))
    assert (await web.get(f"/records/{child.id}")).status_code == 404
    assert (await open_with(web, child)).status_code == 404  # a guessed number opens nothing
    assert (await web.get(f"/records/{child.id + 1}")).status_code == 404
    await search_for(web)
    asked = await web.get(f"/records/{child.id}")
    assert asked.status_code == 200
    assert "Why are you opening this record?" in asked.text
    assert "O&#39;Brien" not in asked.text  # nothing about the child before a reason
    assert await AuditEntry.count().where(AuditEntry.action == "record.view").run() == 0


async def test_a_reason_is_required_and_audited_with_the_view(
    web: CheckedClient, ada: Person, keyring: Keyring
) -> None:
    child = await create_child(keyring, child_details(ada.authority_id))
    await search_for(web)
    for bad in ("", "because I can"):
        refused = await open_with(web, child, bad)
        assert refused.status_code == 400
        assert "Select why you are opening this record" in refused.text
    opened = await open_with(web, child, "new_to_caseload")
    assert opened.status_code == 200
    assert opened.headers["cache-control"] == "no-store"
    for shown in (
        "Zoë O&#39;Brien-Smith",
        "17 Quillfeather Lane",
        "Maeve Quillfeather",
        "07700 900 417",
        "Mother",
    ):
        assert shown in opened.text
    views = await AuditEntry.select().where(AuditEntry.action == "record.view").run()
    assert [(v["actor_id"], v["child_id"], v["reason"], v["child_authority_id"]) for v in views] == [
        (ada.id, child.id, "new_to_caseload", ada.authority_id)
    ]


async def test_a_sensitive_service_is_shown_in_full_only_to_its_recorder(
    web: CheckedClient, ada: Person, keyring: Keyring
) -> None:
    child = await create_child(keyring, child_details(ada.authority_id))  # with a mental health service
    await search_for(web)
    other = await open_with(web, child)
    assert "A sensitive service is involved. Contact the local Signpost team on 01632 960 001" in other.text
    for hidden in ("Young People", "Iolo", "Mental health", "cypmhs"):
        assert hidden not in other.text
    await Involvement.update({Involvement.recorded_by: ada.id}).where(Involvement.child == child.id).run()
    recorder = await open_with(web, child)
    assert "Young People&#39;s Mental Health Service (you)" in recorder.text
    assert "Iolo Pemberton-Hart" in recorder.text
    assert "A sensitive service is involved" not in recorder.text


async def test_a_shielded_record_is_minimal_and_alerts_the_privacy_officer(
    web: CheckedClient, ada: Person, keyring: Keyring, clock: FakeClock
) -> None:
    child = await create_child(keyring, replace(child_details(ada.authority_id), shielded=True))
    await search_for(web)
    seen = await open_with(web, child)
    assert seen.status_code == 200
    assert "This record is shielded" in seen.text
    assert "01632 960 001" in seen.text  # the local Signpost team's number
    for hidden in ("Quillfeather", "Yarrow", "NB12", "Maeve", "07700", "Iolo"):
        assert hidden not in seen.text
    alerts = await Alert.select().run()
    assert [(a["kind"], a["practitioner_id"], a["child_id"], a["authority_id"]) for a in alerts] == [
        ("shielded_access", ada.id, child.id, ada.authority_id)
    ]
    view = (await AuditEntry.select().where(AuditEntry.action == "record.view").run())[0]
    assert view["detail"] == '{"break_glass":false,"shielded":true}'
    assert alerts[0]["audit_seq"] == view["seq"]

    # The authority's own Signpost team sees the whole record, and raises no alert.
    web.cookies.clear()
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org")
    await search_for(web)
    team = await open_with(web, child)
    assert "This record is shielded" not in team.text
    assert "17 Quillfeather Lane" in team.text
    assert await Alert.count().run() == 1


async def test_the_daily_view_quota(
    web: CheckedClient, ada: Person, keyring: Keyring, clock: FakeClock
) -> None:
    child = await create_child(keyring, child_details(ada.authority_id))
    await search_for(web)
    for _ in range(6):
        assert (await open_with(web, child)).status_code == 200
    refused = await open_with(web, child)
    assert refused.status_code == 429
    assert "You have opened too many records today" in refused.text
    assert "Quillfeather" not in refused.text
    assert [a["kind"] for a in await Alert.select().run()] == ["quota_breach"]
    assert await AuditEntry.count().where(AuditEntry.action == "record.view").run() == 6


async def test_break_glass_at_the_view_quota_breaks_nothing(
    web: CheckedClient, ada: Person, keyring: Keyring
) -> None:
    await Practitioner.update({Practitioner.child_protection: True}).where(Practitioner.id == ada.id).run()
    child = await create_child(keyring, replace(child_details(ada.authority_id), shielded=True))
    await search_for(web)
    for _ in range(6):  # the day's quota in this test: six views
        assert (await open_with(web, child)).status_code == 200
    refused = await web.post(
        f"/records/{child.id}/break-glass",
        data={**token(web), "reason": "safeguarding_concern", "understood": "yes"},
    )
    assert refused.status_code == 429
    assert "17 Quillfeather Lane" not in refused.text
    assert await ShieldOverride.count().run() == 0
    assert await AuditEntry.count().where(AuditEntry.action == "record.break_glass").run() == 0
    assert await Alert.count().where(Alert.kind == "break_glass").run() == 0
    assert await Alert.count().where(Alert.kind == "quota_breach").run() == 1  # the refusal, told


async def test_break_glass_needs_the_permission_a_key_touch_a_reason_and_lasts_one_session(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    ada, ada_key = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org"
    )
    child = await create_child(keyring, replace(child_details(ada.authority_id), shielded=True))
    await search_for(web)
    shielded = await open_with(web, child)
    assert "This record is shielded" in shielded.text
    assert "Override shielding" not in shielded.text  # no child-protection permission
    assert (await web.get(f"/records/{child.id}/break-glass")).status_code == 403

    web.cookies.clear()
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org")
    granted = await web.post(
        f"/admin/users/{ada.id}/child-protection", data={**token(web), "child_protection": "yes"}
    )
    assert granted.status_code == 200
    assert "Withdraw child protection" in granted.text

    web.cookies.clear()
    assert (await sign_in(web, ada_key, ORIGIN, email=ada.email)).status_code == 200
    await search_for(web)
    assert "Override shielding (child protection only)" in (await open_with(web, child)).text
    clock.advance(minutes=6)  # the key touch of sign-in is now too old
    stale = await web.get(f"/records/{child.id}/break-glass", follow_redirects=False)
    back = f"/records/{child.id}/break-glass"
    assert (stale.status_code, stale.headers["location"]) == (303, f"/step-up?next={back}")
    assert f'data-next="{back}"' in (await web.get(stale.headers["location"])).text  # then back here
    assert (await sign_in(web, ada_key, ORIGIN)).status_code == 200  # a step-up touch
    warning = await web.get(f"/records/{child.id}/break-glass")
    assert "may be at risk of harm if they are found" in warning.text
    unconfirmed = await web.post(
        f"/records/{child.id}/break-glass", data={**token(web), "reason": "safeguarding_concern"}
    )
    assert unconfirmed.status_code == 400
    assert await ShieldOverride.count().run() == 0
    broken = await web.post(
        f"/records/{child.id}/break-glass",
        data={**token(web), "reason": "safeguarding_concern", "understood": "yes"},
    )
    assert broken.status_code == 200
    assert "17 Quillfeather Lane" in broken.text
    glass = (await AuditEntry.select().where(AuditEntry.action == "record.break_glass").run())[0]
    assert (glass["actor_id"], glass["child_id"], glass["reason"]) == (
        ada.id,
        child.id,
        "safeguarding_concern",
    )
    alerts = await Alert.select().where(Alert.kind == "break_glass").run()
    assert [(a["practitioner_id"], a["child_id"], a["audit_seq"]) for a in alerts] == [
        (ada.id, child.id, glass["seq"])
    ]
    views = await AuditEntry.select().where(AuditEntry.action == "record.view").order_by(AuditEntry.seq).run()
    assert views[-1]["detail"] == '{"break_glass":true,"shielded":true}'
    assert "17 Quillfeather Lane" in (await open_with(web, child)).text  # for the rest of this session

    await web.post("/logout", data=token(web))
    assert await ShieldOverride.count().run() == 0  # gone with the session
    assert (await sign_in(web, ada_key, ORIGIN, email=ada.email)).status_code == 200
    await search_for(web)
    assert "This record is shielded" in (await open_with(web, child)).text  # a new session, shielded again


async def test_numbers_too_large_for_any_row_are_not_found(web: CheckedClient, ada: Person) -> None:
    huge = 10**30
    for url in (f"/records/{huge}", f"/records/{huge}/involvement", f"/records/{huge}/break-glass"):
        assert (await web.get(url)).status_code == 404
    assert (await web.post(f"/notifications/{huge}/read", data=token(web))).status_code == 404
    assert (
        await web.post(f"/records/{huge}", data={**token(web), "reason": "assessment"})
    ).status_code == 404


async def test_the_authoritys_team_sees_a_sensitive_service_to_broker_contact(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    team, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org"
    )
    child = await create_child(keyring, child_details(team.authority_id))
    await search_for(web)
    opened = await open_with(web, child)
    assert "Iolo Pemberton-Hart" in opened.text
    assert "A sensitive service is involved" not in opened.text


async def test_nobody_grants_themselves_break_glass_and_withdrawing_ends_overrides(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    team, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org"
    )
    refused = await web.post(
        f"/admin/users/{team.id}/child-protection", data={**token(web), "child_protection": "yes"}
    )
    assert refused.status_code == 403
    ada = await make_person(keyring, clock.now, email="ada@riverside.example.org")
    session = (
        await Session.insert(
            Session(
                token_hash="0" * 64,
                practitioner=ada.id,
                purpose="signed_in",
                created_at=clock.now,
                last_seen_at=clock.now,
            )
        )
        .returning(Session.id)
        .run()
    )
    await ShieldOverride.insert(
        ShieldOverride(session=session[0]["id"], child_id=1, granted_at=clock.now)
    ).run()
    granted = await web.post(
        f"/admin/users/{ada.id}/child-protection", data={**token(web), "child_protection": "yes"}
    )
    assert granted.status_code == 200
    assert await ShieldOverride.count().run() == 1
    await web.post(f"/admin/users/{ada.id}/child-protection", data={**token(web), "child_protection": "no"})
    assert await ShieldOverride.count().run() == 0


async def test_an_over_long_date_part_is_an_error_not_cut_short(web: CheckedClient, ada: Person) -> None:
    answer = await web.post(
        "/search",
        data={
            **token(web),
            "family_name": "Smith",
            "given_name": "Zoe",
            "dob-day": "28",
            "dob-month": "2",
            "dob-year": "20145",
        },
    )
    assert answer.status_code == 400
    assert "year must include 4 numbers" in answer.text
    assert 'value="20145"' in answer.text


async def test_a_record_kept_with_consent_says_so_and_until_when_and_nothing_more(
    web: CheckedClient, ada: Person, keyring: Keyring
) -> None:
    kept = replace(
        child_details(ada.authority_id),
        retention_state=RetentionState.kept_with_consent,
        keep_until=date(2035, 1, 1),
    )
    child = await create_child(keyring, kept)
    await search_for(web)
    opened = await open_with(web, child)
    assert opened.status_code == 200
    assert "Kept past 18 with the young person&#39;s consent, until 1 January 2035." in opened.text
    assert "receipt" not in opened.text.lower()
    assert "withdraw" not in opened.text.lower()


async def test_a_record_without_consent_has_no_consent_marker(
    web: CheckedClient, ada: Person, keyring: Keyring
) -> None:
    child = await create_child(keyring, child_details(ada.authority_id))
    await search_for(web)
    opened = await open_with(web, child)
    assert opened.status_code == 200
    assert "Kept past 18" not in opened.text
