"""Subject access requests: who asked, about whom (as they described the child), where the
request stands, and the one-time code that opens its answer.

The requester's name and address and the child's details as given are personal data and are
encrypted like every personal field (app/crypto/keyring.py), bound to the row ID. The access
code is stored only as an argon2id hash. Every column is listed in docs/data-dictionary.md.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, Bytea, Date, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from app.records.tables import LocalAuthority


class SubjectAccessRequest(Table, tablename="subject_access_request"):
    id = BigInt(primary_key=True)
    reference = Varchar(length=10, null=False, unique=True)
    local_authority = ForeignKey(
        references=LocalAuthority, null=False, on_delete=OnDelete.restrict, index=True
    )
    requester_kind = Varchar(length=20, null=False)
    requester_name = Bytea(null=False)
    requester_address = Bytea(null=False)
    child_given_name = Bytea(null=False)
    child_family_name = Bytea(null=False)
    child_date_of_birth = Bytea(null=False)
    child_postcode = Bytea(null=True)
    received_at = Timestamptz(null=False)
    received_on = Date(null=False)
    status = Varchar(length=20, null=False)
    due_on = Date(null=False, index=True)
    extension_months = Integer(null=False, default=0)
    extension_reason = Varchar(length=20, null=True, default=None)
    paused_on = Date(null=True, default=None)
    paused_days = Integer(null=False, default=0)
    child_id = BigInt(null=True, default=None)
    no_record = Boolean(null=False, default=False)
    identity_method = Varchar(length=20, null=True, default=None)
    identity_checked_on = Date(null=True, default=None)
    child_competent = Boolean(null=True, default=None)
    child_agrees = Boolean(null=True, default=None)
    answered_at = Timestamptz(null=True, default=None)
    code_hash = Varchar(length=200, null=True, default=None)
    code_expires_at = Timestamptz(null=True, default=None)
    failed_codes = Integer(null=False, default=0)
    key_version = Integer(null=False)


#: The encrypted columns, for ``signpost keys rotate`` and the data-dictionary test.
SUBJECT_ACCESS_ENCRYPTED: dict[type[Table], tuple[str, ...]] = {
    SubjectAccessRequest: (
        "requester_name",
        "requester_address",
        "child_given_name",
        "child_family_name",
        "child_date_of_birth",
        "child_postcode",
    )
}

SUBJECT_ACCESS_TABLES: list[type[Table]] = [SubjectAccessRequest]
