"""Errors of the JSON API as RFC 9457 problem details, with stable codes.

Every error body is ``application/problem+json``: ``type`` (``urn:signpost:problem:<code>``),
``title``, ``status``, ``code``, an optional ``detail``, and for 400 and 422 the ``errors``
list naming each field at fault and why. The codes are part of the API (docs/api.md); no body
ever echoes a value the caller sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from litestar import Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

PROBLEM_MEDIA_TYPE = "application/problem+json"

#: The code and title of each status when nothing more precise is said.
STATUS_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "The request is not what this operation takes"),
    401: ("unauthenticated", "The API client's secret is missing, wrong or revoked"),
    403: ("forbidden", "The call is not allowed"),
    404: ("not_found", "There is no such resource, or it is not open to this practitioner"),
    405: ("method_not_allowed", "This operation does not take that method"),
    409: ("conflict", "The request conflicts with the resource's current state"),
    413: ("too_large", "The request body is too large"),
    415: ("unsupported_media_type", "Send the body as application/json"),
    422: ("validation_failed", "A value breaks one of Signpost's rules"),
    429: ("too_many_requests", "A quota is used up; try again after Retry-After seconds"),
    500: ("internal_error", "Signpost failed; nothing was saved"),
    503: ("unavailable", "Signpost is unavailable; nothing was saved. Try again later"),
}


class FieldError(msgspec.Struct, frozen=True):
    field: str  # a body member (``date_of_birth``), a header (``Signpost-On-Behalf-Of``) or ``body``
    detail: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """An RFC 9457 problem details object."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(HTTPException):
    """Raise to answer with a problem: ``code`` is the stable code, ``errors`` the fields."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        *,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(status_code=status, headers=dict(headers or {}))
        default_code, default_title = STATUS_PROBLEMS.get(
            status, STATUS_PROBLEMS[400 if status < 500 else 500]
        )
        self.problem = Problem(
            type=f"urn:signpost:problem:{code or default_code}",
            title=title or default_title,
            status=status,
            code=code or default_code,
            detail=detail,
            errors=list(errors) or None,
        )


def problem_response(
    status: int,
    code: str | None = None,
    detail: str | None = None,
    *,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Response[Any]:
    return response_for(ProblemError(status, code, detail, errors=errors, headers=headers, title=title))


def response_for(exc: ProblemError) -> Response[Any]:
    return Response(
        content=exc.problem,
        status_code=exc.status_code,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=exc.headers or {},
    )


#: The decoder names the place at the end of its message ("... - at `$.family_name`").
_PLACE = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)`\s*$")
_REQUIRED = re.compile(r"^Object missing required field `([A-Za-z_][A-Za-z0-9_]*)`")

#: What a decoder's complaint means, in fixed words, by how its message starts (a value the
#: caller sent can appear later in a message, never at its start): the message itself can quote
#: what was sent (an enum value, an unknown member's name), and nothing sent may come back.
_MEANINGS = (
    ("object contains unknown field", "has a member this operation does not take"),
    ("object missing required field", "is required"),
    ("invalid enum value", "is not one of the allowed values"),
    ("expected `str` of length", "is too long or too short"),
    ("expected `date`", "is not a date like 2014-02-28"),
    ("invalid rfc3339 encoded date", "is not a date like 2014-02-28"),
    ("expected", "has the wrong type"),
    ("json is malformed", "is not valid JSON"),
)


def _field_error(message: str, key: str, known_fields: frozenset[str]) -> FieldError:
    """One decoder complaint as a field and a fixed detail. The field is named only when it is
    one of the operation's own members (never a name the caller made up)."""
    lowered = message.lower()
    detail = next((meaning for start, meaning in _MEANINGS if lowered.startswith(start)), "is not valid")
    required = _REQUIRED.search(message)
    place = _PLACE.search(message)
    name = required.group(1) if required else place.group(1) if place else key
    unknown = lowered.startswith("object contains unknown field")
    return FieldError(field=name if name in known_fields and not unknown else "body", detail=detail)


def validation_problem(exc: ValidationException, known_fields: frozenset[str] = frozenset()) -> ProblemError:
    """Litestar's 400 (a body or parameter that does not decode) as problem details naming the
    fields at fault (``known_fields``: the operation's own member names), echoing nothing."""
    errors: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(
                _field_error(str(item.get("message", "")), str(item.get("key") or ""), known_fields)
            )
    if not errors:
        errors.append(FieldError(field="body", detail="Send a JSON object as this operation describes"))
    return ProblemError(400, "invalid_request", errors=errors)


def responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The OpenAPI description of an operation's error answers."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=STATUS_PROBLEMS[status][1],
            generate_examples=False,
        )
        for status in statuses
    }
