"""Practitioner identity end to end: enrolment codes, security keys, sessions, administration.

Every WebAuthn response comes from the software key in tests/softkey.py and goes through the
real endpoints; each bent response must be refused with the same message and logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.audit.tables import Alert, AuditEntry
from app.crypto.keyring import Keyring
from app.identity.service import Role, find_by_email
from app.identity.tables import Credential, EnrolmentCode
from app.settings import DatabaseUrl, Settings, load_settings
from tests.conftest import production_env
from tests.identity_flow import (
    FakeClock,
    Person,
    enrol,
    make_person,
    post_json,
    register,
    sign_in,
    signed_in_as,
    start_enrolment,
)
from tests.identity_flow import enrolled as enrolled_with
from tests.pagecheck import CheckedClient
from tests.softkey import BE, BS, UP, UV, AttestationCA, SoftKey

ORIGIN = "http://testserver.local"
LOGIN_FAILED = "That security key could not sign you in"


def database_env(db_url: DatabaseUrl) -> dict[str, str]:
    return {"SIGNPOST_DATABASE_URL": db_url.dsn} if db_url.dsn else {}


@pytest.fixture
async def person(engine: Any, keyring: Keyring, clock: FakeClock) -> Person:
    return await make_person(keyring, clock.now)


async def enrolled(web: CheckedClient, person: Person) -> SoftKey:
    return await enrolled_with(web, person, ORIGIN)


async def test_enrol_sign_in_and_reach_home(web: CheckedClient, person: Person) -> None:
    key = SoftKey()
    await enrol(web, person, key, ORIGIN)
    home = await web.get("/home")
    assert home.status_code == 200
    assert "Ada Okafor" in home.text
    assert "Riverside Primary School" in home.text
    assert home.headers["cache-control"] == "no-store"
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    signed_in = await sign_in(web, key, ORIGIN, email=person.email)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json() == {"redirect": "/home"}
    assert (await web.get("/home")).status_code == 200


async def test_discoverable_sign_in_without_an_email(web: CheckedClient, person: Person) -> None:
    key = await enrolled(web, person)
    assert (await sign_in(web, key, ORIGIN)).status_code == 200


async def test_the_session_id_changes_at_sign_in(web: CheckedClient, person: Person) -> None:
    key = await enrolled(web, person)
    await post_json(web, "/auth/login/options", {"email": person.email})
    before = web.cookies["signpost_session"]
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    response = await sign_in(web, key, ORIGIN, email=person.email)
    assert response.status_code == 200
    assert web.cookies["signpost_session"] != before


async def test_logout_ends_the_session_and_clears_the_site(web: CheckedClient, person: Person) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    old_cookie = web.cookies["signpost_session"]
    response = await web.post(
        "/logout", headers={"x-csrftoken": web.cookies["csrftoken"]}, follow_redirects=False
    )
    assert response.status_code == 303
    assert "cookies" in response.headers["clear-site-data"]
    web.cookies.set("signpost_session", old_cookie)
    refused = await web.get("/home", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login"


@pytest.mark.parametrize(
    ("minutes", "still_signed_in"), [(14 + 59 / 60, True), (15 + 1 / 60, False)], ids=["14:59", "15:01"]
)
async def test_idle_timeout(
    web: CheckedClient, person: Person, clock: FakeClock, minutes: float, still_signed_in: bool
) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    clock.advance(minutes=minutes)
    response = await web.get("/home", follow_redirects=False)
    assert (response.status_code == 200) is still_signed_in


async def test_activity_is_written_at_most_once_a_minute_and_never_lengthens_a_session(
    web: CheckedClient, person: Person, clock: FakeClock
) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    clock.advance(seconds=30)
    assert (await web.get("/home")).status_code == 200  # too soon to write: idle still counts from sign-in
    clock.advance(minutes=14, seconds=40)  # 15:10 after the last write, 14:40 after the last request
    assert (await web.get("/home", follow_redirects=False)).status_code == 303
    await sign_in(web, key, ORIGIN, email=person.email)
    clock.advance(seconds=61)
    assert (await web.get("/home")).status_code == 200  # written now
    clock.advance(minutes=14, seconds=59)
    assert (await web.get("/home")).status_code == 200


async def test_absolute_timeout_of_twelve_hours(web: CheckedClient, person: Person, clock: FakeClock) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    for _ in range(71):  # active every 10 minutes for 11 h 50 min
        clock.advance(minutes=10)
        assert (await web.get("/home", follow_redirects=False)).status_code == 200
    clock.advance(minutes=10, seconds=1)
    assert (await web.get("/home", follow_redirects=False)).status_code == 303


@pytest.mark.parametrize(
    ("bend", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID hash"),
        ({"flags": UV}, "User was not present"),
        ({"flags": UP}, "User verification is required"),
        ({"tamper_signature": True}, "signature"),
        ({"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "challenge"),
    ],
    ids=[
        "wrong origin",
        "wrong RP ID hash",
        "user presence off",
        "user verification off",
        "bad signature",
        "wrong challenge",
    ],
)
async def test_bent_assertions_are_refused_and_logged(
    web: CheckedClient, person: Person, caplog: pytest.LogCaptureFixture, bend: dict[str, Any], reason: str
) -> None:
    key = await enrolled(web, person)
    if "origin" in bend:
        bend = {**bend}
        origin = bend.pop("origin")
    else:
        origin = ORIGIN
    with caplog.at_level(logging.INFO, logger="signpost.auth"):
        response = await sign_in(web, key, origin, email=person.email, **bend)
    assert response.status_code == 401
    assert LOGIN_FAILED in response.json()["error"]
    assert any("auth.login_failed" in r.message and reason in r.message for r in caplog.records), caplog.text
    assert (await web.get("/home", follow_redirects=False)).status_code == 303


async def test_a_replayed_assertion_is_refused(
    web: CheckedClient, person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    key = await enrolled(web, person)
    options = await post_json(web, "/auth/login/options", {"email": person.email})
    assertion = key.get(options.json(), origin=ORIGIN)
    assert (await post_json(web, "/auth/login/verify", assertion)).status_code == 200
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    await post_json(web, "/auth/login/options", {"email": person.email})  # a fresh session and challenge
    with caplog.at_level(logging.INFO, logger="signpost.auth"):
        replay = await post_json(web, "/auth/login/verify", assertion)
    assert replay.status_code == 401
    assert any("challenge" in r.message for r in caplog.records if "auth.login_failed" in r.message)


async def test_an_expired_challenge_is_refused(
    web: CheckedClient, person: Person, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    key = await enrolled(web, person)
    options = await post_json(web, "/auth/login/options", {"email": person.email})
    clock.advance(minutes=5, seconds=1)
    with caplog.at_level(logging.INFO, logger="signpost.auth"):
        late = await post_json(web, "/auth/login/verify", key.get(options.json(), origin=ORIGIN))
    assert late.status_code == 401
    assert any("no live challenge" in r.message for r in caplog.records)


async def test_a_counter_that_goes_back_disables_the_key(
    web: CheckedClient, person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    key = await enrolled(web, person)
    assert (await sign_in(web, key, ORIGIN, email=person.email)).status_code == 200  # counter 1
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    assert (await sign_in(web, key, ORIGIN, email=person.email, counter=5)).status_code == 200
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    with caplog.at_level(logging.INFO, logger="signpost.auth"):
        cloned = await sign_in(web, key, ORIGIN, email=person.email, counter=3)
    assert cloned.status_code == 401
    assert any(
        "auth.counter_regression" in r.message and "privacy officer" in r.message for r in caplog.records
    )
    rows = (
        await Credential.select(Credential.disabled_reason).where(Credential.practitioner == person.id).run()
    )
    assert [r["disabled_reason"] for r in rows] == ["counter_regression"]
    assert (await sign_in(web, key, ORIGIN, email=person.email)).status_code == 401  # the key stays disabled
    # The privacy officer of the practitioner's authority has an alert, tied to its audit row.
    alerts = await Alert.select().run()
    assert [(a["kind"], a["authority_id"], a["practitioner_id"]) for a in alerts] == [
        ("counter_regression", person.authority_id, person.id)
    ]
    audited = await AuditEntry.select().where(AuditEntry.seq == alerts[0]["audit_seq"]).run()
    assert audited[0]["action"] == "auth.counter_regression"
    assert f"practitioner:{person.id}" in audited[0]["subjects"]


async def test_another_practitioners_key_is_refused(
    web: CheckedClient, person: Person, keyring: Keyring, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    mine = await enrolled(web, person)
    other = await make_person(keyring, clock.now, email="ben.price@riverside.example.org")
    theirs = await enrolled(web, other)
    assert (await sign_in(web, mine, ORIGIN, email=person.email)).status_code == 200
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    with caplog.at_level(logging.INFO, logger="signpost.auth"):
        response = await sign_in(web, theirs, ORIGIN, email=person.email)
    assert response.status_code == 401
    assert any("belongs to another practitioner" in r.message for r in caplog.records)


async def test_an_unknown_key_is_refused(
    web: CheckedClient, person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    await enrolled(web, person)
    stranger = SoftKey()
    with caplog.at_level(logging.INFO, logger="signpost.auth"):
        response = await sign_in(web, stranger, ORIGIN, email=person.email, rp_id="testserver.local")
    assert response.status_code == 401
    assert any("unknown credential" in r.message for r in caplog.records)


async def test_sign_in_options_do_not_reveal_whether_an_account_exists(
    web: CheckedClient, person: Person
) -> None:
    await enrolled(web, person)
    known = (await post_json(web, "/auth/login/options", {"email": person.email})).json()
    unknown = (await post_json(web, "/auth/login/options", {"email": "nobody@riverside.example.org"})).json()
    assert set(known) == set(unknown)
    assert len(known["allowCredentials"]) == 1  # this account has one key
    assert 1 <= len(unknown["allowCredentials"]) <= 2  # decoys have one or two, as accounts do
    again = (await post_json(web, "/auth/login/options", {"email": " NOBODY@riverside.example.org "})).json()
    assert again["allowCredentials"] == unknown["allowCredentials"]  # stable under case and spaces
    lengths = set()
    for n in range(40):
        decoy = (await post_json(web, "/auth/login/options", {"email": f"n{n}@x.example.org"})).json()
        lengths |= {len(c["id"]) for c in decoy["allowCredentials"]}
        assert 1 <= len(decoy["allowCredentials"]) <= 2
    assert len(lengths) > 1  # decoys vary in length, as real credential IDs do


async def test_repeated_failures_are_throttled(web: CheckedClient, person: Person) -> None:
    key = await enrolled(web, person)
    statuses = [
        (await sign_in(web, key, ORIGIN, email=person.email, tamper_signature=True)).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    blocked = await sign_in(web, key, ORIGIN, email=person.email)  # even the right key, for now
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


# Enrolment codes


async def test_wrong_codes_lock_after_five_tries(web: CheckedClient, person: Person) -> None:
    for _ in range(5):
        wrong = await start_enrolment(web, person.email, "AAAA-BBBB-CCCC-DDDD")
        assert wrong.status_code == 400
        assert "is not right" in wrong.text
    locked = await start_enrolment(web, person.email, person.code)
    assert locked.status_code == 400
    rows = (
        await EnrolmentCode.select(EnrolmentCode.failed_attempts)
        .where(EnrolmentCode.practitioner == person.id)
        .run()
    )
    assert rows[0]["failed_attempts"] == 5


async def test_a_code_works_once_and_expires(
    web: CheckedClient, person: Person, clock: FakeClock, keyring: Keyring
) -> None:
    assert (await start_enrolment(web, person.email, person.code)).status_code == 303
    assert (await start_enrolment(web, person.email, person.code)).status_code == 400
    late = await make_person(keyring, clock.now, email="cy.late@riverside.example.org")
    clock.advance(hours=72, seconds=1)
    assert (await start_enrolment(web, late.email, late.code)).status_code == 400


async def test_an_unknown_email_gets_the_same_answer_as_a_wrong_code(
    web: CheckedClient, person: Person
) -> None:
    unknown = await start_enrolment(web, "nobody@riverside.example.org", person.code)
    wrong = await start_enrolment(web, person.email, "AAAA-BBBB-CCCC-DDDD")
    assert unknown.status_code == wrong.status_code == 400

    def page(response: Any, email: str) -> str:
        return re.sub(r'nonce="[^"]+"', "", response.text.replace(email, "EMAIL"))

    assert page(unknown, "nobody@riverside.example.org") == page(wrong, person.email)


async def test_codes_are_stored_only_as_argon2id(person: Person) -> None:
    rows = (
        await EnrolmentCode.select(EnrolmentCode.code_hash)
        .where(EnrolmentCode.practitioner == person.id)
        .run()
    )
    assert rows[0]["code_hash"].startswith("$argon2id$")
    assert person.code.replace("-", "") not in rows[0]["code_hash"]
    assert len(person.code.replace("-", "")) * 5 >= 80  # at least 80 bits


async def test_the_enrolment_form_explains_each_problem(web: CheckedClient) -> None:
    response = await start_enrolment(web, "not-an-email", "")
    assert response.status_code == 400
    assert "<title>Error: " in response.text
    assert 'href="#email"' in response.text
    assert 'href="#code"' in response.text


# Production attestation policy


@pytest.fixture
def ca() -> AttestationCA:
    return AttestationCA()


@pytest.fixture
async def production(
    app_factory: Any, data_dir: Path, db_url: DatabaseUrl, clock: FakeClock, ca: AttestationCA
) -> AsyncIterator[tuple[CheckedClient, Settings]]:
    settings = load_settings(production_env(data_dir, roots_pem=ca.pem, **database_env(db_url)))
    async with CheckedClient(
        app=app_factory(settings=settings, clock=clock), base_url=settings.origin
    ) as client:
        yield client, settings


@pytest.mark.parametrize(
    ("make_key", "flags", "accepted"),
    [
        (lambda ca: SoftKey(ca=ca), UP | UV, True),
        (lambda ca: SoftKey(ca=None), UP | UV, False),  # "none" attestation
        (lambda ca: SoftKey(ca=ca), UP | UV | BE | BS, False),  # a synced, backed-up passkey
        (lambda ca: SoftKey(ca=ca, aaguid="00000000-0000-0000-0000-000000000001"), UP | UV, False),
        (lambda ca: SoftKey(ca=AttestationCA()), UP | UV, False),  # chains to an untrusted root
        (lambda ca: SoftKey(ca=ca), UP, False),  # no user verification
    ],
    ids=[
        "trusted hardware key",
        "none attestation",
        "backed up",
        "AAGUID off the list",
        "untrusted root",
        "no UV",
    ],
)
async def test_production_attestation_policy(
    production: tuple[CheckedClient, Settings],
    engine: Any,
    keyring: Keyring,
    clock: FakeClock,
    ca: AttestationCA,
    make_key: Any,
    flags: int,
    accepted: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, settings = production
    someone = await make_person(keyring, clock.now)
    assert (await start_enrolment(client, someone.email, someone.code)).status_code == 303
    with caplog.at_level(logging.INFO, logger="signpost.auth"):
        response = await register(client, make_key(ca), settings.origin, flags=flags)
    assert (response.status_code == 200) is accepted, response.text
    if accepted:  # enrolment signed them in: a new, host-only, secure session cookie
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-signpost_session=")
        for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
            assert flag.lower() in cookie.lower(), flag
        assert "domain" not in cookie.lower()
    if not accepted:
        assert any("auth.registration_refused" in r.message for r in caplog.records)
        assert await Credential.count().where(Credential.practitioner == someone.id).run() == 0


# Key management and step-up


async def test_key_changes_need_a_recent_key_touch(
    web: CheckedClient, person: Person, clock: FakeClock
) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    clock.advance(minutes=6)
    page = await web.get("/keys/add", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/step-up?next=/keys/add"
    for hostile in ("//evil.example", "https://evil.example/", "/keys?x=1", "/a/../b", "keys"):
        step_up = await web.get("/step-up", params={"next": hostile})
        assert 'data-next="/keys"' in step_up.text  # anything but a plain local path: key management
    assert 'data-next="/keys/add"' in (await web.get(page.headers["location"])).text
    options = await post_json(web, "/auth/register/options", {})
    assert options.status_code == 403
    assert (await sign_in(web, key, ORIGIN)).json() == {"redirect": "/keys"}  # the step-up
    assert (await web.get("/keys/add")).status_code == 200
    backup = SoftKey()
    added = await register(web, backup, ORIGIN)
    assert added.json() == {"redirect": "/keys?added=1"}
    keys_page = await web.get("/keys")
    assert "Security key 2" in keys_page.text


async def test_the_last_key_cannot_be_revoked_but_others_can(web: CheckedClient, person: Person) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    rows = await Credential.select(Credential.id).where(Credential.practitioner == person.id).run()
    token = web.cookies["csrftoken"]
    refused = await web.post(f"/keys/{rows[0]['id']}/revoke", data={"_csrf_token": token})
    assert refused.status_code == 400
    assert "cannot remove your only key" in refused.text
    await register(web, SoftKey(), ORIGIN)
    done = await web.post(
        f"/keys/{rows[0]['id']}/revoke", data={"_csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    assert (await sign_in(web, key, ORIGIN, email=person.email)).status_code == 401
    # Every key change is in the audit trail, by the practitioner, naming the key.
    audited = (
        await AuditEntry.select().where(AuditEntry.action.like("auth.key_%")).order_by(AuditEntry.seq).run()
    )
    first = f"credential:{rows[0]['id']}"
    assert [(r["action"], r["actor_id"], first in r["subjects"]) for r in audited] == [
        ("auth.key_added", person.id, True),
        ("auth.key_added", person.id, False),
        ("auth.key_revoked", person.id, True),
    ]


async def test_key_changes_show_a_notice_at_the_next_sign_in(
    web: CheckedClient, person: Person, clock: FakeClock
) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    rows = await Credential.select(Credential.id).where(Credential.practitioner == person.id).run()
    clock.advance(seconds=5)
    await web.post(
        f"/keys/{rows[0]['id']}/rename", data={"name": "Blue key", "_csrf_token": web.cookies["csrftoken"]}
    )
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    clock.advance(seconds=5)
    await sign_in(web, key, ORIGIN, email=person.email)
    home = await web.get("/home")
    assert "Your security keys changed since you last signed in" in home.text
    assert "Your security keys changed" not in (await web.get("/home")).text  # shown once
    renamed = await AuditEntry.select().where(AuditEntry.action == "auth.key_renamed").run()
    assert [(r["actor_id"], r["role"]) for r in renamed] == [(person.id, "practitioner")]


# Administration


async def signed_in_admin(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> tuple[Person, SoftKey]:
    """A local-authority admin with an enrolled key, signed in (so with a fresh key touch)."""
    return await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org")


async def test_an_admin_enrols_a_practitioner_and_revokes_them(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    admin, admin_key = await signed_in_admin(web, keyring, clock)
    form = {
        "name": "Cara Nwosu",
        "email": "cara.nwosu@health.example.org",
        "role": "practitioner",
        "organisation": "Northshire Health Visiting",
        "_csrf_token": web.cookies["csrftoken"],
    }
    issued = await web.post("/admin/users/new", data=form)
    assert issued.status_code == 200
    match = re.search(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", issued.text)
    assert match, issued.text
    code = match.group(0)
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})

    cara = Person(id=0, email=form["email"], code=code, authority_id=admin.authority_id)
    cara_key = SoftKey()
    await enrol(web, cara, cara_key, ORIGIN)
    assert (await web.get("/home")).status_code == 200
    await web.post("/logout", headers={"x-csrftoken": web.cookies["csrftoken"]})
    await sign_in(web, cara_key, ORIGIN, email=cara.email)
    assert (await web.get("/home")).status_code == 200
    cara_session = web.cookies["signpost_session"]

    web.cookies.clear()
    await sign_in(web, admin_key, ORIGIN, email=admin.email)
    people = await web.get("/admin/users")
    assert "Cara Nwosu" in people.text
    cara_id = await find_by_email(keyring, cara.email)
    revoked = await web.post(f"/admin/users/{cara_id}/revoke", data={"_csrf_token": web.cookies["csrftoken"]})
    assert revoked.status_code == 200

    web.cookies.clear()
    web.cookies.set("signpost_session", cara_session, domain="testserver.local")
    assert (await web.get("/home", follow_redirects=False)).status_code == 303  # her live session ended
    assert (await sign_in(web, cara_key, ORIGIN, email=cara.email)).status_code == 401


async def test_admins_cannot_reach_another_authoritys_people(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    admin = await make_person(keyring, clock.now, email="team@northshire.example.org", role=Role.la_admin)
    elsewhere = await make_person(
        keyring,
        clock.now,
        email="someone@eastmoor.example.org",
        authority="Eastmoor Council",
        organisation="Eastmoor School",
    )
    admin_key = await enrolled(web, admin)
    await sign_in(web, admin_key, ORIGIN, email=admin.email)
    token = web.cookies["csrftoken"]
    for url in (f"/admin/users/{elsewhere.id}/revoke", f"/admin/users/{elsewhere.id}/code"):
        assert (await web.post(url, data={"_csrf_token": token})).status_code == 404
    assert (await web.get(f"/admin/users/{elsewhere.id}/keys")).status_code == 404
    assert "someone@eastmoor" not in (await web.get("/admin/users")).text


async def test_admin_actions_need_a_recent_key_touch_and_cannot_grant_privileged_roles(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    await signed_in_admin(web, keyring, clock)
    form = {
        "name": "Pat Constable",
        "email": "pat@police.example.org",
        "role": "police",
        "organisation": "Northshire Police",
        "_csrf_token": web.cookies["csrftoken"],
    }
    refused = await web.post("/admin/users/new", data=form)
    assert refused.status_code == 400
    assert "Select the person&#39;s role" in refused.text
    assert await find_by_email(keyring, form["email"]) is None
    clock.advance(minutes=6)
    stale = await web.post("/admin/users/new", data={**form, "role": "practitioner"}, follow_redirects=False)
    assert stale.status_code == 303
    assert stale.headers["location"] == "/step-up?next=/admin/users"  # a form post: back to its page
    assert await find_by_email(keyring, form["email"]) is None


async def test_practitioners_cannot_administer(web: CheckedClient, person: Person) -> None:
    key = await enrolled(web, person)
    await sign_in(web, key, ORIGIN, email=person.email)
    assert (await web.get("/admin/users")).status_code == 403
    refused = await web.post(f"/admin/users/{person.id}/code", data={"_csrf_token": web.cookies["csrftoken"]})
    assert refused.status_code == 403
