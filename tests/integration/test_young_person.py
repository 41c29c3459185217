"""The young person's pages and the authority's letters, through the web app on SQLite and
PostgreSQL: keeping and deleting take the same three steps, neither is pre-selected, the choice
is repeated before it counts, the receipt (page and Kantara JSON) and its withdrawal code, the
change of mind in as many steps, bad input, wrong and locked codes, the per-client limit, and
the letters queue."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from msgspec.structs import replace

from app.audit.tables import AuditEntry
from app.consent import retention
from app.consent.tables import ConsentInvitation, ConsentReceipt
from app.crypto.keyring import Keyring
from app.identity.service import Role
from app.records.schemas import ChildRecord
from app.records.service import create_child
from app.records.tables import Child
from tests.factories import child_details, make_authority
from tests.identity_flow import FakeClock, signed_in_as
from tests.pagecheck import CheckedClient

ORIGIN = "http://testserver.local"
BORN = date(2009, 5, 20)  # invited on 20 November 2026; 18 on 20 May 2027


def token(web: CheckedClient) -> dict[str, str]:
    return {"_csrf_token": web.cookies["csrftoken"]}


def dob(born: date = BORN) -> dict[str, str]:
    return {"dob-day": str(born.day), "dob-month": str(born.month), "dob-year": str(born.year)}


def until(day: date) -> dict[str, str]:
    return {"until-day": str(day.day), "until-month": str(day.month), "until-year": str(day.year)}


async def invited(
    web: CheckedClient, keyring: Keyring, authority: int | None = None
) -> tuple[ChildRecord, str]:
    """A young person invited on 20 November 2026, and the code on their letter (and a page
    fetched, so that the client holds a CSRF cookie)."""
    assert (await web.get("/your-record")).status_code == 200
    authority = authority or await make_authority()
    child = await create_child(keyring, replace(child_details(authority, date_of_birth=BORN)))
    summary = await retention.run(
        keyring, today=date(2026, 11, 20), now=datetime(2026, 11, 20, 9, tzinfo=UTC), invite_months=6
    )
    assert summary.invited == 1
    row = (await ConsentInvitation.select().where(ConsentInvitation.child == child.id).run())[0]
    return child, keyring.decrypt("consent_invitation.letter_code", row["id"], bytes(row["letter_code"]))


async def step(web: CheckedClient, url: str, data: dict[str, str], steps: list[str]) -> Any:
    steps.append(url)
    return await web.post(url, data={**token(web), **data})


def radios(html: str) -> dict[str, bool]:
    """The choice radios on a page: value -> checked."""
    found = re.findall(r'<input class="govuk-radios__input"[^>]*>', html)
    return {re.search(r'value="(\w+)"', r).group(1): "checked" in r for r in found}  # type: ignore[union-attr]


async def decided(child_id: int) -> bool:
    """Whether the young person's answer has counted."""
    rows = (
        await ConsentInvitation.select(ConsentInvitation.answered_at)
        .where(ConsentInvitation.child == child_id)
        .run()
    )
    return rows[0]["answered_at"] is not None


async def state_of(child_id: int) -> dict[str, Any]:
    rows = await Child.select(Child.retention_state, Child.keep_until).where(Child.id == child_id).run()
    return dict(rows[0])


