"""Search: the identifiers it needs, how it finds candidates, and what a result shows.

A search is either an exact Signpost ID, or family name + date of birth + at least one of given
name, postcode and gender. The family name and date of birth find candidates through the blind
index (current and former names); each candidate is decrypted and compared exactly, after the
same normalisation as at write time. More than :data:`MAX_RESULTS` matches show nothing.

Every search is audited with its outcome and the IDs it returned, and every record returned
gets its own audit row, in one transaction with the count against the user's search quota; the
terms themselves are never written anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from piccolo.querystring import QueryString

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.crypto.keyring import Keyring
from app.database import Tx
from app.records.codes import Gender
from app.records.ids import parse_signpost_id
from app.records.normalise import name_dob_key, normalise_name, normalise_postcode
from app.records.service import NAME_DOB, decode_address
from app.records.tables import Child, FormerName
from app.records.validation import is_name, is_postcode
from app.search import quotas
from app.search.quotas import Quota
from app.web.forms import date_from_fields

MAX_RESULTS = 10
NAME_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Criteria:
    signpost_id: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    given_name: str | None = None
    postcode: str | None = None
    gender: Gender | None = None

    @property
    def kind(self) -> str:
        """A code for the audit: how the search was made, never what was searched for."""
        if self.signpost_id:
            return "signpost_id"
        extra = [name for name in ("given_name", "postcode", "gender") if getattr(self, name)]
        return "name_dob_" + "_".join(extra)


def criteria_from_form(
    data: Mapping[str, str], today: date
) -> tuple[Criteria | None, dict[str, str], dict[str, Any]]:
    """The criteria, or the GOV.UK-style error for each field (keyed by the field's id), and the
    values to show again."""
    text = {
        name: data.get(name, "").strip()[: NAME_LIMIT + 1]
        for name in ("signpost_id", "family_name", "given_name", "postcode", "gender")
    }
    born, born_error, born_values = date_from_fields(data, "dob", "Date of birth")
    values: dict[str, Any] = {**text, "dob": born_values}
    errors: dict[str, str] = {}
    if text["signpost_id"]:
        signpost_id = parse_signpost_id(text["signpost_id"])
        if signpost_id is None:
            errors["signpost_id"] = "Enter a Signpost ID of 12 letters and numbers, like 7K3M 9Q2X R4TD"
            return None, errors, values
        return Criteria(signpost_id=signpost_id), errors, values

    family = text["family_name"]
    if not family:
        errors["family_name"] = "Enter the child's family name, or search by Signpost ID"
    elif len(family) > NAME_LIMIT or not is_name(family):
        errors["family_name"] = "Family name must only include letters, spaces, hyphens and apostrophes"
    if born_error:
        errors["dob-day"] = born_error
    elif born is None:
        errors["dob-day"] = "Enter the child's date of birth"
    elif born > today:
        errors["dob-day"] = "Date of birth must be today or in the past"
    given, postcode, gender_text = text["given_name"], text["postcode"], text["gender"]
    if given and (len(given) > NAME_LIMIT or not is_name(given)):
        errors["given_name"] = "Given name must only include letters, spaces, hyphens and apostrophes"
    if postcode and not is_postcode(postcode):
        errors["postcode"] = "Enter a real postcode, like NB12 3XY"
    gender: Gender | None = None
    if gender_text:
        try:
            gender = Gender(gender_text)
        except ValueError:
            errors["gender"] = "Select the child's gender"
    if not (given or postcode or gender_text) and "given_name" not in errors:
        errors["given_name"] = (
            "Enter a given name, postcode or gender as well as family name and date of birth"
        )
    if errors:
        return None, errors, values
    return (
        Criteria(
            family_name=family,
            date_of_birth=born,
            given_name=given or None,
            postcode=normalise_postcode(postcode) if postcode else None,
            gender=gender,
        ),
        errors,
        values,
    )


@dataclass(frozen=True, slots=True)
class Result:
    """What a results list may show: name, date of birth, gender and town (none if shielded)."""

    child_id: int
    signpost_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    town: str | None
    shielded: bool
    authority_id: int


@dataclass(frozen=True, slots=True)
class Found:
    outcome: Literal["success", "no_match", "too_many"]
    matches: int
    results: tuple[Result, ...]  # empty unless 1 to MAX_RESULTS matched


_COLUMNS = (
    Child.id,
    Child.signpost_id,
    Child.local_authority,
    Child.given_name,
    Child.family_name,
    Child.date_of_birth,
    Child.gender,
    Child.address,
    Child.shielded,
)


async def _candidates(keyring: Keyring, criteria: Criteria) -> list[dict[str, Any]]:
    if criteria.signpost_id:
        return list(await Child.select(*_COLUMNS).where(Child.signpost_id == criteria.signpost_id).run())
    if criteria.family_name is None or criteria.date_of_birth is None:
        return []
    values = keyring.blind_index_candidates(
        NAME_DOB, name_dob_key(criteria.family_name, criteria.date_of_birth)
    )
    # One query, current and former names, as a UNION: both index lookups on SQLite and
    # PostgreSQL (an OR of the two makes PostgreSQL read the whole table). Only placeholders
    # are written into the SQL; the values are bound.
    marks = ", ".join("{}" for _ in values)
    wanted = QueryString(
        f'SELECT "id" FROM "child" WHERE "bidx_name_dob" IN ({marks}) '  # noqa: S608
        f'UNION SELECT "child" FROM "former_name" WHERE "bidx_name_dob" IN ({marks})',
        *values,
        *values,
    )
    return list(await Child.select(*_COLUMNS).where(Child.id.is_in(wanted)).run())


def _plain(keyring: Keyring, column: str, row: Mapping[str, Any], table: str = "child") -> str | None:
    blob = row[column]
    return None if blob is None else keyring.decrypt(f"{table}.{column}", row["id"], bytes(blob))


async def _former_names(keyring: Keyring, child_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    if not child_ids:
        return {}
    rows = await FormerName.select().where(FormerName.child.is_in(child_ids)).run()
    names: dict[int, list[tuple[str, str]]] = {}
    for row in rows:
        given = _plain(keyring, "given_name", row, "former_name") or ""
        family = _plain(keyring, "family_name", row, "former_name") or ""
        names.setdefault(row["child"], []).append((normalise_name(given), normalise_name(family)))
    return names


async def find(keyring: Keyring, criteria: Criteria) -> Found:
    """Run a search (no audit: see :func:`search`)."""
    rows = await _candidates(keyring, criteria)
    wanted_family = normalise_name(criteria.family_name or "")
    wanted_given = normalise_name(criteria.given_name or "")

    def named(given: str, family: str) -> bool:
        return family == wanted_family and (not wanted_given or given == wanted_given)

    exact = criteria.signpost_id is None  # a name search: filter the blind index's candidates
    matches: list[Result] = []
    for row in rows:
        # Cheapest test first: most candidates share only the truncated index value, and fail
        # on the date of birth after one decryption instead of six.
        born = date.fromisoformat(_plain(keyring, "date_of_birth", row) or "")
        if exact and born != criteria.date_of_birth:
            continue
        gender = Gender(_plain(keyring, "gender", row) or Gender.not_specified)
        if exact and criteria.gender and gender != criteria.gender:
            continue
        address = decode_address(_plain(keyring, "address", row))
        if (
            exact
            and criteria.postcode
            and (address is None or normalise_postcode(address.postcode) != criteria.postcode)
        ):
            continue
        matches.append(
            Result(
                child_id=row["id"],
                signpost_id=row["signpost_id"],
                given_name=_plain(keyring, "given_name", row) or "",
                family_name=_plain(keyring, "family_name", row) or "",
                date_of_birth=born,
                gender=gender,
                town=address.town if address else None,
                shielded=bool(row["shielded"]),
                authority_id=row["local_authority"],
            )
        )
    if exact:
        # Former names are read only for candidates whose current name does not match.
        unnamed = {
            r.child_id
            for r in matches
            if not named(normalise_name(r.given_name), normalise_name(r.family_name))
        }
        former = await _former_names(keyring, sorted(unnamed))
        matches = [
            r
            for r in matches
            if r.child_id not in unnamed or any(named(g, f) for g, f in former.get(r.child_id, []))
        ]
    if not matches:
        return Found("no_match", 0, ())
    if len(matches) > MAX_RESULTS:
        return Found("too_many", len(matches), ())
    matches.sort(key=lambda r: (r.family_name, r.given_name, r.signpost_id))
    return Found("success", len(matches), tuple(matches))


async def search(
    keyring: Keyring, criteria: Criteria, actor: Actor, now: datetime, quota: Quota | tuple[Quota, ...]
) -> Found:
    """Run a search, count it against ``quota`` (each of them, if several) and audit it, in one
    write unit: one
    ``record.search`` row (outcome, number of matches, the IDs returned) and one
    ``record.result_returned`` row per record shown. Past the quota nothing is shown or
    audited but the refusal: :class:`QuotaExceededError`."""
    quotas.check(quota, actor, now)
    found = await find(keyring, criteria)
    entries = [
        Entry(
            "record.search",
            actor,
            now,
            subjects=tuple(f"child:{r.child_id}" for r in found.results),
            outcome=found.outcome,
            result_count=found.matches,
            detail={"by": criteria.kind},
        ),
        *(
            Entry(
                "record.result_returned", actor, now, child_id=r.child_id, child_authority_id=r.authority_id
            )
            for r in found.results
        ),
    ]

    async def unit(tx: Tx) -> Quota | None:
        over = await quotas.use_all(tx, quota, actor, now)
        if over is None:
            await audit.append(tx, entries)
            unmatched = found.outcome in ("no_match", "too_many")
            await alerts.count_activity(tx, actor, now, seen=len(found.results), unmatched=unmatched)
        return over

    over = await audit.write(unit)
    if over is not None:
        raise quotas.refused(over, actor, now)
    return found
