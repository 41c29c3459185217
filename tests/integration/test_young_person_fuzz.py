"""Hostile input on the young person's pages (no account, so anyone may send anything):
hypothesis generates every form field, plus stray ones, from hostile text, markup, huge values,
look-alike codes and dates, and the real code and date of birth, for each of the pages' POST
handlers. No response is a 5xx or a traceback, and no markup sent comes back unescaped.

``SIGNPOST_FUZZ_CASES`` sets the cases per handler (50 in the test suite; docs/reliability.md
records a run of 1,000)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.consent import retention
from app.consent.tables import ConsentInvitation
from app.crypto.keyring import Keyring
from app.records.service import create_child
from app.settings import DatabaseUrl
from tests.conftest import dev_settings_for
from tests.factories import child_details, make_authority
from tests.identity_flow import FakeClock
from tests.pagecheck import CheckedClient

CASES = int(os.environ.get("SIGNPOST_FUZZ_CASES", "50"))
ORIGIN = "http://testserver.local"
BORN = date(2009, 5, 20)
HANDLERS = [
    "/your-record",
    "/your-record/choose",
    "/your-record/confirm",
    "/your-record/change",
    "/your-record/change/choose",
    "/your-record/change/confirm",
    "/your-record/receipt",
]
FIELDS = [
    "code",
    "dob-day",
    "dob-month",
    "dob-year",
    "choice",
    "until-day",
    "until-month",
    "until-year",
    "action",
]
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg onload=alert(1)>",
    "{{ 7*7 }}",
    "{% raw %}",
    "'; DROP TABLE child; --",
]

hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(MARKUP),
    st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ-oil ", min_size=20, max_size=32),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(
        ["", " ", "0", "29", "2", "2009", "2034", "keep", "delete", "withdraw", "shorten", "confirm"]
    ),
    st.text(min_size=1000, max_size=5000),
)


@pytest.fixture
async def fuzzed(app_factory: Any, data_dir: Any, db_url: DatabaseUrl, keyring: Keyring) -> Any:
    """A client of the app (no per-client limit in the way) and one invited young person's code."""
    authority = await make_authority()
    await create_child(keyring, child_details(authority, date_of_birth=BORN))
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    await retention.run(keyring, today=now.date(), now=now, invite_months=6)
    row = (await ConsentInvitation.select().run())[0]
    code = keyring.decrypt("consent_invitation.letter_code", row["id"], bytes(row["letter_code"]))
    app = app_factory(
        settings=dev_settings_for(data_dir, db_url, SIGNPOST_CONSENT_TRIES_PER_HOUR="10000"),
        clock=FakeClock(),
    )
    async with CheckedClient(app=app, base_url=ORIGIN) as client:
        assert (await client.get("/your-record")).status_code == 200  # a CSRF cookie
        yield client, code


def forms(code: str) -> st.SearchStrategy[dict[str, str]]:
    """A form: each known field absent, hostile, or (for the code and birth date) the real one."""
    real = {"code": code, "dob-day": str(BORN.day), "dob-month": str(BORN.month), "dob-year": str(BORN.year)}
    field = {
        name: st.one_of(st.none(), hostile, *([st.just(real[name])] if name in real else []))
        for name in FIELDS
    }
    stray = st.dictionaries(st.text(min_size=1, max_size=12), hostile, max_size=3)
    return st.builds(
        lambda values, extra: {**{k: v for k, v in values.items() if v is not None}, **extra},
        st.fixed_dictionaries(field),
        stray,
    )


@pytest.mark.parametrize("path", HANDLERS)
@settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_hostile_forms_get_an_answer_never_an_error(
    fuzzed: Any, path: str, data: st.DataObject
) -> None:
    client, code = fuzzed
    form = data.draw(forms(code))
    form.pop("_csrf_token", None)
    response = await client.post(path, data={"_csrf_token": client.cookies["csrftoken"], **form})
    assert response.status_code < 500, (path, form, response.status_code)
    body = response.text
    assert "Traceback" not in body
    for value in form.values():
        if value in MARKUP and "<" in value:  # (short strings like "<" occur in any page)
            assert value not in body, (path, value)  # markup comes back escaped, if at all
