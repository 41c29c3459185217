"""The citizen's pages, with no account: asking (``/subject-access``), reading the answer
(``/subject-access/response``), and the public figures (``/transparency``: subject access, and
police disclosure by month and authority).

Asking says the same thing whether or not Signpost holds a record about the child: it stores the
request without looking. Both forms are limited per client (a keyed hash of the network address,
counted in the database): ``SIGNPOST_SUBJECT_ACCESS_REQUESTS_PER_HOUR`` and
``SIGNPOST_SUBJECT_ACCESS_TRIES_PER_HOUR``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from app.disclosure import service as disclosure
from app.records.codes import GENDER_LABELS, RELATIONSHIP_LABELS, SERVICE_TYPE_LABELS
from app.subject_access import pack, service
from app.subject_access.codes import REQUESTER_LABELS, RequesterKind
from app.subject_access.deadlines import uk_date
from app.subject_access.forms import ask_from_form, response_from_form

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _client(request: Request[Any, Any, Any], state: State) -> str:
    return service.client_key(state.keyring, request.client.host if request.client else "unknown")


def too_many_tries(state: State, what: str) -> Template:
    """The 429 page of a per-client limit on a citizen's page (subject access, and consent)."""
    response = Template(
        "errors/error.html",
        status_code=429,
        context={
            "status_code": 429,
            "title": "Too many tries",
            "message": f"You have {what} too many times in the last hour. Try again in an hour.",
        },
    )
    response.headers["Retry-After"] = str(service.retry_after(state.clock()))
    return response


async def _ask_page(
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    authorities: list[dict[str, Any]] | None = None,
) -> Template:
    return Template(
        "subject_access/ask.html",
        status_code=status,
        context={
            "authorities": authorities if authorities is not None else await service.authorities(),
            "requesters": REQUESTER_LABELS,
            "values": values or {},
            "errors": errors or {},
        },
    )


@get("/subject-access")
async def ask_page() -> Template:
    return await _ask_page()


@post("/subject-access")
async def ask(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    now = state.clock()
    authorities = await service.authorities()
    asked, errors, values = ask_from_form(data, {a["id"] for a in authorities}, uk_date(now))
    if asked is None:
        return await _ask_page(status=400, values=values, errors=errors, authorities=authorities)
    limit = state.settings.subject_access_requests_per_hour
    if not await service.use_client_allowance(_client(request, state), "ask", limit, now):
        return too_many_tries(state, "asked")
    receipt = await service.submit(state.keyring, asked, now)
    return Template(
        "subject_access/asked.html",
        context={"receipt": receipt, "reference": service.format_reference(receipt.reference)},
    )


def _response_page(
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    refused: service.PackRefusedError | None = None,
) -> Template:
    return Template(
        "subject_access/response.html",
        status_code=status,
        context={"values": values or {}, "errors": errors or {}, "refused": refused},
    )


@get("/subject-access/response", sync_to_thread=False)
def response_page() -> Template:
    return _response_page()


@post("/subject-access/response")
async def open_response(
    request: Request[Any, Any, Any], state: State, data: FormData
) -> Template | Response[bytes]:
    now = state.clock()
    today = uk_date(now)
    given, errors, values = response_from_form(data, today)
    if given is None:
        return _response_page(status=400, values=values, errors=errors)
    limit = state.settings.subject_access_tries_per_hour
    if not await service.use_client_allowance(_client(request, state), "open", limit, now):
        return too_many_tries(state, "tried to open a response")
    reference, code, born = given
    try:
        opened = await service.open_pack(state.keyring, reference, code, born, now)
    except service.PackRefusedError as refused:
        message = "The reference, access code or date of birth is not right. Check your letter and try again."
        return _response_page(
            status=400,
            values=values,
            errors={} if refused.locked or refused.expired else {"reference": message},
            refused=refused,
        )
    built = await pack.build(state.keyring, opened, today)
    if data.get("format") == "json":
        name = f"signpost-subject-access-{built.reference}.json"
        return Response(
            msgspec.json.encode(pack.document(built)),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Template(
        "subject_access/pack.html",
        context={
            "pack": built,
            "reference": service.format_reference(built.reference),
            "requester": REQUESTER_LABELS[built.requester_kind],
            "parent": built.requester_kind == RequesterKind.parent_carer,
            "form": {"reference": reference, "code": code, "born": born},
            "purposes": pack.PURPOSES,
            "lawful_basis": pack.LAWFUL_BASIS,
            "categories": pack.CATEGORIES,
            "rights": pack.RIGHTS,
            "complaint": pack.COMPLAINT,
            "genders": GENDER_LABELS,
            "relationships": RELATIONSHIP_LABELS,
            "service_types": SERVICE_TYPE_LABELS,
        },
    )


@get("/transparency")
async def transparency(state: State) -> Template:
    today = uk_date(state.clock())
    return Template(
        "subject_access/transparency.html",
        context={
            "months": await service.figures(today),
            "disclosures": await disclosure.figures(today),
        },
    )


ROUTES = [ask_page, ask, response_page, open_response, transparency]
