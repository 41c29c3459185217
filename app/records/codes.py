"""The fixed code lists of the data dictionary. A value outside these lists is refused."""

from __future__ import annotations

from enum import StrEnum


class Gender(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    not_specified = "not_specified"


GENDER_LABELS: dict[Gender, str] = {
    Gender.female: "Female",
    Gender.male: "Male",
    Gender.other: "Other",
    Gender.not_specified: "Not specified",
}


class Relationship(StrEnum):
    """How a parent or carer with parental responsibility is related to the child."""

    mother = "mother"
    father = "father"
    step_parent = "step_parent"
    grandparent = "grandparent"
    foster_carer = "foster_carer"
    special_guardian = "special_guardian"
    local_authority = "local_authority"
    other = "other"


class ServiceType(StrEnum):
    education = "education"
    health_visiting = "health_visiting"
    school_nursing = "school_nursing"
    gp = "gp"
    social_care = "social_care"
    early_help = "early_help"
    youth_work = "youth_work"
    youth_justice = "youth_justice"
    housing = "housing"
    sexual_health = "sexual_health"
    mental_health = "mental_health"
    substance_misuse = "substance_misuse"


RELATIONSHIP_LABELS: dict[Relationship, str] = {
    Relationship.mother: "Mother",
    Relationship.father: "Father",
    Relationship.step_parent: "Step-parent",
    Relationship.grandparent: "Grandparent",
    Relationship.foster_carer: "Foster carer",
    Relationship.special_guardian: "Special guardian",
    Relationship.local_authority: "Local authority",
    Relationship.other: "Other",
}

SERVICE_TYPE_LABELS: dict[ServiceType, str] = {
    ServiceType.education: "Education",
    ServiceType.health_visiting: "Health visiting",
    ServiceType.school_nursing: "School nursing",
    ServiceType.gp: "GP",
    ServiceType.social_care: "Social care",
    ServiceType.early_help: "Early help",
    ServiceType.youth_work: "Youth work",
    ServiceType.youth_justice: "Youth justice",
    ServiceType.housing: "Housing",
    ServiceType.sexual_health: "Sexual health",
    ServiceType.mental_health: "Mental health",
    ServiceType.substance_misuse: "Substance misuse",
}

#: Services that others see only as "a sensitive service is involved".
SENSITIVE_SERVICES = frozenset(
    {ServiceType.sexual_health, ServiceType.mental_health, ServiceType.substance_misuse}
)


class ConsentBasis(StrEnum):
    """Why a sensitive service may be recorded at all."""

    child_consent = "child_consent"
    parent_consent = "parent_consent"
    significant_harm = "significant_harm"


class RetentionState(StrEnum):
    """What happens to the record at 18."""

    delete_at_18 = "delete_at_18"
    kept_with_consent = "kept_with_consent"
    consent_withdrawn = "consent_withdrawn"
