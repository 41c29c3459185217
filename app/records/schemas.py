"""The shapes of a record, in plain text, on the way in and out of the encrypted store.

Bounds here are the data dictionary's (docs/data-dictionary.md): lengths are enforced by msgspec
when input is converted, character sets by :func:`app.records.validation.problems`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from app.records.codes import ConsentBasis, Gender, Relationship, RetentionState, ServiceType

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
AddressLine = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Town = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Postcode = Annotated[str, msgspec.Meta(min_length=5, max_length=8)]
Telephone = Annotated[str, msgspec.Meta(min_length=6, max_length=20)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
OrgName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Role = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Source = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class Address(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lines: Annotated[tuple[AddressLine, ...], msgspec.Meta(min_length=1, max_length=3)]
    town: Town
    postcode: Postcode


class PersonName(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    given_name: Name
    family_name: Name


class CarerDetails(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    relationship: Relationship
    telephone: Telephone | None = None
    address: Address | None = None


class InvolvementDetails(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    service_name: OrgName
    service_type: ServiceType
    practitioner_name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    role: Role
    telephone: Telephone
    email: Email
    start_date: date
    end_date: date | None = None
    lead_professional: bool = False
    assessment_undertaken: bool = False
    consent_basis: ConsentBasis | None = None


class ChildDetails(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything Signpost may hold about one child, in plain text."""

    given_name: Name
    family_name: Name
    date_of_birth: date
    gender: Gender
    address: Address | None
    local_authority_id: int
    source: Source
    former_names: tuple[PersonName, ...] = ()
    carers: tuple[CarerDetails, ...] = ()
    involvements: tuple[InvolvementDetails, ...] = ()
    education_setting_id: int | None = None
    education_start_date: date | None = None
    gp_practice_id: int | None = None
    shielded: bool = False
    retention_state: RetentionState = RetentionState.delete_at_18
    keep_until: date | None = None  # kept with consent: the day the record is deleted


class ChildRecord(msgspec.Struct, frozen=True):
    """A stored child, decrypted: the details plus the identifiers Signpost gave it."""

    id: int
    signpost_id: str
    details: ChildDetails
    #: Row ID and recording practitioner of each of ``details.involvements``, in the same order.
    involvement_ids: tuple[int, ...] = ()
    involvement_recorders: tuple[int | None, ...] = ()
