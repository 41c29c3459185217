"""The source-feed format (docs/feed-format.md): a CSV file, one row per child.

:func:`read_feed` streams a file row by row and turns each row into a :class:`FeedRow` or into
problems, each naming its line and column. The header is checked first: an unknown column, a
free-text column or a repeated one rejects the file before any row is read. Values are held to
the data dictionary's lengths and character sets (app/records/validation.py); a value with a
line break is free text and refused.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec

from app.records.codes import Gender, Relationship
from app.records.ids import parse_signpost_id
from app.records.schemas import Address, CarerDetails, ChildDetails, PersonName
from app.records.validation import child_problems, is_org_text, is_telephone

#: Every column a feed may have, with the longest value each may hold.
COLUMNS: dict[str, int] = {
    "local_authority": 9,
    "signpost_id": 14,
    "given_name": 60,
    "family_name": 60,
    "former_given_name": 60,
    "former_family_name": 60,
    "date_of_birth": 10,
    "gender": 13,
    "address_line_1": 100,
    "address_line_2": 100,
    "address_line_3": 100,
    "town": 60,
    "postcode": 8,
    **{
        f"carer_{n}_{field}": length
        for n in (1, 2)
        for field, length in (
            ("name", 120),
            ("relationship", 16),
            ("telephone", 20),
            ("address_line_1", 100),
            ("address_line_2", 100),
            ("address_line_3", 100),
            ("town", 60),
            ("postcode", 8),
        )
    },
    "education_setting_name": 120,
    "education_setting_telephone": 20,
    "education_start_date": 10,
    "gp_practice_name": 120,
    "gp_practice_telephone": 20,
}
ADDRESS_COLUMNS = frozenset({"address_line_1", "address_line_2", "address_line_3", "town", "postcode"})
REQUIRED = ("local_authority", "given_name", "family_name", "date_of_birth", "gender")
#: Columns that would carry prose about a child: named so the report can say why they are refused.
FREE_TEXT = frozenset(
    {"notes", "note", "comments", "comment", "description", "details", "remarks", "free_text", "narrative"}
)
#: Stop collecting problems after this many (the file is rejected either way); count the rest.
MAX_PROBLEMS = 200


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # the file's line number, the header being line 1; 0: the whole file
    column: str  # the column's name, or "" for the whole line
    message: str


@dataclass(frozen=True, slots=True)
class Place:
    """An education setting or GP practice as the feed names it."""

    name: str
    telephone: str


class FeedRow(msgspec.Struct, frozen=True):
    """One valid row: the child as the source knows it, and where they learn and see a GP.
    ``has_address``: the file has address columns (without them, a record keeps its address;
    with them all empty, the child has no known address)."""

    line: int
    authority_code: str
    signpost_id: str | None
    child: ChildDetails
    education: Place | None = None
    gp: Place | None = None
    has_address: bool = True


class FeedError(Exception):
    """The file cannot be read as a feed at all (not CSV, not UTF-8, no header)."""


def _field_column(path: str) -> str:
    """The CSV column a problem of app/records/validation.py is about."""
    parts = path.replace("]", "").replace("[", ".").split(".")
    if parts[0] == "former_names":
        return f"former_{parts[2]}"
    if parts[0] == "address":
        return f"address_line_{int(parts[2]) + 1}" if parts[1] == "lines" else parts[1]
    if parts[0] == "carers":
        prefix = f"carer_{int(parts[1]) + 1}"
        if parts[2] == "address":
            return (
                f"{prefix}_address_line_{int(parts[4]) + 1}"
                if parts[3] == "lines"
                else f"{prefix}_{parts[3]}"
            )
        return f"{prefix}_{parts[2]}"
    return parts[0]


def _date(text: str) -> date | None:
    if len(text) != 10 or not text.isascii():
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def check_header(header: list[str]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for name in header:
        column = name.strip().lower()
        if column in FREE_TEXT:
            problems.append(
                Problem(1, name[:40], "Free-text columns are not accepted: Signpost holds no notes")
            )
        elif column not in COLUMNS:
            problems.append(Problem(1, name[:40], "Unknown column: docs/feed-format.md lists the columns"))
        elif column in seen:
            problems.append(Problem(1, column, "This column appears twice"))
        seen.add(column)
    problems += [Problem(1, column, "This column is required") for column in REQUIRED if column not in seen]
    return problems


def parse_row(
    line: int,
    values: Mapping[str, str],
    *,
    source: str,
    authorities: Mapping[str, int],
    today: date,
) -> FeedRow | list[Problem]:
    """One row of named values: the row, or everything wrong with it."""
    problems: list[Problem] = []

    def bad(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    for column, value in values.items():
        if "\n" in value or "\r" in value:
            bad(column, "Line breaks are not allowed: this is free text")
        elif len(value.strip()) > COLUMNS[column]:
            bad(column, f"Longer than {COLUMNS[column]} characters")
    if problems:
        return problems
    get = {column: value.strip() for column, value in values.items()}.get

    for column in REQUIRED:
        if not get(column, ""):
            bad(column, "Enter a value: this column is required")
    authority_id = authorities.get(get("local_authority", "").upper())
    if get("local_authority") and authority_id is None:
        bad("local_authority", "Not a local authority Signpost knows (use its ONS code)")
    signpost_id = None
    if get("signpost_id", ""):
        signpost_id = parse_signpost_id(get("signpost_id", ""))
        if signpost_id is None:
            bad("signpost_id", "Not a Signpost ID (12 symbols, like 7K3D 9QXM 2PRA)")
    born = _date(get("date_of_birth", ""))
    if get("date_of_birth") and born is None:
        bad("date_of_birth", "Enter a real date as YYYY-MM-DD")
    gender = get("gender", "").lower()
    if gender and gender not in Gender.__members__:
        bad("gender", "Use female, male, other or not_specified")

    address = None
    lines = tuple(v for v in (get(f"address_line_{n}", "") for n in (1, 2, 3)) if v)
    if lines or get("town") or get("postcode"):
        if not lines:
            bad("address_line_1", "Enter the first line of the address, or leave the address empty")
        if not get("town"):
            bad("town", "Enter the town, or leave the address empty")
        if not get("postcode"):
            bad("postcode", "Enter the postcode, or leave the address empty")
        address = Address(lines=lines, town=get("town", ""), postcode=get("postcode", "").upper())

    former: tuple[PersonName, ...] = ()
    if get("former_given_name") or get("former_family_name"):
        if not (get("former_given_name") and get("former_family_name")):
            bad("former_family_name", "Give both parts of a former name, or neither")
        former = (PersonName(get("former_given_name", ""), get("former_family_name", "")),)

    carers = []
    for n in (1, 2):
        prefix = f"carer_{n}_"
        name = get(f"{prefix}name", "")
        if not any(
            get(f"{prefix}{field}")
            for field in (
                "name",
                "relationship",
                "telephone",
                "address_line_1",
                "address_line_2",
                "address_line_3",
                "town",
                "postcode",
            )
        ):
            continue
        if not name:
            bad(f"{prefix}name", "Enter the carer's name, or leave this carer's columns empty")
        relationship = get(f"{prefix}relationship", "").lower()
        if relationship not in Relationship.__members__:
            bad(f"{prefix}relationship", "Use a relationship from docs/feed-format.md, like mother")
            relationship = Relationship.other.value
        carer_address = None
        carer_lines = tuple(v for v in (get(f"{prefix}address_line_{n}", "") for n in (1, 2, 3)) if v)
        if carer_lines or get(f"{prefix}town") or get(f"{prefix}postcode"):
            if not (carer_lines and get(f"{prefix}town") and get(f"{prefix}postcode")):
                bad(f"{prefix}address_line_1", "Give the carer's address line, town and postcode, or none")
            carer_address = Address(
                lines=carer_lines or ("-",),
                town=get(f"{prefix}town", ""),
                postcode=get(f"{prefix}postcode", "").upper(),
            )
        carers.append(
            CarerDetails(
                name=name,
                relationship=Relationship(relationship),
                telephone=get(f"{prefix}telephone") or None,
                address=carer_address,
            )
        )

    places: dict[str, Place | None] = {}
    for kind, label in (("education_setting", "education setting"), ("gp_practice", "GP practice")):
        name, telephone = get(f"{kind}_name", ""), get(f"{kind}_telephone", "")
        places[kind] = None
        if name or telephone:
            if not is_org_text(name):
                bad(f"{kind}_name", f"Enter the {label}'s name using letters and numbers")
            if not is_telephone(telephone):
                bad(f"{kind}_telephone", f"Enter the {label}'s telephone number, like 01632 960 001")
            places[kind] = Place(name, telephone)
    started = None
    if get("education_start_date"):
        started = _date(get("education_start_date", ""))
        if started is None:
            bad("education_start_date", "Enter a real date as YYYY-MM-DD")
        elif places["education_setting"] is None:
            bad("education_start_date", "A start date needs the education setting it belongs to")

    if problems or authority_id is None or born is None:
        return problems
    try:
        child = msgspec.convert(
            {
                "given_name": get("given_name"),
                "family_name": get("family_name"),
                "date_of_birth": born,
                "gender": gender,
                "address": address,
                "local_authority_id": authority_id,
                "source": source,
                "former_names": former,
                "carers": tuple(carers),
                "education_start_date": started,
            },
            ChildDetails,
            from_attributes=True,
        )
    except msgspec.ValidationError as error:  # a bound the checks above do not repeat
        return [Problem(line, "", f"Not a valid row: {str(error)[:120]}")]
    problems += [
        Problem(line, _field_column(path), message)
        for path, message in child_problems(child, today, retention=False)
    ]
    if problems:
        return problems
    return FeedRow(
        line=line,
        authority_code=get("local_authority", "").upper(),
        signpost_id=signpost_id,
        child=child,
        education=places["education_setting"],
        gp=places["gp_practice"],
        has_address=bool(ADDRESS_COLUMNS & values.keys()),
    )


def read_feed(
    stream: Iterable[str],
    *,
    source: str,
    authorities: Mapping[str, int],
    today: date,
) -> Iterator[FeedRow | list[Problem]]:
    """Each row of the CSV ``stream`` in turn, parsed; a bad header yields its problems alone.
    Raises :class:`FeedError` for a file that is not UTF-8 CSV with a header."""
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise FeedError("The file is empty: a feed starts with a header line")
        problems = check_header(header)
        if problems:
            yield problems
            return
        columns = [name.strip().lower() for name in header]
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(columns):
                yield [Problem(line, "", f"Expected {len(columns)} values, found {len(fields)}")]
                continue
            yield parse_row(
                line,
                dict(zip(columns, fields, strict=True)),
                source=source,
                authorities=authorities,
                today=today,
            )
    except UnicodeDecodeError:
        raise FeedError("The file is not UTF-8 text: save it as CSV (UTF-8)") from None
    except csv.Error as error:
        raise FeedError(f"Line {reader.line_num} is not valid CSV: {error}") from None


def to_columns(
    child: ChildDetails,
    authority_code: str,
    *,
    signpost_id: str | None = None,
    education: Place | None = None,
    gp: Place | None = None,
) -> dict[str, str]:
    """A child as one feed row (the inverse of :func:`parse_row`); empty columns are left out."""
    values = {
        "local_authority": authority_code,
        "signpost_id": signpost_id or "",
        "given_name": child.given_name,
        "family_name": child.family_name,
        "date_of_birth": child.date_of_birth.isoformat(),
        "gender": child.gender.value,
    }
    if child.former_names:
        values["former_given_name"] = child.former_names[0].given_name
        values["former_family_name"] = child.former_names[0].family_name
    if child.address is not None:
        for n, line in enumerate(child.address.lines, start=1):
            values[f"address_line_{n}"] = line
        values["town"] = child.address.town
        values["postcode"] = child.address.postcode
    for n, carer in enumerate(child.carers[:2], start=1):
        values[f"carer_{n}_name"] = carer.name
        values[f"carer_{n}_relationship"] = carer.relationship.value
        values[f"carer_{n}_telephone"] = carer.telephone or ""
        if carer.address is not None:
            for k, line in enumerate(carer.address.lines, start=1):
                values[f"carer_{n}_address_line_{k}"] = line
            values[f"carer_{n}_town"] = carer.address.town
            values[f"carer_{n}_postcode"] = carer.address.postcode
    if education is not None:
        values["education_setting_name"] = education.name
        values["education_setting_telephone"] = education.telephone
        if child.education_start_date is not None:
            values["education_start_date"] = child.education_start_date.isoformat()
    if gp is not None:
        values["gp_practice_name"] = gp.name
        values["gp_practice_telephone"] = gp.telephone
    return {k: v for k, v in values.items() if v}


def write_feed(stream: Any, rows: Iterable[dict[str, str]]) -> int:
    """Write feed rows as CSV with every column in the header; the number of rows."""
    writer = csv.DictWriter(stream, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
