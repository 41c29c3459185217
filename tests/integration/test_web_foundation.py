"""The web foundation: security headers on every response, error pages, CSRF, hosts, probes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar import get, post
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
    TooManyRequestsException,
)
from piccolo.apps.migrations.tables import Migration

from app.settings import Settings, load_settings
from tests.conftest import production_env
from tests.pagecheck import CheckedClient

REQUIRED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def assert_security_headers(headers: Any) -> str:
    for name, value in REQUIRED_HEADERS.items():
        assert headers.get(name) == value, name
    csp = headers["content-security-policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    policy = headers["permissions-policy"]
    assert "publickey-credentials-get=(self)" in policy
    assert "publickey-credentials-create=(self)" in policy
    match = re.search(r"'nonce-([A-Za-z0-9_-]{16,})'", csp)
    assert match, csp
    return match.group(1)


async def test_start_page_is_served_with_every_security_header(client: CheckedClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "<h1" in response.text
    assert "Signpost" in response.text
    nonce = assert_security_headers(response.headers)
    assert f'nonce="{nonce}"' in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # development: no HSTS


async def test_every_response_gets_a_fresh_nonce(client: CheckedClient) -> None:
    nonces = {assert_security_headers((await client.get("/")).headers) for _ in range(20)}
    assert len(nonces) == 20


async def test_unknown_page_gets_the_error_page_with_headers(client: CheckedClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert 'class="govuk-template' in response.text  # the service's own layout
    assert_security_headers(response.headers)


async def test_wrong_method_is_a_405_page(client: CheckedClient) -> None:
    response = await client.delete("/", headers={"x-csrftoken": "x"})
    assert response.status_code in (403, 405)
    assert_security_headers(response.headers)


async def test_a_crash_shows_no_trace(app_factory: Any, settings: Settings) -> None:
    @get("/explode", sync_to_thread=False)
    def explode() -> str:
        raise RuntimeError("internal detail 4711")

    app = app_factory()
    app.register(explode)
    async with CheckedClient(app=app, base_url=settings.origin) as client:
        response = await client.get("/explode")
    assert response.status_code == 500
    assert "internal detail 4711" not in response.text
    assert "Traceback" not in response.text
    assert "Sorry, there is a problem with the service" in response.text
    assert_security_headers(response.headers)


async def test_json_clients_get_problem_details(client: CheckedClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "urn:signpost:problem:not_found",
        "title": "There is no such resource, or it is not open to this practitioner",
        "status": 404,
        "code": "not_found",
    }
    assert_security_headers(response.headers)


async def test_state_changes_need_a_csrf_token(app_factory: Any, settings: Settings) -> None:
    @post("/echo", sync_to_thread=False, status_code=200)
    def echo() -> str:
        return "changed"

    app = app_factory()
    app.register(echo)
    async with CheckedClient(app=app, base_url=settings.origin) as client:
        refused = await client.post("/echo", data={"a": "b"})
        assert refused.status_code == 403
        assert_security_headers(refused.headers)
        await client.get("/")  # receives the CSRF cookie
        token = client.cookies.get("csrftoken")
        assert token
        by_header = await client.post("/echo", headers={"x-csrftoken": token})
        assert by_header.status_code == 200
        by_form = await client.post("/echo", data={"_csrf_token": token})
        assert by_form.status_code == 200
        forged = await client.post("/echo", headers={"x-csrftoken": token[:-2] + "xx"})
        assert forged.status_code == 403


async def test_unknown_hosts_are_refused(client: CheckedClient) -> None:
    response = await client.get("/", headers={"host": "evil.example"})
    assert response.status_code == 400


async def test_static_assets_are_cacheable_and_still_protected(client: CheckedClient) -> None:
    response = await client.get("/static/signpost.js")
    assert response.status_code == 200
    assert "no-store" not in response.headers["cache-control"]
    assert_security_headers(response.headers)


async def test_health_probes(client: CheckedClient) -> None:
    alive = await client.get("/healthz")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "migrations": "current"}
    assert_security_headers(ready.headers)


async def test_readiness_fails_while_a_migration_is_pending(client: CheckedClient) -> None:
    await Migration.delete(force=True).run()
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["migrations"] == "not current"


async def test_production_adds_hsts_and_host_prefixed_secure_cookies(
    app_factory: Any, data_dir: Path
) -> None:
    settings = load_settings(production_env(data_dir))
    async with CheckedClient(app=app_factory(settings=settings), base_url=settings.origin) as client:
        response = await client.get("/")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-csrftoken=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie


@pytest.mark.parametrize(
    ("exception", "status", "heading"),
    [
        (PermissionDeniedException, 403, "You cannot use this page"),
        (TooManyRequestsException, 429, "You have made too many requests"),
        (ServiceUnavailableException, 503, "Sorry, the service is unavailable"),
    ],
)
async def test_error_pages_share_the_layout(
    app_factory: Any, settings: Settings, exception: type[HTTPException], status: int, heading: str
) -> None:
    @get("/refuse", sync_to_thread=False)
    def refuse() -> str:
        raise exception(headers={"Retry-After": "60"} if status == 429 else None)

    app = app_factory()
    app.register(refuse)
    async with CheckedClient(app=app, base_url=settings.origin) as client:
        response = await client.get("/refuse")
    assert response.status_code == status
    assert heading in response.text
    assert 'class="govuk-template' in response.text
    assert_security_headers(response.headers)
    if status == 429:
        assert response.headers["retry-after"] == "60"


async def test_signed_out_people_are_sent_to_sign_in(app_factory: Any, settings: Settings) -> None:
    @get("/private", sync_to_thread=False)
    def private() -> str:
        raise NotAuthorizedException()

    app = app_factory()
    app.register(private)
    async with CheckedClient(app=app, base_url=settings.origin) as client:
        page = await client.get("/private", follow_redirects=False)
        api = await client.get("/private", headers={"accept": "application/json"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login"
    assert api.status_code == 401
    assert api.json()["title"] == "You need to sign in"
