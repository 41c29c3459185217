"""Police exceptional-disclosure requests: who asked, about which one record, why, who decided,
and how long the access lasts.

The crime reference, the justification and the approver's decision note are about the request,
never about the child's record; they are encrypted like every personal field, bound to the row
ID. ``child_id`` has no foreign key on purpose: the request, and the public counts made from it,
outlive a record deleted at 18. Every column is listed in docs/data-dictionary.md.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Bytea, Date, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from app.identity.tables import Organisation, Practitioner
from app.records.tables import LocalAuthority


class DisclosureRequest(Table, tablename="disclosure_request"):
    id = BigInt(primary_key=True)
    requester = ForeignKey(references=Practitioner, null=False, on_delete=OnDelete.restrict, index=True)
    force = ForeignKey(references=Organisation, null=False, on_delete=OnDelete.restrict)
    local_authority = ForeignKey(
        references=LocalAuthority, null=False, on_delete=OnDelete.restrict, index=True
    )
    child_id = BigInt(null=False, index=True)
    crime_reference = Bytea(null=False)
    offence = Varchar(length=20, null=False)
    lawful_basis = Varchar(length=20, null=False)
    urgency = Varchar(length=10, null=False)
    justification = Bytea(null=False)
    status = Varchar(length=10, null=False)
    created_at = Timestamptz(null=False)
    submitted_at = Timestamptz(null=True, default=None)
    decide_by = Timestamptz(null=True, default=None)
    decided_by = BigInt(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    decision_reason = Varchar(length=30, null=True, default=None)
    decision_note = Bytea(null=True, default=None)
    access_until = Timestamptz(null=True, default=None)
    revoked_by = BigInt(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    revoke_reason = Varchar(length=20, null=True, default=None)
    exemption = Varchar(length=20, null=True, default=None)
    exempt_until = Date(null=True, default=None)
    key_version = Integer(null=False)


#: The encrypted columns, for ``signpost keys rotate`` and the data-dictionary test.
DISCLOSURE_ENCRYPTED: dict[type[Table], tuple[str, ...]] = {
    DisclosureRequest: ("crime_reference", "justification", "decision_note"),
}

DISCLOSURE_TABLES: list[type[Table]] = [DisclosureRequest]
