"""Deciding which record an incoming row is about: update it, create one, or ask the admin.

Candidates come through the blind indexes (family name or any former family name with the date
of birth, and given name with the date of birth) and, for shielded records, from the importer's
roster of every shielded child, compared on date of birth and name likeness, so that a shielded
child arriving under a new surname, with a typo in either name or at a new address is never
missed. Each candidate is decrypted and compared exactly:

- **exact**: same date of birth, the same given name and family name (current or former, on
  either side), a compatible gender, and something else that agrees: the postcode, or a parent's
  or carer's name (or one side has neither to compare); the same names alone are uncertain, since
  two children can share names and a birthday;
- **uncertain**: same date of birth and names that are alike but not the same (one or two
  letters apart), or one name the same and the same postcode; for a shielded record, any
  likeness in either name or the same postcode is enough;
- otherwise not a candidate at all (a twin with another given name, say).

One exact candidate and no uncertain one: update it. None of either: create. Anything else goes
to the review queue; the importer never guesses. A row that names a Signpost ID is matched to
that record when the date of birth agrees, and otherwise queued.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from app.records.codes import Gender
from app.records.normalise import normalise_name, normalise_postcode
from app.records.schemas import ChildDetails


class Likeness(enum.IntEnum):
    different = 0
    close = 1
    same = 2


class Strength(enum.Enum):
    none = "none"
    uncertain = "uncertain"
    exact = "exact"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An existing record, as much of it as matching needs."""

    child_id: int
    authority_id: int
    shielded: bool
    given_names: tuple[str, ...]  # normalised: current first, then former
    family_names: tuple[str, ...]
    date_of_birth: date
    gender: Gender
    postcode: str | None  # normalised
    carers: tuple[str, ...] = ()  # normalised names of the parents and carers


@dataclass(frozen=True, slots=True)
class Decision:
    kind: str  # "update", "create" or "review"
    child_id: int | None = None  # for "update"
    candidates: tuple[int, ...] = ()  # for "review"
    why: str = ""  # for "review": "several", "uncertain", "shielded", "signpost_id" or "other_authority"
    shielded: bool = False  # for "update": the record is shielded
    authority_id: int | None = None  # for "update": the record's authority now


@dataclass(slots=True)
class Incoming:
    """The normalised identifiers of an incoming row."""

    given_names: tuple[str, ...]
    family_names: tuple[str, ...]
    date_of_birth: date
    gender: Gender
    postcode: str | None
    carers: tuple[str, ...] = ()
    shielded_ids: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, child: ChildDetails) -> Incoming:
        return cls(
            given_names=(
                normalise_name(child.given_name),
                *(normalise_name(f.given_name) for f in child.former_names),
            ),
            family_names=(
                normalise_name(child.family_name),
                *(normalise_name(f.family_name) for f in child.former_names),
            ),
            date_of_birth=child.date_of_birth,
            gender=child.gender,
            postcode=None if child.address is None else normalise_postcode(child.address.postcode),
            carers=tuple(normalise_name(c.name) for c in child.carers),
        )


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions and swaps of two
    neighbouring letters), stopping at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= limit:
            return limit
        previous2, previous = previous, current
    return min(previous[-1], limit)


def likeness(a: str, b: str) -> Likeness:
    """How alike two normalised names are: one letter apart is close for names of up to four
    letters, two letters for longer ones."""
    if a == b:
        return Likeness.same
    allowed = 1 if min(len(a), len(b)) <= 4 else 2
    return Likeness.close if edit_distance(a, b, allowed + 1) <= allowed else Likeness.different


def best(ours: Iterable[str], theirs: Sequence[str]) -> Likeness:
    return max((likeness(a, b) for a in ours for b in theirs), default=Likeness.different)


