"""Consent to keep a record past 18: the invitation letter's code, the receipts, the tries at a
code, and the retention runs. Codes are stored only as argon2id hashes; a code's first eight
symbols are its ``lookup``, a random locator that finds the row without revealing anything.
Every column is listed in docs/data-dictionary.md.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    BigSerial,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.records.tables import Child


class ConsentInvitation(Table, tablename="consent_invitation"):
    """The invitation to decide, made when the young person is 17 and a half, and its letter."""

    id = BigInt(primary_key=True)
    child = ForeignKey(references=Child, null=False, on_delete=OnDelete.cascade, unique=True)
    lookup = Varchar(length=8, null=False, unique=True)
    code_hash = Varchar(length=200, null=False)
    # The code itself, encrypted, only until the letter is marked sent (then erased).
    letter_code = Bytea(null=True, default=None)
    expires_on = Date(null=False)  # 30 days after the 18th birthday
    created_at = Timestamptz(null=False)
    letter_sent_at = Timestamptz(null=True, default=None)
    answered_at = Timestamptz(null=True, default=None)
    answer = Varchar(length=20, null=True, default=None)  # the latest: "keep" or "delete_at_18"
    key_version = Integer(null=False)


class ConsentReceipt(Table, tablename="consent_receipt"):
    """Consent given: until when, and the withdrawal code printed on the receipt."""

    id = BigInt(primary_key=True)
    receipt_id = Varchar(length=36, null=False, unique=True)  # a UUID, the receipt's own ID
    child = ForeignKey(references=Child, null=False, on_delete=OnDelete.cascade, index=True)
    lookup = Varchar(length=8, null=False, unique=True)
    code_hash = Varchar(length=200, null=False)
    given_at = Timestamptz(null=False)
    keep_until = Date(null=False)
    changed_at = Timestamptz(null=True, default=None)  # the end date shortened
    ended_at = Timestamptz(null=True, default=None)  # withdrawn, or replaced by a new receipt
    end_reason = Varchar(length=20, null=True, default=None)


class ConsentCodeTry(Table, tablename="consent_code_try"):
    """Wrong tries at one code lookup, whether or not a code has that lookup: five lock it."""

    id = BigSerial(primary_key=True)
    lookup = Varchar(length=10, null=False, unique=True)  # "i:" or "w:" and the lookup
    failures = Integer(null=False, default=0)
    last_at = Timestamptz(null=False)


class RetentionRun(Table, tablename="retention_run"):
    """One finished ``signpost retention run``: the UK day it ran for and what it did."""

    id = BigSerial(primary_key=True)
    run_on = Date(null=False, index=True)
    started_at = Timestamptz(null=False)
    finished_at = Timestamptz(null=False)
    deleted = BigInt(null=False, default=0)
    invited = BigInt(null=False, default=0)


#: The encrypted columns, for ``signpost keys rotate`` and the data-dictionary test.
CONSENT_ENCRYPTED: dict[type[Table], tuple[str, ...]] = {ConsentInvitation: ("letter_code",)}

CONSENT_TABLES: list[type[Table]] = [ConsentInvitation, ConsentReceipt, ConsentCodeTry, RetentionRun]