async def test_keeping_takes_three_steps_repeats_the_choice_and_issues_a_receipt(
    web: CheckedClient, keyring: Keyring
) -> None:
    child, code = await invited(web, keyring)
    start = await web.get("/your-record")
    assert start.status_code == 200
    assert "Consent code" in start.text
    steps: list[str] = []
    opened = await step(web, "/your-record", {"code": code, **dob()}, steps)
    assert opened.status_code == 200
    assert "Zoë O&#39;Brien-Smith" in opened.text
    assert "20 May 2027" in opened.text  # the 18th birthday
    assert "20 May 2034" in opened.text  # the 25th: the latest date
    assert radios(opened.text) == {"keep": False, "delete": False}  # nothing pre-selected
    assert opened.headers["cache-control"] == "no-store"
    assert not await decided(child.id)

    chosen = await step(
        web,
        "/your-record/choose",
        {"code": code, **dob(), "choice": "keep", **until(date(2030, 1, 1))},
        steps,
    )
    assert chosen.status_code == 200
    assert "You want us to keep your record until 1 January 2030." in chosen.text
    assert (await state_of(child.id))["retention_state"] == "delete_at_18"  # not until confirmed
    assert not await decided(child.id)

    done = await step(
        web,
        "/your-record/confirm",
        {"code": code, **dob(), "choice": "keep", **until(date(2030, 1, 1)), "action": "confirm"},
        steps,
    )
    assert done.status_code == 200
    assert "Your withdrawal code" in done.text
    assert await decided(child.id)  # the third step is the one that counts
    assert await state_of(child.id) == {
        "retention_state": "kept_with_consent",
        "keep_until": date(2030, 1, 1),
    }
    withdrawal = re.search(r"<strong>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</strong>", done.text)
    assert withdrawal is not None
    receipt_row = (await ConsentReceipt.select().where(ConsentReceipt.child == child.id).run())[0]
    assert receipt_row["receipt_id"] in done.text
    assert steps == ["/your-record", "/your-record/choose", "/your-record/confirm"]

    document = await web.post(
        "/your-record/receipt", data={**token(web), "code": withdrawal.group(1), **dob()}
    )
    assert document.status_code == 200
    assert document.headers["content-type"].startswith("application/json")
    assert "attachment" in document.headers["content-disposition"]
    receipt = json.loads(document.content)
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == receipt_row["receipt_id"]
    assert receipt["piiPrincipalId"] == child.signpost_id
    assert receipt["piiControllers"][0]["piiController"] == "Northshire Council"
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["terminationDate"] == "2030-01-01"
    assert purpose["thirdPartyDisclosure"] is True
    assert receipt["sensitive"] is True  # a mental health service is working with the child
    assert receipt["spiCat"] == ["Health"]
    assert receipt["withdrawal"]["code"] == withdrawal.group(1)
    assert receipt["withdrawal"]["url"] == f"{ORIGIN}/your-record/change"
    for field in (
        "jurisdiction",
        "consentTimestamp",
        "collectionMethod",
        "language",
        "policyUrl",
        "sensitive",
    ):
        assert field in receipt
    given = (
        await AuditEntry.select(AuditEntry.actor_kind)
        .where((AuditEntry.child_id == child.id) & (AuditEntry.action == "consent.given"))
        .run()
    )
    assert given == [{"actor_kind": "citizen"}]


async def test_deleting_takes_the_same_three_steps(web: CheckedClient, keyring: Keyring) -> None:
    child, code = await invited(web, keyring)
    steps: list[str] = []
    opened = await step(web, "/your-record", {"code": code, **dob()}, steps)
    assert opened.status_code == 200
    assert not await decided(child.id)
    chosen = await step(web, "/your-record/choose", {"code": code, **dob(), "choice": "delete"}, steps)
    assert "You want us to delete your record on your 18th birthday, 20 May 2027." in chosen.text
    assert not await decided(child.id)
    done = await step(
        web, "/your-record/confirm", {"code": code, **dob(), "choice": "delete", "action": "confirm"}, steps
    )
    assert done.status_code == 200
    assert "We will delete your record on 20 May 2027" in done.text
    assert await decided(child.id)  # the third step is the one that counts, as for keeping
    assert steps == ["/your-record", "/your-record/choose", "/your-record/confirm"]
    assert await state_of(child.id) == {"retention_state": "delete_at_18", "keep_until": None}
    again = await web.post("/your-record", data={**token(web), "code": code, **dob()})
    assert again.status_code == 400
    assert "This code has already been used" in again.text
    assert "Zoë" not in again.text
    answer = (
        await ConsentInvitation.select(ConsentInvitation.answer)
        .where(ConsentInvitation.child == child.id)
        .run()
    )
    assert answer == [{"answer": "delete_at_18"}]


async def test_change_my_answer_goes_back_with_the_choice_kept(web: CheckedClient, keyring: Keyring) -> None:
    child, code = await invited(web, keyring)
    back = await web.post(
        "/your-record/confirm",
        data={
            **token(web),
            "code": code,
            **dob(),
            "choice": "keep",
            **until(date(2030, 1, 1)),
            "action": "change",
        },
    )
    assert back.status_code == 200
    assert radios(back.text) == {"keep": True, "delete": False}
    assert 'value="2030"' in back.text
    assert (await state_of(child.id))["retention_state"] == "delete_at_18"