def compare(row: Incoming, candidate: Candidate) -> Strength:
    if row.date_of_birth != candidate.date_of_birth:
        return Strength.none
    given = best(row.given_names, candidate.given_names)
    family = best(row.family_names, candidate.family_names)
    same_place = row.postcode is not None and row.postcode == candidate.postcode
    genders_agree = row.gender == candidate.gender or Gender.not_specified in (row.gender, candidate.gender)
    # Two children can share names and a birthday: the same names are only a match when
    # something else agrees too (the home, or a parent or carer), or one side has nothing else.
    shared_carer = bool(set(row.carers) & set(candidate.carers))
    nothing_to_compare = not (row.postcode or row.carers) or not (candidate.postcode or candidate.carers)
    corroborated = same_place or shared_carer or nothing_to_compare
    if given == Likeness.same and family == Likeness.same and genders_agree:
        return Strength.exact if corroborated else Strength.uncertain
    if candidate.shielded:
        alike = given != Likeness.different or family != Likeness.different or same_place
        return Strength.uncertain if alike else Strength.none
    if given != Likeness.different and family != Likeness.different:
        return Strength.uncertain
    if given == Likeness.same and same_place:  # a new surname at the same address
        return Strength.uncertain
    return Strength.none


def named_alike(row: Incoming, candidate: Candidate) -> bool:
    """The same date of birth, the same given and family names (current or former), and
    genders that agree."""
    return (
        row.date_of_birth == candidate.date_of_birth
        and best(row.given_names, candidate.given_names) == Likeness.same
        and best(row.family_names, candidate.family_names) == Likeness.same
        and (row.gender == candidate.gender or Gender.not_specified in (row.gender, candidate.gender))
    )


def decide(row: Incoming, candidates: Iterable[Candidate]) -> Decision:
    exact: list[Candidate] = []
    uncertain: list[Candidate] = []
    for candidate in candidates:
        strength = compare(row, candidate)
        if strength == Strength.exact:
            exact.append(candidate)
        elif strength == Strength.uncertain:
            uncertain.append(candidate)
    if len(exact) == 1 and not uncertain:
        [match] = exact
        return Decision("update", match.child_id, shielded=match.shielded, authority_id=match.authority_id)
    if not exact and not uncertain:
        return Decision("create")
    alike = {c.child_id: c for c in [*exact, *uncertain]}
    # Shielded records first, so that they are never the ones a long list leaves out.
    found = sorted(alike, key=lambda i: (not alike[i].shielded, i))
    if any(c.shielded for c in alike.values()):
        why = "shielded"
    else:
        why = "several" if len(found) > 1 else "uncertain"
    return Decision("review", candidates=tuple(found), why=why)


def decide_by_signpost_id(
    row: Incoming, candidate: Candidate | None, others: Iterable[Candidate]
) -> Decision:
    """A row naming a Signpost ID: that record, if the row has its date of birth and names (the
    ID stands for the corroboration an exact match otherwise needs); otherwise the review queue,
    beside the record with that ID and every record the row is alike (so a shielded child is
    never left out)."""
    if candidate is not None and named_alike(row, candidate):
        return Decision(
            "update", candidate.child_id, shielded=candidate.shielded, authority_id=candidate.authority_id
        )
    by_matching = decide(row, others)
    alike = [c for c in others if c.child_id in by_matching.candidates]
    if by_matching.kind == "update":
        alike = [c for c in others if c.child_id == by_matching.child_id]
    if candidate is not None:
        alike = [candidate, *(c for c in alike if c.child_id != candidate.child_id)]
    found = sorted({c.child_id: c for c in alike}.values(), key=lambda c: (not c.shielded, c.child_id))
    why = "shielded" if any(c.shielded for c in found) else "signpost_id"
    return Decision("review", candidates=tuple(c.child_id for c in found), why=why)


def held_elsewhere(decision: Decision, row_authority: int, *, uploaded: bool) -> Decision:
    """An update of a record another authority holds moves it: a shielded record, or any on
    the admin's upload page, goes to review instead, where the admin must have checked with the
    holding team first."""
    if decision.kind != "update" or decision.authority_id in (None, row_authority):
        return decision
    if decision.shielded or uploaded:
        assert decision.child_id is not None  # noqa: S101  (an update always names its record)
        return Decision(
            "review",
            candidates=(decision.child_id,),
            why="shielded" if decision.shielded else "other_authority",
        )
    return decision
