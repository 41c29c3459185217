"""The young person's forms: the code and date of birth, and the choice. Each returns what was
given (or None), GOV.UK-style errors by field, and the values to show again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from app.consent.codes import parse_code
from app.subject_access.forms import born_error
from app.web.forms import date_from_fields


class Choice(StrEnum):
    """The two answers to the invitation, and the two changes a receipt allows."""

    keep = "keep"
    delete = "delete"
    withdraw = "withdraw"
    shorten = "shorten"


DECIDE = (Choice.keep, Choice.delete)
CHANGE = (Choice.withdraw, Choice.shorten)


@dataclass(frozen=True, slots=True)
class Given:
    code: str
    born: date


def code_from_form(
    data: Mapping[str, str], today: date, what: str
) -> tuple[Given | None, dict[str, str], dict[str, Any]]:
    """The code and the date of birth; ``what`` names the code ("consent code")."""
    code = data.get("code", "").strip()[:60]
    born, born_problem, born_values = date_from_fields(data, "dob", "Date of birth")
    values: dict[str, Any] = {"code": code, "dob": born_values}
    errors: dict[str, str] = {}
    if not code:
        errors["code"] = f"Enter the {what}"
    elif parse_code(code) is None:
        errors["code"] = f"Enter the {what} as it is printed: 24 letters and numbers"
    problem = born_error(born, born_problem, today, "Enter your date of birth")
    if problem:
        errors["dob-day"] = problem
    if errors or born is None:
        return None, errors, values
    return Given(code, born), errors, values


def choice_from_form(
    data: Mapping[str, str], allowed: tuple[Choice, Choice]
) -> tuple[tuple[Choice, date | None] | None, dict[str, str], dict[str, Any]]:
    """The choice and, for keeping or shortening, the date. The date's range is checked by the
    service, which knows the birthday."""
    raw = data.get("choice", "")
    choice = Choice(raw) if raw in {c.value for c in allowed} else None
    until, until_problem, until_values = date_from_fields(data, "until", "The date")
    values: dict[str, Any] = {"choice": choice.value if choice else "", "until": until_values}
    errors: dict[str, str] = {}
    if choice is None:
        errors["choice"] = "Choose what you want to happen to your record"
    elif choice in (Choice.keep, Choice.shorten):
        if until_problem:
            errors["until-day"] = until_problem
        elif until is None:
            errors["until-day"] = "Enter the date you want your record kept until"
    if errors or choice is None:
        return None, errors, values
    return (choice, until if choice in (Choice.keep, Choice.shorten) else None), errors, values
