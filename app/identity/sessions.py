"""Server-side sessions in the database, shared by every worker.

The cookie carries 256 random bits; the database keeps only their SHA-256, so a copy of the
database cannot be replayed as a cookie. A session ends after 15 minutes without a request or 12
hours after the key sign-in, whichever comes first (NIST SP 800-63B AAL3; ASVS 7.3). Signing in
always issues a new session (no fixation). WebAuthn challenges live in the session, expire after
5 minutes and are consumed by the first attempt to use them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from app.database import write_transaction
from app.identity.service import PractitionerView, load_practitioner
from app.identity.tables import AuthThrottle, Session
from app.records.ids import row_ids

IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
STEP_UP_WINDOW = timedelta(minutes=5)
CHALLENGE_LIFETIME = timedelta(minutes=5)
PURGE_ONE_IN = 100
THROTTLE_RETENTION = timedelta(hours=1)
Purpose = Literal["anonymous", "enrolment", "signed_in"]
ChallengePurpose = Literal["register", "login"]


@dataclass(frozen=True, slots=True)
class SessionState:
    id: int
    token: str
    practitioner_id: int | None
    purpose: Purpose
    created_at: datetime
    authenticated_at: datetime | None
    step_up_at: datetime | None
    notice: str | None

    def stepped_up(self, now: datetime) -> bool:
        return self.step_up_at is not None and now - self.step_up_at <= STEP_UP_WINDOW


def token_hash(token: str) -> str:
    return sha256(token.encode("ascii")).hexdigest()


def _state(row: dict[str, Any], token: str) -> SessionState:
    return SessionState(
        id=row["id"],
        token=token,
        practitioner_id=row["practitioner"],
        purpose=row["purpose"],
        created_at=row["created_at"],
        authenticated_at=row["authenticated_at"],
        step_up_at=row["step_up_at"],
        notice=row["notice"],
    )


async def start(
    purpose: Purpose, practitioner_id: int | None, now: datetime, notice: str | None = None
) -> SessionState:
    token = secrets.token_urlsafe(32)
    row: dict[str, Any] = {
        "id": row_ids.next(),
        "token_hash": token_hash(token),
        "practitioner": practitioner_id,
        "purpose": purpose,
        "created_at": now,
        "last_seen_at": now,
        "authenticated_at": now if purpose == "signed_in" else None,
        "step_up_at": now if purpose == "signed_in" else None,
        "notice": notice,
    }
    await Session.insert(Session(**row)).run()
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        await purge_expired(now)
    return _state(row, token)


async def purge_expired(now: datetime) -> None:
    """Delete sessions past their idle timeout and finished throttle windows. Runs now and then
    as sessions start, so abandoned sign-in attempts do not accumulate."""
    await Session.delete().where(Session.last_seen_at < now - IDLE_TIMEOUT).run()
    await AuthThrottle.delete().where(AuthThrottle.window_start < now - THROTTLE_RETENTION).run()


def _expired(row: dict[str, Any], now: datetime) -> bool:
    if now - row["last_seen_at"] > IDLE_TIMEOUT:
        return True
    started = row["authenticated_at"] or row["created_at"]
    return bool(now - started > ABSOLUTE_TIMEOUT)


#: How stale ``last_seen_at`` may get before a request writes it again. The idle timeout is
#: counted from the last write, so a session may end up to this much sooner, never later.
TOUCH_INTERVAL = timedelta(seconds=60)


async def resume(token: str, now: datetime) -> SessionState | None:
    """The live session for this cookie value, touched at most once a minute; None when unknown
    or expired (and then deleted, so the same cookie can never come back)."""
    if not token or len(token) > 100:
        return None
    rows = await Session.raw('SELECT * FROM "session" WHERE "token_hash" = {}', token_hash(token)).run()
    if not rows:
        return None
    row = rows[0]
    if _expired(row, now):
        await Session.delete().where(Session.id == row["id"]).run()
        return None
    if now - row["last_seen_at"] >= TOUCH_INTERVAL:  # a write per minute, not per request
        await Session.update({Session.last_seen_at: now}).where(Session.id == row["id"]).run()
    return _state(row, token)


async def end(session_id: int) -> None:
    await Session.delete().where(Session.id == session_id).run()


async def end_all_for(practitioner_id: int, *, keep: int | None = None) -> None:
    condition: Any = Session.practitioner == practitioner_id
    if keep is not None:
        condition &= Session.id != keep
    await Session.delete().where(condition).run()


async def sign_in(
    previous: SessionState | None, practitioner_id: int, now: datetime, notice: str | None
) -> SessionState:
    """Replace whatever session the browser had with a new signed-in one."""
    async with write_transaction(Session._meta.db):
        if previous is not None:
            await Session.delete().where(Session.id == previous.id).run()
        return await start("signed_in", practitioner_id, now, notice)


async def claim(session: SessionState, practitioner_id: int | None) -> None:
    """Record whom an anonymous session is signing in as: only their keys may answer."""
    await Session.update({Session.practitioner: practitioner_id}).where(Session.id == session.id).run()


async def mark_stepped_up(session: SessionState, now: datetime) -> None:
    await Session.update({Session.step_up_at: now}).where(Session.id == session.id).run()


async def clear_notice(session: SessionState) -> None:
    await Session.update({Session.notice: None}).where(Session.id == session.id).run()


async def set_challenge(
    session: SessionState, challenge: bytes, purpose: ChallengePurpose, now: datetime
) -> None:
    await (
        Session.update(
            {
                Session.challenge: challenge,
                Session.challenge_purpose: purpose,
                Session.challenge_expires_at: now + CHALLENGE_LIFETIME,
            }
        )
        .where(Session.id == session.id)
        .run()
    )


async def take_challenge(session: SessionState, purpose: ChallengePurpose, now: datetime) -> bytes | None:
    """The session's challenge for ``purpose``, consumed: a second use, or a late one, gets None.

    Compare-and-swap: the challenge read is cleared only if it is still the one stored, so two
    concurrent attempts cannot both use it, and a new challenge set meanwhile is not consumed.
    """
    rows = (
        await Session.select(Session.challenge, Session.challenge_purpose, Session.challenge_expires_at)
        .where(Session.id == session.id)
        .run()
    )
    if not rows or rows[0]["challenge"] is None:
        return None
    row = rows[0]
    challenge = bytes(row["challenge"])
    cleared = (
        await Session.update(
            {Session.challenge: None, Session.challenge_purpose: None, Session.challenge_expires_at: None}
        )
        .where((Session.id == session.id) & (Session.challenge == challenge))
        .returning(Session.id)
        .run()
    )
    if not cleared or row["challenge_purpose"] != purpose or row["challenge_expires_at"] < now:
        return None
    return challenge


# Web plumbing: the middleware that finds the session, and the guards that use it.


def session_cookie_name(secure: bool) -> str:
    return "__Host-signpost_session" if secure else "signpost_session"


class SessionMiddleware(ASGIMiddleware):
    """Puts the live session in ``scope["auth"]`` and its practitioner in ``scope["user"]``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope["litestar_app"].state
        scope["auth"] = None
        scope["user"] = None
        if scope["path"].startswith(("/static/", "/healthz", "/readyz", "/api/")):
            # No session for assets and probes, and none for the API: a cookie never authorises
            # an API call (app/api/routes.py takes the client's secret instead).
            await next_app(scope, receive, send)
            return
        cookie_name = session_cookie_name(state.settings.secure_cookies)
        token = _cookie(scope, cookie_name)
        if token:
            session = await resume(token, state.clock())
            if session is not None:
                scope["auth"] = session
                if session.practitioner_id is not None and session.purpose == "signed_in":
                    practitioner = await load_practitioner(
                        state.keyring, session.practitioner_id, count_keys=False
                    )
                    if practitioner is not None and practitioner.active:
                        scope["user"] = practitioner
                    else:
                        await end(session.id)
                        scope["auth"] = None
        await next_app(scope, receive, send)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                cookie_name, _, cookie_value = part.strip().partition("=")
                if cookie_name == name:
                    return cookie_value
    return None


