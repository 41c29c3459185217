"""Finding a child through the web app, on SQLite and PostgreSQL: the search rules and their
errors, normalisation, former names, the 10-result cap, shielding in results, the audit of
every record returned, htmx fragments and full pages, and per-user quotas shared by workers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from app.audit.tables import Alert, AuditEntry
from app.crypto.keyring import Keyring
from app.identity.service import Role
from app.records.codes import Gender
from app.records.ids import format_signpost_id
from app.records.schemas import ChildRecord, PersonName
from app.records.service import create_child
from app.search import quotas
from app.search.tables import UsageCounter
from app.settings import DatabaseUrl, load_settings
from tests.conftest import env_for
from tests.factories import child_details
from tests.identity_flow import FakeClock, Person, signed_in_as
from tests.pagecheck import CheckedClient

ORIGIN = "http://testserver.local"
BORN = {"dob-day": "28", "dob-month": "2", "dob-year": "2014"}


@pytest.fixture
async def searcher(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> Person:
    person, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org"
    )
    return person


@pytest.fixture
async def zoe(searcher: Person, keyring: Keyring) -> ChildRecord:
    former = (PersonName(given_name="Zoë", family_name="Quill"),)
    return await create_child(keyring, child_details(searcher.authority_id, former_names=former))


async def find(web: CheckedClient, **fields: str) -> Any:
    return await web.post("/search", data={"_csrf_token": web.cookies["csrftoken"], **fields})


async def find_fragment(web: CheckedClient, target: str = "results", **fields: str) -> Any:
    """The search as htmx sends it, from a form aimed at ``target`` (the results, or the whole
    search area when the form shows errors)."""
    data = {"_csrf_token": web.cookies["csrftoken"], **fields}
    return await web.post("/search", data=data, headers={"HX-Request": "true", "HX-Target": target})


async def test_the_rules_and_their_errors(web: CheckedClient, searcher: Person) -> None:
    empty = await find(web)
    assert empty.status_code == 400
    for message in (
        "Enter the child&#39;s family name, or search by Signpost ID",
        "Enter the child&#39;s date of birth",
        "Enter a given name, postcode or gender as well",
    ):
        assert message in empty.text
    only_two = await find(web, family_name="Smith", **BORN)
    assert only_two.status_code == 400
    assert "Enter a given name, postcode or gender as well" in only_two.text
    cases = {
        "The date of birth": (
            {"dob-day": "30", "dob-month": "2", "dob-year": "2014"},
            "Date of birth must be a real date",
        ),
        "future": ({"dob-day": "1", "dob-month": "1", "dob-year": "2030"}, "must be today or in the past"),
        "postcode": ({**BORN, "postcode": "NOT A CODE"}, "Enter a real postcode"),
        "name": ({**BORN, "given_name": "<script>"}, "Given name must only include letters"),
        "gender": ({**BORN, "gender": "robot"}, "Select the child&#39;s gender"),
    }
    for fields, message in cases.values():
        answer = await find(web, family_name="Smith", **fields)
        assert answer.status_code == 400
        assert message in answer.text
    bad_id = await find(web, signpost_id="12345")
    assert bad_id.status_code == 400
    assert "Enter a Signpost ID of 12 letters and numbers" in bad_id.text
    assert await AuditEntry.count().where(AuditEntry.action == "record.search").run() == 0  # nothing ran


async def test_names_are_normalised_and_former_names_found(web: CheckedClient, zoe: ChildRecord) -> None:
    for family, given in (
        ("O'Brien-Smith", "Zoë"),
        ("  obrien smith ", "ZOE"),
        ("OBRIEN-SMITH", "zoe"),
        ("Quill", "Zoe"),
    ):
        answer = await find(web, family_name=family, given_name=given, **BORN)
        assert answer.status_code == 200, (family, answer.text)
        assert "1 child matches" in answer.text, (family, given)
        assert "Zoë O&#39;Brien-Smith" in answer.text
        assert "Yarrow" in answer.text
        assert "Flat 2" not in answer.text  # the results show the town, nothing more of the address
        assert "Maeve" not in answer.text
        assert "07700" not in answer.text
    assert (
        "1 child matches" in (await find(web, family_name="O'Brien-Smith", postcode="nb123xy", **BORN)).text
    )
    assert "1 child matches" in (await find(web, family_name="O'Brien-Smith", gender="female", **BORN)).text
    assert "No children match" in (await find(web, family_name="O'Brien-Smith", gender="male", **BORN)).text
    assert "No children match" in (await find(web, family_name="O'Brien", given_name="Zoe", **BORN)).text
    other_day = {**BORN, "dob-day": "27"}
    assert (
        "No children match"
        in (await find(web, family_name="O'Brien-Smith", given_name="Zoe", **other_day)).text
    )


async def test_namesakes_born_the_same_day_are_told_apart_by_the_third_identifier(
    web: CheckedClient, searcher: Person, keyring: Keyring, zoe: ChildRecord
) -> None:
    """At national scale a family name and date of birth are shared by dozens of children; the
    third identifier (and a former name's own given name) must tell them apart exactly."""
    authority = searcher.authority_id
    await create_child(
        keyring, replace(child_details(authority, postcode="NB4 1AA"), gender=Gender.male)
    )  # Zoë again, a boy elsewhere
    await create_child(keyring, child_details(authority, given_name="Ava"))  # Zoë's postcode
    former = (PersonName(given_name="Nia", family_name="O'Brien-Smith"),)
    await create_child(
        keyring,
        child_details(
            authority, given_name="Lily", family_name="Pike", postcode="NB9 9ZZ", former_names=former
        ),
    )

    async def shown(**fields: str) -> list[str]:
        answer = await find(web, family_name="O'Brien-Smith", **BORN, **fields)
        assert answer.status_code == 200, answer.text
        return sorted(
            name
            for name in ("Zoë O&#39;Brien-Smith", "Ava O&#39;Brien-Smith", "Lily Pike")
            for _ in range(answer.text.count(f">{name}<"))
        )

    assert await shown(postcode="nb12 3xy") == ["Ava O&#39;Brien-Smith", "Zoë O&#39;Brien-Smith"]
    assert await shown(postcode="NB4 1AA") == ["Zoë O&#39;Brien-Smith"]
    assert await shown(given_name="Zoe") == ["Zoë O&#39;Brien-Smith", "Zoë O&#39;Brien-Smith"]
    assert await shown(gender="male") == ["Zoë O&#39;Brien-Smith"]
    assert await shown(given_name="Nia") == ["Lily Pike"]  # her former name, with its given name
    assert await shown(postcode="NB9 9ZZ") == ["Lily Pike"]
    assert await shown(given_name="Lily") == []  # her given name now, with her family name then
    assert await shown(postcode="NB1 1AA") == []


async def test_a_signpost_id_finds_exactly_that_child(web: CheckedClient, zoe: ChildRecord) -> None:
    answer = await find(web, signpost_id=format_signpost_id(zoe.signpost_id).lower())
    assert "1 child matches" in answer.text
    assert "Zoë O&#39;Brien-Smith" in answer.text


async def test_more_than_ten_matches_show_none(
    web: CheckedClient, searcher: Person, keyring: Keyring
) -> None:
    names = [f"Child{chr(65 + n)}" for n in range(11)]
    for name in names[:10]:
        await create_child(keyring, child_details(searcher.authority_id, given_name=name, family_name="Ng"))
    ten = await find(web, family_name="Ng", gender="female", **BORN)
    assert "10 children match" in ten.text
    assert all(f"{name} Ng" in ten.text for name in names[:10])
    await create_child(keyring, child_details(searcher.authority_id, given_name=names[10], family_name="Ng"))
    eleven = await find(web, family_name="Ng", gender="female", **BORN)
    assert "More than 10 children match" in eleven.text
    assert "Refine your search" in eleven.text
    assert not any(name in eleven.text for name in names)
    searches = (
        await AuditEntry.select().where(AuditEntry.action == "record.search").order_by(AuditEntry.seq).run()
    )
    assert [(s["outcome"], s["result_count"]) for s in searches] == [("success", 10), ("too_many", 11)]
    returned = await AuditEntry.count().where(AuditEntry.action == "record.result_returned").run()
    assert returned == 10  # the ten shown; nothing for the search that showed none


async def test_every_record_returned_is_audited_without_the_terms(
    web: CheckedClient, searcher: Person, zoe: ChildRecord, keyring: Keyring
) -> None:
    twin = await create_child(keyring, child_details(searcher.authority_id, given_name="Zara"))
    answer = await find(web, family_name="O'Brien-Smith", gender="female", **BORN)
    assert "2 children match" in answer.text
    rows = await AuditEntry.select().where(AuditEntry.action.like("record.%")).order_by(AuditEntry.seq).run()
    assert [r["action"] for r in rows] == [
        "record.search",
        "record.result_returned",
        "record.result_returned",
    ]
    search = rows[0]
    assert (search["actor_id"], search["outcome"], search["result_count"]) == (searcher.id, "success", 2)
    assert sorted(search["subjects"].strip("[]").replace('"', "").split(",")) == sorted(
        [f"child:{zoe.id}", f"child:{twin.id}"]
    )
    assert search["detail"] == '{"by":"name_dob_gender"}'
    assert {r["child_id"] for r in rows[1:]} == {zoe.id, twin.id}
    assert all(r["child_authority_id"] == searcher.authority_id for r in rows[1:])
    everything = repr([sorted(r.items()) for r in await AuditEntry.select().run()]).lower()
    for term in ("brien", "zoe", "zoë", "zara", "2014-02-28", "nb12"):
        assert term not in everything


async def test_a_shielded_child_shows_no_town(web: CheckedClient, searcher: Person, keyring: Keyring) -> None:
    details = replace(child_details(searcher.authority_id, family_name="Hale"), shielded=True)
    await create_child(keyring, details)
    answer = await find(web, family_name="Hale", given_name="Zoe", **BORN)
    assert "1 child matches" in answer.text
    assert "Shielded: contact the local Signpost team" in answer.text
    assert "Yarrow" not in answer.text


async def test_htmx_gets_the_fragment_and_every_answer_is_no_store(
    web: CheckedClient, zoe: ChildRecord
) -> None:
    page = await find(web, family_name="O'Brien-Smith", given_name="Zoe", **BORN)
    fragment = await find_fragment(web, family_name="O'Brien-Smith", given_name="Zoe", **BORN)
    assert "<html" in page.text
    assert "<html" not in fragment.text
    assert "1 child matches" in fragment.text
    assert "<form" not in fragment.text  # the results alone: the form stays as the user typed it
    assert "HX-Retarget" not in fragment.headers
    wrong = await find_fragment(web)
    assert wrong.status_code == 400
    assert wrong.text.lstrip().startswith('<div id="search-area">')  # the form, with its errors
    assert (wrong.headers["hx-retarget"], wrong.headers["hx-reswap"]) == ("#search-area", "outerHTML")
    assert 'hx-target="#search-area"' in wrong.text  # so the next answer replaces the errors too
    mended = await find_fragment(web, "search-area", family_name="O'Brien-Smith", given_name="Zoe", **BORN)
    assert mended.text.lstrip().startswith('<div id="search-area">')
    assert "1 child matches" in mended.text
    assert "govuk-error-summary" not in mended.text
    assert 'hx-target="#results"' in mended.text
    for answer in (page, fragment, wrong, mended):
        assert answer.headers["cache-control"] == "no-store"
        assert "HX-Request" in answer.headers["vary"]
        assert "HX-Target" in answer.headers["vary"]
    assert (await web.get("/search?family_name=Smith")).status_code == 200  # terms in a URL do nothing
    assert "Smith" not in (await web.get("/search?family_name=Smith")).text


async def test_only_practitioners_and_the_signpost_team_search(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.police, "pc@force.example.org")
    assert (await web.get("/search")).status_code == 403
    assert (await find(web, signpost_id="7K3M9Q2XR4TD")).status_code == 403


async def test_the_search_quota_holds_across_two_app_instances(
    app_factory: Any,
    data_dir: Path,
    db_url: DatabaseUrl,
    keyring: Keyring,
    clock: FakeClock,
    zoe: ChildRecord,
) -> None:
    extra = {"SIGNPOST_DATABASE_URL": db_url.dsn} if db_url.dsn else {}
    limited = load_settings(
        env_for(
            data_dir, SIGNPOST_DEV_ALLOW_NONE_ATTESTATION="1", SIGNPOST_QUOTA_SEARCHES_PER_HOUR="3", **extra
        )
    )
    first_app = app_factory(settings=limited, clock=clock)
    second_app = app_factory(settings=limited, clock=clock)
    async with (
        CheckedClient(app=first_app, base_url=ORIGIN) as one,
        CheckedClient(app=second_app, base_url=ORIGIN) as two,
    ):
        person, _ = await signed_in_as(
            one, keyring, clock.now, ORIGIN, Role.practitioner, "bo@riverside.example.org"
        )
        for name in ("signpost_session", "csrftoken"):
            two.cookies.set(name, one.cookies[name], domain="testserver.local")
        fields = {"family_name": "O'Brien-Smith", "given_name": "Zoe", **BORN}
        assert (await find(one, **fields)).status_code == 200
        assert (await find(two, **fields)).status_code == 200
        assert (await find(one, **fields)).status_code == 200
        refused = await find(two, **fields)
        assert refused.status_code == 429
        assert "You have searched too many times" in refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert "Zoë" not in refused.text
        quotas._refused.clear()  # as another process would be: no memory of the refusal
        assert (await find(one, **fields)).status_code == 429  # refused by the shared counter
        for _ in range(5):  # into the next hour, keeping the session alive (15 minutes idle)
            clock.advance(minutes=12)
            assert (await one.get("/home")).status_code == 200
        assert (await find(one, **fields)).status_code == 200  # a new hour, a new allowance
    alerts = await Alert.select().run()
    assert [(a["kind"], a["practitioner_id"]) for a in alerts] == [("quota_breach", person.id)]  # raised once
    exceeded = await AuditEntry.count().where(AuditEntry.action == "quota.exceeded").run()
    assert exceeded == 1
    searches = await AuditEntry.count().where(AuditEntry.action == "record.search").run()
    assert searches == 4  # refused searches ran nothing


def test_the_date_of_birth_defaults_are_what_the_tests_search_for() -> None:
    assert child_details(1).date_of_birth == date(2014, 2, 28)


async def test_searches_that_match_nothing_alert_the_privacy_officer_at_the_tenth(
    web: CheckedClient, searcher: Person, zoe: ChildRecord
) -> None:
    for n in range(9):
        assert (
            "No children match"
            in (await find(web, family_name=f"Nobody-{'x' * n}", given_name="A", **BORN)).text
        )
    assert await Alert.count().run() == 0
    await find(web, family_name="Nobodyatall", given_name="A", **BORN)
    alerts = await Alert.select().run()
    assert [(a["kind"], a["practitioner_id"], a["authority_id"]) for a in alerts] == [
        ("search_pattern", searcher.id, searcher.authority_id)
    ]
    await find(web, family_name="O'Brien-Smith", given_name="Zoe", **BORN)  # a match: no more alerts
    assert await Alert.count().run() == 1
    assert await UsageCounter.count().where(UsageCounter.key.like("volume:%")).run() == 1  # one seen
