"""Every form handler of the web service, fuzzed: hypothesis-generated forms (the field names the
templates use, each absent, hostile or plausible, plus stray fields) posted by a signed-in user of
a role allowed to post there, on SQLite and PostgreSQL. No answer is a 5xx or shows a traceback,
and markup sent never comes back unescaped. Path parameters name real rows (a child the user
searched, a queued feed row, the user's own key) or numbers nobody has.

``SIGNPOST_FORM_FUZZ_CASES`` sets the cases per handler (5 here in the test command, since the young
person's pages have their own fuzz; docs/reliability.md records a longer run)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.routes import HTTPRoute
from msgspec.structs import replace

from app.crypto.keyring import Keyring
from app.feeds.format import to_columns, write_feed
from app.feeds.importer import import_feed
from app.feeds.tables import FeedReview
from app.identity.service import Role
from app.identity.sessions import signed_in_with_role
from app.identity.tables import Credential
from app.records.service import create_child
from app.records.tables import LocalAuthority
from app.settings import DatabaseUrl
from tests.conftest import dev_settings_for
from tests.factories import child_details
from tests.identity_flow import FakeClock, signed_in_as
from tests.pagecheck import CheckedClient

CASES = int(os.environ.get("SIGNPOST_FORM_FUZZ_CASES", "5"))
ORIGIN = "http://testserver.local"
#: Handlers that are not forms: the key ceremonies (JSON, fuzzed by their own tests) and signing out.
NOT_FORMS = ("/auth/", "/logout", "/api/")
PLAIN = [
    "action",
    "agrees",
    "also",
    "assessment_undertaken",
    "checked_with_team",
    "child",
    "child_protection",
    "choice",
    "code",
    "competent",
    "consent_basis",
    "decision",
    "email",
    "exempt",
    "exemption",
    "family_name",
    "format",
    "gender",
    "given_name",
    "gp_practice",
    "education_setting",
    "justification",
    "keep_former_name",
    "lead_professional",
    "letters",
    "lift_reason",
    "local_authority",
    "method",
    "months",
    "name",
    "no_address",
    "note",
    "organisation",
    "postcode",
    "practitioner",
    "reason",
    "reference",
    "refusal_reason",
    "requester",
    "revoke_reason",
    "role",
    "seq",
    "service_name",
    "service_type",
    "signpost_id",
    "source",
    "stamp",
    "target",
    "telephone",
    "understood",
    "withholding",
    "address_line_1",
    "address_line_2",
    "town",
]
DATES = ["dob", "date_of_birth", "education_start", "review", "start", "until", "before"]
FIELDS = [
    *PLAIN,
    *(f"{prefix}-{part}" for prefix in DATES for part in ("day", "month", "year")),
    *(f"carer-0-{part}" for part in ("name", "relationship", "telephone", "remove")),
]
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg onload=alert(1)>",
    "{{ 7*7 }}",
    "'; DROP TABLE child; --",
]
hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(MARKUP),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(
        ["", " ", "yes", "no", "merge", "create", "reject", "shield", "lift", "refuge", "1", "2026"]
    ),
    st.text(min_size=1000, max_size=3000),
)


def post_routes(app: Any) -> list[tuple[str, tuple[str, ...] | None]]:
    """Every POST path and the roles that may post there (None: anyone)."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "POST" in handler.http_methods and not route.path.startswith(NOT_FORMS):
                guarded = signed_in_with_role in (handler.guards or [])
                found.append((route.path, tuple(handler.opt["roles"]) if guarded else None))
    return sorted(found)


