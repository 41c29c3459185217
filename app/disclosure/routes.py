"""Police exceptional disclosure on the web.

The police officer (role ``police``; no search, no records otherwise): ``/disclosure/requests``
lists their own requests; ``/disclosure/requests/new`` makes one, matched to exactly one record
and kept as a draft; ``/disclosure/requests/{id}`` shows it, and there they send the draft with a
key touch (``.../send``), withdraw it (``.../cancel``), or, once approved and while the access lasts,
open the record (``.../record``). Another officer's request answers 404, of their force or not.

The approver (role ``disclosure_approver`` of the child's authority): ``/disclosure/decisions``
is the queue, urgent first; ``/disclosure/decisions/{id}`` shows a request and the minimal view
of its match (audited), and takes the decision with a key touch (``.../decide``), ends an access
early (``.../revoke``) and records or lifts the exemption from subject access
(``.../exemption``). A request of another authority answers 404; one from the approver's own
organisation is refused (403). Form fields: app/disclosure/forms.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from app.audit.labels import REASON_LABELS
from app.audit.service import Actor
from app.disclosure import forms, service
from app.disclosure.codes import (
    APPROVAL_LABEL,
    APPROVAL_REASON,
    EXEMPTION_LABEL,
    LAWFUL_BASIS_LABELS,
    OFFENCE_LABELS,
    REFUSAL_LABELS,
    REVOKE_LABELS,
    STATUS_LABELS,
    URGENCY_LABELS,
    RefusalReason,
    Status,
)
from app.identity.service import PractitionerView, Role, organisation_names
from app.identity.sessions import signed_in_with_role
from app.records import access
from app.records.codes import GENDER_LABELS, RELATIONSHIP_LABELS, SERVICE_TYPE_LABELS
from app.records.ids import format_signpost_id
from app.records.routes import quota_page
from app.records.service import RecordNotFoundError, load_child
from app.search.quotas import Quota, QuotaExceededError
from app.subject_access.deadlines import uk_date

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
POLICE = {"roles": (Role.police,)}
SEND = {"roles": (Role.police,), "step_up": True, "step_up_return": "/disclosure/requests/{request_id}"}
APPROVER = {"roles": (Role.disclosure_approver,)}
DECIDE = {
    "roles": (Role.disclosure_approver,),
    "step_up": True,
    "step_up_return": "/disclosure/decisions/{request_id}",
}
LABELS = {
    "offences": OFFENCE_LABELS,
    "bases": LAWFUL_BASIS_LABELS,
    "urgencies": URGENCY_LABELS,
    "statuses": STATUS_LABELS,
    "refusals": REFUSAL_LABELS,
    "revokes": REVOKE_LABELS,
    "approval_label": APPROVAL_LABEL,
    "exemption_label": EXEMPTION_LABEL,
    "genders": GENDER_LABELS,
}


def _user(request: Request[Any, Any, Any]) -> PractitionerView:
    user: PractitionerView = request.scope["user"]
    return user


def _decision_label(code: str | None) -> str:
    if code == APPROVAL_REASON:
        return APPROVAL_LABEL
    try:
        return REFUSAL_LABELS[RefusalReason(code or "")]
    except ValueError:
        return ""


# The police officer


@get("/disclosure/requests", guards=[signed_in_with_role], opt=POLICE)
async def my_requests(request: Request[Any, Any, Any], state: State) -> Template:
    user = _user(request)
    items = await service.officers_requests(user.id, state.clock())
    return Template("disclosure/requests.html", context={"items": items, **LABELS})


def _new_page(
    *, status: int = 200, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> Template:
    return Template(
        "disclosure/new.html",
        status_code=status,
        context={"values": values or {}, "errors": errors or {}, **LABELS},
    )


@get("/disclosure/requests/new", guards=[signed_in_with_role], opt=POLICE)
async def new_request_page() -> Template:
    return _new_page()


@post("/disclosure/requests/new", guards=[signed_in_with_role], opt=POLICE)
async def new_request(request: Request[Any, Any, Any], state: State, data: FormData) -> Template | Redirect:
    user = _user(request)
    now = state.clock()
    parsed, errors, values = forms.request_from_form(data, uk_date(now))
    if parsed is None:
        return _new_page(status=400, values=values, errors=errors)
    criteria, case = parsed
    quota = Quota("disclosure", state.settings.disclosure_requests_per_day, hourly=False)
    try:
        request_id = await service.draft(state.keyring, Actor.of(user), criteria, case, now, quota)
    except service.NotUniqueError:
        # The same words for no match and for several: nothing about near matches.
        message = (
            "These details do not identify exactly one child in Signpost. Check them, or add "
            "the Signpost ID. A request can only be made about one child."
        )
        return _new_page(
            status=422,
            values=values,
            errors={"family_name": message} if not criteria.signpost_id else {"signpost_id": message},
        )
    except QuotaExceededError as exc:
        return quota_page(
            exc,
            "You have made too many requests today",
            "Signpost limits how many disclosure requests each officer makes in a day. "
            "Try again tomorrow, or contact the local authority.",
        )
    return Redirect(f"/disclosure/requests/{request_id}", status_code=303)


async def _own(
    request: Request[Any, Any, Any], state: State, request_id: int
) -> tuple[Actor, service.RequestView]:
    user = _user(request)
    found = await service.load(state.keyring, request_id)
    if found is None or found.requester_id != user.id:
        raise NotFoundException()  # not theirs: as if it did not exist
    return Actor.of(user), found


async def _request_page(state: State, found: service.RequestView, error: str | None = None) -> Template:
    """The officer's request page; after a refused step, as it stands now, with the error."""
    if error:
        found = await service.load(state.keyring, found.id) or found
    now = state.clock()
    names = await organisation_names({found.force_id})
    return Template(
        "disclosure/request.html",
        status_code=409 if error else 200,
        context={
            "req": found,
            "now": now,
            "access_open": found.access_open(now),
            "lapsed": found.status == Status.draft and now - found.created_at > service.DRAFT_LIFETIME,
            "decision": _decision_label(found.decision_reason),
            "force": names.get(found.force_id, ""),
            "authority": (await service.authority_names({found.authority_id})).get(found.authority_id, ""),
            "decided_yes": found.status in (Status.approved, Status.revoked),
            "errors": {"status": error} if error else {},
            **LABELS,
        },
    )


