"""The search page: ``GET /search`` shows the form; ``POST /search`` runs it. With htmx the
answer is a fragment: the results alone, or the whole search area when the form shows errors;
without JavaScript, the whole page.

Form fields: ``signpost_id``; or ``family_name``, ``dob-day``, ``dob-month``, ``dob-year`` and
at least one of ``given_name``, ``postcode``, ``gender``. Terms travel only in the POST body.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.api.on_behalf import Person, acting_for
from app.api.web import actor as acting_actor
from app.identity.service import Role
from app.identity.sessions import signed_in_with_role
from app.records.codes import GENDER_LABELS
from app.search import service
from app.search.quotas import Quota, QuotaExceededError

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
SEARCHERS = {"roles": (Role.practitioner, Role.la_admin)}


def _page(
    request: Request[Any, Any, Any],
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    found: service.Found | None = None,
    quota_refused: int | None = None,
    on_behalf: Person | None = None,
) -> Template:
    """The whole page without htmx. With htmx: just the results when the form aimed its answer
    at them and has no errors to show; else the whole search area, retargeted to replace it."""
    htmx = request.htmx if isinstance(request, HTMXRequest) else None
    if htmx and htmx.target == "results" and not errors:
        name = "search/_results.html"
    elif htmx:
        name = "search/_area.html"
    else:
        name = "search/index.html"
    response = Template(
        name,
        status_code=status,
        context={
            "values": values or {},
            "errors": errors or {},
            "found": found,
            "gender_labels": GENDER_LABELS,
            "max_results": service.MAX_RESULTS,
            "quota_refused": quota_refused,
            "on_behalf": on_behalf,
        },
    )
    response.headers["Vary"] = "HX-Request, HX-Target"  # the page and the fragments differ
    if htmx and name == "search/_area.html":
        response.headers["HX-Retarget"] = "#search-area"
        response.headers["HX-Reswap"] = "outerHTML"
    if quota_refused:
        response.headers["Retry-After"] = str(quota_refused)
    return response


@get("/search", guards=[signed_in_with_role], opt=SEARCHERS)
async def search_page(request: Request[Any, Any, Any], state: State) -> Template:
    return _page(request, on_behalf=await acting_for(state.keyring, request.scope.get("auth")))


@post("/search", guards=[signed_in_with_role], opt=SEARCHERS)
async def search(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    now = state.clock()
    actor, person = await acting_actor(request, state)
    criteria, errors, values = service.criteria_from_form(data, now.date())
    if criteria is None:
        return _page(request, status=400, values=values, errors=errors, on_behalf=person)
    quota = Quota("search", state.settings.searches_per_hour, hourly=True)
    try:
        found = await service.search(state.keyring, criteria, actor, now, quota)
    except QuotaExceededError as exc:
        return _page(request, status=429, values=values, quota_refused=exc.retry_after, on_behalf=person)
    return _page(request, values=values, found=found, on_behalf=person)


ROUTES = [search_page, search]
