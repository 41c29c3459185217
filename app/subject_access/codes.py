"""The fixed lists of subject access: who asks, where a request stands, how identity was
checked, why the deadline was extended, and the exemptions an access entry may be withheld
under. Each code is stored; each label is what people read."""

from __future__ import annotations

from enum import StrEnum


class RequesterKind(StrEnum):
    young_person = "young_person"
    parent_carer = "parent_carer"


REQUESTER_LABELS: dict[RequesterKind, str] = {
    RequesterKind.young_person: "The young person the record is about",
    RequesterKind.parent_carer: "A parent or carer with parental responsibility",
}


class Status(StrEnum):
    received = "received"
    paused = "paused"  # waiting for the requester to clarify: the clock is stopped
    released = "released"  # answered with a response pack
    refused = "refused"  # answered without a pack (a competent child did not agree)


STATUS_LABELS: dict[Status, str] = {
    Status.received: "Open",
    Status.paused: "Paused for clarification",
    Status.released: "Answered",
    Status.refused: "Answered without a pack",
}

OPEN_STATUSES = (Status.received, Status.paused)


class IdentityMethod(StrEnum):
    in_person_documents = "in_person_documents"
    posted_documents = "posted_documents"
    known_to_authority = "known_to_authority"
    electronic_check = "electronic_check"


IDENTITY_LABELS: dict[IdentityMethod, str] = {
    IdentityMethod.in_person_documents: "Identity documents seen in person",
    IdentityMethod.posted_documents: "Copies of identity documents sent by post",
    IdentityMethod.known_to_authority: "Already known to the local authority",
    IdentityMethod.electronic_check: "Electronic identity check",
}


class ExtensionReason(StrEnum):
    complex = "complex"
    many_requests = "many_requests"


EXTENSION_LABELS: dict[ExtensionReason, str] = {
    ExtensionReason.complex: "The request is complex",
    ExtensionReason.many_requests: "We have had a number of requests from the same person",
}


class Exemption(StrEnum):
    crime_prevention = "crime_prevention"
    serious_harm = "serious_harm"
    third_party = "third_party"
    legal_privilege = "legal_privilege"


EXEMPTION_LABELS: dict[Exemption, str] = {
    Exemption.crime_prevention: "Crime and taxation: prevention or detection of crime",
    Exemption.serious_harm: "Serious harm to someone's physical or mental health",
    Exemption.third_party: "Information about another person",
    Exemption.legal_privilege: "Legal professional privilege",
}
