"""The Litestar app factory. Every route handler is listed here; nothing registers itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.static_files import create_static_files_router

from app import database
from app.api.admin import ROUTES as API_CLIENT_ROUTES
from app.api.routes import API_ROUTER, OPENAPI_CONFIG
from app.api.web import ROUTES as ON_BEHALF_ROUTES
from app.audit import background, checkpoints
from app.audit.routes import ROUTES as AUDIT_ROUTES
from app.consent.routes import ROUTES as CONSENT_ROUTES
from app.crypto.keyring import Keyring
from app.crypto.secret import app_secret
from app.database import AnyEngine
from app.disclosure.routes import ROUTES as DISCLOSURE_ROUTES
from app.feeds.routes import ROUTES as FEED_ROUTES
from app.health.routes import healthz, readyz
from app.home.routes import start_page
from app.identity.routes import ROUTES as IDENTITY_ROUTES
from app.identity.sessions import SessionMiddleware
from app.involvement.routes import ROUTES as INVOLVEMENT_ROUTES
from app.records.routes import ROUTES as RECORD_ROUTES
from app.search.routes import ROUTES as SEARCH_ROUTES
from app.settings import Settings, load_settings
from app.subject_access.officer import ROUTES as SUBJECT_ACCESS_OFFICER_ROUTES
from app.subject_access.routes import ROUTES as SUBJECT_ACCESS_ROUTES
from app.web.errors import EXCEPTION_HANDLERS, reject_impossible_ids
from app.web.headers import csp_nonce, make_security_headers_hook
from app.web.templating import make_template_config

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
MAX_BODY_BYTES = 1024 * 1024

log = logging.getLogger("signpost")


def cookie_name(settings: Settings, name: str) -> str:
    """``__Host-`` cookies where the origin is https: Secure, path /, no Domain."""
    return f"__Host-{name}" if settings.secure_cookies else name


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    keyring: Keyring,
    engine: AnyEngine,
    manage_engine: bool = False,
    clock: Callable[[], datetime] = utc_now,
    audit_key: Ed25519PrivateKey | None = None,
    background_tasks: bool = True,
) -> Litestar:
    """The app; with ``manage_engine`` it opens the engine's connection pool in its own event loop
    at start-up and closes it at shutdown (a worker process owns its engine). With
    ``background_tasks`` it takes its turn at the background work (audit checkpoints, the SQLite
    log, spent counters) while it runs."""
    database.use_engine(engine)
    signing_key = audit_key or checkpoints.load_signing_key(settings.keys_dir, create=not settings.production)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if manage_engine:
            await database.open_pool(engine)
        task = asyncio.create_task(background.run(settings, signing_key, clock)) if background_tasks else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                try:
                    await background.checkpoint(settings, signing_key, clock(), force=True)
                except Exception as exc:  # the database may be gone already; the next start signs
                    log.error("audit.final_checkpoint_failed error=%s", type(exc).__name__)
            if manage_engine:
                await database.close(engine)

    secret = app_secret(settings)
    template_config = make_template_config(TEMPLATES_DIR, reload=not settings.production)
    template_config.engine_instance.engine.globals["csp_nonce"] = csp_nonce

    return Litestar(
        route_handlers=[
            start_page,
            healthz,
            readyz,
            *IDENTITY_ROUTES,
            *AUDIT_ROUTES,
            *SEARCH_ROUTES,
            *RECORD_ROUTES,
            *INVOLVEMENT_ROUTES,
            *SUBJECT_ACCESS_ROUTES,
            *SUBJECT_ACCESS_OFFICER_ROUTES,
            *DISCLOSURE_ROUTES,
            *CONSENT_ROUTES,
            *FEED_ROUTES,
            *ON_BEHALF_ROUTES,
            *API_CLIENT_ROUTES,
            API_ROUTER,
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                cache_control=CacheControlHeader(max_age=3600, public=True),
                include_in_schema=False,
            ),
        ],
        state=State(
            {
                "settings": settings,
                "keyring": keyring,
                "engine": engine,
                "clock": clock,
                "app_secret": secret,
                "audit_key": signing_key,
            }
        ),
        middleware=[SessionMiddleware()],
        template_config=template_config,
        plugins=[HTMXPlugin()],
        request_class=HTMXRequest,
        csrf_config=CSRFConfig(
            secret=secret,
            cookie_name=cookie_name(settings, "csrftoken"),
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="strict",
            header_name="x-csrftoken",
        ),
        allowed_hosts=AllowedHostsConfig(allowed_hosts=list(settings.allowed_hosts)),
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=reject_impossible_ids,
        before_send=[make_security_headers_hook(production=settings.production)],
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OPENAPI_CONFIG,
        include_in_schema=False,  # only the API's operations (app/api/routes.py) are described
        debug=settings.debug and not settings.production,
    )


def asgi_app() -> Litestar:
    """Factory for ``signpost serve`` workers: settings, keys and engine from the environment."""
    settings = load_settings()
    logging.getLogger("signpost").setLevel(settings.log_level)
    keyring = Keyring(settings.keys_dir, create=not settings.production)
    return create_app(
        settings, keyring=keyring, engine=database.make_engine(settings.database), manage_engine=True
    )
