"""The header crawl: every route in the app's own inventory, each method, visited anonymously
(on production settings) and as each role (signed in with a software key), error pages
included. Every response carries the security headers and ``Cache-Control: no-store`` (static
assets apart), every cookie set is ``HttpOnly`` with ``SameSite=Strict`` and ``Path=/`` (and, in
production, ``Secure`` with the ``__Host-`` prefix), and no CSP nonce is ever used twice."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from httpx import Response
from litestar import Litestar
from litestar.routes import HTTPRoute

from app.crypto.keyring import Keyring
from app.identity.service import Role
from app.settings import load_settings
from tests.conftest import production_env
from tests.identity_flow import FakeClock, enrolled, make_person, sign_in
from tests.integration.test_web_foundation import assert_security_headers
from tests.pagecheck import CheckedClient

ORIGIN = "http://testserver.local"
#: Any number stands in for a path parameter: an ID nobody holds, so guarded pages answer their
#: error page, which must carry the headers too.
PLACEHOLDER = "4242"
NONCES_AT_LEAST = 1000


def inventory(app: Litestar) -> list[tuple[str, str]]:
    """Every (method, path) the app serves but static files, with parameters filled in."""
    visits = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/static"):
            continue
        path = re.sub(r"\{[^}]+\}", PLACEHOLDER, route.path)
        for handler in route.route_handlers:
            visits += [(method, path) for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"})]
    return sorted(set(visits))


async def visit(client: CheckedClient, method: str, path: str) -> Response:
    token = client.cookies.get("csrftoken") or client.cookies.get("__Host-csrftoken") or ""
    if method == "GET":
        return await client.get(path, follow_redirects=False)
    return await client.request(
        method, path, data={"_csrf_token": token}, headers={"x-csrftoken": token}, follow_redirects=False
    )


def check(response: Response, *, production: bool) -> str:
    """The response's headers and cookies are right; its nonce."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    try:
        nonce = assert_security_headers(response.headers)
    except (AssertionError, KeyError) as exc:
        raise AssertionError(f"{where}: {exc!r}") from exc
    assert response.headers.get("x-frame-options") == "DENY", where
    assert response.headers.get("cache-control") == "no-store", where
    assert ("strict-transport-security" in response.headers) == production, where
    for cookie in response.headers.get_list("set-cookie"):
        name = cookie.split("=", 1)[0]
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert "httponly" in flags, (where, name)
        assert "samesite=strict" in flags, (where, name)
        assert "path=/" in flags, (where, name)
        assert not any(f.startswith("domain") for f in flags), (where, name)
        if production:
            assert "secure" in flags, (where, name)
            assert name.startswith("__Host-"), (where, name)
    return nonce


async def test_every_route_anonymously_on_production_settings(app_factory: Any, data_dir: Path) -> None:
    settings = load_settings(production_env(data_dir))
    app = app_factory(settings=settings)
    nonces: list[str] = []
    async with CheckedClient(app=app, base_url=settings.origin) as client:
        await client.get("/")  # a CSRF cookie, so that posts reach their handlers
        for method, path in inventory(app):
            response = await visit(client, method, path)
            assert response.status_code < 500, (method, path, response.status_code)
            nonces.append(check(response, production=True))
        for path in ("/no-such-page", "/records/not-a-number"):  # unmatched routes too
            response = await client.get(path)
            assert response.status_code == 404
            nonces.append(check(response, production=True))
    assert len(nonces) == len(set(nonces))


async def test_every_route_as_every_role_and_nonces_never_repeat(
    app_factory: Any, dev_settings: Any, keyring: Keyring
) -> None:
    clock = FakeClock()
    app = app_factory(settings=dev_settings, clock=clock)
    routes = inventory(app)
    nonces: list[str] = []
    statuses: dict[str, set[int]] = {}
    async with CheckedClient(app=app, base_url=ORIGIN) as client:
        for role in Role:
            clock.advance(minutes=20)  # the last role's session has ended
            person = await make_person(keyring, clock.now, email=f"{role.value}@example.org", role=role)
            key = await enrolled(client, person, ORIGIN)
            assert (await sign_in(client, key, ORIGIN, email=person.email)).status_code == 200
            for method, path in routes:
                if path == "/logout":
                    continue  # would end the crawl's session; visited anonymously
                response = await visit(client, method, path)
                assert response.status_code < 500, (role, method, path, response.status_code)
                nonces.append(check(response, production=False))
                statuses.setdefault(role.value, set()).add(response.status_code)
        while len(nonces) < NONCES_AT_LEAST:
            nonces.append(check(await client.get("/"), production=False))
    assert len(nonces) >= NONCES_AT_LEAST
    assert len(nonces) == len(set(nonces)), "a CSP nonce was used twice"
    # The crawl reached real pages and real refusals for every role, not only one kind of answer.
    assert set(statuses) == {r.value for r in Role}
    for name, seen in statuses.items():
        assert 200 in seen, name
        assert seen & {403, 404}, name
