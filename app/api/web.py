"""Access through another authorised user: a practitioner searches and opens records on behalf
of someone without Signpost access (a childminder, a voluntary-sector worker), after recording
that person's name, organisation, role and telephone.

``GET /on-behalf`` shows the form (or who they are acting for now); ``POST /on-behalf`` with
``name``, ``organisation``, ``role`` and ``telephone`` starts it for this session, and ``POST
/on-behalf/end`` stops it. Until then every search and record view in the session is audited
with ``on_behalf:ID`` beside the practitioner, and a subject-access answer shows it as made by
the practitioner for that named person. A new sign-in starts without it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from app.api.on_behalf import TABLE, Person, acting_for
from app.api.tables import OnBehalfOf
from app.audit import service as audit
from app.audit.service import Actor
from app.database import Tx
from app.identity.service import PractitionerView, Role
from app.identity.sessions import SessionState, signed_in_with_role
from app.identity.tables import ShieldOverride
from app.records.ids import row_ids
from app.records.validation import is_name, is_org_text, is_telephone

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
SEARCHERS = {"roles": (Role.practitioner, Role.la_admin)}
FIELDS = ("name", "organisation", "role", "telephone")


async def actor(request: Request[Any, Any, Any], state: State) -> tuple[Actor, Person | None]:
    """The signed-in practitioner as the audit names them, with the person they act for."""
    user: PractitionerView = request.scope["user"]
    person = await acting_for(state.keyring, request.scope.get("auth"))
    return Actor.of(user, via=(person.subject,) if person else ()), person


def _problems(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values["name"] or len(values["name"]) > 120 or not is_name(values["name"]):
        errors["name"] = "Enter the person's full name using letters, spaces, hyphens and apostrophes"
    if (
        not values["organisation"]
        or len(values["organisation"]) > 120
        or not is_org_text(values["organisation"])
    ):
        errors["organisation"] = "Enter the person's organisation using letters and numbers"
    if not values["role"] or len(values["role"]) > 60 or not is_org_text(values["role"]):
        errors["role"] = "Enter the person's role, for example Childminder"
    if not is_telephone(values["telephone"]):
        errors["telephone"] = "Enter a telephone number, like 01632 960 001"
    return errors


def _page(
    person: Person | None, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Template:
    return Template(
        "search/on_behalf.html",
        status_code=400 if errors else 200,
        context={"person": person, "values": values or {}, "errors": errors or {}},
    )


async def _end(tx: Tx, user: PractitionerView, session: SessionState, now: datetime) -> None:
    """End whatever the session acts on behalf of (audited), and drop any break-glass override
    the session made: an override given for one purpose does not carry over to another person's."""
    ended = await tx.run(
        OnBehalfOf.update({OnBehalfOf.ended_at: now})
        .where((OnBehalfOf.session_id == session.id) & OnBehalfOf.ended_at.is_null())
        .returning(OnBehalfOf.id)
    )
    await tx.run(ShieldOverride.delete().where(ShieldOverride.session == session.id))
    if ended:
        subjects = tuple(f"on_behalf:{r['id']}" for r in ended)
        await audit.append(tx, [audit.Entry("on_behalf.ended", Actor.of(user), now, subjects=subjects)])


@get("/on-behalf", guards=[signed_in_with_role], opt=SEARCHERS)
async def on_behalf_page(request: Request[Any, Any, Any], state: State) -> Template:
    return _page(await acting_for(state.keyring, request.scope.get("auth")))


@post("/on-behalf", guards=[signed_in_with_role], opt=SEARCHERS, status_code=303)
async def start_on_behalf(
    request: Request[Any, Any, Any], state: State, data: FormData
) -> Template | Redirect:
    user: PractitionerView = request.scope["user"]
    session: SessionState = request.scope["auth"]
    values = {name: data.get(name, "").strip()[:255] for name in FIELDS}
    errors = _problems(values)
    if errors:
        return _page(await acting_for(state.keyring, session), values, errors)
    now = state.clock()
    row_id = row_ids.next()
    version = state.keyring.active_version
    sealed = {
        name: state.keyring.encrypt(f"{TABLE}.{name}", row_id, values[name], version) for name in FIELDS
    }

    async def unit(tx: Tx) -> None:
        await _end(tx, user, session, now)
        await tx.run(
            OnBehalfOf.insert(
                OnBehalfOf(
                    id=row_id,
                    practitioner_id=user.id,
                    session_id=session.id,
                    key_version=version,
                    started_at=now,
                    **sealed,
                )
            )
        )
        await audit.append(
            tx, [audit.Entry("on_behalf.started", Actor.of(user), now, subjects=(f"on_behalf:{row_id}",))]
        )

    await audit.write(unit)
    return Redirect("/search", status_code=303)


@post("/on-behalf/end", guards=[signed_in_with_role], opt=SEARCHERS, status_code=303)
async def end_on_behalf(request: Request[Any, Any, Any], state: State) -> Redirect:
    user: PractitionerView = request.scope["user"]
    session: SessionState = request.scope["auth"]
    now = state.clock()

    async def unit(tx: Tx) -> None:
        await _end(tx, user, session, now)

    await audit.write(unit)
    return Redirect("/search", status_code=303)


ROUTES = [on_behalf_page, start_on_behalf, end_on_behalf]
