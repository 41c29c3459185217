"""Police exceptional disclosure end to end through the web app, on SQLite and PostgreSQL: an
officer names one child and sends the request with a key touch; an approver of the child's
authority from another organisation decides with a key touch; the officer opens that one record
until the access ends or is revoked, every view audited against the request. Plus: police reach
no search or record, near matches leak nothing, self- and same-force approval are refused,
overdue requests alert, exemptions hide and then reveal the request in the subject access pack,
and the public figures."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace

from app.audit.tables import Alert, AuditEntry
from app.crypto.keyring import Keyring
from app.disclosure import service as disclosure
from app.disclosure.codes import LawfulBasis, Offence, RevokeReason, Urgency
from app.disclosure.tables import DisclosureRequest
from app.identity.service import Role, actor_for
from app.records.access import AccessEndedError
from app.records.ids import format_signpost_id
from app.records.schemas import Address, ChildRecord
from app.records.service import create_child
from app.records.tables import Child
from app.search.quotas import Quota
from app.search.service import Criteria
from app.subject_access import pack
from app.subject_access import service as sar_service
from app.subject_access.codes import RequesterKind
from app.subject_access.tables import SubjectAccessRequest
from tests.factories import child_details
from tests.identity_flow import FakeClock, Person, enrolled, make_person, sign_in
from tests.pagecheck import CheckedClient
from tests.softkey import SoftKey

ORIGIN = "http://testserver.local"
BORN = date(2014, 2, 28)
JUSTIFICATION = (
    "The child is a witness to an assault on 20 November; we need a parent's contact details to "
    "arrange a video-recorded interview with an appropriate adult present."
)


def token(web: CheckedClient) -> dict[str, str]:
    return {"_csrf_token": web.cookies["csrftoken"]}


def dob(born: date) -> dict[str, str]:
    return {"dob-day": str(born.day), "dob-month": str(born.month), "dob-year": str(born.year)}


def request_form(**change: str) -> dict[str, str]:
    form = {
        "family_name": "o'brien smith",  # normalised as a search is
        **dob(BORN),
        "given_name": "Zoe",
        "crime_reference": "NS/12345/26",
        "offence": "violence",
        "lawful_basis": "crime_exemption",
        "urgency": "routine",
        "justification": JUSTIFICATION,
    }
    form.update(change)
    return form


async def post(web: CheckedClient, url: str, data: dict[str, str]) -> Any:
    """A form post, without following the redirect."""
    return await web.post(url, data={**token(web), **data}, follow_redirects=False)


class Cast:
    """The people of a disclosure: a police officer, an approver of the child's authority, and
    their keys."""

    def __init__(self, web: CheckedClient, clock: FakeClock) -> None:
        self.web = web
        self.clock = clock
        self.people: dict[str, tuple[Person, SoftKey]] = {}
        self.current: str | None = None

    async def add(
        self,
        keyring: Keyring,
        name: str,
        role: Role,
        organisation: str,
        authority: str = "Northshire Council",
    ) -> Person:
        person = await make_person(
            keyring,
            self.clock.now,
            email=f"{name}@example.org",
            role=role,
            organisation=organisation,
            authority=authority,
        )
        self.people[name] = (person, await enrolled(self.web, person, ORIGIN))
        return person

    async def be(self, name: str) -> Person:
        """Sign in as ``name``, signing the last person out first; for the same person again, a
        fresh key touch (or a new session, if theirs expired)."""
        person, key = self.people[name]
        if self.current not in (None, name):
            await self.web.post("/logout", data=token(self.web))
        self.current = name
        signed = await sign_in(self.web, key, ORIGIN, email=person.email)
        assert signed.status_code == 200, signed.text
        return person


async def cast_of(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> Cast:
    cast = Cast(web, clock)
    await cast.add(keyring, "pc", Role.police, "Northshire Police")
    await cast.add(keyring, "approver", Role.disclosure_approver, "Northshire Council Legal Services")
    return cast


async def make_request(web: CheckedClient, **change: str) -> int:
    """As a signed-in officer: prepare a request and send it; its ID."""
    made = await post(web, "/disclosure/requests/new", request_form(**change))
    assert made.status_code == 303, made.text
    request_id = int(made.headers["location"].rsplit("/", 1)[1])
    sent = await post(web, f"/disclosure/requests/{request_id}/send", {})
    assert (sent.status_code, sent.headers["location"]) == (303, f"/disclosure/requests/{request_id}"), (
        sent.text
    )
    return request_id


async def decide(web: CheckedClient, request_id: int, **form: str) -> Any:
    return await post(web, f"/disclosure/decisions/{request_id}/decide", form)


APPROVE = {"decision": "approve", "note": "Necessary to arrange the interview; no other route in time."}


async def stored(request_id: int) -> dict[str, Any]:
    return dict((await DisclosureRequest.select().where(DisclosureRequest.id == request_id))[0])


async def trail(*actions: str) -> list[dict[str, Any]]:
    return list(
        await AuditEntry.select().where(AuditEntry.action.is_in(list(actions))).order_by(AuditEntry.seq)
    )


# Police reach nothing but their requests


async def test_a_police_officer_cannot_reach_search_records_or_decisions(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    person = await cast.be("pc")
    child = await create_child(keyring, child_details(person.authority_id))
    for url in (
        "/search",
        f"/records/{child.id}",
        "/disclosure/decisions",
        "/privacy/requests",
        "/privacy/audit",
    ):
        assert (await web.get(url)).status_code == 403, url
    assert (await post(web, "/search", {"signpost_id": child.signpost_id})).status_code == 403
    assert (await post(web, f"/records/{child.id}", {"reason": "assessment"})).status_code == 403
    assert (await web.get("/disclosure/requests")).status_code == 200


# The whole journey


async def test_a_request_from_making_to_a_time_limited_view(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    await create_child(keyring, child_details(pc.authority_id, given_name="Ffion", family_name="Gwyn"))

    made = await post(web, "/disclosure/requests/new", request_form())
    assert made.status_code == 303, made.text
    rid = int(made.headers["location"].rsplit("/", 1)[1])
    check = await web.get(f"/disclosure/requests/{rid}")
    assert "Check your request before you send it" in check.text
    # The officer is told nothing about the record itself, not even its authority, until approved.
    for hidden in ("Zoë", "Yarrow", "Northshire Council"):
        assert hidden not in check.text, hidden
    row = await stored(rid)
    assert (row["status"], row["child_id"]) == ("draft", child.id)
    assert b"NS/12345/26" not in bytes(row["crime_reference"])  # encrypted
    assert b"assault" not in bytes(row["justification"])
    # The match confirmed one child's identifiers: the privacy officer sees that in its trail.
    [drafted] = await trail("disclosure.drafted")
    assert (drafted["child_id"], drafted["actor_id"]) == (child.id, pc.id)

    # Sending needs a key touch within five minutes.
    clock.advance(minutes=6)
    stale = await post(web, f"/disclosure/requests/{rid}/send", {})
    assert (stale.status_code, stale.headers["location"]) == (
        303,
        f"/step-up?next=/disclosure/requests/{rid}",
    )
    assert (await stored(rid))["status"] == "draft"
    await cast.be("pc")
    sent = await post(web, f"/disclosure/requests/{rid}/send", {})
    assert sent.status_code == 303
    row = await stored(rid)
    assert row["status"] == "pending"
    assert row["decide_by"] == clock.now + timedelta(hours=72)  # SIGNPOST_DISCLOSURE_DECISION_HOURS
    [requested] = await trail("disclosure.requested")
    assert (requested["child_id"], requested["actor_id"], json.loads(requested["subjects"])) == (
        child.id,
        pc.id,
        [f"disclosure:{rid}"],
    )
    # Nothing opens before a decision.
    early = await post(web, f"/disclosure/requests/{rid}/record", {})
    assert early.status_code == 403
    assert "Maeve" not in early.text

    approver = await cast.be("approver")
    queue = await web.get("/disclosure/decisions")
    assert f"Request {rid}" in queue.text
    page = await web.get(f"/disclosure/decisions/{rid}")
    assert page.status_code == 200
    for shown in ("NS/12345/26", "video-recorded interview", "Zoë", "28 February 2014", "Yarrow"):
        assert shown in page.text, shown
    assert format_signpost_id(child.signpost_id) in page.text
    for hidden in ("Maeve", "Quillfeather Lane", "Mental Health"):  # the minimal view only
        assert hidden not in page.text, hidden
    [looked] = await trail("disclosure.request_viewed")
    assert (looked["child_id"], looked["actor_id"]) == (child.id, approver.id)

    missing = await decide(web, rid)
    assert missing.status_code == 400
    assert "Select whether you approve or refuse the request" in missing.text
    assert "Give the reasons for your decision" in missing.text
    approved = await decide(web, rid, **APPROVE)
    assert approved.status_code == 303, approved.text
    row = await stored(rid)
    assert (row["status"], row["decided_by"]) == ("approved", approver.id)
    assert row["access_until"] == clock.now + timedelta(hours=72)  # SIGNPOST_DISCLOSURE_ACCESS_HOURS
    again = await decide(web, rid, decision="refuse", refusal_reason="not_necessary", note="Changed my mind.")
    assert again.status_code == 409  # decided already
    assert (await stored(rid))["status"] == "approved"

    await cast.be("pc")
    mine = await web.get(f"/disclosure/requests/{rid}")
    assert "Necessary to arrange the interview" in mine.text
    assert "Northshire Council" in mine.text  # approved: where to turn
    view = await post(web, f"/disclosure/requests/{rid}/record", {})
    assert view.status_code == 200, view.text
    assert view.headers["cache-control"] == "no-store"
    assert "Maeve Quillfeather" in view.text  # the contact view
    assert "A sensitive service is involved" in view.text
    assert "Iolo Pemberton-Hart" not in view.text  # ... with sensitive services hidden
    assert "Record your involvement" not in view.text
    assert f"Opened under disclosure request {rid}" in view.text
    viewed = await trail("disclosure.record_viewed")
    assert [(r["child_id"], r["actor_id"], r["reason"], json.loads(r["subjects"])) for r in viewed] == [
        (child.id, pc.id, "police_disclosure", [f"disclosure:{rid}"])
    ]
    assert await AuditEntry.count().where(AuditEntry.action == "record.view") == 0

    # The access ends when its time does.
    clock.advance(hours=71, minutes=59)
    await cast.be("pc")
    assert (await post(web, f"/disclosure/requests/{rid}/record", {})).status_code == 200
    clock.advance(minutes=2)
    ended = await post(web, f"/disclosure/requests/{rid}/record", {})
    assert ended.status_code == 403
    assert "Maeve" not in ended.text
    assert len(await trail("disclosure.record_viewed")) == 2


async def test_revoking_ends_the_access_at_once(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    await cast.be("approver")
    assert (await decide(web, rid, **APPROVE)).status_code == 303
    await cast.be("pc")
    assert (await post(web, f"/disclosure/requests/{rid}/record", {})).status_code == 200

    clock.advance(hours=1)
    await cast.be("approver")
    unexplained = await post(web, f"/disclosure/decisions/{rid}/revoke", {})
    assert unexplained.status_code == 400
    assert (await stored(rid))["status"] == "approved"
    revoked = await post(web, f"/disclosure/decisions/{rid}/revoke", {"revoke_reason": "no_longer_needed"})
    assert revoked.status_code == 303
    assert (await stored(rid))["status"] == "revoked"
    again = await post(web, f"/disclosure/decisions/{rid}/revoke", {"revoke_reason": "no_longer_needed"})
    assert again.status_code == 409
    assert "There is no access to end" in again.text
    assert "Access ended early" in again.text  # the page as it stands now
    assert [r["action"] for r in await trail("disclosure.revoked")] == ["disclosure.revoked"]

    await cast.be("pc")
    refused = await post(web, f"/disclosure/requests/{rid}/record", {})
    assert refused.status_code == 403
    assert "Maeve" not in refused.text
    assert "The approver ended your access" in (await web.get(f"/disclosure/requests/{rid}")).text
    assert len(await trail("disclosure.record_viewed")) == 1


async def test_a_grant_revoked_meanwhile_shows_nothing(keyring: Keyring, engine: Any) -> None:
    """The grant is checked again in the write unit of the view: a request loaded while approved
    and revoked before the view is written opens nothing."""
    clock = FakeClock()
    pc = await make_person(keyring, clock.now, email="pc@example.org", role=Role.police, organisation="Force")
    boss = await make_person(
        keyring, clock.now, email="boss@example.org", role=Role.disclosure_approver, organisation="Council"
    )
    child = await create_child(keyring, child_details(pc.authority_id))
    officer = await actor_for(pc.id)
    approver = await actor_for(boss.id)
    assert officer is not None
    assert approver is not None
    criteria = Criteria(signpost_id=child.signpost_id)
    case = disclosure.Case(
        "NS/1", Offence.violence, LawfulBasis.crime_exemption, Urgency.urgent, JUSTIFICATION
    )
    quota = Quota("disclosure", 10, hourly=False)
    rid = await disclosure.draft(keyring, officer, criteria, case, clock.now, quota)
    loaded = await disclosure.load(keyring, rid)
    assert loaded is not None
    await disclosure.send(officer, loaded, clock.now, clock.now + timedelta(hours=4))
    loaded = await disclosure.load(keyring, rid)
    assert loaded is not None
    await disclosure.approve(approver, loaded, "Necessary and proportionate.", clock.now, 72, keyring)
    approved = await disclosure.load(keyring, rid)
    assert approved is not None
    await disclosure.revoke(approver, approved, RevokeReason.misuse_suspected, clock.now)
    assert approved.access_open(clock.now)  # as loaded before the revocation
    with pytest.raises(AccessEndedError):
        await disclosure.open_record(keyring, officer, approved, clock.now, Quota("view", 200, hourly=False))
    assert await AuditEntry.count().where(AuditEntry.action == "disclosure.record_viewed") == 0


# Exactly one record, or nothing at all


def _same_but_tokens(one: str, two: str) -> bool:
    def clean(text: str) -> str:
        text = re.sub(r'name="_csrf_token" value="[^"]*"', "", text)
        text = re.sub(r'content="[^"]*" name="csrf-token"|name="csrf-token" content="[^"]*"', "", text)
        return re.sub(r"nonce=\"[^\"]*\"", "", text)

    return clean(one) == clean(two)


async def test_a_request_that_matches_no_single_record_goes_no_further_and_leaks_nothing(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    # Twins: the same family name, date of birth, gender and postcode.
    await create_child(keyring, child_details(pc.authority_id, given_name="Zoë"))
    await create_child(keyring, child_details(pc.authority_id, given_name="Ysolde"))
    several = await post(web, "/disclosure/requests/new", request_form(given_name="", postcode="NB12 3XY"))
    none = await post(web, "/disclosure/requests/new", request_form(given_name="", postcode="NB99 9ZZ"))
    assert several.status_code == none.status_code == 422
    assert "do not identify exactly one child" in several.text
    # The same page, but for the postcode the officer typed.
    assert _same_but_tokens(several.text.replace("NB12 3XY", "PC"), none.text.replace("NB99 9ZZ", "PC"))
    for name in ("Zoë", "Ysolde", "Yarrow"):
        assert name not in several.text
    assert await DisclosureRequest.count() == 0
    refused = await trail("disclosure.match_refused")
    assert [(r["outcome"], r["child_id"], r["result_count"], r["subjects"]) for r in refused] == [
        ("refused", None, None, "[]")
    ] * 2
    # One more identifier makes it one child.
    assert (await post(web, "/disclosure/requests/new", request_form(given_name="Ysolde"))).status_code == 303


async def test_the_request_form_checks_every_field_and_stores_nothing_on_error(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    await cast.be("pc")
    empty = await post(web, "/disclosure/requests/new", {})
    assert empty.status_code == 400
    for message in (
        "Enter the child&#39;s family name",
        "Enter the child&#39;s date of birth",
        "Enter the crime reference",
        "Select the offence category",
        "Select the lawful basis for the disclosure",
        "Select how urgent the request is",
        "Explain why the disclosure is necessary and proportionate",
    ):
        assert message in empty.text, message
    hostile = await post(
        web,
        "/disclosure/requests/new",
        request_form(
            crime_reference="<script>x</script>",
            offence="treason",
            urgency="whenever",
            justification="<img src=x onerror=alert(1)> too short",
        ),
    )
    assert hostile.status_code == 400
    assert "<img src=x" not in hostile.text
    assert "<script>x" not in hostile.text
    for message in (
        "Crime reference must be 40 characters",
        "Select the offence category",
        "at least 50 characters",
    ):
        assert message in hostile.text, message
    long = await post(web, "/disclosure/requests/new", request_form(justification="x" * 2001))
    assert "Justification must be 2000 characters or fewer" in long.text
    assert await DisclosureRequest.count() == 0


async def test_requests_are_limited_per_officer_per_day(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    await cast.be("pc")
    for _ in range(10):  # SIGNPOST_DISCLOSURE_REQUESTS_PER_DAY: tries that match nothing count too
        assert (await post(web, "/disclosure/requests/new", request_form())).status_code == 422
    over = await post(web, "/disclosure/requests/new", request_form())
    assert over.status_code == 429
    assert int(over.headers["Retry-After"]) > 0
    assert await Alert.count().where(Alert.kind == "quota_breach") == 1


# Two people, two organisations


async def test_self_same_force_and_other_authority_approval_are_refused(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    await cast.add(keyring, "insider", Role.disclosure_approver, "Northshire Police")
    await cast.add(
        keyring, "elsewhere", Role.disclosure_approver, "Southshire Legal", authority="Southshire Council"
    )
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    own = await decide(web, rid, **APPROVE)  # the requester: police cannot decide
    assert own.status_code == 403

    await cast.be("insider")  # an approver of the requester's own force
    assert (await web.get(f"/disclosure/decisions/{rid}")).status_code == 403
    assert (await decide(web, rid, **APPROVE)).status_code == 403
    assert (await post(web, f"/disclosure/decisions/{rid}/exemption", {"exempt": "no"})).status_code == 403
    assert (await post(web, f"/disclosure/decisions/{rid}/revoke", {})).status_code == 403
    assert f"Request {rid}" not in (await web.get("/disclosure/decisions")).text  # decided by others

    await cast.be("elsewhere")  # an approver of another authority: the request does not exist
    assert (await web.get(f"/disclosure/decisions/{rid}")).status_code == 404
    assert (await decide(web, rid, **APPROVE)).status_code == 404
    assert f"Request {rid}" not in (await web.get("/disclosure/decisions")).text

    row = await stored(rid)
    assert (row["status"], row["decided_by"], row["exempt_until"]) == ("pending", None, None)
    assert await AuditEntry.count().where(AuditEntry.action == "disclosure.approved") == 0
    assert await AuditEntry.count().where(AuditEntry.action == "disclosure.request_viewed") == 0


async def test_deciding_needs_a_fresh_key_touch_and_the_child_still_in_the_authority(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    await cast.be("approver")
    clock.advance(minutes=6)
    stale = await decide(web, rid, **APPROVE)
    assert (stale.status_code, stale.headers["location"]) == (
        303,
        f"/step-up?next=/disclosure/decisions/{rid}",
    )
    assert (await stored(rid))["status"] == "pending"

    # The child moves to another authority before the decision: that authority's to decide now.
    elsewhere = await make_person(
        keyring, clock.now, email="someone@southshire.example.org", authority="Southshire Council"
    )
    await Child.update({Child.local_authority: elsewhere.authority_id}).where(Child.id == child.id)
    await cast.be("approver")
    page = await web.get(f"/disclosure/decisions/{rid}")
    assert "has moved to another local authority" in page.text
    assert 'value="approve"' not in page.text
    assert "Yarrow" not in page.text  # not the old authority's to know where the child lives now
    moved = await decide(web, rid, **APPROVE)
    assert moved.status_code == 409
    assert "moved or gone" in moved.text
    assert (await stored(rid))["status"] == "pending"


async def test_a_grant_ends_when_the_child_moves_to_another_authority(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    await cast.be("approver")
    assert (await decide(web, rid, **APPROVE)).status_code == 303
    elsewhere = await make_person(
        keyring, clock.now, email="someone@southshire.example.org", authority="Southshire Council"
    )
    await Child.update({Child.local_authority: elsewhere.authority_id}).where(Child.id == child.id)
    await cast.be("pc")
    view = await post(web, f"/disclosure/requests/{rid}/record", {})
    assert view.status_code == 403
    assert "Maeve" not in view.text
    assert await AuditEntry.count().where(AuditEntry.action == "disclosure.record_viewed") == 0
    await cast.be("approver")
    page = (await web.get(f"/disclosure/decisions/{rid}")).text
    assert "has moved to another local authority" in page
    assert "The officer may open the record until" not in page
    assert "The access ended when the child's record moved" in page


async def test_every_page_that_shows_the_approver_the_child_is_audited(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    await cast.be("approver")
    # Each re-shows the page with an error (nothing to revoke yet: 409; empty forms: 400).
    for url, status in (("revoke", 409), ("exemption", 400), ("decide", 400)):
        answer = await post(web, f"/disclosure/decisions/{rid}/{url}", {})
        assert answer.status_code == status, url
        assert "Zoë" in answer.text
    assert (await web.get(f"/disclosure/decisions/{rid}")).status_code == 200
    looked = await trail("disclosure.request_viewed")
    assert [(r["child_id"], r["actor_kind"]) for r in looked] == [(child.id, "practitioner")] * 4


async def test_a_shielded_record_opens_only_in_its_restricted_view_and_alerts(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, replace(child_details(pc.authority_id), shielded=True))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    await cast.be("approver")
    page = await web.get(f"/disclosure/decisions/{rid}")
    assert "This record is shielded" in page.text
    assert "Yarrow" not in page.text  # no town for a shielded record
    assert (await decide(web, rid, **APPROVE)).status_code == 303
    await cast.be("pc")
    view = await post(web, f"/disclosure/requests/{rid}/record", {})
    assert view.status_code == 200
    assert "This record is shielded" in view.text
    for hidden in ("Maeve", "Quillfeather Lane", "Yarrow", "Override shielding"):
        assert hidden not in view.text, hidden
    alerts = await Alert.select().where(Alert.kind == "shielded_access")
    assert [(a["practitioner_id"], a["child_id"]) for a in alerts] == [(pc.id, child.id)]


async def test_an_officer_sees_only_their_own_requests(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    await cast.add(keyring, "colleague", Role.police, "Northshire Police")
    await cast.add(keyring, "other_force", Role.police, "Southshire Police", authority="Southshire Council")
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    await cast.be("approver")
    assert (await decide(web, rid, **APPROVE)).status_code == 303
    for name in ("colleague", "other_force"):
        await cast.be(name)
        assert (await web.get(f"/disclosure/requests/{rid}")).status_code == 404
        assert (await post(web, f"/disclosure/requests/{rid}/record", {})).status_code == 404
        assert (await post(web, f"/disclosure/requests/{rid}/cancel", {})).status_code == 404
        assert f"Request {rid}" not in (await web.get("/disclosure/requests")).text
    assert await AuditEntry.count().where(AuditEntry.action == "disclosure.record_viewed") == 0


# Deadlines, drafts, exemptions and figures


async def test_urgent_requests_come_first_and_overdue_ones_alert_once(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    routine = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    urgent = await make_request(
        web, family_name="", given_name="", signpost_id=child.signpost_id, urgency="urgent"
    )
    assert (await stored(urgent))["decide_by"] == clock.now + timedelta(hours=4)
    await cast.be("approver")
    queue = (await web.get("/disclosure/decisions")).text
    assert queue.index(f"Request {urgent}") < queue.index(f"Request {routine}")
    assert "Overdue" not in queue

    assert await disclosure.raise_overdue(clock.now) == 0
    clock.advance(hours=4, minutes=1)
    assert await disclosure.raise_overdue(clock.now) == 1
    assert await disclosure.raise_overdue(clock.now) == 0  # once per request
    await cast.be("approver")
    assert (await decide(web, routine, **APPROVE)).status_code == 303  # decided: never overdue
    clock.advance(hours=72)
    assert await disclosure.raise_overdue(clock.now) == 0
    alerts = await Alert.select().where(Alert.kind == "disclosure_overdue")
    assert [(a["authority_id"], a["dedupe_key"]) for a in alerts] == [  # the urgent one only
        (pc.authority_id, f"disclosure_overdue:{urgent}")
    ]
    raised = await trail("alert.raised")
    assert [json.loads(r["subjects"]) for r in raised] == [[f"disclosure:{urgent}"]]
    await cast.be("approver")
    assert "Overdue" in (await web.get("/disclosure/decisions")).text


async def test_a_draft_must_be_sent_within_a_day_and_withdrawn_or_lapsed_drafts_stay_audited(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    made = await post(web, "/disclosure/requests/new", request_form())
    rid = int(made.headers["location"].rsplit("/", 1)[1])
    clock.advance(hours=24, minutes=1)
    await cast.be("pc")
    late = await post(web, f"/disclosure/requests/{rid}/send", {})
    assert late.status_code == 409
    assert "could not be sent" in late.text
    assert (await stored(rid))["status"] == "draft"
    assert await disclosure.lapse_drafts(clock.now) == 1
    assert await disclosure.lapse_drafts(clock.now) == 0
    assert (await stored(rid))["status"] == "lapsed"

    made = await post(web, "/disclosure/requests/new", request_form())
    withdrawn = int(made.headers["location"].rsplit("/", 1)[1])
    dropped = await post(web, f"/disclosure/requests/{withdrawn}/cancel", {})
    assert (dropped.status_code, dropped.headers["location"]) == (303, "/disclosure/requests")
    assert (await stored(withdrawn))["status"] == "withdrawn"
    assert (await post(web, f"/disclosure/requests/{withdrawn}/send", {})).status_code == 409
    ended = await trail("disclosure.lapsed", "disclosure.withdrawn")
    assert [(r["action"], r["actor_kind"], r["child_id"]) for r in ended] == [
        ("disclosure.lapsed", "system", child.id),
        ("disclosure.withdrawn", "practitioner", child.id),
    ]
    # Never sent, never decided: nothing of them in the child's subject access answer.
    answer = await _subject_access_pack(keyring, child, clock.now.date())
    assert not [r for r in answer["recipients"] if r["action"].startswith("Police")]
    # An approver has nothing to open.
    await cast.be("approver")
    assert (await web.get(f"/disclosure/decisions/{withdrawn}")).status_code == 404


async def _subject_access_pack(keyring: Keyring, child: ChildRecord, today: date) -> dict[str, Any]:
    """The JSON pack of a subject access request matched to ``child``, as of ``today``."""
    receipt = await sar_service.submit(
        keyring,
        sar_service.NewRequest(
            authority_id=child.details.local_authority_id,
            requester_kind=RequesterKind.young_person,
            requester_name="Zoë O'Brien-Smith",
            requester_address=Address(lines=("Flat 2",), town="Yarrow", postcode="NB12 3XY"),
            child_given_name="Zoë",
            child_family_name="O'Brien-Smith",
            child_date_of_birth=BORN,
            child_postcode=None,
        ),
        FakeClock().now,
    )
    [row] = await SubjectAccessRequest.select(SubjectAccessRequest.id).where(
        SubjectAccessRequest.reference == receipt.reference
    )
    await SubjectAccessRequest.update({SubjectAccessRequest.child_id: child.id}).where(
        SubjectAccessRequest.id == row["id"]
    )
    opened = sar_service.Opened(row["id"], child.details.local_authority_id, child.id)
    return pack.document(await pack.build(keyring, opened, today))


async def test_an_exemption_hides_the_request_from_subject_access_until_its_review_date(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    await cast.be("approver")
    assert (await web.get(f"/disclosure/decisions/{rid}")).status_code == 200
    today = clock.now.date()
    review = today + timedelta(days=90)
    bad = await post(web, f"/disclosure/decisions/{rid}/exemption", {"exempt": "yes", "review-day": "31"})
    assert bad.status_code == 400
    past = await post(
        web, f"/disclosure/decisions/{rid}/exemption", {"exempt": "yes", **_date("review", today)}
    )
    assert "Review date must be in the future" in past.text
    assert (await stored(rid))["exempt_until"] is None
    kept = await post(
        web, f"/disclosure/decisions/{rid}/exemption", {"exempt": "yes", **_date("review", review)}
    )
    assert kept.status_code == 303, kept.text
    assert (await decide(web, rid, **APPROVE)).status_code == 303
    await cast.be("pc")
    assert (await post(web, f"/disclosure/requests/{rid}/record", {})).status_code == 200

    police_actions = {
        "Police disclosure request prepared",
        "Police disclosure request made",
        "Police disclosure request looked at by the approver",
        "Police disclosure request approved",
        "Record opened by the police under an approved disclosure",
        "Police disclosure kept out of subject access until a review date",
    }
    hidden = await _subject_access_pack(keyring, child, today)
    assert not police_actions & {r["action"] for r in hidden["recipients"]}
    later = await _subject_access_pack(keyring, child, review)
    shown = [r for r in later["recipients"] if r["action"] in police_actions]
    assert {r["action"] for r in shown} == police_actions
    made = next(r for r in shown if r["action"] == "Police disclosure request made")
    assert (made["organisation"], made["role"]) == ("Northshire Police", "Police officer")
    assert made["reason"] == "Police exceptional disclosure request"

    # Lifted: shown at once.
    await cast.be("approver")
    assert (await post(web, f"/disclosure/decisions/{rid}/exemption", {"exempt": "no"})).status_code == 303
    now_shown = await _subject_access_pack(keyring, child, today)
    assert police_actions <= {r["action"] for r in now_shown["recipients"]}


async def test_a_refused_request_appears_in_subject_access_without_an_exemption(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    rid = await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
    waiting = await _subject_access_pack(keyring, child, clock.now.date())
    assert not [r for r in waiting["recipients"] if r["action"].startswith("Police")]  # undecided
    await cast.be("approver")
    unexplained = await decide(web, rid, decision="refuse", note="Not enough to go on here.")
    assert "Select why you refuse the request" in unexplained.text
    refused = await decide(
        web, rid, decision="refuse", refusal_reason="other_means", note="Ask the school first."
    )
    assert refused.status_code == 303
    assert (await stored(rid))["status"] == "refused"
    await cast.be("pc")
    assert (await post(web, f"/disclosure/requests/{rid}/record", {})).status_code == 403
    mine = await web.get(f"/disclosure/requests/{rid}")
    assert "The information can be got another way" in mine.text
    assert "Ask the school first." in mine.text
    assert "Northshire Council" not in mine.text
    assert "Northshire Council" not in (await web.get("/disclosure/requests")).text
    answer = await _subject_access_pack(keyring, child, clock.now.date())
    assert "Police disclosure request refused" in {r["action"] for r in answer["recipients"]}


def _date(name: str, day: date) -> dict[str, str]:
    return {f"{name}-day": str(day.day), f"{name}-month": str(day.month), f"{name}-year": str(day.year)}


async def test_the_transparency_page_counts_requests_by_month_and_authority(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    cast = await cast_of(web, keyring, clock)
    pc = await cast.be("pc")
    child = await create_child(keyring, child_details(pc.authority_id))
    ids = [
        await make_request(web, family_name="", given_name="", signpost_id=child.signpost_id)
        for _ in range(3)
    ]
    clock.advance(hours=2)
    await cast.be("approver")
    assert (await decide(web, ids[0], **APPROVE)).status_code == 303
    clock.advance(hours=2)
    await cast.be("approver")
    refusal = {"decision": "refuse", "refusal_reason": "not_proportionate", "note": "Too much for the aim."}
    assert (await decide(web, ids[1], **refusal)).status_code == 303

    # Sent at 23:30 UTC on 30 September (00:30 on 1 October in the UK) and refused an hour later:
    # an October request and an October refusal.
    autumn = datetime(2026, 9, 30, 23, 30, tzinfo=UTC)
    await DisclosureRequest.update(
        {
            DisclosureRequest.submitted_at: autumn,
            DisclosureRequest.decided_at: autumn + timedelta(hours=1),
            DisclosureRequest.status: "refused",
        }
    ).where(DisclosureRequest.id == ids[2])
    # Sent on 31 October, refused on 24 November: an October request, a November refusal.
    await DisclosureRequest.update(
        {DisclosureRequest.submitted_at: datetime(2026, 10, 31, 10, tzinfo=UTC)}
    ).where(DisclosureRequest.id == ids[1])

    # The month under way is not published, and a refusal in it leaves October's row as it was.
    october = disclosure.MonthFigures(date(2026, 10, 1), "Northshire Council", 2, 0, 1, 1.0)
    assert await disclosure.figures(clock.now.date()) == [october]
    clock.now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    figures = await disclosure.figures(clock.now.date())
    waited = (datetime(2026, 11, 24, 13, tzinfo=UTC) - datetime(2026, 10, 31, 10, tzinfo=UTC)).total_seconds()
    assert figures == [
        disclosure.MonthFigures(
            date(2026, 11, 1), "Northshire Council", 1, 1, 1, round((2 + waited / 3600) / 2, 1)
        ),
        october,
    ]
    page = await web.get("/transparency")
    assert page.status_code == 200
    row = re.search(r"November 2026</th>\s*<td[^>]*>Northshire Council</td>(.*?)</tr>", page.text, re.S)
    assert row, page.text
    assert re.findall(r">([^<]+)</td>", row.group(1)) == [
        "1",
        "1",
        "1",
        f"{figures[0].median_hours:.1f} hours",
    ]