@pytest.fixture
async def world(
    app_factory: Any, data_dir: Path, db_url: DatabaseUrl, keyring: Keyring
) -> AsyncIterator[Any]:
    """A client with a signed-in session for every role, a child each practitioner may open,
    and a queued feed row."""
    clock = FakeClock()
    app = app_factory(settings=dev_settings_for(data_dir, db_url), clock=clock)
    jars: dict[str | None, dict[str, str]] = {}
    async with CheckedClient(app=app, base_url=ORIGIN) as client:
        await client.get("/")
        jars[None] = dict(client.cookies)
        for role in Role:  # one client (one app lifespan), a session per role kept as its cookies
            client.cookies.clear()
            await signed_in_as(
                client, keyring, clock.now, ORIGIN, role, f"{role.value}@northshire.example.org"
            )
            jars[role.value] = dict(client.cookies)
        [authority] = await LocalAuthority.select(LocalAuthority.id, LocalAuthority.code).run()
        child = await create_child(keyring, child_details(authority["id"]))
        for searcher in ("practitioner", "la_admin"):
            as_user(client, jars[searcher])
            found = await client.post(
                "/search",
                data={
                    "_csrf_token": client.cookies["csrftoken"],
                    "family_name": "O'Brien-Smith",
                    "given_name": "Zoe",
                    "dob-day": "28",
                    "dob-month": "2",
                    "dob-year": "2014",
                },
            )
            assert "1 child matches" in found.text
        stream = io.StringIO(newline="")
        write_feed(
            stream, [to_columns(replace(child.details, family_name="O'Brein-Smith"), authority["code"])]
        )
        text = stream.getvalue()
        from app.audit.service import OPERATOR

        await import_feed(
            lambda: io.StringIO(text, newline=""), keyring, source="fuzz", actor=OPERATOR, now=clock.now
        )
        [item] = await FeedReview.select(FeedReview.id).run()
        keys = await Credential.select(Credential.id).limit(1).run()
        ids = {
            "child_id": child.id,
            "item_id": item["id"],
            "key_id": keys[0]["id"],
            "involvement_id": 1,
            "practitioner_id": 1,
            "request_id": 1,
            "notice_id": 1,
            "alert_id": 1,
        }
        yield app, client, jars, ids


def as_user(client: CheckedClient, jar: dict[str, str]) -> None:
    client.cookies.clear()
    client.cookies.update(jar)


def forms() -> st.SearchStrategy[dict[str, str]]:
    fields = st.dictionaries(st.sampled_from(FIELDS), hostile, max_size=12)
    stray = st.dictionaries(st.text(min_size=1, max_size=12), hostile, max_size=2)
    return st.builds(lambda known, extra: {**extra, **known}, fields, stray)


def concrete(path: str, ids: dict[str, int], pick: int) -> str:
    """The path with each parameter a real row's ID, or (every other case) a number nobody has."""

    def value(match: re.Match[str]) -> str:
        return str(ids.get(match.group(1), 1) if pick % 2 == 0 else 9_000_000_000_000 + pick)

    return re.sub(r"\{(\w+):int\}", value, path)


def _routes() -> list[tuple[str, tuple[str, ...] | None]]:
    """The POST routes of an app built on a throwaway data directory (at collection time)."""
    import tempfile

    from app import database
    from app.main import create_app
    from app.settings import load_settings

    data = Path(tempfile.mkdtemp())
    built = load_settings({"SIGNPOST_DATA_DIR": str(data)})
    keys = Keyring(data / "keys", create=True)
    return post_routes(create_app(built, keyring=keys, engine=database.make_engine(built.database)))


ROUTES = _routes()


@pytest.mark.parametrize(("path", "roles"), ROUTES, ids=[path for path, _ in ROUTES])
@settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_form_handler_answers_hostile_forms_without_an_error(
    world: Any, path: str, roles: tuple[str, ...] | None, data: st.DataObject
) -> None:
    _, client, jars, ids = world
    as_user(client, jars[None] if roles is None else jars[str(roles[0])])
    form = data.draw(forms(), label="form")
    target = concrete(path, ids, data.draw(st.integers(0, 10), label="which row"))
    response = await client.post(target, data={**form, "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code < 500, (target, form, response.status_code, response.text[:300])
    body = response.text
    assert "Traceback" not in body
    for value in form.values():
        if value in MARKUP and "<" in value:
            assert value not in body, (target, value)
