"""The case-management API, ``/api/v1/``: search, open a record with a reason, record and end
the practitioner's own involvement. Nothing lists, pages through or exports records.

Every operation needs ``Authorization: Bearer <client secret>`` and ``Signpost-On-Behalf-Of:
<practitioner's Signpost user ID>`` (checked by :func:`api_caller` before anything else), and
runs the web service's own rules, quotas and audit: the audit rows name the practitioner as the
actor and the client as a subject (``api_client:ID``). Errors are problem details
(app/api/problems.py). The OpenAPI document is served at ``/api/v1/openapi.json`` and committed
as docs/openapi.json.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from litestar import Request, Router, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.params import HeaderParameter, JSONBody, Parameter

from app.api import clients
from app.api.problems import FieldError, ProblemError, responses
from app.api.schemas import (
    AddressOut,
    CarerOut,
    ContactOut,
    EducationOut,
    InvolvementRequest,
    InvolvementResponse,
    RecordResponse,
    SearchRequest,
    SearchResponse,
    SearchResult,
    ServiceOut,
    TeamOut,
    ViewRequest,
)
from app.audit import service as audit
from app.involvement import service as involvement
from app.records import access
from app.records.schemas import Address
from app.records.service import RecordNotFoundError
from app.records.tables import Involvement
from app.search import service as search_service
from app.search.quotas import Quota, QuotaExceededError
from app.web.errors import MAX_ROW_ID

ON_BEHALF_HEADER = "Signpost-On-Behalf-Of"
_USER_ID = re.compile(r"^[0-9]{1,19}$")

OnBehalfOf = Annotated[
    str,
    HeaderParameter(
        name=ON_BEHALF_HEADER,
        description="The Signpost user ID of the practitioner this call acts for: one of the "
        "client's organisation, active, signed in with their security key within 12 hours.",
        pattern=_USER_ID.pattern,
    ),
]


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    scheme, _, secret = connection.headers.get("authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


async def api_caller(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of every operation: the client's secret (401), then the practitioner named
    (400 if missing or not an ID, 403 if the client may not act for them; refusals audited)."""
    state = connection.app.state
    client = await clients.authenticate(_bearer(connection))
    if client is None:
        raise ProblemError(401, headers={"WWW-Authenticate": 'Bearer realm="signpost"'})
    raw = connection.headers.get(ON_BEHALF_HEADER)
    if raw is None or not _USER_ID.match(raw) or not 0 < int(raw) <= MAX_ROW_ID:
        raise ProblemError(
            400,
            "on_behalf_of_missing" if raw is None else "invalid_request",
            errors=[
                FieldError(ON_BEHALF_HEADER, "Give the Signpost user ID of the practitioner you act for")
            ],
        )
    now = state.clock()
    try:
        caller = await clients.caller(state.keyring, client, int(raw), now)
    except clients.CallerRefusedError as exc:
        await audit.record(
            "api.refused",
            audit.anonymous(client.local_authority_id),
            at=now,
            subjects=[f"api_client:{client.id}", f"practitioner:{int(raw)}"],
            outcome="refused",
            detail={"why": exc.code},
        )
        detail = (
            "The practitioner must sign in to Signpost with their security key, then try again"
            if exc.code == "key_sign_in_required"
            else "This client may not act for that practitioner"
        )
        raise ProblemError(403, exc.code, detail) from None
    connection.scope["api_caller"] = caller  # type: ignore[typeddict-unknown-key]


def _caller(request: Request[Any, Any, Any]) -> clients.Caller:
    caller: clients.Caller = request.scope["api_caller"]  # type: ignore[typeddict-item]
    return caller


def _rule_errors(errors: Mapping[str, str], fields: Mapping[str, str]) -> ProblemError:
    """The web form's errors (keyed by form field) as a 422 naming the API's fields."""
    return ProblemError(
        422,
        "validation_failed",
        errors=[FieldError(fields.get(key, key), message) for key, message in errors.items()],
    )


def _date_fields(prefix: str, value: date | None) -> dict[str, str]:
    if value is None:
        return {}
    return {
        f"{prefix}-day": str(value.day),
        f"{prefix}-month": str(value.month),
        f"{prefix}-year": str(value.year),
    }


def _too_many(exc: QuotaExceededError) -> ProblemError:
    return ProblemError(
        429,
        f"{exc.quota.kind}_quota_used",
        "Wait until Retry-After has passed, or contact the local Signpost team",
        headers={"Retry-After": str(exc.retry_after)},
    )


