"""The local Signpost team's pages for API clients: ``GET /admin/api-clients`` lists them with
the form to register one (``name``, ``organisation``); ``POST /admin/api-clients`` registers it,
``POST /admin/api-clients/{id}/rotate`` gives it a new secret and ``POST
/admin/api-clients/{id}/revoke`` ends it. Each change needs a key touch; a secret is shown once."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from app.api import clients
from app.audit.service import Actor
from app.identity.service import PractitionerView, Role, organisations_of_authority
from app.identity.sessions import signed_in_with_role
from app.records.validation import is_org_text

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
ADMIN = {"roles": (Role.la_admin,)}
ADMIN_ACTION = {**ADMIN, "step_up": True, "step_up_return": "/admin/api-clients"}


async def _list_page(
    admin: PractitionerView, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Template:
    return Template(
        "admin/api_clients.html",
        status_code=400 if errors else 200,
        context={
            "clients": await clients.clients_of_authority(admin.local_authority_id),
            "organisations": await organisations_of_authority(admin.local_authority_id),
            "values": values or {},
            "errors": errors or {},
        },
    )


def _secret_page(name: str, secret: str, rotated: bool) -> Template:
    return Template("admin/api_secret.html", context={"name": name, "secret": secret, "rotated": rotated})


@get("/admin/api-clients", guards=[signed_in_with_role], opt=ADMIN)
async def api_clients_page(request: Request[Any, Any, Any]) -> Template:
    return await _list_page(request.scope["user"])


@post("/admin/api-clients", guards=[signed_in_with_role], opt=ADMIN_ACTION, status_code=200)
async def register_client(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    admin: PractitionerView = request.scope["user"]
    values = {name: data.get(name, "").strip()[:255] for name in ("name", "organisation")}
    errors: dict[str, str] = {}
    if not values["name"] or len(values["name"]) > clients.NAME_LIMIT or not is_org_text(values["name"]):
        errors["name"] = "Enter the system's name using letters and numbers, like Northbrook school MIS"
    organisations = {
        str(o["id"]): str(o["name"]) for o in await organisations_of_authority(admin.local_authority_id)
    }
    if values["organisation"] not in organisations:
        errors["organisation"] = "Select the organisation that runs the system"
    if errors:
        return await _list_page(admin, values, errors)
    _, secret = await clients.register(
        values["name"], int(values["organisation"]), admin.local_authority_id, Actor.of(admin), state.clock()
    )
    return _secret_page(values["name"], secret, rotated=False)


async def _client(admin: PractitionerView, client_id: int) -> clients.ClientView:
    for client in await clients.clients_of_authority(admin.local_authority_id):
        if client.id == client_id and client.revoked_at is None:
            return client
    raise NotFoundException()


@post(
    "/admin/api-clients/{client_id:int}/rotate",
    guards=[signed_in_with_role],
    opt=ADMIN_ACTION,
    status_code=200,
)
async def rotate_client(request: Request[Any, Any, Any], state: State, client_id: FromPath[int]) -> Template:
    admin: PractitionerView = request.scope["user"]
    client = await _client(admin, client_id)
    try:
        secret = await clients.rotate(client_id, admin.local_authority_id, Actor.of(admin), state.clock())
    except clients.ClientNotFoundError:
        raise NotFoundException() from None  # revoked a moment ago
    return _secret_page(client.name, secret, rotated=True)


@post("/admin/api-clients/{client_id:int}/revoke", guards=[signed_in_with_role], opt=ADMIN_ACTION)
async def revoke_client(request: Request[Any, Any, Any], state: State, client_id: FromPath[int]) -> Redirect:
    admin: PractitionerView = request.scope["user"]
    await _client(admin, client_id)
    try:
        await clients.revoke(client_id, admin.local_authority_id, Actor.of(admin), state.clock())
    except clients.ClientNotFoundError:
        raise NotFoundException() from None
    return Redirect("/admin/api-clients", status_code=303)


ROUTES = [api_clients_page, register_client, rotate_client, revoke_client]
