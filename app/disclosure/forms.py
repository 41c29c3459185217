"""The disclosure forms, checked on the server: each returns the value, or a GOV.UK-style error
for each field (keyed by the field's id), and the values to show again.

Form fields. The request: the search's identifiers (``signpost_id``; or ``family_name``,
``dob-day``, ``dob-month``, ``dob-year`` and at least one of ``given_name``, ``postcode``,
``gender``), ``crime_reference``, ``offence``, ``lawful_basis``, ``urgency`` and
``justification``. The decision: ``decision`` (``approve`` or ``refuse``), ``refusal_reason``
(when refusing) and ``note``. Ending an access: ``revoke_reason``. The exemption: ``exempt``
(``yes`` or ``no``) and ``review-day``, ``review-month``, ``review-year``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from app.disclosure.codes import LawfulBasis, Offence, RefusalReason, RevokeReason, Urgency
from app.disclosure.service import (
    CRIME_REFERENCE_LIMIT,
    JUSTIFICATION_LIMIT,
    JUSTIFICATION_MIN,
    NOTE_LIMIT,
    NOTE_MIN,
    Case,
)
from app.search import service as search
from app.web.forms import date_from_fields

_CRIME_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 /-]*$")
#: The longest an exemption may run before it must be looked at again.
MAX_EXEMPTION_DAYS = 2 * 366


def _prose(text: str) -> str:
    """Text for a justification or note: normal form, control characters gone, lines kept."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()


def _choice(data: Mapping[str, str], name: str, kind: Any) -> Any:
    try:
        return kind(data.get(name, ""))
    except ValueError:
        return None


def request_from_form(
    data: Mapping[str, str], today: date
) -> tuple[tuple[search.Criteria, Case] | None, dict[str, str], dict[str, Any]]:
    criteria, errors, values = search.criteria_from_form(data, today)
    errors = dict(errors)
    if "given_name" in errors and errors["given_name"].startswith("Enter a given name"):
        errors["given_name"] = "Enter the child's given name, postcode or gender as well"
    reference = data.get("crime_reference", "").strip()[: CRIME_REFERENCE_LIMIT + 1]
    justification = _prose(data.get("justification", "")[: JUSTIFICATION_LIMIT * 2])
    values.update(
        crime_reference=reference,
        justification=justification[: JUSTIFICATION_LIMIT + 1],
        offence=data.get("offence", ""),
        lawful_basis=data.get("lawful_basis", ""),
        urgency=data.get("urgency", ""),
    )
    if not reference:
        errors["crime_reference"] = "Enter the crime reference"
    elif len(reference) > CRIME_REFERENCE_LIMIT or not _CRIME_REFERENCE.match(reference):
        errors["crime_reference"] = (
            f"Crime reference must be {CRIME_REFERENCE_LIMIT} characters or fewer, using only "
            "letters, numbers, spaces, slashes and hyphens"
        )
    offence = _choice(data, "offence", Offence)
    if offence is None:
        errors["offence"] = "Select the offence category"
    basis = _choice(data, "lawful_basis", LawfulBasis)
    if basis is None:
        errors["lawful_basis"] = "Select the lawful basis for the disclosure"
    urgency = _choice(data, "urgency", Urgency)
    if urgency is None:
        errors["urgency"] = "Select how urgent the request is"
    if not justification:
        errors["justification"] = "Explain why the disclosure is necessary and proportionate"
    elif len(justification) < JUSTIFICATION_MIN:
        errors["justification"] = (
            f"Explain in at least {JUSTIFICATION_MIN} characters why the disclosure is necessary "
            "and proportionate"
        )
    elif len(justification) > JUSTIFICATION_LIMIT:
        errors["justification"] = f"Justification must be {JUSTIFICATION_LIMIT} characters or fewer"
    if errors or criteria is None:
        return None, errors, values
    return (criteria, Case(reference.upper(), offence, basis, urgency, justification)), errors, values


def decision_from_form(
    data: Mapping[str, str],
) -> tuple[tuple[RefusalReason | None, str] | None, dict[str, str], dict[str, Any]]:
    """(the refusal reason, or None to approve; the note)."""
    decision = data.get("decision", "")
    reason = _choice(data, "refusal_reason", RefusalReason)
    note = _prose(data.get("note", "")[: NOTE_LIMIT * 2])
    values = {
        "decision": decision,
        "refusal_reason": data.get("refusal_reason", ""),
        "note": note[: NOTE_LIMIT + 1],
    }
    errors: dict[str, str] = {}
    if decision not in ("approve", "refuse"):
        errors["decision"] = "Select whether you approve or refuse the request"
    elif decision == "refuse" and reason is None:
        errors["refusal_reason"] = "Select why you refuse the request"
    if not note:
        errors["note"] = "Give the reasons for your decision"
    elif len(note) < NOTE_MIN:
        errors["note"] = f"Give the reasons for your decision in at least {NOTE_MIN} characters"
    elif len(note) > NOTE_LIMIT:
        errors["note"] = f"Reasons must be {NOTE_LIMIT} characters or fewer"
    if errors:
        return None, errors, values
    return (reason if decision == "refuse" else None, note), errors, values


def revoke_from_form(data: Mapping[str, str]) -> tuple[RevokeReason | None, dict[str, str]]:
    reason = _choice(data, "revoke_reason", RevokeReason)
    return reason, {} if reason else {"revoke_reason": "Select why the access should end now"}


def exemption_from_form(
    data: Mapping[str, str], today: date
) -> tuple[tuple[bool, date | None] | None, dict[str, str], dict[str, Any]]:
    """(keep out?, the review date when keeping out)."""
    exempt = data.get("exempt", "")
    review, review_error, review_values = date_from_fields(data, "review", "Review date")
    values: dict[str, Any] = {"exempt": exempt, "review": review_values}
    errors: dict[str, str] = {}
    if exempt not in ("yes", "no"):
        errors["exempt"] = "Select whether to keep the request out of subject access"
    elif exempt == "yes":
        if review_error:
            errors["review-day"] = review_error
        elif review is None:
            errors["review-day"] = "Enter the date to review the exemption"
        elif review <= today:
            errors["review-day"] = "Review date must be in the future"
        elif (review - today).days > MAX_EXEMPTION_DAYS:
            errors["review-day"] = "Review date must be within 2 years"
    if errors:
        return None, errors, values
    return (exempt == "yes", review if exempt == "yes" else None), errors, values