def _quotas(state: State, caller: clients.Caller, kind: str) -> tuple[Quota, Quota]:
    """The named practitioner's own quota (shared with the web service) and the client's."""
    settings = state.settings
    owner = f"client{caller.client.id}"
    if kind == "search":
        return (
            Quota("search", settings.searches_per_hour, hourly=True),
            Quota("api_search", settings.api_searches_per_hour, hourly=True, owner=owner),
        )
    return (
        Quota("view", settings.views_per_day, hourly=False),
        Quota("api_view", settings.api_views_per_day, hourly=False, owner=owner),
    )


@post(
    "/search",
    status_code=200,
    responses=responses(400, 401, 403, 422, 429),
    summary="Search for a child",
    operation_id="search",
)
async def api_search(
    request: Request[Any, Any, Any], state: State, data: JSONBody[SearchRequest], on_behalf_of: OnBehalfOf
) -> SearchResponse:
    """At most 10 records, each with name, date of birth, gender and town (none if shielded);
    over 10 matches gives ``too_many`` and none. Every record returned is audited."""
    caller = _caller(request)
    now = state.clock()
    form = {
        "signpost_id": data.signpost_id or "",
        "family_name": data.family_name or "",
        "given_name": data.given_name or "",
        "postcode": data.postcode or "",
        "gender": data.gender.value if data.gender else "",
        **_date_fields("dob", data.date_of_birth),
    }
    criteria, errors, _ = search_service.criteria_from_form(form, now.date())
    if criteria is None:
        raise _rule_errors(errors, {"dob-day": "date_of_birth"})
    try:
        found = await search_service.search(
            state.keyring, criteria, caller.actor, now, _quotas(state, caller, "search")
        )
    except QuotaExceededError as exc:
        raise _too_many(exc) from None
    return SearchResponse(
        outcome=found.outcome,
        results=[
            SearchResult(
                record_id=r.child_id,
                signpost_id=r.signpost_id,
                given_name=r.given_name,
                family_name=r.family_name,
                date_of_birth=r.date_of_birth,
                gender=r.gender,
                town=None if r.shielded else r.town,
                shielded=r.shielded,
            )
            for r in found.results
        ],
    )


def _address(address: Address | None) -> AddressOut | None:
    if address is None:
        return None
    return AddressOut(lines=list(address.lines), town=address.town, postcode=address.postcode)


def _record(view: access.RecordView) -> RecordResponse:
    services = [
        ServiceOut(hidden=True)
        if s.hidden
        else ServiceOut(
            hidden=False,
            involvement_id=s.involvement_id,
            service_name=s.service_name,
            service_type=s.service_type,
            practitioner_name=s.practitioner_name,
            role=s.role,
            telephone=s.telephone,
            email=s.email,
            start_date=s.start_date,
            lead_professional=s.lead_professional,
            assessment_undertaken=s.assessment_undertaken,
            recorded_by_you=s.mine,
        )
        for s in view.services
    ]
    return RecordResponse(
        record_id=view.child_id,
        signpost_id=view.signpost_id,
        given_name=view.given_name,
        family_name=view.family_name,
        date_of_birth=view.date_of_birth,
        gender=view.gender,
        restricted=view.restricted,
        local_signpost_team=TeamOut(view.team_name, view.team_telephone, view.team_email),
        kept_past_18_until=view.kept_until,
        address=_address(view.address),
        carers=[CarerOut(c.name, c.relationship, c.telephone, _address(c.address)) for c in view.carers],
        education_setting=EducationOut(*view.education) if view.education else None,
        gp_practice=ContactOut(*view.gp) if view.gp else None,
        services=services,
    )


async def _openable(caller: clients.Caller, state: State, record_id: int) -> int:
    """The record's authority, if the practitioner may open it (a search showed it to them in
    the last day, or they are involved); else 404, as for a record that does not exist."""
    authority = await access.authority_of(record_id)
    if authority is None or not await access.may_open(caller.practitioner.id, record_id, state.clock()):
        raise ProblemError(404)
    return authority


RecordId = Annotated[int, Parameter(description="A ``record_id`` from a search", gt=0)]


