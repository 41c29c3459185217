"""The JSON bodies of the API (docs/api.md; the OpenAPI document is made from these).

Requests refuse unknown members. Responses carry what the web pages show and nothing more:
a result is name, date of birth, gender and town; a record is the contact view.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

from app.records.codes import ConsentBasis, Gender, Relationship, ServiceType

#: The reason codes for opening a record (``app.audit.labels.VIEW_REASONS``; a test keeps them equal).
ViewReason = Literal[
    "safeguarding_concern",
    "new_to_caseload",
    "arranging_service",
    "contacting_professionals",
    "assessment",
]

Text100 = Annotated[str, msgspec.Meta(max_length=100)]


class SearchRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Either ``signpost_id`` alone, or ``family_name`` and ``date_of_birth`` with at least one
    of ``given_name``, ``postcode`` and ``gender``: the web search's rules."""

    signpost_id: Annotated[str, msgspec.Meta(max_length=20, examples=["7K3M 9Q2X R4TD"])] | None = None
    family_name: Text100 | None = None
    date_of_birth: date | None = None
    given_name: Text100 | None = None
    postcode: Annotated[str, msgspec.Meta(max_length=10)] | None = None
    gender: Gender | None = None


class SearchResult(msgspec.Struct, frozen=True):
    record_id: int  # what the record operations take; means nothing outside Signpost
    signpost_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    town: str | None  # none for a shielded record
    shielded: bool


class SearchResponse(msgspec.Struct, frozen=True):
    outcome: Literal["success", "no_match", "too_many"]  # too_many: over 10 matched, none shown
    results: list[SearchResult]


class ViewRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: ViewReason


class AddressOut(msgspec.Struct, frozen=True):
    lines: list[str]
    town: str
    postcode: str


class CarerOut(msgspec.Struct, frozen=True):
    name: str
    relationship: Relationship
    telephone: str | None
    address: AddressOut | None


class ContactOut(msgspec.Struct, frozen=True):
    name: str
    telephone: str


class EducationOut(msgspec.Struct, frozen=True):
    name: str
    telephone: str
    start_date: date | None


class ServiceOut(msgspec.Struct, frozen=True, omit_defaults=True):
    """A service involved. ``hidden``: a sensitive service someone else recorded; ask the local
    Signpost team. Only ``hidden`` is then present."""

    hidden: bool
    involvement_id: int | None = None
    service_name: str | None = None
    service_type: ServiceType | None = None
    practitioner_name: str | None = None
    role: str | None = None
    telephone: str | None = None
    email: str | None = None
    start_date: date | None = None
    lead_professional: bool | None = None
    assessment_undertaken: bool | None = None
    recorded_by_you: bool | None = None


class TeamOut(msgspec.Struct, frozen=True):
    name: str
    telephone: str
    email: str


class RecordResponse(msgspec.Struct, frozen=True):
    """The record. ``restricted``: shielded, so only the identifiers and the local Signpost
    team's contact details are given (``address`` and the lists are then empty)."""

    record_id: int
    signpost_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    restricted: bool
    local_signpost_team: TeamOut
    kept_past_18_until: date | None
    address: AddressOut | None
    carers: list[CarerOut]
    education_setting: EducationOut | None
    gp_practice: ContactOut | None
    services: list[ServiceOut]


class InvolvementRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The practitioner's own involvement; their name comes from their account. A sensitive
    service needs ``consent_basis``."""

    service_name: Annotated[str, msgspec.Meta(max_length=120)]
    service_type: ServiceType
    role: Annotated[str, msgspec.Meta(max_length=60)]
    telephone: Annotated[str, msgspec.Meta(max_length=30)]
    email: Annotated[str, msgspec.Meta(max_length=254)]
    start_date: date
    lead_professional: bool = False
    assessment_undertaken: bool = False
    consent_basis: ConsentBasis | None = None


class InvolvementResponse(msgspec.Struct, frozen=True):
    involvement_id: int
    record_id: int
    end_date: date | None


#: Every member name the operations take (path parameters too): the only names a 400 may repeat.
REQUEST_FIELDS = frozenset(
    name for struct in (SearchRequest, ViewRequest, InvolvementRequest) for name in struct.__struct_fields__
) | {"record_id", "involvement_id"}
