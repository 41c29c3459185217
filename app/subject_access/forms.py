"""Reading the subject access forms. Each reader returns what it parsed (or None), the GOV.UK-style
error for each field (keyed by the field's id), and the values to show again."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from app.records.normalise import format_postcode
from app.records.schemas import Address
from app.records.validation import is_name, is_org_text, is_postcode
from app.subject_access.codes import RequesterKind
from app.subject_access.service import NewRequest, parse_reference
from app.web.forms import date_from_fields

NAME_LIMIT = 60
REQUESTER_NAME_LIMIT = 120
LINE_LIMIT = 100
TOWN_LIMIT = 60
OLDEST_YEARS = 30  # Signpost holds nobody older than 25

ASK_FIELDS = (
    "requester",
    "local_authority",
    "given_name",
    "family_name",
    "postcode",
    "requester_name",
    "address_line_1",
    "address_line_2",
    "town",
    "address_postcode",
)


def _name_error(value: str, limit: int, empty: str, label: str) -> str | None:
    if not value:
        return empty
    if len(value) > limit:
        return f"{label} must be {limit} characters or fewer"
    if not is_name(value):
        return f"{label} must only include letters, spaces, hyphens and apostrophes"
    return None


def born_error(born: date | None, error: str | None, today: date, empty: str) -> str | None:
    if error:
        return error
    if born is None:
        return empty
    if born > today:
        return "Date of birth must be today or in the past"
    if born.year < today.year - OLDEST_YEARS:
        return f"Date of birth must be after {today.year - OLDEST_YEARS}"
    return None


def ask_from_form(
    data: Mapping[str, str], authority_ids: set[int], today: date
) -> tuple[NewRequest | None, dict[str, str], dict[str, Any]]:
    text = {name: " ".join(data.get(name, "").split())[: REQUESTER_NAME_LIMIT + 1] for name in ASK_FIELDS}
    born, born_problem, born_values = date_from_fields(data, "dob", "Date of birth")
    values: dict[str, Any] = {**text, "dob": born_values}
    errors: dict[str, str] = {}

    kind: RequesterKind | None = None
    try:
        kind = RequesterKind(text["requester"])
    except ValueError:
        errors["requester"] = "Select who you are"
    authority = text["local_authority"]
    authority_id = (
        int(authority) if authority.isascii() and authority.isdecimal() and len(authority) < 19 else 0
    )
    if authority_id not in authority_ids:
        errors["local_authority"] = "Select the council area where the child lives"
    for field, label in (("given_name", "Given name"), ("family_name", "Family name")):
        problem = _name_error(text[field], NAME_LIMIT, f"Enter the child's {label.lower()}", label)
        if problem:
            errors[field] = problem
    problem = born_error(born, born_problem, today, "Enter the child's date of birth")
    if problem:
        errors["dob-day"] = problem
    if text["postcode"] and not is_postcode(text["postcode"]):
        errors["postcode"] = "Enter a real postcode, like NB12 3XY"
    problem = _name_error(text["requester_name"], REQUESTER_NAME_LIMIT, "Enter your full name", "Your name")
    if problem:
        errors["requester_name"] = problem
    for field, required in (("address_line_1", True), ("address_line_2", False)):
        line = text[field]
        if not line:
            if required:
                errors[field] = "Enter the first line of your address"
        elif len(line) > LINE_LIMIT or not is_org_text(line):
            errors[field] = (
                f"Address lines must be {LINE_LIMIT} characters or fewer, using letters, numbers "
                "and , . ' - / & ( )"
            )
    if not text["town"]:
        errors["town"] = "Enter your town or city"
    elif len(text["town"]) > TOWN_LIMIT or not is_org_text(text["town"]):
        errors["town"] = "Enter a town or city using letters, spaces, hyphens and apostrophes"
    if not text["address_postcode"]:
        errors["address_postcode"] = "Enter your postcode"
    elif not is_postcode(text["address_postcode"]):
        errors["address_postcode"] = "Enter a real postcode, like NB12 3XY"
    if errors or kind is None or born is None:
        return None, errors, values
    lines = tuple(line for line in (text["address_line_1"], text["address_line_2"]) if line)
    return (
        NewRequest(
            authority_id=authority_id,
            requester_kind=kind,
            requester_name=text["requester_name"],
            requester_address=Address(
                lines=lines, town=text["town"], postcode=format_postcode(text["address_postcode"])
            ),
            child_given_name=text["given_name"],
            child_family_name=text["family_name"],
            child_date_of_birth=born,
            child_postcode=format_postcode(text["postcode"]) if text["postcode"] else None,
        ),
        errors,
        values,
    )


def response_from_form(
    data: Mapping[str, str], today: date
) -> tuple[tuple[str, str, date] | None, dict[str, str], dict[str, Any]]:
    """The reference, code and date of birth that open a response pack."""
    reference = data.get("reference", "").strip()[:40]
    code = data.get("code", "").strip()[:60]
    born, born_problem, born_values = date_from_fields(data, "dob", "Date of birth")
    values: dict[str, Any] = {"reference": reference, "dob": born_values}
    errors: dict[str, str] = {}
    if not reference:
        errors["reference"] = "Enter the reference from your letter"
    elif parse_reference(reference) is None:
        errors["reference"] = "Enter the reference as it is on your letter, like 7K3M9-Q2XR4"
    if not code:
        errors["code"] = "Enter the access code from your letter"
    problem = born_error(born, born_problem, today, "Enter the child's date of birth")
    if problem:
        errors["dob-day"] = problem
    if errors or born is None:
        return None, errors, values
    return (reference, code, born), errors, values
