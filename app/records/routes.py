"""Opening a record: ``GET /records/{id}`` asks why; ``POST /records/{id}`` with ``reason`` (a
code from the fixed list) shows the record and audits the view. The number is the record's
internal row ID, which means nothing outside Signpost; only a record Signpost showed this
practitioner (or one they are involved with) opens, and anything else answers 404."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath
from litestar.response import Template

from app.api.on_behalf import Person
from app.api.web import actor as acting_actor
from app.audit.labels import REASON_LABELS, VIEW_REASONS
from app.identity.service import PractitionerView, Role
from app.identity.sessions import signed_in_with_role
from app.records import access
from app.records.codes import GENDER_LABELS, RELATIONSHIP_LABELS, SERVICE_TYPE_LABELS
from app.records.service import RecordNotFoundError
from app.search.quotas import Quota, QuotaExceededError

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
READERS = {"roles": (Role.practitioner, Role.la_admin)}


def _reason_page(child_id: int, *, error: str | None = None, chosen: str = "") -> Template:
    return Template(
        "records/reason.html",
        status_code=400 if error else 200,
        context={
            "child_id": child_id,
            "reasons": VIEW_REASONS,
            "errors": {"reason": error} if error else {},
            "chosen": chosen,
        },
    )


async def _openable(request: Request[Any, Any, Any], state: State, child_id: int) -> PractitionerView:
    user: PractitionerView = request.scope["user"]
    if not await access.may_open(user.id, child_id, state.clock()):
        raise NotFoundException()  # never shown to them
    return user


@get("/records/{child_id:int}", guards=[signed_in_with_role], opt=READERS)
async def reason_page(request: Request[Any, Any, Any], state: State, child_id: FromPath[int]) -> Template:
    await _openable(request, state, child_id)
    return _reason_page(child_id)


@post("/records/{child_id:int}", guards=[signed_in_with_role], opt=READERS)
async def open_record(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int], data: FormData
) -> Template:
    user = await _openable(request, state, child_id)
    reason = data.get("reason", "")
    if reason not in VIEW_REASONS:
        return _reason_page(child_id, error="Select why you are opening this record")
    session = request.scope.get("auth")
    actor, person = await acting_actor(request, state)
    try:
        view = await access.open_record(
            state.keyring,
            child_id,
            actor,
            reason,
            state.clock(),
            _view_quota(state),
            session_id=session.id if session else None,
        )
    except RecordNotFoundError:
        raise NotFoundException() from None  # deleted since it was shown
    except QuotaExceededError as exc:
        return quota_page(exc)
    return _record_page(user, view, reason, person)


def _view_quota(state: State) -> Quota:
    return Quota("view", state.settings.views_per_day, hourly=False)


def quota_page(
    exc: QuotaExceededError,
    title: str = "You have opened too many records today",
    message: str = "Signpost limits how many records each person opens in a day, to protect "
    "children's records. Try again tomorrow, or contact your local Signpost team.",
) -> Template:
    """The 429 page of a quota, with ``Retry-After``."""
    response = Template(
        "errors/error.html",
        status_code=429,
        context={"status_code": 429, "title": title, "message": message},
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _record_page(
    user: PractitionerView, view: access.RecordView, reason: str, on_behalf: Person | None = None
) -> Template:
    return Template(
        "records/record.html",
        context={
            "record": view,
            "reason": REASON_LABELS[reason],
            "reason_code": reason,
            "may_break_glass": view.restricted and user.child_protection,
            "genders": GENDER_LABELS,
            "relationships": RELATIONSHIP_LABELS,
            "service_types": SERVICE_TYPE_LABELS,
            "on_behalf": on_behalf,
        },
    )


#: Break-glass needs the child-protection permission and a key touch within five minutes.
BREAK_GLASS = {
    "roles": (Role.practitioner, Role.la_admin),
    "step_up": True,
    "step_up_return": "/records/{child_id}/break-glass",
}


async def _may_break_glass(request: Request[Any, Any, Any], state: State, child_id: int) -> PractitionerView:
    user = await _openable(request, state, child_id)
    if not user.child_protection:
        raise PermissionDeniedException()
    if not await access.is_shielded(child_id):
        raise NotFoundException()
    return user


def _warning_page(child_id: int, error: str | None = None) -> Template:
    return Template(
        "records/break_glass.html",
        status_code=400 if error else 200,
        context={
            "child_id": child_id,
            "reasons": VIEW_REASONS,
            "errors": {"reason": error} if error else {},
        },
    )


@get("/records/{child_id:int}/break-glass", guards=[signed_in_with_role], opt=BREAK_GLASS)
async def break_glass_page(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int]
) -> Template:
    await _may_break_glass(request, state, child_id)
    return _warning_page(child_id)


@post("/records/{child_id:int}/break-glass", guards=[signed_in_with_role], opt=BREAK_GLASS)
async def break_glass(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int], data: FormData
) -> Template:
    user = await _may_break_glass(request, state, child_id)
    reason = data.get("reason", "")
    if reason not in VIEW_REASONS or data.get("understood") != "yes":
        return _warning_page(child_id, "Select your reason and confirm you understand the warning")
    session = request.scope["auth"]
    now = state.clock()
    actor, person = await acting_actor(request, state)
    quota = _view_quota(state)
    try:
        view = await access.open_record(
            state.keyring, child_id, actor, reason, now, quota, session_id=session.id, breaking_glass=True
        )
    except RecordNotFoundError:
        raise NotFoundException() from None  # deleted since the warning was shown
    except QuotaExceededError as exc:
        return quota_page(exc)
    return _record_page(user, view, reason, person)


ROUTES = [reason_page, open_record, break_glass_page, break_glass]