@get("/disclosure/requests/{request_id:int}", guards=[signed_in_with_role], opt=POLICE)
async def my_request(request: Request[Any, Any, Any], state: State, request_id: FromPath[int]) -> Template:
    _, found = await _own(request, state, request_id)
    return await _request_page(state, found)


@post("/disclosure/requests/{request_id:int}/send", guards=[signed_in_with_role], opt=SEND)
async def send(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int]
) -> Template | Redirect:
    officer, found = await _own(request, state, request_id)
    now = state.clock()
    settings = state.settings
    due = service.decision_deadline(
        found.urgency,
        now,
        routine_hours=settings.disclosure_decision_hours,
        urgent_hours=settings.disclosure_urgent_decision_hours,
    )
    try:
        await service.send(officer, found, now, due)
    except service.StepRefusedError:
        return await _request_page(
            state,
            found,
            "This request could not be sent: it was sent already, it is more than a day old, or the "
            "record has gone. Make a new request if you still need one.",
        )
    return Redirect(f"/disclosure/requests/{request_id}", status_code=303)


@post("/disclosure/requests/{request_id:int}/cancel", guards=[signed_in_with_role], opt=POLICE)
async def cancel(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int]
) -> Template | Redirect:
    officer, found = await _own(request, state, request_id)
    try:
        await service.cancel(officer, found, state.clock())
    except service.StepRefusedError:
        return await _request_page(state, found, "This request was sent already, or is no longer a draft")
    return Redirect("/disclosure/requests", status_code=303)


def _ended_page() -> Template:
    return Template(
        "errors/error.html",
        status_code=403,
        context={
            "status_code": 403,
            "title": "You cannot open this record now",
            "message": "A record opens only under an approved request, until its access ends. The request "
            "may not be decided yet, its time may have run out, or the approver may have ended the access.",
        },
    )


@post("/disclosure/requests/{request_id:int}/record", guards=[signed_in_with_role], opt=POLICE)
async def open_record(request: Request[Any, Any, Any], state: State, request_id: FromPath[int]) -> Template:
    officer, found = await _own(request, state, request_id)
    now = state.clock()
    quota = Quota("view", state.settings.views_per_day, hourly=False)
    try:
        view = await service.open_record(state.keyring, officer, found, now, quota)
    except access.AccessEndedError:
        return _ended_page()
    except RecordNotFoundError:
        raise NotFoundException() from None  # deleted since the approval
    except QuotaExceededError as exc:
        return quota_page(exc)
    return Template(
        "records/record.html",
        context={
            "record": view,
            "reason": REASON_LABELS["police_disclosure"],
            "disclosure": found,
            "may_break_glass": False,
            "genders": GENDER_LABELS,
            "relationships": RELATIONSHIP_LABELS,
            "service_types": SERVICE_TYPE_LABELS,
        },
    )


# The approver


@get("/disclosure/decisions", guards=[signed_in_with_role], opt=APPROVER)
async def decisions(request: Request[Any, Any, Any], state: State) -> Template:
    user = _user(request)
    found = await service.queue(Actor.of(user), state.clock())
    return Template("disclosure/queue.html", context={"queue": found, **LABELS})


