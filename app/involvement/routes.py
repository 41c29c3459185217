"""Recording involvement: ``GET``/``POST /records/{id}/involvement`` (the form is described in
app/involvement/service.py), ``POST /records/{id}/involvement/{involvement_id}/end``, and
``POST /notifications/{id}/read``. Only a record the practitioner may open (app/records/access.py)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from app.audit.service import Actor
from app.identity.service import PractitionerView, Role
from app.identity.sessions import signed_in_with_role
from app.involvement import service
from app.records import access
from app.records.codes import SENSITIVE_SERVICES, SERVICE_TYPE_LABELS, ConsentBasis

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
INVOLVED = {"roles": (Role.practitioner, Role.la_admin)}
CONSENT_LABELS = {
    ConsentBasis.child_consent: "The child consents",
    ConsentBasis.parent_consent: "A parent or carer consents",
    ConsentBasis.significant_harm: "Without consent: the child is at risk of significant harm",
}


async def _child(
    request: Request[Any, Any, Any], state: State, child_id: int
) -> tuple[PractitionerView, int]:
    user: PractitionerView = request.scope["user"]
    authority = await access.authority_of(child_id)
    if authority is None or not await access.may_open(user.id, child_id, state.clock()):
        raise NotFoundException()
    return user, authority


def _form(child_id: int, values: dict[str, Any], errors: dict[str, str] | None = None) -> Template:
    return Template(
        "involvement/add.html",
        status_code=400 if errors else 200,
        context={
            "child_id": child_id,
            "values": values,
            "errors": errors or {},
            "service_types": SERVICE_TYPE_LABELS,
            "sensitive": {t.value for t in SENSITIVE_SERVICES},
            "consent_labels": CONSENT_LABELS,
        },
    )


@get("/records/{child_id:int}/involvement", guards=[signed_in_with_role], opt=INVOLVED)
async def involvement_form(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int]
) -> Template:
    user, _ = await _child(request, state, child_id)
    return _form(child_id, {"email": user.email})


@post("/records/{child_id:int}/involvement", guards=[signed_in_with_role], opt=INVOLVED)
async def add_involvement(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int], data: FormData
) -> Template:
    user, authority = await _child(request, state, child_id)
    now = state.clock()
    details, errors, values = service.details_from_form(data, user.name, now.date())
    if details is None:
        return _form(child_id, values, errors)
    await service.add(state.keyring, child_id, authority, details, Actor.of(user), now)
    return Template("involvement/done.html", context={"child_id": child_id, "ended": False})


@post(
    "/records/{child_id:int}/involvement/{involvement_id:int}/end",
    guards=[signed_in_with_role],
    opt=INVOLVED,
)
async def end_involvement(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int], involvement_id: FromPath[int]
) -> Template:
    user, authority = await _child(request, state, child_id)
    now = state.clock()
    if not await service.end(child_id, authority, involvement_id, Actor.of(user), now.date(), now):
        raise NotFoundException()
    return Template("involvement/done.html", context={"child_id": child_id, "ended": True})


@post("/notifications/{notice_id:int}/read", guards=[signed_in_with_role], opt=INVOLVED)
async def read_notice(request: Request[Any, Any, Any], state: State, notice_id: FromPath[int]) -> Redirect:
    user: PractitionerView = request.scope["user"]
    if not await service.mark_read(user.id, notice_id, state.clock()):
        raise NotFoundException()
    return Redirect("/home", status_code=303)


ROUTES = [involvement_form, add_involvement, end_involvement, read_notice]
