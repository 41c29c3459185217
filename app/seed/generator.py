"""Synthetic children, generated and encrypted in batches by worker processes.

A batch depends only on ``(seed, batch number, as-of date)`` and the authorities it is given, so
the same seed gives the same children however many workers run. Rows are encrypted here with the
same functions the service uses (app/records/service.py) and handed to the writer as tuples in
the tables' column order.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from piccolo.table import Table

from app.crypto.keyring import Keyring
from app.records.codes import (
    SENSITIVE_SERVICES,
    ConsentBasis,
    Gender,
    Relationship,
    ServiceType,
)
from app.records.ids import seeded_signpost_bits, signpost_id_from_bits
from app.records.schemas import Address, CarerDetails, ChildDetails, InvolvementDetails, PersonName
from app.records.service import carer_row, child_row, former_name_row, involvement_row
from app.records.tables import Carer, Child, FormerName, Involvement
from app.seed import names

#: Row IDs per child reserved for each dependent table (the most any child can have).
MAX_FORMER_NAMES = 2
MAX_CARERS = 3
MAX_INVOLVEMENTS = 4
T = TypeVar("T")
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_FAMILY_CUM_WEIGHTS = list(itertools.accumulate(1.0 / (rank + 8) for rank in range(len(names.FAMILY_NAMES))))
_ALL_GIVEN = names.GIVEN_NAMES_FEMALE + names.GIVEN_NAMES_MALE
_CARER_GIVEN = {True: names.GIVEN_NAMES_FEMALE, False: names.GIVEN_NAMES_MALE}
_SENSITIVE = sorted(SENSITIVE_SERVICES)
_OTHER_RELATIONS = list(Relationship)[2:]
_CONSENT_BASES = list(ConsentBasis)
_UNDER_FIVE = (ServiceType.health_visiting, ServiceType.early_help, ServiceType.social_care)
_SCHOOL_AGE = (
    ServiceType.school_nursing,
    ServiceType.social_care,
    ServiceType.early_help,
    ServiceType.youth_work,
    ServiceType.education,
)
_CARER_COUNTS = (1, 2, 3)
_CARER_CUM_WEIGHTS = (35, 95, 100)
_INVOLVEMENT_COUNTS = tuple(range(MAX_INVOLVEMENTS + 1))
_INVOLVEMENT_CUM_WEIGHTS = (35, 65, 85, 95, 100)


@dataclass(frozen=True, slots=True)
class AuthorityContext:
    """What a worker needs to place a child in an authority (no personal data)."""

    id: int
    postcode_area: str
    towns: tuple[str, ...]
    school_ids: tuple[int, ...]
    gp_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BatchJob:
    seed: int
    number: int
    first_index: int
    count: int


@dataclass(frozen=True, slots=True)
class SeedPlan:
    keys_dir: Path
    authorities: tuple[AuthorityContext, ...]
    as_of: date
    id_base: int
    source: str


@dataclass(slots=True)
class BatchRows:
    children: list[tuple[Any, ...]]
    former_names: list[tuple[Any, ...]]
    carers: list[tuple[Any, ...]]
    involvements: list[tuple[Any, ...]]


def column_names(table: type[Table]) -> list[str]:
    return [column._meta.db_column_name for column in table._meta.columns]


_ORDER: dict[type[Table], Any] = {
    table: operator.itemgetter(*column_names(table)) for table in (Child, FormerName, Carer, Involvement)
}


def _ordered(table: type[Table], row: dict[str, Any]) -> tuple[Any, ...]:
    values: tuple[Any, ...] = _ORDER[table](row)
    return values


@functools.lru_cache(maxsize=4096)
def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())


class ChildFactory:
    """Makes plausible, varied children for one batch from one random stream."""

    def __init__(self, rng: random.Random, plan: SeedPlan) -> None:
        self.rng = rng
        self.plan = plan
        self._random = rng.random

    def pick(self, items: Sequence[T]) -> T:
        """``rng.choice`` for the hot path: one call to ``random()`` instead of several."""
        return items[int(self._random() * len(items))]

    def below(self, n: int) -> int:
        """A whole number from 0 to n - 1."""
        return int(self._random() * n)

    def between(self, low: int, high: int) -> int:
        """A whole number from low to high - 1, like ``randrange(low, high)``."""
        return low + self.below(high - low)

    def telephone(self, mobile: bool) -> str:
        prefix = "07700 900" if mobile else "01632 960"
        return f"{prefix} {self.below(1000):03d}"

    def postcode(self, area: str) -> str:
        letters = self.pick(_INWARD_LETTERS) + self.pick(_INWARD_LETTERS)
        return f"{area}{self.between(1, 30)} {self.below(10)}{letters}"

    def address(self, authority: AuthorityContext) -> Address:
        rng = self.rng
        street = f"{self.between(1, 240)} {self.pick(names.STREET_STEMS)} {self.pick(names.STREET_KINDS)}"
        lines = (street,) if rng.random() < 0.85 else (f"Flat {self.between(1, 40)}", street)
        return Address(
            lines=lines, town=self.pick(authority.towns), postcode=self.postcode(authority.postcode_area)
        )

    def given_name(self, gender: Gender) -> str:
        if gender is Gender.female:
            return self.pick(names.GIVEN_NAMES_FEMALE)
        if gender is Gender.male:
            return self.pick(names.GIVEN_NAMES_MALE)
        return self.pick(names.GIVEN_NAMES_ANY)

    def family_name(self) -> str:
        return self.rng.choices(names.FAMILY_NAMES, cum_weights=_FAMILY_CUM_WEIGHTS)[0]

    def involvement(self, authority: AuthorityContext, age_years: int, dob: date) -> InvolvementDetails:
        rng = self.rng
        if rng.random() < 0.04 and age_years >= 11:
            kind = self.pick(_SENSITIVE)
        elif age_years < 5:
            kind = self.pick(_UNDER_FIVE)
        elif rng.random() < 1 / 6:
            kind = ServiceType.youth_justice if age_years >= 10 else ServiceType.housing
        else:
            kind = self.pick(_SCHOOL_AGE)
        given = self.pick(_ALL_GIVEN)
        family = self.family_name()
        service = self.pick(names.SERVICE_NAMES[kind.value])
        start = dob + timedelta(days=self.below(max(1, (self.plan.as_of - dob).days)))
        ended = rng.random() < 0.2
        return InvolvementDetails(
            service_name=service,
            service_type=kind,
            practitioner_name=f"{given} {family}",
            role=self.pick(names.ROLES[kind.value]),
            telephone=self.telephone(mobile=rng.random() < 0.3),
            email=f"{_ascii_slug(given)}.{_ascii_slug(family)}@{_ascii_slug(service)[:20]}.example.org",
            start_date=start,
            end_date=start + timedelta(days=self.between(30, 400)) if ended else None,
            lead_professional=rng.random() < 0.15,
            assessment_undertaken=rng.random() < 0.3,
            consent_basis=self.pick(_CONSENT_BASES) if kind in SENSITIVE_SERVICES else None,
        )

    def child(self, authority: AuthorityContext) -> ChildDetails:
        rng = self.rng
        as_of = self.plan.as_of
        dob = as_of - timedelta(days=self.below(18 * 365))
        age_years = (as_of - dob).days // 365
        roll = rng.random()
        gender = (
            Gender.female
            if roll < 0.49
            else Gender.male
            if roll < 0.98
            else Gender.not_specified
            if roll < 0.995
            else Gender.other
        )
        family = self.family_name()
        address = self.address(authority) if rng.random() > 0.005 else None
        former: tuple[PersonName, ...] = ()
        if rng.random() < 0.03:
            former = (PersonName(given_name=self.given_name(gender), family_name=self.family_name()),)
        carer_count = rng.choices(_CARER_COUNTS, cum_weights=_CARER_CUM_WEIGHTS)[0]
        relations = [Relationship.mother, Relationship.father, self.pick(_OTHER_RELATIONS)]
        carers = tuple(
            CarerDetails(
                name=f"{self.pick(_CARER_GIVEN[rel is Relationship.mother])} "
                f"{family if rng.random() < 0.8 else self.family_name()}",
                relationship=rel,
                telephone=self.telephone(mobile=True) if rng.random() < 0.95 else None,
                address=address if rng.random() < 0.85 else self.address(authority),
            )
            for rel in relations[:carer_count]
        )
        involvement_count = rng.choices(_INVOLVEMENT_COUNTS, cum_weights=_INVOLVEMENT_CUM_WEIGHTS)[0]
        at_school = age_years >= 4 and authority.school_ids
        return ChildDetails(
            given_name=self.given_name(gender),
            family_name=family,
            date_of_birth=dob,
            gender=gender,
            address=address,
            local_authority_id=authority.id,
            source=self.plan.source,
            former_names=former,
            carers=carers,
            involvements=tuple(self.involvement(authority, age_years, dob) for _ in range(involvement_count)),
            education_setting_id=self.pick(authority.school_ids) if at_school else None,
            education_start_date=dob + timedelta(days=4 * 365 + self.below(300)) if at_school else None,
            gp_practice_id=self.pick(authority.gp_ids) if authority.gp_ids else None,
            shielded=rng.random() < 0.002,
        )


def build_batch(keyring: Keyring, plan: SeedPlan, job: BatchJob) -> BatchRows:
    """Generate and encrypt one batch. Pure apart from the nonces of the ciphertexts."""
    rng = random.Random(f"signpost-seed:{job.seed}:{job.number}")
    factory = ChildFactory(rng, plan)
    now = datetime.combine(plan.as_of, datetime.min.time(), tzinfo=UTC)
    rows = BatchRows(children=[], former_names=[], carers=[], involvements=[])
    for index in range(job.first_index, job.first_index + job.count):
        authority = plan.authorities[rng.randrange(len(plan.authorities))]
        details = factory.child(authority)
        child_id = plan.id_base + index
        signpost_id = signpost_id_from_bits(seeded_signpost_bits(job.seed, index))
        rows.children.append(_ordered(Child, child_row(keyring, child_id, signpost_id, details, now)))
        for k, name in enumerate(details.former_names):
            row_id = plan.id_base + index * MAX_FORMER_NAMES + k
            rows.former_names.append(
                _ordered(FormerName, former_name_row(keyring, row_id, child_id, details.date_of_birth, name))
            )
        for k, carer in enumerate(details.carers):
            row_id = plan.id_base + index * MAX_CARERS + k
            rows.carers.append(_ordered(Carer, carer_row(keyring, row_id, child_id, carer)))
        for k, inv in enumerate(details.involvements):
            row_id = plan.id_base + index * MAX_INVOLVEMENTS + k
            rows.involvements.append(_ordered(Involvement, involvement_row(keyring, row_id, child_id, inv)))
    return rows


# Worker-process state, set once by the pool initializer (keys are read from disk, not pickled).
_worker: tuple[Keyring, SeedPlan] | None = None


def init_worker(plan: SeedPlan) -> None:
    global _worker
    _worker = (Keyring(plan.keys_dir), plan)


def run_job(job: BatchJob) -> tuple[BatchJob, BatchRows]:
    if _worker is None:
        raise RuntimeError("seed worker used before init_worker")
    keyring, plan = _worker
    return job, build_batch(keyring, plan, job)
