"""Character-set and consistency rules of the data dictionary, beyond msgspec's length bounds.

Each rule returns problems as ``(field path, message)`` pairs written for the person who will
fix them; the feed importer and the web forms show them as they are.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from app.consent.dates import eighteenth_birthday, latest_keep_until
from app.records.codes import SENSITIVE_SERVICES, RetentionState
from app.records.schemas import Address, ChildDetails

_NAME_PUNCTUATION = frozenset(" -'\u2019.")
_ORG_PUNCTUATION = frozenset(" -'\u2019.,&()/")
_TELEPHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,18}[0-9]$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")

Problem = tuple[str, str]


def is_name(text: str) -> bool:
    """Letters (any script, with accents), spaces, hyphens, apostrophes and full stops."""
    if not text or not text[0].isalpha() or text != text.strip() or "  " in text:
        return False
    return all(
        ch.isalpha() or unicodedata.category(ch).startswith("M") or ch in _NAME_PUNCTUATION for ch in text
    )


def is_org_text(text: str) -> bool:
    """Names of services, roles, settings and address lines: letters, digits, common marks."""
    if not text or text != text.strip() or not text[0].isalnum():
        return False
    return all(
        ch.isalnum() or unicodedata.category(ch).startswith("M") or ch in _ORG_PUNCTUATION for ch in text
    )


def is_telephone(text: str) -> bool:
    return bool(_TELEPHONE.match(text))


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


def is_postcode(text: str) -> bool:
    return bool(_POSTCODE.match(text.upper()))


def address_problems(prefix: str, address: Address) -> list[Problem]:
    problems = [
        (f"{prefix}.lines[{i}]", "Enter the address line using letters, numbers and , . ' - / & ( )")
        for i, line in enumerate(address.lines)
        if not is_org_text(line)
    ]
    if not is_name(address.town):
        problems.append((f"{prefix}.town", "Enter a town or city using letters only"))
    if not is_postcode(address.postcode):
        problems.append((f"{prefix}.postcode", "Enter a real postcode, like AA1 1AA"))
    return problems


def child_problems(child: ChildDetails, today: date, *, retention: bool = True) -> list[Problem]:
    """Everything wrong with ``child``, or an empty list. ``retention=False`` leaves out the
    rule that a record past 18 needs consent: a feed may describe a young person of 18 whose
    record is kept with consent, and the importer decides what to do with such a row."""
    problems: list[Problem] = []
    for field in ("given_name", "family_name"):
        if not is_name(getattr(child, field)):
            problems.append((field, "Enter a name using letters, spaces, hyphens and apostrophes"))
    for i, former in enumerate(child.former_names):
        for field in ("given_name", "family_name"):
            if not is_name(getattr(former, field)):
                problems.append((f"former_names[{i}].{field}", "Enter a name using letters only"))
    if child.date_of_birth > today:
        problems.append(("date_of_birth", "Date of birth must be today or in the past"))
    elif child.date_of_birth.year < today.year - 26:
        problems.append(("date_of_birth", "Signpost holds records of children and young people only"))
    elif (
        retention
        and child.retention_state == RetentionState.delete_at_18
        and eighteenth_birthday(child.date_of_birth) <= today
    ):
        problems.append(
            ("date_of_birth", "Signpost keeps a record past 18 only with the young person's consent")
        )
    if child.retention_state == RetentionState.kept_with_consent and (
        child.keep_until is None
        or not eighteenth_birthday(child.date_of_birth)
        < child.keep_until
        <= latest_keep_until(child.date_of_birth)
    ):
        problems.append(("keep_until", "A record kept with consent needs an end date after 18 and by 25"))
    if child.address is not None:
        problems += address_problems("address", child.address)
    for i, carer in enumerate(child.carers):
        if not is_name(carer.name):
            problems.append((f"carers[{i}].name", "Enter a name using letters only"))
        if carer.telephone is not None and not is_telephone(carer.telephone):
            problems.append((f"carers[{i}].telephone", "Enter a telephone number, like 01632 960 001"))
        if carer.address is not None:
            problems += address_problems(f"carers[{i}].address", carer.address)
    for i, inv in enumerate(child.involvements):
        where = f"involvements[{i}]"
        if not is_org_text(inv.service_name):
            problems.append((f"{where}.service_name", "Enter the service name using letters and numbers"))
        if not is_name(inv.practitioner_name):
            problems.append((f"{where}.practitioner_name", "Enter a name using letters only"))
        if not is_org_text(inv.role):
            problems.append((f"{where}.role", "Enter the role using letters and numbers"))
        if not is_telephone(inv.telephone):
            problems.append((f"{where}.telephone", "Enter a telephone number, like 01632 960 001"))
        if not is_email(inv.email):
            problems.append((f"{where}.email", "Enter a work email address, like name@example.org"))
        if inv.service_type in SENSITIVE_SERVICES and inv.consent_basis is None:
            problems.append((f"{where}.consent_basis", "Say on what basis a sensitive service is recorded"))
        if inv.end_date is not None and inv.end_date < inv.start_date:
            problems.append((f"{where}.end_date", "End date must be on or after the start date"))
    return problems
