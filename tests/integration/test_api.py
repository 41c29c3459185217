"""The case-management API on SQLite and PostgreSQL: search, open, record and end involvement
through a registered client acting for a named practitioner; every refusal rule for the
``Signpost-On-Behalf-Of`` header; rotation and revocation at once; problem details; quotas
against the practitioner and the client; audit rows naming both; and the committed OpenAPI
document equal to the one served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from httpx import Response

from app.api import clients
from app.api.tables import ApiClient
from app.audit.service import Actor
from app.audit.tables import AuditEntry
from app.crypto.keyring import Keyring
from app.identity.service import Role, revoke_practitioner
from app.identity.tables import Practitioner
from app.records.schemas import ChildRecord
from app.records.service import create_child
from app.records.tables import Involvement
from tests.conftest import dev_settings_for
from tests.factories import child_details
from tests.identity_flow import FakeClock, Person, make_person, signed_in_as
from tests.pagecheck import CheckedClient

ORIGIN = "http://testserver.local"
DOCS = Path(__file__).resolve().parents[2] / "docs"
SEARCH = {"family_name": "O'Brien-Smith", "date_of_birth": "2014-02-28", "given_name": "Zoë"}
INVOLVEMENT = {
    "service_name": "Riverside Primary School",
    "service_type": "education",
    "role": "Designated safeguarding lead",
    "telephone": "01632 960 123",
    "email": "dsl@riverside.example.org",
    "start_date": "2026-09-03",
    "lead_professional": True,
}


async def organisation_of(person: Person) -> int:
    rows = await Practitioner.select(Practitioner.organisation).where(Practitioner.id == person.id).run()
    return int(rows[0]["organisation"])


async def client_for(person: Person, clock: FakeClock, name: str = "Riverside MIS") -> tuple[int, str]:
    return await clients.register(
        name, await organisation_of(person), person.authority_id, Actor("operator"), clock.now
    )


async def signed_in(
    web: CheckedClient, keyring: Keyring, clock: FakeClock, email: str, **where: str
) -> Person:
    """A practitioner who has just signed in with their key (the API needs one within 12 hours)."""
    web.cookies.clear()
    person, _ = await signed_in_as(web, keyring, clock.now, ORIGIN, Role.practitioner, email, **where)
    web.cookies.clear()  # the API calls below carry no session
    return person


def headers(secret: str, person: Person | int | str) -> dict[str, str]:
    named = str(person.id if isinstance(person, Person) else person)
    return {"Authorization": f"Bearer {secret}", "Signpost-On-Behalf-Of": named}


async def call(web: CheckedClient, path: str, secret: str, person: Person | int | str, body: Any) -> Response:
    return await web.post(f"/api/v1{path}", json=body, headers=headers(secret, person))


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:signpost:problem:{code}"
    return body


async def setup(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> tuple[Person, ChildRecord, str]:
    person = await signed_in(web, keyring, clock, "ada@riverside.example.org")
    child = await create_child(keyring, child_details(person.authority_id))
    _, secret = await client_for(person, clock)
    return person, child, secret


async def test_search_open_and_involvement_through_the_api_audited_with_client_and_practitioner(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    person, child, secret = await setup(web, keyring, clock)
    client_id = (await clients.authenticate(secret)).id  # type: ignore[union-attr]

    found = await call(web, "/search", secret, person, SEARCH)
    assert found.status_code == 200, found.text
    assert found.headers["cache-control"] == "no-store"
    body = found.json()
    assert body["outcome"] == "success"
    assert body["results"] == [
        {
            "record_id": child.id,
            "signpost_id": child.signpost_id,
            "given_name": "Zoë",
            "family_name": "O'Brien-Smith",
            "date_of_birth": "2014-02-28",
            "gender": child.details.gender.value,
            "town": child.details.address.town if child.details.address else None,
            "shielded": False,
        }
    ]

    opened = await call(web, f"/records/{child.id}/views", secret, person, {"reason": "new_to_caseload"})
    assert opened.status_code == 200, opened.text
    record = opened.json()
    assert record["record_id"] == child.id
    assert record["restricted"] is False
    assert record["address"]["postcode"] == child.details.address.postcode  # type: ignore[union-attr]
    assert set(record) == {
        "record_id", "signpost_id", "given_name", "family_name", "date_of_birth", "gender",
        "restricted", "local_signpost_team", "kept_past_18_until", "address", "carers",
        "education_setting", "gp_practice", "services",
    }  # fmt: skip

    added = await call(web, f"/records/{child.id}/involvements", secret, person, INVOLVEMENT)
    assert added.status_code == 201, added.text
    involvement_id = added.json()["involvement_id"]
    stored = await Involvement.select().where(Involvement.id == involvement_id).run()
    assert stored[0]["recorded_by"] == person.id
    assert stored[0]["child"] == child.id
    again = await call(web, f"/records/{child.id}/views", secret, person, {"reason": "assessment"})
    mine = [s for s in again.json()["services"] if s.get("involvement_id") == involvement_id]
    assert mine
    assert mine[0]["recorded_by_you"] is True
    assert mine[0]["practitioner_name"] == "Ada Okafor"

    path = f"/records/{child.id}/involvements/{involvement_id}/end"
    ended = await call(web, path, secret, person, None)
    assert ended.status_code == 200, ended.text
    assert ended.json() == {"involvement_id": involvement_id, "record_id": child.id, "end_date": "2026-11-24"}
    problem(await call(web, path, secret, person, None), 409, "already_ended")
    problem(
        await call(web, f"/records/{child.id}/involvements/99999/end", secret, person, None), 404, "not_found"
    )

    rows = await AuditEntry.select().where(AuditEntry.actor_id == person.id).order_by(AuditEntry.seq).run()
    api_rows = [r for r in rows if r["action"] != "auth.login" and not r["action"].startswith("auth.")]
    assert [r["action"] for r in api_rows] == [
        "record.search",
        "record.result_returned",
        "record.view",
        "involvement.add",
        "record.view",
        "involvement.end",
    ]
    for row in api_rows:
        assert f"api_client:{client_id}" in json.loads(row["subjects"]), row["action"]
        assert row["actor_kind"] == "practitioner"
        assert row["organisation_id"] == await organisation_of(person)
    view = next(r for r in api_rows if r["action"] == "record.view")
    assert view["reason"] == "new_to_caseload"
    assert view["child_id"] == child.id


async def test_each_refusal_rule_for_the_on_behalf_of_header(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    person, _, secret = await setup(web, keyring, clock)
    problem(await call(web, "/search", secret, "", SEARCH), 400, "invalid_request")
    missing = await web.post("/api/v1/search", json=SEARCH, headers={"Authorization": f"Bearer {secret}"})
    body = problem(missing, 400, "on_behalf_of_missing")
    assert body["errors"][0]["field"] == "Signpost-On-Behalf-Of"
    for bad in ("abc", "-1", "0", "1.5", "99999999999999999999", "1e3", " 12"):
        problem(await call(web, "/search", secret, bad, SEARCH), 400, "invalid_request")

    # Unknown, of another organisation, in a role without search, revoked: all alike.
    problem(await call(web, "/search", secret, 987654321, SEARCH), 403, "practitioner_not_allowed")
    elsewhere = await signed_in(
        web, keyring, clock, "bo@hillside.example.org", organisation="Hillside Surgery"
    )
    problem(await call(web, "/search", secret, elsewhere, SEARCH), 403, "practitioner_not_allowed")
    officer = await make_person(
        keyring, clock.now, email="po@riverside.example.org", role=Role.privacy_officer
    )
    await (
        Practitioner.update({Practitioner.last_login_at: clock.now})
        .where(Practitioner.id == officer.id)
        .run()
    )
    problem(await call(web, "/search", secret, officer, SEARCH), 403, "practitioner_not_allowed")

    # Never signed in with a key, then signed in more than 12 hours ago.
    never = await make_person(keyring, clock.now, email="cy@riverside.example.org")
    problem(await call(web, "/search", secret, never, SEARCH), 403, "key_sign_in_required")
    assert (await call(web, "/search", secret, person, SEARCH)).status_code == 200
    clock.advance(hours=11, minutes=59)
    assert (await call(web, "/search", secret, person, SEARCH)).status_code == 200
    clock.advance(minutes=2)
    stale = problem(await call(web, "/search", secret, person, SEARCH), 403, "key_sign_in_required")
    assert "security key" in stale["detail"]

    await revoke_practitioner(person.id, clock.now, Actor("operator"))
    await (
        Practitioner.update({Practitioner.last_login_at: clock.now}).where(Practitioner.id == person.id).run()
    )
    problem(await call(web, "/search", secret, person, SEARCH), 403, "practitioner_not_allowed")

    refused = (
        await AuditEntry.select().where(AuditEntry.action == "api.refused").order_by(AuditEntry.seq).run()
    )
    assert [json.loads(r["detail"])["why"] for r in refused] == [
        "practitioner_not_allowed",
        "practitioner_not_allowed",
        "practitioner_not_allowed",
        "key_sign_in_required",
        "key_sign_in_required",
        "practitioner_not_allowed",
    ]
    assert (
        not await AuditEntry.exists()
        .where(AuditEntry.action == "record.search")
        .where(AuditEntry.actor_id.is_in([elsewhere.id, officer.id, never.id]))
        .run()
    )


async def test_the_client_secret_authenticates_and_rotation_and_revocation_take_effect_at_once(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    person, _, secret = await setup(web, keyring, clock)
    assert secret.startswith("spk_")
    assert len(secret) == 4 + 43
    for auth in (
        {},
        {"Authorization": "Bearer spk_wrong"},
        {"Authorization": secret},
        {"Authorization": "Basic x"},
    ):
        refused = await web.post(
            "/api/v1/search",
            json={"not": "checked yet"},
            headers={**auth, "Signpost-On-Behalf-Of": str(person.id)},
        )
        problem(refused, 401, "unauthenticated")
        assert refused.headers["www-authenticate"].startswith("Bearer")
    stored = await ApiClient.select().run()
    assert secret not in json.dumps([{k: str(v) for k, v in r.items()} for r in stored])

    # An administrator rotates and revokes on the web page, with a key touch.
    web.cookies.clear()
    admin, _ = await signed_in_as(
        web,
        keyring,
        clock.now,
        ORIGIN,
        Role.la_admin,
        "team@northshire.example.org",
        organisation="Northshire Signpost team",
    )
    page = await web.get("/admin/api-clients")
    assert page.status_code == 200
    assert "Riverside MIS" in page.text
    client_id = (await clients.authenticate(secret)).id  # type: ignore[union-attr]
    token = {"_csrf_token": web.cookies["csrftoken"]}
    rotated = await web.post(f"/admin/api-clients/{client_id}/rotate", data=token)
    assert rotated.status_code == 200
    new_secret = rotated.text.split('<code id="secret" class="govuk-!-font-size-19">')[1].split("</code>")[0]
    assert new_secret.startswith("spk_")
    assert new_secret != secret
    web.cookies.clear()
    problem(await call(web, "/search", secret, person, SEARCH), 401, "unauthenticated")
    assert (await call(web, "/search", new_secret, person, SEARCH)).status_code == 200

    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team2@northshire.example.org")
    token = {"_csrf_token": web.cookies["csrftoken"]}
    revoked = await web.post(f"/admin/api-clients/{client_id}/revoke", data=token, follow_redirects=False)
    assert revoked.status_code == 303
    web.cookies.clear()
    problem(await call(web, "/search", new_secret, person, SEARCH), 401, "unauthenticated")
    actions = [
        r["action"] for r in await AuditEntry.select().where(AuditEntry.action.like("api_client.%")).run()
    ]
    assert actions == ["api_client.registered", "api_client.rotated", "api_client.revoked"]
    assert admin.id


async def test_an_administrator_registers_a_client_for_their_own_authoritys_organisation_only(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    person = await signed_in(web, keyring, clock, "ada@riverside.example.org")
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team@northshire.example.org")
    token = {"_csrf_token": web.cookies["csrftoken"]}
    empty = await web.post("/admin/api-clients", data={**token, "name": "<b>", "organisation": "1"})
    assert empty.status_code == 400
    assert "Enter the system" in empty.text
    assert "Select the organisation" in empty.text
    assert await ApiClient.count().run() == 0
    organisation = await organisation_of(person)
    made = await web.post(
        "/admin/api-clients", data={**token, "name": "Riverside MIS", "organisation": str(organisation)}
    )
    assert made.status_code == 200
    assert "cannot show it again" in made.text
    secret = made.text.split('<code id="secret" class="govuk-!-font-size-19">')[1].split("</code>")[0]
    web.cookies.clear()
    assert (await call(web, "/search", secret, person, SEARCH)).status_code == 200

    # Another authority's organisation cannot be chosen.
    other = await signed_in(
        web, keyring, clock, "x@far.example.org", authority="Farshire Council", organisation="Far School"
    )
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.la_admin, "team3@northshire.example.org")
    token = {"_csrf_token": web.cookies["csrftoken"]}
    foreign = await web.post(
        "/admin/api-clients",
        data={**token, "name": "Far MIS", "organisation": str(await organisation_of(other))},
    )
    assert foreign.status_code == 400
    assert await ApiClient.count().run() == 1


async def test_no_record_is_reachable_through_another_organisations_client(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    ada, child, ada_secret = await setup(web, keyring, clock)
    assert (await call(web, "/search", ada_secret, ada, SEARCH)).status_code == 200
    bo = await signed_in(web, keyring, clock, "bo@hillside.example.org", organisation="Hillside Surgery")
    _, bo_secret = await client_for(bo, clock, "Hillside EMIS")
    # Hillside's client cannot act for Ada, nor open what Ada found for Bo.
    problem(
        await call(web, f"/records/{child.id}/views", bo_secret, ada, {"reason": "assessment"}),
        403,
        "practitioner_not_allowed",
    )
    problem(
        await call(web, f"/records/{child.id}/views", bo_secret, bo, {"reason": "assessment"}),
        404,
        "not_found",
    )
    problem(
        await call(web, f"/records/{child.id}/involvements", bo_secret, bo, INVOLVEMENT), 404, "not_found"
    )
    # Ada's client opens it for Ada, whose search showed it.
    assert (
        await call(web, f"/records/{child.id}/views", ada_secret, ada, {"reason": "assessment"})
    ).status_code == 200
    # A session cookie authorises nothing in the API.
    web.cookies.clear()
    await signed_in_as(web, keyring, clock.now, ORIGIN, Role.practitioner, "cy@riverside.example.org")
    problem(await web.post("/api/v1/search", json=SEARCH), 401, "unauthenticated")


async def test_errors_are_problem_details_naming_the_field_and_echoing_nothing(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    person, child, secret = await setup(web, keyring, clock)
    auth = headers(secret, person)
    bad_json = await web.post(
        "/api/v1/search", content=b"{not json", headers={**auth, "content-type": "application/json"}
    )
    problem(bad_json, 400, "invalid_request")
    unknown = problem(
        await call(web, "/search", secret, person, {**SEARCH, "nhs_number": "SECRET123"}),
        400,
        "invalid_request",
    )
    assert "SECRET123" not in json.dumps(unknown)
    wrong_type = problem(
        await call(web, "/search", secret, person, {**SEARCH, "family_name": 7}), 400, "invalid_request"
    )
    assert wrong_type["errors"][0]["field"] == "family_name"
    enum = problem(
        await call(web, "/search", secret, person, {**SEARCH, "gender": "<script>x</script>"}),
        400,
        "invalid_request",
    )
    assert "script" not in json.dumps(enum)
    named = await call(web, "/search", secret, person, {**SEARCH, "gender": "Zoe O'Brien born 28/02/2014"})
    assert "Brien" not in json.dumps(problem(named, 400, "invalid_request"))
    key_named = await call(web, "/search", secret, person, {**SEARCH, "Zoe_OBrien_nhs_4857773456": 1})
    body = problem(key_named, 400, "invalid_request")
    assert "4857773456" not in json.dumps(body)
    assert body["errors"][0]["field"] == "body"
    deep = b"[" * 5000 + b"]" * 5000
    nested = await web.post(
        "/api/v1/search", content=deep, headers={**auth, "content-type": "application/json"}
    )
    problem(nested, 400, "invalid_request")
    too_few = problem(
        await call(web, "/search", secret, person, {"family_name": "Smith", "date_of_birth": "2014-02-28"}),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in too_few["errors"]] == ["given_name"]
    future = problem(
        await call(web, "/search", secret, person, {**SEARCH, "date_of_birth": "2030-01-01"}),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in future["errors"]] == ["date_of_birth"]
    await call(web, "/search", secret, person, SEARCH)
    reason = problem(
        await call(web, f"/records/{child.id}/views", secret, person, {"reason": "curious"}),
        400,
        "invalid_request",
    )
    assert reason["errors"][0]["field"] == "reason"
    sensitive = problem(
        await call(
            web,
            f"/records/{child.id}/involvements",
            secret,
            person,
            {**INVOLVEMENT, "service_type": "sexual_health"},
        ),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in sensitive["errors"]] == ["consent_basis"]
    assert await Involvement.count().where(Involvement.recorded_by == person.id).run() == 0
    problem(await web.post("/api/v1/nothing-here", json={}, headers=auth), 404, "not_found")
    problem(await web.get("/api/v1/search", headers=auth), 405, "method_not_allowed")
    problem(await call(web, "/records/0/views", secret, person, {"reason": "assessment"}), 404, "not_found")
    problem(
        await call(web, f"/records/{2**63}/views", secret, person, {"reason": "assessment"}), 404, "not_found"
    )


async def test_api_quotas_count_against_the_named_practitioner_and_against_the_client(
    app_factory: Any, data_dir: Path, db_url: Any, keyring: Keyring, clock: FakeClock
) -> None:
    from app.search.tables import UsageCounter

    settings = dev_settings_for(
        data_dir,
        db_url,
        SIGNPOST_QUOTA_SEARCHES_PER_HOUR="2",
        SIGNPOST_QUOTA_API_SEARCHES_PER_HOUR="3",
        SIGNPOST_QUOTA_API_VIEWS_PER_DAY="1",
    )
    async with CheckedClient(app=app_factory(settings=settings, clock=clock), base_url=ORIGIN) as web:
        ada, child, secret = await setup(web, keyring, clock)
        cy = await signed_in(web, keyring, clock, "cy@riverside.example.org")
        for _ in range(2):
            assert (await call(web, "/search", secret, ada, SEARCH)).status_code == 200
        own = await call(web, "/search", secret, ada, SEARCH)
        problem(own, 429, "search_quota_used")
        assert 0 < int(own.headers["retry-after"]) <= 3600
        assert (await call(web, "/search", secret, cy, SEARCH)).status_code == 200  # the client's 3rd
        shared = await call(web, "/search", secret, cy, SEARCH)  # Cy's 2nd, the client's 4th
        problem(shared, 429, "api_search_quota_used")
        # The call the client's quota refused used none of Cy's own allowance.
        [cy_count] = await UsageCounter.select().where(UsageCounter.key.like(f"search:{cy.id}:%")).run()
        assert cy_count["uses"] == 1

        view = {"reason": "assessment"}
        assert (await call(web, f"/records/{child.id}/views", secret, ada, view)).status_code == 200
        problem(await call(web, f"/records/{child.id}/views", secret, ada, view), 429, "api_view_quota_used")
        [ada_views] = await UsageCounter.select().where(UsageCounter.key.like(f"view:{ada.id}:%")).run()
        assert ada_views["uses"] == 1  # the refused view used none of Ada's own allowance

        clock.advance(hours=1)
        await (
            Practitioner.update({Practitioner.last_login_at: clock.now})
            .where(Practitioner.id.is_in([ada.id, cy.id]))
            .run()
        )
        assert (await call(web, "/search", secret, cy, SEARCH)).status_code == 200  # a new hour


async def test_the_committed_openapi_document_is_the_one_served(web: CheckedClient) -> None:
    served = await web.get("/api/v1/openapi.json")
    assert served.status_code == 200
    committed = json.loads((DOCS / "openapi.json").read_text(encoding="utf-8"))
    assert served.json() == committed, (
        "run .venv/bin/python scripts/openapi.py to write docs/openapi.json again"
    )
    operations = {
        (method, path)
        for path, item in committed["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert operations == {
        ("post", "/api/v1/search"),
        ("post", "/api/v1/records/{record_id}/views"),
        ("post", "/api/v1/records/{record_id}/involvements"),
        ("post", "/api/v1/records/{record_id}/involvements/{involvement_id}/end"),
    }  # nothing lists, pages or exports


def test_the_api_reason_codes_are_the_web_reason_codes() -> None:
    from typing import get_args

    from app.api.schemas import ViewReason
    from app.audit.labels import VIEW_REASONS

    assert set(get_args(ViewReason)) == set(VIEW_REASONS)


async def test_a_practitioner_searches_and_views_on_behalf_of_a_named_person_and_subject_access_shows_it(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    from app.api.tables import OnBehalfOf
    from app.audit import service as audit
    from app.subject_access.pack import access_lines

    web.cookies.clear()
    ada, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org"
    )
    child = await create_child(keyring, child_details(ada.authority_id))
    token = {"_csrf_token": web.cookies["csrftoken"]}
    assert (await web.get("/on-behalf")).status_code == 200
    empty = await web.post("/on-behalf", data={**token, "name": "<script>", "telephone": "call me"})
    assert empty.status_code == 400
    for message in (
        "full name using letters",
        "organisation using letters",
        "role, for example Childminder",
        "Enter a telephone",
    ):
        assert message in empty.text
    assert "<script>" not in empty.text
    assert await OnBehalfOf.count().run() == 0
    person = {
        "name": "Jo Bloggs",
        "organisation": "Little Stars Nursery",
        "role": "Childminder",
        "telephone": "01632 960 555",
    }
    started = await web.post("/on-behalf", data={**token, **person}, follow_redirects=False)
    assert started.status_code == 303
    assert started.headers["location"] == "/search"
    page = await web.get("/search")
    assert "You are acting on behalf of Jo Bloggs" in page.text
    assert "Little Stars Nursery" in page.text
    born = {"dob-day": "28", "dob-month": "2", "dob-year": "2014"}
    found = await web.post(
        "/search", data={**token, "family_name": "O'Brien-Smith", "given_name": "Zoe", **born}
    )
    assert "1 child matches" in found.text
    assert "acting on behalf of Jo Bloggs" in found.text
    opened = await web.post(f"/records/{child.id}", data={**token, "reason": "arranging_service"})
    assert opened.status_code == 200
    assert "acting on behalf of Jo Bloggs" in opened.text
    [behalf] = await OnBehalfOf.select().run()
    assert bytes(behalf["name"]) != b"Jo Bloggs"  # encrypted
    subject = f"on_behalf:{behalf['id']}"
    rows = await AuditEntry.select().where(AuditEntry.actor_id == ada.id).order_by(AuditEntry.seq).run()
    marked = [r["action"] for r in rows if subject in json.loads(r["subjects"])]
    assert marked == ["on_behalf.started", "record.search", "record.result_returned", "record.view"]

    # Stopped: the next view is Ada's own.
    ended = await web.post("/on-behalf/end", data=token, follow_redirects=False)
    assert ended.status_code == 303
    assert "acting on behalf" not in (await web.get("/search")).text
    await web.post(f"/records/{child.id}", data={**token, "reason": "assessment"})
    last = (
        await AuditEntry.select().where(AuditEntry.action == "record.view").order_by(AuditEntry.seq).run()
    )[-1]
    assert subject not in json.loads(last["subjects"])

    # And through a client: the subject-access lines name the person and the system.
    _, secret = await client_for(ada, clock)
    web.cookies.clear()
    assert (
        await call(web, f"/records/{child.id}/views", secret, ada, {"reason": "assessment"})
    ).status_code == 200
    lines = await access_lines(await audit.citizen_view(child.id, clock.now.date()), keyring)
    views = [line for line in lines if line.action == "Opened the record"]
    assert [(v.on_behalf_of, v.through) for v in views] == [
        ("Jo Bloggs, Childminder, Little Stars Nursery", ""),
        ("", ""),
        ("", "Riverside MIS"),
    ]


async def test_a_signpost_team_member_sees_the_restricted_view_of_a_shielded_record_through_the_api(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    from msgspec.structs import replace

    web.cookies.clear()
    team, _ = await signed_in_as(
        web,
        keyring,
        clock.now,
        ORIGIN,
        Role.la_admin,
        "team@northshire.example.org",
        organisation="Northshire Signpost team",
    )
    web.cookies.clear()
    child = await create_child(keyring, replace(child_details(team.authority_id), shielded=True))
    _, secret = await client_for(team, clock, "Signpost team tools")
    found = await call(web, "/search", secret, team, SEARCH)
    assert found.json()["results"][0]["town"] is None
    opened = await call(web, f"/records/{child.id}/views", secret, team, {"reason": "assessment"})
    assert opened.status_code == 200
    record = opened.json()
    assert record["restricted"] is True
    assert record["address"] is None
    assert record["carers"] == []
    assert record["services"] == []


async def test_an_ended_involvement_answers_409_after_access_closed_and_a_key_change_needs_a_new_sign_in(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    person, child, secret = await setup(web, keyring, clock)
    await call(web, "/search", secret, person, SEARCH)
    added = await call(web, f"/records/{child.id}/involvements", secret, person, INVOLVEMENT)
    path = f"/records/{child.id}/involvements/{added.json()['involvement_id']}/end"
    assert (await call(web, path, secret, person, None)).status_code == 200
    clock.advance(days=2)  # the search no longer opens the record, and the involvement has ended
    await (
        Practitioner.update({Practitioner.last_login_at: clock.now}).where(Practitioner.id == person.id).run()
    )
    problem(
        await call(web, f"/records/{child.id}/views", secret, person, {"reason": "assessment"}),
        404,
        "not_found",
    )
    problem(await call(web, path, secret, person, None), 409, "already_ended")

    clock.advance(minutes=1)
    await (
        Practitioner.update({Practitioner.keys_changed_at: clock.now})
        .where(Practitioner.id == person.id)
        .run()
    )
    problem(await call(web, "/search", secret, person, SEARCH), 403, "key_sign_in_required")
    refused = (await AuditEntry.select().where(AuditEntry.action == "api.refused").run())[-1]
    assert f"practitioner:{person.id}" in json.loads(refused["subjects"])


async def test_acting_for_someone_new_ends_the_last_person_and_any_break_glass_override(
    web: CheckedClient, keyring: Keyring, clock: FakeClock
) -> None:
    from app.api.tables import OnBehalfOf
    from app.identity.tables import Session, ShieldOverride

    web.cookies.clear()
    ada, _ = await signed_in_as(
        web, keyring, clock.now, ORIGIN, Role.practitioner, "ada@riverside.example.org"
    )
    token = {"_csrf_token": web.cookies["csrftoken"]}
    [session] = await Session.select(Session.id).where(Session.practitioner == ada.id).run()
    await ShieldOverride.insert(ShieldOverride(session=session["id"], child_id=1, granted_at=clock.now)).run()
    first = {
        "name": "Jo Bloggs",
        "organisation": "Little Stars",
        "role": "Childminder",
        "telephone": "01632 960 555",
    }
    second = {**first, "name": "Sam Lee"}
    await web.post("/on-behalf", data={**token, **first})
    assert await ShieldOverride.count().run() == 0  # an override does not carry over to Jo's purpose
    await web.post("/on-behalf", data={**token, **second})
    rows = await OnBehalfOf.select().order_by(OnBehalfOf.id).run()
    assert [r["ended_at"] is None for r in rows] == [False, True]
    ended = await AuditEntry.select().where(AuditEntry.action == "on_behalf.ended").run()
    assert [json.loads(r["subjects"]) for r in ended] == [[f"on_behalf:{rows[0]['id']}"]]
    assert "acting on behalf of Sam Lee" in (await web.get("/search")).text
