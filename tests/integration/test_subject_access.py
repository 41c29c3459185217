"""Subject access end to end through the web app, on SQLite and PostgreSQL: a citizen asks with
no account, the privacy officer matches, checks identity, records the child's view, withholds
an entry and releases with a key touch, and the requester reads the pack, as a page and as JSON.
Plus: no enumeration, per-client limits, wrong codes and the lock, expiry, the deadline's
extension and pause, own-authority limits, and the public figures."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace

from app.audit import service as audit
from app.audit.labels import ACTION_LABELS
from app.audit.tables import Alert, AuditEntry, AuditWithholding
from app.crypto.keyring import Keyring
from app.identity.service import Role, actor_for, code_matches
from app.records.ids import format_signpost_id, row_ids
from app.records.schemas import ChildDetails, ChildRecord, PersonName
from app.records.service import create_child
from app.records.tables import Carer, Child, EducationSetting, FormerName, GpPractice, Involvement
from app.subject_access import service as sar_service
from app.subject_access.tables import SubjectAccessRequest
from tests.factories import child_details
from tests.identity_flow import FakeClock, Person, make_person, sign_in, signed_in_as
from tests.pagecheck import CheckedClient
from tests.softkey import SoftKey

ORIGIN = "http://testserver.local"
OFFICER_EMAIL = "privacy@northshire.example.org"
BORN = date(2014, 2, 28)


def token(web: CheckedClient) -> dict[str, str]:
    return {"_csrf_token": web.cookies["csrftoken"]}


def dob(born: date) -> dict[str, str]:
    return {"dob-day": str(born.day), "dob-month": str(born.month), "dob-year": str(born.year)}


def ask_form(authority_id: int, **change: str) -> dict[str, str]:
    form = {
        "requester": "parent_carer",
        "local_authority": str(authority_id),
        "given_name": "Zoë",
        "family_name": "O'Brien-Smith",
        **dob(BORN),
        "postcode": "NB12 3XY",
        "requester_name": "Maeve Quillfeather",
        "address_line_1": "Flat 2",
        "address_line_2": "17 Quillfeather Lane",
        "town": "Yarrow",
        "address_postcode": "nb12 3xy",
    }
    form.update(change)
    return form


async def ask(web: CheckedClient, authority_id: int, **change: str) -> tuple[Any, str]:
    await web.get("/subject-access")
    answer = await web.post("/subject-access", data={**token(web), **ask_form(authority_id, **change)})
    found = re.search(r"<strong>([0-9A-Z]{5}-[0-9A-Z]{5})</strong>", answer.text)
    return answer, found.group(1) if found else ""


async def request_id(reference: str) -> int:
    rows = await SubjectAccessRequest.select(SubjectAccessRequest.id).where(
        SubjectAccessRequest.reference == reference.replace("-", "")
    )
    return int(rows[0]["id"])


async def open_pack(web: CheckedClient, reference: str, code: str, born: date = BORN, **extra: str) -> Any:
    await web.get("/subject-access/response")
    return await web.post(
        "/subject-access/response",
        data={**token(web), "reference": reference, "code": code, **dob(born), **extra},
    )


async def step(web: CheckedClient, url: str, data: dict[str, str]) -> Any:
    """An officer's form post, without following the redirect back to the request's page."""
    return await web.post(url, data=data, follow_redirects=False)


def code_in(letter: str) -> str:
    found = re.search(r'govuk-!-font-size-24">([0-9A-Z-]{19})</strong>', letter)
    assert found, "no access code on the letter"
    return found.group(1)


async def officer_of(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> Person:
    person, _ = await officer_with_key(web, keyring, clock)
    return person


async def officer_with_key(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> tuple[Person, SoftKey]:
    return await signed_in_as(web, keyring, clock.now, ORIGIN, Role.privacy_officer, OFFICER_EMAIL)


async def actions(*names: str) -> list[tuple[str, str, int | None]]:
    rows = (
        await AuditEntry.select().where(AuditEntry.action.is_in(list(names))).order_by(AuditEntry.seq).run()
    )
    return [(r["action"], r["actor_kind"], r["child_id"]) for r in rows]


async def ready_to_release(web: CheckedClient, rid: int, child: ChildRecord | None, clock: FakeClock) -> None:
    """Match (or record no match), record the identity check, and where a parent asks about a
    child of 12 or more, record that the child is competent and agrees."""
    back = f"/privacy/requests/{rid}"
    matched = await step(
        web, f"{back}/match", data={**token(web), "child": str(child.id) if child else "none"}
    )
    assert (matched.status_code, matched.headers.get("location")) == (303, back), matched.text
    checked = await step(
        web,
        f"{back}/identity",
        data={**token(web), "method": "in_person_documents", **_date("checked", clock.now)},
    )
    assert checked.status_code == 303, checked.text
    if 'id="competence"' in (await web.get(back)).text:  # a parent asking about a child of 12 or over
        view = await step(web, f"{back}/competence", data={**token(web), "competent": "yes", "agrees": "yes"})
        assert view.status_code == 303, view.text


def _date(name: str, moment: datetime | date) -> dict[str, str]:
    return {
        f"{name}-day": str(moment.day),
        f"{name}-month": str(moment.month),
        f"{name}-year": str(moment.year),
    }


# Asking


async def test_asking_says_the_same_whether_or_not_a_record_exists(
    web: CheckedClient, keyring: Keyring, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await make_person(keyring, clock.now)
    await create_child(keyring, child_details(person.authority_id))

    def no_child_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("asking must not look at the child records")

    # Asking never reads a child record, so neither the page nor its timing can depend on one.
    monkeypatch.setattr(Child, "select", no_child_lookup)
    monkeypatch.setattr(Child, "exists", no_child_lookup)
    monkeypatch.setattr(Child, "count", no_child_lookup)
    held, held_ref = await ask(web, person.authority_id)
    unknown, unknown_ref = await ask(web, person.authority_id, given_name="Nobody", family_name="Unheard-Of")
    monkeypatch.undo()

    assert held.status_code == unknown.status_code == 200
    assert held_ref
    assert unknown_ref
    assert held_ref != unknown_ref
    assert _same_but_tokens(held.text, unknown.text, held_ref, unknown_ref)
    assert "24 December 2026" in held.text  # received 24 November: due a calendar month later
    stored = await SubjectAccessRequest.select().order_by(SubjectAccessRequest.received_at).run()
    assert [r["status"] for r in stored] == ["received", "received"]
    assert all(r["child_id"] is None for r in stored)
    assert b"Quillfeather" not in bytes(stored[0]["requester_name"])  # encrypted
    received = await AuditEntry.select().where(AuditEntry.action == "sar.received").run()
    assert [(r["actor_kind"], r["child_id"], r["authority_id"]) for r in received] == [
        ("citizen", None, person.authority_id)
    ] * 2


def _same_but_tokens(one: str, two: str, ref_one: str, ref_two: str) -> bool:
    def clean(text: str, ref: str) -> str:
        text = text.replace(ref, "REF")
        text = re.sub(r'name="_csrf_token" value="[^"]*"', "", text)
        text = re.sub(r'content="[^"]*" name="csrf-token"|name="csrf-token" content="[^"]*"', "", text)
        return re.sub(r"nonce=\"[^\"]*\"", "", text)

    return clean(one, ref_one) == clean(two, ref_two)


async def test_asking_checks_every_field_and_stores_nothing_on_error(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    person = await make_person(keyring, clock.now)
    await web.get("/subject-access")
    empty = await web.post("/subject-access", data=token(web))
    assert empty.status_code == 400
    for message in (
        "Select who you are",
        "Select the council area where the child lives",
        "Enter the child&#39;s given name",
        "Enter the child&#39;s date of birth",
        "Enter your full name",
        "Enter the first line of your address",
        "Enter your town or city",
        "Enter your postcode",
    ):
        assert message in empty.text
    bad = await web.post(
        "/subject-access",
        data={
            **token(web),
            **ask_form(
                person.authority_id,
                requester="grandparent",
                local_authority="99999",
                family_name="<script>alert(1)</script>",
                postcode="not a postcode",
                **{"dob-year": str(clock.now.year + 1)},
            ),
        },
    )
    assert bad.status_code == 400
    assert "<script>alert(1)</script>" not in bad.text
    for message in (
        "Select who you are",
        "Select the council area where the child lives",
        "Family name must only include letters",
        "Date of birth must be today or in the past",
        "Enter a real postcode",
    ):
        assert message in bad.text
    assert await SubjectAccessRequest.count() == 0
    assert await AuditEntry.count().where(AuditEntry.action == "sar.received") == 0


async def test_asking_is_limited_per_client(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> None:
    person = await make_person(keyring, clock.now)
    for _ in range(5):  # SIGNPOST_SUBJECT_ACCESS_REQUESTS_PER_HOUR defaults to 5
        answer, _ = await ask(web, person.authority_id)
        assert answer.status_code == 200
    refused, _ = await ask(web, person.authority_id)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3600"  # the clock stands at 09:00: the hour's window
    assert await SubjectAccessRequest.count() == 5
    clock.advance(hours=1)
    again, _ = await ask(web, person.authority_id)
    assert again.status_code == 200


# The whole journey


async def _accesses(
    keyring: Keyring, authority_id: int, clock: FakeClock, details: ChildDetails | None = None
) -> tuple[ChildRecord, ChildRecord, Person]:
    """A child of the authority with two views of its record by a practitioner, and another
    child with a view of its own."""
    ada = await make_person(keyring, clock.now, email="ada@riverside.example.org")
    actor = await actor_for(ada.id)
    assert actor is not None
    child = await create_child(keyring, details or child_details(authority_id))
    other = await create_child(keyring, child_details(authority_id, given_name="Ffion", family_name="Gwyn"))
    for reason, target in (
        ("assessment", child),
        ("safeguarding_concern", child),
        ("new_to_caseload", other),
    ):
        await audit.record(
            "record.view",
            actor,
            at=clock.now - timedelta(days=3),
            child_id=target.id,
            child_authority_id=authority_id,
            reason=reason,
        )
    return child, other, ada


async def test_a_parents_request_from_asking_to_reading_the_pack(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer, key = await officer_with_key(web, keyring, clock)
    child, _, _ = await _accesses(keyring, officer.authority_id, clock)
    answer, reference = await ask(web, officer.authority_id)
    assert answer.status_code == 200
    rid = await request_id(reference)

    queue = await web.get("/privacy/requests")
    assert reference in queue.text
    assert "Due this week" not in queue.text
    page = await web.get(f"/privacy/requests/{rid}")
    assert page.status_code == 200
    assert "Maeve Quillfeather" in page.text  # the requester, for the officer
    assert "Zoë O&#39;Brien-Smith, born 28 February 2014" in page.text  # the candidate
    assert "Ffion" not in page.text  # another child is no candidate
    assert "Match the request to a record" in page.text  # what blocks release

    await ready_to_release(web, rid, child, clock)
    page = await web.get(f"/privacy/requests/{rid}")
    assert "age 12" in page.text
    views = (
        await AuditEntry.select()
        .where((AuditEntry.child_id == child.id) & (AuditEntry.action == "record.view"))
        .order_by(AuditEntry.seq)
    )
    withheld_seq = views[1]["seq"]
    review_on = (clock.now + timedelta(days=60)).date()
    withheld = await step(
        web,
        f"/privacy/requests/{rid}/withhold",
        data={
            **token(web),
            "seq": str(withheld_seq),
            "exemption": "crime_prevention",
            **_date("review", review_on),
        },
    )
    assert withheld.status_code == 303, withheld.text
    assert "Withheld (Crime and taxation" in (await web.get(f"/privacy/requests/{rid}")).text

    letter = await step(web, f"/privacy/requests/{rid}/release", data=token(web))
    assert letter.status_code == 200, letter.text
    code = code_in(letter.text)
    assert "Flat 2" in letter.text  # addressed to the requester
    assert "24 December 2026" in letter.text  # the code's expiry: 30 days
    stored = (await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid))[0]
    assert stored["status"] == "released"
    assert code.replace("-", "") not in stored["code_hash"]
    assert stored["code_hash"].startswith("$argon2id$")

    # Every step the officer took is in the audit, by the officer.
    steps = await AuditEntry.select().where(AuditEntry.action.like("sar.%")).order_by(AuditEntry.seq)
    by_officer = [(r["action"], r["actor_id"]) for r in steps if r["actor_kind"] == "practitioner"]
    assert [
        a for a, _ in by_officer if a not in ("sar.viewed", "sar.candidate_shown", "sar.queue_viewed")
    ] == [
        "sar.matched",
        "sar.identity_verified",
        "sar.competence_recorded",
        "sar.entry_withheld",
        "sar.released",
    ]
    assert {who for _, who in by_officer} == {officer.id}

    # The parent reads the pack.
    await web.post("/logout", data=token(web))
    pack = await open_pack(web, reference, code)
    assert pack.status_code == 200, pack.text
    text = pack.text
    for held in (
        "Zoë O&#39;Brien-Smith",
        "28 February 2014",
        "17 Quillfeather Lane",
        "Maeve Quillfeather",
        "07700 900 417",
        "Young People&#39;s Mental Health Service",
        "Iolo Pemberton-Hart",
        "iolo.pembertonhart@cypmhs.example.org",
        "The test-feed feed",
        "28 February 2032",  # deleted on the 18th birthday
        "Information Commissioner",
        "Rectification",
    ):
        assert held in text, held
    # The view: when, which organisation, which role, what and why; never who.
    assert re.search(
        r"<td[^>]*>21 Nov 2026 09:00</td>\s*<td[^>]*>Riverside Primary School</td>\s*"
        r"<td[^>]*>Practitioner</td>\s*<td[^>]*>Opened the record</td>\s*<td[^>]*>Assessment</td>",
        text,
    )
    assert "Ada Okafor" not in text  # not the practitioner's own name
    assert "Safeguarding concern" not in text  # the withheld view
    assert "Ffion" not in text
    assert "Gwyn" not in text
    assert "New to my caseload" not in text

    document = await open_pack(web, reference, code, format="json")
    assert document.headers["content-type"].startswith("application/json")
    assert "attachment" in document.headers["content-disposition"]
    body = json.loads(document.content)
    details = child.details
    record = body["record"]
    assert (record["given_name"], record["family_name"], record["date_of_birth"]) == (
        details.given_name,
        details.family_name,
        details.date_of_birth.isoformat(),
    )
    assert details.address is not None
    assert record["address"] == {
        "lines": list(details.address.lines),
        "town": "Yarrow",
        "postcode": "NB12 3XY",
    }
    assert [c["name"] for c in record["carers"]] == [c.name for c in details.carers]
    assert [s["practitioner_name"] for s in record["services"]] == ["Iolo Pemberton-Hart"]
    reasons = [r["reason"] for r in body["recipients"]]
    assert "Assessment" in reasons
    assert "Safeguarding concern" not in reasons
    assert "New to my caseload" not in reasons
    assert all(r["organisation"] != "Ada Okafor" for r in body["recipients"])
    assert body["retention"]["applies_on"] == "2032-02-28"
    assert body["controller"]["name"] == "Northshire Council"
    assert {"purposes", "lawful_basis", "categories", "sources", "rights", "complaint", "consent"} <= set(
        body
    )
    assert "Ffion" not in document.text

    # On the review date the withheld entry comes back.
    clock.now = datetime.combine(review_on, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    later = await open_pack(web, reference, code)
    assert later.status_code == 400  # the code has expired by now (30 days)
    assert "This access code has expired" in later.text
    assert (await sign_in(web, key, ORIGIN, email=officer.email)).status_code == 200
    letter = await step(web, f"/privacy/requests/{rid}/reissue", data=token(web))
    assert letter.status_code == 200, letter.text
    await web.post("/logout", data=token(web))
    reopened = await open_pack(web, reference, code_in(letter.text))
    assert "Safeguarding concern" in reopened.text
    assert [a for a, kind, _ in await actions("sar.pack_viewed") if kind == "citizen"] == [
        "sar.pack_viewed"
    ] * 3


async def test_the_pack_holds_every_field_and_every_access_not_withheld(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    school, gp = row_ids.next(), row_ids.next()
    await EducationSetting.insert(
        EducationSetting(
            id=school, local_authority=officer.authority_id, name="Yarrow Academy", telephone="01632 960 700"
        )
    )
    await GpPractice.insert(
        GpPractice(
            id=gp, local_authority=officer.authority_id, name="Quill Lane Surgery", telephone="01632 960 800"
        )
    )
    details = replace(
        child_details(
            officer.authority_id, former_names=(PersonName(given_name="Zoe", family_name="Kowalski"),)
        ),
        education_setting_id=school,
        education_start_date=date(2018, 9, 4),
        gp_practice_id=gp,
    )
    child, _, _ = await _accesses(keyring, officer.authority_id, clock, details)
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    code = code_in((await step(web, f"/privacy/requests/{rid}/release", data=token(web))).text)
    body = json.loads((await open_pack(web, reference, code, format="json")).content)

    home = {"lines": ["Flat 2", "17 Quillfeather Lane"], "town": "Yarrow", "postcode": "NB12 3XY"}
    assert body["record"] == {
        "signpost_id": format_signpost_id(child.signpost_id),
        "given_name": "Zoë",
        "family_name": "O'Brien-Smith",
        "former_names": [{"given_name": "Zoe", "family_name": "Kowalski"}],
        "date_of_birth": "2014-02-28",
        "gender": "Female",
        "address": home,
        "carers": [
            {
                "name": "Maeve Quillfeather",
                "relationship": "Mother",
                "telephone": "07700 900 417",
                "address": home,
            }
        ],
        "education_setting": {
            "name": "Yarrow Academy",
            "telephone": "01632 960 700",
            "start_date": "2018-09-04",
        },
        "gp_practice": {"name": "Quill Lane Surgery", "telephone": "01632 960 800"},
        "services": [
            {
                "service_name": "Young People's Mental Health Service",
                "service_type": "Mental health",
                "practitioner_name": "Iolo Pemberton-Hart",
                "role": "Mental health practitioner",
                "telephone": "01632 960 555",
                "email": "iolo.pembertonhart@cypmhs.example.org",
                "start_date": "2024-01-10",
                "end_date": None,
                "lead_professional": True,
                "assessment_undertaken": False,
            }
        ],
        "shielded": False,
        "retention_state": "delete_at_18",
    }
    # Every entry of the child's trail up to the opening is a recipient line, in order: the two
    # views, the request's handling, and the opening itself. Nothing of the other child's.
    trail = await AuditEntry.select().where(AuditEntry.child_id == child.id).order_by(AuditEntry.seq)
    assert len(body["recipients"]) == len(trail)
    assert [r["action"] for r in body["recipients"]] == [ACTION_LABELS[t["action"]] for t in trail]
    assert [r["date"] for r in body["recipients"]] == [t["at"].isoformat() for t in trail]
    assert body["recipients"][0] == {
        "date": (clock.now - timedelta(days=3)).isoformat(),
        "organisation": "Riverside Primary School",
        "role": "Practitioner",
        "action": "Opened the record",
        "reason": "Assessment",
        "on_behalf_of": None,
        "through_system": None,
    }
    assert body["recipients"][-1]["action"] == "Subject access response read"
    assert "Ffion" not in json.dumps(body)


async def test_wrong_codes_lock_the_pack_until_the_officer_issues_a_new_one(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id, date_of_birth=date(2016, 5, 4)))
    _, reference = await ask(web, officer.authority_id, **dob(date(2016, 5, 4)))
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    code = code_in((await step(web, f"/privacy/requests/{rid}/release", data=token(web))).text)

    wrong = "AAAA-BBBB-CCCC-DDDD"
    first = await open_pack(web, reference, wrong, date(2016, 5, 4))
    assert first.status_code == 400
    assert "The reference, access code or date of birth is not right" in first.text
    wrong_birth = await open_pack(web, reference, code, date(2016, 5, 5))  # the right code, wrong child
    assert "is not right" in wrong_birth.text
    for _ in range(3):
        await open_pack(web, reference, wrong, date(2016, 5, 4))
    locked = await open_pack(web, reference, code, date(2016, 5, 4))  # even the right code, now
    assert locked.status_code == 400
    assert "This answer is locked" in locked.text
    assert "Northshire Council" in locked.text
    assert [a for a, _, _ in await actions("sar.code_failed", "sar.locked")] == ["sar.code_failed"] * 5 + [
        "sar.locked"
    ]
    alerts = await Alert.select().where(Alert.kind == "subject_access_locked")
    assert [a["authority_id"] for a in alerts] == [officer.authority_id]
    assert "locked after 5 wrong codes" in (await web.get(f"/privacy/requests/{rid}")).text

    new_code = code_in((await step(web, f"/privacy/requests/{rid}/reissue", data=token(web))).text)
    assert (
        await open_pack(web, reference, code, date(2016, 5, 4))
    ).status_code == 400  # the old code is dead
    assert (await open_pack(web, reference, new_code, date(2016, 5, 4))).status_code == 200


async def test_an_unknown_reference_does_the_same_work_and_says_the_same(
    web: CheckedClient, keyring: Keyring, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    await step(web, f"/privacy/requests/{rid}/release", data=token(web))

    checks: list[str] = []
    real = code_matches

    async def counted(code_hash: str, code: str) -> bool:
        checks.append(code_hash[:9])
        return await real(code_hash, code)

    monkeypatch.setattr(sar_service, "code_matches", counted)
    known = await open_pack(web, reference, "AAAA-BBBB-CCCC-DDDD")
    unknown = await open_pack(web, "ZZZZZ-ZZZZZ", "AAAA-BBBB-CCCC-DDDD")
    unreleased_ref = (await ask(web, officer.authority_id))[1]
    unreleased = await open_pack(web, unreleased_ref, "AAAA-BBBB-CCCC-DDDD")
    assert checks == ["$argon2id"] * 3  # one argon2 check each, real or decoy
    assert known.status_code == unknown.status_code == unreleased.status_code == 400
    message = "The reference, access code or date of birth is not right"
    assert message in known.text
    assert message in unknown.text
    assert message in unreleased.text


async def test_opening_tries_are_limited_per_client(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    for _ in range(20):  # SIGNPOST_SUBJECT_ACCESS_TRIES_PER_HOUR defaults to 20
        assert (await open_pack(web, "ZZZZZ-ZZZZZ", "AAAA-BBBB-CCCC-DDDD")).status_code == 400
    refused = await open_pack(web, "ZZZZZ-ZZZZZ", "AAAA-BBBB-CCCC-DDDD")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers


async def test_no_record_matches_and_the_pack_says_so(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    _, reference = await ask(web, officer.authority_id, given_name="Nobody", family_name="Unheard-Of")
    rid = await request_id(reference)
    page = await web.get(f"/privacy/requests/{rid}")
    assert "No record matches" in page.text
    await ready_to_release(web, rid, None, clock)
    code = code_in((await step(web, f"/privacy/requests/{rid}/release", data=token(web))).text)
    pack = await open_pack(web, reference, code)
    assert "Northshire Council found no record about this child" in pack.text
    body = json.loads((await open_pack(web, reference, code, format="json")).content)
    assert (body["record_held"], body["record"], body["recipients"]) == (False, None, [])
    assert [a for a, _, child in await actions("sar.no_match")] == ["sar.no_match"]


async def test_the_officer_can_match_by_signpost_id_within_their_authority(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    south = await make_person(
        keyring, clock.now, email="bo@south.example.org", authority="Southshire Council"
    )
    theirs = await create_child(keyring, child_details(south.authority_id))
    _, reference = await ask(web, officer.authority_id, **dob(date(2014, 3, 1)))  # a wrong birth date
    rid = await request_id(reference)
    back = f"/privacy/requests/{rid}"
    assert "O&#39;Brien-Smith, born" not in (await web.get(back)).text  # no candidate
    other = await step(web, f"{back}/match", data={**token(web), "signpost_id": theirs.signpost_id})
    assert other.status_code == 400
    assert "Enter the Signpost ID of a child in your local authority" in other.text
    ours = await step(web, f"{back}/match", data={**token(web), "signpost_id": child.signpost_id.lower()})
    assert ours.status_code == 303
    stored = (await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid))[0]
    assert stored["child_id"] == child.id


async def test_a_competent_child_who_does_not_agree_stops_the_release(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))  # 12 years old
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    back = f"/privacy/requests/{rid}"
    await step(web, f"{back}/match", data={**token(web), "child": str(child.id)})
    await step(
        web,
        f"{back}/identity",
        data={**token(web), "method": "posted_documents", **_date("checked", clock.now)},
    )
    page = await web.get(back)
    assert "Record whether the child is competent to decide" in page.text
    missing = await step(web, f"{back}/competence", data={**token(web), "competent": "yes"})
    assert missing.status_code == 400
    assert "Select whether the child agrees" in missing.text
    await step(web, f"{back}/competence", data={**token(web), "competent": "yes", "agrees": "no"})
    blocked = await step(web, f"{back}/release", data=token(web))
    assert blocked.status_code == 400
    assert "The child does not agree" in blocked.text
    closed = await step(web, f"{back}/refuse", data=token(web))
    assert closed.status_code == 303
    stored = (await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid))[0]
    assert (stored["status"], stored["code_hash"]) == ("refused", None)


async def test_a_young_person_asking_needs_no_competence_step(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(
        web, officer.authority_id, requester="young_person", requester_name="Zoë O'Brien-Smith"
    )
    rid = await request_id(reference)
    back = f"/privacy/requests/{rid}"
    await step(web, f"{back}/match", data={**token(web), "child": str(child.id)})
    await step(
        web,
        f"{back}/identity",
        data={**token(web), "method": "known_to_authority", **_date("checked", clock.now)},
    )
    assert "The child&#39;s view" not in (await web.get(back)).text
    assert (await step(web, f"{back}/release", data=token(web))).status_code == 200


async def test_a_shielded_childs_pack_for_a_parent_says_who_looked_but_nothing_that_finds_the_child(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    school = row_ids.next()
    await EducationSetting.insert(
        EducationSetting(
            id=school, local_authority=officer.authority_id, name="Yarrow Academy", telephone="01632 960 700"
        )
    )
    shielded = replace(child_details(officer.authority_id), shielded=True, education_setting_id=school)
    child, _, _ = await _accesses(keyring, officer.authority_id, clock, shielded)
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    assert "This record is shielded" in (await web.get(f"/privacy/requests/{rid}")).text
    code = code_in((await step(web, f"/privacy/requests/{rid}/release", data=token(web))).text)
    pack = await open_pack(web, reference, code)
    assert "Signpost holds a record about this child. To keep someone safe" in pack.text
    for hidden in (
        format_signpost_id(child.signpost_id),
        "17 Quillfeather Lane",
        "Yarrow",  # the town, and the school named after it
        "07700 900 417",
        "Maeve Quillfeather",
        "Iolo Pemberton-Hart",
        "Mental Health Service",
        "Riverside Primary School",  # the organisation that looked
    ):
        assert hidden not in pack.text.replace(reference, ""), hidden
    assert "Opened the record" in pack.text  # who looked, as a role and a reason, is still there
    assert "Assessment" in pack.text
    body = json.loads((await open_pack(web, reference, code, format="json")).content)
    assert (body["record_held"], body["record"], body["details_left_out_for_safety"]) == (True, None, True)
    assert {r["organisation"] for r in body["recipients"]} == {""}
    assert "Opened the record" in [r["action"] for r in body["recipients"]]

    # The young person asking about their own shielded record sees all of it.
    _, own = await ask(
        web, officer.authority_id, requester="young_person", requester_name="Zoë O'Brien-Smith"
    )
    own_id = await request_id(own)
    back = f"/privacy/requests/{own_id}"
    await step(web, f"{back}/match", data={**token(web), "child": str(child.id)})
    await step(
        web,
        f"{back}/identity",
        data={**token(web), "method": "known_to_authority", **_date("checked", clock.now)},
    )
    own_code = code_in((await step(web, f"{back}/release", data=token(web))).text)
    full = await open_pack(web, own, own_code)
    assert "17 Quillfeather Lane" in full.text
    assert "Yarrow Academy" in full.text


async def test_the_deadline_extends_pauses_and_restarts(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer, key = await officer_with_key(web, keyring, clock)
    _, reference = await ask(web, officer.authority_id)  # received 24 November 2026
    rid = await request_id(reference)
    back = f"/privacy/requests/{rid}"
    no_reason = await step(web, f"{back}/extend", data={**token(web), "months": "2"})
    assert no_reason.status_code == 400
    assert "Select why the answer needs longer" in no_reason.text
    too_long = await step(web, f"{back}/extend", data={**token(web), "months": "3", "reason": "complex"})
    assert too_long.status_code == 400
    assert (
        await step(web, f"{back}/extend", data={**token(web), "months": "2", "reason": "complex"})
    ).status_code == 303
    page = await web.get(back)
    assert "Due <strong>24 February 2027</strong>" in page.text
    letter = await web.get(f"{back}/extension-letter")
    assert "You will now get an answer by <strong>24 February 2027</strong>" in letter.text
    assert "the request is complex" in letter.text
    assert "Maeve Quillfeather" in letter.text

    assert (await step(web, f"{back}/pause", data=token(web))).status_code == 303
    assert "Before you can release" in (await web.get(back)).text
    clock.advance(days=5)
    assert (await sign_in(web, key, ORIGIN, email=officer.email)).status_code == 200  # a new day
    assert (await step(web, f"{back}/resume", data=token(web))).status_code == 303
    assert "Due <strong>1 March 2027</strong>" in (await web.get(back)).text  # five days later
    assert (await step(web, f"{back}/resume", data=token(web))).status_code == 409  # not paused now
    assert [a for a, _, _ in await actions("sar.extended", "sar.paused", "sar.resumed")] == [
        "sar.extended",
        "sar.paused",
        "sar.resumed",
    ]


async def test_the_queue_sorts_by_deadline_and_highlights_overdue_and_due_this_week(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    start = clock.now
    clock.now = start - timedelta(days=40)
    _, late = await ask(web, officer.authority_id)
    clock.now = start - timedelta(days=27)
    _, soon = await ask(web, officer.authority_id)
    clock.now = start
    _, fresh = await ask(web, officer.authority_id)
    queue = await web.get("/privacy/requests")
    text = queue.text
    assert text.index(late) < text.index(soon) < text.index(fresh)
    assert "1 overdue, 1 due this week" in text
    assert "Overdue" in text
    assert "Due this week" in text


async def test_officers_see_only_their_own_authoritys_requests(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    south = await make_person(
        keyring, clock.now, email="bo@south.example.org", authority="Southshire Council"
    )
    _, reference = await ask(web, south.authority_id)
    rid = await request_id(reference)
    await officer_of(web, keyring, clock)
    assert reference not in (await web.get("/privacy/requests")).text
    assert (await web.get(f"/privacy/requests/{rid}")).status_code == 404
    for action in (
        "match",
        "identity",
        "competence",
        "withhold",
        "lift",
        "extend",
        "pause",
        "resume",
        "release",
        "reissue",
        "refuse",
    ):
        answer = await web.post(f"/privacy/requests/{rid}/{action}", data=token(web))
        assert answer.status_code == 404, action
    assert (await web.get(f"/privacy/requests/{rid}/extension-letter")).status_code == 404


async def test_only_privacy_officers_reach_the_queue(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    assert (await web.get("/privacy/requests", follow_redirects=False)).headers["location"] == "/login"
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org")
    assert (await web.get("/privacy/requests")).status_code == 403


async def test_release_needs_a_fresh_key_touch(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    clock.advance(minutes=6)
    stale = await web.post(f"/privacy/requests/{rid}/release", data=token(web), follow_redirects=False)
    assert (stale.status_code, stale.headers["location"]) == (303, f"/step-up?next=/privacy/requests/{rid}")
    stored = (await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid))[0]
    assert (stored["status"], stored["code_hash"]) == ("received", None)


async def test_the_transparency_page_counts_by_month(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    start = clock.now
    clock.now = start - timedelta(days=60)  # 25 September: due 25 October, never answered
    await ask(web, officer.authority_id)
    clock.now = start - timedelta(days=50)  # 5 October: extended, answered in time
    _, extended = await ask(web, officer.authority_id)
    rid = await request_id(extended)
    await step(
        web, f"/privacy/requests/{rid}/extend", data={**token(web), "months": "1", "reason": "complex"}
    )
    await ready_to_release(web, rid, child, clock)
    assert (await step(web, f"/privacy/requests/{rid}/release", data=token(web))).status_code == 200
    clock.now = start
    await ask(web, officer.authority_id)
    page = await web.get("/transparency")
    rows = re.findall(
        r'<th scope="row" class="govuk-table__header">([A-Za-z]+ \d{4})</th>\s*'
        r"<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>",
        page.text,
    )
    figures = {month: tuple(int(n) for n in counts) for month, *counts in rows}
    assert figures["November 2026"] == (1, 0, 0, 0)
    assert figures["October 2026"] == (1, 1, 1, 0)
    assert figures["September 2026"] == (1, 0, 0, 1)
    assert len(figures) == 12


# Races, awkward days and the limits of what an officer may do


async def test_a_release_is_refused_when_another_officer_changed_the_request_meanwhile(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))  # 12: the child's view counts
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    actor = await actor_for(officer.id)
    assert actor is not None
    seen = await sar_service.load(keyring, rid, officer.authority_id)  # the page the first officer saw
    assert seen is not None
    assert sar_service.release_blockers(seen, BORN, clock.now.date()) == []
    # Meanwhile a second officer records that the child does not agree.
    await step(
        web, f"/privacy/requests/{rid}/competence", data={**token(web), "competent": "yes", "agrees": "no"}
    )
    with pytest.raises(sar_service.StepRefusedError):
        await sar_service.release(actor, seen, clock.now)
    stored = (await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid))[0]
    assert (stored["status"], stored["code_hash"]) == ("received", None)


async def test_tries_made_at_once_cannot_get_past_the_lock(
    web: CheckedClient, keyring: Keyring, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    await step(web, f"/privacy/requests/{rid}/release", data=token(web))
    [real_hash] = [
        r["code_hash"] for r in await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid)
    ]
    checked: list[str] = []

    async def counted(code_hash: str, code: str) -> bool:
        if code_hash == real_hash:
            checked.append(code)
        return await code_matches(code_hash, code)

    monkeypatch.setattr(sar_service, "code_matches", counted)
    tries = [
        sar_service.open_pack(keyring, reference, f"AAAA-BBBB-CCCC-{n:04d}", BORN, clock.now)
        for n in range(12)
    ]
    outcomes = await asyncio.gather(*tries, return_exceptions=True)
    assert all(isinstance(o, sar_service.PackRefusedError) for o in outcomes)
    assert len(checked) == 5  # only five guesses were ever checked against the real code
    stored = (await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid))[0]
    assert stored["failed_codes"] == 5
    assert [a for a, _, _ in await actions("sar.code_failed", "sar.locked")].count("sar.locked") == 1


async def test_a_paused_request_is_not_overdue_and_an_overdue_one_cannot_be_extended(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer, key = await officer_with_key(web, keyring, clock)
    _, paused = await ask(web, officer.authority_id)
    _, idle = await ask(web, officer.authority_id)
    paused_id, idle_id = await request_id(paused), await request_id(idle)
    await step(web, f"/privacy/requests/{paused_id}/pause", data=token(web))
    clock.advance(days=40)  # both past their first deadline of 24 December
    assert (await sign_in(web, key, ORIGIN, email=officer.email)).status_code == 200
    queue = (await web.get("/privacy/requests")).text
    assert "1 overdue, 0 due this week" in queue
    late = await step(
        web, f"/privacy/requests/{idle_id}/extend", data={**token(web), "months": "1", "reason": "complex"}
    )
    assert late.status_code == 400
    assert "The deadline has passed" in late.text
    figures = await sar_service.figures(clock.now.date())
    november = next(m for m in figures if m.month == date(2026, 11, 1))
    assert (november.received, november.overdue) == (2, 1)  # the paused one's clock is stopped


async def test_only_a_parents_request_about_a_child_of_12_or_over_takes_the_childs_view(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(
        web, officer.authority_id, requester="young_person", requester_name="Zoë O'Brien-Smith"
    )
    rid = await request_id(reference)
    back = f"/privacy/requests/{rid}"
    await step(web, f"{back}/match", data={**token(web), "child": str(child.id)})
    refused = await step(web, f"{back}/competence", data={**token(web), "competent": "yes", "agrees": "no"})
    assert refused.status_code == 400
    assert "Only a parent&#39;s request about a child of 12 or over" in refused.text
    assert (await step(web, f"{back}/refuse", data=token(web))).status_code == 409
    stored = (await SubjectAccessRequest.select().where(SubjectAccessRequest.id == rid))[0]
    assert (stored["status"], stored["child_competent"]) == ("received", None)


async def test_an_officer_cannot_withhold_their_own_access(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await step(web, f"/privacy/requests/{rid}/match", data={**token(web), "child": str(child.id)})
    own = (
        await AuditEntry.select()
        .where((AuditEntry.child_id == child.id) & (AuditEntry.actor_id == officer.id))
        .order_by(AuditEntry.seq)
    )[0]
    review = clock.now.date() + timedelta(days=30)
    answer = await step(
        web,
        f"/privacy/requests/{rid}/withhold",
        data={
            **token(web),
            "seq": str(own["seq"]),
            "exemption": "crime_prevention",
            **_date("review", review),
        },
    )
    assert answer.status_code == 400
    assert "You cannot withhold an entry of your own access" in answer.text
    assert await AuditWithholding.count() == 0


async def test_a_matched_record_deleted_before_release_blocks_it(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await ready_to_release(web, rid, child, clock)
    for table in (Carer, Involvement, FormerName):
        await table.delete().where(table.child == child.id)
    await Child.delete().where(Child.id == child.id)
    page = await web.get(f"/privacy/requests/{rid}")
    assert "The matched record no longer exists" in page.text
    refused = await step(web, f"/privacy/requests/{rid}/release", data=token(web))
    assert refused.status_code == 400
    assert "The matched record no longer exists" in refused.text


async def test_the_request_page_works_on_the_29th_of_february(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    clock.now = datetime(2028, 2, 29, 10, 0, tzinfo=UTC)
    officer = await officer_of(web, keyring, clock)
    child = await create_child(keyring, child_details(officer.authority_id))
    _, reference = await ask(web, officer.authority_id)
    rid = await request_id(reference)
    await step(web, f"/privacy/requests/{rid}/match", data={**token(web), "child": str(child.id)})
    page = await web.get(f"/privacy/requests/{rid}")
    assert page.status_code == 200
    assert "Due <strong>29 March 2028</strong>" in page.text
    assert "For example, 28 2 2029" in page.text  # a review date a year on
