"""The young person's pages (no account), and the authority's invitation letters.

``/your-record``: the consent code from the letter and a date of birth open the young person's
record and the choice, "keep my record until ..." or "delete my record at 18", then a page that
repeats the choice before it counts. Keeping issues a consent receipt (a page, and a JSON
document from ``/your-record/receipt``) with a withdrawal code. ``/your-record/change``: the
withdrawal code and date of birth open the same three steps to withdraw or to choose an earlier
date. Each step carries the code and date of birth in the form and checks them again; each try
counts against ``SIGNPOST_CONSENT_TRIES_PER_HOUR`` for the client.

``/consent/letters`` (the authority's Signpost team): the invitation letters not yet sent, a
printable page of them, and marking them sent (which erases the code held for printing).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from app.consent import letters, receipt, service
from app.consent.codes import CodeKind
from app.consent.dates import uk_date
from app.consent.forms import CHANGE, DECIDE, Choice, Given, choice_from_form, code_from_form
from app.identity.service import PractitionerView, Role
from app.identity.sessions import signed_in_with_role
from app.records.codes import GENDER_LABELS, RELATIONSHIP_LABELS, SERVICE_TYPE_LABELS
from app.records.ids import parse_signpost_id
from app.records.service import RecordNotFoundError
from app.records.tables import LocalAuthority
from app.subject_access import service as sar_service
from app.subject_access.routes import too_many_tries

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

WHAT = {CodeKind.consent: "consent code", CodeKind.withdrawal: "withdrawal code"}
START = {CodeKind.consent: "consent/start.html", CodeKind.withdrawal: "consent/change_start.html"}
ALLOWED = {CodeKind.consent: DECIDE, CodeKind.withdrawal: CHANGE}
BASE = {CodeKind.consent: "/your-record", CodeKind.withdrawal: "/your-record/change"}


def _start_page(
    kind: CodeKind,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    refused: service.CodeRefusedError | None = None,
) -> Template:
    return Template(
        START[kind],
        status_code=status,
        context={"values": values or {}, "errors": errors or {}, "refused": refused},
    )


def _gone(kind: CodeKind) -> Template:
    """The code was right, but the record has just been deleted (a retention run)."""
    return _start_page(
        kind, status=404, errors={"code": "There is no longer a Signpost record for this code."}
    )


async def _open(
    request: Request[Any, Any, Any], state: State, data: dict[str, str], kind: CodeKind
) -> tuple[service.Opened, Given] | Template:
    """Check the code and date of birth the form carries: the record they open, or the page to
    show instead."""
    now = state.clock()
    given, errors, values = code_from_form(data, uk_date(now), WHAT[kind])
    if given is None:
        return _start_page(kind, status=400, values=values, errors=errors)
    client = sar_service.client_key(state.keyring, request.client.host if request.client else "unknown")
    if not await sar_service.use_client_allowance(
        client, "consent", state.settings.consent_tries_per_hour, now
    ):
        return too_many_tries(state, "tried a code")
    try:
        opened = await service.open_with_code(state.keyring, kind, given.code, given.born, now)
    except service.CodeRefusedError as refused:
        paper = "letter" if kind is CodeKind.consent else "receipt"
        message = f"The {WHAT[kind]} or date of birth is not right. Check your {paper} and try again."
        return _start_page(
            kind,
            status=400,
            values=values,
            errors={} if refused.locked or refused.expired or refused.used else {"code": message},
            refused=refused,
        )
    return opened, given


def _carried(given: Given) -> dict[str, Any]:
    """The code and date of birth, for the next step's hidden fields."""
    born = given.born
    return {"code": given.code, "day": born.day, "month": born.month, "year": born.year}


async def _authority(authority_id: int) -> dict[str, Any]:
    return dict((await LocalAuthority.select().where(LocalAuthority.id == authority_id).run())[0])


