"""The local-authority admin's pages for records coming in and being put right, and the privacy
officer's list of shielding reviews.

- ``/admin/feeds``: load a feed file for the admin's own authority (a key touch), and the
  feeds loaded lately; the report names each line and column at fault, or what was done.
- ``/admin/review`` and ``/admin/review/{id}``: the review queue and each row's decision.
- ``/admin/records/{id}/correct``: correct the child's details, with a reason.
- ``/admin/records/{id}/shielding``: shield, change, or lift shielding.
- ``/privacy/shielding``: shielded records due for review.

Every page that shows or changes a record needs a key touch within five minutes; a record or
row of another authority does not exist, as far as the admin can tell (404).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from msgspec.structs import replace as evolve

from app.audit import service as audit
from app.audit.labels import CORRECTION_REASONS
from app.audit.service import Actor
from app.consent.dates import uk_date
from app.feeds import corrections, review
from app.feeds.corrections import LIFT_REASONS, SHIELD_REASONS
from app.feeds.importer import Report, import_feed
from app.feeds.tables import FeedImport
from app.identity.service import PractitionerView, Role
from app.identity.sessions import signed_in_with_role
from app.records.codes import GENDER_LABELS, RELATIONSHIP_LABELS, Gender, Relationship
from app.records.schemas import Address, CarerDetails, ChildDetails
from app.records.service import RecordNotFoundError, load_child
from app.records.tables import Child, EducationSetting, GpPractice
from app.records.validation import child_problems
from app.subject_access.deadlines import add_months
from app.web.forms import date_from_fields

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
UploadData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
ADMIN = {"roles": (Role.la_admin,)}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # about 40,000 rows; larger feeds: `signpost import`
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def _admin(request: Request[Any, Any, Any]) -> PractitionerView:
    user: PractitionerView = request.scope["user"]
    return user


def _step_up(path: str) -> dict[str, Any]:
    return {**ADMIN, "step_up": True, "step_up_return": path}


# Loading a feed


async def _recent(authority_id: int) -> list[dict[str, Any]]:
    return list(
        await FeedImport.select()
        .where(FeedImport.local_authority == authority_id)
        .order_by(FeedImport.imported_at, ascending=False)
        .limit(10)
        .run()
    )


def _upload_page(
    recent: list[dict[str, Any]], *, errors: dict[str, str] | None = None, source: str = "", status: int = 200
) -> Template:
    return Template(
        "feeds/upload.html",
        status_code=status,
        context={"errors": errors or {}, "source": source, "recent": recent},
    )


@get("/admin/feeds", guards=[signed_in_with_role], opt=_step_up("/admin/feeds"))
async def upload_page(request: Request[Any, Any, Any]) -> Template:
    return _upload_page(await _recent(_admin(request).local_authority_id))


@post(
    "/admin/feeds",
    guards=[signed_in_with_role],
    opt=_step_up("/admin/feeds"),
    request_max_body_size=MAX_UPLOAD_BYTES + 64 * 1024,
    status_code=200,
)
async def upload(request: Request[Any, Any, Any], state: State, data: UploadData) -> Template:
    admin = _admin(request)
    source = str(data.get("source", "")).strip().lower()
    feed = data.get("feed")
    errors: dict[str, str] = {}
    if not _SOURCE.match(source):
        errors["source"] = (
            "Enter the feed's source in lower-case letters, digits and hyphens, like school-census"
        )
    content = b""
    if not isinstance(feed, UploadFile) or not feed.filename:
        errors["feed"] = "Select a CSV file"
    else:
        content = await feed.read()
        if not content:
            errors["feed"] = "The selected file is empty"
    if errors:
        return _upload_page(await _recent(admin.local_authority_id), errors=errors, source=source, status=400)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _upload_page(
            await _recent(admin.local_authority_id),
            errors={"feed": "The selected file is not UTF-8 text: save it as CSV (UTF-8)"},
            source=source,
            status=400,
        )
    report = await import_feed(
        lambda: io.StringIO(text, newline=""),
        state.keyring,
        source=source,
        actor=Actor.of(admin),
        now=state.clock(),
        only_authority=admin.local_authority_id,
    )
    return _report_page(report, source)


def _report_page(report: Report, source: str) -> Template:
    return Template(
        "feeds/report.html",
        status_code=400 if report.rejected else 200,
        context={"report": report, "source": source},
    )


# The review queue


@get("/admin/review", guards=[signed_in_with_role], opt=ADMIN)
async def queue_page(request: Request[Any, Any, Any]) -> Template:
    items = await review.pending(_admin(request).local_authority_id)
    return Template("feeds/queue.html", context={"items": items, "why": review.WHY_LABELS})


async def _item_page(
    request: Request[Any, Any, Any],
    state: State,
    item_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    admin = _admin(request)
    item = await review.load_item(
        state.keyring, item_id, admin.local_authority_id, Actor.of(admin), state.clock()
    )
    if item is None:
        raise NotFoundException()
    return Template(
        "feeds/item.html",
        status_code=400 if errors else 200,
        context={
            "item": item,
            "why": review.WHY_LABELS,
            "errors": errors or {},
            "values": values or {},
            "genders": GENDER_LABELS,
            "relationships": RELATIONSHIP_LABELS,
            "shielded_candidate": any(r.shielded for r in item.records),
        },
    )


@get("/admin/review/{item_id:int}", guards=[signed_in_with_role], opt=_step_up("/admin/review/{item_id}"))
async def item_page(request: Request[Any, Any, Any], state: State, item_id: FromPath[int]) -> Template:
    return await _item_page(request, state, item_id)


@post(
    "/admin/review/{item_id:int}",
    guards=[signed_in_with_role],
    opt=_step_up("/admin/review/{item_id}"),
    status_code=200,
)
async def decide(
    request: Request[Any, Any, Any], state: State, item_id: FromPath[int], data: FormData
) -> Template | Redirect:
    admin = _admin(request)
    decision = data.get("decision", "")
    values = {k: v[:40] for k, v in data.items() if k in ("decision", "target", "checked_with_team")}
    if decision not in ("merge", "create", "reject"):
        return await _item_page(
            request, state, item_id, errors={"decision": "Choose what to do with this row"}
        )
    target = None
    if decision == "merge":
        chosen = data.get("target", "")
        if not chosen.isdecimal() or len(chosen) > 20:
            return await _item_page(
                request,
                state,
                item_id,
                errors={"target": "Select the record this row is about"},
                values=values,
            )
        target = int(chosen)
    also = tuple(
        int(key.removeprefix("also-"))
        for key, value in data.items()
        if key.startswith("also-") and key[5:].isdecimal() and len(key) < 30 and value == "yes"
    )
    choice = review.Choice(
        action=decision, target=target, also=also, checked_with_team=data.get("checked_with_team") == "yes"
    )
    try:
        await review.decide(
            state.keyring, item_id, admin.local_authority_id, choice, Actor.of(admin), state.clock()
        )
    except review.ReviewError as error:
        if error.field == "decision" and "already" in error.message:
            raise NotFoundException() from None
        return await _item_page(request, state, item_id, errors={error.field: error.message}, values=values)
    return Redirect("/admin/review", status_code=303)


# Corrections and shielding


async def _own_record(request: Request[Any, Any, Any], state: State, child_id: int, page: str) -> Any:
    """A record of the admin's own authority, its showing audited (``record.team_viewed``,
    with the page); 404 for any other."""
    try:
        record = await load_child(state.keyring, child_id)
    except RecordNotFoundError:
        raise NotFoundException() from None
    admin = _admin(request)
    if record.details.local_authority_id != admin.local_authority_id:
        raise NotFoundException()
    await audit.record(
        "record.team_viewed",
        Actor.of(admin),
        at=state.clock(),
        child_id=child_id,
        child_authority_id=admin.local_authority_id,
        detail={"page": page},
    )
    return record


def _form_values(details: ChildDetails) -> dict[str, Any]:
    address = details.address
    values: dict[str, Any] = {
        "given_name": details.given_name,
        "family_name": details.family_name,
        "date_of_birth": {
            "day": str(details.date_of_birth.day),
            "month": str(details.date_of_birth.month),
            "year": str(details.date_of_birth.year),
        },
        "gender": details.gender.value,
        "no_address": "yes" if address is None else "",
    }
    for n in (1, 2, 3):
        values[f"address_line_{n}"] = address.lines[n - 1] if address and len(address.lines) >= n else ""
    values["town"] = address.town if address else ""
    values["postcode"] = address.postcode if address else ""
    for i, carer in enumerate(details.carers):
        values[f"carer-{i}-name"] = carer.name
        values[f"carer-{i}-relationship"] = carer.relationship.value
        values[f"carer-{i}-telephone"] = carer.telephone or ""
    values["education_setting"] = str(details.education_setting_id or "")
    started = details.education_start_date
    values["education_start"] = (
        {"day": str(started.day), "month": str(started.month), "year": str(started.year)} if started else {}
    )
    values["gp_practice"] = str(details.gp_practice_id or "")
    return values


async def _places(authority_id: int) -> Places:
    """The authority's education settings and GP practices, by row ID, for the form's lists."""
    settings = (
        await EducationSetting.select(EducationSetting.id, EducationSetting.name)
        .where(EducationSetting.local_authority == authority_id)
        .order_by(EducationSetting.name)
        .run()
    )
    practices = (
        await GpPractice.select(GpPractice.id, GpPractice.name)
        .where(GpPractice.local_authority == authority_id)
        .order_by(GpPractice.name)
        .run()
    )
    return Places({int(r["id"]): r["name"] for r in settings}, {int(r["id"]): r["name"] for r in practices})


@dataclass(frozen=True, slots=True)
class Places:
    settings: dict[int, str]
    practices: dict[int, str]


def _correct_page(
    child_id: int,
    record: Any,
    stamp: str,
    values: dict[str, Any],
    places: Places,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    return Template(
        "feeds/correct.html",
        status_code=status,
        context={
            "child_id": child_id,
            "signpost_id": record.signpost_id,
            "carers": record.details.carers,
            "stamp": stamp,
            "values": values,
            "errors": errors or {},
            "genders": GENDER_LABELS,
            "relationships": RELATIONSHIP_LABELS,
            "reasons": CORRECTION_REASONS,
            "places": places,
        },
    )


async def _stamp(child_id: int) -> str:
    rows = await Child.select(Child.updated_at).where(Child.id == child_id).run()
    return rows[0]["updated_at"].isoformat() if rows else ""


@get(
    "/admin/records/{child_id:int}/correct",
    guards=[signed_in_with_role],
    opt=_step_up("/admin/records/{child_id}/correct"),
)
async def correct_page(request: Request[Any, Any, Any], state: State, child_id: FromPath[int]) -> Template:
    record = await _own_record(request, state, child_id, "correct")
    places = await _places(record.details.local_authority_id)
    return _correct_page(child_id, record, await _stamp(child_id), _form_values(record.details), places)


def _place_id(text: str, known: dict[int, str]) -> tuple[int | None, bool]:
    """The chosen row ID (None for "none"), and whether the choice is one of ``known``."""
    if not text:
        return None, True
    if not text.isdecimal() or len(text) > 20 or int(text) not in known:
        return None, False
    return int(text), True


def _corrected(
    data: dict[str, str], old: ChildDetails, today: date, places: Places
) -> tuple[ChildDetails | None, dict[str, str], dict[str, Any]]:
    """The details the form asks for, or the errors to show, and the values to show again."""
    text = {k: v.strip()[:130] for k, v in data.items()}
    errors: dict[str, str] = {}
    born, date_error, date_values = date_from_fields(data, "date_of_birth", "Date of birth")
    started, start_error, start_values = date_from_fields(data, "education_start", "Start date")
    values: dict[str, Any] = {**text, "date_of_birth": date_values, "education_start": start_values}
    setting, setting_known = _place_id(text.get("education_setting", ""), places.settings)
    practice, practice_known = _place_id(text.get("gp_practice", ""), places.practices)
    if not setting_known:
        errors["education_setting"] = "Select an education setting from the list"
    if not practice_known:
        errors["gp_practice"] = "Select a GP practice from the list"
    if start_error:
        errors["education_start-day"] = start_error
    elif started is not None and setting is None:
        errors["education_start-day"] = "A start date needs the education setting it belongs to"
    elif started is not None and started > today:
        errors["education_start-day"] = "Start date must be today or in the past"
    if date_error or born is None:
        errors["date_of_birth-day"] = date_error or "Enter the date of birth"
    if text.get("gender") not in Gender.__members__:
        errors["gender"] = "Select the gender"
    if text.get("reason") not in CORRECTION_REASONS:
        errors["reason"] = "Select why you are correcting the record"
    address = None
    if text.get("no_address") != "yes":
        lines = tuple(v for v in (text.get(f"address_line_{n}", "") for n in (1, 2, 3)) if v)
        if not lines:
            errors["address_line_1"] = "Enter the first line of the address, or say there is no known address"
        if not text.get("town"):
            errors["town"] = "Enter the town or city"
        if not text.get("postcode"):
            errors["postcode"] = "Enter the postcode"
        address = Address(
            lines=lines or ("-",), town=text.get("town", ""), postcode=text.get("postcode", "").upper()
        )
    carers = []
    for i, carer in enumerate(old.carers):
        if text.get(f"carer-{i}-remove") == "yes":
            continue
        relationship = text.get(f"carer-{i}-relationship", "")
        if relationship not in Relationship.__members__:
            errors[f"carer-{i}-relationship"] = "Select the relationship"
            relationship = carer.relationship.value
        carers.append(
            CarerDetails(
                name=text.get(f"carer-{i}-name", ""),
                relationship=Relationship(relationship),
                telephone=text.get(f"carer-{i}-telephone") or None,
                address=carer.address,
            )
        )
    for field, limit in (("given_name", 60), ("family_name", 60), ("town", 60), ("postcode", 8)):
        if len(text.get(field, "")) > limit:
            errors[field] = f"Use {limit} characters or fewer"
    for n in (1, 2, 3):
        if len(text.get(f"address_line_{n}", "")) > 100:
            errors[f"address_line_{n}"] = "Use 100 characters or fewer"
    for i in range(len(old.carers)):
        if len(text.get(f"carer-{i}-name", "")) > 120:
            errors[f"carer-{i}-name"] = "Use 120 characters or fewer"
        if len(text.get(f"carer-{i}-telephone", "")) > 20:
            errors[f"carer-{i}-telephone"] = "Use 20 characters or fewer"
    if errors or born is None:
        return None, errors, values
    new = evolve(
        old,
        given_name=text.get("given_name", ""),
        family_name=text.get("family_name", ""),
        date_of_birth=born,
        gender=Gender(text["gender"]),
        address=address,
        carers=tuple(carers),
        education_setting_id=setting,
        education_start_date=started if setting is not None else None,
        gp_practice_id=practice,
    )
    if text.get("keep_former_name") == "yes":
        new = corrections.with_former_name(old, new)
    field_ids = {
        "given_name": "given_name",
        "family_name": "family_name",
        "date_of_birth": "date_of_birth-day",
        "keep_until": "date_of_birth-day",
    }
    for path, message in child_problems(new, today):
        if path.startswith("address."):
            part = path.split(".")[1]
            key = f"address_line_{int(part[6:-1]) + 1}" if part.startswith("lines[") else part
        elif path.startswith("carers["):
            index, field = path[7:].split("].", 1)
            key = f"carer-{index}-{field.split('.')[0]}"
        else:
            key = field_ids.get(path, path)
        errors.setdefault(key, message)
    if not new.given_name:
        errors["given_name"] = "Enter the given name"
    if not new.family_name:
        errors["family_name"] = "Enter the family name"
    return (None if errors else new), errors, values


@post(
    "/admin/records/{child_id:int}/correct",
    guards=[signed_in_with_role],
    opt=_step_up("/admin/records/{child_id}/correct"),
    status_code=200,
)
async def correct(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int], data: FormData
) -> Template:
    record = await _own_record(request, state, child_id, "correct")
    now = state.clock()
    stamp = await _stamp(child_id)
    places = await _places(record.details.local_authority_id)
    new, errors, values = _corrected(data, record.details, uk_date(now), places)
    if data.get("stamp") != stamp:
        errors = {"given_name": "Someone changed this record while you were correcting it: check it again"}
        return _correct_page(
            child_id, record, stamp, _form_values(record.details), places, errors=errors, status=409
        )
    if new is None:
        return _correct_page(child_id, record, stamp, values, places, errors=errors, status=400)
    try:
        count = await corrections.correct(
            state.keyring, child_id, record.details, new, data["reason"], Actor.of(_admin(request)), now
        )
    except corrections.ChangedMeanwhileError:
        errors = {"given_name": "Someone changed this record while you were correcting it: check it again"}
        fresh = await _own_record(request, state, child_id, "correct")
        return _correct_page(
            child_id,
            fresh,
            await _stamp(child_id),
            _form_values(fresh.details),
            places,
            errors=errors,
            status=409,
        )
    return Template(
        "feeds/done.html",
        context={
            "title": "Record corrected" if count else "Nothing to correct",
            "text": f"{count} field(s) corrected. The audit trail records which, and why, but not the values."
            if count
            else "The details you sent are the same as the record's.",
            "child_id": child_id,
        },
    )


def _shielding_page(
    child_id: int,
    record: Any,
    state_now: corrections.ShieldState,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    return Template(
        "feeds/shielding.html",
        status_code=status,
        context={
            "child_id": child_id,
            "signpost_id": record.signpost_id,
            "name": f"{record.details.given_name} {record.details.family_name}",
            "current": state_now,
            "values": values,
            "errors": errors or {},
            "shield_reasons": SHIELD_REASONS,
            "lift_reasons": LIFT_REASONS,
        },
    )


def _date_values(day: date) -> dict[str, str]:
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


@get(
    "/admin/records/{child_id:int}/shielding",
    guards=[signed_in_with_role],
    opt=_step_up("/admin/records/{child_id}/shielding"),
)
async def shielding_page(request: Request[Any, Any, Any], state: State, child_id: FromPath[int]) -> Template:
    record = await _own_record(request, state, child_id, "shielding")
    current = await corrections.shield_state(child_id)
    review_date = current.review_date or corrections.default_review_date(state.clock())
    values = {"reason": current.reason or "", "review": _date_values(review_date)}
    return _shielding_page(child_id, record, current, values)


@post(
    "/admin/records/{child_id:int}/shielding",
    guards=[signed_in_with_role],
    opt=_step_up("/admin/records/{child_id}/shielding"),
    status_code=200,
)
async def change_shielding(
    request: Request[Any, Any, Any], state: State, child_id: FromPath[int], data: FormData
) -> Template:
    record = await _own_record(request, state, child_id, "shielding")
    admin = _admin(request)
    now = state.clock()
    current = await corrections.shield_state(child_id)
    action = data.get("action", "")
    errors: dict[str, str] = {}
    values: dict[str, Any]
    if action == "lift":
        reason = data.get("lift_reason", "")
        if not current.shielded:
            errors["lift_reason"] = "This record is not shielded"
        elif reason not in LIFT_REASONS:
            errors["lift_reason"] = "Select why shielding is being lifted"
        if errors:
            values = {"review": _date_values(corrections.default_review_date(now))}
            return _shielding_page(child_id, record, current, values, errors=errors, status=400)
        await corrections.lift_shielding(child_id, admin.local_authority_id, reason, Actor.of(admin), now)
        title, text = "Shielding lifted", "Practitioners who open this record now see it in full."
    elif action == "shield":
        reason = data.get("reason", "")
        review_date, date_error, date_values = date_from_fields(data, "review", "Review date")
        values = {"reason": reason[:40], "review": date_values}
        if reason not in SHIELD_REASONS:
            errors["reason"] = "Select why the record is shielded"
        if date_error or review_date is None:
            errors["review-day"] = date_error or "Enter the review date"
        elif review_date <= uk_date(now):
            errors["review-day"] = "Review date must be in the future"
        elif review_date > add_months(uk_date(now), 24):
            errors["review-day"] = "Review date must be within two years"
        if errors or review_date is None:
            return _shielding_page(child_id, record, current, values, errors=errors, status=400)
        await corrections.set_shielding(
            child_id, admin.local_authority_id, reason, review_date, Actor.of(admin), now
        )
        title = "Shielding changed" if current.shielded else "Record shielded"
        text = (
            "Practitioners outside your team now see only the child's name, gender, date of birth and "
            f"Signpost ID, with your team's number. Review by {review_date.strftime('%-d %B %Y')}."
        )
    else:
        values = {"review": _date_values(corrections.default_review_date(now))}
        errors["action"] = "Choose whether to shield the record or lift shielding"
        return _shielding_page(child_id, record, current, values, errors=errors, status=400)
    return Template("feeds/done.html", context={"title": title, "text": text, "child_id": child_id})


# The privacy officer


@get("/privacy/shielding", guards=[signed_in_with_role], opt={"roles": (Role.privacy_officer,)})
async def shielding_reviews(request: Request[Any, Any, Any], state: State) -> Template:
    officer = _admin(request)
    now = state.clock()
    due = await corrections.reviews_due(officer.local_authority_id, uk_date(now))
    await audit.record("shielding.reviews_viewed", Actor.of(officer), at=now, result_count=len(due))
    return Template(
        "privacy/shielding.html", context={"due": due, "reasons": SHIELD_REASONS, "today": uk_date(now)}
    )


ROUTES = [
    upload_page,
    upload,
    queue_page,
    item_page,
    decide,
    correct_page,
    correct,
    shielding_page,
    change_shielding,
    shielding_reviews,
]