class StepUpRequiredError(PermissionDeniedException):
    """A sensitive action without a key touch in the last five minutes. ``back`` is the page
    to return to after the touch."""

    def __init__(self, back: str) -> None:
        super().__init__()
        self.back = back


#: A path Signpost may send someone back to after a step-up: local, and nothing but letters,
#: digits, slashes, hyphens and underscores (no scheme, host, query or ``//``).
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9/_-]{0,200}")


def local_path(value: str | None, default: str) -> str:
    return value if value and _LOCAL_PATH.fullmatch(value) and "//" not in value else default


def _back(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> str:
    """Where a step-up returns: the page itself for a GET; for a form post, the page the
    handler names in ``opt["step_up_return"]`` (a path with its parameters), else home."""
    if connection.scope.get("method") == "GET":
        return local_path(connection.url.path, "/home")
    template = handler.opt.get("step_up_return")
    if not template:
        return "/home"
    return local_path(template.format(**connection.path_params), "/home")


def signed_in_with_role(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: a signed-in practitioner whose role is one of ``handler.opt["roles"]``, and, where
    ``handler.opt["step_up"]`` is set, a key touch within the last five minutes."""
    user: PractitionerView | None = connection.scope.get("user")
    if user is None:
        raise NotAuthorizedException()
    roles = handler.opt.get("roles")
    if roles is not None and user.role not in roles:
        raise PermissionDeniedException()
    if handler.opt.get("step_up"):
        session: SessionState = connection.scope["auth"]
        if not session.stepped_up(connection.app.state.clock()):
            raise StepUpRequiredError(_back(connection, handler))
