"""Helpers that walk the real enrolment and sign-in endpoints with a software key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import Response

from app.audit.service import Actor
from app.crypto.keyring import Keyring
from app.identity import service
from app.identity.service import Role
from tests.pagecheck import CheckedClient
from tests.softkey import SoftKey


class FakeClock:
    """A clock the test moves by hand; the app reads it through ``state.clock``."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Person:
    id: int
    email: str
    code: str
    authority_id: int


async def make_person(
    keyring: Keyring,
    now: datetime,
    *,
    email: str = "ada.okafor@riverside.example.org",
    role: Role = Role.practitioner,
    authority: str = "Northshire Council",
    organisation: str = "Riverside Primary School",
) -> Person:
    authority_id = await service.ensure_authority(
        authority, "01632 960 001", "signpost@northshire.example.org"
    )
    practitioner_id, code = await service.create_practitioner(
        keyring,
        name="Ada Okafor",
        email=email,
        role=role,
        authority_id=authority_id,
        organisation=organisation,
        now=now,
        actor=Actor("operator", authority_id=authority_id),
    )
    return Person(practitioner_id, email, code, authority_id)


async def csrf_token(client: CheckedClient) -> str:
    """The CSRF cookie's value (``__Host-csrftoken`` on an https origin), fetching one if needed."""
    for _ in range(2):
        for name in ("csrftoken", "__Host-csrftoken"):
            if name in client.cookies:
                token: str = client.cookies[name]
                return token
        await client.get("/")
    raise AssertionError("no CSRF cookie was set")


async def post_json(client: CheckedClient, url: str, body: dict[str, Any]) -> Response:
    return await client.post(url, json=body, headers={"x-csrftoken": await csrf_token(client)})


async def start_enrolment(client: CheckedClient, email: str, code: str) -> Response:
    token = await csrf_token(client)
    return await client.post(
        "/enrol", data={"email": email, "code": code, "_csrf_token": token}, follow_redirects=False
    )


async def register(client: CheckedClient, key: SoftKey, origin: str, **bend: Any) -> Response:
    options = await post_json(client, "/auth/register/options", {})
    assert options.status_code == 200, options.text
    return await post_json(client, "/auth/register/verify", key.create(options.json(), origin=origin, **bend))


async def enrol(client: CheckedClient, person: Person, key: SoftKey, origin: str) -> None:
    started = await start_enrolment(client, person.email, person.code)
    assert started.status_code == 303, started.text
    registered = await register(client, key, origin)
    assert registered.status_code == 200, registered.text
    assert registered.json() == {"redirect": "/enrol/backup"}


async def sign_in(
    client: CheckedClient, key: SoftKey, origin: str, *, email: str | None = None, **bend: Any
) -> Response:
    options = await post_json(client, "/auth/login/options", {"email": email} if email else {})
    assert options.status_code == 200, options.text
    return await post_json(client, "/auth/login/verify", key.get(options.json(), origin=origin, **bend))


async def enrolled(client: CheckedClient, person: Person, origin: str) -> SoftKey:
    """Enrol ``person`` with a new software key, then sign out; return the key."""
    key = SoftKey()
    await enrol(client, person, key, origin)
    await client.post("/logout", headers={"x-csrftoken": client.cookies["csrftoken"]})
    return key


async def signed_in_as(
    client: CheckedClient, keyring: Keyring, now: datetime, origin: str, role: Role, email: str, **where: str
) -> tuple[Person, SoftKey]:
    """A new person with ``role``, enrolled and signed in (so with a fresh key touch)."""
    person = await make_person(keyring, now, email=email, role=role, **where)
    key = await enrolled(client, person, origin)
    signed = await sign_in(client, key, origin, email=person.email)
    assert signed.status_code == 200, signed.text
    return person, key
