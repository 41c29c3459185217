"""The fixed lists of police exceptional disclosure: offence categories, lawful bases, urgency,
where a request stands, why it was refused or an access ended, and the exemption that keeps a
request out of the child's subject access answer until a review date. Each code is stored; each
label is what people read."""

from __future__ import annotations

from enum import StrEnum


class Offence(StrEnum):
    violence = "violence"
    sexual_offence = "sexual_offence"
    exploitation = "exploitation"
    robbery_theft = "robbery_theft"
    drugs = "drugs"
    criminal_damage = "criminal_damage"
    online_offence = "online_offence"
    other_serious = "other_serious"


OFFENCE_LABELS: dict[Offence, str] = {
    Offence.violence: "Violence against the person",
    Offence.sexual_offence: "Sexual offence",
    Offence.exploitation: "Child sexual or criminal exploitation",
    Offence.robbery_theft: "Robbery, burglary or theft",
    Offence.drugs: "Drug offence",
    Offence.criminal_damage: "Criminal damage or arson",
    Offence.online_offence: "Online offence",
    Offence.other_serious: "Other serious offence",
}


class LawfulBasis(StrEnum):
    crime_exemption = "crime_exemption"
    safeguarding = "safeguarding"
    court_order = "court_order"


LAWFUL_BASIS_LABELS: dict[LawfulBasis, str] = {
    LawfulBasis.crime_exemption: "Data Protection Act 2018, Schedule 2, paragraph 2: the prevention "
    "or detection of crime, or the apprehension or prosecution of offenders",
    LawfulBasis.safeguarding: "Data Protection Act 2018, Schedule 1, paragraph 18: safeguarding a "
    "child at risk",
    LawfulBasis.court_order: "An order of a court or tribunal",
}


class Urgency(StrEnum):
    urgent = "urgent"
    routine = "routine"


URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.urgent: "Urgent: a risk to someone's life or safety, or evidence about to be lost",
    Urgency.routine: "Routine",
}


class Status(StrEnum):
    draft = "draft"  # matched one record; waits for the officer's key touch to be sent
    pending = "pending"  # sent; waits for an approver
    approved = "approved"
    refused = "refused"
    revoked = "revoked"  # approved, then the access was ended early
    withdrawn = "withdrawn"  # a draft the officer chose not to send
    lapsed = "lapsed"  # a draft not sent within a day


#: Requests nobody has decided: their entries stay out of the child's subject access answer
#: (only approved and refused requests appear; an approver may still keep those out).
UNDECIDED = (Status.draft, Status.pending, Status.withdrawn, Status.lapsed)

STATUS_LABELS: dict[Status, str] = {
    Status.draft: "Not sent",
    Status.withdrawn: "Not sent: you withdrew it",
    Status.lapsed: "Not sent within a day",
    Status.pending: "Waiting for a decision",
    Status.approved: "Approved",
    Status.refused: "Refused",
    Status.revoked: "Approved, then access ended early",
}


class RefusalReason(StrEnum):
    not_necessary = "not_necessary"
    not_proportionate = "not_proportionate"
    not_enough_detail = "not_enough_detail"
    other_means = "other_means"


REFUSAL_LABELS: dict[RefusalReason, str] = {
    RefusalReason.not_necessary: "The disclosure is not necessary for the stated purpose",
    RefusalReason.not_proportionate: "The disclosure is not proportionate to the aim",
    RefusalReason.not_enough_detail: "The request does not give enough detail to decide",
    RefusalReason.other_means: "The information can be got another way (for example from a "
    "practitioner, with the child's or family's knowledge)",
}

#: The recorded reason of every approval: the approver found the disclosure necessary and
#: proportionate (their own words go in the decision note).
APPROVAL_REASON = "necessary_proportionate"
APPROVAL_LABEL = "Necessary and proportionate for the stated purpose"


class RevokeReason(StrEnum):
    no_longer_needed = "no_longer_needed"
    misuse_suspected = "misuse_suspected"
    decided_in_error = "decided_in_error"


REVOKE_LABELS: dict[RevokeReason, str] = {
    RevokeReason.no_longer_needed: "The police no longer need the access",
    RevokeReason.misuse_suspected: "The access may be being misused",
    RevokeReason.decided_in_error: "The approval was given in error",
}

#: The one exemption a disclosure may be kept out of subject access under, until a review date.
EXEMPTION = "crime_prevention"
EXEMPTION_LABEL = (
    "Crime and taxation (Data Protection Act 2018, Schedule 2, paragraph 2): telling the child or "
    "family now would be likely to prejudice the prevention or detection of crime"
)