async def test_withdrawing_takes_no_more_steps_than_consenting(web: CheckedClient, keyring: Keyring) -> None:
    child, code = await invited(web, keyring)
    keep = {"code": code, **dob(), "choice": "keep", **until(date(2030, 1, 1)), "action": "confirm"}
    done = await web.post("/your-record/confirm", data={**token(web), **keep})
    withdrawal = re.search(r"<strong>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</strong>", done.text)
    assert withdrawal is not None
    w = withdrawal.group(1)
    assert (await web.get("/your-record/change")).status_code == 200
    steps: list[str] = []
    opened = await step(web, "/your-record/change", {"code": w, **dob()}, steps)
    assert opened.status_code == 200
    assert "until 1 January 2030" in opened.text
    assert radios(opened.text) == {"withdraw": False, "shorten": False}
    shorter = await step(
        web,
        "/your-record/change/choose",
        {"code": w, **dob(), "choice": "shorten", **until(date(2031, 1, 1))},
        steps,
    )
    assert shorter.status_code == 400  # later is not earlier
    assert "The date must be before 1 January 2030" in shorter.text
    steps.clear()
    await step(web, "/your-record/change", {"code": w, **dob()}, steps)
    chosen = await step(web, "/your-record/change/choose", {"code": w, **dob(), "choice": "withdraw"}, steps)
    assert "You want us to delete your record on your 18th birthday" in chosen.text
    active = ConsentReceipt.count().where(
        (ConsentReceipt.child == child.id) & ConsentReceipt.ended_at.is_null()
    )
    assert await active.run() == 1  # not withdrawn until confirmed
    gone = await step(
        web,
        "/your-record/change/confirm",
        {"code": w, **dob(), "choice": "withdraw", "action": "confirm"},
        steps,
    )
    assert gone.status_code == 200
    assert steps == ["/your-record/change", "/your-record/change/choose", "/your-record/change/confirm"]
    assert (
        await ConsentReceipt.count()
        .where((ConsentReceipt.child == child.id) & ConsentReceipt.ended_at.is_null())
        .run()
        == 0
    )
    assert await state_of(child.id) == {"retention_state": "delete_at_18", "keep_until": None}
    spent = await web.post("/your-record/change", data={**token(web), "code": w, **dob()})
    assert spent.status_code == 400  # the receipt's code ended with the consent


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "Choose what you want to happen to your record"),
        ({"choice": "keep"}, "Enter the date you want your record kept until"),
        ({"choice": "keep", **until(date(2034, 5, 21))}, "on or before your 25th birthday, 20 May 2034"),
        ({"choice": "keep", **until(date(2027, 5, 20))}, "The date must be after 20 May 2027"),
        (
            {"choice": "keep", "until-day": "31", "until-month": "2", "until-year": "2030"},
            "The date must be a real date",
        ),
        ({"choice": "withdraw"}, "Choose what you want to happen to your record"),  # not a choice here
    ],
)
async def test_a_bad_choice_is_explained_and_nothing_changes(
    web: CheckedClient, keyring: Keyring, form: dict[str, str], message: str
) -> None:
    child, code = await invited(web, keyring)
    refused = await web.post("/your-record/choose", data={**token(web), "code": code, **dob(), **form})
    assert refused.status_code == 400
    assert "There is a problem" in refused.text
    assert message in refused.text
    assert (await state_of(child.id))["retention_state"] == "delete_at_18"
    confirmed = await web.post(
        "/your-record/confirm", data={**token(web), "code": code, **dob(), **form, "action": "confirm"}
    )
    assert confirmed.status_code in (400, 409)
    assert (await state_of(child.id))["retention_state"] == "delete_at_18"
    assert await ConsentReceipt.count().run() == 0


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"code": "", **dob()}, "Enter the consent code"),
        ({"code": "ABC", **dob()}, "as it is printed: 24 letters and numbers"),
        ({"code": "ABCD-EFGH-JKMN-PQRS-TVWX-YZ12"}, "Enter your date of birth"),
        (
            {"code": "ABCD-EFGH-JKMN-PQRS-TVWX-YZ12", "dob-day": "40", "dob-month": "1", "dob-year": "2009"},
            "real date",
        ),
    ],
)
async def test_a_malformed_code_or_date_is_a_form_error(
    web: CheckedClient, keyring: Keyring, form: dict[str, str], message: str
) -> None:
    await web.get("/your-record")
    refused = await web.post("/your-record", data={**token(web), **form})
    assert refused.status_code == 400
    assert message in refused.text


