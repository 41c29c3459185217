"""The audit trail, the alerts raised from it, and entries withheld from a subject-access answer.

The audit holds IDs and codes only: never a name, a date of birth, an address or a search term.
It has no foreign keys on purpose: an entry must outlive the child or user it names (a record
deleted at 18 still leaves the trail of who looked at it).
"""

from __future__ import annotations

from piccolo.columns import BigInt, Date, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class AuditEntry(Table, tablename="audit_entry"):
    """One audited event, hash-chained to the one before it (see app/audit/chain.py)."""

    seq = BigInt(primary_key=True)  # gapless, from 1
    at = Timestamptz(null=False, index=True)
    actor_kind = Varchar(length=16, null=False)  # practitioner, citizen, system, operator, anonymous
    actor_id = BigInt(null=True, default=None, index=True)  # the practitioner
    organisation_id = BigInt(null=True, default=None)
    authority_id = BigInt(null=True, default=None)  # the actor's authority, or the one concerned
    role = Varchar(length=20, null=True, default=None)
    action = Varchar(length=48, null=False)  # dotted, e.g. record.view
    # Indexed with actor, action and time (``audit_entry_child_actor``, migrations/): a child's
    # entries, and whether a search showed a child to a practitioner lately, are index lookups.
    child_id = BigInt(null=True, default=None)
    child_authority_id = BigInt(null=True, default=None)
    subjects = Text(null=False, default="[]")  # canonical JSON list of "kind:id"
    reason = Varchar(length=40, null=True, default=None)  # a reason code from a fixed list
    outcome = Varchar(length=20, null=False)
    result_count = Integer(null=True, default=None)
    detail = Text(null=False, default="{}")  # canonical JSON object of codes and numbers
    prev_hash = Varchar(length=64, null=False)
    entry_hash = Varchar(length=64, null=False)


class Alert(Table, tablename="audit_alert"):
    """Something the privacy officer of ``authority_id`` should look at."""

    id = BigInt(primary_key=True)
    kind = Varchar(length=32, null=False)
    authority_id = BigInt(null=False, index=True)
    practitioner_id = BigInt(null=True, default=None)
    child_id = BigInt(null=True, default=None)
    audit_seq = BigInt(null=True, default=None)
    raised_at = Timestamptz(null=False)
    dedupe_key = Varchar(length=120, null=False, unique=True)
    status = Varchar(length=16, null=False, default="open")  # open, acknowledged, escalated
    handled_by = BigInt(null=True, default=None)
    handled_at = Timestamptz(null=True, default=None)


class AuditWithholding(Table, tablename="audit_withholding"):
    """An audit entry kept out of a subject-access answer under a recorded exemption."""

    id = BigInt(primary_key=True)
    seq = BigInt(null=False, index=True)
    child_id = BigInt(null=False, index=True)
    exemption = Varchar(length=40, null=False)
    review_on = Date(null=False)
    recorded_by = BigInt(null=False)
    recorded_at = Timestamptz(null=False)
    lifted_at = Timestamptz(null=True, default=None)


AUDIT_TABLES: list[type[Table]] = [AuditEntry, Alert, AuditWithholding]
