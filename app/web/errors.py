"""Error responses: a page in the service's layout for people, problem details for programs.

No stack trace, exception text or request data ever reaches the response; a 500 is logged with
its traceback on the server (the log holds no request bodies, so no personal data).
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import traceback
from typing import Any

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import NotFoundException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.api.problems import ProblemError, problem_response, response_for, validation_problem
from app.api.schemas import REQUEST_FIELDS
from app.audit.service import AuditUnavailableError
from app.identity.sessions import StepUpRequiredError

log = logging.getLogger("signpost.errors")

TITLES: dict[int, tuple[str, str]] = {
    400: ("There is a problem with the request", "Check what you entered and try again."),
    401: ("You need to sign in", "Sign in with your security key to use this page."),
    403: (
        "You cannot use this page",
        "Your account does not allow this. If you think it should, contact your local Signpost team.",
    ),
    404: ("Page not found", "If you typed the web address, check it is correct."),
    405: ("This page cannot be used that way", "Go back and try again."),
    413: ("What you sent is too large", "Send a smaller file or less text."),
    429: ("You have made too many requests", "Wait a few minutes, then try again."),
    500: (
        "Sorry, there is a problem with the service",
        "Try again later. Nothing you entered has been saved.",
    ),
    503: ("Sorry, the service is unavailable", "Try again later. Nothing you entered has been saved."),
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/auth/", "/healthz", "/readyz")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request[Any, Any, Any], status_code: int) -> Response[Any]:
    title, message = TITLES.get(status_code, TITLES[400] if status_code < 500 else TITLES[500])
    if wants_json(request):  # the API's own titles under /api/; the pages' elsewhere (key ceremonies)
        return problem_response(status_code, title=None if request.url.path.startswith("/api/") else title)
    return Template(
        template_name="errors/error.html",
        context={"status_code": status_code, "title": title, "message": message},
        status_code=status_code,
        media_type=MediaType.HTML,
    )


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ProblemError):  # the API's own, with its code and fields
        return response_for(exc)
    if isinstance(exc, ValidationException) and request.url.path.startswith("/api/"):
        return response_for(validation_problem(exc, REQUEST_FIELDS))
    if not wants_json(request):  # people, not programs: send them where they can carry on
        if isinstance(exc, StepUpRequiredError):
            return Redirect(f"/step-up?next={exc.back}", status_code=303)  # a checked local path
        if isinstance(exc, NotAuthorizedException) and request.method == "GET":
            return Redirect("/login", status_code=303)
    response = error_response(request, exc.status_code)
    for name in ("Retry-After", "Allow"):
        value = (exc.headers or {}).get(name)
        if value:
            response.headers[name] = value
    return response


def too_deep_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """JSON nested deeper than the decoder can follow (``[[[[...]]]]``): bad input, not a fault.
    Any other recursion (a template's, Signpost's own) stays a logged 500."""
    innermost = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        innermost = frame.f_code
    if innermost is None or not (
        "/litestar/" in innermost.co_filename and innermost.co_name.startswith("decode")
    ):
        return internal_error_handler(request, exc)
    log.info("request.too_deep on %s %s", request.method, request.url.path)
    if request.url.path.startswith("/api/"):
        return response_for(validation_problem(ValidationException(extra=[{"message": "JSON is malformed"}])))
    return error_response(request, 400)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR)


def audit_unavailable_handler(request: Request[Any, Any, Any], exc: AuditUnavailableError) -> Response[Any]:
    """The audit row could not be written, so the action was rolled back: say so, as a 503."""
    if wants_json(request):
        return error_response(request, 503)
    return Template(
        template_name="errors/error.html",
        context={
            "status_code": 503,
            "title": "Sorry, the service is unavailable",
            "message": "Signpost could not record this in its audit trail, so nothing was done or saved. "
            "Try again in a few minutes.",
        },
        status_code=503,
        media_type=MediaType.HTML,
    )


#: Row IDs are positive 64-bit integers (app/records/ids.py).
MAX_ROW_ID = 2**63 - 1


async def reject_impossible_ids(request: Request[Any, Any, Any]) -> None:
    """A ``before_request`` hook: a number in the address that no row ID can be (zero, or too
    large for the database) is a thing that does not exist, so 404 before any query runs."""
    for value in request.path_params.values():
        if isinstance(value, int) and not 0 < value <= MAX_ROW_ID:
            raise NotFoundException()


#: SQLite's result codes for storage that failed, as opposed to a statement that is wrong.
SQLITE_STORAGE = frozenset(
    {
        "SQLITE_FULL",
        "SQLITE_IOERR",
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_CANTOPEN",
        "SQLITE_READONLY",
        "SQLITE_NOMEM",
    }
)


def _storage_failed(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.Error):
        name = str(getattr(exc, "sqlite_errorname", ""))
        return any(name == code or name.startswith(code + "_") for code in SQLITE_STORAGE)
    return True


def database_unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database could not be reached, or refused a write (a full disk, a lost connection):
    the transaction was rolled back, so say so as a 503 rather than an error of Signpost's own.
    A statement SQLite refuses as wrong (no such column, a syntax error) is a 500, logged whole."""
    if not _storage_failed(exc):
        return internal_error_handler(request, exc)
    log.error(
        "database.unavailable error=%s on %s %s: %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        str(exc)[:200],
    )
    if wants_json(request):
        response = error_response(request, 503)
        response.headers["Retry-After"] = "30"
        return response
    response = Template(
        template_name="errors/error.html",
        context={
            "status_code": 503,
            "title": "Sorry, the service is unavailable",
            "message": "Signpost could not reach or write to its database, so nothing was done or saved. "
            "Try again in a few minutes; if you were saving something, check it is there first.",
        },
        status_code=503,
        media_type=MediaType.HTML,
    )
    response.headers["Retry-After"] = "30"
    return response


#: What the database drivers raise when the database is out of reach or cannot write.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,  # a full disk, a locked or unreadable file; not a broken constraint
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InsufficientResourcesError,  # a full disk, too many connections
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby after failover
    ConnectionError,
    socket.gaierror,
    TimeoutError,
)

EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    HTTPException: http_exception_handler,
    NotFoundException: http_exception_handler,
    NotAuthorizedException: http_exception_handler,
    PermissionDeniedException: http_exception_handler,
    AuditUnavailableError: audit_unavailable_handler,
    RecursionError: too_deep_handler,
    **dict.fromkeys(DATABASE_ERRORS, database_unavailable_handler),
    Exception: internal_error_handler,
}