async def test_a_wrong_code_and_a_made_up_one_get_the_same_answer_and_five_lock(
    web: CheckedClient, keyring: Keyring
) -> None:
    _, code = await invited(web, keyring)
    wrong_dob = await web.post("/your-record", data={**token(web), "code": code, **dob(date(2009, 5, 21))})
    made_up = await web.post(
        "/your-record", data={**token(web), "code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ", **dob()}
    )
    for page in (wrong_dob, made_up):
        assert page.status_code == 400
        assert "The consent code or date of birth is not right" in page.text
    for _ in range(4):
        last = await web.post("/your-record", data={**token(web), "code": code, **dob(date(2009, 5, 21))})
    assert "This code is locked" in last.text
    locked = await web.post("/your-record", data={**token(web), "code": code, **dob()})
    assert locked.status_code == 400
    assert "This code is locked" in locked.text
    assert "Zoë" not in locked.text
    assert await AuditEntry.count().where(AuditEntry.action == "consent.locked").run() == 1


async def test_tries_are_limited_per_client(web: CheckedClient, keyring: Keyring) -> None:
    _, code = await invited(web, keyring)
    statuses = [
        (
            await web.post(
                "/your-record", data={**token(web), "code": f"ZZZZ-ZZZ{i % 10}-" + code[10:], **dob()}
            )
        ).status_code
        for i in range(61)
    ]
    assert statuses[:60] == [400] * 60
    assert statuses[60] == 429


async def test_the_letters_queue_prints_each_letter_once_for_its_own_authority(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    team, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org"
    )
    child, code = await invited(web, keyring, team.authority_id)
    page = await web.get("/consent/letters")
    assert page.status_code == 200
    assert "1</strong> letter waiting" in page.text
    printed = await web.get("/consent/letters/print")
    assert printed.status_code == 200
    assert code in printed.text
    assert "Zoë" in printed.text
    assert "20 May 2027" in printed.text
    assert 'class="signpost-letter"' in printed.text
    assert "Mental Health" not in printed.text  # a letter never names a sensitive service
    assert printed.headers["cache-control"] == "no-store"
    audited = (
        await AuditEntry.select(AuditEntry.actor_id)
        .where((AuditEntry.child_id == child.id) & (AuditEntry.action == "consent.letters_printed"))
        .run()
    )
    assert audited == [{"actor_id": team.id}]
    ids = re.search(r'name="letters" value="([\d:0-9A-Z,]+)"', printed.text)
    assert ids is not None
    for hostile in ("9" * 5000, f"{2**64}:ABCDEFGH", "1:abc,,x", ids.group(1).split(":")[0] + ":ZZZZZZZZ"):
        ignored = await web.post("/consent/letters/sent", data={**token(web), "letters": hostile})
        assert ignored.status_code == 200  # back to the letters page, nothing marked
    assert (await ConsentInvitation.select(ConsentInvitation.letter_code).run())[0]["letter_code"] is not None
    sent = await web.post(
        "/consent/letters/sent", data={**token(web), "letters": ids.group(1)}, follow_redirects=False
    )
    assert sent.status_code == 303
    row = (await ConsentInvitation.select().where(ConsentInvitation.child == child.id).run())[0]
    assert row["letter_code"] is None
    assert row["letter_sent_at"] == clock.now
    again = await web.get("/consent/letters/print")
    assert code not in again.text
    assert "No letters are waiting" in again.text
    # The code still works: only the copy held for printing is gone.
    assert (await web.post("/your-record", data={**token(web), "code": code, **dob()})).status_code == 200


