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

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.crypto.keyring import Keyring
from app.database import Tx
from app.records.codes import Gender
from app.records.ids import parse_signpost_id
from app.records.normalise import name_dob_key, normalise_name, normalise_postcode
from app.records.schemas import Address
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


# What a candidate's tests and a result need, read with fixed statements: a search runs on
# every practitioner's request, and building the query through the ORM cost more than running it.
_COLUMNS = (
    '"id", "signpost_id", "local_authority", "given_name", "family_name", "date_of_birth", '
    '"gender", "address", "shielded"'
)
_BY_SIGNPOST_ID = f'SELECT {_COLUMNS} FROM "child" WHERE "signpost_id" = {{}}'  # noqa: S608


async def _candidates(keyring: Keyring, criteria: Criteria) -> list[dict[str, Any]]:
    if criteria.signpost_id:
        return list(await Child.raw(_BY_SIGNPOST_ID, criteria.signpost_id).run())
    if criteria.family_name is None or criteria.date_of_birth is None:
        return []
    values = keyring.blind_index_candidates(
        NAME_DOB, name_dob_key(criteria.family_name, criteria.date_of_birth)
    )
    # One query, current and former names, as a UNION: both index lookups on SQLite and
    # PostgreSQL (an OR of the two makes PostgreSQL read the whole table). Only placeholders
    # are written into the SQL; the values are bound.
    marks = ", ".join("{}" for _ in values)
    return list(
        await Child.raw(
            f'SELECT {_COLUMNS} FROM "child" WHERE "id" IN ('  # noqa: S608
            f'SELECT "id" FROM "child" WHERE "bidx_name_dob" IN ({marks}) '
            f'UNION SELECT "child" FROM "former_name" WHERE "bidx_name_dob" IN ({marks}))',
            *values,
            *values,
        ).run()
    )


def _plain(keyring: Keyring, column: str, row: Mapping[str, Any], table: str = "child") -> str | None:
    blob = row[column]
    return None if blob is None else keyring.decrypt(f"{table}.{column}", row["id"], bytes(blob))


class _Candidate:
    """A candidate row whose columns are decrypted when first needed, and only once.

    At national scale a family name and date of birth find a few dozen rows (the blind index's
    k-anonymity and namesakes born the same day), and almost all of them fail a test: each is
    decrypted only as far as the test that drops it.
    """

    __slots__ = ("_keyring", "_plain", "row")

    def __init__(self, keyring: Keyring, row: Mapping[str, Any]) -> None:
        self._keyring = keyring
        self.row = row
        self._plain: dict[str, str | None] = {}

    def plain(self, column: str) -> str | None:
        if column not in self._plain:
            self._plain[column] = _plain(self._keyring, column, self.row)
        return self._plain[column]

    @property
    def born(self) -> date:
        return date.fromisoformat(self.plain("date_of_birth") or "")

    @property
    def gender(self) -> Gender:
        return Gender(self.plain("gender") or Gender.not_specified)

    @property
    def address(self) -> Address | None:
        return decode_address(self.plain("address"))

    def result(self) -> Result:
        address = self.address
        return Result(
            child_id=self.row["id"],
            signpost_id=self.row["signpost_id"],
            given_name=self.plain("given_name") or "",
            family_name=self.plain("family_name") or "",
            date_of_birth=self.born,
            gender=self.gender,
            town=address.town if address else None,
            shielded=bool(self.row["shielded"]),
            authority_id=self.row["local_authority"],
        )


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


async def _matching(keyring: Keyring, criteria: Criteria, candidates: list[_Candidate]) -> list[_Candidate]:
    """The candidates that match a name search exactly, tested cheapest first: the date of
    birth (which drops the blind index's collisions), then gender and postcode if asked for
    (which drop namesakes born the same day), then the name, current or former."""
    wanted_family = normalise_name(criteria.family_name or "")
    wanted_given = normalise_name(criteria.given_name or "")

    def named(given: str, family: str) -> bool:
        return family == wanted_family and (not wanted_given or given == wanted_given)

    kept: list[_Candidate] = []
    for candidate in candidates:
        if candidate.born != criteria.date_of_birth:
            continue
        if criteria.gender and candidate.gender != criteria.gender:
            continue
        if criteria.postcode:
            address = candidate.address
            if address is None or normalise_postcode(address.postcode) != criteria.postcode:
                continue
        kept.append(candidate)

    def named_now(candidate: _Candidate) -> bool:  # the given name decrypted only if asked for
        if normalise_name(candidate.plain("family_name") or "") != wanted_family:
            return False
        return not wanted_given or normalise_name(candidate.plain("given_name") or "") == wanted_given

    # Former names are read only for candidates whose current name does not match.
    unnamed = {c.row["id"] for c in kept if not named_now(c)}
    former = await _former_names(keyring, sorted(unnamed))
    return [
        c
        for c in kept
        if c.row["id"] not in unnamed or any(named(g, f) for g, f in former.get(c.row["id"], []))
    ]


async def find(keyring: Keyring, criteria: Criteria) -> Found:
    """Run a search (no audit: see :func:`search`)."""
    candidates = [_Candidate(keyring, row) for row in await _candidates(keyring, criteria)]
    if criteria.signpost_id is None:  # a name search: filter the blind index's candidates
        candidates = await _matching(keyring, criteria, candidates)
    if not candidates:
        return Found("no_match", 0, ())
    if len(candidates) > MAX_RESULTS:
        return Found("too_many", len(candidates), ())
    matches = sorted(
        (c.result() for c in candidates), key=lambda r: (r.family_name, r.given_name, r.signpost_id)
    )
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