@post(
    "/records/{record_id:int}/views",
    status_code=200,
    responses=responses(400, 401, 403, 404, 429),
    summary="Open a record, with a reason",
    operation_id="openRecord",
)
async def api_open_record(
    request: Request[Any, Any, Any],
    state: State,
    record_id: RecordId,
    data: JSONBody[ViewRequest],
    on_behalf_of: OnBehalfOf,
) -> RecordResponse:
    """The contact view, audited with the reason. A shielded record gives only its
    identifiers and the local Signpost team (``restricted``), whoever calls (the team's full view
    and break-glass are web-only); a sensitive service someone else recorded is ``hidden``."""
    caller = _caller(request)
    await _openable(caller, state, record_id)
    try:
        view = await access.open_record(
            state.keyring,
            record_id,
            caller.actor,
            data.reason,
            state.clock(),
            _quotas(state, caller, "view"),
            team_view=False,  # the team's full view of shielded records stays on the web
        )
    except RecordNotFoundError:
        raise ProblemError(404) from None
    except QuotaExceededError as exc:
        raise _too_many(exc) from None
    return _record(view)


@post(
    "/records/{record_id:int}/involvements",
    status_code=201,
    responses=responses(400, 401, 403, 404, 422),
    summary="Record your involvement with a child",
    operation_id="recordInvolvement",
)
async def api_add_involvement(
    request: Request[Any, Any, Any],
    state: State,
    record_id: RecordId,
    data: JSONBody[InvolvementRequest],
    on_behalf_of: OnBehalfOf,
) -> InvolvementResponse:
    """Everyone else involved is told in Signpost."""
    caller = _caller(request)
    authority = await _openable(caller, state, record_id)
    now = state.clock()
    form = {
        "service_name": data.service_name,
        "service_type": data.service_type.value,
        "role": data.role,
        "telephone": data.telephone,
        "email": data.email,
        "consent_basis": data.consent_basis.value if data.consent_basis else "",
        "lead_professional": "yes" if data.lead_professional else "",
        "assessment_undertaken": "yes" if data.assessment_undertaken else "",
        **_date_fields("start", data.start_date),
    }
    details, errors, _ = involvement.details_from_form(form, caller.practitioner.name, now.date())
    if details is None:
        raise _rule_errors(errors, {"start-day": "start_date"})
    involvement_id = await involvement.add(state.keyring, record_id, authority, details, caller.actor, now)
    return InvolvementResponse(involvement_id=involvement_id, record_id=record_id, end_date=None)


@post(
    "/records/{record_id:int}/involvements/{involvement_id:int}/end",
    status_code=200,
    responses=responses(400, 401, 403, 404, 409),
    summary="End your involvement",
    operation_id="endInvolvement",
)
async def api_end_involvement(
    request: Request[Any, Any, Any],
    state: State,
    record_id: RecordId,
    involvement_id: Annotated[int, Parameter(description="An involvement you recorded", gt=0)],
    on_behalf_of: OnBehalfOf,
) -> InvolvementResponse:
    """Only an involvement this practitioner recorded; one already ended answers 409 (even
    once ending it has closed the practitioner's access to the record)."""
    caller = _caller(request)
    ended = (
        await Involvement.exists()
        .where(
            (Involvement.id == involvement_id)
            & (Involvement.child == record_id)
            & (Involvement.recorded_by == caller.practitioner.id)
            & Involvement.end_date.is_not_null()
        )
        .run()
    )
    if ended:
        raise ProblemError(409, "already_ended", "This involvement has already ended")
    authority = await _openable(caller, state, record_id)
    now = state.clock()
    if await involvement.end(record_id, authority, involvement_id, caller.actor, now.date(), now):
        return InvolvementResponse(involvement_id=involvement_id, record_id=record_id, end_date=now.date())
    raise ProblemError(404)


API_ROUTER = Router(
    path="/api/v1",
    route_handlers=[api_search, api_open_record, api_add_involvement, api_end_involvement],
    guards=[api_caller],
    include_in_schema=True,
    security=[{"bearer": []}],
    tags=["case-management"],
    opt={"exclude_from_csrf": True},  # no cookie authorises a call; the bearer secret does
)

OPENAPI_CONFIG = OpenAPIConfig(
    title="Signpost case-management API",
    version="1.0.0",
    description="Find a child, see who else is working with them and how to reach them, and "
    "record your own involvement, from a case-management system. See docs/api.md.",
    # Served at /api/v1/openapi.json only (the plugin's catch-all of 404 pages sits under it,
    # not over the operations).
    path="/api/v1/openapi.json",
    render_plugins=[JsonRenderPlugin(path="/")],
    components=Components(
        security_schemes={
            "bearer": SecurityScheme(
                type="http",
                scheme="bearer",
                description="The client secret the local Signpost team issued (spk_...).",
            )
        }
    ),
    tags=[Tag(name="case-management", description="The operations a case-management system may call")],
    use_handler_docstrings=True,
    create_examples=False,
)
