"""The record store: exactly the data dictionary of docs/data-dictionary.md, and nothing else.

Personal fields are ``Bytea`` ciphertexts (see app/crypto/keyring.py); ``bidx_*`` columns are
truncated blind indexes used to find candidates. There is deliberately no free-text column about
a child anywhere: a test holds these tables to the dictionary.

Primary keys are 64-bit integers chosen by the application before the insert (see
app/records/ids.py) so that the row ID can be bound into each ciphertext's associated data.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class LocalAuthority(Table, tablename="local_authority"):
    id = BigSerial(primary_key=True)
    code = Varchar(length=9, unique=True, null=False)
    name = Varchar(length=100, null=False)
    team_telephone = Varchar(length=20, null=False)
    team_email = Varchar(length=254, null=False)


class EducationSetting(Table, tablename="education_setting"):
    id = BigSerial(primary_key=True)
    local_authority = ForeignKey(references=LocalAuthority, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=120, null=False)
    telephone = Varchar(length=20, null=False)


class GpPractice(Table, tablename="gp_practice"):
    id = BigSerial(primary_key=True)
    local_authority = ForeignKey(references=LocalAuthority, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=120, null=False)
    telephone = Varchar(length=20, null=False)


class Child(Table, tablename="child"):
    id = BigSerial(primary_key=True)
    # Unique through the named index child_signpost_id (migrations/, app/database.py RAW_INDEXES),
    # so that a bulk load can build it once at the end.
    signpost_id = Varchar(length=12, null=False)
    local_authority = ForeignKey(references=LocalAuthority, null=False, on_delete=OnDelete.restrict)
    given_name = Bytea(null=False)
    family_name = Bytea(null=False)
    date_of_birth = Bytea(null=False)
    gender = Bytea(null=False)
    address = Bytea(null=True)  # null: "no known address"
    bidx_name_dob = Integer(null=False, index=True)
    bidx_given_dob = Integer(null=False, index=True)
    # The month the child turns 18, as a coarse blind index (app/consent/retention.py); null
    # only for rows written before it existed, until the next retention run fills it in.
    # Indexed with the ID by the named index child_bidx_turns_18_id (app/database.py RAW_INDEXES).
    bidx_turns_18 = Integer(null=True, default=None)
    education_setting = ForeignKey(references=EducationSetting, null=True, on_delete=OnDelete.set_null)
    education_start_date = Date(null=True, default=None)
    gp_practice = ForeignKey(references=GpPractice, null=True, on_delete=OnDelete.set_null)
    shielded = Boolean(null=False, default=False, index=True)  # the importer reads every shielded one
    retention_state = Varchar(length=20, null=False, default="delete_at_18")
    keep_until = Date(null=True, default=None, index=True)  # with consent: the day it is deleted
    source = Varchar(length=40, null=False)
    key_version = Integer(null=False)
    created_at = Timestamptz(null=False)
    updated_at = Timestamptz(null=False)
    # When a feed last moved the record to another authority: a search shown before then no
    # longer opens it (app/records/access.py).
    moved_at = Timestamptz(null=True, default=None)


class FormerName(Table, tablename="former_name"):
    id = BigSerial(primary_key=True)
    child = ForeignKey(references=Child, null=False, on_delete=OnDelete.cascade, index=True)
    given_name = Bytea(null=False)
    family_name = Bytea(null=False)
    bidx_name_dob = Integer(null=False, index=True)
    key_version = Integer(null=False)


class Carer(Table, tablename="carer"):
    """A parent or carer with parental responsibility."""

    id = BigSerial(primary_key=True)
    child = ForeignKey(references=Child, null=False, on_delete=OnDelete.cascade, index=True)
    name = Bytea(null=False)
    relationship = Varchar(length=20, null=False)
    telephone = Bytea(null=True)
    address = Bytea(null=True)
    key_version = Integer(null=False)


class Involvement(Table, tablename="involvement"):
    """A service involved with a child, and how to reach the practitioner."""

    id = BigSerial(primary_key=True)
    child = ForeignKey(references=Child, null=False, on_delete=OnDelete.cascade, index=True)
    service_name = Varchar(length=120, null=False)
    service_type = Varchar(length=20, null=False)
    practitioner_name = Bytea(null=False)
    role = Varchar(length=60, null=False)
    telephone = Bytea(null=False)
    email = Bytea(null=False)
    start_date = Date(null=False)
    end_date = Date(null=True, default=None)
    lead_professional = Boolean(null=False, default=False)
    assessment_undertaken = Boolean(null=False, default=False)
    consent_basis = Varchar(length=20, null=True, default=None)
    recorded_by = BigInt(null=True, default=None, index=True)  # the Signpost user; none from a feed
    key_version = Integer(null=False)


#: Tables holding ciphertexts, with their encrypted columns; ``signpost keys rotate`` walks these.
ENCRYPTED_COLUMNS: dict[type[Table], tuple[str, ...]] = {
    Child: ("given_name", "family_name", "date_of_birth", "gender", "address"),
    FormerName: ("given_name", "family_name"),
    Carer: ("name", "telephone", "address"),
    Involvement: ("practitioner_name", "telephone", "email"),
}

TABLES: list[type[Table]] = [
    LocalAuthority,
    EducationSetting,
    GpPractice,
    Child,
    FormerName,
    Carer,
    Involvement,
]