async def test_another_authoritys_team_and_other_roles_see_no_letters(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    elsewhere = await make_authority("E09000002", "Southvale Council")
    _, code = await invited(web, keyring, elsewhere)
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org")
    assert "No letters are waiting" in (await web.get("/consent/letters")).text
    printed = await web.get("/consent/letters/print")
    assert code not in printed.text
    invitation = (await ConsentInvitation.select(ConsentInvitation.id, ConsentInvitation.lookup).run())[0]
    await web.post(
        "/consent/letters/sent", data={**token(web), "letters": f"{invitation['id']}:{invitation['lookup']}"}
    )
    assert (await ConsentInvitation.select(ConsentInvitation.letter_code).run())[0]["letter_code"] is not None
    await web.post("/logout", data=token(web))
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org")
    assert (await web.get("/consent/letters")).status_code == 403


async def test_a_new_letter_replaces_a_locked_code(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    team, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org"
    )
    child, code = await invited(web, keyring, team.authority_id)
    for _ in range(5):
        await web.post("/your-record", data={**token(web), "code": code, **dob(date(2009, 5, 21))})
    assert (
        "This code is locked"
        in (await web.post("/your-record", data={**token(web), "code": code, **dob()})).text
    )

    for typed, status, message in (
        ("", 400, "Enter a Signpost ID"),
        ("not an id", 400, "12 letters and numbers"),
        ("7K3M 9Q2X R4T", 400, "12 letters and numbers"),  # one symbol short
    ):
        refused = await web.post("/consent/letters/reissue", data={**token(web), "signpost_id": typed})
        assert refused.status_code == status, typed
        assert message in refused.text
    made = await web.post(
        "/consent/letters/reissue",
        data={**token(web), "signpost_id": child.signpost_id.lower()},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert "New letter made" in (await web.get("/consent/letters?reissued=1")).text
    printed = await web.get("/consent/letters/print")
    new_code = re.search(r"<strong>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</strong>", printed.text)
    assert new_code is not None
    assert new_code.group(1) != code
    assert (await web.post("/your-record", data={**token(web), "code": code, **dob()})).status_code == 400
    second = new_code.group(1)
    opened = await web.post("/your-record", data={**token(web), "code": second, **dob()})
    assert opened.status_code == 200
    assert "Your Signpost record" in opened.text
    # The young person decides; a third letter (say, they changed their mind) reopens the choice,
    # and the second code, which was never locked, stops working.
    decided = {"code": second, **dob(), "choice": "delete", "action": "confirm"}
    assert (await web.post("/your-record/confirm", data={**token(web), **decided})).status_code == 200
    await web.post("/consent/letters/reissue", data={**token(web), "signpost_id": child.signpost_id})
    third = re.search(
        r"<strong>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</strong>", (await web.get("/consent/letters/print")).text
    )
    assert third is not None
    stale = await web.post("/your-record", data={**token(web), "code": second, **dob()})
    assert stale.status_code == 400
    assert "is not right" in stale.text
    assert (
        await web.post("/your-record", data={**token(web), "code": third.group(1), **dob()})
    ).status_code == 200
    assert (
        await AuditEntry.count()
        .where((AuditEntry.action == "consent.reissued") & (AuditEntry.child_id == child.id))
        .run()
        == 2
    )


async def test_a_new_letter_only_for_the_teams_own_authority(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    elsewhere = await make_authority("E09000002", "Southvale Council")
    child, code = await invited(web, keyring, elsewhere)
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org")
    refused = await web.post(
        "/consent/letters/reissue", data={**token(web), "signpost_id": child.signpost_id}
    )
    assert refused.status_code == 404
    assert "No young person of your authority" in refused.text
    assert (await web.post("/your-record", data={**token(web), "code": code, **dob()})).status_code == 200


async def test_letters_show_codes_only_after_a_recent_key_touch(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    team, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org"
    )
    _, code = await invited(web, keyring, team.authority_id)
    clock.advance(minutes=6)
    page = await web.get("/consent/letters")
    assert page.status_code == 200  # the count needs no key touch
    printed = await web.get("/consent/letters/print", follow_redirects=False)
    assert printed.status_code in (302, 303)
    assert printed.headers["location"].startswith("/step-up")
    assert code not in printed.text


async def test_the_uk_date_decides_whether_the_young_person_is_18(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    """At 23:30 UTC on 19 May 2027 it is already 20 May in British Summer Time: the birthday."""
    _, code = await invited(web, keyring)
    clock.now = datetime(2027, 5, 19, 22, 30, tzinfo=UTC)  # 23:30 BST, still 19 May
    before = await web.post("/your-record", data={**token(web), "code": code, **dob()})
    assert "Delete my record when I turn 18" in before.text
    clock.now = datetime(2027, 5, 19, 23, 30, tzinfo=UTC)  # 00:30 BST on 20 May
    after = await web.post("/your-record", data={**token(web), "code": code, **dob()})
    assert after.status_code == 200
    assert "Delete my record now" in after.text
    assert "You are 18, so we delete your record within a day." in after.text
