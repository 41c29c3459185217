"""The privacy officer's subject access queue: ``/privacy/requests`` and one page per request.

Only requests made to the officer's own local authority exist for them (anything else answers
404). Each step is a form post that changes the request only from the state it expects, audits
itself, and returns to the request's page. Release and a new code need a security-key touch
within five minutes; the code is shown once, on a cover letter to print and post.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from app.audit import service as audit
from app.audit.service import Actor
from app.identity.service import PractitionerView, Role
from app.identity.sessions import signed_in_with_role
from app.records.codes import GENDER_LABELS
from app.records.ids import format_signpost_id, parse_signpost_id
from app.records.service import RecordNotFoundError, load_child
from app.records.tables import Child, LocalAuthority
from app.subject_access import pack, service
from app.subject_access.codes import (
    EXEMPTION_LABELS,
    EXTENSION_LABELS,
    IDENTITY_LABELS,
    REQUESTER_LABELS,
    STATUS_LABELS,
    Exemption,
    ExtensionReason,
    IdentityMethod,
    Status,
)
from app.subject_access.deadlines import MAX_EXTENSION_MONTHS, add_months, uk_date
from app.subject_access.service import RequestView, StepRefusedError
from app.web.forms import date_from_fields

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
PRIVACY = {"roles": (Role.privacy_officer,)}
#: Release and reissue hand out a code that opens a child's data: a fresh key touch first.
KEY_TOUCH = {
    "roles": (Role.privacy_officer,),
    "step_up": True,
    "step_up_return": "/privacy/requests/{request_id}",
}
CHANGED = "The request changed while you were looking at it, or this step does not apply to it now."


def _officer(request: Request[Any, Any, Any]) -> PractitionerView:
    user: PractitionerView = request.scope["user"]
    return user


@get("/privacy/requests", guards=[signed_in_with_role], opt=PRIVACY)
async def request_queue(request: Request[Any, Any, Any], state: State) -> Template:
    officer = _officer(request)
    now = state.clock()
    waiting, answered = await service.queue(officer.local_authority_id, uk_date(now))
    await audit.record(
        "sar.queue_viewed", Actor.of(officer), at=now, result_count=len(waiting) + len(answered)
    )
    return Template(
        "privacy/requests.html",
        context={
            "waiting": waiting,
            "answered": answered,
            "statuses": STATUS_LABELS,
            "requesters": REQUESTER_LABELS,
            "overdue": sum(1 for r in waiting if r.overdue),
            "due_soon": sum(1 for r in waiting if r.due_soon),
        },
    )


async def _load(request: Request[Any, Any, Any], state: State, request_id: int) -> tuple[Actor, RequestView]:
    officer = _officer(request)
    found = await service.load(state.keyring, request_id, officer.local_authority_id)
    if found is None:
        raise NotFoundException()
    return Actor.of(officer), found


async def _request_page(
    state: State,
    actor: Actor,
    found: RequestView,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Template:
    now = state.clock()
    today = uk_date(now)
    matched = None
    if found.child_id is not None:
        try:
            matched = await load_child(state.keyring, found.child_id)
        except RecordNotFoundError:
            matched = None
    candidates = await service.candidates(state.keyring, found) if found.is_open and matched is None else []
    await service.record_viewed(actor, found, [c.id for c in candidates], now)
    born = matched.details.date_of_birth if matched else None
    return Template(
        "privacy/request.html",
        status_code=status,
        context={
            "req": found,
            "today": today,
            "matched": matched,
            "matched_id": format_signpost_id(matched.signpost_id) if matched else "",
            "matched_age": service.age_on(born, today) if born else None,
            "candidates": [(c, format_signpost_id(c.signpost_id)) for c in candidates],
            "lines": await pack.officer_lines(matched.id, today, state.keyring) if matched else [],
            "needs_competence": service.needs_competence(found, born, today),
            "blockers": service.release_blockers(found, born, today),
            "may_refuse": found.status == Status.received
            and found.child_competent is True
            and found.child_agrees is False,
            "statuses": STATUS_LABELS,
            "requesters": REQUESTER_LABELS,
            "identity_methods": IDENTITY_LABELS,
            "extension_reasons": EXTENSION_LABELS,
            "exemptions": EXEMPTION_LABELS,
            "max_extension": MAX_EXTENSION_MONTHS,
            "answered_on": uk_date(found.answered_at) if found.answered_at else None,
            "code_expires_on": uk_date(found.code_expires_at) if found.code_expires_at else None,
            "review_example": add_months(today, 12),
            "genders": GENDER_LABELS,
            "errors": errors or {},
            "values": values or {},
        },
    )


@get("/privacy/requests/{request_id:int}", guards=[signed_in_with_role], opt=PRIVACY)
async def request_page(request: Request[Any, Any, Any], state: State, request_id: FromPath[int]) -> Template:
    actor, found = await _load(request, state, request_id)
    return await _request_page(state, actor, found)


def _back(found: RequestView) -> Redirect:
    return Redirect(f"/privacy/requests/{found.id}", status_code=303)


async def _refused(state: State, actor: Actor, found: RequestView, field: str, message: str) -> Template:
    status = 409 if message == CHANGED else 400
    return await _request_page(state, actor, found, status=status, errors={field: message})


def _date(data: dict[str, str], name: str, label: str, today: date) -> tuple[date | None, str | None]:
    value, error, _ = date_from_fields(data, name, label)
    if error:
        return None, error
    if value is None:
        return None, f"Enter the {label.lower()}"
    return value, None


@post("/privacy/requests/{request_id:int}/match", guards=[signed_in_with_role], opt=PRIVACY)
async def match(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    choice = data.get("child", "")
    typed = data.get("signpost_id", "").strip()[:40]
    if typed:  # a record the requester's details did not find
        signpost_id = parse_signpost_id(typed)
        rows = (
            await Child.select(Child.id)
            .where((Child.signpost_id == signpost_id) & (Child.local_authority == found.authority_id))
            .run()
            if signpost_id
            else []
        )
        if not rows:
            return await _refused(
                state, actor, found, "signpost_id", "Enter the Signpost ID of a child in your local authority"
            )
        child_id: int | None = rows[0]["id"]
    elif choice == "none":
        child_id = None
    else:
        allowed = {str(c.id): c.id for c in await service.candidates(state.keyring, found)}
        if choice not in allowed:
            return await _refused(
                state, actor, found, "child", "Select the matching record, or that none matches"
            )
        child_id = allowed[choice]
    try:
        await service.match(actor, found, child_id, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "child", CHANGED)
    return _back(found)


@post("/privacy/requests/{request_id:int}/identity", guards=[signed_in_with_role], opt=PRIVACY)
async def identity(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    today = uk_date(state.clock())
    try:
        method = IdentityMethod(data.get("method", ""))
    except ValueError:
        return await _refused(
            state, actor, found, "method", "Select how you checked the requester's identity"
        )
    checked_on, error = _date(data, "checked", "Date of the check", today)
    if checked_on is None or error:
        return await _refused(state, actor, found, "checked-day", error or "Enter the date of the check")
    if checked_on > today or checked_on < found.received_on:
        return await _refused(
            state, actor, found, "checked-day", "The date of the check must be between the request and today"
        )
    try:
        await service.record_identity(actor, found, method, checked_on, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "method", CHANGED)
    return _back(found)


@post("/privacy/requests/{request_id:int}/competence", guards=[signed_in_with_role], opt=PRIVACY)
async def competence(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    born = await service.child_born(found.child_id, state.keyring)
    if not service.needs_competence(found, born, uk_date(state.clock())):
        return await _refused(
            state,
            actor,
            found,
            "accesses",
            "Only a parent's request about a child of 12 or over needs the child's view",
        )
    answers = {"yes": True, "no": False}
    competent = answers.get(data.get("competent", ""))
    if competent is None:
        return await _refused(
            state, actor, found, "competent", "Select whether the child is competent to decide"
        )
    agrees = answers.get(data.get("agrees", ""))
    if competent and agrees is None:
        return await _refused(
            state,
            actor,
            found,
            "agrees",
            "Select whether the child agrees to their parent or carer receiving it",
        )
    try:
        await service.record_competence(actor, found, competent, agrees, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "competent", CHANGED)
    return _back(found)


@post("/privacy/requests/{request_id:int}/withhold", guards=[signed_in_with_role], opt=PRIVACY)
async def withhold(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    today = uk_date(state.clock())
    seq_text = data.get("seq", "")
    seq = int(seq_text) if seq_text.isascii() and seq_text.isdecimal() and len(seq_text) < 19 else 0
    if seq <= 0:
        return await _refused(state, actor, found, "seq", "Select the entry to withhold")
    try:
        exemption = Exemption(data.get("exemption", ""))
    except ValueError:
        return await _refused(
            state, actor, found, "exemption", "Select the exemption the entry is withheld under"
        )
    review_on, error = _date(data, "review", "Review date", today)
    if review_on is None or error:
        return await _refused(state, actor, found, "review-day", error or "Enter the review date")
    if review_on <= today:
        return await _refused(state, actor, found, "review-day", "The review date must be in the future")
    if review_on > add_months(today, 24):
        return await _refused(state, actor, found, "review-day", "Review the exemption within two years")
    try:
        await pack.withhold(actor, found, seq, exemption, review_on, state.clock())
    except pack.OwnEntryError:
        return await _refused(
            state,
            actor,
            found,
            "seq",
            "You cannot withhold an entry of your own access: ask another privacy officer",
        )
    except StepRefusedError:
        return await _refused(state, actor, found, "seq", "Select an entry from this child's list")
    return _back(found)


@post("/privacy/requests/{request_id:int}/lift", guards=[signed_in_with_role], opt=PRIVACY)
async def lift(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    text = data.get("withholding", "")
    withholding_id = int(text) if text.isascii() and text.isdecimal() and len(text) < 19 else 0
    try:
        await pack.lift(actor, found, withholding_id, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "accesses", CHANGED)
    return _back(found)


@post("/privacy/requests/{request_id:int}/extend", guards=[signed_in_with_role], opt=PRIVACY)
async def extend(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int], data: FormData
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    months_text = data.get("months", "")
    months = int(months_text) if months_text in ("1", "2") else 0
    if months <= found.extension_months:
        return await _refused(
            state,
            actor,
            found,
            "months",
            "Select an extension longer than the one already given, of at most two months",
        )
    try:
        reason = ExtensionReason(data.get("reason", ""))
    except ValueError:
        return await _refused(state, actor, found, "reason", "Select why the answer needs longer")
    if uk_date(state.clock()) > found.due_on:
        return await _refused(
            state, actor, found, "months", "The deadline has passed: extend only before it, and answer now"
        )
    try:
        await service.extend(actor, found, months, reason, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "months", CHANGED)
    return _back(found)


@post("/privacy/requests/{request_id:int}/pause", guards=[signed_in_with_role], opt=PRIVACY)
async def pause(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int]
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    try:
        await service.pause(actor, found, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "clock", CHANGED)
    return _back(found)


@post("/privacy/requests/{request_id:int}/resume", guards=[signed_in_with_role], opt=PRIVACY)
async def resume(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int]
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    try:
        await service.resume(actor, found, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "clock", CHANGED)
    return _back(found)


async def _letter(state: State, found: RequestView, code: str) -> Template:
    rows = await LocalAuthority.select().where(LocalAuthority.id == found.authority_id).run()
    return Template(
        "privacy/request_letter.html",
        context={
            "req": found,
            "code": code,
            "authority": rows[0],
            "origin": state.settings.origin,
            "expires_on": uk_date(state.clock() + service.CODE_LIFETIME),
        },
    )


@post("/privacy/requests/{request_id:int}/release", guards=[signed_in_with_role], opt=KEY_TOUCH)
async def release(request: Request[Any, Any, Any], state: State, request_id: FromPath[int]) -> Template:
    actor, found = await _load(request, state, request_id)
    today = uk_date(state.clock())
    born = await service.child_born(found.child_id, state.keyring)
    blockers = service.release_blockers(found, born, today)
    if blockers:
        return await _refused(state, actor, found, "release", blockers[0])
    try:
        code = await service.release(actor, found, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "release", CHANGED)
    return await _letter(state, found, code)


@post("/privacy/requests/{request_id:int}/reissue", guards=[signed_in_with_role], opt=KEY_TOUCH)
async def reissue(request: Request[Any, Any, Any], state: State, request_id: FromPath[int]) -> Template:
    actor, found = await _load(request, state, request_id)
    try:
        code = await service.release(actor, found, state.clock(), reissue=True)
    except StepRefusedError:
        return await _refused(state, actor, found, "release", CHANGED)
    return await _letter(state, found, code)


@post("/privacy/requests/{request_id:int}/refuse", guards=[signed_in_with_role], opt=PRIVACY)
async def refuse(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int]
) -> Template | Redirect:
    actor, found = await _load(request, state, request_id)
    try:
        await service.refuse(actor, found, state.clock())
    except StepRefusedError:
        return await _refused(state, actor, found, "release", CHANGED)
    return _back(found)


@get("/privacy/requests/{request_id:int}/extension-letter", guards=[signed_in_with_role], opt=PRIVACY)
async def extension_letter(
    request: Request[Any, Any, Any], state: State, request_id: FromPath[int]
) -> Template:
    actor, found = await _load(request, state, request_id)
    if not found.extension_months or found.extension_reason is None:
        raise NotFoundException()
    await service.record_viewed(actor, found, [], state.clock())
    rows = await LocalAuthority.select().where(LocalAuthority.id == found.authority_id).run()
    return Template(
        "privacy/extension_letter.html",
        context={
            "req": found,
            "authority": rows[0],
            "reason": EXTENSION_LABELS[found.extension_reason],
            "today": uk_date(state.clock()),
        },
    )


ROUTES = [
    request_queue,
    request_page,
    match,
    identity,
    competence,
    withhold,
    lift,
    extend,
    pause,
    resume,
    release,
    reissue,
    refuse,
    extension_letter,
]
