"""The security-key ceremonies' JSON, fuzzed, on SQLite and PostgreSQL: hypothesis-generated
bodies posted to ``/auth/login/verify`` and ``/auth/register/verify`` after real options, either
any JSON at all or a real authenticator's answer with one part broken (a member dropped, replaced
by any JSON value, or its base64url or CBOR garbled). No answer is a 5xx or a traceback, a broken
answer never signs anyone in or registers a key, and every answer is JSON.

``SIGNPOST_FUZZ_CASES`` sets the cases per backend (20 in the test command; docs/reliability.md
records the 1,000-case run)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.crypto.keyring import Keyring
from app.identity.service import Role
from app.identity.tables import AuthThrottle, Credential
from tests.conftest import WEB_ORIGIN
from tests.identity_flow import FakeClock, csrf_token, enrolled, make_person, post_json, start_enrolment
from tests.pagecheck import CheckedClient
from tests.softkey import SoftKey

CASES = int(os.environ.get("SIGNPOST_FUZZ_CASES", "20"))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=200),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)
garbled = st.one_of(
    st.binary(max_size=300).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.", max_size=300),
    json_values,
)


@dataclass
class World:
    web: CheckedClient
    keyring: Keyring
    clock: FakeClock
    email: str
    key: SoftKey  # the signed-up person's real key
    newcomers: int = 0


@pytest.fixture
async def world(web: CheckedClient, keyring: Keyring, clock: FakeClock) -> World:
    person = await make_person(keyring, clock.now, email="ada@riverside.example.org", role=Role.practitioner)
    key = await enrolled(web, person, WEB_ORIGIN)
    return World(web, keyring, clock, person.email, key)


async def enrolling(world: World) -> None:
    """A new person mid-enrolment in the client's session (a registration ends an enrolment)."""
    world.newcomers += 1
    newcomer = await make_person(
        world.keyring,
        world.clock.now,
        email=f"new{world.newcomers}@riverside.example.org",
        role=Role.practitioner,
    )
    started = await start_enrolment(world.web, newcomer.email, newcomer.code)
    assert started.status_code == 303, started.text


#: Parts of an answer a browser may leave out or vary without making it a different answer.
OPTIONAL_PARTS = frozenset({"clientExtensionResults", "authenticatorAttachment", "userHandle", "transports"})


def mutate(data: st.DataObject, answer: dict[str, Any]) -> tuple[Any, str]:
    """The real answer with one part broken, or any JSON at all; and which part."""
    how = data.draw(st.sampled_from(["any json", "drop", "replace", "garble"]), label="how")
    if how == "any json":
        return data.draw(json_values, label="body"), "everything"
    places = [("top", name) for name in answer] + [("response", name) for name in answer["response"]]
    where, name = data.draw(st.sampled_from(places), label="part")
    target = answer if where == "top" else answer["response"]
    if how == "drop":
        del target[name]
    else:
        target[name] = data.draw(json_values if how == "replace" else garbled, label="value")
    return answer, name


@settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_the_key_ceremonies_answer_hostile_json_without_an_error(
    world: World, data: st.DataObject
) -> None:
    await AuthThrottle.delete(force=True).run()  # every case reaches the parser, not the throttle
    web = world.web
    ceremony = data.draw(st.sampled_from(["login", "register"]), label="ceremony")
    web.cookies.clear()
    if ceremony == "register":
        await enrolling(world)
    keys_before = await Credential.count().run()
    if ceremony == "login":
        options = await post_json(web, "/auth/login/options", {"email": world.email})
        assert options.status_code == 200, options.text
        body, part = mutate(data, world.key.get(options.json(), origin=WEB_ORIGIN))
        url = "/auth/login/verify"
    else:
        options = await post_json(web, "/auth/register/options", {})
        assert options.status_code == 200, options.text
        body, part = mutate(data, SoftKey().create(options.json(), origin=WEB_ORIGIN))
        url = "/auth/register/verify"
    answer = await web.post(url, json=body, headers={"x-csrftoken": await csrf_token(web)})
    assert answer.status_code < 500, (url, answer.status_code, answer.text[:300])
    assert "Traceback" not in answer.text
    assert answer.headers["content-type"].startswith(("application/json", "application/problem+json"))
    if answer.status_code == 200:  # only a change to an optional part may still succeed
        assert part in OPTIONAL_PARTS, (url, part)
    if ceremony == "register" and answer.status_code != 200:
        assert await Credential.count().run() == keys_before  # a refused key is not stored