async def _record_page(
    state: State,
    opened: service.Opened,
    given: Given,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    try:
        record = await service.record_of(state.keyring, opened)
    except RecordNotFoundError:
        return _gone(opened.kind)
    today = uk_date(state.clock())
    return Template(
        "consent/record.html" if opened.kind is CodeKind.consent else "consent/change.html",
        status_code=status,
        context={
            "record": record,
            "details": record.details,
            "opened": opened,
            "today": today,
            "adult": today >= opened.eighteenth,
            "authority": await _authority(opened.authority_id),
            "carried": _carried(given),
            "values": values or {},
            "errors": errors or {},
            "genders": GENDER_LABELS,
            "relationships": RELATIONSHIP_LABELS,
            "service_types": SERVICE_TYPE_LABELS,
        },
    )


async def _choose(
    request: Request[Any, Any, Any], state: State, data: dict[str, str], kind: CodeKind
) -> Template:
    """The second step: check the choice, then show it back for confirmation."""
    opened = await _open(request, state, data, kind)
    if isinstance(opened, Template):
        return opened
    found, given = opened
    chosen, errors, values = choice_from_form(data, ALLOWED[kind])
    if chosen is not None and chosen[1] is not None:
        shorter = chosen[0] is Choice.shorten
        problem = service.check_keep_until(found, chosen[1], uk_date(state.clock()), shorter=shorter)
        if problem:
            errors, chosen = {"until-day": problem}, None
    if chosen is None:
        return await _record_page(state, found, given, status=400, values=values, errors=errors)
    choice, until = chosen
    today = uk_date(state.clock())
    return Template(
        "consent/confirm.html",
        context={
            "choice": choice.value,
            "until": until,
            "opened": found,
            "adult": today >= found.eighteenth,
            "carried": _carried(given),
            "action": f"{BASE[kind]}/confirm",
            "back": BASE[kind],
        },
    )


async def _confirm(
    request: Request[Any, Any, Any], state: State, data: dict[str, str], kind: CodeKind
) -> Template:
    """The third step: the choice counts (or, "change my answer", back to the choice)."""
    opened = await _open(request, state, data, kind)
    if isinstance(opened, Template):
        return opened
    found, given = opened
    chosen, errors, values = choice_from_form(data, ALLOWED[kind])
    if chosen is None or data.get("action") == "change":
        return await _record_page(
            state, found, given, values=values, status=200 if chosen else 400, errors=errors
        )
    choice, until = chosen
    now = state.clock()
    try:
        if choice is Choice.keep and until is not None:
            issued = await service.keep(found, until, now)
            signpost_id = await service.signpost_id_of(found)
            if signpost_id is None:
                return _gone(kind)
            shown = await receipt.view(issued.row, signpost_id, found.authority_id, issued.withdrawal_code)
            return Template(
                "consent/receipt.html",
                context={
                    "receipt": shown,
                    "carried": {**_carried(given), "code": issued.withdrawal_code},
                    "categories": receipt.DATA_CATEGORIES,
                    "purpose": receipt.PURPOSE,
                    "third_parties": receipt.THIRD_PARTIES,
                    "method": receipt.COLLECTION_METHOD,
                },
            )
        if choice is Choice.shorten and until is not None:
            await service.shorten(found, until, now)
        elif choice is Choice.delete:
            await service.delete_at_18(found, now)
        else:
            await service.withdraw(found, now)
    except service.DecisionError as exc:
        return await _record_page(state, found, given, status=409, values=values, errors={"choice": str(exc)})
    today = uk_date(now)
    return Template(
        "consent/done.html",
        context={
            "choice": choice.value,
            "until": until,
            "adult": today >= found.eighteenth,
            "eighteenth": found.eighteenth,
            "authority": await _authority(found.authority_id),
            "carried": _carried(given),
        },
    )


# The invitation's three steps


@get("/your-record", sync_to_thread=False)
def start() -> Template:
    return _start_page(CodeKind.consent)


@post("/your-record")
async def open_record(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    opened = await _open(request, state, data, CodeKind.consent)
    if isinstance(opened, Template):
        return opened
    return await _record_page(state, *opened)


@post("/your-record/choose")
async def choose(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    return await _choose(request, state, data, CodeKind.consent)


@post("/your-record/confirm")
async def confirm(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    return await _confirm(request, state, data, CodeKind.consent)


# The receipt's three steps, and the receipt itself


@get("/your-record/change", sync_to_thread=False)
def change_start() -> Template:
    return _start_page(CodeKind.withdrawal)


@post("/your-record/change")
async def open_change(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    opened = await _open(request, state, data, CodeKind.withdrawal)
    if isinstance(opened, Template):
        return opened
    return await _record_page(state, *opened)


@post("/your-record/change/choose")
async def change_choose(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    return await _choose(request, state, data, CodeKind.withdrawal)


@post("/your-record/change/confirm")
async def change_confirm(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    return await _confirm(request, state, data, CodeKind.withdrawal)


@post("/your-record/receipt")
async def receipt_document(
    request: Request[Any, Any, Any], state: State, data: FormData
) -> Template | Response[bytes]:
    """The consent receipt as JSON, for the withdrawal code and date of birth."""
    opened = await _open(request, state, data, CodeKind.withdrawal)
    if isinstance(opened, Template):
        return opened
    found, given = opened
    row = await service.receipt_of(found)
    signpost_id = await service.signpost_id_of(found)
    if row is None or signpost_id is None:
        return _gone(CodeKind.withdrawal)
    shown = await receipt.view(row, signpost_id, found.authority_id, given.code)
    return Response(
        msgspec.json.encode(receipt.document(shown, state.settings.origin)),
        media_type="application/json",
        status_code=200,
        headers={
            "Content-Disposition": f'attachment; filename="signpost-consent-receipt-{shown.receipt_id}.json"'
        },
    )


# The authority's letters

TEAM = {"roles": (Role.la_admin,)}
# Showing codes, or making one, needs a key touch within the last five minutes (docs/security.md).
PRINT = {"roles": (Role.la_admin,), "step_up": True, "step_up_return": "/consent/letters/print"}
REISSUE = {"roles": (Role.la_admin,), "step_up": True, "step_up_return": "/consent/letters"}


def _team(request: Request[Any, Any, Any]) -> PractitionerView:
    user: PractitionerView = request.scope["user"]
    return user


async def _letters_page(
    user: PractitionerView,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    reissued: bool = False,
) -> Template:
    return Template(
        "consent/letters.html",
        status_code=status,
        context={
            "unsent": await letters.unsent_count(user.local_authority_id),
            "values": values or {},
            "errors": errors or {},
            "reissued": reissued,
        },
    )


@get("/consent/letters", guards=[signed_in_with_role], opt=TEAM)
async def letters_page(request: Request[Any, Any, Any]) -> Template:
    return await _letters_page(_team(request), reissued=request.query_params.get("reissued") == "1")


@post("/consent/letters/reissue", guards=[signed_in_with_role], opt=REISSUE)
async def reissue_letter(
    request: Request[Any, Any, Any], state: State, data: FormData
) -> Template | Redirect:
    """A new letter for one young person, by their Signpost ID (the old code stops working)."""
    user = _team(request)
    typed = data.get("signpost_id", "").strip()[:30]
    signpost_id = parse_signpost_id(typed)
    values = {"signpost_id": typed}
    if signpost_id is None:
        error = (
            "Enter the young person's Signpost ID, 12 letters and numbers" if typed else "Enter a Signpost ID"
        )
        return await _letters_page(user, status=400, values=values, errors={"signpost_id": error})
    try:
        await letters.reissue(state.keyring, user, signpost_id, state.clock())
    except letters.ReissueError as exc:
        return await _letters_page(user, status=404, values=values, errors={"signpost_id": str(exc)})
    return Redirect("/consent/letters?reissued=1", status_code=303)


@get("/consent/letters/print", guards=[signed_in_with_role], opt=PRINT)
async def print_letters(request: Request[Any, Any, Any], state: State) -> Template:
    user = _team(request)
    batch = await letters.printable(state.keyring, user, state.clock())
    return Template(
        "consent/print.html",
        context={
            "letters": batch,
            "authority": await _authority(user.local_authority_id),
            "origin": state.settings.origin,
            "today": uk_date(state.clock()),
        },
    )


@post("/consent/letters/sent", guards=[signed_in_with_role], opt=TEAM)
async def letters_sent(request: Request[Any, Any, Any], state: State, data: FormData) -> Redirect:
    user = _team(request)
    printed = letters.parse_printed(data.get("letters", ""))
    await letters.mark_sent(user, printed, state.clock())
    return Redirect("/consent/letters", status_code=303)


ROUTES = [
    start,
    open_record,
    choose,
    confirm,
    change_start,
    open_change,
    change_choose,
    change_confirm,
    receipt_document,
    letters_page,
    reissue_letter,
    print_letters,
    letters_sent,
]