async def _decidable(
    request: Request[Any, Any, Any], state: State, request_id: int
) -> tuple[Actor, service.RequestView]:
    approver = Actor.of(_user(request))
    found = await service.load(state.keyring, request_id)
    if found is None or found.submitted_at is None or found.authority_id != approver.authority_id:
        raise NotFoundException()
    if not service.may_decide(approver, found):
        raise PermissionDeniedException("A request from your own organisation is decided by someone else")
    return approver, found


async def _decision_page(
    state: State,
    approver: Actor,
    found: service.RequestView,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    if errors:
        found = await service.load(state.keyring, found.id) or found  # as it stands now
    now = state.clock()
    try:
        record = await load_child(state.keyring, found.child_id)
    except RecordNotFoundError:
        record = None
    await service.record_viewed(approver, found, now)  # every page that shows the child
    names = await organisation_names({found.force_id})
    moved = record is not None and record.details.local_authority_id != found.authority_id
    return Template(
        "disclosure/decide.html",
        status_code=status,
        context={
            "req": found,
            "record": record,
            "signpost_id": format_signpost_id(record.signpost_id) if record else "",
            "moved": moved,
            "now": now,
            "today": uk_date(now),
            "access_open": found.access_open(now) and not moved,  # a move ends the grant
            "decision": _decision_label(found.decision_reason),
            "force": names.get(found.force_id, ""),
            "values": values or {},
            "errors": errors or {},
            **LABELS,
        },
    )


@get("/disclosure/decisions/{request_id:int}", guards=[signed_in_with_role], opt=APPROVER)
async def decision_page(request: Request[Any, Any, Any], state: State, request_id: FromPath[int]) -> Template:
    approver, found = await _decidable(request, state, request_id)
    return await _decision_page(state, approver, found)


def _back(request_id: int) -> Redirect:
    return Redirect(f"/disclosure/decisions/{request_id}", status_code=303)


async def _refused(
    state: State, approver: Actor, found: service.RequestView, field: str, message: str
) -> Template:
    return await _decision_page(state, approver, found, status=409, errors={field: message})


@post("/disclosure/decisions/{request_id:int}/decide", guards=[signed_in_with_role], opt=DECIDE)
async def decide(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    approver, found = await _decidable(request, state, request_id)
    if found.status != Status.pending:  # before reading the form: its fields are not on the page now
        return await _refused(state, approver, found, "decision", "This request has been decided already")
    parsed, errors, values = forms.decision_from_form(data)
    if parsed is None:
        return await _decision_page(state, approver, found, status=400, values=values, errors=errors)
    reason, note = parsed
    now = state.clock()
    hours = state.settings.disclosure_access_hours
    try:
        if reason is None:
            await service.approve(approver, found, note, now, hours, state.keyring)
        else:
            await service.refuse(approver, found, reason, note, now, state.keyring)
    except service.StepRefusedError:
        message = "This request has been decided already, or the child's record has moved or gone"
        return await _refused(state, approver, found, "decision", message)
    return _back(request_id)


@post("/disclosure/decisions/{request_id:int}/revoke", guards=[signed_in_with_role], opt=APPROVER)
async def revoke(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    approver, found = await _decidable(request, state, request_id)
    if not found.access_open(state.clock()):
        return await _refused(state, approver, found, "decision", "There is no access to end")
    reason, errors = forms.revoke_from_form(data)
    if reason is None:
        return await _decision_page(state, approver, found, status=400, errors=errors)
    try:
        await service.revoke(approver, found, reason, state.clock())
    except service.StepRefusedError:
        return await _refused(
            state, approver, found, "decision", "There is no access to end: it has ended already"
        )
    return _back(request_id)


@post("/disclosure/decisions/{request_id:int}/exemption", guards=[signed_in_with_role], opt=APPROVER)
async def exemption(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    approver, found = await _decidable(request, state, request_id)
    now = state.clock()
    parsed, errors, values = forms.exemption_from_form(data, uk_date(now))
    if parsed is None:
        return await _decision_page(state, approver, found, status=400, values=values, errors=errors)
    keep_out, review_on = parsed
    try:
        await service.record_exemption(approver, found, review_on if keep_out else None, now)
    except service.StepRefusedError:
        return await _refused(state, approver, found, "exempt", "The request changed meanwhile: try again")
    return _back(request_id)


ROUTES = [
    my_requests,
    new_request_page,
    new_request,
    my_request,
    send,
    cancel,
    open_record,
    decisions,
    decision_page,
    decide,
    revoke,
    exemption,
]
