"""The admin's feed, review, correction and shielding pages and the privacy officer's shielding
reviews, through the web app on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from app.audit.tables import Alert, AuditEntry
from app.crypto.keyring import Keyring
from app.feeds.corrections import value_hash
from app.feeds.format import to_columns, write_feed
from app.feeds.tables import FeedReview, Shielding
from app.identity.service import Role
from app.records.schemas import Address, ChildDetails, ChildRecord
from app.records.service import create_child, load_child
from app.records.tables import Child, EducationSetting, LocalAuthority
from app.settings import DatabaseUrl
from tests.conftest import dev_settings_for
from tests.factories import child_details, make_authority
from tests.identity_flow import FakeClock, Person, signed_in_as
from tests.pagecheck import CheckedClient

ORIGIN = "http://testserver.local"


@pytest.fixture
async def web(
    app_factory: Any, data_dir: Path, db_url: DatabaseUrl, clock: FakeClock
) -> AsyncIterator[CheckedClient]:
    app = app_factory(settings=dev_settings_for(data_dir, db_url), clock=clock)
    async with CheckedClient(app=app, base_url=ORIGIN) as client:
        yield client


@pytest.fixture
async def team(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> Person:
    person, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org"
    )
    return person


def token(web: CheckedClient) -> dict[str, str]:
    return {"_csrf_token": web.cookies["csrftoken"]}


async def code_of(authority_id: int) -> str:
    [row] = await LocalAuthority.select(LocalAuthority.code).where(LocalAuthority.id == authority_id).run()
    return str(row["code"])


def feed_of(code: str, *children: ChildDetails) -> bytes:
    stream = io.StringIO(newline="")
    write_feed(stream, [to_columns(c, code) for c in children])
    return stream.getvalue().encode("utf-8")


async def upload(web: CheckedClient, content: bytes, source: str = "school-census") -> Any:
    return await web.post(
        "/admin/feeds",
        data={**token(web), "source": source},
        files={"feed": ("feed.csv", content, "text/csv")},
    )


def plain(child: ChildDetails) -> ChildDetails:
    return replace(child, involvements=())


async def test_loading_a_feed_reports_what_it_did(web: CheckedClient, team: Person, keyring: Keyring) -> None:
    code = await code_of(team.authority_id)
    page = await web.get("/admin/feeds")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    new = plain(child_details(team.authority_id, given_name="Isla", family_name="Nguyen"))
    done = await upload(web, feed_of(code, new))
    assert done.status_code == 200, done.text
    assert "Feed loaded" in done.text
    assert "school-census" in done.text
    assert await Child.count().run() == 1
    assert "school-census" in (await web.get("/admin/feeds")).text  # listed as loaded lately


async def test_a_bad_feed_names_each_line_and_column_and_loads_nothing(
    web: CheckedClient, team: Person
) -> None:
    code = await code_of(team.authority_id)
    good = plain(child_details(team.authority_id))
    content = feed_of(code, good, replace(good, given_name="Zoë", family_name="Smith")).decode()
    content = content.replace("Smith", "Sm1th").replace("local_authority,", "notes,local_authority,", 1)
    refused = await upload(web, content.encode())
    assert refused.status_code == 400
    assert "Nothing was loaded" in refused.text
    assert "notes" in refused.text
    assert "Free-text columns are not accepted" in refused.text
    fixed = content.replace("notes,local_authority,", "local_authority,", 1)
    refused = await upload(web, fixed.encode())
    assert refused.status_code == 400
    assert re.search(r"<td[^>]*>3</td>\s*<td[^>]*>family_name</td>", refused.text), refused.text
    assert await Child.count().run() == 0
    for bad, message in (({"source": "Not A Source!"}, "lower-case"), ({}, "Select a CSV file")):
        data = {**token(web), "source": "school-census", **bad}
        files = {"feed": ("feed.csv", fixed.encode(), "text/csv")} if "source" in bad else None
        page = await web.post("/admin/feeds", data=data, files=files)
        assert page.status_code == 400
        assert message in page.text
    not_text = await upload(web, b"\xff\xfe\x00bad")
    assert not_text.status_code == 400
    assert "UTF-8" in not_text.text


async def test_a_feed_for_another_authority_is_refused_on_the_upload(
    web: CheckedClient, team: Person
) -> None:
    other = await make_authority("E09000002", "Southshire Council")
    refused = await upload(web, feed_of("E09000002", plain(child_details(other))))
    assert refused.status_code == 400
    assert "your own authority" in refused.text
    assert await Child.count().run() == 0


async def backdated(keyring: Keyring, details: ChildDetails, clock: FakeClock) -> ChildRecord:
    """A record last changed a day before the (fake) clock, so rows queued now are newer."""
    record = await create_child(keyring, details)
    await Child.update({Child.updated_at: clock.now - timedelta(days=1)}).where(Child.id == record.id).run()
    return record


async def queued(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock, **change: Any
) -> tuple[ChildRecord, int]:
    record = await backdated(keyring, child_details(team.authority_id), clock)
    row = replace(plain(record.details), **change)
    assert "Feed loaded" in (await upload(web, feed_of(await code_of(team.authority_id), row))).text
    [item] = await FeedReview.select(FeedReview.id).where(FeedReview.status == "pending").run()
    return record, int(item["id"])


async def test_merging_a_queued_row_updates_the_record_and_audits_both_sides(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    record, item = await queued(web, team, keyring, clock, family_name="O'Brein-Smith")
    queue = await web.get("/admin/review")
    assert f"/admin/review/{item}" in queue.text
    page = await web.get(f"/admin/review/{item}")
    assert page.status_code == 200
    assert "O&#39;Brein-Smith" in page.text
    assert record.signpost_id[:4] in page.text
    assert page.headers["cache-control"] == "no-store"
    viewed = await AuditEntry.select().where(AuditEntry.action == "feed.review_viewed").run()
    assert [v["child_id"] for v in viewed] == [record.id]

    missing = await web.post(f"/admin/review/{item}", data={**token(web), "decision": "merge"})
    assert missing.status_code == 400
    assert "Select the record" in missing.text
    done = await web.post(
        f"/admin/review/{item}",
        data={**token(web), "decision": "merge", "target": str(record.id)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = await load_child(keyring, record.id)
    assert after.details.family_name == "O'Brein-Smith"
    assert [(f.given_name, f.family_name) for f in after.details.former_names] == [("Zoë", "O'Brien-Smith")]
    assert after.details.involvements == record.details.involvements
    [decided] = await FeedReview.select().where(FeedReview.id == item).run()
    assert (decided["status"], decided["row"], decided["child"]) == ("merged", None, record.id)
    [merged] = await AuditEntry.select().where(AuditEntry.action == "feed.review_merged").run()
    assert merged["child_id"] == record.id
    assert f"feed_review:{item}" in merged["subjects"]
    assert (await web.get(f"/admin/review/{item}")).status_code == 404  # decided: gone from the queue


async def test_a_duplicate_is_merged_in_with_its_involvements_and_names(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    keep = await backdated(keyring, child_details(team.authority_id), clock)
    twin = await create_child(
        keyring,
        replace(
            child_details(team.authority_id, given_name="Zoe", family_name="OBrien Smith"), shielded=True
        ),
    )
    row = replace(plain(keep.details), given_name="Zoey")
    assert "Feed loaded" in (await upload(web, feed_of(await code_of(team.authority_id), row))).text
    [item] = await FeedReview.select().run()
    assert set(item["candidates"].split(",")) == {str(keep.id), str(twin.id)}
    done = await web.post(
        f"/admin/review/{item['id']}",
        data={**token(web), "decision": "merge", "target": str(keep.id), f"also-{twin.id}": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert await Child.count().where(Child.id == twin.id).run() == 0
    after = await load_child(keyring, keep.id)
    assert len(after.details.involvements) == 2  # the twin's moved across
    assert after.details.shielded  # a merge never loses shielding
    assert ("Zoe", "OBrien Smith") in [(f.given_name, f.family_name) for f in after.details.former_names]
    actions = {r["action"] for r in await AuditEntry.select(AuditEntry.action).run()}
    assert {"record.merged", "record.merged_away", "feed.review_merged"} <= actions


async def test_a_new_record_beside_a_shielded_one_needs_the_team_checked(
    web: CheckedClient, team: Person, keyring: Keyring
) -> None:
    record = await create_child(keyring, replace(child_details(team.authority_id), shielded=True))
    row = replace(
        plain(record.details), family_name="Jones", address=Address(("1 Refuge Road",), "Yarrow", "NB9 9ZZ")
    )
    assert "Feed loaded" in (await upload(web, feed_of(await code_of(team.authority_id), row))).text
    [item] = await FeedReview.select().run()
    assert item["why"] == "shielded"
    page = await web.get(f"/admin/review/{item['id']}")
    assert "is shielded" in page.text
    refused = await web.post(f"/admin/review/{item['id']}", data={**token(web), "decision": "create"})
    assert refused.status_code == 400
    assert "check with the Signpost team" in refused.text
    assert await Child.count().run() == 1
    made = await web.post(
        f"/admin/review/{item['id']}",
        data={**token(web), "decision": "create", "checked_with_team": "yes"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert await Child.count().run() == 2


async def test_rejecting_erases_the_row_and_other_authorities_see_nothing(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    _, item = await queued(web, team, keyring, clock, family_name="O'Brein-Smith")
    bad = await web.post(f"/admin/review/{item}", data={**token(web), "decision": "maybe"})
    assert bad.status_code == 400
    assert "Choose what to do" in bad.text
    await web.post("/logout", data=token(web))
    await signed_in_as(
        web,
        keyring,
        clock.now,
        ORIGIN,
        Role.la_admin,
        "team@southshire.example.org",
        authority="Southshire Council",
    )
    assert (await web.get(f"/admin/review/{item}")).status_code == 404
    assert "Nothing is waiting" in (await web.get("/admin/review")).text
    assert (
        await web.post(f"/admin/review/{item}", data={**token(web), "decision": "reject"})
    ).status_code == 404
    await web.post("/logout", data=token(web))
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team2@northshire.example.org")
    done = await web.post(
        f"/admin/review/{item}", data={**token(web), "decision": "reject"}, follow_redirects=False
    )
    assert done.status_code == 303
    [row] = await FeedReview.select().where(FeedReview.id == item).run()
    assert (row["status"], row["row"]) == ("rejected", None)


def correction_form(details: ChildDetails, **change: str) -> dict[str, str]:
    address = details.address
    assert address is not None
    form = {
        "given_name": details.given_name,
        "family_name": details.family_name,
        "date_of_birth-day": str(details.date_of_birth.day),
        "date_of_birth-month": str(details.date_of_birth.month),
        "date_of_birth-year": str(details.date_of_birth.year),
        "gender": details.gender.value,
        "address_line_1": address.lines[0],
        "address_line_2": address.lines[1] if len(address.lines) > 1 else "",
        "town": address.town,
        "postcode": address.postcode,
        "reason": "rectification_request",
    }
    for i, carer in enumerate(details.carers):
        form[f"carer-{i}-name"] = carer.name
        form[f"carer-{i}-relationship"] = carer.relationship.value
        form[f"carer-{i}-telephone"] = carer.telephone or ""
    return {**form, **change}


async def test_a_correction_is_audited_as_hashes_never_values(
    web: CheckedClient, team: Person, keyring: Keyring
) -> None:
    record = await create_child(keyring, child_details(team.authority_id))
    page = await web.get(f"/admin/records/{record.id}/correct")
    assert page.status_code == 200
    assert "O&#39;Brien-Smith" in page.text
    stamp = re.search(r'name="stamp" value="([^"]+)"', page.text)
    assert stamp is not None
    form = correction_form(
        record.details,
        family_name="Quillfeather",
        keep_former_name="yes",
        **{"carer-0-telephone": "07700 900 999"},
    )
    bad = await web.post(
        f"/admin/records/{record.id}/correct", data={**token(web), **form, "stamp": stamp[1], "reason": ""}
    )
    assert bad.status_code == 400
    assert "Select why" in bad.text
    bad = await web.post(
        f"/admin/records/{record.id}/correct",
        data={**token(web), **form, "stamp": stamp[1], "date_of_birth-month": "13"},
    )
    assert bad.status_code == 400
    assert "real date" in bad.text
    done = await web.post(
        f"/admin/records/{record.id}/correct", data={**token(web), **form, "stamp": stamp[1]}
    )
    assert done.status_code == 200
    assert "3 field(s) corrected" in done.text
    after = await load_child(keyring, record.id)
    assert after.details.family_name == "Quillfeather"
    assert after.details.carers[0].telephone == "07700 900 999"
    assert [(f.given_name, f.family_name) for f in after.details.former_names] == [("Zoë", "O'Brien-Smith")]
    entries = await AuditEntry.select().where(AuditEntry.action == "record.corrected").run()
    fields = sorted(
        e["detail"]["field"] if isinstance(e["detail"], dict) else _detail(e)["field"] for e in entries
    )
    assert fields == ["carer_1_telephone", "family_name", "former_names"]
    text = " ".join(str(e) for e in entries)
    for value in ("Quillfeather", "O'Brien", "07700 900 999", "07700 900 417"):
        assert value not in text
    family = next(_detail(e) for e in entries if _detail(e)["field"] == "family_name")
    assert family["old"] == value_hash(keyring, "family_name", "O'Brien-Smith")
    assert family["new"] == value_hash(keyring, "family_name", "Quillfeather")
    assert all(e["reason"] == "rectification_request" for e in entries)
    setting = (
        await EducationSetting.insert(
            EducationSetting(
                local_authority=team.authority_id, name="Yarrow Primary School", telephone="01632 960 100"
            )
        )
        .returning(EducationSetting.id)
        .run()
    )
    page = await web.get(f"/admin/records/{record.id}/correct")
    fresh = re.search(r'name="stamp" value="([^"]+)"', page.text)
    assert fresh is not None
    assert "Yarrow Primary School" in page.text
    school = {
        "education_setting": str(setting[0]["id"]),
        "education_start-day": "1",
        "education_start-month": "9",
        "education_start-year": "2019",
    }
    wrong = await web.post(
        f"/admin/records/{record.id}/correct",
        data={**token(web), **form, **school, "education_setting": "99", "stamp": fresh[1]},
    )
    assert wrong.status_code == 400
    assert "Select an education setting from the list" in wrong.text
    moved_school = await web.post(
        f"/admin/records/{record.id}/correct", data={**token(web), **form, **school, "stamp": fresh[1]}
    )
    assert "2 field(s) corrected" in moved_school.text
    after = await load_child(keyring, record.id)
    assert (after.details.education_setting_id, after.details.education_start_date) == (
        setting[0]["id"],
        date(2019, 9, 1),
    )
    stale = await web.post(
        f"/admin/records/{record.id}/correct", data={**token(web), **form, "stamp": stamp[1]}
    )
    assert stale.status_code == 409
    assert "changed this record" in stale.text


def _detail(entry: dict[str, Any]) -> dict[str, Any]:
    import json

    detail = entry["detail"]
    return detail if isinstance(detail, dict) else json.loads(detail)


async def test_another_authoritys_record_cannot_be_corrected_or_shielded(
    web: CheckedClient, team: Person, keyring: Keyring
) -> None:
    other = await make_authority("E09000002", "Southshire Council")
    record = await create_child(keyring, child_details(other))
    for path in ("correct", "shielding"):
        assert (await web.get(f"/admin/records/{record.id}/{path}")).status_code == 404
        posted = await web.post(f"/admin/records/{record.id}/{path}", data={**token(web), "action": "lift"})
        assert posted.status_code == 404


async def test_shielding_with_a_review_date_and_the_privacy_officers_list(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    record = await create_child(keyring, child_details(team.authority_id))
    page = await web.get(f"/admin/records/{record.id}/shielding")
    assert 'name="review-month" type="text" value="5"' in page.text or 'value="5"' in page.text  # 24 May 2027
    refused = await web.post(
        f"/admin/records/{record.id}/shielding",
        data={
            **token(web),
            "action": "shield",
            "reason": "refuge",
            "review-day": "1",
            "review-month": "1",
            "review-year": "2020",
        },
    )
    assert refused.status_code == 400
    assert "in the future" in refused.text
    done = await web.post(
        f"/admin/records/{record.id}/shielding",
        data={
            **token(web),
            "action": "shield",
            "reason": "refuge",
            "review-day": "24",
            "review-month": "12",
            "review-year": "2026",
        },
    )
    assert done.status_code == 200
    assert "Record shielded" in done.text
    [row] = await Child.select(Child.shielded).where(Child.id == record.id).run()
    assert row["shielded"]
    [shielding] = await Shielding.select().run()
    assert (shielding["reason"], shielding["review_date"]) == ("refuge", date(2026, 12, 24))

    await web.post("/logout", data=token(web))
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.privacy_officer, "dpo@northshire.example.org")
    assert "No shielding reviews are due" in (await web.get("/privacy/shielding")).text
    clock.advance(days=31)  # the session has long expired: sign in again
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.privacy_officer, "dpo2@northshire.example.org")
    due = await web.get("/privacy/shielding")
    assert record.signpost_id[:4] in due.text
    assert "Living in a refuge" in due.text
    assert "Zoë" not in due.text  # the officer sees the ID, not the name

    await web.post("/logout", data=token(web))
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team2@northshire.example.org")
    refused = await web.post(f"/admin/records/{record.id}/shielding", data={**token(web), "action": "lift"})
    assert refused.status_code == 400
    assert "Select why shielding is being lifted" in refused.text
    lifted = await web.post(
        f"/admin/records/{record.id}/shielding",
        data={**token(web), "action": "lift", "lift_reason": "risk_ended"},
    )
    assert lifted.status_code == 200
    assert "Shielding lifted" in lifted.text
    [row] = await Child.select(Child.shielded).where(Child.id == record.id).run()
    assert not row["shielded"]
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.seq).run()]
    assert "record.shielded" in actions
    assert "record.unshielded" in actions


async def test_a_record_moved_away_needs_a_new_search_to_open(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    other = await make_authority("E09000002", "Southshire Council")
    record = await create_child(keyring, child_details(team.authority_id))
    found = await web.post(
        "/search",
        data={
            **token(web),
            "family_name": "O'Brien-Smith",
            "given_name": "Zoe",
            "dob-day": "28",
            "dob-month": "2",
            "dob-year": "2014",
        },
    )
    assert "1 child matches" in found.text
    from app.audit.service import OPERATOR
    from app.feeds.importer import import_feed

    clock.advance(minutes=5)
    moved = feed_of("E09000002", replace(plain(record.details), local_authority_id=other)).decode()
    report = await import_feed(
        lambda: io.StringIO(moved, newline=""), keyring, source="test", actor=OPERATOR, now=clock.now
    )
    assert report.moved == 1
    clock.advance(minutes=5)
    assert (
        await web.post(f"/records/{record.id}", data={**token(web), "reason": "assessment"})
    ).status_code == 404


async def test_another_authoritys_shielded_record_shows_as_no_more_than_that(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    elsewhere = await make_authority("E09000002", "Southshire Council")
    hidden = await create_child(
        keyring, replace(child_details(elsewhere, family_name="Quillfeather-Jones"), shielded=True)
    )
    row = replace(
        plain(hidden.details), family_name="Made-Up", local_authority_id=team.authority_id, shielded=False
    )
    assert "Feed loaded" in (await upload(web, feed_of(await code_of(team.authority_id), row))).text
    [item] = await FeedReview.select().run()
    assert item["why"] == "shielded"
    page = await web.get(f"/admin/review/{item['id']}")
    assert "A shielded record" in page.text
    assert "Southshire Council" in page.text
    assert "Quillfeather-Jones" not in page.text
    assert hidden.signpost_id[:4] not in page.text
    [alert] = await Alert.select().run()
    assert (alert["kind"], alert["authority_id"], alert["child_id"]) == (
        "shielded_access",
        elsewhere,
        hidden.id,
    )


async def test_a_late_merge_keeps_the_newer_record_and_a_second_decision_finds_nothing(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    record, item = await queued(web, team, keyring, clock, family_name="O'Brein-Smith")
    await (
        Child.update({Child.updated_at: clock.now + timedelta(minutes=1)}).where(Child.id == record.id).run()
    )
    decision = {**token(web), "decision": "merge", "target": str(record.id)}
    done = await web.post(f"/admin/review/{item}", data=decision, follow_redirects=False)
    assert done.status_code == 303
    after = await load_child(keyring, record.id)
    assert after.details.family_name == "O'Brien-Smith"  # the record's newer details stand
    again = await web.post(f"/admin/review/{item}", data=decision, follow_redirects=False)
    assert again.status_code == 404
    assert await AuditEntry.count().where(AuditEntry.action == "feed.review_merged").run() == 1


async def test_a_duplicate_holding_the_young_persons_decision_is_never_the_one_removed(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    keep = await backdated(keyring, child_details(team.authority_id), clock)
    other = await backdated(
        keyring, child_details(team.authority_id, given_name="Zoe", family_name="OBrien Smith"), clock
    )
    await (
        Child.update({Child.retention_state: "kept_with_consent", Child.keep_until: date(2035, 1, 1)})
        .where(Child.id == other.id)
        .run()
    )
    row = replace(plain(keep.details), given_name="Zoey")
    assert "Feed loaded" in (await upload(web, feed_of(await code_of(team.authority_id), row))).text
    [item] = await FeedReview.select().run()
    refused = await web.post(
        f"/admin/review/{item['id']}",
        data={**token(web), "decision": "merge", "target": str(keep.id), f"also-{other.id}": "yes"},
    )
    assert refused.status_code == 400
    assert "choose it as the record to keep" in refused.text
    assert await Child.count().run() == 2
    assert (await load_child(keyring, keep.id)).details.given_name == "Zoë"  # nothing changed
    [pending] = await FeedReview.select(FeedReview.status).run()
    assert pending["status"] == "pending"


async def test_after_a_merge_subject_access_sees_both_trails(
    web: CheckedClient, team: Person, keyring: Keyring, clock: FakeClock
) -> None:
    from app.audit.service import child_trail

    keep = await backdated(keyring, child_details(team.authority_id), clock)
    other = await backdated(
        keyring, child_details(team.authority_id, given_name="Zoe", family_name="OBrien Smith"), clock
    )
    from app.audit import service as audit

    await audit.record(
        "record.team_viewed", audit.OPERATOR, at=clock.now, child_id=other.id, detail={"page": "correct"}
    )
    other_trail = [entry.seq for entry, _ in await child_trail(other.id)]
    assert other_trail  # the duplicate has a history of its own
    row = replace(plain(keep.details), given_name="Zoey")
    await upload(web, feed_of(await code_of(team.authority_id), row))
    [item] = await FeedReview.select().run()
    await web.post(
        f"/admin/review/{item['id']}",
        data={**token(web), "decision": "merge", "target": str(keep.id), f"also-{other.id}": "yes"},
    )
    merged = [entry.seq for entry, _ in await child_trail(keep.id)]
    assert set(other_trail) <= set(merged)
    assert any(entry.action == "record.merged_away" for entry, _ in await child_trail(keep.id))
